package mailer

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
)

// LoopHeader is the header every mail of ours carries, with our domain as its
// value. The intake ignores any incoming message that has it, so a reply that
// comes back to the intake mailbox (a forward, a misrouted copy) can never
// start a mail loop.
const LoopHeader = "X-Websesam-Intake-Loop"

// DefaultSupportLine is the line every reply carries (rule 7 of docs/form.md).
const DefaultSupportLine = formparse.SupportLine

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

// The TLS modes. StartTLS is the default and is mandatory: a server that does
// not offer STARTTLS is an error, never a silent downgrade. Plain is allowed
// only for a relay on a loopback address and only when set explicitly.
const (
	TLSImplicit TLSMode = "tls"
	StartTLS    TLSMode = "starttls"
	Plain       TLSMode = "plain"
)

// AuthMethod is the SMTP authentication mechanism; empty means none.
type AuthMethod string

// The supported authentication mechanisms.
const (
	AuthNone        AuthMethod = ""
	AuthPlain       AuthMethod = "plain"
	AuthLogin       AuthMethod = "login"
	AuthXOAUTH2     AuthMethod = "xoauth2"
	AuthOAuthBearer AuthMethod = "oauthbearer"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultMaxPerHour     = 10
	DefaultBounceWindow   = 30 * 24 * time.Hour
	DefaultMaxAge         = 3 * 24 * time.Hour
	DefaultAttemptTimeout = 60 * time.Second
	DefaultRetryBase      = time.Minute
	DefaultRetryMax       = time.Hour
	DefaultPollInterval   = 30 * time.Second
	DefaultReconnectMax   = 5 * time.Minute
	DefaultBatch          = 100
)

// DefaultSignature closes every notice above the support line.
const DefaultSignature = "Med vänliga hälsningar\nHjälpmedelscentrum"

// Config is the mailer's section of the configuration: who the mail is from,
// the wording operators may change, the recipient policy and the SMTP relay.
// Secrets are never in it, only the paths of the files that hold them.
type Config struct {
	// FromAddress is the intake mailbox: the From of every notice and the
	// envelope sender (so bounces come back to the intake, which records them).
	FromAddress string `toml:"from_address"`
	FromName    string `toml:"from_name"`
	// MessageIDDomain is the right-hand side of our Message-IDs and the value
	// of LoopHeader; default the domain of FromAddress.
	MessageIDDomain string `toml:"message_id_domain"`
	// Signature is the closing text; SupportLine follows it in every notice.
	Signature   string `toml:"signature"`
	SupportLine string `toml:"support_line"`
	// LoginInstructions is the text the new user gets with the user name:
	// where to log in and how the first password is obtained. Never a password.
	LoginInstructions string `toml:"login_instructions"`
	// FormURL is where the blank forms are published (quoted in no-form replies).
	FormURL string `toml:"form_url"`
	// TemplatesDir, when set, holds templates that replace the embedded ones
	// of the same file name.
	TemplatesDir string `toml:"templates_dir"`

	// AllowedDomains are the only recipient domains we write to (a
	// subdomain does not match unless listed).
	AllowedDomains []string `toml:"allowed_recipient_domains"`
	// MaxPerHour caps the mails to one address per rolling hour.
	MaxPerHour int `toml:"max_per_recipient_per_hour"`
	// BounceWindow: no mail goes to an address that bounced within it.
	BounceWindow time.Duration `toml:"bounce_window"`

	SMTP SMTPConfig `toml:"smtp"`

	// MaxAge: a row still failing temporarily after this long becomes failed.
	MaxAge time.Duration `toml:"max_age"`
	// AttemptTimeout bounds one delivery attempt, connection included.
	AttemptTimeout time.Duration `toml:"attempt_timeout"`
	// RetryBase and RetryMax bound the exponential backoff of a row.
	RetryBase time.Duration `toml:"retry_base"`
	RetryMax  time.Duration `toml:"retry_max"`
	// PollInterval is how often the worker looks for due rows when nobody
	// pokes it.
	PollInterval time.Duration `toml:"poll_interval"`
	// ReconnectMax caps the wait between attempts to reach a relay that is
	// down; kept short so mail flows again soon after an outage.
	ReconnectMax time.Duration `toml:"reconnect_max"`
	Batch        int           `toml:"batch"`
}

// SMTPConfig is how to reach the relay. Its addr, tls, helo, auth and
// username are keys of [mailer.smtp]; the rest of that section (the CA file,
// the server name, the secret files, OAuth2) is read by the caller, which
// validates the whole section and hands over the resolved TLSConfig and
// Credentials: this package reads no secret and no certificate file.
type SMTPConfig struct {
	Addr     string     `toml:"addr"` // host:port
	TLS      TLSMode    `toml:"tls"`
	HELO     string     `toml:"helo"`
	Auth     AuthMethod `toml:"auth"`
	Username string     `toml:"username"`
	// TLSConfig checks the server's certificate; nil means the system
	// roots against the host of Addr. Verification is never off.
	TLSConfig *tls.Config `toml:"-"`
	// Credentials gives the login's secret; required when Auth is set.
	Credentials Credentials `toml:"-"`
}

