package endpoint

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth2 defaults: Microsoft's identity platform and the scope that covers
// both IMAP and SMTP of Exchange Online.
const (
	DefaultAuthority     = "https://login.microsoftonline.com"
	DefaultScope         = "https://outlook.office365.com/.default"
	DefaultOAuth2Timeout = 30 * time.Second
)

// OAuth2Config is the [oauth2] section: an app registration that logs in
// as itself (the client-credentials grant) and gets access tokens for the
// mailbox and the relay. The daemon then needs no script and no person to
// renew anything.
type OAuth2Config struct {
	// Tenant is the directory (tenant) id or a verified domain.
	Tenant   string `toml:"tenant"`
	ClientID string `toml:"client_id"`
	// ClientSecretFile holds the client secret (one line); or
	// CertificateFile and PrivateKeyFile (PEM) sign a client assertion, as
	// Microsoft recommends. Relative paths resolve under
	// $CREDENTIALS_DIRECTORY.
	ClientSecretFile string `toml:"client_secret_file"`
	CertificateFile  string `toml:"certificate_file"`
	PrivateKeyFile   string `toml:"private_key_file"`
	Scope            string `toml:"scope"`
	// Authority is the identity platform's base URL; the tenant is
	// appended. TokenURL, when set, replaces both with a plain OAuth2
	// token endpoint (any provider; a client secret only).
	Authority string `toml:"authority"`
	TokenURL  string `toml:"token_url"`
	// CAFile adds roots of a private CA for the token endpoint.
	CAFile string `toml:"ca_file"`
	// Timeout bounds one token request.
	Timeout time.Duration `toml:"timeout"`
}

// Configured tells whether the built-in client is to be used.
func (o OAuth2Config) Configured() bool { return o.ClientID != "" }

// WithDefaults returns o with every unset value at its default.
func (o OAuth2Config) WithDefaults() OAuth2Config {
	return WithDefaults(o, OAuth2Config{Scope: DefaultScope, Authority: DefaultAuthority, Timeout: DefaultOAuth2Timeout})
}

// ResolvePaths resolves the secret files under dir ($CREDENTIALS_DIRECTORY).
func (o OAuth2Config) ResolvePaths(dir string) OAuth2Config {
	o.ClientSecretFile = ResolvePath(dir, o.ClientSecretFile)
	o.CertificateFile = ResolvePath(dir, o.CertificateFile)
	o.PrivateKeyFile = ResolvePath(dir, o.PrivateKeyFile)
	return o
}

// Validate reports every problem of the section (call it on WithDefaults'
// result), keyed oauth2.key.
func (o OAuth2Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, Problemf("oauth2."+key, format, args...))
	}
	if !o.Configured() {
		if o.Tenant != "" || o.ClientSecretFile != "" || o.CertificateFile != "" || o.PrivateKeyFile != "" || o.TokenURL != "" {
			add("client_id", "required when [oauth2] is used (the application (client) id of the app registration)")
		}
		return errors.Join(errs...)
	}
	if o.Tenant == "" && o.TokenURL == "" {
		add("tenant", "required: the directory (tenant) id or domain of the app registration")
	}
	if strings.ContainsAny(o.Tenant, "/?#% ") {
		add("tenant", "not a tenant id or domain: %q", o.Tenant)
	}
	readable := func(key, p string) {
		if _, err := os.Stat(p); err != nil {
			add(key, "cannot read: %v", err)
		}
	}
	cert := o.CertificateFile != "" || o.PrivateKeyFile != ""
	switch {
	case o.ClientSecretFile != "" && cert:
		add("client_secret_file", "set client_secret_file or certificate_file and private_key_file, not both")
	case o.ClientSecretFile != "":
		readable("client_secret_file", o.ClientSecretFile)
	case cert:
		if o.CertificateFile == "" {
			add("certificate_file", "required with private_key_file")
		} else {
			readable("certificate_file", o.CertificateFile)
		}
		if o.PrivateKeyFile == "" {
			add("private_key_file", "required with certificate_file")
		} else {
			readable("private_key_file", o.PrivateKeyFile)
		}
		if o.TokenURL != "" {
			add("certificate_file", "a certificate needs the authority (Microsoft's identity platform), not token_url")
		}
	default:
		add("client_secret_file", "set client_secret_file, or certificate_file and private_key_file")
	}
	if strings.TrimSpace(o.Scope) == "" {
		add("scope", "must not be empty")
	}
	for _, u := range []struct{ key, v string }{{"authority", o.Authority}, {"token_url", o.TokenURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || p.Scheme != "https" || p.Host == "" {
			add(u.key, "want an https URL, got %q", u.v)
		}
	}
	if o.CAFile != "" {
		if _, err := readCA(o.CAFile); err != nil {
			add("ca_file", "%v", err)
		}
	}
	if o.Timeout <= 0 {
		add("timeout", "must be positive, got %s", o.Timeout)
	}
	return errors.Join(errs...)
}

