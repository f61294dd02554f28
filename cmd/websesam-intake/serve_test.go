package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

const (
	serveUser     = "info.hmc@region.example.se"
	servePassword = "test"
)

// startServers runs an in-memory IMAP server holding the given fixtures in
// INBOX and an SMTP sink, both on 127.0.0.1.
func startServers(t *testing.T, fixtures ...string) (*mailtest.IMAP, *mailtest.Sink) {
	t.Helper()
	srv := mailtest.StartIMAP(t, mailtest.IMAPOptions{User: serveUser, Password: servePassword})
	for _, f := range fixtures {
		raw, err := os.ReadFile(filepath.Join("../../testdata/mail", f+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		srv.Deliver(t, raw)
	}
	return srv, mailtest.StartSink(t, mailtest.SinkOptions{})
}

// serveConfig writes a configuration against the test servers.
func serveConfig(t *testing.T, imapAddr, smtpAddr string) (path, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "imap-password")
	if err := os.WriteFile(pw, []byte(servePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath = filepath.Join(dir, "intake.db")
	cfg := fmt.Sprintf(`
[mailbox]
addr = %q
tls = "plain"
username = %q
password_file = %q

[policy]
allowed_sender_domains = ["region.example.se"]

[store]
path = %q

[staff]
socket = %q

[mailer]
from_address = %q
login_instructions = "Logga in på https://websesam.example.se."
form_url = "https://region.example.se/websesam"
allowed_recipient_domains = ["region.example.se"]

[mailer.smtp]
addr = %q
tls = "plain"
`, imapAddr, serveUser, pw, dbPath, filepath.Join(dir, "staff.sock"), serveUser, smtpAddr)
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dbPath
}

func runServe(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[mailbox]\naddr = \"imap.example.se\"\npassword = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no config", nil, "serve needs --config FILE"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.toml")}, "bad configuration: read"},
		{"bad config", []string{"--config", bad}, "mailbox.password: unknown key"},
		{"unknown flag", []string{"--verbose"}, "unknown flag: --verbose"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runServe(t, c.args...)
			if code != 2 {
				t.Errorf("exit status: got %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr, c.want)
			}
		})
	}
}

// TestServeOnce runs `serve --once` in-process: the forms are recorded, the
// replies delivered, and the command exits 0.
func TestServeOnce(t *testing.T) {
	srv, sk := startServers(t, "outlook-pdf", "no-attachment", "own-reply", "not-matching")
	cfg, db := serveConfig(t, srv.Addr(), sk.Addr())
	_, stderr, code := runServe(t, "--config", cfg, "--once")
	if code != 0 {
		t.Fatalf("exit status: got %d, want 0; stderr:\n%s", code, stderr)
	}
	if got, want := sk.Count(), 2; got != want {
		t.Errorf("replies sent: got %d, want %d (receipt and no-form)", got, want)
	}
	got := map[store.Outcome]int{}
	for _, m := range storedMessages(t, db) {
		got[m.Outcome]++
	}
	if want := map[store.Outcome]int{store.OutcomeQueued: 1, store.OutcomeNoForm: 1, store.OutcomeIgnored: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outcomes: got %v, want %v", got, want)
	}
	if strings.Contains(stderr, "Öberg") || strings.Contains(stderr, "asa.oberg") {
		t.Errorf("the log holds personal data:\n%s", stderr)
	}
}

// TestServeDryRun prints what would happen and creates no database.
func TestServeDryRun(t *testing.T) {
	srv, sk := startServers(t, "outlook-pdf", "not-matching")
	cfg, db := serveConfig(t, srv.Addr(), sk.Addr())
	stdout, stderr, code := runServe(t, "--config", cfg, "--dry-run")
	if code != 0 {
		t.Fatalf("exit status: got %d, want 0; stderr:\n%s", code, stderr)
	}
	want := "uid 1 message-id <AM0PR01MB1001@AM0PR01MB1001.eurprd01.prod.outlook.com>: queued (every form complete and valid), 1 request(s), receipt to the sender, to folder webSesam/Queued\n"
	if stdout != want {
		t.Errorf("stdout:\ngot  %q\nwant %q", stdout, want)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("the dry run created the database")
	}
	if n := sk.Count(); n != 0 {
		t.Errorf("the dry run sent %d mails", n)
	}
}

// TestServeRunsUntilStopped runs the daemon as serve does until the signal
// context ends: the mail is handled and answered by the outbox worker that
// runs inside serve, and the command exits 0.
func TestServeRunsUntilStopped(t *testing.T) {
	srv, sk := startServers(t, "outlook-pdf", "no-attachment")
	cfg, _ := serveConfig(t, srv.Addr(), sk.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, strings.NewReader(""), &out, &errOut) }()
	if !sk.Reached(2, 30*time.Second) {
		cancel()
		<-done
		t.Fatalf("replies: got %d, want 2 within 30s; stderr:\n%s", sk.Count(), errOut.String())
	}
	// While it runs, the staff commands reach it over its socket (the
	// store is held by serve, so only the socket can answer).
	sock := filepath.Join(filepath.Dir(cfg), "staff.sock")
	listOut, listErr, code := runCLI(t, "queue", "list", "--json", "--socket", sock, "--db", filepath.Join(filepath.Dir(cfg), "intake.db"))
	if code != 0 {
		t.Errorf("queue list over the socket: exit %d: %s", code, listErr)
	}
	var reqs []map[string]any
	if err := json.Unmarshal([]byte(listOut), &reqs); err != nil || len(reqs) != 1 {
		t.Errorf("queue list over the socket: got %d requests (%v), want 1:\n%s", len(reqs), err, listOut)
	}
	cancel()
	select {
	case err := <-done:
		if code := exitCode(err, &errOut); code != 0 {
			t.Errorf("exit status: got %d, want 0 (%v)", code, err)
		}
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("staff socket left behind after stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
}

// TestServeDryRunBesideDaemon: while another process holds the store, the
// dry run still reports, without it.
func TestServeDryRunBesideDaemon(t *testing.T) {
	srv, sk := startServers(t, "no-attachment")
	cfg, db := serveConfig(t, srv.Addr(), sk.Addr())
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// bbolt locks per open file description: a second open in this
	// process waits like another process would.
	stdout, stderr, code := runServe(t, "--config", cfg, "--dry-run")
	if code != 0 {
		t.Fatalf("exit status: got %d, want 0; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "the daemon holds the store") {
		t.Errorf("stderr: got %q, want the note that the store is held", stderr)
	}
	if !strings.Contains(stdout, ": no-form (no attachment)") {
		t.Errorf("stdout: got %q, want the no-form line", stdout)
	}
}
