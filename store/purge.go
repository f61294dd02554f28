package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultRetentionDays is how long personal data of closed requests is kept.
const DefaultRetentionDays = 365

// ActorRetention is the actor of the retention purge in the audit log.
const ActorRetention = "retention"

// PurgeResult counts what Purge emptied.
type PurgeResult struct {
	Requests int // done or rejected requests whose personal data was removed
	Messages int // message records whose sender and subject were removed
	Outbox   int // sent, failed or cancelled rows whose recipients and body were removed
}

// Purge removes the personal data of requests done or rejected more than
// days ago (days <= 0 means DefaultRetentionDays): the fields, the user name,
// the reason and the history notes go, and the request leaves the search
// index; the id, type, status, batch, dates, history steps and the audit log
// stay. Message records lose sender and subject, and closed outbox rows lose
// recipients, subject and body, on the same cut-off (by recording time);
// the per-address send counts and bounces older than it go too. The
// register is the current state of authorisations and is not purged.
// Retain is the same with a period per kind of record.
func (s *Store) Purge(now time.Time, days int) (PurgeResult, error) {
	if days <= 0 {
		days = DefaultRetentionDays
	}
	res, err := s.Retain(ActorRetention, now, RetentionPolicy{RequestsDays: days, MessagesDays: days, NoticesDays: days}, false, nil)
	if err != nil {
		return PurgeResult{}, err
	}
	return res.PurgeResult, nil
}

// deleteOlder deletes the entries of b whose time (unix nanos read by at)
// is before cutoff.
func deleteOlder(b *bolt.Bucket, cutoff time.Time, at func(k, v []byte) []byte) error {
	var dead [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if t := at(k, v); len(t) == 8 && int64(be64(t)) < cutoff.UnixNano() {
			dead = append(dead, clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete expired entry: %w", err)
		}
	}
	return nil
}

// purgeMessageHistory empties the free text (staff notes, reasons) of a
// message's later history; the events and their times stay.
func purgeMessageHistory(tx *bolt.Tx, key MessageKey) error {
	hist, err := messageHistory(tx, key)
	if err != nil || len(hist) == 0 {
		return err
	}
	for i := range hist {
		hist[i].Note, hist[i].Reason = "", ""
	}
	v, err := encode(hist)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketMsgHistory).Put(key.bytes(), v); err != nil {
		return fmt.Errorf("purge history of message %s: %w", key, err)
	}
	return nil
}
