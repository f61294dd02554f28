package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"mime"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-sasl"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
)

// ErrAuth marks a login the server refused: the reconnect loop backs off
// harder and logs it once per streak (a locked account helps nobody).
var ErrAuth = errors.New("imap login refused")

// errDeadline is what a command returns when the watchdog closed the
// connection under it.
var errDeadline = errors.New("imap command deadline passed; connection closed")

// conn is one IMAP connection with a deadline on every command. The client
// library has no timeouts on Wait: a server that stops answering would block
// forever, so a watchdog closes the connection and the blocked call returns.
type conn struct {
	c       *imapclient.Client
	timeout time.Duration
	// news receives a value when the server reports new mail (EXISTS) or
	// anything else unilateral; buffered, never blocks the reader.
	news chan struct{}

	mu       sync.Mutex
	timedOut bool
	delim    rune            // hierarchy separator, 0 until asked
	folders  map[string]bool // folders known to exist
	caps     imap.CapSet
}

// dial connects, logs in and returns the connection. A refused login wraps
// ErrAuth; everything else is a connection problem worth a plain retry.
// tokens is the built-in OAuth2 client (nil when not configured).
func dial(ctx context.Context, m MailboxConfig, tokens endpoint.TokenSource) (*conn, error) {
	news := make(chan struct{}, 1)
	poke := func() {
		select {
		case news <- struct{}{}:
		default:
		}
	}
	opts := &imapclient.Options{
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the reader goroutine: only hand the news on.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					poke()
				}
			},
		},
	}
	ep := m.Endpoint()
	if m.TLS != TLSPlain {
		tc, err := ep.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("imap: %w", err)
		}
		opts.TLSConfig = tc
	}
	// Dial, TLS, greeting and STARTTLS run on a connection we hold, under
	// the command deadline: a server that accepts and then says nothing is
	// given up on, and its socket closed, not leaked.
	dialer := &net.Dialer{Timeout: m.CommandTimeout}
	raw, err := dialer.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect to imap server: %w", err)
	}
	var timedOut atomic.Bool
	watchdog := time.AfterFunc(m.CommandTimeout, func() { timedOut.Store(true); raw.Close() })
	stopWatch := context.AfterFunc(ctx, func() { raw.Close() })
	var c *imapclient.Client
	switch m.TLS {
	case TLSImplicit:
		tc := tls.Client(raw, opts.TLSConfig)
		if err = tc.HandshakeContext(ctx); err == nil {
			c = imapclient.New(tc, opts)
		}
	case TLSStart:
		c, err = imapclient.NewStartTLS(raw, opts)
	default:
		c = imapclient.New(raw, opts)
	}
	if err == nil {
		err = c.WaitGreeting()
	}
	watchdog.Stop()
	stopWatch()
	switch {
	case timedOut.Load():
		err = errDeadline
	case ctx.Err() != nil:
		err = ctx.Err()
	}
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("connect to imap server: %w", err)
	}
	cn := &conn{c: c, timeout: m.CommandTimeout, news: news, folders: map[string]bool{}}
	if err := cn.login(ctx, m, ep.Credentials(tokens)); err != nil {
		cn.close()
		return nil, err
	}
	if err := cn.do(func() error {
		cn.caps = cn.c.Caps()
		if cn.caps == nil {
			return errors.New("no capability list")
		}
		return nil
	}); err != nil {
		cn.close()
		return nil, fmt.Errorf("ask capabilities: %w", err)
	}
	return cn, nil
}

// login authenticates. A token from the built-in OAuth2 client that the
// server refuses is renewed once and the login tried again at once: the
// server may have revoked it before its stated expiry. A refused login
// wraps ErrAuth, as does a token endpoint that refused the client's
// credentials.
func (cn *conn) login(ctx context.Context, m MailboxConfig, cred *endpoint.Credentials) error {
	err := cn.loginOnce(ctx, m, cred, false)
	if errors.Is(err, ErrAuth) && cred.Renewable() && !errors.Is(err, endpoint.ErrRefused) {
		err = cn.loginOnce(ctx, m, cred, true)
	}
	return err
}

