package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Sender delivers pre-rendered messages to the configured relay.
//
// go-mail dials, speaks STARTTLS or implicit TLS with verification and
// authenticates (Client.DialToSMTPClientWithContext); the envelope and DATA
// are then driven on its smtp sub-package's client, because go-mail's
// Client.Send only sends a *Msg it renders itself. A retry must send the
// outbox row's stored bytes unchanged (same Message-ID, same boundaries), so
// re-rendering is not an option.
type Sender struct {
	cfg  SMTPConfig
	host string
	port int
	tls  *tls.Config
	// attemptTimeout bounds dial + greeting + TLS + AUTH, and later each
	// message transaction.
	attemptTimeout time.Duration
}

// NewSender checks the SMTP configuration. The TLS configuration and the
// credentials come resolved in cfg.SMTP (see SMTPConfig).
func NewSender(cfg Config) (*Sender, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validateDelivery(); err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(cfg.SMTP.Addr)
	if err != nil || host == "" {
		return nil, problem("smtp.addr", "want host:port, got %q", cfg.SMTP.Addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, problem("smtp.addr", "bad port %q", portStr)
	}
	switch cfg.SMTP.TLS {
	case TLSImplicit, StartTLS, Plain:
	default:
		return nil, problem("smtp.tls", "want tls, starttls or plain, got %q", cfg.SMTP.TLS)
	}
	switch cfg.SMTP.Auth {
	case AuthNone:
	case AuthPlain, AuthLogin, AuthXOAUTH2, AuthOAuthBearer:
		if cfg.SMTP.Credentials == nil {
			return nil, problem("smtp.auth", "auth %s needs credentials (password_file, token_file, token_command or [oauth2])", cfg.SMTP.Auth)
		}
	default:
		return nil, problem("smtp.auth", "want plain, login, xoauth2 or oauthbearer, got %q", cfg.SMTP.Auth)
	}
	tc := cfg.SMTP.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return &Sender{cfg: cfg.SMTP, host: host, port: port, tls: tc, attemptTimeout: cfg.AttemptTimeout}, nil
}

// ConnError is a failure to reach or log in to the relay: nothing about the
// message, so the worker waits and tries again without blaming the row.
type ConnError struct{ Err error }

func (e *ConnError) Error() string { return "connect to smtp server: " + e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// ErrAuth marks a login the relay refused (or a token the issuer would
// not give): the worker's ConnError wraps it.
var ErrAuth = errors.New("smtp login refused")

// dial opens an authenticated session. Every error is a *ConnError. A
// renewable token the relay refuses is renewed once and the login tried
// again at once: the server may have revoked it before its stated expiry.
func (s *Sender) dial(ctx context.Context) (*session, error) {
	ss, err := s.dialOnce(ctx, false)
	if err != nil && errors.Is(err, ErrAuth) && s.cfg.Credentials != nil && s.cfg.Credentials.Renewable() {
		ss, err = s.dialOnce(ctx, true)
	}
	return ss, err
}

func (s *Sender) dialOnce(ctx context.Context, renew bool) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, s.attemptTimeout)
	defer cancel()
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.attemptTimeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithoutSMTPUTF8(),
	}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case Plain:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Auth != AuthNone {
		secret, err := s.cfg.Credentials.Secret(ctx, renew)
		if err != nil {
			return nil, &ConnError{err}
		}
		switch s.cfg.Auth {
		case AuthOAuthBearer:
			opts = append(opts, gomail.WithSMTPAuthCustom(oauthBearer{user: s.cfg.Username, host: s.host, port: s.port, token: secret}))
		default:
			mech := map[AuthMethod]gomail.SMTPAuthType{
				AuthPlain: gomail.SMTPAuthPlain, AuthLogin: gomail.SMTPAuthLogin, AuthXOAUTH2: gomail.SMTPAuthXOAUTH2,
			}[s.cfg.Auth]
			opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(secret))
		}
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return nil, &ConnError{err}
	}
	// The dial context only bounds the TCP connect; the smtp client has no
	// context, so a watchdog closes the connection when ctx ends.
	type result struct {
		c   *smtp.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := client.DialToSMTPClientWithContext(ctx)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			if authRefused(r.err) {
				return nil, &ConnError{fmt.Errorf("%w: %w", ErrAuth, r.err)}
			}
			return nil, &ConnError{r.err}
		}
		return &session{c: r.c, timeout: s.attemptTimeout}, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, &ConnError{fmt.Errorf("dial: %w", ctx.Err())}
	}
}

