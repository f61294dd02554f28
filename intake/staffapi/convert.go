package staffapi

import "github.com/regionhmc/websesam-intake/store"

// The conversions between the store's records and this version's wire
// types, field by field: a field the store adds stays off the wire until a
// version carries it.

func keyFrom(k store.MessageKey) MessageKey {
	return MessageKey{Mailbox: k.Mailbox, UIDValidity: k.UIDValidity, UID: k.UID}
}

func (k MessageKey) store() store.MessageKey {
	return store.MessageKey{Mailbox: k.Mailbox, UIDValidity: k.UIDValidity, UID: k.UID}
}

func requestFrom(r store.Request) Request {
	out := Request{
		V: r.V, ID: r.ID, Batch: r.Batch, Form: r.Form, Type: r.Type, Status: Status(r.Status),
		Fields: r.Fields, FormHash: r.FormHash, Message: keyFrom(r.Message), MessageID: r.MessageID,
		ReceivedAt: r.ReceivedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		ClaimedBy: r.ClaimedBy, ClaimedAt: r.ClaimedAt, Username: r.Username, Reason: r.Reason,
		ClosedAt: r.ClosedAt, Purged: r.Purged, PurgedAt: r.PurgedAt,
	}
	if r.History != nil {
		out.History = make([]Transition, len(r.History))
		for i, t := range r.History {
			out.History[i] = Transition{At: t.At, Actor: t.Actor, From: Status(t.From), To: Status(t.To), Note: t.Note}
		}
	}
	return out
}

func requestsFrom(rs []store.Request) []Request { return mapSlice(rs, requestFrom) }

func messageFrom(m store.Message) Message {
	out := Message{
		V: m.V, Key: keyFrom(m.Key), MessageID: m.MessageID, From: m.From, Subject: m.Subject,
		ReceivedAt: m.ReceivedAt, Size: m.Size, Outcome: Outcome(m.Outcome), Reason: m.Reason,
		FormHashes: m.FormHashes, RecordedAt: m.RecordedAt, Settled: m.Settled, SettledAt: m.SettledAt,
		Purged: m.Purged, Verdict: m.Verdict,
	}
	out.Forms = mapSlice(m.Forms, func(f store.FormResult) FormResult {
		return FormResult{Hash: f.Hash, Requests: f.Requests, Duplicate: f.Duplicate}
	})
	out.Problems = mapSlice(m.Problems, func(f store.FormProblems) FormProblems {
		return FormProblems{Hash: f.Hash, Form: f.Form, Problems: mapSlice(f.Problems, func(p store.Problem) Problem {
			return Problem{Field: p.Field, Label: p.Label, Reason: p.Reason}
		})}
	})
	if m.DuplicateOf != nil {
		k := keyFrom(*m.DuplicateOf)
		out.DuplicateOf = &k
	}
	return out
}

func markFrom(m store.ReprocessMark) ReprocessMark {
	return ReprocessMark{V: m.V, Key: keyFrom(m.Key), MessageID: m.MessageID, Actor: m.Actor, At: m.At, Note: m.Note, Outcome: Outcome(m.Outcome), Notify: m.Notify}
}

func messageDetailFrom(d store.MessageDetail) MessageDetail {
	out := MessageDetail{Message: messageFrom(d.Message)}
	out.History = mapSlice(d.History, func(e store.MessageEvent) MessageEvent {
		return MessageEvent{At: e.At, Actor: e.Actor, Event: e.Event, From: Outcome(e.From), To: Outcome(e.To), Note: e.Note, Reason: e.Reason}
	})
	if d.Pending != nil {
		p := markFrom(*d.Pending)
		out.Pending = &p
	}
	return out
}

func requestDetailFrom(d store.RequestDetail) RequestDetail {
	out := RequestDetail{Request: requestFrom(d.Request), Replies: mapSlice(d.Replies, outboxRowFrom)}
	if d.Message != nil {
		m := messageFrom(*d.Message)
		out.Message = &m
	}
	return out
}

func registerEntryFrom(e store.RegisterEntry) RegisterEntry {
	return RegisterEntry{
		V: e.V, Kundnummer: e.Kundnummer, Standardkund: e.Standardkund, Person: e.Person, HSAID: e.HSAID,
		Fornamn: e.Fornamn, Efternamn: e.Efternamn, TidigareNamn: e.TidigareNamn, Yrke: e.Yrke,
		Epost: e.Epost, Telefon: e.Telefon, Verksamhet: e.Verksamhet, Enhet: e.Enhet,
		Buffertforrad: e.Buffertforrad, Forskrivare: e.Forskrivare, Bestallare: e.Bestallare,
		ChefNamn: e.ChefNamn, ChefEpost: e.ChefEpost, ChefTelefon: e.ChefTelefon, GallerFran: e.GallerFran,
		TjanstledigFran: e.TjanstledigFran, TjanstledigTill: e.TjanstledigTill, Username: e.Username,
		Request: e.Request, UpdatedAt: e.UpdatedAt,
	}
}

func auditEntryFrom(e store.AuditEntry) AuditEntry {
	return AuditEntry{V: e.V, Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Subjects: e.Subjects, Count: e.Count, Detail: e.Detail}
}

func outboxRowFrom(r store.OutboxRow) OutboxRow {
	return OutboxRow{
		V: r.V, ID: r.ID, MessageID: r.MessageID, Kind: r.Kind, Request: r.Request, InReplyTo: r.InReplyTo,
		From: r.From, To: r.To, Cc: r.Cc, Subject: r.Subject, State: OutboxState(r.State), Attempts: r.Attempts,
		LastError: r.LastError, NextTry: r.NextTry, CreatedAt: r.CreatedAt, SentAt: r.SentAt, FailedAt: r.FailedAt,
		Purged: r.Purged,
	}
}

func (f ListFilter) store() store.ListFilter {
	return store.ListFilter{Status: store.Status(f.Status), Type: f.Type, Since: f.Since, Before: f.Before, Limit: f.Limit}
}

func (f MessageFilter) store() store.MessageFilter {
	return store.MessageFilter{Outcome: store.Outcome(f.Outcome), Mailbox: f.Mailbox, Limit: f.Limit}
}

func (f RegisterFilter) store() store.RegisterFilter {
	return store.RegisterFilter{Kundnummer: f.Kundnummer, Person: f.Person}
}

func (f AuditFilter) store() store.AuditFilter {
	return store.AuditFilter{Actor: f.Actor, Subject: f.Subject, Since: f.Since, Before: f.Before, Limit: f.Limit}
}

func (f OutboxFilter) store() store.OutboxFilter {
	return store.OutboxFilter{State: store.OutboxState(f.State), Before: f.Before, Limit: f.Limit}
}

// mapSlice converts every element, keeping nil as nil (JSON null and []
// stay what they were).
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
