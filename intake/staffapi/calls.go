package staffapi

import (
	"context"
	"encoding/json"
	"fmt"
)

// Call is one staff call: its name on the wire, the types of its argument
// and result, and what it does against the store. Every call is declared
// once, in the table below; the client, the server's routes and the local
// path (no daemon running) are all made from that one declaration.
type Call[Args, Result any] struct {
	name string
	run  func(l *Local, args Args) (Result, error)
}

// Name is the call's name on the wire (its path after /v1/).
func (c Call[Args, Result]) Name() string { return c.name }

// Do makes the call through s: over the daemon's socket when s is a
// *Client, against the store when it is a *Local. Either way the errors
// match the store's sentinels (store.ErrNotFound, ErrConflict, ErrInvalid)
// and ErrNoComposer.
func (c Call[Args, Result]) Do(ctx context.Context, s Staff, args Args) (Result, error) {
	var res Result
	switch s := s.(type) {
	case *Local:
		return c.run(s, args)
	case *Client:
		err := s.do(ctx, c.name, args, &res)
		return res, err
	}
	return res, fmt.Errorf("call %s: %T is no way to the daemon or the store", c.name, s)
}

// route is a call as the server sees it: a name and a body to decode.
type route struct {
	name  string
	serve func(l *Local, body *json.Decoder) (any, error)
}

// routes are filled by newCall as the table below is initialised, so a
// call declared there is served without being named a second time.
var routes []route

func newCall[Args, Result any](name string, run func(*Local, Args) (Result, error)) Call[Args, Result] {
	routes = append(routes, route{name: name, serve: func(l *Local, body *json.Decoder) (any, error) {
		var args Args
		if err := body.Decode(&args); err != nil {
			return nil, badCallError{err}
		}
		return run(l, args)
	}})
	return Call[Args, Result]{name: name, run: run}
}

// Nothing is the argument of a call that takes none.
type Nothing struct{}

