package ops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
	"github.com/regionhmc/websesam-intake/intake/endpoint/oauth2test"
)

// TestMetricsOAuth2: a token obtained and a secret refused by the issuer
// show in /metrics, for status and for an alert on refusals.
func TestMetricsOAuth2(t *testing.T) {
	issuer := oauth2test.Start(t, "app", "right-secret", nil)
	tokens := func(secret string) *endpoint.Tokens {
		f := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(f, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		tk, err := endpoint.NewTokens(endpoint.OAuth2Config{Tenant: "t", ClientID: "app", ClientSecretFile: f, Authority: issuer.URL, CAFile: issuer.CAFile})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	var none strings.Builder
	NewMetrics(nil).WriteTo(&none)
	if strings.Contains(none.String(), "oauth2") {
		t.Errorf("oauth2 series without an OAuth2 client:\n%s", none.String())
	}

	good, bad := tokens("right-secret"), tokens("wrong-secret")
	if _, err := good.Token(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Token(context.Background(), false); !errors.Is(err, endpoint.ErrRefused) {
		t.Fatalf("wrong secret: %v", err)
	}
	for _, c := range []struct {
		tk   *endpoint.Tokens
		want []string
	}{
		{good, []string{"websesam_intake_oauth2_tokens_total 1\n", "websesam_intake_oauth2_token_refusals_total 0\n"}},
		{bad, []string{"websesam_intake_oauth2_tokens_total 0\n", "websesam_intake_oauth2_token_refusals_total 1\n", "websesam_intake_oauth2_token_expiry_timestamp_seconds 0\n"}},
	} {
		m := NewMetrics(nil)
		m.WatchTokens(c.tk)
		var b strings.Builder
		if _, err := m.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("no %q in:\n%s", w, b.String())
			}
		}
	}
}
