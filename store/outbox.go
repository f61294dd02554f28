package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OutboxState is where an outbox row stands.
type OutboxState string

// Outbox states: pending rows are sent (and retried) by the mailer's worker;
// sent and failed are final; cancelled is set by staff.
const (
	OutboxPending   OutboxState = "pending"
	OutboxSent      OutboxState = "sent"
	OutboxFailed    OutboxState = "failed"
	OutboxCancelled OutboxState = "cancelled"
)

// OutboxRow is one e-mail to send, written in the same transaction as the
// state change that causes it. The message is composed in full when the row
// is written, so a retry after a crash sends the same bytes with the same
// Message-ID.
type OutboxRow struct {
	V         int         `json:"v"`          // record version, set by the store
	ID        uint64      `json:"id"`         // assigned by the store, in creation order
	MessageID string      `json:"message_id"` // without angle brackets, fixed at composition
	Kind      string      `json:"kind"`       // kvittens, komplettering, ingen-blankett, klar-anvandare, klar-chef, avslag
	Request   string      `json:"request,omitempty"`
	InReplyTo string      `json:"in_reply_to,omitempty"` // Message-ID of the mail answered
	From      string      `json:"from"`                  // envelope sender
	To        []string    `json:"to"`                    // envelope recipients
	Cc        []string    `json:"cc,omitempty"`
	Subject   string      `json:"subject"`
	Raw       []byte      `json:"-"` // the complete RFC 5322 message (kept in its own bucket)
	State     OutboxState `json:"state"`
	Attempts  int         `json:"attempts"` // calls to MarkRetry and MarkFailed
	LastError string      `json:"last_error,omitempty"`
	NextTry   time.Time   `json:"next_try"`
	CreatedAt time.Time   `json:"created_at"`
	SentAt    time.Time   `json:"sent_at,omitzero"`
	FailedAt  time.Time   `json:"failed_at,omitzero"`
	Purged    bool        `json:"purged,omitempty"` // recipients, subject and body removed by retention
}

// OutboxStateError refuses an outbox change that the row's state does not
// allow (retrying a sent row, cancelling a failed one). It matches ErrConflict.
type OutboxStateError struct {
	ID    uint64
	State OutboxState
	Want  string // what was attempted: "cancelled", "retried", "marked for retry", "marked failed"
}

func (e *OutboxStateError) Error() string {
	return fmt.Sprintf("outbox row %d is %s; it cannot be %s", e.ID, e.State, e.Want)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *OutboxStateError) Is(target error) bool { return target == ErrConflict }

