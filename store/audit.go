package store

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry is one line of the audit log: who read or changed what, and
// when. It never holds field values, only ids, so the log itself can be kept
// after the personal data it points to is purged.
type AuditEntry struct {
	V        int       `json:"v"`
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Subjects []string  `json:"subjects,omitempty"` // request ids, message keys, outbox ids, kundnummer
	Count    int       `json:"count"`              // records returned by a read
	Detail   string    `json:"detail,omitempty"`   // the shape of the query, never its values
}

// Audit actions.
const (
	AuditShowRequest    = "show-request"
	AuditListRequests   = "list-requests"
	AuditSearchRequests = "search-requests"
	AuditClaim          = "claim"
	AuditRelease        = "release"
	AuditComplete       = "complete"
	AuditReject         = "reject"
	AuditRegisterList   = "register-list"
	AuditShowMessage    = "show-message"
	AuditListMessages   = "list-messages"
	AuditListAudit      = "list-audit"
	AuditOutboxList     = "outbox-list"
	AuditOutboxShow     = "outbox-show"
	AuditOutboxRetry    = "outbox-retry"
	AuditOutboxCancel   = "outbox-cancel"
	AuditPurge          = "purge"
)

// appendAudit writes one entry in the caller's transaction, so a read of
// personal data and its record in the log commit together or not at all.
func (s *Store) appendAudit(tx *bolt.Tx, actor, action string, subjects []string, count int, detail string) error {
	b := appendOnly(tx, bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	e := AuditEntry{V: recordVersion, Seq: seq, At: s.now().UTC(), Actor: actor, Action: action, Subjects: subjects, Count: count, Detail: detail}
	v, err := encode(e)
	if err != nil {
		return err
	}
	if err := b.Put(u64(seq), v); err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return nil
}

func checkActor(actor string) error {
	if strings.TrimSpace(actor) == "" {
		return fmt.Errorf("check actor: empty actor: %w", ErrInvalid)
	}
	return nil
}

// AuditFilter selects audit entries. Zero fields match everything.
type AuditFilter struct {
	Actor   string    // only this actor's entries
	Subject string    // only entries naming this id
	Since   time.Time // only entries at or after
	Before  uint64    // cursor: only entries with a smaller Seq (0 = from the newest)
	Limit   int       // default 100
}

// AuditList returns audit entries newest first. Reading the log is itself
// logged: it tells who looked at whom.
func (s *Store) AuditList(actor string, f AuditFilter) ([]AuditEntry, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []AuditEntry
	err := s.db.Update(func(tx *bolt.Tx) error {
		err := newestFirst(tx.Bucket(bucketAudit), f.Before, "audit entry", func(e AuditEntry) bool {
			if !f.Since.IsZero() && e.At.Before(f.Since) {
				return false
			}
			if (f.Actor == "" || e.Actor == f.Actor) && (f.Subject == "" || containsString(e.Subjects, f.Subject)) {
				out = append(out, e)
			}
			return len(out) < f.Limit
		})
		if err != nil {
			return err
		}
		return s.appendAudit(tx, actor, AuditListAudit, nil, len(out), "")
	})
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// prefixed iterates the keys of b that start with prefix, in key order.
func prefixed(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}
