package intake

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/mailer"
)

// TestLoadConfigExample loads the documented example with its secrets in
// $CREDENTIALS_DIRECTORY, as under systemd.
func TestLoadConfigExample(t *testing.T) {
	creds := t.TempDir()
	for _, f := range []string{"imap-password", "smtp-password"} {
		if err := writeFile(filepath.Join(creds, f), "hemligt\n"); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	cfg, err := LoadConfig("testdata/example.toml")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"mailbox.password_file", cfg.Mailbox.PasswordFile, filepath.Join(creds, "imap-password")},
		{"mailer.smtp.password_file", cfg.Relay.PasswordFile, filepath.Join(creds, "smtp-password")},
		{"mailbox.idle_restart", cfg.Mailbox.IdleRestart, 9 * time.Minute},
		{"mailbox.fetch_batch (default)", cfg.Mailbox.FetchBatch, DefaultFetchBatch},
		{"policy.backlog_since", cfg.Policy.backlogSince().Format(time.DateOnly), "2026-11-01"},
		{"mailer.message_id_domain (default)", cfg.Mailer.MessageIDDomain, "region.example.se"},
		{"folders.no_form", cfg.Folders.For("no-form"), "webSesam/No-form"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestLoadConfigReportsEveryProblem: one bad file gives every problem at
// once, each naming its key, all wrapping ErrConfig.
func TestLoadConfigReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.toml")
	bad := `
[mailbox]
addr = "imap.example.se:143"
tls = "plain"
username = "info"
password = "in the file"
password_file = "/nonexistent/imap-password"
idle_restart = "30m"

[folders]
queued = "Done"
returned = "Done"
ignored = "INBOX"

[policy]
backlog = "since"
backlog_since = "1 november"
allowed_sender_domains = ["region example"]
max_attachments = -1

[mailer]
from_address = "Hjälpmedel <info@example.se>"
`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("LoadConfig: got %v, want ErrConfig", err)
	}
	if !errors.Is(err, mailer.ErrConfig) {
		t.Errorf("LoadConfig: the mailer's problems are missing: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"mailbox.password: unknown key",
		"mailbox.tls: plain is allowed only for a loopback host",
		"mailbox.password_file: cannot read",
		"mailbox.idle_restart: must be under 25m",
		"folders.returned: same folder as folders.queued",
		"folders.ignored: must differ from mailbox.folder",
		"policy.backlog_since: want a date",
		"policy.allowed_sender_domains: not a domain name",
		"policy.max_attachments: must be at least 1",
		"mailer.from_address: want a bare e-mail address",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing problem %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "in the file") {
		t.Errorf("the error repeats a secret value:\n%s", msg)
	}
}

func TestValidateAuth(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := writeFile(tok, "ya29.token\n"); err != nil {
		t.Fatal(err)
	}
	base := testConfig(t, dir, "127.0.0.1:1143", "127.0.0.1:1025")
	for _, c := range []struct {
		name   string
		change func(m *MailboxConfig)
		want   string // "" for valid
	}{
		{"xoauth2 with a token file", func(m *MailboxConfig) {
			m.TLS, m.Addr, m.Auth, m.PasswordFile, m.TokenFile = TLSImplicit, "outlook.office365.com:993", AuthXOAUTH2, "", tok
		}, ""},
		{"oauthbearer with a command", func(m *MailboxConfig) {
			m.TLS, m.Addr, m.Auth, m.PasswordFile, m.TokenCommand = TLSImplicit, "imap.gmail.com:993", AuthOAuthBearer, "", []string{"/usr/bin/oauth2-token"}
		}, ""},
		{"xoauth2 without a token", func(m *MailboxConfig) {
			m.TLS, m.Auth, m.PasswordFile = TLSImplicit, AuthXOAUTH2, ""
		}, "mailbox.token_file: auth xoauth2 needs token_file, token_command or the [oauth2] section"},
		{"both token sources", func(m *MailboxConfig) {
			m.TLS, m.Auth, m.PasswordFile, m.TokenFile, m.TokenCommand = TLSImplicit, AuthXOAUTH2, "", tok, []string{"x"}
		}, "mailbox.token_file: set token_file or token_command, not both"},
		{"token over plain", func(m *MailboxConfig) {
			m.Auth, m.PasswordFile, m.TokenFile = AuthXOAUTH2, "", tok
		}, "mailbox.auth: tokens are never sent without TLS"},
		{"unknown mechanism", func(m *MailboxConfig) { m.Auth = "cram-md5" }, "mailbox.auth: want login, plain, xoauth2 or oauthbearer"},
		{"unknown tls", func(m *MailboxConfig) { m.TLS = "ssl" }, "mailbox.tls: want tls, starttls or plain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.change(&cfg.Mailbox)
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate: got %v, want nil", err)
			case c.want != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Validate: got %v, want ErrConfig with %q", err, c.want)
			}
		})
	}
}

// TestBackoff: the waits grow, stay within [min, max] and start over after
// a reset.
func TestBackoff(t *testing.T) {
	b := backoff{min: 10 * time.Millisecond, max: 80 * time.Millisecond}
	for i := range 8 {
		d := b.next()
		ceil := min(10*time.Millisecond<<i, 80*time.Millisecond)
		if d < b.min || d > ceil {
			t.Errorf("wait %d: got %s, want within [%s, %s]", i, d, b.min, ceil)
		}
	}
	b.reset()
	if got := b.next(); got != b.min {
		t.Errorf("after reset: got %s, want %s", got, b.min)
	}
}

// TestLoadConfigOAuth2: with [oauth2], both logins take their tokens from
// one built-in client, its secret file resolved under
// $CREDENTIALS_DIRECTORY; without a token source at all, the key says so.
func TestLoadConfigOAuth2(t *testing.T) {
	creds := t.TempDir()
	if err := writeFile(filepath.Join(creds, "oauth2-secret"), "hemligt\n"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	body := func(oauth2 string) string {
		return `
[mailbox]
addr = "outlook.office365.com:993"
auth = "xoauth2"
username = "info.hmc@region.example.se"

[mailer]
from_address = "info.hmc@region.example.se"
login_instructions = "Logga in."
form_url = "https://region.example.se/websesam"
allowed_recipient_domains = ["region.example.se"]

[mailer.smtp]
addr = "smtp.office365.com:587"
auth = "xoauth2"
username = "info.hmc@region.example.se"
` + oauth2
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := writeFile(path, body(`
[oauth2]
tenant = "region.example.se"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret_file = "oauth2-secret"
`)); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if got, want := cfg.OAuth2.ClientSecretFile, filepath.Join(creds, "oauth2-secret"); got != want {
		t.Errorf("oauth2.client_secret_file: got %q, want %q", got, want)
	}
	if got, want := cfg.OAuth2.Scope, "https://outlook.office365.com/.default"; got != want {
		t.Errorf("oauth2.scope: got %q, want %q", got, want)
	}
	if cfg.Tokens() == nil || cfg.TokenSource() == nil {
		t.Fatal("no token client made")
	}
	if c := cfg.Mailer.SMTP.Credentials; c == nil || !c.Renewable() {
		t.Errorf("the relay does not take its token from the client: %#v", c)
	}

	if err := writeFile(path, body("")); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(path)
	for _, want := range []string{
		"mailbox.token_file: auth xoauth2 needs token_file, token_command or the [oauth2] section",
		"mailer.smtp.token_file: auth xoauth2 needs token_file, token_command or the [oauth2] section",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadConfig: got %v, want %q", err, want)
		}
	}
}
