package staffapi

import (
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// Version is the staff protocol's version. It is the first element of
// every call's path (/v1/requests/list), and the server refuses any other
// with a message that names both versions. The types below are the
// protocol's own, not the store's records: a change to how the store keeps
// a record must not change what a client of this version reads. A change
// of the wire types is a new Version.
const Version = 1

// Status is a request's status.
type Status string

// The statuses of a request.
const (
	StatusQueued   Status = "queued"
	StatusClaimed  Status = "claimed"
	StatusDone     Status = "done"
	StatusRejected Status = "rejected"
)

// Outcome is what became of a message.
type Outcome string

// The outcomes of a message.
const (
	OutcomeQueued      Outcome = "queued"
	OutcomeReturned    Outcome = "returned"
	OutcomeNoForm      Outcome = "no-form"
	OutcomeIgnored     Outcome = "ignored"
	OutcomeQuarantined Outcome = "quarantined"
)

// OutboxState is where a reply is on its way out.
type OutboxState string

// The states of an outbox row.
const (
	OutboxPending   OutboxState = "pending"
	OutboxSent      OutboxState = "sent"
	OutboxFailed    OutboxState = "failed"
	OutboxCancelled OutboxState = "cancelled"
)

// MessageKey names a message on the IMAP server: mailbox, UIDVALIDITY, UID.
type MessageKey struct {
	Mailbox     string `json:"mailbox"`
	UIDValidity uint32 `json:"uidvalidity"`
	UID         uint32 `json:"uid"`
}

// String is the key as staff type it: MAILBOX/UIDVALIDITY/UID.
func (k MessageKey) String() string { return k.store().String() }

// ParseMessageKey reads the form String writes; a malformed key matches
// store.ErrInvalid.
func ParseMessageKey(s string) (MessageKey, error) {
	k, err := store.ParseMessageKey(s)
	return keyFrom(k), err
}

// Request is one user of one valid form, as staff see it.
type Request struct {
	V          int               `json:"v"` // the version of the record the request was read from
	ID         string            `json:"id"`
	Batch      string            `json:"batch"`
	Form       string            `json:"form"`
	Type       string            `json:"type"`
	Status     Status            `json:"status"`
	Fields     map[string]string `json:"fields,omitempty"`
	FormHash   string            `json:"form_hash"`
	Message    MessageKey        `json:"message"`
	MessageID  string            `json:"message_id,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	ClaimedBy  string            `json:"claimed_by,omitempty"`
	ClaimedAt  time.Time         `json:"claimed_at,omitzero"`
	Username   string            `json:"username,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	ClosedAt   time.Time         `json:"closed_at,omitzero"`
	History    []Transition      `json:"history"`
	Purged     bool              `json:"purged,omitempty"`
	PurgedAt   time.Time         `json:"purged_at,omitzero"`
}

// Transition is one step of a request's history.
type Transition struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	From  Status    `json:"from,omitempty"`
	To    Status    `json:"to"`
	Note  string    `json:"note,omitempty"`
}

// RequestPage is one page of a listing, newest first; Next is the cursor
// of the following page, empty on the last.
type RequestPage struct {
	Requests []Request `json:"requests"`
	Next     string    `json:"next,omitempty"`
}

// RequestDetail is a request with the message it came from (nil when the
// record is gone) and the replies sent about it, without bodies.
type RequestDetail struct {
	Request Request     `json:"request"`
	Message *Message    `json:"message,omitempty"`
	Replies []OutboxRow `json:"replies"`
}

// Message is the record of one matching message and its outcome.
type Message struct {
	V           int          `json:"v"`
	Key         MessageKey   `json:"key"`
	MessageID   string       `json:"message_id,omitempty"`
	From        string       `json:"from,omitempty"`
	Subject     string       `json:"subject,omitempty"`
	ReceivedAt  time.Time    `json:"received_at"`
	Size        int64        `json:"size"`
	Outcome     Outcome      `json:"outcome"`
	Reason      string       `json:"reason,omitempty"`
	FormHashes  []string     `json:"form_hashes,omitempty"`
	RecordedAt  time.Time    `json:"recorded_at"`
	Settled     bool         `json:"settled"`
	SettledAt   time.Time    `json:"settled_at,omitzero"`
	Forms       []FormResult `json:"forms,omitempty"`
	DuplicateOf *MessageKey  `json:"duplicate_of,omitempty"`
	// Problems say, per form of a returned message, what was missing or
	// wrong (labels and reasons, never a value).
	Problems []FormProblems `json:"problems,omitempty"`
	Purged   bool           `json:"purged,omitempty"`
	// Verdict is the sender verdict's summary (result words only); added
	// within version 1: empty and left out for records without one.
	Verdict string `json:"verdict,omitempty"`
}

