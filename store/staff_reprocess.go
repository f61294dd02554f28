package store

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the reprocess marks and message history. They are created by
// the first write that needs them (not by a schema migration), so a file
// that never had a message reprocessed has neither, and readers treat a
// missing bucket as empty.
var (
	// reprocess: message key -> ReprocessMark JSON, while the daemon has
	// not yet decided the message again
	bucketReprocess = []byte("reprocess")
	// msghistory: message key -> []MessageEvent JSON
	bucketMsgHistory = []byte("msghistory")
)

// Message events.
const (
	EventReprocessRequested = "reprocess-requested"
	EventReprocessed        = "reprocessed"
)

// MessageEvent is one step of a message's history after its first decision:
// staff asking for it to be decided again, and the daemon doing so.
type MessageEvent struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	From   Outcome   `json:"from,omitempty"`
	To     Outcome   `json:"to,omitempty"`
	Note   string    `json:"note,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// ReprocessMark asks the daemon to decide a message again.
type ReprocessMark struct {
	V     int        `json:"v"`
	Key   MessageKey `json:"key"`
	Actor string     `json:"actor"`
	At    time.Time  `json:"at"`
	Note  string     `json:"note,omitempty"`
	// Outcome is the outcome the message had when the mark was set.
	Outcome Outcome `json:"outcome"`
}

// MessageStateError refuses a change the message's record does not allow.
// It matches ErrConflict.
type MessageStateError struct {
	Key     MessageKey
	Outcome Outcome
	Why     string
}

func (e *MessageStateError) Error() string {
	return fmt.Sprintf("message %s (%s) %s", e.Key, e.Outcome, e.Why)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *MessageStateError) Is(target error) bool { return target == ErrConflict }

// MessageDetail is a message's record with its later history and, when one
// is waiting, the request to decide it again.
type MessageDetail struct {
	Message Message        `json:"message"`
	History []MessageEvent `json:"history"`
	Pending *ReprocessMark `json:"pending,omitempty"`
}

// ShowMessageDetail returns a message with its history (audited, like
// ShowMessage: sender and subject are personal data).
func (s *Store) ShowMessageDetail(actor string, key MessageKey) (MessageDetail, error) {
	if err := checkActor(actor); err != nil {
		return MessageDetail{}, err
	}
	var d MessageDetail
	err := s.db.Update(func(tx *bolt.Tx) error {
		m, err := getMessage(tx, key)
		if err != nil {
			return err
		}
		d = MessageDetail{Message: m}
		if d.History, err = messageHistory(tx, key); err != nil {
			return err
		}
		if d.Pending, err = reprocessMark(tx, key); err != nil {
			return err
		}
		return s.appendAudit(tx, actor, AuditShowMessage, []string{key.String()}, 1, "")
	})
	if err != nil {
		return MessageDetail{}, fmt.Errorf("show message %s: %w", key, err)
	}
	if d.History == nil {
		d.History = []MessageEvent{}
	}
	return d, nil
}

func messageHistory(tx *bolt.Tx, key MessageKey) ([]MessageEvent, error) {
	b := tx.Bucket(bucketMsgHistory)
	if b == nil {
		return nil, nil
	}
	v := b.Get(key.bytes())
	if v == nil {
		return nil, nil
	}
	var out []MessageEvent
	if err := decode(v, &out); err != nil {
		return nil, fmt.Errorf("read history of message %s: %w", key, err)
	}
	return out, nil
}

func reprocessMark(tx *bolt.Tx, key MessageKey) (*ReprocessMark, error) {
	b := tx.Bucket(bucketReprocess)
	if b == nil {
		return nil, nil
	}
	v := b.Get(key.bytes())
	if v == nil {
		return nil, nil
	}
	var m ReprocessMark
	if err := decode(v, &m); err != nil {
		return nil, fmt.Errorf("read reprocess mark of %s: %w", key, err)
	}
	return &m, nil
}

func appendMessageEvent(tx *bolt.Tx, key MessageKey, e MessageEvent) error {
	hist, err := messageHistory(tx, key)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketMsgHistory)
	if err != nil {
		return fmt.Errorf("create message history: %w", err)
	}
	v, err := encode(append(hist, e))
	if err != nil {
		return err
	}
	if err := b.Put(key.bytes(), v); err != nil {
		return fmt.Errorf("write history of message %s: %w", key, err)
	}
	return nil
}

// MarkReprocess asks the daemon to decide a quarantined or no-form message
// again (after the sender domain was allowed, a size limit raised, a parser
// fixed). This is the only way a message is decided twice, so it is
// deliberate: staff name it, the mark and a history event are written with
// the audit entry in one transaction, and any other outcome, a copy, a
// purged record or a mark already waiting is refused (*MessageStateError).
func (s *Store) MarkReprocess(actor string, key MessageKey, note string) (ReprocessMark, error) {
	if err := checkActor(actor); err != nil {
		return ReprocessMark{}, err
	}
	var mark ReprocessMark
	err := s.db.Update(func(tx *bolt.Tx) error {
		m, err := getMessage(tx, key)
		if err != nil {
			return err
		}
		switch {
		case m.Outcome != OutcomeQuarantined && m.Outcome != OutcomeNoForm:
			return &MessageStateError{Key: key, Outcome: m.Outcome, Why: "was decided on a readable form or an automatic message; only quarantined and no-form messages can be reprocessed"}
		case m.DuplicateOf != nil:
			return &MessageStateError{Key: key, Outcome: m.Outcome, Why: "is a copy of " + m.DuplicateOf.String() + "; reprocess that one"}
		case m.Purged:
			return &MessageStateError{Key: key, Outcome: m.Outcome, Why: "was purged by retention; ask the sender to send it again"}
		}
		old, err := reprocessMark(tx, key)
		if err != nil {
			return err
		}
		if old != nil {
			return &MessageStateError{Key: key, Outcome: m.Outcome, Why: fmt.Sprintf("is already waiting to be reprocessed (asked by %s at %s)", old.Actor, old.At.Local().Format(time.DateTime))}
		}
		now := s.now().UTC()
		note = strings.TrimSpace(note)
		mark = ReprocessMark{V: recordVersion, Key: key, Actor: actor, At: now, Note: note, Outcome: m.Outcome}
		v, err := encode(mark)
		if err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketReprocess)
		if err != nil {
			return fmt.Errorf("create reprocess marks: %w", err)
		}
		if err := b.Put(key.bytes(), v); err != nil {
			return fmt.Errorf("write reprocess mark: %w", err)
		}
		if err := appendMessageEvent(tx, key, MessageEvent{At: now, Actor: actor, Event: EventReprocessRequested, From: m.Outcome, Note: note}); err != nil {
			return err
		}
		return s.appendAudit(tx, actor, AuditReprocessMessage, []string{key.String()}, 0, "")
	})
	if err != nil {
		return ReprocessMark{}, fmt.Errorf("reprocess message %s: %w", key, err)
	}
	return mark, nil
}

// ReprocessPending returns the marks waiting for the daemon, in key order.
// Keys and staff names only: not audited, like the daemon's other look-ups.
func (s *Store) ReprocessPending() ([]ReprocessMark, error) {
	var out []ReprocessMark
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReprocess)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var m ReprocessMark
			if err := decode(v, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list reprocess marks: %w", err)
	}
	return out, nil
}
