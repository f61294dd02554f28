package doctor

import (
	"context"

	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"github.com/regionhmc/websesam-intake/intake/directory/slapdtest"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
)

const (
	mailUser = "intake@region.example.se"
	password = "rätt lösen"
)

// refusingSession refuses to create any folder whose name holds "Nej".
type refusingSession struct{ imapserver.Session }

func (s refusingSession) Create(name string, opts *imap.CreateOptions) error {
	if strings.Contains(name, "Nej") {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "permission denied"}
	}
	return s.Session.Create(name, opts)
}

// startIMAP serves implicit TLS without MOVE and UIDPLUS.
func startIMAP(t *testing.T, ca *mailtest.CA) *mailtest.IMAP {
	t.Helper()
	return mailtest.StartIMAP(t, mailtest.IMAPOptions{
		User: mailUser, Password: password, TLS: ca.ServerTLS(), ImplicitTLS: true,
		Caps:    imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}},
		Session: func(s imapserver.Session) imapserver.Session { return refusingSession{s} },
	})
}

// startSMTP offers STARTTLS and AUTH PLAIN and keeps what it is given.
func startSMTP(t *testing.T, ca *mailtest.CA) *mailtest.Sink {
	t.Helper()
	return mailtest.StartSink(t, mailtest.SinkOptions{Domain: "relay.test", TLS: ca.ServerTLS(),
		Auth: map[string]string{sasl.Plain: password}, User: mailUser})
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type setup struct {
	dir, imapAddr, smtpAddr, caFile, metrics string
	quarantine                               string
}

func (s setup) write(t *testing.T, edit func(string) string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "imap-password"), []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`
[mailbox]
addr = %q
ca_file = %q
username = %q
password_file = "imap-password"
command_timeout = "10s"

[folders]
quarantined = %q

[store]
path = %q

[staff]
socket = %q

[metrics]
addr = %q

[mailer]
from_address = %q
login_instructions = "Logga in."
form_url = "https://region.example.se/websesam"
allowed_recipient_domains = ["region.example.se"]

[mailer.smtp]
addr = %q
ca_file = %q
auth = "plain"
username = %q
password_file = "imap-password"
`, s.imapAddr, s.caFile, mailUser, s.quarantine, filepath.Join(s.dir, "intake.db"), filepath.Join(s.dir, "staff.sock"), s.metrics,
		mailUser, s.smtpAddr, s.caFile, mailUser)
	if edit != nil {
		body = edit(body)
	}
	path := filepath.Join(s.dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runDoctor(t *testing.T, o Options) (map[string]Result, bool) {
	t.Helper()
	got := map[string]Result{}
	o.Timeout = 10 * time.Second
	o.Report = func(r Result) {
		if r.Status == Fail {
			got[r.Check] = r // a failure wins over an earlier line of the same check
			return
		}
		if _, ok := got[r.Check]; !ok {
			got[r.Check] = r
		}
	}
	failed := Run(context.Background(), o)
	return got, failed
}

func want(t *testing.T, got map[string]Result, check string, st Status, detail, advice string) {
	t.Helper()
	r, ok := got[check]
	if !ok {
		t.Errorf("%s: no result; got %v", check, got)
		return
	}
	if r.Status != st || !strings.Contains(r.Detail, detail) || !strings.Contains(r.Advice, advice) {
		t.Errorf("%s: got %s %q (advice %q), want %s with %q (advice %q)", check, r.Status, r.Detail, r.Advice, st, detail, advice)
	}
}

// TestDoctorDirectory binds to a real slapd and makes one lookup; with
// slapd stopped the line fails with what to check.
func TestDoctorDirectory(t *testing.T) {
	dir := t.TempDir()
	ca := mailtest.StartCA(t, dir)
	im, sink := startIMAP(t, ca), startSMTP(t, ca)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	ldap := slapdtest.Start(t)
	s := setup{dir: dir, imapAddr: im.Addr(), smtpAddr: sink.Addr(), caFile: ca.File, metrics: freePort(t), quarantine: "webSesam/Quarantine"}
	path := s.write(t, func(body string) string {
		return body + fmt.Sprintf("\n[directory]\nurl = %q\nca_file = %q\nbind_dn = %q\npassword_file = %q\nbase_dn = %q\ntimeout = \"3s\"\n",
			ldap.URL, ldap.CAFile, ldap.BindDN, ldap.PasswordFile, ldap.BaseDN)
	})
	got, _ := runDoctor(t, Options{ConfigPath: path})
	want(t, got, "directory", OK, "bound to "+ldap.URL+" as "+ldap.BindDN+"; "+mailUser+" looked up: ", "")
	ldap.Stop()
	got, failed := runDoctor(t, Options{ConfigPath: path})
	if !failed {
		t.Error("doctor passed with the directory down")
	}
	want(t, got, "directory", Fail, ldap.URL+": ", "check directory.url, the CA")
	ldap.Start()
}

// TestDoctor runs every check against an in-process IMAP server (implicit
// TLS) and SMTP relay (STARTTLS, AUTH PLAIN) that trust a private CA.
func TestDoctor(t *testing.T) {
	dir := t.TempDir()
	ca := mailtest.StartCA(t, dir)
	im, sink := startIMAP(t, ca), startSMTP(t, ca)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	s := setup{dir: dir, imapAddr: im.Addr(), smtpAddr: sink.Addr(), caFile: ca.File, metrics: freePort(t), quarantine: "webSesam/Quarantine"}

	t.Run("all hold, folders created with --fix", func(t *testing.T) {
		path := s.write(t, nil)
		got, failed := runDoctor(t, Options{ConfigPath: path})
		if failed {
			t.Errorf("a check failed: %v", got)
		}
		want(t, got, "config", OK, "is valid", "")
		want(t, got, "secret mailbox.password_file", OK, "is readable by", "")
		want(t, got, "mailbox dns", OK, "127.0.0.1 is an address", "")
		want(t, got, "mailbox tcp", OK, "connected to "+im.Addr(), "")
		want(t, got, "mailbox tls", OK, `certificate for 127.0.0.1 verified (chain to "mailtest CA"), expires in 39 days`, "")
		want(t, got, "mailbox greeting", OK, "an IMAP server answered", "")
		want(t, got, "mailbox login", OK, "logged in as "+mailUser+" (login)", "")
		want(t, got, "mailbox capability IDLE", OK, "offered", "")
		want(t, got, "mailbox capability MOVE", Warn, "not offered: a message is moved as COPY, \\Deleted and EXPUNGE in steps", "")
		want(t, got, "mailbox capability UIDPLUS", Warn, "not offered: without UID EXPUNGE", "")
		want(t, got, "folder INBOX", OK, "exists (watched)", "")
		want(t, got, "folder webSesam/Queued", Warn, "missing; the daemon creates it", "run doctor --fix")
		want(t, got, "mailer.smtp tls", OK, "certificate for 127.0.0.1 verified", "")
		want(t, got, "mailer.smtp login", OK, "logged in as "+mailUser+" (plain)", "")
		want(t, got, "mailer.smtp send", OK, "no mail sent", "")
		want(t, got, "store", OK, "is writable; intake.db is made at the first start", "")
		want(t, got, "directory", OK, "off: managers and HSA-ids are not checked", "")
		want(t, got, "metrics", OK, "is free", "")

		got, failed = runDoctor(t, Options{ConfigPath: path, Fix: true, SendTest: "anna@region.example.se"})
		if failed {
			t.Errorf("a check failed: %v", got)
		}
		want(t, got, "folder webSesam/Queued", OK, "created", "")
		want(t, got, "mailer.smtp send", OK, "a test mail to anna@region.example.se was accepted", "")
		got, _ = runDoctor(t, Options{ConfigPath: path})
		want(t, got, "folder webSesam/Quarantine", OK, "exists", "")
		if got := sink.Received(); len(got) != 1 || !strings.Contains(string(got[0].Data), "X-Websesam-Intake-Loop: region.example.se") {
			t.Errorf("the relay got %d mails, want one test mail with the loop header", len(got))
		}
	})

	cases := []struct {
		name                  string
		edit                  func(string) string
		opts                  Options
		check, detail, advice string
	}{
		{"wrong password", func(b string) string {
			return strings.Replace(b, `password_file = "imap-password"`, `password_file = "wrong-password"`, 1)
		}, Options{}, "mailbox login", "as " + mailUser + " (login)", "the server refused the user name and password"},
		{"no CA", func(b string) string {
			return strings.Replace(b, fmt.Sprintf("ca_file = %q\nusername", ca.File), "username", 1)
		}, Options{}, "mailbox tls", "certificate signed by unknown authority", "set ca_file to that CA's PEM file"},
		{"server down", func(b string) string {
			return strings.Replace(b, im.Addr(), freePort(t), 1)
		}, Options{}, "mailbox tcp", "connection refused", "that the server runs"},
		{"folder cannot be created", func(b string) string {
			return strings.Replace(b, `"webSesam/Quarantine"`, `"webSesam/Nej"`, 1)
		}, Options{Fix: true}, "folder webSesam/Nej", "missing, and cannot be created: imap: NO [NOPERM] permission denied", "create it by hand"},
		{"send-test outside the allowed domains", nil, Options{SendTest: "x@gmail.com"},
			"mailer.smtp send", "x@gmail.com is outside mailer.allowed_recipient_domains; nothing sent", ""},
		{"bad config", func(b string) string { return b + "\n[nonsense]\nkey = 1\n" }, Options{},
			"config", "nonsense.key: unknown key", "fix it in"},
	}
	if err := os.WriteFile(filepath.Join(dir, "wrong-password"), []byte("fel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.ConfigPath = s.write(t, c.edit)
			got, failed := runDoctor(t, c.opts)
			if !failed {
				t.Errorf("no check failed: %v", got)
			}
			want(t, got, c.check, Fail, c.detail, c.advice)
		})
	}

}
