package intake

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
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

// imapServer is mailtest's in-memory IMAP server behind mailtest's proxy,
// which cuts, stalls or slows connections on cue. Clients dial addr, the
// proxy. The mailbox state outlives stop/start, like a real server's disk.
type imapServer struct {
	*mailtest.Proxy
	t    testing.TB
	box  *mailtest.IMAP
	user *imapmemserver.User
	addr string
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
	p := mailtest.StartProxy(t, box.Addr())
	return &imapServer{Proxy: p, t: t, box: box, user: box.User, addr: p.Addr()}
}

// stop shuts the server down and drops every connection; start brings it
// back on the same address with the same mailboxes.
func (s *imapServer) stop() {
	s.DropAll()
	s.box.Stop()
}

func (s *imapServer) start() {
	if err := s.box.Start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *imapServer) close() {
	s.Proxy.Stop()
	s.box.Stop()
}

// beforeCommand is the proxy's, by the name the tests use.
func (s *imapServer) beforeCommand(trigger string, f func()) { s.BeforeCommand(trigger, f) }

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

// startMail starts the IMAP server (startIMAP) and the sink, and returns
// them with a valid configuration against them, its store in a fresh
// directory.
func startMail(t testing.TB, withMove bool) (*imapServer, *sink, Config) {
	t.Helper()
	srv, sk := startIMAP(t, withMove), startSink(t)
	return srv, sk, testConfig(t, t.TempDir(), srv.addr, sk.addr)
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
