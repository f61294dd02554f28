package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Status is where a request stands in its life (docs/outcomes.md, "A request's life").
type Status string

// The statuses.
const (
	StatusQueued   Status = "queued"
	StatusClaimed  Status = "claimed"
	StatusDone     Status = "done"
	StatusRejected Status = "rejected"
)

// Request is one user of one valid form.
type Request struct {
	V      int    `json:"v"`
	ID     string `json:"id"`    // WS-YYYY-NNNNNN: year of creation and that year's sequence
	Batch  string `json:"batch"` // the id of the first request of the same form
	Form   string `json:"form"`
	Type   string `json:"type"` // ny, andring, avslut
	Status Status `json:"status"`
	// Fields are this user's checked form fields; emptied by retention.
	Fields     map[string]string `json:"fields,omitempty"`
	FormHash   string            `json:"form_hash"`
	Message    MessageKey        `json:"message"`
	MessageID  string            `json:"message_id,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	ClaimedBy  string            `json:"claimed_by,omitempty"`
	ClaimedAt  time.Time         `json:"claimed_at,omitzero"`
	Username   string            `json:"username,omitempty"` // webSesam user name, when done
	Reason     string            `json:"reason,omitempty"`   // when rejected
	ClosedAt   time.Time         `json:"closed_at,omitzero"` // when done or rejected
	History    []Transition      `json:"history"`
	Purged     bool              `json:"purged,omitempty"`
	PurgedAt   time.Time         `json:"purged_at,omitzero"`
}

// Transition is one step of a request's history.
type Transition struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	From  Status    `json:"from,omitempty"` // empty for the creation
	To    Status    `json:"to"`
	Note  string    `json:"note,omitempty"`
}

// TransitionError refuses a transition the request's state does not allow;
// nothing was changed. It matches ErrConflict.
type TransitionError struct {
	ID        string
	From      Status // the status found
	To        Status // the status asked for
	ClaimedBy string // who holds the claim, when that is the obstacle
}

func (e *TransitionError) Error() string {
	switch {
	case e.From == StatusClaimed && e.To == StatusClaimed:
		return fmt.Sprintf("request %s is claimed by %s; use --force to take it over", e.ID, e.ClaimedBy)
	case e.From == StatusClaimed && e.ClaimedBy != "":
		return fmt.Sprintf("request %s is claimed by %s; it cannot be %s by anyone else", e.ID, e.ClaimedBy, verb(e.To))
	case e.From == StatusQueued && (e.To == StatusDone || e.To == StatusRejected):
		return fmt.Sprintf("request %s is queued; claim it before it can be %s", e.ID, verb(e.To))
	}
	return fmt.Sprintf("request %s is %s; it cannot be %s", e.ID, e.From, verb(e.To))
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *TransitionError) Is(target error) bool { return target == ErrConflict }

func verb(to Status) string {
	switch to {
	case StatusQueued:
		return "released"
	case StatusDone:
		return "completed"
	}
	return string(to)
}

// nextRequestID takes the next id of now's year, in local time (staff
// expect a request of New Year's morning in Sweden to carry the new year).
// Six digits keep ids short and sortable; a year with a million requests is
// refused rather than breaking the order.
func nextRequestID(tx *bolt.Tx, now time.Time) (string, error) {
	b := tx.Bucket(bucketReqSeq)
	year := []byte(fmt.Sprintf("%04d", now.Local().Year()))
	var seq uint64 = 1
	if v := b.Get(year); len(v) == 8 {
		seq = be64(v) + 1
	}
	if seq > 999999 {
		return "", fmt.Errorf("assign request id: the sequence of %s is exhausted", year)
	}
	if err := b.Put(year, u64(seq)); err != nil {
		return "", fmt.Errorf("assign request id: %w", err)
	}
	return fmt.Sprintf("WS-%s-%06d", year, seq), nil
}

func copyFields(f map[string]string) map[string]string {
	if f == nil {
		return nil
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		out[k] = v
	}
	return out
}

func getRequest(tx *bolt.Tx, id string) (Request, error) {
	return getRecord[Request](tx.Bucket(bucketRequests), []byte(id), "request "+id)
}

// putRequest writes r and keeps the status and search indexes in step with
// old (nil for a new request).
func putRequest(tx *bolt.Tx, r Request, old *Request) error {
	v, err := encode(r)
	if err != nil {
		return err
	}
	id := []byte(r.ID)
	if err := appendOnly(tx, bucketRequests).Put(id, v); err != nil {
		return fmt.Errorf("write request %s: %w", r.ID, err)
	}
	st := tx.Bucket(bucketReqStatus)
	if old != nil && old.Status != r.Status {
		if err := st.Delete(join([]byte(old.Status), id)); err != nil {
			return fmt.Errorf("unindex request %s: %w", r.ID, err)
		}
	}
	if err := st.Put(join([]byte(r.Status), id), nil); err != nil {
		return fmt.Errorf("index request %s: %w", r.ID, err)
	}
	search := tx.Bucket(bucketReqSearch)
	newTerms := searchTerms(r.Fields)
	if r.Purged {
		// A purged request keeps its organisation's fields for the report,
		// but nobody finds it by searching any more.
		newTerms = nil
	}
	if old != nil {
		for _, t := range searchTerms(old.Fields) {
			if !slices.Contains(newTerms, t) {
				if err := search.Delete(join(keyText(t), id)); err != nil {
					return fmt.Errorf("unindex request %s: %w", r.ID, err)
				}
			}
		}
	}
	for _, t := range newTerms {
		if err := search.Put(join(keyText(t), id), nil); err != nil {
			return fmt.Errorf("index request %s: %w", r.ID, err)
		}
	}
	return nil
}

// transition loads a request, lets step change it (or refuse), writes it
// with its history and indexes, then lets after write what goes with the
// step (register, outbox) — all in one transaction with its audit entry.
func (s *Store) transition(id, actor, action string, step func(r *Request, now time.Time) (note string, err error), after func(tx *bolt.Tx, r Request, now time.Time) error) (Request, error) {
	if err := checkActor(actor); err != nil {
		return Request{}, err
	}
	var out Request
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now().UTC()
		old, err := getRequest(tx, id)
		if err != nil {
			return err
		}
		r := old
		r.History = slices.Clone(old.History)
		note, err := step(&r, now)
		if err != nil {
			return err
		}
		r.UpdatedAt = now
		r.History = append(r.History, Transition{At: now, Actor: actor, From: old.Status, To: r.Status, Note: note})
		if err := putRequest(tx, r, &old); err != nil {
			return err
		}
		if after != nil {
			if err := after(tx, r, now); err != nil {
				return err
			}
		}
		out = r
		return s.appendAudit(tx, actor, action, []string{id}, 0, "")
	})
	return out, err
}

// Claim takes a queued request for actor. A request claimed by someone else
// is taken over only with force (the history says from whom); done and
// rejected requests cannot be claimed.
func (s *Store) Claim(id, actor string, force bool) (Request, error) {
	r, err := s.transition(id, actor, AuditClaim, func(r *Request, now time.Time) (string, error) {
		note := ""
		switch r.Status {
		case StatusQueued:
		case StatusClaimed:
			if !force {
				return "", &TransitionError{ID: id, From: r.Status, To: StatusClaimed, ClaimedBy: r.ClaimedBy}
			}
			note = "taken over from " + r.ClaimedBy
		default:
			return "", &TransitionError{ID: id, From: r.Status, To: StatusClaimed}
		}
		r.Status, r.ClaimedBy, r.ClaimedAt = StatusClaimed, actor, now
		return note, nil
	}, nil)
	if err != nil {
		return Request{}, fmt.Errorf("claim request %s: %w", id, err)
	}
	return r, nil
}

// Release puts a request claimed by actor back in the queue.
func (s *Store) Release(id, actor string) (Request, error) {
	r, err := s.transition(id, actor, AuditRelease, func(r *Request, now time.Time) (string, error) {
		if err := claimedBy(r, actor, StatusQueued); err != nil {
			return "", err
		}
		r.Status, r.ClaimedBy, r.ClaimedAt = StatusQueued, "", time.Time{}
		return "", nil
	}, nil)
	if err != nil {
		return Request{}, fmt.Errorf("release request %s: %w", id, err)
	}
	return r, nil
}

func claimedBy(r *Request, actor string, to Status) error {
	if r.Status != StatusClaimed {
		return &TransitionError{ID: r.ID, From: r.Status, To: to}
	}
	if r.ClaimedBy != actor {
		return &TransitionError{ID: r.ID, From: r.Status, To: to, ClaimedBy: r.ClaimedBy}
	}
	return nil
}

// Complete records that actor created or changed the account in webSesam:
// the request becomes done with the user name, the register is updated, and
// the rows compose returns (user and manager notices) are queued — in one
// transaction. The request must be claimed by actor.
func (s *Store) Complete(id, actor, username, note string, compose func(Request) ([]OutboxRow, error)) (Request, error) {
	username = strings.TrimSpace(username)
	r, err := s.transition(id, actor, AuditComplete, func(r *Request, now time.Time) (string, error) {
		if err := claimedBy(r, actor, StatusDone); err != nil {
			return "", err
		}
		if username == "" && r.Type != TypeAvslut {
			return "", fmt.Errorf("complete: the webSesam user name is empty: %w", ErrInvalid)
		}
		r.Status, r.Username, r.ClosedAt = StatusDone, username, now
		return note, nil
	}, func(tx *bolt.Tx, r Request, now time.Time) error {
		if err := applyRegister(txRows{tx}, r, now); err != nil {
			return err
		}
		return s.composeFor(tx, r, now, compose)
	})
	if err != nil {
		return Request{}, fmt.Errorf("complete request %s: %w", id, err)
	}
	return r, nil
}

// Reject closes a request claimed by actor with a reason, queuing the rows
// compose returns (the notice to the manager) in the same transaction.
func (s *Store) Reject(id, actor, reason string, compose func(Request) ([]OutboxRow, error)) (Request, error) {
	reason = strings.TrimSpace(reason)
	r, err := s.transition(id, actor, AuditReject, func(r *Request, now time.Time) (string, error) {
		if err := claimedBy(r, actor, StatusRejected); err != nil {
			return "", err
		}
		if reason == "" {
			return "", fmt.Errorf("reject: the reason is empty: %w", ErrInvalid)
		}
		r.Status, r.Reason, r.ClosedAt = StatusRejected, reason, now
		return "", nil
	}, func(tx *bolt.Tx, r Request, now time.Time) error {
		return s.composeFor(tx, r, now, compose)
	})
	if err != nil {
		return Request{}, fmt.Errorf("reject request %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) composeFor(tx *bolt.Tx, r Request, now time.Time, compose func(Request) ([]OutboxRow, error)) error {
	if compose == nil {
		return nil
	}
	rows, err := compose(r)
	if err != nil {
		return fmt.Errorf("compose notices: %w", err)
	}
	for i := range rows {
		if rows[i].Request == "" {
			rows[i].Request = r.ID
		}
	}
	_, err = s.insertOutbox(tx, now, rows)
	return err
}

// ShowRequest returns one request with its fields and history (audited).
func (s *Store) ShowRequest(actor, id string) (Request, error) {
	return audited(s, actor, "show request "+id, func(tx *bolt.Tx) (Request, auditNote, error) {
		r, err := getRequest(tx, id)
		return r, auditNote{action: AuditShowRequest, subjects: []string{id}, count: 1}, err
	})
}

// RequestOutbox returns the outbox rows a request caused, oldest first,
// without bodies (audited: they name recipients).
func (s *Store) RequestOutbox(actor, id string) ([]OutboxRow, error) {
	return audited(s, actor, "list outbox of request "+id, func(tx *bolt.Tx) ([]OutboxRow, auditNote, error) {
		out, err := outboxOfRequest(tx, id)
		return out, auditNote{action: AuditOutboxList, subjects: []string{id}, count: len(out), detail: "request"}, err
	})
}

func outboxOfRequest(tx *bolt.Tx, id string) ([]OutboxRow, error) {
	var out []OutboxRow
	err := eachFiledUnder(tx.Bucket(bucketOutboxReq), id, func(rowID, _ []byte) error {
		r, err := getOutbox(tx, be64(rowID), false)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// ListFilter selects requests. Zero fields match everything.
type ListFilter struct {
	Status Status
	Type   string
	Since  time.Time // only requests created at or after
	Before string    // cursor: only requests with a smaller id (the Next of the previous page)
	Limit  int       // default 50
}

// RequestPage is one page of a listing, newest first.
type RequestPage struct {
	Requests []Request
	// Next is the cursor for the following page; empty when this was the last.
	Next string
}

// ListRequests returns a page of requests, newest first. Ids sort in
// creation order, so the page is read backwards from the primary bucket (or
// the status index) and costs the same with 100 or 100,000 requests. The
// requests carry names: audited.
func (s *Store) ListRequests(actor string, f ListFilter) (RequestPage, error) {
	f.Limit = pageSize(f.Limit, 50)
	return audited(s, actor, "list requests", func(tx *bolt.Tx) (RequestPage, auditNote, error) {
		var page RequestPage
		var c *bolt.Cursor
		var prefix []byte
		if f.Status != "" {
			c = tx.Bucket(bucketReqStatus).Cursor()
			prefix = join([]byte(f.Status), nil)
		} else {
			c = tx.Bucket(bucketRequests).Cursor()
		}
		// Start at the last key below the cursor, or the last key with the
		// prefix (ids are ASCII, so 0xff sorts after all of them).
		start := append(clone(prefix), 0xff)
		if f.Before != "" {
			start = append(clone(prefix), f.Before...)
		}
		k, v := seekBefore(c, start)
		var ids []string
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			var r Request
			var err error
			if prefix != nil {
				r, err = getRequest(tx, string(k[len(prefix):]))
			} else {
				err = decode(v, &r)
			}
			if err != nil {
				return RequestPage{}, auditNote{}, err
			}
			if !f.Since.IsZero() && r.CreatedAt.Before(f.Since) {
				break
			}
			if f.Type != "" && r.Type != f.Type {
				continue
			}
			if len(page.Requests) == f.Limit {
				page.Next = page.Requests[len(page.Requests)-1].ID
				break
			}
			page.Requests = append(page.Requests, r)
			ids = append(ids, r.ID)
		}
		return page, auditNote{action: AuditListRequests, subjects: ids, count: len(ids), detail: fmt.Sprintf("status=%s type=%s", f.Status, f.Type)}, nil
	})
}

// SearchRequests finds requests by name, e-mail, HSA-id or kundnummer: text
// matches the start of any of them (any letter case; "anna sv" finds Anna
// Svensson), newest first, at most limit (default 50). The search text is
// personal data itself, so the audit entry holds only the ids found.
func (s *Store) SearchRequests(actor, text string, limit int) ([]Request, error) {
	term := foldTerm(text)
	limit = pageSize(limit, 50)
	first, _, multi := strings.Cut(term, " ")
	// A first word longer than a key keeps is looked up by the part keys
	// keep, and the requests found are then checked against the whole word.
	prefix := first
	cut := !keepText(first) || len(first) > keyTextCut
	if cut {
		prefix = keyPrefix(first)
	}
	return audited(s, actor, "search requests", func(tx *bolt.Tx) ([]Request, auditNote, error) {
		// Checked here, after the actor, as every staff call checks the
		// actor first.
		if term == "" {
			return nil, auditNote{}, fmt.Errorf("empty search text: %w", ErrInvalid)
		}
		var out []Request
		var ids []string
		seen := map[string]bool{}
		if err := prefixed(tx.Bucket(bucketReqSearch), []byte(prefix), func(k, _ []byte) error {
			i := bytes.IndexByte(k, 0)
			if i < 0 {
				return nil
			}
			if id := string(k[i+1:]); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
			return nil
		}); err != nil {
			return nil, auditNote{}, err
		}
		slices.Sort(ids)
		slices.Reverse(ids)
		var found []string
		for _, id := range ids {
			if len(out) == limit {
				break
			}
			r, err := getRequest(tx, id)
			if err != nil {
				return nil, auditNote{}, err
			}
			if multi && !nameMatches(r.Fields, term) {
				continue
			}
			if cut && !slices.ContainsFunc(searchTerms(r.Fields), func(t string) bool { return strings.HasPrefix(t, first) }) {
				continue
			}
			out = append(out, r)
			found = append(found, id)
		}
		return out, auditNote{action: AuditSearchRequests, subjects: found, count: len(found)}, nil
	})
}

func be64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// seekBefore positions c on the last key smaller than key.
func seekBefore(c *bolt.Cursor, key []byte) ([]byte, []byte) {
	if k, _ := c.Seek(key); k == nil {
		return c.Last()
	}
	return c.Prev()
}
