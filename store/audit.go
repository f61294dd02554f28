package store

import (
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

// auditNote is what the audit entry of one staff call records besides who
// and when: the action, the ids it touched, how many records it returned and
// the shape of the query.
type auditNote struct {
	action   string
	subjects []string
	count    int
	detail   string
}

// audited runs do for actor in one write transaction with the audit entry do
// returns, so that staff never read or change a record the log does not
// name, and the log never names a call that did not happen. what begins
// each error ("show request WS-2026-000001"); an empty what leaves do's
// errors as they are, for a call whose errors already say it all.
func audited[T any](s *Store, actor, what string, do func(tx *bolt.Tx) (T, auditNote, error)) (T, error) {
	var out, none T
	if err := checkActor(actor); err != nil {
		return none, err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		v, note, err := do(tx)
		if err != nil {
			return err
		}
		out = v
		return s.appendAudit(tx, actor, note.action, note.subjects, note.count, note.detail)
	})
	switch {
	case err != nil && what != "":
		return none, fmt.Errorf("%s: %w", what, err)
	case err != nil:
		return none, err
	}
	return out, nil
}

// pageSize is how many records a list call returns at most: limit, or def
// when the caller gave none (zero or less).
func pageSize(limit, def int) int {
	if limit <= 0 {
		return def
	}
	return limit
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
	f.Limit = pageSize(f.Limit, 100)
	return audited(s, actor, "list audit log", func(tx *bolt.Tx) ([]AuditEntry, auditNote, error) {
		var out []AuditEntry
		err := newestFirst(tx.Bucket(bucketAudit), f.Before, "audit entry", func(e AuditEntry) bool {
			if !f.Since.IsZero() && e.At.Before(f.Since) {
				return false
			}
			if (f.Actor == "" || e.Actor == f.Actor) && (f.Subject == "" || containsString(e.Subjects, f.Subject)) {
				out = append(out, e)
			}
			return len(out) < f.Limit
		})
		return out, auditNote{action: AuditListAudit, count: len(out)}, err
	})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
