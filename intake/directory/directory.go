// Package directory asks the region's directory (the HSA catalogue or the
// staff directory, over LDAP) whether the manager named on a form is a
// person it knows, and a manager, and whether an HSA-id exists. A form can
// name any address as the manager; only the directory knows who the
// managers are.
//
// Answers are cached for a few minutes, found and not found alike: one
// mailbox pass asks about the same manager many times. A directory that
// cannot be asked (down, unreachable, refusing the bind, slow past the
// timeout) is ErrUnavailable and never a "not found": the caller must let
// the message wait rather than return a valid form.
package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
)

// TLS modes of the connection, as for IMAP and SMTP: starttls (ldap://,
// StartTLS required before the bind), tls (ldaps://), plain (ldap://
// without TLS, loopback only).
const (
	TLSStart    = endpoint.TLSStart
	TLSImplicit = endpoint.TLSImplicit
	TLSPlain    = endpoint.TLSPlain
)

// Placeholders in the filters, replaced by the escaped value.
const (
	MailPlaceholder  = "{mail}"
	HSAIDPlaceholder = "{hsa_id}"
)

// Defaults.
const (
	DefaultPersonFilter  = "(&(objectClass=person)(mail={mail}))"
	DefaultTimeout       = 10 * time.Second
	DefaultCacheTTL      = 5 * time.Minute
	DefaultRetryInterval = 30 * time.Second
)

// Config is the optional [directory] section. An empty URL turns the
// checks off.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string `toml:"url"`
	// TLS is starttls (default for ldap://), tls (ldaps://) or plain
	// (ldap:// on a loopback address only).
	TLS string `toml:"tls"`
	// CAFile adds the roots of a private CA; verification is never off.
	CAFile string `toml:"ca_file"`
	// ServerName is the name the certificate is checked against (default
	// the host of URL).
	ServerName string `toml:"server_name"`
	// BindDN and PasswordFile are the account the daemon reads the
	// directory as; a relative PasswordFile is under
	// $CREDENTIALS_DIRECTORY.
	BindDN       string `toml:"bind_dn"`
	PasswordFile string `toml:"password_file"`
	// BaseDN is where people are searched (the whole subtree).
	BaseDN string `toml:"base_dn"`
	// PersonFilter finds a person by e-mail address; {mail} is replaced
	// by the address, escaped.
	PersonFilter string `toml:"person_filter"`
	// ManagerAttribute, when set, must be present on the person for them
	// to count as a manager; with ManagerValue, one of its values must be
	// that (in any letter case).
	ManagerAttribute string `toml:"manager_attribute"`
	ManagerValue     string `toml:"manager_value"`
	// HSAIDFilter, when set, finds a person by HSA-id ({hsa_id}, escaped):
	// an HSA-id given on a form must exist.
	HSAIDFilter string `toml:"hsa_id_filter"`
	// Timeout bounds connecting and each request.
	Timeout time.Duration `toml:"timeout"`
	// CacheTTL is how long an answer is kept.
	CacheTTL time.Duration `toml:"cache_ttl"`
	// RetryInterval is how soon mail that waits for an unreachable
	// directory is tried again.
	RetryInterval time.Duration `toml:"retry_interval"`
}

// Enabled reports whether the directory is asked at all.
func (c Config) Enabled() bool { return c.URL != "" }

// WithDefaults returns c with every unset value at its default (the TLS
// mode follows the URL's scheme).
func (c Config) WithDefaults() Config {
	if c.TLS == "" && c.URL != "" {
		c.TLS = TLSStart
		if strings.HasPrefix(strings.ToLower(c.URL), "ldaps:") {
			c.TLS = TLSImplicit
		}
	}
	return endpoint.WithDefaults(c, Config{PersonFilter: DefaultPersonFilter, Timeout: DefaultTimeout, CacheTTL: DefaultCacheTTL, RetryInterval: DefaultRetryInterval})
}

// ResolvePaths makes a relative password file absolute under dir
// (systemd's $CREDENTIALS_DIRECTORY), like the other secrets.
func (c Config) ResolvePaths(dir string) Config {
	c.PasswordFile = endpoint.ResolvePath(dir, c.PasswordFile)
	return c
}

