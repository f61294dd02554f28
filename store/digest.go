package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyDigestDay in the meta bucket holds the local date (YYYY-MM-DD) of the
// last morning digest put in the outbox.
var keyDigestDay = []byte("digest-day")

// DigestDay is the date of the last digest enqueued ("" when none was).
func (s *Store) DigestDay() (string, error) {
	var day string
	err := s.db.View(func(tx *bolt.Tx) error {
		day = string(tx.Bucket(bucketMeta).Get(keyDigestDay))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read the digest day: %w", err)
	}
	return day, nil
}

// EnqueueDigest puts the digest of day in the outbox and records the day,
// in one transaction, unless that day's digest is already there: a restart
// (or a second instance taking over) never sends it twice. It reports
// whether rows were enqueued.
func (s *Store) EnqueueDigest(day string, rows ...OutboxRow) (bool, error) {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return false, fmt.Errorf("enqueue the digest: day %q: %w", day, ErrInvalid)
	}
	sent := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if string(meta.Get(keyDigestDay)) >= day {
			return nil
		}
		if _, err := s.insertOutbox(tx, s.now().UTC(), rows); err != nil {
			return err
		}
		sent = true
		return meta.Put(keyDigestDay, []byte(day))
	})
	if err != nil {
		return false, fmt.Errorf("enqueue the digest of %s: %w", day, err)
	}
	return sent, nil
}

// DayCounts are one period's outcomes: mails received by outcome and
// requests closed.
type DayCounts struct {
	Mails    map[Outcome]int `json:"mails"`
	Done     int             `json:"done"`
	Rejected int             `json:"rejected"`
}

// CountPeriod counts the mails received in [from, to) by outcome and the
// requests done or rejected in it (no personal data: not audited).
func (s *Store) CountPeriod(from, to time.Time) (DayCounts, error) {
	c := DayCounts{Mails: map[Outcome]int{}}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := eachRecord(tx.Bucket(bucketMessages), func(m Message) error {
			if m.DuplicateOf == nil && in(m.ReceivedAt) {
				c.Mails[m.Outcome]++
			}
			return nil
		}); err != nil {
			return err
		}
		return eachRecord(tx.Bucket(bucketRequests), func(r Request) error {
			if in(r.ClosedAt) {
				switch r.Status {
				case StatusDone:
					c.Done++
				case StatusRejected:
					c.Rejected++
				}
			}
			return nil
		})
	})
	if err != nil {
		return DayCounts{}, fmt.Errorf("count the period: %w", err)
	}
	return c, nil
}