func (cn *conn) loginOnce(ctx context.Context, m MailboxConfig, cred *endpoint.Credentials, renew bool) error {
	secret, err := cred.Secret(ctx, renew)
	if errors.Is(err, endpoint.ErrRefused) {
		return fmt.Errorf("log in as %s: %w: %w", m.Username, ErrAuth, err)
	}
	if err != nil {
		return err
	}
	err = cn.do(func() error {
		switch m.Auth {
		case AuthPlain:
			return cn.c.Authenticate(sasl.NewPlainClient("", m.Username, secret))
		case AuthXOAUTH2, AuthOAuthBearer:
			return cn.c.Authenticate(endpoint.TokenClient(m.Auth, m.Username, secret))
		default:
			return cn.c.Login(m.Username, secret).Wait()
		}
	})
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code != imap.ResponseCodeUnavailable {
			return fmt.Errorf("log in as %s: %w: %v", m.Username, ErrAuth, err)
		}
		return fmt.Errorf("log in: %w", err)
	}
	return nil
}

// do runs one command under the deadline. When the deadline passes the
// connection is closed, the blocked Wait returns, and the error says so.
func (cn *conn) do(f func() error) error {
	t := time.AfterFunc(cn.timeout, func() {
		cn.mu.Lock()
		cn.timedOut = true
		cn.mu.Unlock()
		cn.c.Close()
	})
	err := f()
	if !t.Stop() {
		cn.mu.Lock()
		late := cn.timedOut
		cn.mu.Unlock()
		if late {
			return errDeadline
		}
	}
	return err
}

func (cn *conn) close() {
	cn.c.Close()
}

// hasMove tells whether the server moves atomically (RFC 6851).
func (cn *conn) hasMove() bool { return cn.caps.Has(imap.CapMove) }

// hasUIDPlus tells whether UID EXPUNGE of one message is possible.
func (cn *conn) hasUIDPlus() bool { return cn.caps.Has(imap.CapUIDPlus) }

func (cn *conn) hasIdle() bool { return cn.caps.Has(imap.CapIdle) }

// serverFolder turns a configured folder name ("a/b") into the server's
// hierarchy ("a.b" on a server whose separator is ".").
func (cn *conn) serverFolder(name string) (string, error) {
	if cn.delim == 0 {
		var list []*imap.ListData
		err := cn.do(func() error {
			var err error
			list, err = cn.c.List("", "", nil).Collect()
			return err
		})
		if err != nil {
			return "", fmt.Errorf("ask the hierarchy separator: %w", err)
		}
		cn.delim = '/'
		if len(list) > 0 && list[0].Delim != 0 {
			cn.delim = list[0].Delim
		}
	}
	if cn.delim == '/' {
		return name, nil
	}
	return strings.ReplaceAll(name, "/", string(cn.delim)), nil
}

// ensureFolder creates a folder (and, by the server, its parents) unless it
// is known to exist.
func (cn *conn) ensureFolder(name string) error {
	if cn.folders[name] {
		return nil
	}
	var list []*imap.ListData
	err := cn.do(func() error {
		var err error
		list, err = cn.c.List("", name, nil).Collect()
		return err
	})
	if err != nil {
		return fmt.Errorf("list folder %s: %w", name, err)
	}
	if len(list) == 0 {
		err := cn.do(func() error { return cn.c.Create(name, nil).Wait() })
		var ie *imap.Error
		if err != nil && !(errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists) {
			return fmt.Errorf("create folder %s: %w", name, err)
		}
	}
	cn.folders[name] = true
	return nil
}

// backoff is a jittered exponential backoff between min and max ("full
// jitter": a random wait up to the current ceiling, at least min).
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	ceil := b.min << min(b.n, 30)
	if ceil <= 0 || ceil > b.max {
		ceil = b.max
	}
	b.n++
	if ceil <= b.min {
		return b.min
	}
	return b.min + rand.N(ceil-b.min)
}

func (b *backoff) reset() { b.n = 0 }
