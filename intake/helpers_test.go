package intake

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

const (
	testUser     = "info.hmc@region.example.se"
	testPassword = "lösen-för-test"
	testDomain   = "region.example.se"
)

// imapServer is go-imap's in-memory server on 127.0.0.1 behind a proxy
// that can cut every connection when the client sends a given command. The
// mailbox state outlives stop/start, like a real server's disk.
type imapServer struct {
	t    testing.TB
	mem  *imapmemserver.Server
	user *imapmemserver.User
	caps imap.CapSet

	mu      sync.Mutex
	srv     *imapserver.Server
	addr    string // the proxy's address, what clients dial
	backend string // the server's own address
	proxyLn net.Listener
	conns   []net.Conn
	// cutOn, when set, closes the connection as soon as the client sends a
	// line containing it (then it is cleared): a drop mid-command.
	cutOn    string
	cutAfter bool // forward the command first, then cut
	stall    bool // swallow the command and everything after it, silently
	cuts     int
	accepted int // connections made through the proxy
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
	s := &imapServer{t: t, mem: imapmemserver.New(), user: imapmemserver.NewUser(testUser, testPassword)}
	if err := s.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	s.mem.AddUser(s.user)
	s.caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapUIDPlus: {}, imap.CapLiteralPlus: {}}
	if withMove {
		s.caps[imap.CapMove] = struct{}{}
	}
	s.startBackend("127.0.0.1:0")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.proxyLn, s.addr = ln, ln.Addr().String()
	go s.proxy(ln)
	t.Cleanup(s.close)
	return s
}

func (s *imapServer) startBackend(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatalf("listen: %v", err)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return s.mem.NewSession(), nil, nil
		},
		Caps:         s.caps,
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	s.mu.Lock()
	s.srv, s.backend = srv, ln.Addr().String()
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *imapServer) proxy(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		backend := s.backend
		s.mu.Unlock()
		b, err := net.Dial("tcp", backend)
		if err != nil {
			c.Close()
			continue
		}
		s.mu.Lock()
		s.conns = append(s.conns, c, b)
		s.accepted++
		s.mu.Unlock()
		go func() { io.Copy(idleCounter{s, c}, b); c.Close() }()
		go s.pipeClient(c, b)
	}
}

// pipeClient copies client to server, cutting both when the trigger shows.
func (s *imapServer) pipeClient(c, b net.Conn) {
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
			cut := s.cutOn != "" && bytes.Contains(buf[:n], []byte(s.cutOn))
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
			if _, err := b.Write(buf[:n]); err != nil {
				return
			}
			if cut {
				// The server got the command; its answer is lost.
				time.Sleep(50 * time.Millisecond)
				c.Close()
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

// stop shuts the server down and drops every connection; start brings it
// back on the same address with the same mailboxes.
func (s *imapServer) stop() {
	s.mu.Lock()
	srv, conns := s.srv, s.conns
	s.srv, s.conns = nil, nil
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	if srv != nil {
		srv.Close()
	}
}

func (s *imapServer) start() { s.startBackend(s.backend) }

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
	c := s.client()
	defer c.Close()
	cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Time: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)})
	if _, err := cmd.Write(raw); err != nil {
		s.t.Fatalf("append: %v", err)
	}
	if err := cmd.Close(); err != nil {
		s.t.Fatalf("append: %v", err)
	}
	if _, err := cmd.Wait(); err != nil {
		s.t.Fatalf("append: %v", err)
	}
}

// client is a test's own logged-in connection (straight to the server).
func (s *imapServer) client() *imapclient.Client {
	s.t.Helper()
	s.mu.Lock()
	addr := s.backend
	s.mu.Unlock()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		s.t.Fatalf("dial imap: %v", err)
	}
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		s.t.Fatalf("login: %v", err)
	}
	return c
}

// placed is where one message is and with which flags.
type placed struct {
	Folder string
	Flags  []imap.Flag
}

// where lists, per Message-ID, every folder the message is in.
func (s *imapServer) where() map[string][]placed {
	s.t.Helper()
	c := s.client()
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		s.t.Fatalf("list: %v", err)
	}
	out := map[string][]placed{}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			s.t.Fatalf("examine %s: %v", l.Mailbox, err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		var set imap.SeqSet
		set.AddRange(1, sel.NumMessages)
		bufs, err := c.Fetch(set, &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
		if err != nil {
			s.t.Fatalf("fetch %s: %v", l.Mailbox, err)
		}
		for _, b := range bufs {
			slices.Sort(b.Flags) // the server lists them in map order
			out[b.Envelope.MessageID] = append(out[b.Envelope.MessageID], placed{Folder: l.Mailbox, Flags: b.Flags})
		}
	}
	return out
}

// sink is a go-smtp server on 127.0.0.1 that keeps what it accepts.
type sink struct {
	addr  string
	srv   *smtp.Server
	mu    sync.Mutex
	mails []sunk
}

type sunk struct {
	from string
	to   []string
	msg  *mail.Message
	raw  []byte
}

func startSink(t testing.TB) *sink {
	t.Helper()
	s := &sink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.MaxMessageBytes = 64 << 20
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

func (s *sink) received() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.mails...)
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 550, Message: "unparsable: " + err.Error()}
	}
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, sunk{from: ss.from, to: ss.to, msg: m, raw: raw})
	ss.s.mu.Unlock()
	return nil
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

// idleCounter passes the server's bytes to the client and counts the
// answers that start IDLE.
type idleCounter struct {
	s *imapServer
	w io.Writer
}

func (ic idleCounter) Write(p []byte) (int, error) {
	if n := bytes.Count(p, []byte("+ idling")); n > 0 {
		ic.s.mu.Lock()
		ic.s.idles += n
		ic.s.mu.Unlock()
	}
	return ic.w.Write(p)
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
