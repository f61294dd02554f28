//go:build e2e

// The end-to-end proof of the built-in OAuth2 client and of doctor against
// real Dovecot and Postfix (see e2e_test.go for how the suite runs). The
// test serves the token issuer itself (over TLS, as MSAL insists) and the
// RFC 7662 introspection endpoint Dovecot's oauth2 passdb asks about every
// token; `.ci/mailstack enable-oauth2` points Dovecot at it.

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/endpoint/oauth2test"
)

const (
	e2eTenant   = "e2e-tenant.example.se"
	e2eClientID = "7c1e5a9b-0e2e-4d6a-9c1f-00000000e2e0"
	e2eSecret   = "e2e~Client.Secret-0123456789abcdef"
)

// enableOAuth2 starts the issuer and makes Dovecot (and Postfix through
// Dovecot SASL) accept its tokens for the intake mailbox.
func enableOAuth2(t *testing.T, s stack) *oauth2test.Server {
	t.Helper()
	issuer := oauth2test.Start(t, e2eClientID, e2eSecret, nil)
	issuer.Username = s.intake
	out, err := exec.Command(s.mailstackTool, "enable-oauth2", s.dir, issuer.IntrospectURL).CombinedOutput()
	if err != nil {
		t.Fatalf("mailstack enable-oauth2: %v\n%s", err, out)
	}
	return issuer
}

// writeOAuth2Config is the operator's configuration with nothing but the
// tenant, the client id and the secret (plus where the test's issuer is).
func (s stack) writeOAuth2Config(t *testing.T, dir string, issuer *oauth2test.Server, imapAuth, secretFile string) string {
	t.Helper()
	o := s.defaults()
	o.imapAuth, o.smtpXOAUTH2 = imapAuth, true
	o.extra = fmt.Sprintf("\n[oauth2]\ntenant = %q\nclient_id = %q\nclient_secret_file = %q\nauthority = %q\nca_file = %q\n",
		e2eTenant, e2eClientID, secretFile, issuer.URL, issuer.CAFile)
	return s.writeConfig(t, dir, o)
}

// send submits each message to the intake address over the plain
// submission port without waiting for it to arrive: the daemon may already
// be moving them out of INBOX.
func (s stack) send(t *testing.T, raws [][]byte) {
	t.Helper()
	s.sendEach(t, raws, nil)
}

