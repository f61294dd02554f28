package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MessageKey names a message on the IMAP server: a UID means something only
// together with the mailbox and its UIDVALIDITY.
type MessageKey struct {
	Mailbox     string `json:"mailbox"`
	UIDValidity uint32 `json:"uidvalidity"`
	UID         uint32 `json:"uid"`
}

// String is the key as staff type it: MAILBOX/UIDVALIDITY/UID.
func (k MessageKey) String() string {
	return fmt.Sprintf("%s/%d/%d", k.Mailbox, k.UIDValidity, k.UID)
}

// ParseMessageKey reads the form String writes. The mailbox may itself
// contain slashes; the last two parts are the numbers.
func ParseMessageKey(s string) (MessageKey, error) {
	j := strings.LastIndexByte(s, '/')
	if j <= 0 {
		return MessageKey{}, fmt.Errorf("parse message key %q: want MAILBOX/UIDVALIDITY/UID: %w", s, ErrInvalid)
	}
	i := strings.LastIndexByte(s[:j], '/')
	if i <= 0 {
		return MessageKey{}, fmt.Errorf("parse message key %q: want MAILBOX/UIDVALIDITY/UID: %w", s, ErrInvalid)
	}
	uv, err1 := strconv.ParseUint(s[i+1:j], 10, 32)
	uid, err2 := strconv.ParseUint(s[j+1:], 10, 32)
	if err1 != nil || err2 != nil {
		return MessageKey{}, fmt.Errorf("parse message key %q: UIDVALIDITY and UID must be numbers: %w", s, ErrInvalid)
	}
	k := MessageKey{Mailbox: s[:i], UIDValidity: uint32(uv), UID: uint32(uid)}
	return k, k.check()
}

// maxMailboxName bounds a mailbox name in a key (IMAP servers allow far
// less in practice).
const maxMailboxName = 1024

func (k MessageKey) check() error {
	if k.Mailbox == "" || strings.IndexByte(k.Mailbox, 0) >= 0 || k.UIDValidity == 0 || k.UID == 0 {
		return fmt.Errorf("check message key %q: want a mailbox name and non-zero UIDVALIDITY and UID: %w", k.String(), ErrInvalid)
	}
	// The mailbox name is a key part as written (listings walk it by
	// prefix); it comes from the configuration, but a key bbolt refuses
	// must be refused here, not in the middle of a transaction.
	if len(k.Mailbox) > maxMailboxName {
		return fmt.Errorf("check message key: the mailbox name is %d bytes, at most %d are allowed: %w", len(k.Mailbox), maxMailboxName, ErrInvalid)
	}
	return nil
}

// bytes encodes the key so that a cursor walks one mailbox, then one
// UIDVALIDITY, in UID order.
func (k MessageKey) bytes() []byte {
	b := make([]byte, 0, len(k.Mailbox)+9)
	b = append(b, k.Mailbox...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, k.UIDValidity)
	return binary.BigEndian.AppendUint32(b, k.UID)
}

func messageKeyFrom(b []byte) (MessageKey, error) {
	if len(b) < 10 || b[len(b)-9] != 0 {
		return MessageKey{}, fmt.Errorf("decode message key %x: malformed", b)
	}
	n := len(b) - 9
	return MessageKey{
		Mailbox:     string(b[:n]),
		UIDValidity: binary.BigEndian.Uint32(b[n+1 : n+5]),
		UID:         binary.BigEndian.Uint32(b[n+5:]),
	}, nil
}

// Outcome is what happened to a message (docs/outcomes.md).
type Outcome string

// The outcomes.
const (
	OutcomeQueued      Outcome = "queued"
	OutcomeReturned    Outcome = "returned"
	OutcomeNoForm      Outcome = "no-form"
	OutcomeIgnored     Outcome = "ignored"
	OutcomeQuarantined Outcome = "quarantined"
)

func (o Outcome) valid() bool {
	switch o {
	case OutcomeQueued, OutcomeReturned, OutcomeNoForm, OutcomeIgnored, OutcomeQuarantined:
		return true
	}
	return false
}

