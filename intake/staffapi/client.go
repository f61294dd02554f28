package staffapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// ErrNoDaemon: nothing answers on the staff socket (no file, or one left by
// a daemon that is gone). The CLI then opens the store itself.
var ErrNoDaemon = errors.New("no daemon answers on the staff socket")

// Client makes the staff calls to a running daemon over its socket.
// The daemon decides who the caller is; the client has no say in it.
type Client struct {
	path string
	http *http.Client
}

var _ Staff = (*Client)(nil)

// Dial connects to the daemon's socket at path and checks that it
// answers (a whoami call). ErrNoDaemon when no daemon listens there.
func Dial(ctx context.Context, path string) (*Client, string, error) {
	c := &Client{
		path: path,
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConns: 1,
		}},
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	who, err := c.WhoAmI(dctx)
	if err != nil {
		if isNoDaemon(err) {
			return nil, "", fmt.Errorf("%w (%s)", ErrNoDaemon, path)
		}
		return nil, "", err
	}
	return c, who, nil
}

// Close drops the idle connection.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// APIError is a refusal or failure the daemon answered with. It matches the
// store's sentinel of its kind (ErrNotFound, ErrConflict, ErrInvalid) and
// ErrNoComposer, so callers branch as they would on a direct call.
type APIError struct {
	Status  int
	Kind    string
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Is maps the kind to its sentinel.
func (e *APIError) Is(target error) bool {
	switch e.Kind {
	case kindNotFound:
		return target == store.ErrNotFound
	case kindConflict:
		return target == store.ErrConflict
	case kindInvalid:
		return target == store.ErrInvalid
	case kindNoComposer:
		return target == ErrNoComposer
	}
	return false
}

func (c *Client) do(ctx context.Context, name string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("call %s: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://daemon/v1/"+name, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("call %s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call the daemon on %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read the daemon's answer to %s: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiErrorBody
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			return &APIError{Status: resp.StatusCode, Kind: kindInternal, Message: fmt.Sprintf("the daemon answered %s to %s", resp.Status, name)}
		}
		return &APIError{Status: resp.StatusCode, Kind: e.Error, Message: e.Message}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("read the daemon's answer to %s: %w", name, err)
	}
	return nil
}

// WhoAmI returns the name the daemon gives this caller.
func (c *Client) WhoAmI(ctx context.Context) (string, error) {
	var w whoBody
	err := c.do(ctx, "whoami", struct{}{}, &w)
	return w.Actor, err
}

// ListRequests lists requests.
func (c *Client) ListRequests(ctx context.Context, f store.ListFilter) (store.RequestPage, error) {
	var p store.RequestPage
	err := c.do(ctx, "requests/list", f, &p)
	return p, err
}

// ShowRequest returns a request with its message and replies.
func (c *Client) ShowRequest(ctx context.Context, id string) (store.RequestDetail, error) {
	var d store.RequestDetail
	err := c.do(ctx, "requests/show", idCall{ID: id}, &d)
	return d, err
}

// SearchRequests searches requests.
func (c *Client) SearchRequests(ctx context.Context, text string, limit int) ([]store.Request, error) {
	var out []store.Request
	err := c.do(ctx, "requests/search", searchCall{Text: text, Limit: limit}, &out)
	return out, err
}

// Claim takes a request.
func (c *Client) Claim(ctx context.Context, id string, force bool) (store.Request, error) {
	var r store.Request
	err := c.do(ctx, "requests/claim", idCall{ID: id, Force: force}, &r)
	return r, err
}

// Release gives a request back to the queue.
func (c *Client) Release(ctx context.Context, id string) (store.Request, error) {
	var r store.Request
	err := c.do(ctx, "requests/release", idCall{ID: id}, &r)
	return r, err
}

// Complete closes a request as done.
func (c *Client) Complete(ctx context.Context, id, username, note string) (store.Request, error) {
	var r store.Request
	err := c.do(ctx, "requests/done", idCall{ID: id, Username: username, Note: note}, &r)
	return r, err
}

// Reject closes a request as rejected.
func (c *Client) Reject(ctx context.Context, id, reason string) (store.Request, error) {
	var r store.Request
	err := c.do(ctx, "requests/reject", idCall{ID: id, Reason: reason}, &r)
	return r, err
}

// ListMessages lists message records.
func (c *Client) ListMessages(ctx context.Context, f store.MessageFilter) ([]store.Message, error) {
	var out []store.Message
	err := c.do(ctx, "messages/list", f, &out)
	return out, err
}

// ShowMessage returns a message record with its history.
func (c *Client) ShowMessage(ctx context.Context, key store.MessageKey) (store.MessageDetail, error) {
	var d store.MessageDetail
	err := c.do(ctx, "messages/show", messageCall{Key: key}, &d)
	return d, err
}

// Reprocess asks for a message to be decided again.
func (c *Client) Reprocess(ctx context.Context, key store.MessageKey, note string) (store.ReprocessMark, error) {
	var m store.ReprocessMark
	err := c.do(ctx, "messages/reprocess", messageCall{Key: key, Note: note}, &m)
	return m, err
}

// RegisterList lists register rows.
func (c *Client) RegisterList(ctx context.Context, f store.RegisterFilter) ([]store.RegisterEntry, error) {
	var out []store.RegisterEntry
	err := c.do(ctx, "register/list", f, &out)
	return out, err
}

// RegisterExport returns the whole register.
func (c *Client) RegisterExport(ctx context.Context) ([]store.RegisterEntry, error) {
	var out []store.RegisterEntry
	err := c.do(ctx, "register/export", struct{}{}, &out)
	return out, err
}

// AuditList reads the audit log.
func (c *Client) AuditList(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	err := c.do(ctx, "audit/list", f, &out)
	return out, err
}

// OutboxList lists outbox rows.
func (c *Client) OutboxList(ctx context.Context, f store.OutboxFilter) ([]store.OutboxRow, error) {
	var out []store.OutboxRow
	err := c.do(ctx, "outbox/list", f, &out)
	return out, err
}

// OutboxGet returns one row with its body.
func (c *Client) OutboxGet(ctx context.Context, id uint64) (store.OutboxRow, error) {
	var b outboxRowBody
	err := c.do(ctx, "outbox/show", outboxCall{ID: id}, &b)
	b.Row.Raw = b.Raw
	return b.Row, err
}

// OutboxRetry sends a failed or cancelled row again.
func (c *Client) OutboxRetry(ctx context.Context, id uint64) error {
	var ok okBody
	return c.do(ctx, "outbox/retry", outboxCall{ID: id}, &ok)
}

// OutboxCancel stops a pending row.
func (c *Client) OutboxCancel(ctx context.Context, id uint64) error {
	var ok okBody
	return c.do(ctx, "outbox/cancel", outboxCall{ID: id}, &ok)
}

// Backup copies the daemon's database to w while the daemon runs, and
// returns the number of bytes. The copy is complete only when err is nil.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://daemon/v1/backup", nil)
	if err != nil {
		return 0, fmt.Errorf("call backup: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("call the daemon on %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e apiErrorBody
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			return 0, &APIError{Status: resp.StatusCode, Kind: kindInternal, Message: fmt.Sprintf("the daemon answered %s to backup", resp.Status)}
		}
		return 0, &APIError{Status: resp.StatusCode, Kind: e.Error, Message: e.Message}
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("read the backup from the daemon: %w", err)
	}
	if got := resp.Trailer.Get(backupTrailer); got != "ok" {
		return n, fmt.Errorf("the daemon could not finish the backup (see its log)")
	}
	return n, nil
}