// Validate reports every problem of c (after WithDefaults), each an
// *endpoint.Problem naming its key as directory.key. An empty URL is valid
// and nothing else is checked but the durations.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, endpoint.Problemf("directory."+key, format, args...))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"timeout", c.Timeout}, {"cache_ttl", c.CacheTTL}, {"retry_interval", c.RetryInterval}} {
		if d.v <= 0 {
			add(d.key, "must be positive, got %s", d.v)
		}
	}
	if !c.Enabled() {
		return errors.Join(errs...)
	}
	u, err := url.Parse(c.URL)
	scheme := ""
	if err != nil || u.Host == "" {
		add("url", "want ldap://host[:port] or ldaps://host[:port], got %q", c.URL)
	} else {
		scheme = strings.ToLower(u.Scheme)
		if scheme != "ldap" && scheme != "ldaps" {
			add("url", "want ldap:// or ldaps://, got %q", c.URL)
		}
	}
	switch c.TLS {
	case TLSStart, TLSPlain:
		if scheme == "ldaps" {
			add("tls", "an ldaps:// url is always tls, got %q", c.TLS)
		}
		if c.TLS == TLSPlain && u != nil && !endpoint.IsLoopback(u.Hostname()) {
			add("tls", "plain is allowed only for a loopback host, not %q", u.Hostname())
		}
	case TLSImplicit:
		if scheme == "ldap" {
			add("tls", "tls needs an ldaps:// url (or starttls with ldap://)")
		}
	default:
		add("tls", "want starttls, tls or plain, got %q", c.TLS)
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			add("ca_file", "cannot read: %v", err)
		}
	}
	if c.BindDN == "" {
		add("bind_dn", "required with a url")
	} else if _, err := ldap.ParseDN(c.BindDN); err != nil {
		add("bind_dn", "not a DN: %v", err)
	}
	if c.PasswordFile == "" {
		add("password_file", "required with a url")
	} else if _, err := os.Stat(c.PasswordFile); err != nil {
		add("password_file", "cannot read: %v", err)
	}
	if c.BaseDN == "" {
		add("base_dn", "required with a url")
	} else if _, err := ldap.ParseDN(c.BaseDN); err != nil {
		add("base_dn", "not a DN: %v", err)
	}
	checkFilter := func(key, f, placeholder string) {
		if !strings.Contains(f, placeholder) {
			add(key, "must contain %s, got %q", placeholder, f)
			return
		}
		if _, err := ldap.CompileFilter(strings.ReplaceAll(f, placeholder, "x")); err != nil {
			add(key, "not an LDAP filter: %v", err)
		}
	}
	checkFilter("person_filter", c.PersonFilter, MailPlaceholder)
	if c.HSAIDFilter != "" {
		checkFilter("hsa_id_filter", c.HSAIDFilter, HSAIDPlaceholder)
	}
	if c.ManagerValue != "" && c.ManagerAttribute == "" {
		add("manager_value", "only with manager_attribute")
	}
	return errors.Join(errs...)
}

// ErrUnavailable wraps every failure to get an answer: the directory is
// down or unreachable, refuses the bind, or did not answer in time. The
// caller waits and asks again; it never takes it for "not found".
var ErrUnavailable = errors.New("directory unavailable")

// Person is what the directory says of an e-mail address.
type Person struct {
	Found   bool // a person with this address exists
	Manager bool // and is a manager (always true with Found when no manager attribute is configured)
}

// Directory asks one LDAP server, over one connection made on first use
// and again after any failure. Safe for concurrent use; requests are made
// one at a time.
type Directory struct {
	cfg Config
	now func() time.Time

	mu    sync.Mutex
	conn  *ldap.Conn
	cache map[string]cached
	// After a failure, questions not in the cache fail at once until
	// downUntil (half the retry interval) with downErr: a directory that
	// hangs must not cost a timeout for every message of a pass.
	downUntil time.Time
	downErr   error
}

type cached struct {
	found, manager bool
	at             time.Time
}

// maxCache bounds the cache: an answer costs little, but the addresses
// come from mail anyone can send.
const maxCache = 10000

// New makes a Directory for a validated, enabled configuration; nothing is
// dialled until the first question.
func New(cfg Config) *Directory {
	return &Directory{cfg: cfg, now: time.Now, cache: map[string]cached{}}
}

// SetClock replaces the clock the cache ages by (tests).
func (d *Directory) SetClock(now func() time.Time) {
	d.mu.Lock()
	d.now = now
	d.mu.Unlock()
}

// Close drops the connection.
func (d *Directory) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return endpoint.Drop(&d.conn)
}

// Manager looks up the person with this e-mail address.
func (d *Directory) Manager(mail string) (Person, error) {
	attrs := []string{"1.1"} // no attributes: existence is the answer
	if d.cfg.ManagerAttribute != "" {
		attrs = []string{d.cfg.ManagerAttribute}
	}
	found, manager, err := d.ask("mail", mail, d.cfg.PersonFilter, MailPlaceholder, attrs, d.isManager)
	return Person{Found: found, Manager: manager}, err
}