// Message is the record of one matching message and its outcome.
type Message struct {
	V          int        `json:"v"`
	Key        MessageKey `json:"key"`
	MessageID  string     `json:"message_id,omitempty"` // without angle brackets
	From       string     `json:"from,omitempty"`       // sender address; purged by retention
	Subject    string     `json:"subject,omitempty"`    // decoded; purged by retention
	ReceivedAt time.Time  `json:"received_at"`          // INTERNALDATE
	Size       int64      `json:"size"`
	Outcome    Outcome    `json:"outcome"`
	Reason     string     `json:"reason,omitempty"` // why returned / no-form / ignored / quarantined; no field values
	FormHashes []string   `json:"form_hashes,omitempty"`
	RecordedAt time.Time  `json:"recorded_at"`
	Settled    bool       `json:"settled"` // moved on the server
	SettledAt  time.Time  `json:"settled_at,omitzero"`
	// Forms says, per distinct form of a queued message, which requests it
	// created or matched.
	Forms []FormResult `json:"forms,omitempty"`
	// DuplicateOf is set when this message carried a Message-ID already
	// recorded under another key (a UIDVALIDITY change, a copy): nothing was
	// done for it but remember it, so it is settled and never processed.
	DuplicateOf *MessageKey `json:"duplicate_of,omitempty"`
	// Problems say, per form of a returned message, what was missing or
	// wrong, as the return notice listed it: staff see why a form came back
	// and the report counts the fields. Labels and fixed reason texts only,
	// never a value from the form.
	Problems []FormProblems `json:"problems,omitempty"`
	Purged   bool           `json:"purged,omitempty"`

	// Verdict summarises the sender verdict (SPF, DKIM, DMARC) the
	// region's boundary wrote into the message, as the daemon read it;
	// empty when verdicts are not read. Result words only, no addresses.
	Verdict string `json:"verdict,omitempty"`
}

// FormProblems are the problems of one form of a message, in form order.
type FormProblems struct {
	Hash string `json:"hash"` // the form's SHA-256, as in FormHashes
	Form string `json:"form"` // form id, e.g. websesam-behorighet
	// Verksamhet and Kundnummer name the ordering organisation (never a
	// person), so the report can count returns by them.
	Verksamhet string    `json:"verksamhet,omitempty"`
	Kundnummer string    `json:"kundnummer,omitempty"`
	Problems   []Problem `json:"problems"` // empty for a complete form of the message
}

// Problem is one field (or group of fields) that was missing or wrong.
type Problem struct {
	Field  string `json:"field"`
	Label  string `json:"label"`
	Reason string `json:"reason"`
}

// FormResult tells what one form (by its SHA-256) became.
type FormResult struct {
	Hash string `json:"hash"`
	// Requests are the ids created for this form, or, when Duplicate, the
	// ids of the earlier requests (queued, claimed or done) it matched.
	Requests  []string `json:"requests"`
	Duplicate bool     `json:"duplicate,omitempty"`
}

// NewRequest is one user of one valid form, as the daemon hands it to
// RecordOutcome.
type NewRequest struct {
	FormHash string            // hex SHA-256 of the attachment; the users of one form share it
	Form     string            // form id, e.g. websesam-behorighet
	Type     string            // arende: ny, andring or avslut
	Fields   map[string]string // this user's checked fields, as formparse produces them
	// File is the original form file; kept once per form (the first
	// request of the form that carries it), for staff to save.
	File *FormFile
}

// Recorded is what RecordOutcome wrote, or found.
type Recorded struct {
	// Existing is set when the message (by key or by Message-ID) was already
	// recorded: nothing new was created, and Message is the earlier record.
	Existing bool
	Message  Message
	// Requests are the requests created by this call, in order.
	Requests []Request
	// Forms mirrors Message.Forms: per form, new or matched request ids.
	Forms []FormResult
	// Outbox holds the rows written (with their ids).
	Outbox []OutboxRow
}

