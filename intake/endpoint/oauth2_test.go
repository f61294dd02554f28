package endpoint

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/endpoint/oauth2test"
)

const (
	testTenant   = "c0ffee00-1111-2222-3333-444455556666"
	testClientID = "11111111-2222-3333-4444-555555555555"
	testSecret   = "s3cr3t~Value.With-Chars_0123456789"
)

func newTokens(t *testing.T, cfg OAuth2Config) *Tokens {
	t.Helper()
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tk, err := NewTokens(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestTokensClientSecret: MSAL against the authority with a secret; the
// token is cached, renewed on request and after expiry.
func TestTokensClientSecret(t *testing.T) {
	dir := t.TempDir()
	srv := oauth2test.Start(t, testClientID, testSecret, nil)
	tk := newTokens(t, OAuth2Config{Tenant: testTenant, ClientID: testClientID,
		ClientSecretFile: writeFile(t, dir, "secret", testSecret+"\n"), Authority: srv.URL, CAFile: srv.CAFile})
	now := time.Now()
	tk.now = func() time.Time { return now }
	ctx := context.Background()
	first, err := tk.Token(ctx, false)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if !srv.Valid(first) {
		t.Fatalf("token %q was not issued by the server", first)
	}
	if again, _ := tk.Token(ctx, false); again != first {
		t.Errorf("a second call within the lifetime: got a new token")
	}
	if n := len(srv.Issued()); n != 1 {
		t.Errorf("tokens issued: got %d, want 1 (cached)", n)
	}
	renewed, err := tk.Token(ctx, true)
	if err != nil || renewed == first {
		t.Fatalf("renew: got %q, %v; want a new token", renewed, err)
	}
	// 56 minutes on: inside the five-minute margin of the hour.
	now = now.Add(56 * time.Minute)
	late, err := tk.Token(ctx, false)
	if err != nil || late == renewed {
		t.Fatalf("near expiry: got %q, %v; want a new token", late, err)
	}
	if got, want := srv.Issued(), []string{first, renewed, late}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("issued %q, want %q", got, want)
	}
	if s := tk.Stats(); s.Fetched != 3 || s.Refused != 0 || s.Failed != 0 || s.Expires.IsZero() {
		t.Errorf("stats: %+v", s)
	}
}

// TestTokensShortLifetime: tokens that live two seconds are renewed past
// half their life, with a real clock.
func TestTokensShortLifetime(t *testing.T) {
	srv := oauth2test.Start(t, testClientID, testSecret, nil)
	srv.SetLifetime(2 * time.Second)
	tk := newTokens(t, OAuth2Config{Tenant: testTenant, ClientID: testClientID,
		ClientSecretFile: writeFile(t, t.TempDir(), "secret", testSecret), Authority: srv.URL, CAFile: srv.CAFile})
	a, err := tk.Token(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := tk.Token(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if b != a {
			if !srv.Valid(b) {
				t.Fatalf("the renewed token %q is not valid", b)
			}
			break
		}
		if !srv.Valid(a) {
			t.Fatalf("the cached token was handed out after it expired")
		}
		if time.Now().After(deadline) {
			t.Fatal("no renewal within 10s of a 2s token")
		}
		time.Sleep(50 * time.Millisecond) // polling the clock, not waiting for an event
	}
}

// TestTokensCertificate: the client assertion MSAL signs with the
// certificate's key is accepted by an issuer that verifies it; a key that
// is not the certificate's is refused before anything is sent.
func TestTokensCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, certFile, keyFile := oauth2test.ClientCert(t, dir)
	srv := oauth2test.Start(t, testClientID, "", cert)
	cfg := OAuth2Config{Tenant: testTenant, ClientID: testClientID, CertificateFile: certFile, PrivateKeyFile: keyFile,
		Authority: srv.URL, CAFile: srv.CAFile}
	tk := newTokens(t, cfg)
	tok, err := tk.Token(context.Background(), false)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if !srv.Valid(tok) {
		t.Fatalf("token not issued by the server")
	}
	_, _, otherKey := oauth2test.ClientCert(t, t.TempDir())
	cfg.PrivateKeyFile = otherKey
	tk = newTokens(t, cfg)
	if _, err := tk.Token(context.Background(), false); err == nil || !strings.Contains(err.Error(), "key doesn't match any certificate") {
		t.Fatalf("mismatched key: got %v", err)
	}
	// A certificate the issuer does not know is refused by it.
	other, otherCert, otherCertKey := oauth2test.ClientCert(t, t.TempDir())
	_ = other
	cfg.CertificateFile, cfg.PrivateKeyFile = otherCert, otherCertKey
	tk = newTokens(t, cfg)
	if _, err := tk.Token(context.Background(), false); !errors.Is(err, ErrRefused) {
		t.Fatalf("unknown certificate: got %v, want ErrRefused", err)
	}
}

// TestTokensRefusedSecret: a wrong secret is ErrRefused (a login failure
// for the caller), counted, and neither secret nor token is in the error
// or in any log line of a logger given the error.
func TestTokensRefusedSecret(t *testing.T) {
	dir := t.TempDir()
	srv := oauth2test.Start(t, testClientID, testSecret, nil)
	for _, c := range []struct {
		name string
		cfg  OAuth2Config
	}{
		{"msal", OAuth2Config{Tenant: testTenant, Authority: srv.URL}},
		{"token_url", OAuth2Config{TokenURL: srv.URL + "/token"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.ClientID, cfg.CAFile = testClientID, srv.CAFile
			wrong := "wrong-" + testSecret
			cfg.ClientSecretFile = writeFile(t, dir, "wrong", wrong+"\n")
			tk := newTokens(t, cfg)
			_, err := tk.Token(context.Background(), false)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Token: got %v, want ErrRefused", err)
			}
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Error("imap login refused", "err", err)
			for _, secret := range []string{testSecret, wrong} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the log line holds a secret: %s", logs.String())
				}
			}
			if s := tk.Stats(); s.Refused != 1 || s.Fetched != 0 || s.LastErr != err.Error() {
				t.Errorf("stats: %+v", s)
			}
		})
	}
}

