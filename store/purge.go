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
func (s *Store) Purge(now time.Time, days int) (PurgeResult, error) {
	if days <= 0 {
		days = DefaultRetentionDays
	}
	cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
	var res PurgeResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		res = PurgeResult{}
		stamp := s.now().UTC()
		// Requests. Collected first: bbolt cursors must not see writes to
		// the bucket they walk.
		var reqs []Request
		if err := tx.Bucket(bucketRequests).ForEach(func(_, v []byte) error {
			var r Request
			if err := decode(v, &r); err != nil {
				return err
			}
			if !r.Purged && (r.Status == StatusDone || r.Status == StatusRejected) && r.ClosedAt.Before(cutoff) {
				reqs = append(reqs, r)
			}
			return nil
		}); err != nil {
			return err
		}
		var ids []string
		for _, old := range reqs {
			r := old
			r.Fields, r.Username, r.Reason = nil, "", ""
			r.History = append([]Transition(nil), old.History...)
			for i := range r.History {
				r.History[i].Note = ""
			}
			r.Purged, r.PurgedAt = true, stamp
			if err := putRequest(tx, r, &old); err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
		res.Requests = len(reqs)

		var msgs []Message
		if err := tx.Bucket(bucketMessages).ForEach(func(_, v []byte) error {
			var m Message
			if err := decode(v, &m); err != nil {
				return err
			}
			if !m.Purged && m.RecordedAt.Before(cutoff) {
				msgs = append(msgs, m)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, m := range msgs {
			m.From, m.Subject, m.Purged = "", "", true
			if err := putMessage(tx, m); err != nil {
				return err
			}
			if err := purgeMessageHistory(tx, m.Key); err != nil {
				return err
			}
		}
		res.Messages = len(msgs)

		var rows []OutboxRow
		if err := tx.Bucket(bucketOutbox).ForEach(func(_, v []byte) error {
			var r OutboxRow
			if err := decode(v, &r); err != nil {
				return err
			}
			if !r.Purged && r.State != OutboxPending && r.CreatedAt.Before(cutoff) {
				rows = append(rows, r)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, r := range rows {
			r.To, r.Cc, r.Subject, r.Purged = nil, nil, "", true
			if err := putOutbox(tx, r); err != nil {
				return err
			}
			if err := tx.Bucket(bucketOutboxRaw).Delete(u64(r.ID)); err != nil {
				return fmt.Errorf("delete outbox body %d: %w", r.ID, err)
			}
		}
		res.Outbox = len(rows)

		if err := deleteOlder(tx.Bucket(bucketOutboxSent), cutoff, func(k, _ []byte) []byte { return k[len(k)-16 : len(k)-8] }); err != nil {
			return err
		}
		if err := deleteOlder(tx.Bucket(bucketBounces), cutoff, func(_, v []byte) []byte { return v }); err != nil {
			return err
		}
		return s.appendAudit(tx, ActorRetention, AuditPurge, ids, len(ids),
			fmt.Sprintf("days=%d messages=%d outbox=%d", days, res.Messages, res.Outbox))
	})
	if err != nil {
		return PurgeResult{}, fmt.Errorf("purge personal data: %w", err)
	}
	return res, nil
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
