package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Counts are the sizes the daemon reports in its status line and staff see
// first: no personal data, so not audited.
type Counts struct {
	Requests      map[Status]int // by status
	OutboxPending int
	Unsettled     int // messages recorded but not yet moved on the server
}

// Counts counts requests by status (from the status index, without reading
// a request), pending outbox rows and unsettled messages.
func (s *Store) Counts() (Counts, error) {
	c := Counts{Requests: map[Status]int{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketReqStatus).ForEach(func(k, _ []byte) error {
			if i := bytes.IndexByte(k, 0); i > 0 {
				c.Requests[Status(k[:i])]++
			}
			return nil
		}); err != nil {
			return err
		}
		c.OutboxPending = tx.Bucket(bucketOutboxDue).Stats().KeyN
		c.Unsettled = tx.Bucket(bucketUnsettled).Stats().KeyN
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("count: %w", err)
	}
	return c, nil
}
