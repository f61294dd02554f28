// Package oauth2test is an OAuth2 token issuer for tests: over TLS, it
// speaks what MSAL asks of Microsoft's identity platform (the tenant's
// OpenID configuration, then the token endpoint) and a plain token
// endpoint, for the client-credentials grant with a client secret or a
// signed client assertion; and it answers token introspection (RFC 7662),
// which is how a mail server such as Dovecot checks the tokens it issued.
package oauth2test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scope is the scope the issuer grants (Exchange Online's).
const Scope = "https://outlook.office365.com/.default"

// Server is the issuer. Its fields are set before the first request.
type Server struct {
	*httptest.Server
	// CAFile is a PEM file holding the server's certificate, to trust it.
	CAFile   string
	ClientID string
	Secret   string            // the accepted client secret ("" accepts none)
	Cert     *x509.Certificate // the certificate an assertion must be signed for (nil accepts none)
	// Username is what introspection says a valid token belongs to.
	Username string
	// IntrospectURL is the plain-HTTP introspection endpoint (on
	// loopback), as a mail server's passdb is configured with it.
	IntrospectURL string

	mu       sync.Mutex
	lifetime time.Duration
	issued   map[string]time.Time // token → expiry
	order    []string
	revoked  map[string]bool
	refused  int
}

// Start serves the issuer for the test's duration.
func Start(t testing.TB, clientID, secret string, cert *x509.Certificate) *Server {
	t.Helper()
	s := &Server{ClientID: clientID, Secret: secret, Cert: cert, lifetime: time.Hour,
		issued: map[string]time.Time{}, revoked: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := "https://" + r.Host + "/" + r.PathValue("tenant")
		json.NewEncoder(w).Encode(map[string]string{
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"issuer":                 base + "/v2.0",
		})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("POST /token", s.token)
	s.Server = httptest.NewUnstartedServer(mux)
	// A client that does not trust the server is a test's point, not noise.
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Server.StartTLS()
	t.Cleanup(s.Close)
	in := httptest.NewServer(http.HandlerFunc(s.introspect))
	t.Cleanup(in.Close)
	s.IntrospectURL = in.URL + "/introspect"
	s.CAFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// SetLifetime sets the expires_in of the tokens issued from now on.
func (s *Server) SetLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// Revoke makes a token invalid before its expiry.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	s.revoked[token] = true
	s.mu.Unlock()
}

// Valid tells whether token was issued here, is not revoked and has not
// expired: what a mail server checks.
func (s *Server) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.issued[token]
	return ok && !s.revoked[token] && time.Now().Before(exp)
}

// Issued lists the tokens issued, oldest first.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// Refused counts the token requests refused.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	refuse := func(code, desc string) {
		s.refused++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != s.ClientID {
		refuse("unauthorized_client", "AADSTS700016: unknown client")
		return
	}
	switch {
	case r.Form.Get("client_secret") != "":
		if s.Secret == "" || r.Form.Get("client_secret") != s.Secret {
			refuse("invalid_client", "AADSTS7000215: Invalid client secret provided.")
			return
		}
	case r.Form.Get("client_assertion") != "":
		if err := s.checkAssertion(r.Form.Get("client_assertion"), "https://"+r.Host+r.URL.Path); err != nil {
			refuse("invalid_client", "AADSTS700027: "+err.Error())
			return
		}
	default:
		refuse("invalid_client", "AADSTS7000216: no credential")
		return
	}
	// MSAL adds the OpenID scopes to every request, as Microsoft's
	// platform expects and ignores for this grant.
	var resource bool
	for _, sc := range strings.Fields(r.Form.Get("scope")) {
		switch sc {
		case Scope:
			resource = true
		case "openid", "offline_access", "profile":
		default:
			resource = false
		}
	}
	if !resource {
		refuse("invalid_scope", "AADSTS70011: scope "+r.Form.Get("scope"))
		return
	}
	tok := fmt.Sprintf("at%d.%s", len(s.order)+1, rand.Text())
	s.issued[tok] = time.Now().Add(s.lifetime)
	s.order = append(s.order, tok)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(s.lifetime.Seconds())})
}

// introspect answers RFC 7662 (the token in the form, or as a bearer
// token in the Authorization header, as Dovecot's introspection_mode =
// post and auth send it).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.Form.Get("token")
	if tok == "" {
		if h := r.Header.Get("Authorization"); len(h) > 7 {
			tok = h[7:]
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !s.Valid(tok) {
		json.NewEncoder(w).Encode(map[string]any{"active": false})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"active": true, "username": s.Username})
}

func (s *Server) checkAssertion(assertion, aud string) error {
	if s.Cert == nil {
		return errors.New("no certificate registered")
	}
	tok, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return s.Cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithAudience(aud), jwt.WithIssuer(s.ClientID), jwt.WithSubject(s.ClientID))
	if err != nil {
		return err
	}
	if !tok.Valid {
		return errors.New("invalid assertion")
	}
	return nil
}

// ClientCert makes a self-signed RSA certificate and its key as PEM files
// in dir, as an app registration's certificate credential.
func ClientCert(t testing.TB, dir string) (cert *x509.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "websesam-intake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	certFile = filepath.Join(dir, "client.crt")
	keyFile = filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}