// Request types (the form's arende).
const (
	TypeNy      = "ny"
	TypeAndring = "andring"
	TypeAvslut  = "avslut"
)

func normMessageID(id string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">"))
}

// OutcomeItem is one decided message for RecordOutcomes: its record, the
// requests of its valid forms and the function composing its replies, as
// RecordOutcome takes them.
type OutcomeItem struct {
	Msg     Message
	Reqs    []NewRequest
	Compose func(rec Recorded) ([]OutboxRow, error)
	// Bounces are addresses the message reports as bouncing for good (a
	// delivery report): remembered in the same transaction as the record,
	// so a message is never recorded without them nor they without it.
	Bounces []string
}

// ItemError says which item of a RecordOutcomes batch was refused (it is
// invalid, its compose failed, or the database refused one of its writes);
// nothing of the batch was written. The
// caller can set that item right, or leave it out, and record the others
// again. It unwraps to the item's error (ErrInvalid for a bad item).
type ItemError struct {
	Index int   // into the items given
	Err   error // as RecordOutcome would have returned it
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index+1, e.Err) }

func (e *ItemError) Unwrap() error { return e.Err }

// RecordOutcome writes, in one transaction, a message's record, the
// requests of its valid forms and the outbox rows that answer it. compose
// runs inside the transaction with the assigned request ids (a receipt must
// list them); if it fails nothing is written. A message already recorded
// (same key, or same Message-ID under another key) is not processed again:
// the call returns Existing with what was found and compose is not called.
// A form whose hash already produced a queued, claimed or done request
// creates no new request; its FormResult is Duplicate with the matched ids.
func (s *Store) RecordOutcome(msg Message, reqs []NewRequest, compose func(rec Recorded) ([]OutboxRow, error)) (Recorded, error) {
	recs, err := s.RecordOutcomes([]OutcomeItem{{Msg: msg, Reqs: reqs, Compose: compose}})
	if ie, ok := errors.AsType[*ItemError](err); ok {
		return Recorded{}, ie.Err
	}
	if err != nil {
		return Recorded{}, err
	}
	return recs[0], nil
}

