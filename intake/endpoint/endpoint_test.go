package endpoint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSecret reads each kind of secret afresh, bounds the token command
// and refuses an empty token rather than sending it.
func TestSecret(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "password", "  lösen ord \r\n")
	tok := writeFile(t, dir, "token", "\n ya29.token \n")
	empty := writeFile(t, dir, "empty", " \n")
	for _, c := range []struct {
		name    string
		cfg     Config
		want    string
		wantErr string
	}{
		{"password keeps inner and leading spaces", Config{Auth: AuthLogin, PasswordFile: pw}, "  lösen ord ", ""},
		{"token file trimmed", Config{Auth: AuthXOAUTH2, TokenFile: tok}, "ya29.token", ""},
		{"empty token file refused", Config{Auth: AuthXOAUTH2, TokenFile: empty}, "", "holds no token"},
		{"token command", Config{Auth: AuthOAuthBearer, TokenCommand: []string{"/bin/cat", tok}}, "ya29.token", ""},
		{"empty token command refused", Config{Auth: AuthXOAUTH2, TokenCommand: []string{"/bin/cat", empty}}, "", "it printed no token"},
		{"failing token command", Config{Auth: AuthXOAUTH2, TokenCommand: []string{"/bin/false"}}, "", "run token command /bin/false: exit status 1"},
		{"slow token command bounded", Config{Auth: AuthXOAUTH2, TokenCommand: []string{"/bin/sleep", "30"}, TokenTimeout: 200 * time.Millisecond},
			"", "no token within 200ms"},
		{"no source at all", Config{Auth: AuthXOAUTH2}, "", "no token_file, token_command or [oauth2]"},
		{"no auth", Config{}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.cfg.Credentials(nil).Secret(context.Background(), false)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Secret: got %q, %v; want error %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Secret: got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// fixedTokens counts its calls and their renew flags.
type fixedTokens struct{ asked []bool }

func (f *fixedTokens) Token(_ context.Context, renew bool) (string, error) {
	f.asked = append(f.asked, renew)
	return "from-oauth2", nil
}

// TestCredentialsOAuth2: the built-in client is used only when no token
// file or command is set, and only then is a renewal worth a retry.
func TestCredentialsOAuth2(t *testing.T) {
	dir := t.TempDir()
	tok := writeFile(t, dir, "token", "from-file\n")
	ts := &fixedTokens{}
	cr := Config{Auth: AuthXOAUTH2}.Credentials(ts)
	got, err := cr.Secret(context.Background(), true)
	if err != nil || got != "from-oauth2" || !cr.Renewable() {
		t.Fatalf("Secret: got %q, %v, renewable %v", got, err, cr.Renewable())
	}
	if !slices.Equal(ts.asked, []bool{true}) {
		t.Errorf("renew passed on: got %v", ts.asked)
	}
	cr = Config{Auth: AuthXOAUTH2, TokenFile: tok}.Credentials(ts)
	if got, _ := cr.Secret(context.Background(), false); got != "from-file" || cr.Renewable() {
		t.Errorf("token_file wins: got %q, renewable %v", got, cr.Renewable())
	}
	if (Config{Auth: AuthLogin}).Credentials(ts).Renewable() {
		t.Error("a password is not renewable")
	}
}

// TestValidate: every problem at once, keyed by section, with loopback the
// only host plain may reach and no token ever sent in the clear.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "password", "x\n")
	notPEM := writeFile(t, dir, "ca.pem", "not a certificate\n")
	imap := Rules{Section: "mailbox", Mechanisms: []string{AuthLogin, AuthPlain, AuthXOAUTH2, AuthOAuthBearer}}
	for _, c := range []struct {
		name  string
		cfg   Config
		rules Rules
		want  []string
	}{
		{"good", Config{Addr: "imap.example.se:993", TLS: TLSImplicit, Auth: AuthLogin, Username: "u", PasswordFile: pw}, imap, nil},
		{"plain on loopback with a password", Config{Addr: "[::1]:143", TLS: TLSPlain, Auth: AuthLogin, Username: "u", PasswordFile: pw}, imap, nil},
		{"oauth2 section stands in for a token source", Config{Addr: "h:993", TLS: TLSImplicit, Auth: AuthXOAUTH2, Username: "u"},
			Rules{Section: "mailbox", Mechanisms: imap.Mechanisms, OAuth2: true}, nil},
		{"everything wrong", Config{Addr: "10.0.0.1:143", TLS: TLSPlain, CAFile: notPEM, Auth: AuthXOAUTH2, PasswordFile: pw}, imap, []string{
			`mailbox.tls: plain is allowed only for a loopback host, not "10.0.0.1"`,
			"mailbox.ca_file: no PEM certificate in " + notPEM,
			"mailbox.username: required with auth xoauth2",
			"mailbox.password_file: not with auth xoauth2 (an access token is presented, not a password)",
			"mailbox.auth: tokens are never sent without TLS",
		}},
		{"no addr, unknown tls and mechanism", Config{TLS: "ssl", Auth: "cram-md5"},
			Rules{Section: "mailer.smtp", Mechanisms: []string{AuthNone, AuthPlain, AuthLogin}}, []string{
				`mailer.smtp.addr: want host:port, got ""`,
				`mailer.smtp.tls: want tls, starttls or plain, got "ssl"`,
				`mailer.smtp.auth: want plain or login, got "cram-md5"`,
			}},
		{"token without a source", Config{Addr: "h:993", TLS: TLSImplicit, Auth: AuthOAuthBearer, Username: "u"}, imap, []string{
			"mailbox.token_file: auth oauthbearer needs token_file, token_command or the [oauth2] section",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate(c.rules)
			var got []string
			for _, p := range Problems(err) {
				got = append(got, p.String())
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("problems:\ngot  %q\nwant %q", got, c.want)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("%v does not match ErrConfig", err)
			}
		})
	}
}

func TestResolvePath(t *testing.T) {
	for _, c := range []struct{ dir, p, want string }{
		{"/run/credentials/x", "imap-password", "/run/credentials/x/imap-password"},
		{"/run/credentials/x", "/etc/secret", "/etc/secret"},
		{"", "imap-password", "imap-password"},
		{"/run/credentials/x", "", ""},
	} {
		if got := ResolvePath(c.dir, c.p); got != c.want {
			t.Errorf("ResolvePath(%q, %q) = %q, want %q", c.dir, c.p, got, c.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.5.5.5": true, "::1": true, "LocalHost": true,
		"10.0.0.1": false, "localhost.example.se": false, "": false,
		"localho\u017Ft": false, // LONG S folds to s under Unicode case folding
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