// Credentials gives the secret of an SMTP login: a password or an OAuth2
// access token, read afresh for every connection. Renewable tells whether
// asking again with renew set may give a different token, which makes a
// refused login worth one immediate retry.
type Credentials interface {
	Secret(ctx context.Context, renew bool) (string, error)
	Renewable() bool
}

// WithDefaults returns c with every unset value at its default.
func (c Config) WithDefaults() Config {
	if c.MessageIDDomain == "" {
		if _, dom, ok := strings.Cut(c.FromAddress, "@"); ok {
			c.MessageIDDomain = dom
		}
	}
	c.Signature = cmp.Or(c.Signature, DefaultSignature)
	c.SupportLine = cmp.Or(c.SupportLine, DefaultSupportLine)
	c.MaxPerHour = cmp.Or(c.MaxPerHour, DefaultMaxPerHour)
	c.BounceWindow = cmp.Or(c.BounceWindow, DefaultBounceWindow)
	c.MaxAge = cmp.Or(c.MaxAge, DefaultMaxAge)
	c.AttemptTimeout = cmp.Or(c.AttemptTimeout, DefaultAttemptTimeout)
	c.RetryBase = cmp.Or(c.RetryBase, DefaultRetryBase)
	c.RetryMax = cmp.Or(c.RetryMax, DefaultRetryMax)
	c.PollInterval = cmp.Or(c.PollInterval, DefaultPollInterval)
	c.ReconnectMax = cmp.Or(c.ReconnectMax, DefaultReconnectMax)
	c.Batch = cmp.Or(c.Batch, DefaultBatch)
	c.SMTP.TLS = cmp.Or(c.SMTP.TLS, StartTLS)
	return c
}

// ErrConfig is matched by every configuration problem, so the command can
// exit with status 2.
var ErrConfig = errors.New("bad mailer configuration")

// ConfigError is one configuration problem: the key within the [mailer]
// section and what is wrong with it. It matches ErrConfig.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return ErrConfig.Error() + ": " + e.Key + ": " + e.Msg }

// Is makes every ConfigError match ErrConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

func problem(key, format string, args ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports every problem of the configuration at once, each with its
// key, joined with errors.Join. It reads the secret files' existence but not
// their content. Call it on WithDefaults' result.
func (c Config) Validate() error {
	return errors.Join(c.validateCompose(), c.validateDelivery())
}

// validateCompose checks what composing needs.
func (c Config) validateCompose() error {
	var errs []error
	if !bareAddress(c.FromAddress) {
		errs = append(errs, problem("from_address", "want a bare e-mail address, got %q", c.FromAddress))
	}
	if strings.ContainsAny(c.FromName, "\r\n") {
		errs = append(errs, problem("from_name", "must be one line"))
	}
	if c.MessageIDDomain == "" || !validDomain(c.MessageIDDomain) {
		errs = append(errs, problem("message_id_domain", "want a domain name, got %q", c.MessageIDDomain))
	}
	if strings.TrimSpace(c.SupportLine) == "" {
		errs = append(errs, problem("support_line", "must not be empty"))
	}
	if strings.TrimSpace(c.LoginInstructions) == "" {
		errs = append(errs, problem("login_instructions", "must not be empty: the new user needs them"))
	}
	if strings.TrimSpace(c.FormURL) == "" {
		errs = append(errs, problem("form_url", "must not be empty: the no-form reply says where the form is"))
	}
	if c.TemplatesDir != "" {
		if fi, err := os.Stat(c.TemplatesDir); err != nil || !fi.IsDir() {
			errs = append(errs, problem("templates_dir", "not a readable directory: %q", c.TemplatesDir))
		}
	}
	if len(c.AllowedDomains) == 0 {
		errs = append(errs, problem("allowed_recipient_domains", "must list at least one domain"))
	}
	for _, d := range c.AllowedDomains {
		if !ValidDomain(d) {
			errs = append(errs, problem("allowed_recipient_domains", "not a domain name: %q", d))
		}
	}
	return errors.Join(errs...)
}

// validateDelivery checks the policy, the timing and the SMTP section.
func (c Config) validateDelivery() error {
	var errs []error
	if c.MaxPerHour < 1 {
		errs = append(errs, problem("max_per_recipient_per_hour", "must be at least 1, got %d", c.MaxPerHour))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"bounce_window", c.BounceWindow}, {"max_age", c.MaxAge}, {"attempt_timeout", c.AttemptTimeout},
		{"retry_base", c.RetryBase}, {"retry_max", c.RetryMax}, {"poll_interval", c.PollInterval},
		{"reconnect_max", c.ReconnectMax},
	} {
		if d.v <= 0 {
			errs = append(errs, problem(d.key, "must be positive, got %s", d.v))
		}
	}
	if c.RetryMax < c.RetryBase {
		errs = append(errs, problem("retry_max", "must not be below retry_base (%s < %s)", c.RetryMax, c.RetryBase))
	}
	if c.Batch < 1 {
		errs = append(errs, problem("batch", "must be at least 1, got %d", c.Batch))
	}
	// The SMTP section is validated by the caller, which reads its files
	// (see SMTPConfig); NewSender refuses what it cannot use.
	return errors.Join(errs...)
}

// bareAddress reports whether s is an address without a display name.
func bareAddress(s string) bool {
	if s == "" || strings.ContainsAny(s, "<>\r\n ") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for _, r := range d {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