// RecordOutcomes records a chunk of decided messages in ONE transaction
// (one fsync instead of one per message: what lets a backlog drain at the
// IMAP server's pace), each item exactly as RecordOutcome would, in order:
// an item sees what the items before it wrote, so two messages of one batch
// with the same key, Message-ID or form give one record or request and the
// later one is Existing or Duplicate. The result has one Recorded per item.
// An invalid item or a failing compose writes nothing and returns an
// *ItemError naming the item; any other error is the store's.
func (s *Store) RecordOutcomes(items []OutcomeItem) ([]Recorded, error) {
	for i, it := range items {
		if err := checkOutcome(it.Msg, it.Reqs); err != nil {
			return nil, &ItemError{Index: i, Err: err}
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	var recs []Recorded
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs = make([]Recorded, len(items))
		now := s.now().UTC()
		for i, it := range items {
			rec, err := s.recordOne(tx, now, it.Msg, it.Reqs)
			if err != nil {
				return &ItemError{Index: i, Err: fmt.Errorf("record message %s: %w", it.Msg.Key, err)}
			}
			for _, addr := range it.Bounces {
				if err := putBounce(tx, addr, now); err != nil {
					return &ItemError{Index: i, Err: fmt.Errorf("record message %s: %w", it.Msg.Key, err)}
				}
			}
			if !rec.Existing && it.Compose != nil {
				rows, err := it.Compose(rec)
				if err != nil {
					return &ItemError{Index: i, Err: fmt.Errorf("record message %s: compose replies: %w", it.Msg.Key, err)}
				}
				if rec.Outbox, err = s.insertOutbox(tx, now, rows); err != nil {
					return &ItemError{Index: i, Err: fmt.Errorf("record message %s: %w", it.Msg.Key, err)}
				}
			}
			recs[i] = rec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// checkOutcome refuses what the store would never take, before any write.
func checkOutcome(msg Message, reqs []NewRequest) error {
	if err := msg.Key.check(); err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	if !msg.Outcome.valid() {
		return fmt.Errorf("record message %s: unknown outcome %q: %w", msg.Key, msg.Outcome, ErrInvalid)
	}
	if len(reqs) > 0 && msg.Outcome != OutcomeQueued {
		return fmt.Errorf("record message %s: %d requests with outcome %s: %w", msg.Key, len(reqs), msg.Outcome, ErrInvalid)
	}
	for i, r := range reqs {
		if r.FormHash == "" || strings.IndexByte(r.FormHash, 0) >= 0 {
			return fmt.Errorf("record message %s: request %d has no form hash: %w", msg.Key, i+1, ErrInvalid)
		}
		if r.Type != TypeNy && r.Type != TypeAndring && r.Type != TypeAvslut {
			return fmt.Errorf("record message %s: request %d has unknown type %q: %w", msg.Key, i+1, r.Type, ErrInvalid)
		}
	}
	return nil
}

// recordOne writes one message's record and requests inside tx (not its
// replies): the body of RecordOutcome.
func (s *Store) recordOne(tx *bolt.Tx, now time.Time, msg Message, reqs []NewRequest) (Recorded, error) {
	var rec Recorded
	msgs := tx.Bucket(bucketMessages)
	key := msg.Key.bytes()
	if v := msgs.Get(key); v != nil {
		return rec, s.foundMessage(&rec, v)
	}
	msg.MessageID = normMessageID(msg.MessageID)
	if msg.MessageID != "" {
		if k := msgIDLookup(tx, msg.MessageID); k != nil {
			if err := s.foundMessage(&rec, msgs.Get(k)); err != nil {
				return rec, err
			}
			// Remember the new key as a settled-to-be duplicate so the
			// daemon moves it and never looks at it again.
			first := rec.Message.Key
			alias := Message{
				V: recordVersion, Key: msg.Key, MessageID: msg.MessageID, ReceivedAt: msg.ReceivedAt.UTC(),
				Size: msg.Size, Outcome: rec.Message.Outcome, Reason: "same Message-ID as " + first.String(),
				RecordedAt: now, DuplicateOf: &first,
			}
			return rec, s.putNewMessage(tx, alias, false)
		}
	}

	msg.V = recordVersion
	msg.RecordedAt = now
	msg.ReceivedAt = msg.ReceivedAt.UTC()
	msg.Settled, msg.SettledAt, msg.Purged, msg.DuplicateOf = false, time.Time{}, false, nil
	msg.Forms = nil

	forms, created, err := createRequests(tx, now, &msg, reqs, "")
	if err != nil {
		return rec, err
	}
	msg.Forms, rec.Requests = forms, created
	if err := s.putNewMessage(tx, msg, true); err != nil {
		return rec, err
	}
	rec.Message = msg
	rec.Forms = msg.Forms
	return rec, nil
}

// ActorIntake is the actor of the daemon's own transitions.
const ActorIntake = "intake"

func (s *Store) foundMessage(rec *Recorded, v []byte) error {
	var m Message
	if err := decode(v, &m); err != nil {
		return err
	}
	rec.Existing = true
	rec.Message = m
	rec.Forms = m.Forms
	return nil
}

// putNewMessage writes a message record with its indexes: Message-ID (when
// indexMsgID), unsettled, time and the highest UID of its mailbox.
func (s *Store) putNewMessage(tx *bolt.Tx, m Message, indexMsgID bool) error {
	key := m.Key.bytes()
	if err := putMessage(tx, m); err != nil {
		return err
	}
	if indexMsgID && m.MessageID != "" {
		if err := tx.Bucket(bucketMsgID).Put(keyText(m.MessageID), key); err != nil {
			return fmt.Errorf("index Message-ID: %w", err)
		}
	}
	if err := tx.Bucket(bucketUnsettled).Put(key, nil); err != nil {
		return fmt.Errorf("index unsettled: %w", err)
	}
	return raiseUID(tx, m.Key.Mailbox, m.Key.UIDValidity, m.Key.UID)
}

// msgIDLookup returns the message key recorded under a Message-ID. The
// index key is the bounded form of the id; a file written before ids were
// bounded may hold an id of 257 bytes up to bbolt's limit as it was, which
// is looked up as a fallback.
func msgIDLookup(tx *bolt.Tx, id string) []byte {
	b := tx.Bucket(bucketMsgID)
	if k := b.Get(keyText(id)); k != nil {
		return k
	}
	if !keepText(id) && len(id) <= bolt.MaxKeySize {
		return b.Get([]byte(id))
	}
	return nil
}

func putMessage(tx *bolt.Tx, m Message) error {
	v, err := encode(m)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketMessages).Put(m.Key.bytes(), v); err != nil {
		return fmt.Errorf("write message %s: %w", m.Key, err)
	}
	return nil
}

func getMessage(tx *bolt.Tx, k MessageKey) (Message, error) {
	return getRecord[Message](tx.Bucket(bucketMessages), k.bytes(), "message "+k.String())
}

func uidKey(mailbox string, uidValidity uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(mailbox), 0), uidValidity)
}

func raiseUID(tx *bolt.Tx, mailbox string, uidValidity, uid uint32) error {
	b := tx.Bucket(bucketHighUID)
	k := uidKey(mailbox, uidValidity)
	if old := b.Get(k); len(old) == 4 && binary.BigEndian.Uint32(old) >= uid {
		return nil
	}
	if err := b.Put(k, binary.BigEndian.AppendUint32(nil, uid)); err != nil {
		return fmt.Errorf("write highest UID: %w", err)
	}
	return nil
}

// HighestUID returns the highest UID handled in mailbox under uidValidity,
// 0 when none: the watcher asks only for UIDs above it. A changed
// UIDVALIDITY thus starts from 0, and Message-IDs catch what was seen.
func (s *Store) HighestUID(mailbox string, uidValidity uint32) (uint32, error) {
	var uid uint32
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketHighUID).Get(uidKey(mailbox, uidValidity)); len(v) == 4 {
			uid = binary.BigEndian.Uint32(v)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read highest UID: %w", err)
	}
	return uid, nil
}