// TestE2EOAuth2 drains a backlog with tokens that live three seconds, for
// each IMAP mechanism: every message one outcome, one folder, one reply;
// tokens renewed many times, no secret in the log. A wrong client secret
// is a refused login that the daemon reports and backs off from.
func TestE2EOAuth2(t *testing.T) {
	s := loadStack(t)
	issuer := enableOAuth2(t, s)
	issuer.SetLifetime(3 * time.Second)
	n := envInt(t, "E2E_OAUTH2_MESSAGES", 60)
	for _, mech := range []string{"xoauth2", "oauthbearer"} {
		t.Run(mech, func(t *testing.T) {
			s.reset(t)
			dir := t.TempDir()
			secretFile := filepath.Join(dir, "client-secret")
			if err := os.WriteFile(secretFile, []byte(e2eSecret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			raws, want, wantReqs, wantReplies := load(t, "oauth2-"+mech, n)
			_, _, _, firstReplies := load(t, "oauth2-"+mech, n/2)
			s.submit(t, raws[:n/2], false)
			before := len(issuer.Issued())
			cfg := s.writeOAuth2Config(t, dir, issuer, mech, secretFile)
			d := s.start(t, dir, "serve", "--config", cfg)
			settled := func() int {
				c := s.login(t, s.intake)
				defer c.Close()
				return s.settledCount(c)
			}
			waitFor(t, "the first half drained", 3*time.Minute, func() bool { return settled() >= n/2 })
			waitFor(t, "the first half's replies delivered", 3*time.Minute, func() bool { return s.repliesIn(t) >= firstReplies })
			// The rest arrives once the token of the first half has
			// lapsed (the daemon drains 30 forms in well under its 3 s
			// life): its replies need SMTP sessions with a new token.
			// The sleep is the lifetime under test, not synchronisation.
			time.Sleep(4 * time.Second)
			s.send(t, raws[n/2:])
			waitFor(t, "every message settled", 3*time.Minute, func() bool { return settled() >= n })
			waitFor(t, "every reply delivered", 3*time.Minute, func() bool { return s.repliesIn(t) >= wantReplies })
			d.term(t)
			resent, redelivered := s.verifyLoad(t, filepath.Join(dir, "intake.db"), want, wantReqs)
			if resent != 0 {
				t.Errorf("%d replies sent twice", resent)
			}
			t.Logf("%d messages, %d replies, %d tokens issued, %d Postfix redeliveries", n, wantReplies, len(issuer.Issued())-before, redelivered)
			if got := len(issuer.Issued()) - before; got < 2 {
				t.Errorf("%d tokens issued over the run, want several (they live 3s)", got)
			}
			logs, err := os.ReadFile(d.log)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range append([]string{e2eSecret}, issuer.Issued()...) {
				if strings.Contains(string(logs), secret) {
					t.Fatalf("the daemon's log holds a secret or a token")
				}
			}
		})
	}

	t.Run("refused secret", func(t *testing.T) {
		s.reset(t)
		dir := t.TempDir()
		secretFile := filepath.Join(dir, "client-secret")
		if err := os.WriteFile(secretFile, []byte("wrong-"+e2eSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		refused := issuer.Refused()
		cfg := s.writeOAuth2Config(t, dir, issuer, "xoauth2", secretFile)
		d := s.start(t, dir, "serve", "--config", cfg)
		waitFor(t, "a refused token request", time.Minute, func() bool { return issuer.Refused() >= refused+2 })
		if !d.running() {
			t.Fatal("the daemon exited on a refused secret; it must back off and retry")
		}
		// The operator fixes the secret; the next attempt logs in.
		if err := os.WriteFile(secretFile, []byte(e2eSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		raws, _, _, _ := load(t, "oauth2-fixed", 3)
		s.send(t, raws)
		waitFor(t, "the mail handled once the secret is right", time.Minute, func() bool {
			c := s.login(t, s.intake)
			defer c.Close()
			return s.settledCount(c) >= 3
		})
		d.term(t)
		logs, _ := os.ReadFile(d.log)
		if !strings.Contains(string(logs), "imap login refused") || !strings.Contains(string(logs), "credential refused by the token issuer") {
			t.Errorf("the log does not say the login was refused for the secret:\n%s", logs)
		}
		if strings.Contains(string(logs), e2eSecret) {
			t.Error("the log holds the secret")
		}
	})
}

// TestE2EDoctor: doctor against the real stack, all ✓; then each fault an
// operator meets gives its ✗ line with advice, and exit status 1.
func TestE2EDoctor(t *testing.T) {
	s := loadStack(t)
	issuer := enableOAuth2(t, s)
	s.reset(t)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(e2eSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doctor := func(cfg string, args ...string) (string, int) {
		t.Helper()
		out, errOut, code := s.cli(t, append([]string{"doctor", "--config", cfg}, args...)...)
		if errOut != "" {
			t.Errorf("doctor wrote to stderr: %s", errOut)
		}
		return out, code
	}
	t.Run("all hold (password)", func(t *testing.T) {
		cfg := s.writeConfig(t, dir, s.defaults())
		out, code := doctor(cfg, "--fix")
		if code != 0 || strings.Contains(out, "✗") || strings.Contains(out, "\n! ") || strings.HasPrefix(out, "! ") {
			t.Fatalf("exit %d, want 0 with every line ✓:\n%s", code, out)
		}
		for _, line := range []string{"✓ mailbox tls: TLS 1.3, certificate for 127.0.0.1 verified", "✓ mailbox capability IDLE", "✓ mailbox capability MOVE",
			"✓ mailbox capability UIDPLUS", "✓ mailbox login: logged in as " + s.intake + " (login)", "✓ folder webSesam/Quarantine",
			"✓ mailer.smtp tls: TLS 1.3, certificate for 127.0.0.1 verified", "✓ mailer.smtp login: logged in as " + s.intake + " (plain)"} {
			if !strings.Contains(out, line) {
				t.Errorf("no line %q in:\n%s", line, out)
			}
		}
	})
	t.Run("all hold (oauth2)", func(t *testing.T) {
		cfg := s.writeOAuth2Config(t, dir, issuer, "oauthbearer", secretFile)
		out, code := doctor(cfg, "--send-test", "anna@"+e2eDomain)
		if code != 0 || strings.Contains(out, "✗") || strings.Contains(out, "\n! ") {
			t.Fatalf("exit %d, want 0 with every line ✓:\n%s", code, out)
		}
		for _, line := range []string{"✓ oauth2 token: a token for https://outlook.office365.com/.default", "✓ mailbox login: logged in as " + s.intake + " (oauthbearer)",
			"✓ mailer.smtp login: logged in as " + s.intake + " (xoauth2)", "✓ mailer.smtp send: a test mail to anna@" + e2eDomain + " was accepted"} {
			if !strings.Contains(out, line) {
				t.Errorf("no line %q in:\n%s", line, out)
			}
		}
		waitFor(t, "the test mail delivered", 30*time.Second, func() bool {
			for _, p := range s.snapshot(t, s.catchall) {
				if p.folder == catchallFolder("anna@"+e2eDomain) {
					return true
				}
			}
			return false
		})
	})

	wrong := filepath.Join(dir, "wrong-password")
	if err := os.WriteFile(wrong, []byte("fel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	maildir := filepath.Join(s.dir, "mail", "intake", "Maildir", "webSesam")
	for _, c := range []struct {
		name   string
		cfg    func() string
		args   []string
		before func(t *testing.T)
		want   []string
	}{
		{"wrong password", func() string {
			o := s.defaults()
			path := s.writeConfig(t, dir, o)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, []byte(strings.Replace(string(b), fmt.Sprintf("password_file = %q", s.passwordFile), fmt.Sprintf("password_file = %q", wrong), 1)), 0o600)
			return path
		}, nil, nil, []string{"✗ mailbox login: as " + s.intake + " (login):", "→ the server refused the user name and password"}},
		{"missing CA", func() string {
			o := s.defaults()
			o.imapCA = ""
			return s.writeConfig(t, dir, o)
		}, nil, nil, []string{"✗ mailbox tls: tls: failed to verify certificate: x509: certificate signed by unknown authority", "→ the certificate is signed by a CA this machine does not trust: set ca_file"}},
		{"folder cannot be created", func() string {
			o := s.defaults()
			o.extra = "\n[folders]\nquarantined = \"webSesam/Nowhere\"\n"
			return s.writeConfig(t, dir, o)
		}, []string{"--fix"}, func(t *testing.T) {
			// Dovecot's mail processes (user vmail) may not write the parent.
			if err := os.Chmod(maildir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(maildir, 0o755) })
		}, []string{"✗ folder webSesam/Nowhere: missing, and cannot be created:", "→ create it by hand, or name another folder in [folders]"}},
		{"stopped Dovecot", func() string { return s.writeConfig(t, dir, s.defaults()) }, nil, func(t *testing.T) {
			t.Cleanup(func() { exec.Command(s.mailstackTool, "start-dovecot", s.dir).Run() })
			if out, err := exec.Command(s.mailstackTool, "stop-dovecot", s.dir).CombinedOutput(); err != nil {
				t.Fatalf("stop-dovecot: %v\n%s", err, out)
			}
		}, []string{"✗ mailbox tcp: cannot connect to " + s.imap, "→ check the port in mailbox.addr, that the server runs"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg()
			if c.before != nil {
				c.before(t)
			}
			out, code := doctor(cfg, c.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
		})
	}
}
