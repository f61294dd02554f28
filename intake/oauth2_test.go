package intake

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
	"github.com/regionhmc/websesam-intake/intake/endpoint/oauth2test"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
)

// TestDialOAuth2: the mailbox logs in with tokens of the built-in client
// against an issuer over TLS; a token is reused while valid; a token the
// server refuses (revoked before its expiry) is renewed once and the login
// succeeds at once; a refused client secret is a refused login (ErrAuth,
// the growing back-off), and neither secret nor token is in any error.
func TestDialOAuth2(t *testing.T) {
	const clientID, secret = "app-1", "Client~Secret.0123456789"
	dir := t.TempDir()
	ca := mailtest.StartCA(t, dir)
	caFile := ca.File
	issuer := oauth2test.Start(t, clientID, secret, nil)
	addr := startTokenIMAP(t, ca, true, issuer.Valid)
	tokens := func(secretText string) *endpoint.Tokens {
		t.Helper()
		f := filepath.Join(t.TempDir(), "client-secret")
		if err := writeFile(f, secretText+"\n"); err != nil {
			t.Fatal(err)
		}
		tk, err := endpoint.NewTokens(endpoint.OAuth2Config{Tenant: "region.example.se", ClientID: clientID,
			ClientSecretFile: f, Authority: issuer.URL, CAFile: issuer.CAFile})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	for _, mech := range []string{AuthXOAUTH2, AuthOAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			m := MailboxConfig{Addr: addr, TLS: TLSImplicit, CAFile: caFile, Auth: mech, Username: testUser, CommandTimeout: 10 * time.Second}
			tk := tokens(secret)
			before := len(issuer.Issued())
			login := func() {
				t.Helper()
				cn, err := dial(context.Background(), m, tk)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				cn.close()
			}
			login()
			login()
			issued := issuer.Issued()[before:]
			if len(issued) != 1 {
				t.Fatalf("two logins took %d tokens, want 1 (cached)", len(issued))
			}
			issuer.Revoke(issued[0])
			login()
			if got := len(issuer.Issued()) - before; got != 2 {
				t.Fatalf("after the revocation: %d tokens issued, want 2 (renewed once)", got)
			}
		})
	}
	t.Run("refused secret", func(t *testing.T) {
		m := MailboxConfig{Addr: addr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthXOAUTH2, Username: testUser, CommandTimeout: 10 * time.Second}
		refusedBefore := issuer.Refused()
		_, err := dial(context.Background(), m, tokens("wrong-"+secret))
		if !errors.Is(err, ErrAuth) || !errors.Is(err, endpoint.ErrRefused) {
			t.Fatalf("dial: got %v, want ErrAuth and endpoint.ErrRefused", err)
		}
		if got := issuer.Refused() - refusedBefore; got != 1 {
			t.Errorf("token requests refused: got %d, want 1 (no retry of a refused secret)", got)
		}
		for _, s := range append([]string{secret}, issuer.Issued()...) {
			if strings.Contains(err.Error(), s) {
				t.Errorf("the error holds a secret: %v", err)
			}
		}
	})
}
