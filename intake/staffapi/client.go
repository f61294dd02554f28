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

func (*Client) staff() {}

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
	who, err := WhoAmI.Do(dctx, c, Nothing{})
	if err != nil {
		if isNoDaemon(err) {
			return nil, "", fmt.Errorf("%w (%s)", ErrNoDaemon, path)
		}
		return nil, "", err
	}
	return c, who.Actor, nil
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://daemon/v%d/%s", Version, name), bytes.NewReader(body))
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

// Backup copies the daemon's database to w while the daemon runs, and
// returns the number of bytes. The copy is complete only when err is nil.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://daemon/v%d/backup", Version), nil)
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
