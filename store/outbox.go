package store

import (
	"errors"
	"time"
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
	ID        uint64      `json:"id"`         // assigned by the store, in creation order
	MessageID string      `json:"message_id"` // without angle brackets, fixed at composition
	Kind      string      `json:"kind"`       // kvittens, komplettering, ingen-blankett, klar-anvandare, klar-chef, avslag
	Request   string      `json:"request,omitempty"`
	InReplyTo string      `json:"in_reply_to,omitempty"` // Message-ID of the mail answered
	From      string      `json:"from"`                  // envelope sender
	To        []string    `json:"to"`                    // envelope recipients
	Cc        []string    `json:"cc,omitempty"`
	Subject   string      `json:"subject"`
	Raw       []byte      `json:"-"` // the complete RFC 5322 message
	State     OutboxState `json:"state"`
	Attempts  int         `json:"attempts"`
	LastError string      `json:"last_error,omitempty"`
	NextTry   time.Time   `json:"next_try"`
	CreatedAt time.Time   `json:"created_at"`
	SentAt    time.Time   `json:"sent_at,omitzero"`
}

var errNotYet = errors.New("store: not written yet")

// The outbox calls the mailer's worker relies on. (Stubs; the store owner
// replaces them with the real transactions and keeps these signatures.)

// DueOutbox returns up to limit pending rows whose NextTry is not after now, oldest first.
func (s *Store) DueOutbox(now time.Time, limit int) ([]OutboxRow, error) { return nil, errNotYet }

// MarkSent records a row as delivered at the given time.
func (s *Store) MarkSent(id uint64, at time.Time) error { return errNotYet }

// MarkRetry records a temporary failure: one more attempt, the error, and when to try again.
func (s *Store) MarkRetry(id uint64, next time.Time, lastErr string) error { return errNotYet }

// MarkFailed records a permanent failure with the reason (the server's answer or the policy).
func (s *Store) MarkFailed(id uint64, reason string, at time.Time) error { return errNotYet }

// SentCount returns how many rows were sent to addr (To or Cc) at or after since (rate limit).
func (s *Store) SentCount(addr string, since time.Time) (int, error) { return 0, errNotYet }

// RecordBounce remembers that addr bounced permanently at the given time.
func (s *Store) RecordBounce(addr string, at time.Time) error { return errNotYet }

// BouncedSince reports whether addr bounced permanently at or after since.
func (s *Store) BouncedSince(addr string, since time.Time) (bool, error) { return false, errNotYet }