// insertOutbox writes rows in the caller's transaction and returns them as
// stored (with ID, State, CreatedAt and NextTry set).
func (s *Store) insertOutbox(tx *bolt.Tx, now time.Time, rows []OutboxRow) ([]OutboxRow, error) {
	b := tx.Bucket(bucketOutbox)
	out := make([]OutboxRow, 0, len(rows))
	for _, r := range rows {
		if len(r.To) == 0 && len(r.Cc) == 0 {
			return nil, fmt.Errorf("write outbox row %q: no recipient: %w", r.Kind, ErrInvalid)
		}
		id, err := b.NextSequence()
		if err != nil {
			return nil, fmt.Errorf("write outbox row: %w", err)
		}
		r.V = recordVersion
		r.ID = id
		r.State = OutboxPending
		r.Attempts = 0
		r.LastError = ""
		r.SentAt, r.FailedAt = time.Time{}, time.Time{}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		r.CreatedAt = r.CreatedAt.UTC()
		if r.NextTry.IsZero() {
			r.NextTry = r.CreatedAt
		}
		r.NextTry = r.NextTry.UTC()
		if err := putOutbox(tx, r); err != nil {
			return nil, err
		}
		if err := appendOnly(tx, bucketOutboxRaw).Put(u64(id), r.Raw); err != nil {
			return nil, fmt.Errorf("write outbox row %d: %w", id, err)
		}
		if err := tx.Bucket(bucketOutboxDue).Put(dueKey(r), nil); err != nil {
			return nil, fmt.Errorf("index outbox row %d: %w", id, err)
		}
		if r.Request != "" {
			if err := tx.Bucket(bucketOutboxReq).Put(join(keyText(r.Request), u64(id)), nil); err != nil {
				return nil, fmt.Errorf("index outbox row %d: %w", id, err)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func dueKey(r OutboxRow) []byte {
	return append(timeKey(r.NextTry), u64(r.ID)...)
}

func putOutbox(tx *bolt.Tx, r OutboxRow) error {
	v, err := encode(r)
	if err != nil {
		return err
	}
	if err := appendOnly(tx, bucketOutbox).Put(u64(r.ID), v); err != nil {
		return fmt.Errorf("write outbox row %d: %w", r.ID, err)
	}
	return nil
}

func getOutbox(tx *bolt.Tx, id uint64, withRaw bool) (OutboxRow, error) {
	v := tx.Bucket(bucketOutbox).Get(u64(id))
	if v == nil {
		return OutboxRow{}, fmt.Errorf("outbox row %d: %w", id, ErrNotFound)
	}
	var r OutboxRow
	if err := decode(v, &r); err != nil {
		return OutboxRow{}, fmt.Errorf("read outbox row %d: %w", id, err)
	}
	if withRaw {
		r.Raw = clone(tx.Bucket(bucketOutboxRaw).Get(u64(id)))
	}
	return r, nil
}

// EnqueueOutbox writes rows on their own (staff notices, tests) and returns
// them with their assigned ids.
func (s *Store) EnqueueOutbox(rows ...OutboxRow) ([]OutboxRow, error) {
	var out []OutboxRow
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		out, err = s.insertOutbox(tx, s.now().UTC(), rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue outbox: %w", err)
	}
	return out, nil
}

// DueOutbox returns up to limit pending rows whose NextTry is not after now,
// oldest first, with their Raw bytes.
func (s *Store) DueOutbox(now time.Time, limit int) ([]OutboxRow, error) {
	limit = pageSize(limit, 100)
	var out []OutboxRow
	err := s.db.View(func(tx *bolt.Tx) error {
		end := uint64(now.UnixNano())
		c := tx.Bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if binary.BigEndian.Uint64(k[:8]) > end {
				break
			}
			r, err := getOutbox(tx, binary.BigEndian.Uint64(k[8:16]), true)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read due outbox: %w", err)
	}
	return out, nil
}

// updateOutbox loads row id, lets change modify it, and writes it back with
// the due index kept in step with its state.
func (s *Store) updateOutbox(tx *bolt.Tx, id uint64, change func(r *OutboxRow) error) (OutboxRow, error) {
	r, err := getOutbox(tx, id, false)
	if err != nil {
		return r, err
	}
	due := tx.Bucket(bucketOutboxDue)
	if r.State == OutboxPending {
		if err := due.Delete(dueKey(r)); err != nil {
			return r, fmt.Errorf("unindex outbox row %d: %w", id, err)
		}
	}
	if err := change(&r); err != nil {
		return r, err
	}
	if r.State == OutboxPending {
		if err := due.Put(dueKey(r), nil); err != nil {
			return r, fmt.Errorf("index outbox row %d: %w", id, err)
		}
	}
	return r, putOutbox(tx, r)
}

// MarkSent records a row as delivered at the given time. The mail left, so
// the row becomes sent whatever its state (staff may have cancelled it while
// the worker was sending); a second call changes nothing.
func (s *Store) MarkSent(id uint64, at time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		var prev OutboxRow
		r, err := s.updateOutbox(tx, id, func(r *OutboxRow) error {
			prev = *r
			if r.State != OutboxSent {
				r.State = OutboxSent
				r.SentAt = at.UTC()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if prev.State == OutboxSent {
			return nil
		}
		sent := tx.Bucket(bucketOutboxSent)
		for _, addr := range recipients(r) {
			if err := sent.Put(join(keyText(addr), append(timeKey(r.SentAt), u64(r.ID)...)), nil); err != nil {
				return fmt.Errorf("index sent row %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark outbox row %d sent: %w", id, err)
	}
	return nil
}

// recipients are the row's To and Cc, lower case, each once.
func recipients(r OutboxRow) []string {
	var out []string
	for _, a := range append(append([]string(nil), r.To...), r.Cc...) {
		a = normAddr(a)
		if a != "" && !containsString(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func normAddr(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

// MarkRetry records a temporary failure: one more attempt, the error, and
// when to try again. Only a pending row can be retried (staff may have
// cancelled it meanwhile: *OutboxStateError).
func (s *Store) MarkRetry(id uint64, next time.Time, lastErr string) error {
	return s.markAttempt(id, "for retry", func(r *OutboxRow) {
		r.LastError = lastErr
		r.NextTry = next.UTC()
	})
}

// MarkFailed records a permanent failure with the reason (the server's answer
// or the policy). Only a pending row can fail.
func (s *Store) MarkFailed(id uint64, reason string, at time.Time) error {
	return s.markAttempt(id, "failed", func(r *OutboxRow) {
		r.State = OutboxFailed
		r.LastError = reason
		r.FailedAt = at.UTC()
	})
}

// markAttempt records one more attempt that did not deliver on a pending
// row, and what change makes of it (marked "for retry" or "failed", as the
// refusal of another state says).
func (s *Store) markAttempt(id uint64, as string, change func(r *OutboxRow)) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, err := s.updateOutbox(tx, id, func(r *OutboxRow) error {
			if r.State != OutboxPending {
				return &OutboxStateError{ID: id, State: r.State, Want: "marked " + as}
			}
			r.Attempts++
			change(r)
			return nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("mark outbox row %d %s: %w", id, as, err)
	}
	return nil
}

// SentCount returns how many rows were sent to addr (To or Cc) at or after
// since (rate limit). The address is compared without regard to case.
func (s *Store) SentCount(addr string, since time.Time) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := join(keyText(normAddr(addr)), nil)
		c := tx.Bucket(bucketOutboxSent).Cursor()
		for k, _ := c.Seek(append(clone(prefix), timeKey(since)...)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count sent mail: %w", err)
	}
	return n, nil
}

// RecordBounce remembers that addr bounced permanently at the given time
// (the latest bounce is kept).
func (s *Store) RecordBounce(addr string, at time.Time) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return putBounce(tx, addr, at) }); err != nil {
		return fmt.Errorf("record bounce: %w", err)
	}
	return nil
}

// putBounce is RecordBounce inside the caller's transaction.
func putBounce(tx *bolt.Tx, addr string, at time.Time) error {
	b := tx.Bucket(bucketBounces)
	k := keyText(normAddr(addr))
	if old := b.Get(k); len(old) == 8 && int64(binary.BigEndian.Uint64(old)) >= at.UnixNano() {
		return nil
	}
	if err := b.Put(k, timeKey(at)); err != nil {
		return fmt.Errorf("record bounce: %w", err)
	}
	return nil
}

// BouncedSince reports whether addr bounced permanently at or after since.
func (s *Store) BouncedSince(addr string, since time.Time) (bool, error) {
	var bounced bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBounces).Get(keyText(normAddr(addr)))
		bounced = len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= since.UnixNano()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read bounce: %w", err)
	}
	return bounced, nil
}

// OutboxFilter selects rows for staff. Zero fields match everything.
type OutboxFilter struct {
	State  OutboxState
	Before uint64 // cursor: only rows with a smaller id (0 = from the newest)
	Limit  int    // default 50
}

// OutboxList returns rows newest first, without their bodies. Rows name
// recipients, so the read is audited.
func (s *Store) OutboxList(actor string, f OutboxFilter) ([]OutboxRow, error) {
	f.Limit = pageSize(f.Limit, 50)
	return audited(s, actor, "list outbox", func(tx *bolt.Tx) ([]OutboxRow, auditNote, error) {
		var out []OutboxRow
		var ids []string
		err := newestFirst(tx.Bucket(bucketOutbox), f.Before, "outbox row", func(r OutboxRow) bool {
			if f.State == "" || r.State == f.State {
				out = append(out, r)
				ids = append(ids, strconv.FormatUint(r.ID, 10))
			}
			return len(out) < f.Limit
		})
		if err != nil {
			return nil, auditNote{}, err
		}
		return out, auditNote{action: AuditOutboxList, subjects: ids, count: len(out), detail: "state=" + string(f.State)}, nil
	})
}

// OutboxGet returns one row with its body (audited).
func (s *Store) OutboxGet(actor string, id uint64) (OutboxRow, error) {
	return audited(s, actor, fmt.Sprintf("show outbox row %d", id), func(tx *bolt.Tx) (OutboxRow, auditNote, error) {
		r, err := getOutbox(tx, id, true)
		return r, auditNote{action: AuditOutboxShow, subjects: []string{strconv.FormatUint(id, 10)}, count: 1}, err
	})
}

// OutboxRetry puts a failed or cancelled row back to pending, due now, so
// staff can send it again after fixing the cause (a full mailbox, a typo in
// a domain). Audited.
func (s *Store) OutboxRetry(actor string, id uint64) error {
	return s.staffOutboxChange(actor, id, AuditOutboxRetry, "retry", func(r *OutboxRow) error {
		if r.State != OutboxFailed && r.State != OutboxCancelled {
			return &OutboxStateError{ID: id, State: r.State, Want: "retried"}
		}
		if r.Purged {
			return &OutboxStateError{ID: id, State: r.State, Want: "retried after its content was purged"}
		}
		r.State = OutboxPending
		r.NextTry = s.now().UTC()
		r.FailedAt = time.Time{}
		return nil
	})
}

// OutboxCancel stops a pending row from being sent. Audited.
func (s *Store) OutboxCancel(actor string, id uint64) error {
	return s.staffOutboxChange(actor, id, AuditOutboxCancel, "cancel", func(r *OutboxRow) error {
		if r.State != OutboxPending {
			return &OutboxStateError{ID: id, State: r.State, Want: "cancelled"}
		}
		r.State = OutboxCancelled
		return nil
	})
}

// staffOutboxChange is a change staff make to one outbox row: the change
// and its audit entry (action) in one transaction; verb names a failure.
func (s *Store) staffOutboxChange(actor string, id uint64, action, verb string, change func(r *OutboxRow) error) error {
	_, err := audited(s, actor, fmt.Sprintf("%s outbox row %d", verb, id), func(tx *bolt.Tx) (OutboxRow, auditNote, error) {
		r, err := s.updateOutbox(tx, id, change)
		return r, auditNote{action: action, subjects: []string{strconv.FormatUint(id, 10)}}, err
	})
	return err
}
