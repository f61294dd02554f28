package intake

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

const (
	testUser     = "info.hmc@region.example.se"
	testPassword = "lösen-för-test"
	testDomain   = "region.example.se"
)

// imapServer is mailtest's in-memory server behind a proxy that can cut,
// stall or slow every connection when the client sends a given command.
// The mailbox state outlives stop/start, like a real server's disk.
type imapServer struct {
	t    testing.TB
	box  *mailtest.IMAP
	user *imapmemserver.User

	mu      sync.Mutex
	addr    string // the proxy's address, what clients dial
	proxyLn net.Listener
	conns   []net.Conn
	// cutOn, when set, closes the connection as soon as the client sends a
	// line containing it (then it is cleared): a drop mid-command.
	cutOn    string
	cutAfter bool // forward the command first, then cut once it is answered
	stall    bool // swallow the command and everything after it, silently
	cuts     int
	accepted int // connections made through the proxy
	refused  int // connections the proxy could not pass on: the server down
	idles    int // "+ idling" answers the server sent: a client in IDLE
	// hook runs once, before the server sees the next command holding
	// hookOn: the world changing under a command.
	hookOn string
	hook   func()
	// delay is added to every client send: the round trip of a server
	// across a network.
	delay  time.Duration
	closed bool
}

// startIMAP starts the server with INBOX; withMove false leaves MOVE out of
// the capabilities (UIDPLUS stays) so the COPY fallback runs.
func startIMAP(t testing.TB, withMove bool) *imapServer {
	t.Helper()
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapUIDPlus: {}, imap.CapLiteralPlus: {}}
	if withMove {
		caps[imap.CapMove] = struct{}{}
	}
	box := mailtest.StartIMAP(t, mailtest.IMAPOptions{User: testUser, Password: testPassword, Caps: caps})
	s := &imapServer{t: t, box: box, user: box.User}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.proxyLn, s.addr = ln, ln.Addr().String()
	go s.proxy(ln)
	t.Cleanup(s.close)
	return s
}

func (s *imapServer) proxy(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", s.box.Addr())
		if err != nil {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.mu.Lock()
		s.conns = append(s.conns, c, b)
		s.accepted++
		s.mu.Unlock()
		p := &proxyConn{s: s, c: c}
		go func() { io.Copy(p, b); c.Close() }()
		go s.pipeClient(p, b)
	}
}

// proxyConn is one client connection through the proxy; it passes the
// server's bytes on, counting the answers that start IDLE, or, once a
// command was cut after it was sent, swallows them until that command's
// tagged answer and then closes the connection: the server did the
// command, the client never hears.
type proxyConn struct {
	s *imapServer
	c net.Conn

	mu      sync.Mutex
	lostTag []byte // "\r\nTAG " of the command whose answer is lost
	seen    []byte
}

func (p *proxyConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	tag := p.lostTag
	if tag != nil {
		p.seen = append(p.seen, b...)
		done := bytes.Contains(p.seen, tag)
		p.mu.Unlock()
		if done {
			p.c.Close()
		}
		return len(b), nil
	}
	p.mu.Unlock()
	if n := bytes.Count(b, []byte("+ idling")); n > 0 {
		p.s.mu.Lock()
		p.s.idles += n
		p.s.mu.Unlock()
	}
	return p.c.Write(b)
}

// loseAnswer makes the proxy swallow the server's answer to the command
// sent in line, which holds trigger, and close the connection after it.
func (p *proxyConn) loseAnswer(line []byte, trigger string) {
	i := bytes.Index(line, []byte(trigger))
	start := bytes.LastIndex(line[:i], []byte("\n")) + 1
	tag, _, _ := bytes.Cut(line[start:], []byte(" "))
	p.mu.Lock()
	p.lostTag = append([]byte("\n"+string(tag)+" "), nil...)
	p.seen = []byte("\n")
	p.mu.Unlock()
}

// pipeClient copies client to server, cutting both when the trigger shows.
func (s *imapServer) pipeClient(p *proxyConn, b net.Conn) {
	c := p.c
	defer b.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			s.mu.Lock()
			var hook func()
			if s.hookOn != "" && bytes.Contains(buf[:n], []byte(s.hookOn)) {
				hook, s.hookOn = s.hook, ""
			}
			s.mu.Unlock()
			if hook != nil {
				hook()
			}
			s.mu.Lock()
			delay := s.delay
			s.mu.Unlock()
			if delay > 0 {
				time.Sleep(delay) // a distant server: each send pays the latency
			}
			s.mu.Lock()
			trigger := s.cutOn
			cut := trigger != "" && bytes.Contains(buf[:n], []byte(trigger))
			if cut {
				s.cutOn = ""
				s.cuts++
			}
			s.mu.Unlock()
			if cut && s.stall {
				// The server never sees the command nor answers: the
				// connection stays open and silent.
				io.Copy(io.Discard, c)
				return
			}
			if cut && !s.cutAfter {
				c.Close()
				return
			}
			if cut {
				// The server gets the command; its answer is lost.
				p.loseAnswer(buf[:n], trigger)
			}
			if _, err := b.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cutWhen arms the proxy to drop the connection at the next command
// holding s.
func (s *imapServer) cutWhen(trigger string, after bool) {
	s.mu.Lock()
	s.cutOn, s.cutAfter, s.stall = trigger, after, false
	s.mu.Unlock()
}

func (s *imapServer) cutCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cuts
}

