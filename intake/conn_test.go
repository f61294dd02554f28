package intake

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
)

// startTokenIMAP serves the in-memory server over TLS with a private CA,
// implicit or through STARTTLS, offering PLAIN with the password and
// XOAUTH2 and OAUTHBEARER with the tokens accept says are valid.
func startTokenIMAP(t *testing.T, ca *mailtest.CA, implicit bool, accept func(string) bool) string {
	t.Helper()
	return mailtest.StartIMAP(t, mailtest.IMAPOptions{User: testUser, Password: testPassword,
		Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}}, TLS: ca.ServerTLS(), ImplicitTLS: implicit,
		Tokens: accept}).Addr()
}

// TestDialModes logs in over implicit TLS and STARTTLS with a private CA,
// and with every mechanism; a certificate not trusted and a wrong token
// fail, the latter as ErrAuth.
func TestDialModes(t *testing.T) {
	dir := t.TempDir()
	ca := mailtest.StartCA(t, dir)
	caFile := ca.File
	tokenFile := filepath.Join(dir, "token")
	if err := writeFile(tokenFile, "ya29.rätt-token\n"); err != nil {
		t.Fatal(err)
	}
	wrongToken := filepath.Join(dir, "wrong-token")
	if err := writeFile(wrongToken, "ya29.fel\n"); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "password")
	if err := writeFile(pw, testPassword+"\n"); err != nil {
		t.Fatal(err)
	}
	token := func(tok string) bool { return tok == "ya29.rätt-token" }
	tlsAddr := startTokenIMAP(t, ca, true, token)
	startAddr := startTokenIMAP(t, ca, false, token)
	for _, c := range []struct {
		name    string
		m       MailboxConfig
		wantErr string // "" for success
		auth    bool   // the error must be ErrAuth
	}{
		{"tls login", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthLogin, PasswordFile: pw}, "", false},
		{"starttls plain", MailboxConfig{Addr: startAddr, TLS: TLSStart, CAFile: caFile, Auth: AuthPlain, PasswordFile: pw}, "", false},
		{"tls xoauth2 token file", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthXOAUTH2, TokenFile: tokenFile}, "", false},
		{"tls oauthbearer token command", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthOAuthBearer,
			TokenCommand: []string{"/bin/cat", tokenFile}}, "", false},
		{"tls xoauth2 wrong token", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthXOAUTH2, TokenFile: wrongToken}, "imap login refused", true},
		{"tls without the CA", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, Auth: AuthLogin, PasswordFile: pw}, "certificate signed by unknown authority", false},
		{"starttls without the CA", MailboxConfig{Addr: startAddr, TLS: TLSStart, Auth: AuthLogin, PasswordFile: pw}, "certificate signed by unknown authority", false},
		{"token command fails", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthXOAUTH2, TokenCommand: []string{"/bin/false"}}, "run token command /bin/false", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.m.Username, c.m.CommandTimeout = testUser, 10*time.Second
			cn, err := dial(context.Background(), c.m, nil)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer cn.close()
				if _, err := cn.c.Select("INBOX", nil).Wait(); err != nil {
					t.Fatalf("select after login: %v", err)
				}
				return
			}
			if err == nil {
				cn.close()
				t.Fatalf("dial: got success, want %q", c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantErr) || errors.Is(err, ErrAuth) != c.auth {
				t.Fatalf("dial: got %v (ErrAuth %v), want %q (ErrAuth %v)", err, errors.Is(err, ErrAuth), c.wantErr, c.auth)
			}
		})
	}
}

// TestCommandDeadline: a server that stops answering in the middle of a
// command is given up on after the command timeout (the client library
// would wait for ever), and the message is handled after reconnecting.
func TestCommandDeadline(t *testing.T) {
	for _, trigger := range []string{"BODY.PEEK[]", "UID MOVE", "IDLE"} {
		t.Run(trigger, func(t *testing.T) {
			srv, _, cfg := startMail(t, true)
			cfg.Mailbox.CommandTimeout = 500 * time.Millisecond
			cfg.Mailbox.PollInterval = 300 * time.Millisecond
			var logs mailtest.Buffer
			d, st := openDaemon(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if trigger != "IDLE" {
				srv.appendMail(readMail(t, "outlook-pdf"))
			}
			srv.StallWhen(trigger)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			if trigger == "IDLE" {
				srv.WaitFor(t, "the IDLE stall", 10*time.Second, func(n mailtest.ProxyCounts) bool { return n.Cuts == 1 })
				srv.appendMail(readMail(t, "outlook-pdf"))
			}
			waitFor(t, "the message handled after the stall", 20*time.Second, func() bool {
				keys, err := st.Unsettled("INBOX")
				return err == nil && len(keys) == 0 && len(recorded(t, st)) == 1
			})
			// The log line is written by the goroutine that lost the
			// connection; give it the moment it may need after the work
			// is done, then require it.
			mailtest.Until(5*time.Second, &logs.Changed, func() bool { return strings.Contains(logs.String(), "deadline passed") })
			cancel()
			<-done
			if got := srv.Counts().Cuts; got != 1 {
				t.Errorf("stalls: got %d, want 1", got)
			}
			if !strings.Contains(logs.String(), "deadline passed") {
				t.Errorf("the log does not say the deadline passed:\n%s", logs.String())
			}
		})
	}
}

// TestDialSilentServer: a server that accepts the connection and never
// greets is given up on after the command timeout, in every TLS mode.
func TestDialSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := writeFile(pw, "x\n"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{TLSPlain, TLSImplicit, TLSStart} {
		t.Run(mode, func(t *testing.T) {
			m := MailboxConfig{Addr: ln.Addr().String(), TLS: mode, Username: testUser, Auth: AuthLogin, PasswordFile: pw, CommandTimeout: 300 * time.Millisecond}
			_, err := dial(context.Background(), m, nil)
			if !errors.Is(err, errDeadline) {
				t.Fatalf("dial: got %v, want errDeadline", err)
			}
		})
	}
}