// HSAID reports whether a person with this HSA-id exists; always true when
// no hsa_id_filter is configured.
func (d *Directory) HSAID(id string) (bool, error) {
	if d.cfg.HSAIDFilter == "" {
		return true, nil
	}
	found, _, err := d.ask("hsa", id, d.cfg.HSAIDFilter, HSAIDPlaceholder, []string{"1.1"}, nil)
	return found, err
}

// ChecksHSAID reports whether HSA-ids are looked up at all.
func (d *Directory) ChecksHSAID() bool { return d.cfg.HSAIDFilter != "" }

// Check binds and makes one lookup of mail, uncached: for an operator's
// health check.
func (d *Directory) Check(mail string) (Person, error) {
	d.mu.Lock()
	delete(d.cache, "mail\x00"+strings.ToLower(mail))
	d.downUntil = time.Time{}
	d.mu.Unlock()
	return d.Manager(mail)
}

func (d *Directory) isManager(e *ldap.Entry) bool {
	if d.cfg.ManagerAttribute == "" {
		return true
	}
	for _, v := range e.GetAttributeValues(d.cfg.ManagerAttribute) {
		if d.cfg.ManagerValue == "" && strings.TrimSpace(v) != "" || d.cfg.ManagerValue != "" && strings.EqualFold(strings.TrimSpace(v), d.cfg.ManagerValue) {
			return true
		}
	}
	return false
}

// ask answers from the cache or the server. manager, when not nil, is
// asked of each entry found.
func (d *Directory) ask(kind, value, filter, placeholder string, attrs []string, manager func(*ldap.Entry) bool) (found, isManager bool, err error) {
	key := kind + "\x00" + strings.ToLower(value)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if c, ok := d.cache[key]; ok && now.Sub(c.at) < d.cfg.CacheTTL {
		return c.found, c.manager, nil
	}
	if now.Before(d.downUntil) {
		return false, false, d.downErr
	}
	f := strings.ReplaceAll(filter, placeholder, ldap.EscapeFilter(value))
	entries, err := d.search(f, attrs)
	if err != nil {
		d.downUntil, d.downErr = now.Add(d.cfg.RetryInterval/2), err
		return false, false, err
	}
	found = len(entries) > 0
	for _, e := range entries {
		if manager == nil || manager(e) {
			isManager = true
		}
	}
	if len(d.cache) >= maxCache {
		for k, c := range d.cache {
			if now.Sub(c.at) >= d.cfg.CacheTTL {
				delete(d.cache, k)
			}
		}
		if len(d.cache) >= maxCache {
			clear(d.cache)
		}
	}
	d.cache[key] = cached{found: found, manager: found && isManager, at: now}
	return found, found && isManager, nil
}

// search runs one search on the connection (dialling it first when there
// is none); any failure drops the connection and is ErrUnavailable.
func (d *Directory) search(filter string, attrs []string) ([]*ldap.Entry, error) {
	if d.conn == nil {
		c, err := d.dial()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		d.conn = c
	}
	secs := int(d.cfg.Timeout / time.Second)
	req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, max(secs, 1), false, filter, attrs, nil)
	res, err := d.conn.Search(req)
	if err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil && len(res.Entries) > 0 {
		err = nil // two or more: found all the same
	}
	if err != nil {
		endpoint.Drop(&d.conn)
		return nil, fmt.Errorf("%w: search %s: %w", ErrUnavailable, d.cfg.BaseDN, err)
	}
	return res.Entries, nil
}

// dial connects, secures the connection as configured and binds.
func (d *Directory) dial() (*ldap.Conn, error) {
	u, err := url.Parse(d.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	tc, err := d.tlsConfig(u.Hostname())
	if err != nil {
		return nil, err
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: d.cfg.Timeout})}
	if d.cfg.TLS == TLSImplicit {
		opts = append(opts, ldap.DialWithTLSConfig(tc))
	}
	c, err := ldap.DialURL(d.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.cfg.URL, err)
	}
	c.SetTimeout(d.cfg.Timeout)
	if d.cfg.TLS == TLSStart {
		if err := c.StartTLS(tc); err != nil {
			c.Close()
			return nil, fmt.Errorf("starttls with %s: %w", d.cfg.URL, err)
		}
	}
	pw, err := endpoint.Config{Auth: endpoint.AuthPlain, PasswordFile: d.cfg.PasswordFile}.Credentials(nil).Secret(context.Background(), false)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read the bind password: %w", err)
	}
	if err := c.Bind(d.cfg.BindDN, pw); err != nil {
		c.Close()
		return nil, fmt.Errorf("bind as %s: %w", d.cfg.BindDN, err)
	}
	return c, nil
}

func (d *Directory) tlsConfig(host string) (*tls.Config, error) {
	return endpoint.Config{Addr: net.JoinHostPort(host, "0"), CAFile: d.cfg.CAFile, ServerName: d.cfg.ServerName}.TLSConfig()
}