// The staff calls. Reads of personal data are written to the audit log
// under the caller's name by the store, in the same transaction.
var (
	// WhoAmI is the name the audit log and the history will carry.
	WhoAmI = newCall("whoami", func(l *Local, _ Nothing) (Who, error) {
		return Who{Actor: l.Actor}, nil
	})
	// ListRequests lists a page of requests, newest first.
	ListRequests = newCall("requests/list", func(l *Local, f ListFilter) (RequestPage, error) {
		p, err := l.Store.ListRequests(l.Actor, f.store())
		return RequestPage{Requests: requestsFrom(p.Requests), Next: p.Next}, err
	})
	// ShowRequest returns a request with its message and replies.
	ShowRequest = newCall("requests/show", func(l *Local, a RequestID) (RequestDetail, error) {
		d, err := l.Store.ShowRequestDetail(l.Actor, a.ID)
		return requestDetailFrom(d), err
	})
	// SearchRequests finds requests by name, e-mail, HSA-id or kundnummer.
	SearchRequests = newCall("requests/search", func(l *Local, a Search) ([]Request, error) {
		rs, err := l.Store.SearchRequests(l.Actor, a.Text, a.Limit)
		return requestsFrom(rs), err
	})
	// Claim takes a request (from someone else only with Force).
	Claim = newCall("requests/claim", func(l *Local, a ClaimArgs) (Request, error) {
		r, err := l.Store.Claim(a.ID, l.Actor, a.Force)
		return requestFrom(r), err
	})
	// Release gives a claimed request back to the queue.
	Release = newCall("requests/release", func(l *Local, a RequestID) (Request, error) {
		r, err := l.Store.Release(a.ID, l.Actor)
		return requestFrom(r), err
	})
	// Complete closes a request as done and writes its notices.
	Complete = newCall("requests/done", func(l *Local, a CompleteArgs) (Request, error) {
		if l.Composer == nil {
			return Request{}, fmt.Errorf("complete request %s: %w", a.ID, ErrNoComposer)
		}
		r, err := l.Store.Complete(a.ID, l.Actor, a.Username, a.Note, l.Composer.Completed)
		return requestFrom(r), err
	})
	// Reject closes a request as rejected and writes its notice.
	Reject = newCall("requests/reject", func(l *Local, a RejectArgs) (Request, error) {
		if l.Composer == nil {
			return Request{}, fmt.Errorf("reject request %s: %w", a.ID, ErrNoComposer)
		}
		r, err := l.Store.Reject(a.ID, l.Actor, a.Reason, l.Composer.Rejected)
		return requestFrom(r), err
	})
	// ListMessages lists message records, most recently recorded first.
	ListMessages = newCall("messages/list", func(l *Local, f MessageFilter) ([]Message, error) {
		ms, err := l.Store.ListMessages(l.Actor, f.store())
		return mapSlice(ms, messageFrom), err
	})
	// ShowMessage returns a message record with its history.
	ShowMessage = newCall("messages/show", func(l *Local, k MessageKey) (MessageDetail, error) {
		d, err := l.Store.ShowMessageDetail(l.Actor, k.store())
		return messageDetailFrom(d), err
	})
	// Reprocess asks the daemon to decide a message again.
	Reprocess = newCall("messages/reprocess", func(l *Local, a ReprocessArgs) (ReprocessMark, error) {
		m, err := l.Store.MarkReprocess(l.Actor, a.Key.store(), a.Note, a.Notify)
		return markFrom(m), err
	})
	// RegisterList lists register rows by kundnummer, then person.
	RegisterList = newCall("register/list", func(l *Local, f RegisterFilter) ([]RegisterEntry, error) {
		es, err := l.Store.RegisterList(l.Actor, f.store())
		return mapSlice(es, registerEntryFrom), err
	})
	// RegisterExport returns the whole register for the workbook.
	RegisterExport = newCall("register/export", func(l *Local, _ Nothing) ([]RegisterEntry, error) {
		es, err := l.Store.RegisterExport(l.Actor)
		return mapSlice(es, registerEntryFrom), err
	})
	// AuditList reads the audit log, newest first (itself audited).
	AuditList = newCall("audit/list", func(l *Local, f AuditFilter) ([]AuditEntry, error) {
		es, err := l.Store.AuditList(l.Actor, f.store())
		return mapSlice(es, auditEntryFrom), err
	})
	// OutboxList lists outbox rows newest first, without bodies.
	OutboxList = newCall("outbox/list", func(l *Local, f OutboxFilter) ([]OutboxRow, error) {
		rs, err := l.Store.OutboxList(l.Actor, f.store())
		return mapSlice(rs, outboxRowFrom), err
	})
	// OutboxShow returns one outbox row with its body.
	OutboxShow = newCall("outbox/show", func(l *Local, a OutboxID) (OutboxMessage, error) {
		r, err := l.Store.OutboxGet(l.Actor, a.ID)
		return OutboxMessage{Row: outboxRowFrom(r), Raw: r.Raw}, err
	})
	// OutboxRetry sends a failed or cancelled row again.
	OutboxRetry = newCall("outbox/retry", func(l *Local, a OutboxID) (Done, error) {
		return Done{OK: true}, l.Store.OutboxRetry(l.Actor, a.ID)
	})
	// RequestForm returns the original form file of a request (audited).
	RequestForm = newCall("requests/form", func(l *Local, a RequestID) (FormFile, error) {
		f, err := l.Store.RequestForm(l.Actor, a.ID)
		return FormFile{Name: f.Name, Data: f.Data}, err
	})
	// DaemonStatus reports the store's depths and, from the daemon, its figures.
	// It reads no personal data, so it is not audited.
	DaemonStatus = newCall("status", func(l *Local, _ Nothing) (StatusReport, error) {
		c, err := l.Store.Counts()
		if err != nil {
			return StatusReport{}, err
		}
		r := StatusReport{Requests: map[Status]int{}, OutboxPending: c.OutboxPending, Unsettled: c.Unsettled}
		for st, n := range c.Requests {
			r.Requests[Status(st)] = n
		}
		if l.Samples != nil {
			r.Daemon = true
			if r.Samples, err = l.Samples(); err != nil {
				return StatusReport{}, fmt.Errorf("read the daemon's figures: %w", err)
			}
		}
		return r, nil
	})
	// OutboxCancel stops a pending row.
	OutboxCancel = newCall("outbox/cancel", func(l *Local, a OutboxID) (Done, error) {
		return Done{OK: true}, l.Store.OutboxCancel(l.Actor, a.ID)
	})
)
