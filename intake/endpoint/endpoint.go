package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/regionhmc/websesam-intake/mailer"
)

// TLS modes. Implicit TLS is the safe default; STARTTLS is required once
// chosen (a server that does not offer it is an error, never a silent
// downgrade); plain is allowed only for a loopback host and only when
// written out.
const (
	TLSImplicit = "tls"
	TLSStart    = "starttls"
	TLSPlain    = "plain"
)

// Authentication mechanisms. Microsoft 365 and Google need an OAuth2
// access token (xoauth2 or oauthbearer).
const (
	AuthNone        = ""
	AuthLogin       = "login" // IMAP LOGIN, or SMTP AUTH LOGIN
	AuthPlain       = "plain" // SASL PLAIN
	AuthXOAUTH2     = "xoauth2"
	AuthOAuthBearer = "oauthbearer"
)

// IsOAuth tells whether a mechanism presents an access token.
func IsOAuth(auth string) bool { return auth == AuthXOAUTH2 || auth == AuthOAuthBearer }

// DefaultTokenTimeout bounds a token command when the caller gives no
// timeout of its own.
const DefaultTokenTimeout = time.Minute

// Config is one server connection as configured: the [mailbox] section or
// [mailer.smtp].
type Config struct {
	Addr string // host:port
	TLS  string // TLSImplicit, TLSStart or TLSPlain
	// CAFile adds the roots of a private CA; verification is never off.
	CAFile string
	// ServerName is the name the certificate is checked against (default
	// the host of Addr).
	ServerName   string
	Auth         string
	Username     string
	PasswordFile string
	TokenFile    string
	TokenCommand []string // run without a shell; prints an access token
	// TokenTimeout bounds TokenCommand (DefaultTokenTimeout when zero).
	TokenTimeout time.Duration
}

// Rules say what a section accepts.
type Rules struct {
	// Section prefixes every key ("mailbox", "mailer.smtp").
	Section string
	// Mechanisms are the accepted values of auth, in the order the
	// message lists them; AuthNone among them makes auth optional.
	Mechanisms []string
	// OAuth2 tells whether the built-in OAuth2 client is configured: an
	// OAuth mechanism then needs neither token_file nor token_command.
	OAuth2 bool
}

// Validate reports every problem of c at once, each a *Problem keyed
// Section.key. It looks at the files' existence, never at a secret.
func (c Config) Validate(r Rules) error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, Problemf(r.Section+"."+key, format, args...))
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" || port == "" {
		add("addr", "want host:port, got %q", c.Addr)
	}
	switch c.TLS {
	case TLSImplicit, TLSStart:
	case TLSPlain:
		if err == nil && !IsLoopback(host) {
			add("tls", "plain is allowed only for a loopback host, not %q", host)
		}
	default:
		add("tls", "want tls, starttls or plain, got %q", c.TLS)
	}
	if c.CAFile != "" {
		if _, err := readCA(c.CAFile); err != nil {
			add("ca_file", "%v", err)
		}
	}
	if !slices.Contains(r.Mechanisms, c.Auth) {
		var names []string
		for _, m := range r.Mechanisms {
			if m != AuthNone {
				names = append(names, m)
			}
		}
		list := strings.Join(names, ", ")
		if n := len(names); n > 1 {
			list = strings.Join(names[:n-1], ", ") + " or " + names[n-1]
		}
		add("auth", "want %s, got %q", list, c.Auth)
		return errors.Join(errs...)
	}
	if c.Auth != AuthNone && c.Username == "" {
		add("username", "required with auth %s", c.Auth)
	}
	switch {
	case c.Auth == AuthNone:
	case IsOAuth(c.Auth):
		switch {
		case c.PasswordFile != "":
			add("password_file", "not with auth %s (an access token is presented, not a password)", c.Auth)
		case c.TokenFile != "" && len(c.TokenCommand) > 0:
			add("token_file", "set token_file or token_command, not both")
		case c.TokenFile != "":
			if _, err := os.Stat(c.TokenFile); err != nil {
				add("token_file", "cannot read: %v", err)
			}
		case len(c.TokenCommand) > 0:
			if c.TokenCommand[0] == "" {
				add("token_command", "the first element must name a program")
			}
		case !r.OAuth2:
			add("token_file", "auth %s needs token_file, token_command or the [oauth2] section", c.Auth)
		}
	default:
		if c.PasswordFile == "" {
			add("password_file", "required with auth %s", c.Auth)
		} else if _, err := os.Stat(c.PasswordFile); err != nil {
			add("password_file", "cannot read: %v", err)
		}
		if c.TokenFile != "" || len(c.TokenCommand) > 0 {
			add("token_file", "only with auth xoauth2 or oauthbearer")
		}
	}
	// Plain is loopback only; a password may cross it, a bearer token
	// (good anywhere until it expires) never does.
	if IsOAuth(c.Auth) && c.TLS == TLSPlain {
		add("auth", "tokens are never sent without TLS")
	}
	return errors.Join(errs...)
}

// Host is the host part of Addr.
func (c Config) Host() string {
	h, _, _ := net.SplitHostPort(c.Addr)
	return h
}

// TLSConfig is the client TLS configuration: TLS 1.2 at least, the
// certificate checked against ServerName (or the host), the system roots
// plus CAFile's. Verification cannot be turned off.
func (c Config) TLSConfig() (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.Host(), MinVersion: tls.VersionTLS12}
	if c.ServerName != "" {
		tc.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pool, err := readCA(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func readCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}

// ResolvePath makes a relative secret path absolute under dir, the
// directory systemd's LoadCredential= fills ($CREDENTIALS_DIRECTORY). An
// empty path or dir leaves p as it is.
func ResolvePath(dir, p string) string {
	if dir == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// IsLoopback reports whether host is a loopback IP or "localhost": the only
// hosts to which anything is sent without TLS. The name is compared as
// domains are (mailer.SameDomain), so "localhoſt" (LONG S) is not it.
func IsLoopback(host string) bool {
	if mailer.SameDomain(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