// FormProblems are the problems of one form of a message, in form order.
type FormProblems struct {
	Hash     string    `json:"hash"`
	Form     string    `json:"form"`
	Problems []Problem `json:"problems"`
}

// Problem is one field (or group of fields) that was missing or wrong.
type Problem struct {
	Field  string `json:"field"`
	Label  string `json:"label"`
	Reason string `json:"reason"`
}

// FormResult tells what one form (by its SHA-256) became.
type FormResult struct {
	Hash      string   `json:"hash"`
	Requests  []string `json:"requests"`
	Duplicate bool     `json:"duplicate,omitempty"`
}

// MessageDetail is a message's record with its later history and the
// pending request to decide it again, if any.
type MessageDetail struct {
	Message Message        `json:"message"`
	History []MessageEvent `json:"history"`
	Pending *ReprocessMark `json:"pending,omitempty"`
}

// MessageEvent is one step of a message's history after its decision.
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
	V         int        `json:"v"`
	Key       MessageKey `json:"key"`
	MessageID string     `json:"message_id"`
	Actor     string     `json:"actor"`
	At        time.Time  `json:"at"`
	Note      string     `json:"note,omitempty"`
	Outcome   Outcome    `json:"outcome"`
	Notify    bool       `json:"notify,omitempty"`
}