// authRefused tells a refused login from an outage: a 5xx answer to AUTH,
// or 454, which some servers give a token they do not accept.
func authRefused(err error) bool {
	var tp *textproto.Error
	return errors.As(err, &tp) && (tp.Code == 454 || tp.Code >= 500 && tp.Code < 600) && strings.Contains(err.Error(), "SMTP AUTH failed")
}

// oauthBearer is SASL OAUTHBEARER (RFC 7628) for go-mail, which has only
// XOAUTH2 built in. On failure the server sends a JSON challenge, answered
// with the single byte 0x01 that ends the exchange.
type oauthBearer struct {
	user, host string
	port       int
	token      string
}

func (o oauthBearer) Start(*smtp.ServerInfo) (string, []byte, error) {
	ir := "n,a=" + o.user + ",\x01host=" + o.host + "\x01port=" + strconv.Itoa(o.port) + "\x01auth=Bearer " + o.token + "\x01\x01"
	return "OAUTHBEARER", []byte(ir), nil
}

func (o oauthBearer) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return []byte{0x01}, nil
	}
	return nil, nil
}

// session is one open connection; messages go one after another.
type session struct {
	c       *smtp.Client
	timeout time.Duration
	broken  bool
}

// close says goodbye politely when the connection is still sound.
func (ss *session) close() {
	if !ss.broken {
		_ = ss.c.UpdateDeadline(5 * time.Second)
		if ss.c.Quit() == nil {
			return
		}
	}
	_ = ss.c.Close()
}

// SMTPError is the server's answer to one command of a transaction.
type SMTPError struct {
	Command string // MAIL, RCPT, DATA or the end of DATA
	Code    int
	Msg     string
}

func (e *SMTPError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.Command, e.Code, e.Msg)
}

// Permanent reports a 5xx answer.
func (e *SMTPError) Permanent() bool { return e.Code >= 500 && e.Code < 600 }

// result of one delivery.
type delivery struct {
	refused []string     // recipients answered 5xx while others were accepted
	answers []*SMTPError // their answers
}

// deliver runs MAIL, RCPT and DATA for one message under one deadline
// (the attempt timeout); it takes no context on purpose, so a shutdown lets
// the message in hand finish instead of cutting it off after the relay may
// already have it. A 5xx on some recipients delivers to the rest and
// reports them; a 5xx on all, or on MAIL or DATA, is a permanent
// *SMTPError; anything else is temporary.
func (ss *session) deliver(from string, rcpts []string, raw []byte) (delivery, error) {
	var out delivery
	if err := ss.c.UpdateDeadline(ss.timeout); err != nil {
		ss.broken = true
		return out, err
	}

	if err := ss.c.Mail("<" + from + ">"); err != nil {
		return out, ss.abort(ss.answer("MAIL", err))
	}
	accepted := 0
	for _, r := range rcpts {
		err := ss.c.Rcpt("<" + r + ">")
		if err == nil {
			accepted++
			continue
		}
		e := ss.answer("RCPT", err)
		var se *SMTPError
		if errors.As(e, &se) {
			se.Msg = r + ": " + se.Msg
		}
		if se != nil && se.Permanent() {
			out.refused = append(out.refused, r)
			out.answers = append(out.answers, se)
			continue
		}
		return out, ss.abort(e)
	}
	if accepted == 0 {
		ss.reset()
		return out, errors.Join(asErrors(out.answers)...)
	}
	w, err := ss.c.Data()
	if err != nil {
		return out, ss.abort(ss.answer("DATA", err))
	}
	if _, err := w.Write(raw); err != nil {
		ss.broken = true
		return out, err
	}
	if err := w.Close(); err != nil {
		return out, ss.answer("end of DATA", err)
	}
	return out, nil
}

func asErrors(l []*SMTPError) []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// answer turns a reply code into *SMTPError and marks the session broken
// on anything else (a timeout, a closed connection) or on 421, with which
// the server closes the connection.
func (ss *session) answer(cmd string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		if tp.Code == 421 {
			ss.broken = true
		}
		return &SMTPError{Command: cmd, Code: tp.Code, Msg: tp.Msg}
	}
	ss.broken = true
	return err
}

// abort ends the transaction with RSET so the connection can carry the
// next message.
func (ss *session) abort(err error) error {
	ss.reset()
	return err
}

func (ss *session) reset() {
	if !ss.broken && ss.c.Reset() != nil {
		ss.broken = true
	}
}

// permanent classifies a delivery error, in this one place: a 5xx answer
// is permanent; 4xx answers, timeouts, refused or broken connections and
// TLS failures are temporary.
func permanent(err error) bool {
	var se *SMTPError
	if !errors.As(err, &se) {
		return false
	}
	// errors.Join of several refused recipients: permanent when all are.
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !permanent(e) {
				return false
			}
		}
		return true
	}
	return se.Permanent()
}
