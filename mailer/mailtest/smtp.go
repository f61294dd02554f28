package mailtest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message the sink accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
	// MessageID is the Message-ID header without angle brackets; "" when
	// the message has none or does not parse.
	MessageID string
}

// Header parses the message's header; nil when it does not parse.
func (m Mail) Header() mail.Header {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil
	}
	return msg.Header
}

// SinkOptions say what an SMTP sink is like. The zero value is a plain
// relay that takes every message from anyone.
type SinkOptions struct {
	// Domain is the name the server greets with; "" means sink.test.
	Domain string
	// TLS, when set, is offered through STARTTLS, or from the first byte
	// with ImplicitTLS.
	TLS         *tls.Config
	ImplicitTLS bool
	// Auth maps each mechanism offered (PLAIN, LOGIN, XOAUTH2,
	// OAUTHBEARER) to the secret it accepts for User. With Auth, MAIL
	// needs a login first; without it no AUTH is offered.
	Auth map[string]string
	User string
	// MaxMessageBytes is the largest message taken; 0 means 64 MiB.
	MaxMessageBytes int64
	// Discard counts accepted messages without keeping them (a benchmark).
	Discard bool
	// OnData, when set, is called as each DATA begins, before the message
	// is read.
	OnData func()
	// OnDeliver, when set, is called with each accepted message, from the
	// session that took it (the demo prints them).
	OnDeliver func(Mail)
}

// Sink is a go-smtp server on 127.0.0.1 that records what it accepts and
// can be told to refuse, stall or go away.
type Sink struct {
	opts SinkOptions
	server

	mu          sync.Mutex
	mails       []Mail
	count       int
	logins      int
	rcpt        func(to string) error
	accept      func(Mail) error
	stall       chan struct{}
	discard     bool
	dataStarted chan<- struct{}
	changed     Signal
}

// NewSink starts the sink on a free port of 127.0.0.1.
func NewSink(opts SinkOptions) (*Sink, error) {
	if opts.Domain == "" {
		opts.Domain = "sink.test"
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = 64 << 20
	}
	s := &Sink{opts: opts, discard: opts.Discard}
	return listenFresh(s, &s.server, s.serverOn)
}

// StartSink is NewSink for a test; the sink closes with it.
func StartSink(t TB, opts SinkOptions) *Sink {
	t.Helper()
	return started(t, "start the SMTP sink", NewSink, opts)
}

func (s *Sink) serverOn(addr string) (protocolServer, net.Listener, error) {
	var (
		ln  net.Listener
		err error
	)
	if s.opts.TLS != nil && s.opts.ImplicitTLS {
		ln, err = tls.Listen("tcp", addr, s.opts.TLS)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listen for SMTP: %w", err)
	}
	srv := smtp.NewServer(s)
	srv.Domain = s.opts.Domain
	if !s.opts.ImplicitTLS {
		srv.TLSConfig = s.opts.TLS
	}
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = s.opts.MaxMessageBytes
	srv.ErrorLog = log.New(io.Discard, "", 0) // a killed client's reset is expected
	return srv, ln, nil
}

// Restart brings a stopped relay back on the same address.
func (s *Sink) Restart() error { return s.relisten() }

// Received is every message kept so far, in the order accepted.
func (s *Sink) Received() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mails)
}

// Count is how many messages were accepted, kept or not.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Logins is how many logins succeeded.
func (s *Sink) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// RefuseRcpt, when f is set, lets f refuse a recipient (e.g. with Reply).
func (s *Sink) RefuseRcpt(f func(to string) error) {
	s.mu.Lock()
	s.rcpt = f
	s.mu.Unlock()
}

// RefuseData, when f is set, lets f refuse a message read in full; a
// refused message is not recorded. f may also block, to hold the answer.
func (s *Sink) RefuseData(f func(Mail) error) {
	s.mu.Lock()
	s.accept = f
	s.mu.Unlock()
}

