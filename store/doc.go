// Package store keeps the daemon's memory in one bbolt file: the messages
// seen, the requests, the outbox, the register and the audit log, with every
// state change as one transaction. It imports nothing else of this module.
package store