// RegisterEntry is one row of the customer and prescriber register.
type RegisterEntry struct {
	V               int       `json:"v"`
	Kundnummer      string    `json:"kundnummer"`
	Standardkund    string    `json:"standardkund"`
	Person          string    `json:"person"`
	HSAID           string    `json:"hsa_id,omitempty"`
	Fornamn         string    `json:"fornamn"`
	Efternamn       string    `json:"efternamn"`
	TidigareNamn    string    `json:"tidigare_namn,omitempty"`
	Yrke            string    `json:"yrke,omitempty"`
	Epost           string    `json:"epost"`
	Telefon         string    `json:"telefon,omitempty"`
	Verksamhet      string    `json:"verksamhet,omitempty"`
	Enhet           string    `json:"enhet,omitempty"`
	Buffertforrad   string    `json:"buffertforrad,omitempty"`
	Forskrivare     bool      `json:"forskrivare"`
	Bestallare      bool      `json:"bestallare"`
	ChefNamn        string    `json:"chef_namn,omitempty"`
	ChefEpost       string    `json:"chef_epost,omitempty"`
	ChefTelefon     string    `json:"chef_telefon,omitempty"`
	GallerFran      string    `json:"galler_fran,omitempty"`
	TjanstledigFran string    `json:"tjanstledig_fran,omitempty"`
	TjanstledigTill string    `json:"tjanstledig_till,omitempty"`
	Username        string    `json:"username,omitempty"`
	Request         string    `json:"request"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// AuditEntry is one line of the audit log: who read or changed what.
type AuditEntry struct {
	V        int       `json:"v"`
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Subjects []string  `json:"subjects,omitempty"`
	Count    int       `json:"count"`
	Detail   string    `json:"detail,omitempty"`
}

// OutboxRow is one reply, without its body.
type OutboxRow struct {
	V         int         `json:"v"`
	ID        uint64      `json:"id"`
	MessageID string      `json:"message_id"`
	Kind      string      `json:"kind"`
	Request   string      `json:"request,omitempty"`
	InReplyTo string      `json:"in_reply_to,omitempty"`
	From      string      `json:"from"`
	To        []string    `json:"to"`
	Cc        []string    `json:"cc,omitempty"`
	Subject   string      `json:"subject"`
	State     OutboxState `json:"state"`
	Attempts  int         `json:"attempts"`
	LastError string      `json:"last_error,omitempty"`
	NextTry   time.Time   `json:"next_try"`
	CreatedAt time.Time   `json:"created_at"`
	SentAt    time.Time   `json:"sent_at,omitzero"`
	FailedAt  time.Time   `json:"failed_at,omitzero"`
	Purged    bool        `json:"purged,omitempty"`
}

// OutboxMessage is a reply with its complete RFC 5322 body.
type OutboxMessage struct {
	Row OutboxRow `json:"row"`
	Raw []byte    `json:"raw"`
}

// Who is the name the daemon gives the caller.
type Who struct {
	Actor string `json:"actor"`
}

// Done is the answer of a call that returns nothing else.
type Done struct {
	OK bool `json:"ok"`
}

// The arguments of the calls. Zero fields of a filter match everything.
type (
	// ListFilter selects requests.
	ListFilter struct {
		Status Status    `json:"status,omitempty"`
		Type   string    `json:"type,omitempty"`
		Since  time.Time `json:"since,omitzero"`   // created at or after
		Before string    `json:"before,omitempty"` // the Next of the previous page
		Limit  int       `json:"limit,omitempty"`  // default 50
	}
	// Search finds requests by text.
	Search struct {
		Text  string `json:"text"`
		Limit int    `json:"limit,omitempty"`
	}
	// RequestID names a request.
	RequestID struct {
		ID string `json:"id"`
	}
	// ClaimArgs takes a request, from someone else when Force.
	ClaimArgs struct {
		ID    string `json:"id"`
		Force bool   `json:"force,omitempty"`
	}
	// CompleteArgs closes a request as done under a webSesam user name.
	CompleteArgs struct {
		ID       string `json:"id"`
		Username string `json:"username,omitempty"`
		Note     string `json:"note,omitempty"`
	}
	// RejectArgs closes a request as rejected with the reason the user and
	// the manager are told.
	RejectArgs struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	// MessageFilter selects messages.
	MessageFilter struct {
		Outcome Outcome `json:"outcome,omitempty"`
		Mailbox string  `json:"mailbox,omitempty"`
		Limit   int     `json:"limit,omitempty"` // default 50
	}
	// ReprocessArgs asks for a message to be decided again. Without Notify
	// a decision that comes out as before sends no second, identical
	// notice; a changed outcome notifies as usual.
	ReprocessArgs struct {
		Key    MessageKey `json:"key"`
		Note   string     `json:"note,omitempty"`
		Notify bool       `json:"notify,omitempty"`
	}
	// RegisterFilter selects register rows.
	RegisterFilter struct {
		Kundnummer string `json:"kundnummer,omitempty"`
		Person     string `json:"person,omitempty"` // an HSA-id or an e-mail address
	}
	// AuditFilter selects audit entries.
	AuditFilter struct {
		Actor   string    `json:"actor,omitempty"`
		Subject string    `json:"subject,omitempty"`
		Since   time.Time `json:"since,omitzero"`
		Before  uint64    `json:"before,omitempty"`
		Limit   int       `json:"limit,omitempty"` // default 100
	}
	// OutboxFilter selects outbox rows.
	OutboxFilter struct {
		State  OutboxState `json:"state,omitempty"`
		Before uint64      `json:"before,omitempty"`
		Limit  int         `json:"limit,omitempty"` // default 50
	}
	// OutboxID names an outbox row.
	OutboxID struct {
		ID uint64 `json:"id"`
	}
)

// FormFile is the original form file a request came from.
type FormFile struct {
	Name string `json:"name"`
	Data []byte `json:"data"` // base64 in JSON
}

// StatusReport is what `status` shows: the daemon's figures when a daemon
// answers (Samples, its Prometheus series by name, e.g.
// `websesam_intake_messages_total{outcome="queued"}`), and the store's
// depths, which are there either way.
type StatusReport struct {
	Daemon        bool               `json:"daemon"`
	Samples       map[string]float64 `json:"samples,omitempty"`
	Requests      map[Status]int     `json:"requests"`
	OutboxPending int                `json:"outbox_pending"`
	Unsettled     int                `json:"unsettled"`
}