// Tokens is the built-in OAuth2 client: one per process, shared by the
// mailbox and the relay. The token lives in memory only, is renewed before
// it expires, and is never logged or written anywhere. The secret or key
// files are read at every renewal, so a rotated secret needs no restart.
type Tokens struct {
	cfg    OAuth2Config
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	margin  time.Duration // renew this long before expires
	stats   TokenStats
}

// TokenStats is what status and /metrics show about the token client.
type TokenStats struct {
	Fetched int       // tokens obtained
	Refused int       // requests the issuer refused (wrong secret, certificate, client id)
	Failed  int       // requests that failed otherwise (network, server)
	Expires time.Time // expiry of the token in hand (zero: none)
	LastErr string    // the last failure, safe to show (no secret in it)
}

// NewTokens makes the client of a valid, configured section.
func NewTokens(cfg OAuth2Config) (*Tokens, error) {
	cfg = cfg.WithDefaults()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pool, err := readCA(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read oauth2 ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: cfg.Timeout,
		ForceAttemptHTTP2:   true,
	}
	return &Tokens{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}, now: time.Now}, nil
}

// Stats is a snapshot for status and /metrics.
func (t *Tokens) Stats() TokenStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Expires = t.expires
	return s
}

// Token gives a valid access token: the one in hand unless it is within
// its renewal margin or renew is set (the mail server refused it). Calls
// are serialised, so two logins at once make one request.
func (t *Tokens) Token(ctx context.Context, renew bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !renew && t.token != "" && t.now().Before(t.expires.Add(-t.margin)) {
		return t.token, nil
	}
	t.token, t.expires = "", time.Time{}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	start := t.now()
	tok, exp, err := t.fetch(ctx)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			t.stats.Refused++
		} else {
			t.stats.Failed++
		}
		t.stats.LastErr = err.Error()
		return "", err
	}
	if exp.IsZero() || !exp.After(start) {
		// No lifetime given: assume the shortest anyone issues.
		exp = start.Add(5 * time.Minute)
	}
	t.stats.Fetched++
	t.stats.LastErr = ""
	t.token, t.expires = tok, exp
	// Renew five minutes ahead (as MSAL does), or halfway through a
	// shorter lifetime, so a login never presents a token about to lapse.
	t.margin = min(5*time.Minute, exp.Sub(start)/2)
	return tok, nil
}

func (t *Tokens) fetch(ctx context.Context) (string, time.Time, error) {
	if t.cfg.TokenURL != "" {
		return t.fetchPlain(ctx)
	}
	return t.fetchMSAL(ctx)
}

