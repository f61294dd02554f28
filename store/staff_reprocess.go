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
	// reprocessmoves: message key -> ReprocessMove JSON, from the commit of
	// a new decision until the daemon has moved the message
	bucketReprocessMoves = []byte("reprocessmoves")
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
	V   int        `json:"v"`
	Key MessageKey `json:"key"`
	// MessageID is how the daemon finds the message again: it now lies in
	// its outcome's folder under a UID the store never learnt.
	MessageID string    `json:"message_id"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
	Note      string    `json:"note,omitempty"`
	// Outcome is the outcome the message had when the mark was set.
	Outcome Outcome `json:"outcome"`
	// Notify sends the notice of the new decision even when the outcome
	// comes out as before (a second, identical notice otherwise is spam).
	Notify bool `json:"notify,omitempty"`
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
	return audited(s, actor, "show message "+key.String(), func(tx *bolt.Tx) (MessageDetail, auditNote, error) {
		m, err := getMessage(tx, key)
		if err != nil {
			return MessageDetail{}, auditNote{}, err
		}
		d := MessageDetail{Message: m}
		if d.History, err = messageHistory(tx, key); err != nil {
			return MessageDetail{}, auditNote{}, err
		}
		if d.History == nil {
			d.History = []MessageEvent{}
		}
		if d.Pending, err = reprocessMark(tx, key); err != nil {
			return MessageDetail{}, auditNote{}, err
		}
		return d, auditNote{action: AuditShowMessage, subjects: []string{key.String()}, count: 1}, nil
	})
}

func messageHistory(tx *bolt.Tx, key MessageKey) ([]MessageEvent, error) {
	h, _, err := findRecord[[]MessageEvent](tx.Bucket(bucketMsgHistory), key.bytes(), "history of message "+key.String())
	return h, err
}

func reprocessMark(tx *bolt.Tx, key MessageKey) (*ReprocessMark, error) {
	m, found, err := findRecord[ReprocessMark](tx.Bucket(bucketReprocess), key.bytes(), "reprocess mark of "+key.String())
	if err != nil || !found {
		return nil, err
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
func (s *Store) MarkReprocess(actor string, key MessageKey, note string, notify bool) (ReprocessMark, error) {
	return audited(s, actor, "reprocess message "+key.String(), func(tx *bolt.Tx) (ReprocessMark, auditNote, error) {
		m, err := getMessage(tx, key)
		if err != nil {
			return ReprocessMark{}, auditNote{}, err
		}
		switch {
		case m.Outcome != OutcomeQuarantined && m.Outcome != OutcomeNoForm:
			return ReprocessMark{}, auditNote{}, &MessageStateError{Key: key, Outcome: m.Outcome, Why: "was decided on a readable form or an automatic message; only quarantined and no-form messages can be reprocessed"}
		case m.DuplicateOf != nil:
			return ReprocessMark{}, auditNote{}, &MessageStateError{Key: key, Outcome: m.Outcome, Why: "is a copy of " + m.DuplicateOf.String() + "; reprocess that one"}
		case m.Purged:
			return ReprocessMark{}, auditNote{}, &MessageStateError{Key: key, Outcome: m.Outcome, Why: "was purged by retention; ask the sender to send it again"}
		case m.MessageID == "":
			return ReprocessMark{}, auditNote{}, &MessageStateError{Key: key, Outcome: m.Outcome, Why: "has no Message-ID, so the daemon cannot find it again in its folder; ask the sender to send it again"}
		}
		old, err := reprocessMark(tx, key)
		if err != nil {
			return ReprocessMark{}, auditNote{}, err
		}
		if old != nil {
			return ReprocessMark{}, auditNote{}, &MessageStateError{Key: key, Outcome: m.Outcome, Why: fmt.Sprintf("is already waiting to be reprocessed (asked by %s at %s)", old.Actor, old.At.Local().Format(time.DateTime))}
		}
		now := s.now().UTC()
		note = strings.TrimSpace(note)
		mark := ReprocessMark{V: recordVersion, Key: key, MessageID: m.MessageID, Actor: actor, At: now, Note: note, Outcome: m.Outcome, Notify: notify}
		v, err := encode(mark)
		if err != nil {
			return ReprocessMark{}, auditNote{}, err
		}
		b, err := tx.CreateBucketIfNotExists(bucketReprocess)
		if err != nil {
			return ReprocessMark{}, auditNote{}, fmt.Errorf("create reprocess marks: %w", err)
		}
		if err := b.Put(key.bytes(), v); err != nil {
			return ReprocessMark{}, auditNote{}, fmt.Errorf("write reprocess mark: %w", err)
		}
		if err := appendMessageEvent(tx, key, MessageEvent{At: now, Actor: actor, Event: EventReprocessRequested, From: m.Outcome, Note: note}); err != nil {
			return ReprocessMark{}, auditNote{}, err
		}
		return mark, auditNote{action: AuditReprocessMessage, subjects: []string{key.String()}}, nil
	})
}

// ReprocessPending returns the marks waiting for the daemon, in key order.
// Keys and staff names only: not audited, like the daemon's other look-ups.
func (s *Store) ReprocessPending() ([]ReprocessMark, error) {
	out, err := allRecords[ReprocessMark](s, bucketReprocess)
	if err != nil {
		return nil, fmt.Errorf("list reprocess marks: %w", err)
	}
	return out, nil
}

// RecordReprocessed writes the new decision of a message that staff marked
// with MarkReprocess, in one transaction: the record's outcome, reason and
// forms, the requests of its valid forms (a form whose requests are still
// active is matched, not duplicated, as in RecordOutcome), the outbox rows
// compose returns, a history event, and the removal of the mark. A message
// without a mark is refused (*MessageStateError): the daemon never decides
// a message twice on its own. msg.Key names the record; msg's Outcome,
// Reason and FormHashes are the new decision, and its From, Subject and
// MessageID replace the record's when not empty.
//
// The message is not marked unsettled: it now lies in the folder of its
// old outcome under another UID, so the daemon moves it itself after this
// commit. When the outcome changed, a ReprocessMove is written in the same
// commit and stays until MarkReprocessMoved: a crash between the commit and
// the move repeats only the move.
//
// bounces, like OutcomeItem.Bounces, are remembered in the same transaction.
func (s *Store) RecordReprocessed(msg Message, reqs []NewRequest, compose func(rec Recorded) ([]OutboxRow, error), bounces ...string) (Recorded, error) {
	if err := msg.Key.check(); err != nil {
		return Recorded{}, fmt.Errorf("record reprocessed message: %w", err)
	}
	if !msg.Outcome.valid() {
		return Recorded{}, fmt.Errorf("record reprocessed message %s: unknown outcome %q: %w", msg.Key, msg.Outcome, ErrInvalid)
	}
	if len(reqs) > 0 && msg.Outcome != OutcomeQueued {
		return Recorded{}, fmt.Errorf("record reprocessed message %s: %d requests with outcome %s: %w", msg.Key, len(reqs), msg.Outcome, ErrInvalid)
	}
	for i, r := range reqs {
		if r.FormHash == "" || strings.IndexByte(r.FormHash, 0) >= 0 {
			return Recorded{}, fmt.Errorf("record reprocessed message %s: request %d has no form hash: %w", msg.Key, i+1, ErrInvalid)
		}
		if r.Type != TypeNy && r.Type != TypeAndring && r.Type != TypeAvslut {
			return Recorded{}, fmt.Errorf("record reprocessed message %s: request %d has unknown type %q: %w", msg.Key, i+1, r.Type, ErrInvalid)
		}
	}
	var rec Recorded
	err := s.db.Update(func(tx *bolt.Tx) error {
		rec = Recorded{}
		now := s.now().UTC()
		m, err := getMessage(tx, msg.Key)
		if err != nil {
			return err
		}
		mark, err := reprocessMark(tx, msg.Key)
		if err != nil {
			return err
		}
		if mark == nil {
			return &MessageStateError{Key: msg.Key, Outcome: m.Outcome, Why: "is not waiting to be reprocessed; staff ask for it with 'messages reprocess'"}
		}
		from := m.Outcome
		m.Outcome, m.Reason, m.Problems, m.Verdict = msg.Outcome, msg.Reason, msg.Problems, msg.Verdict
		if msg.From != "" {
			m.From = msg.From
		}
		if msg.Subject != "" {
			m.Subject = msg.Subject
		}
		m.FormHashes = nil
		for _, h := range msg.FormHashes {
			if !containsString(m.FormHashes, h) {
				m.FormHashes = append(m.FormHashes, h)
			}
		}
		if m.Forms, rec.Requests, err = createRequests(tx, now, &m, reqs, "reprocessed"); err != nil {
			return err
		}
		if err := putMessage(tx, m); err != nil {
			return err
		}
		for _, addr := range bounces {
			if err := putBounce(tx, addr, now); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketReprocess).Delete(msg.Key.bytes()); err != nil {
			return fmt.Errorf("remove reprocess mark: %w", err)
		}
		if from != m.Outcome {
			if err := putReprocessMove(tx, ReprocessMove{V: recordVersion, Key: m.Key, MessageID: m.MessageID, From: from, To: m.Outcome}); err != nil {
				return err
			}
		}
		if err := appendMessageEvent(tx, msg.Key, MessageEvent{At: now, Actor: ActorIntake, Event: EventReprocessed,
			From: from, To: m.Outcome, Reason: m.Reason, Note: "asked by " + mark.Actor}); err != nil {
			return err
		}
		rec.Message, rec.Forms = m, m.Forms
		if compose != nil {
			rows, err := compose(rec)
			if err != nil {
				return fmt.Errorf("compose replies: %w", err)
			}
			if rec.Outbox, err = s.insertOutbox(tx, now, rows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Recorded{}, fmt.Errorf("record reprocessed message %s: %w", msg.Key, err)
	}
	return rec, nil
}

// createRequests makes the requests of a message's valid forms, grouped by
// form in the order given, for RecordOutcome and for a reprocessed message
// alike: a form whose requests are still active (queued, claimed, done) is a
// duplicate and creates nothing. It adds each form's hash to m.FormHashes;
// note goes into each new request's first history entry.
func createRequests(tx *bolt.Tx, now time.Time, m *Message, reqs []NewRequest, note string) ([]FormResult, []Request, error) {
	var order []string
	byForm := map[string][]NewRequest{}
	for _, r := range reqs {
		if _, ok := byForm[r.FormHash]; !ok {
			order = append(order, r.FormHash)
		}
		byForm[r.FormHash] = append(byForm[r.FormHash], r)
	}
	var forms []FormResult
	var created []Request
	for _, hash := range order {
		if !containsString(m.FormHashes, hash) {
			m.FormHashes = append(m.FormHashes, hash)
		}
		matched, err := activeForHash(tx, hash)
		if err != nil {
			return nil, nil, err
		}
		if len(matched) > 0 {
			forms = append(forms, FormResult{Hash: hash, Requests: matched, Duplicate: true})
			continue
		}
		fr := FormResult{Hash: hash}
		for _, nr := range byForm[hash] {
			if nr.File != nil {
				if err := putFormFile(tx, hash, nr.File); err != nil {
					return nil, nil, err
				}
				break
			}
		}
		batch := ""
		for _, nr := range byForm[hash] {
			id, err := nextRequestID(tx, now)
			if err != nil {
				return nil, nil, err
			}
			if batch == "" {
				batch = id
			}
			r := Request{
				V: recordVersion, ID: id, Batch: batch, Form: nr.Form, Type: nr.Type, Status: StatusQueued,
				Fields: copyFields(nr.Fields), FormHash: hash, Message: m.Key, MessageID: m.MessageID,
				ReceivedAt: m.ReceivedAt, CreatedAt: now, UpdatedAt: now,
				History: []Transition{{At: now, Actor: ActorIntake, To: StatusQueued, Note: note}},
			}
			if err := putRequest(tx, r, nil); err != nil {
				return nil, nil, err
			}
			if err := tx.Bucket(bucketFormHash).Put(join(keyText(hash), []byte(id)), nil); err != nil {
				return nil, nil, fmt.Errorf("index form hash: %w", err)
			}
			fr.Requests = append(fr.Requests, id)
			created = append(created, r)
		}
		forms = append(forms, fr)
	}
	return forms, created, nil
}

// ReprocessMove is a reprocessed message still to be moved from the folder
// of its old outcome (From) to that of its new one (To). The daemon finds
// it by its Message-ID, as it found it to decide it again.
type ReprocessMove struct {
	V         int        `json:"v"`
	Key       MessageKey `json:"key"`
	MessageID string     `json:"message_id"`
	From      Outcome    `json:"from"`
	To        Outcome    `json:"to"`
}

func putReprocessMove(tx *bolt.Tx, mv ReprocessMove) error {
	b, err := tx.CreateBucketIfNotExists(bucketReprocessMoves)
	if err != nil {
		return fmt.Errorf("create reprocess moves: %w", err)
	}
	v, err := encode(mv)
	if err != nil {
		return err
	}
	if err := b.Put(mv.Key.bytes(), v); err != nil {
		return fmt.Errorf("write reprocess move: %w", err)
	}
	return nil
}

// ReprocessMoves returns the reprocessed messages not yet moved to their
// new outcome's folder, in key order (the daemon finishes them after a
// crash or a refused move). Not audited: keys and outcomes only.
func (s *Store) ReprocessMoves() ([]ReprocessMove, error) {
	out, err := allRecords[ReprocessMove](s, bucketReprocessMoves)
	if err != nil {
		return nil, fmt.Errorf("list reprocess moves: %w", err)
	}
	return out, nil
}

// MarkReprocessMoved records that a reprocessed message is in its new
// outcome's folder. A second call changes nothing.
func (s *Store) MarkReprocessMoved(key MessageKey) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReprocessMoves)
		if b == nil {
			return nil
		}
		return b.Delete(key.bytes())
	})
	if err != nil {
		return fmt.Errorf("mark reprocessed message %s moved: %w", key, err)
	}
	return nil
}
