package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/BurntSushi/toml"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// Staff is what support staff can do: every command of the staff CLI is one
// call. Two implementations keep one meaning: LocalStaff calls the store
// directly (the daemon's socket handler uses it with the peer's name, and
// the CLI uses it when no daemon runs), StaffClient calls the daemon over
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

// LocalStaff runs the staff calls against an open store as one actor.
type LocalStaff struct {
	Store *store.Store
	// Composer writes the Klar and Avslag notices; nil refuses done and
	// reject with ErrNoComposer.
	Composer *mailer.Composer
	Actor    string
}

var _ Staff = (*LocalStaff)(nil)

// WhoAmI returns the actor.
func (l *LocalStaff) WhoAmI(context.Context) (string, error) { return l.Actor, nil }

// ListRequests lists requests (audited).
func (l *LocalStaff) ListRequests(_ context.Context, f store.ListFilter) (store.RequestPage, error) {
	return l.Store.ListRequests(l.Actor, f)
}

// ShowRequest returns a request with its message and replies (audited).
func (l *LocalStaff) ShowRequest(_ context.Context, id string) (store.RequestDetail, error) {
	return l.Store.ShowRequestDetail(l.Actor, id)
}

// SearchRequests searches requests (audited).
func (l *LocalStaff) SearchRequests(_ context.Context, text string, limit int) ([]store.Request, error) {
	return l.Store.SearchRequests(l.Actor, text, limit)
}

// Claim takes a request.
func (l *LocalStaff) Claim(_ context.Context, id string, force bool) (store.Request, error) {
	return l.Store.Claim(id, l.Actor, force)
}

// Release gives a claimed request back to the queue.
func (l *LocalStaff) Release(_ context.Context, id string) (store.Request, error) {
	return l.Store.Release(id, l.Actor)
}

// Complete closes a request as done, with its notices.
func (l *LocalStaff) Complete(_ context.Context, id, username, note string) (store.Request, error) {
	if l.Composer == nil {
		return store.Request{}, fmt.Errorf("complete request %s: %w", id, ErrNoComposer)
	}
	return l.Store.Complete(id, l.Actor, username, note, l.Composer.Completed)
}

// Reject closes a request as rejected, with its notice.
func (l *LocalStaff) Reject(_ context.Context, id, reason string) (store.Request, error) {
	if l.Composer == nil {
		return store.Request{}, fmt.Errorf("reject request %s: %w", id, ErrNoComposer)
	}
	return l.Store.Reject(id, l.Actor, reason, l.Composer.Rejected)
}

// ListMessages lists message records (audited).
func (l *LocalStaff) ListMessages(_ context.Context, f store.MessageFilter) ([]store.Message, error) {
	return l.Store.ListMessages(l.Actor, f)
}

// ShowMessage returns a message record with its history (audited).
func (l *LocalStaff) ShowMessage(_ context.Context, key store.MessageKey) (store.MessageDetail, error) {
	return l.Store.ShowMessageDetail(l.Actor, key)
}

// Reprocess asks for a message to be decided again.
func (l *LocalStaff) Reprocess(_ context.Context, key store.MessageKey, note string) (store.ReprocessMark, error) {
	return l.Store.MarkReprocess(l.Actor, key, note)
}

// RegisterList lists register rows (audited).
func (l *LocalStaff) RegisterList(_ context.Context, f store.RegisterFilter) ([]store.RegisterEntry, error) {
	return l.Store.RegisterList(l.Actor, f)
}

// RegisterExport returns the whole register for the workbook (audited).
func (l *LocalStaff) RegisterExport(context.Context) ([]store.RegisterEntry, error) {
	return l.Store.RegisterExport(l.Actor)
}

// AuditList reads the audit log (itself audited).
func (l *LocalStaff) AuditList(_ context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return l.Store.AuditList(l.Actor, f)
}

// OutboxList lists outbox rows (audited).
func (l *LocalStaff) OutboxList(_ context.Context, f store.OutboxFilter) ([]store.OutboxRow, error) {
	return l.Store.OutboxList(l.Actor, f)
}

// OutboxGet returns one outbox row with its body (audited).
func (l *LocalStaff) OutboxGet(_ context.Context, id uint64) (store.OutboxRow, error) {
	return l.Store.OutboxGet(l.Actor, id)
}

// OutboxRetry sends a failed or cancelled row again.
func (l *LocalStaff) OutboxRetry(_ context.Context, id uint64) error {
	return l.Store.OutboxRetry(l.Actor, id)
}

// OutboxCancel stops a pending row.
func (l *LocalStaff) OutboxCancel(_ context.Context, id uint64) error {
	return l.Store.OutboxCancel(l.Actor, id)
}

// StaffComposer builds the notice composer from the [mailer] section of the
// daemon's configuration file, for staff commands run while the daemon is
// stopped. Unlike LoadConfig it does not check the IMAP and SMTP secrets:
// staff cannot read them and composing does not need them. Problems wrap
// ErrConfig (exit status 2).
func StaffComposer(path string) (*mailer.Composer, error) {
	var c Config
	if _, err := toml.DecodeFile(path, &c); err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrConfig, path, err)
	}
	comp, err := mailer.NewComposer(c.WithDefaults().Mailer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	return comp, nil
}