// fetchMSAL asks Microsoft's identity platform (or any authority speaking
// its protocol) through MSAL's confidential client, which signs the
// certificate's client assertion. A new client each time: the token cache
// is ours, and the secret or key is read afresh.
func (t *Tokens) fetchMSAL(ctx context.Context) (string, time.Time, error) {
	var cred confidential.Credential
	var err error
	if t.cfg.ClientSecretFile != "" {
		var secret string
		if secret, err = readOneLine(t.cfg.ClientSecretFile, "client secret"); err != nil {
			return "", time.Time{}, err
		}
		cred, err = confidential.NewCredFromSecret(secret)
	} else {
		certPEM, err1 := os.ReadFile(t.cfg.CertificateFile)
		keyPEM, err2 := os.ReadFile(t.cfg.PrivateKeyFile)
		if err := errors.Join(err1, err2); err != nil {
			return "", time.Time{}, fmt.Errorf("read the oauth2 certificate: %w", err)
		}
		certs, key, err := confidential.CertFromPEM(append(append(certPEM, '\n'), keyPEM...), "")
		if err != nil {
			return "", time.Time{}, fmt.Errorf("read the oauth2 certificate and key: %w", err)
		}
		cred, err = confidential.NewCredFromCert(certs, key)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("use the oauth2 certificate: %w", err)
		}
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("use the oauth2 client secret: %w", err)
	}
	authority := strings.TrimRight(t.cfg.Authority, "/") + "/" + t.cfg.Tenant
	opts := []confidential.Option{confidential.WithHTTPClient(t.client)}
	if strings.TrimRight(t.cfg.Authority, "/") != DefaultAuthority {
		// Instance discovery asks Microsoft about the host: pointless
		// (and a leak) for any other authority.
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	app, err := confidential.New(authority, t.cfg.ClientID, cred, opts...)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("set up the oauth2 client: %w", err)
	}
	res, err := app.AcquireTokenByCredential(ctx, []string{t.cfg.Scope})
	if err != nil {
		var ce msalerrors.CallErr
		if errors.As(err, &ce) && ce.Resp != nil && refusedStatus(ce.Resp.StatusCode) {
			return "", time.Time{}, fmt.Errorf("get an access token from %s: %w (HTTP %d: check tenant, client_id and the secret or certificate): %s",
				authority, ErrRefused, ce.Resp.StatusCode, issuerSaid(err))
		}
		return "", time.Time{}, fmt.Errorf("get an access token from %s: %w", authority, err)
	}
	return res.AccessToken, res.ExpiresOn, nil
}

// fetchPlain asks a plain OAuth2 token endpoint with the client secret.
func (t *Tokens) fetchPlain(ctx context.Context) (string, time.Time, error) {
	secret, err := readOneLine(t.cfg.ClientSecretFile, "client secret")
	if err != nil {
		return "", time.Time{}, err
	}
	cc := clientcredentials.Config{
		ClientID: t.cfg.ClientID, ClientSecret: secret, TokenURL: t.cfg.TokenURL,
		Scopes: strings.Fields(t.cfg.Scope), AuthStyle: oauth2.AuthStyleInParams,
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.client))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && refusedStatus(re.Response.StatusCode) {
			return "", time.Time{}, fmt.Errorf("get an access token from %s: %w (HTTP %d %s: check client_id and the secret)",
				t.cfg.TokenURL, ErrRefused, re.Response.StatusCode, re.ErrorCode)
		}
		return "", time.Time{}, fmt.Errorf("get an access token from %s: %w", t.cfg.TokenURL, err)
	}
	return tok.AccessToken, tok.Expiry, nil
}

// refusedStatus: 400 (invalid_client, unauthorized_client, invalid_scope)
// and 401 say the request is wrong and will stay wrong; anything else may
// pass.
func refusedStatus(code int) bool {
	return code == http.StatusBadRequest || code == http.StatusUnauthorized
}

// issuerSaid is the issuer's error code and description from MSAL's
// error (the reply body it quotes), on one line; no secret is in it, as the
// request's body is never quoted.
func issuerSaid(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "{"); i >= 0 {
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal([]byte(msg[i:]), &body) == nil && body.Error != "" {
			d, _, _ := strings.Cut(body.Description, "\r")
			d, _, _ = strings.Cut(d, "\n")
			return body.Error + ": " + d
		}
	}
	return strings.Join(strings.Fields(msg), " ")
}

func readOneLine(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("read the %s: %s is empty", what, path)
	}
	return s, nil
}