// TestTokensPlainTokenURL: any OAuth2 server through token_url, cached and
// renewed like the rest.
func TestTokensPlainTokenURL(t *testing.T) {
	srv := oauth2test.Start(t, testClientID, testSecret, nil)
	srv.SetLifetime(2 * time.Second)
	tk := newTokens(t, OAuth2Config{ClientID: testClientID, ClientSecretFile: writeFile(t, t.TempDir(), "secret", testSecret),
		TokenURL: srv.URL + "/token", CAFile: srv.CAFile})
	now := time.Now()
	tk.now = func() time.Time { return now }
	a, err := tk.Token(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := tk.Token(context.Background(), false); b != a {
		t.Error("within the first half of the lifetime: want the cached token")
	}
	now = now.Add(1500 * time.Millisecond) // past half of two seconds
	if b, _ := tk.Token(context.Background(), false); b == a || !srv.Valid(b) {
		t.Error("past the renewal margin: want a new valid token")
	}
}

// TestTokensUntrustedIssuer: the issuer's certificate is verified.
func TestTokensUntrustedIssuer(t *testing.T) {
	srv := oauth2test.Start(t, testClientID, testSecret, nil)
	tk := newTokens(t, OAuth2Config{Tenant: testTenant, ClientID: testClientID,
		ClientSecretFile: writeFile(t, t.TempDir(), "secret", testSecret), Authority: srv.URL})
	_, err := tk.Token(context.Background(), false)
	if err == nil || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Token: got %v, want a certificate error", err)
	}
	if s := tk.Stats(); s.Failed != 1 {
		t.Errorf("stats: %+v", s)
	}
}

func TestOAuth2Validate(t *testing.T) {
	dir := t.TempDir()
	sec := writeFile(t, dir, "secret", "x")
	for _, c := range []struct {
		name string
		cfg  OAuth2Config
		want []string
	}{
		{"unused", OAuth2Config{}, nil},
		{"secret", OAuth2Config{Tenant: "region.example.se", ClientID: "id", ClientSecretFile: sec}, nil},
		{"no client id", OAuth2Config{Tenant: "t"}, []string{"oauth2.client_id: required when [oauth2] is used (the application (client) id of the app registration)"}},
		{"nothing to log in with", OAuth2Config{ClientID: "id", Authority: "http://login.example"}, []string{
			"oauth2.tenant: required: the directory (tenant) id or domain of the app registration",
			"oauth2.client_secret_file: set client_secret_file, or certificate_file and private_key_file",
			`oauth2.authority: want an https URL, got "http://login.example"`,
		}},
		{"certificate half and a token url", OAuth2Config{ClientID: "id", CertificateFile: sec, TokenURL: "https://idp.example/token"}, []string{
			"oauth2.private_key_file: required with certificate_file",
			"oauth2.certificate_file: a certificate needs the authority (Microsoft's identity platform), not token_url",
		}},
		{"both", OAuth2Config{Tenant: "t", ClientID: "id", ClientSecretFile: sec, CertificateFile: sec, PrivateKeyFile: sec}, []string{
			"oauth2.client_secret_file: set client_secret_file or certificate_file and private_key_file, not both",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, p := range Problems(c.cfg.WithDefaults().Validate()) {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("problems:\ngot  %q\nwant %q", got, c.want)
			}
		})
	}
}