// Discard says whether to keep the messages accepted from now on or only
// count them.
func (s *Sink) Discard(discard bool) {
	s.mu.Lock()
	s.discard = discard
	s.mu.Unlock()
}

// NotifyData makes each DATA, as it begins, send on ch.
func (s *Sink) NotifyData(ch chan<- struct{}) {
	s.mu.Lock()
	s.dataStarted = ch
	s.mu.Unlock()
}

// Stall makes every DATA wait, unread and unanswered, until release is
// called; the stalled messages are then dropped with a 451 and later ones
// are taken as usual.
func (s *Sink) Stall() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.stall = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.stall == ch {
				s.stall = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// WaitFor returns once cond holds for the messages kept, looking again at
// each delivery, and fails the test when limit passes first.
func (s *Sink) WaitFor(t TB, what string, limit time.Duration, cond func([]Mail) bool) {
	t.Helper()
	WaitSignal(t, what, limit, &s.changed, func() bool { return cond(s.Received()) })
}

// WaitCount returns once at least n messages were accepted.
func (s *Sink) WaitCount(t TB, n int, limit time.Duration) {
	t.Helper()
	WaitSignal(t, fmt.Sprintf("%d messages at the sink", n), limit, &s.changed, func() bool { return s.Count() >= n })
}

// Reached reports whether at least n messages were accepted within
// limit, looking at each delivery.
func (s *Sink) Reached(n int, limit time.Duration) bool {
	return Until(limit, &s.changed, func() bool { return s.Count() >= n })
}

// Reply is an SMTP answer for the refusal hooks.
func Reply(code int, enhanced smtp.EnhancedCode, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: msg}
}

// NewSession implements smtp.Backend.
func (s *Sink) NewSession(*smtp.Conn) (smtp.Session, error) {
	if len(s.opts.Auth) > 0 {
		return &authSession{smtpSession{s: s}}, nil
	}
	return &smtpSession{s: s}, nil
}

type smtpSession struct {
	s      *Sink
	from   string
	to     []string
	authed bool
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if len(ss.s.opts.Auth) > 0 && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	hook := ss.s.rcpt
	ss.s.mu.Unlock()
	if hook != nil {
		if err := hook(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	s := ss.s
	s.mu.Lock()
	stall, started, hook := s.stall, s.dataStarted, s.accept
	s.mu.Unlock()
	if s.opts.OnData != nil {
		s.opts.OnData()
	}
	if started != nil {
		started <- struct{}{}
	}
	if stall != nil {
		<-stall
		_, _ = io.Copy(io.Discard, r)
		return Reply(451, smtp.EnhancedCode{4, 3, 0}, "stalled")
	}
	// Read the whole message before answering.
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Mail{From: ss.from, To: slices.Clone(ss.to), Data: data}
	if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		m.MessageID = strings.Trim(msg.Header.Get("Message-Id"), "<> ")
	}
	if hook != nil {
		if err := hook(m); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.count++
	if !s.discard {
		s.mails = append(s.mails, m)
	}
	s.mu.Unlock()
	if s.opts.OnDeliver != nil {
		s.opts.OnDeliver(m)
	}
	s.changed.Fire()
	return nil
}

type authSession struct{ smtpSession }

func (as *authSession) AuthMechanisms() []string {
	var out []string
	for m := range as.s.opts.Auth {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

func (as *authSession) Auth(mech string) (sasl.Server, error) {
	want, ok := as.s.opts.Auth[mech]
	if !ok {
		return nil, fmt.Errorf("mechanism %s not offered", mech)
	}
	check := func(user, secret string) error {
		if user != as.s.opts.User || secret != want {
			return Reply(535, smtp.EnhancedCode{5, 7, 8}, "bad credentials")
		}
		as.authed = true
		as.s.mu.Lock()
		as.s.logins++
		as.s.mu.Unlock()
		return nil
	}
	return SASLServer(mech, check)
}
