package store

// Store is the open database. (Stub; the store owner writes it.)
type Store struct{}