// AdvanceUID raises the highest UID handled past messages that needed no
// record (no keyword in the subject); it never lowers it.
func (s *Store) AdvanceUID(mailbox string, uidValidity, uid uint32) error {
	if mailbox == "" || uidValidity == 0 {
		return fmt.Errorf("advance UID: want a mailbox and a non-zero UIDVALIDITY: %w", ErrInvalid)
	}
	err := s.db.Update(func(tx *bolt.Tx) error { return raiseUID(tx, mailbox, uidValidity, uid) })
	if err != nil {
		return fmt.Errorf("advance UID: %w", err)
	}
	return nil
}

// Unsettled returns the keys of the messages of mailbox recorded but not yet
// moved on the server, in key order: after a crash between commit and move
// the daemon moves them first.
func (s *Store) Unsettled(mailbox string) ([]MessageKey, error) {
	var out []MessageKey
	err := s.db.View(func(tx *bolt.Tx) error {
		return prefixed(tx.Bucket(bucketUnsettled), append([]byte(mailbox), 0), func(k, _ []byte) error {
			mk, err := messageKeyFrom(k)
			if err != nil {
				return err
			}
			if mk.Mailbox == mailbox {
				out = append(out, mk)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list unsettled messages: %w", err)
	}
	return out, nil
}

// MarkSettled records that the messages were moved to their outcome's
// folder, all in one transaction (a chunk moved by one command is settled
// by one commit). A message already settled changes nothing; an unknown
// key fails the whole call.
func (s *Store) MarkSettled(keys ...MessageKey) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now().UTC()
		for _, key := range keys {
			m, err := getMessage(tx, key)
			if err != nil {
				return fmt.Errorf("mark message %s settled: %w", key, err)
			}
			if m.Settled {
				continue
			}
			m.Settled = true
			m.SettledAt = now
			if err := putMessage(tx, m); err != nil {
				return fmt.Errorf("mark message %s settled: %w", key, err)
			}
			if err := tx.Bucket(bucketUnsettled).Delete(key.bytes()); err != nil {
				return fmt.Errorf("mark message %s settled: %w", key, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return nil
}

// MessageByID returns the key of the message recorded with this Message-ID.
// Only the key: the daemon needs to know whether it was seen, not who sent it.
func (s *Store) MessageByID(messageID string) (MessageKey, bool, error) {
	var key MessageKey
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		k := msgIDLookup(tx, normMessageID(messageID))
		if k == nil {
			return nil
		}
		var err error
		key, err = messageKeyFrom(k)
		found = err == nil
		return err
	})
	if err != nil {
		return MessageKey{}, false, fmt.Errorf("look up Message-ID: %w", err)
	}
	return key, found, nil
}

// activeForHash returns the requests of a form that still count: queued,
// claimed or done. A rejected form sent again becomes new requests.
func activeForHash(tx *bolt.Tx, hash string) ([]string, error) {
	var ids []string
	err := eachFiledUnder(tx.Bucket(bucketFormHash), hash, func(id, _ []byte) error {
		r, err := getRequest(tx, string(id))
		if err != nil {
			return err
		}
		if r.Status != StatusRejected {
			ids = append(ids, string(id))
		}
		return nil
	})
	return ids, err
}

// ShowMessage returns one message record (sender and subject are personal
// data: audited).
func (s *Store) ShowMessage(actor string, key MessageKey) (Message, error) {
	return audited(s, actor, "show message "+key.String(), func(tx *bolt.Tx) (Message, auditNote, error) {
		m, err := getMessage(tx, key)
		return m, auditNote{action: AuditShowMessage, subjects: []string{key.String()}, count: 1}, err
	})
}

// MessageFilter selects messages for staff. Zero fields match everything.
type MessageFilter struct {
	Outcome Outcome
	Mailbox string
	Limit   int // default 50
}

// ListMessages returns message records, most recently recorded first
// (quarantined messages are seen by staff this way). Audited.
func (s *Store) ListMessages(actor string, f MessageFilter) ([]Message, error) {
	f.Limit = pageSize(f.Limit, 50)
	return audited(s, actor, "list messages", func(tx *bolt.Tx) ([]Message, auditNote, error) {
		// Messages are few (hundreds a week); a scan is cheaper than another index to keep.
		var prefix []byte
		if f.Mailbox != "" {
			prefix = append([]byte(f.Mailbox), 0)
		}
		var out []Message
		if err := eachRecordUnder(tx.Bucket(bucketMessages), prefix, func(m Message) error {
			if f.Outcome == "" || m.Outcome == f.Outcome {
				out = append(out, m)
			}
			return nil
		}); err != nil {
			return nil, auditNote{}, err
		}
		sortMessages(out)
		if len(out) > f.Limit {
			out = out[:f.Limit]
		}
		keys := make([]string, len(out))
		for i, m := range out {
			keys[i] = m.Key.String()
		}
		return out, auditNote{action: AuditListMessages, subjects: keys, count: len(out), detail: "outcome=" + string(f.Outcome)}, nil
	})
}

func sortMessages(ms []Message) {
	slices.SortFunc(ms, func(a, b Message) int {
		if c := b.RecordedAt.Compare(a.RecordedAt); c != 0 {
			return c
		}
		return bytes.Compare(b.Key.bytes(), a.Key.bytes())
	})
}

// MessageOutcome returns the recorded outcome of a message (ErrNotFound when
// it was never recorded). Not audited: it names no person, and the daemon
// needs it to settle messages left unsettled by a crash.
func (s *Store) MessageOutcome(key MessageKey) (Outcome, error) {
	var o Outcome
	err := s.db.View(func(tx *bolt.Tx) error {
		m, err := getMessage(tx, key)
		o = m.Outcome
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read outcome of %s: %w", key, err)
	}
	return o, nil
}