// refusedCount is how many connections found the server down.
func (s *imapServer) refusedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// stop shuts the server down and drops every connection; start brings it
// back on the same address with the same mailboxes.
func (s *imapServer) stop() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.box.Stop()
}

func (s *imapServer) start() {
	if err := s.box.Start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *imapServer) close() {
	s.mu.Lock()
	closed := s.closed
	s.closed = true
	s.mu.Unlock()
	if !closed {
		s.proxyLn.Close()
		s.stop()
	}
}

// appendMail puts raw into INBOX as delivery does, unread.
func (s *imapServer) appendMail(raw []byte) {
	s.t.Helper()
	s.appendMailAt(raw, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
}

// appendMailAt appends raw with the given INTERNALDATE.
func (s *imapServer) appendMailAt(raw []byte, at time.Time) {
	s.t.Helper()
	if err := s.box.Append("INBOX", raw, &imap.AppendOptions{Time: at}); err != nil {
		s.t.Fatal(err)
	}
}

// appendMailDirect puts a message into INBOX as the MTA delivers while the
// IMAP service is down.
func (s *imapServer) appendMailDirect(raw []byte) {
	s.t.Helper()
	if err := s.box.Append("INBOX", raw, nil); err != nil {
		s.t.Fatal(err)
	}
}

// client is a test's own logged-in connection (straight to the server).
func (s *imapServer) client() *imapclient.Client {
	s.t.Helper()
	return s.box.Client(s.t)
}

// placed is where one message is and with which flags.
type placed = mailtest.Placed

// where lists, per Message-ID, every folder the message is in.
func (s *imapServer) where() map[string][]placed {
	s.t.Helper()
	return s.box.Where(s.t)
}

// sink is mailtest's SMTP sink; it refuses a message that does not parse.
type sink struct {
	*mailtest.Sink
	addr string
}

// sunk is one accepted message, parsed.
type sunk struct {
	from string
	to   []string
	msg  *mail.Message
	raw  []byte
}

func startSink(t testing.TB) *sink {
	t.Helper()
	s := mailtest.StartSink(t, mailtest.SinkOptions{})
	s.RefuseData(func(m mailtest.Mail) error {
		if _, err := mail.ReadMessage(bytes.NewReader(m.Data)); err != nil {
			return &smtp.SMTPError{Code: 550, Message: "unparsable: " + err.Error()}
		}
		return nil
	})
	return &sink{Sink: s, addr: s.Addr()}
}

func (s *sink) received() []sunk {
	var out []sunk
	for _, m := range s.Received() {
		msg, _ := mail.ReadMessage(bytes.NewReader(m.Data)) // the sink took only what parses
		out = append(out, sunk{from: m.From, to: m.To, msg: msg, raw: m.Data})
	}
	return out
}

// testConfig is a valid configuration against the test servers, with the
// store in dir.
func testConfig(t testing.TB, dir, imapAddr, smtpAddr string) Config {
	t.Helper()
	pw := filepath.Join(dir, "imap-password")
	if err := os.WriteFile(pw, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Config{
		Mailbox: MailboxConfig{
			Addr: imapAddr, TLS: TLSPlain, Username: testUser, PasswordFile: pw,
			CommandTimeout: 10 * time.Second, PollInterval: time.Second, IdleRestart: 5 * time.Second,
			ReconnectMin: 10 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
			AuthBackoffMin: 50 * time.Millisecond, AuthBackoffMax: time.Second,
		},
		Policy: PolicyConfig{
			AllowedSenderDomains: []string{testDomain},
			MaxAttachmentSize:    256 << 10,
		},
		Store: StoreConfig{Path: filepath.Join(dir, "intake.db")},
		Mailer: mailer.Config{
			FromAddress: testUser, FromName: "Hjälpmedelscentrum",
			LoginInstructions: "Logga in på https://websesam.example.se med ditt användarnamn.",
			FormURL:           "https://region.example.se/websesam",
			AllowedDomains:    []string{testDomain},
			RetryBase:         50 * time.Millisecond, RetryMax: time.Second, PollInterval: 100 * time.Millisecond,
			ReconnectMax: time.Second,
			SMTP:         mailer.SMTPConfig{Addr: smtpAddr, TLS: mailer.Plain},
		},
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	return c
}

// openDaemon opens the store and builds the daemon; both close with the test.
func openDaemon(t testing.TB, cfg Config, opts Options) (*Daemon, *store.Store) {
	t.Helper()
	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	// The mail loop's tests cut and count connections; the retention
	// pass (a connection of its own) is proven in retention_test.go.
	opts.SkipRetention = true
	d, err := New(cfg, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, st
}

// testLogger writes the daemon's log into the test's log, shown on failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// readMail reads a fixture.
func readMail(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mailDir, name+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// stallWhen arms the proxy to swallow the next command holding trigger and
// keep the connection open without an answer: a server that hangs.
func (s *imapServer) stallWhen(trigger string) {
	s.mu.Lock()
	s.cutOn, s.cutAfter, s.stall = trigger, false, true
	s.mu.Unlock()
}

// acceptedCount is how many connections clients made through the proxy.
func (s *imapServer) acceptedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

func (s *imapServer) idleCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idles
}

// beforeCommand runs f once, just before the server gets the next command
// holding trigger.
func (s *imapServer) beforeCommand(trigger string, f func()) {
	s.mu.Lock()
	s.hookOn, s.hook = trigger, f
	s.mu.Unlock()
}

// setDelay makes the server as far away as a round trip of d.
func (s *imapServer) setDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}
