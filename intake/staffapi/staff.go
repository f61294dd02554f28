package staffapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// Staff is what support staff can do: every command of the staff CLI is one
// call. Two implementations keep one meaning: Local calls the store
// directly (the daemon's socket handler uses it with the peer's name, and
// the CLI uses it when no daemon runs), Client calls the daemon over
// its socket. Every call acts as one person, fixed when the value is made:
// the actor is never an argument a caller can choose per call.
type Staff interface {
	// WhoAmI is the name the audit log and the history will carry.
	WhoAmI(ctx context.Context) (string, error)

	ListRequests(ctx context.Context, f store.ListFilter) (store.RequestPage, error)
	ShowRequest(ctx context.Context, id string) (store.RequestDetail, error)
	SearchRequests(ctx context.Context, text string, limit int) ([]store.Request, error)
	Claim(ctx context.Context, id string, force bool) (store.Request, error)
	Release(ctx context.Context, id string) (store.Request, error)
	Complete(ctx context.Context, id, username, note string) (store.Request, error)
	Reject(ctx context.Context, id, reason string) (store.Request, error)

	ListMessages(ctx context.Context, f store.MessageFilter) ([]store.Message, error)
	ShowMessage(ctx context.Context, key store.MessageKey) (store.MessageDetail, error)
	Reprocess(ctx context.Context, key store.MessageKey, note string) (store.ReprocessMark, error)

	RegisterList(ctx context.Context, f store.RegisterFilter) ([]store.RegisterEntry, error)
	RegisterExport(ctx context.Context) ([]store.RegisterEntry, error)

	AuditList(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)

	OutboxList(ctx context.Context, f store.OutboxFilter) ([]store.OutboxRow, error)
	OutboxGet(ctx context.Context, id uint64) (store.OutboxRow, error)
	OutboxRetry(ctx context.Context, id uint64) error
	OutboxCancel(ctx context.Context, id uint64) error
}

// ErrNoComposer: done and reject write the notices in the same transaction,
// so without the mailer's configuration they cannot run at all (rather than
// close a request that nobody is told about).
var ErrNoComposer = errors.New("no mailer configuration to compose the notices")

// Local runs the staff calls against an open store as one actor.
type Local struct {
	Store *store.Store
	// Composer writes the Klar and Avslag notices; nil refuses done and
	// reject with ErrNoComposer.
	Composer *mailer.Composer
	Actor    string
}

var _ Staff = (*Local)(nil)

// WhoAmI returns the actor.
func (l *Local) WhoAmI(context.Context) (string, error) { return l.Actor, nil }

// ListRequests lists requests (audited).
func (l *Local) ListRequests(_ context.Context, f store.ListFilter) (store.RequestPage, error) {
	return l.Store.ListRequests(l.Actor, f)
}

// ShowRequest returns a request with its message and replies (audited).
func (l *Local) ShowRequest(_ context.Context, id string) (store.RequestDetail, error) {
	return l.Store.ShowRequestDetail(l.Actor, id)
}

// SearchRequests searches requests (audited).
func (l *Local) SearchRequests(_ context.Context, text string, limit int) ([]store.Request, error) {
	return l.Store.SearchRequests(l.Actor, text, limit)
}

// Claim takes a request.
func (l *Local) Claim(_ context.Context, id string, force bool) (store.Request, error) {
	return l.Store.Claim(id, l.Actor, force)
}

// Release gives a claimed request back to the queue.
func (l *Local) Release(_ context.Context, id string) (store.Request, error) {
	return l.Store.Release(id, l.Actor)
}

// Complete closes a request as done, with its notices.
func (l *Local) Complete(_ context.Context, id, username, note string) (store.Request, error) {
	if l.Composer == nil {
		return store.Request{}, fmt.Errorf("complete request %s: %w", id, ErrNoComposer)
	}
	return l.Store.Complete(id, l.Actor, username, note, l.Composer.Completed)
}

// Reject closes a request as rejected, with its notice.
func (l *Local) Reject(_ context.Context, id, reason string) (store.Request, error) {
	if l.Composer == nil {
		return store.Request{}, fmt.Errorf("reject request %s: %w", id, ErrNoComposer)
	}
	return l.Store.Reject(id, l.Actor, reason, l.Composer.Rejected)
}

// ListMessages lists message records (audited).
func (l *Local) ListMessages(_ context.Context, f store.MessageFilter) ([]store.Message, error) {
	return l.Store.ListMessages(l.Actor, f)
}

// ShowMessage returns a message record with its history (audited).
func (l *Local) ShowMessage(_ context.Context, key store.MessageKey) (store.MessageDetail, error) {
	return l.Store.ShowMessageDetail(l.Actor, key)
}

// Reprocess asks for a message to be decided again.
func (l *Local) Reprocess(_ context.Context, key store.MessageKey, note string) (store.ReprocessMark, error) {
	return l.Store.MarkReprocess(l.Actor, key, note)
}

// RegisterList lists register rows (audited).
func (l *Local) RegisterList(_ context.Context, f store.RegisterFilter) ([]store.RegisterEntry, error) {
	return l.Store.RegisterList(l.Actor, f)
}

// RegisterExport returns the whole register for the workbook (audited).
func (l *Local) RegisterExport(context.Context) ([]store.RegisterEntry, error) {
	return l.Store.RegisterExport(l.Actor)
}

// AuditList reads the audit log (itself audited).
func (l *Local) AuditList(_ context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return l.Store.AuditList(l.Actor, f)
}

// OutboxList lists outbox rows (audited).
func (l *Local) OutboxList(_ context.Context, f store.OutboxFilter) ([]store.OutboxRow, error) {
	return l.Store.OutboxList(l.Actor, f)
}

// OutboxGet returns one outbox row with its body (audited).
func (l *Local) OutboxGet(_ context.Context, id uint64) (store.OutboxRow, error) {
	return l.Store.OutboxGet(l.Actor, id)
}

// OutboxRetry sends a failed or cancelled row again.
func (l *Local) OutboxRetry(_ context.Context, id uint64) error {
	return l.Store.OutboxRetry(l.Actor, id)
}

// OutboxCancel stops a pending row.
func (l *Local) OutboxCancel(_ context.Context, id uint64) error {
	return l.Store.OutboxCancel(l.Actor, id)
}
