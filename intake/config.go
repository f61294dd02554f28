package intake

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/regionhmc/websesam-intake/intake/directory"
	"github.com/regionhmc/websesam-intake/intake/endpoint"
	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/intake/trust"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// ErrConfig is matched by every configuration problem, so that the command
// exits with status 2 (bad configuration) rather than 1. Each problem is an
// *endpoint.Problem with its key; endpoint.Problems lists them.
var ErrConfig = endpoint.ErrConfig

// Config is the daemon's whole configuration: one TOML file with a section
// per concern. Secrets never appear in it: only the paths of the files (or
// the command) that hold them. A relative secret path is taken relative to
// $CREDENTIALS_DIRECTORY when systemd set it (LoadCredential=).
//
//	[mailbox]   the IMAP account watched for forms
//	[folders]   where each outcome's messages are moved
//	[policy]    what is accepted: keyword, sender domains, size limits, backlog
//	[store]     the bbolt file
//	[mailer]    replies and their delivery (see package mailer), with [mailer.smtp]
//	[queue]     the promise in working days
//	[retention] how long personal data is kept, in the store and the folders
//	[digest]    the optional morning digest
//	[oauth2]    the built-in OAuth2 client both logins can take tokens from
//	[trust]     which sender verdicts count and what they do (see package trust)
//	[directory] the LDAP directory that knows the managers (see package directory)
type Config struct {
	Mailbox MailboxConfig     `toml:"mailbox"`
	Folders FolderConfig      `toml:"folders"`
	Policy  PolicyConfig      `toml:"policy"`
	Store   StoreConfig       `toml:"store"`
	Mailer  mailer.Config     `toml:"mailer"`
	Staff   staffapi.Config   `toml:"staff"`
	Metrics ops.MetricsConfig `toml:"metrics"`
	Log     ops.LogConfig     `toml:"log"`
	// Relay holds the keys of [mailer.smtp] that package mailer does not
	// read itself: the CA file and the secrets. LoadConfig resolves them
	// into Mailer.SMTP's TLSConfig and Credentials (package mailer may not
	// import package endpoint). Decoded from the file by LoadConfig.
	Relay RelayConfig `toml:"-" key:"mailer.smtp"`
	// OAuth2 is the built-in client-credentials client, used by an
	// xoauth2 or oauthbearer login without token_file or token_command.
	OAuth2 endpoint.OAuth2Config `toml:"oauth2"`
	// tokens is that client, made by LoadConfig when [oauth2] is
	// configured and shared by both logins (one token serves both).
	tokens endpoint.TokenSource
	// Queue, Retention and Digest: the promise, how long personal data is
	// kept, and the morning digest (config_report.go).
	Queue     QueueConfig      `toml:"queue"`
	Retention RetentionConfig  `toml:"retention"`
	Digest    DigestConfig     `toml:"digest"`
	Trust     trust.Config     `toml:"trust"`
	Directory directory.Config `toml:"directory"`
}

// TLS modes of the IMAP connection. Implicit TLS (port 993) is the default;
// plain is accepted only for a loopback address and only when written out.
const (
	TLSImplicit = endpoint.TLSImplicit
	TLSStart    = endpoint.TLSStart
	TLSPlain    = endpoint.TLSPlain
)

// Authentication mechanisms of the IMAP login. Microsoft 365 and Google need
// an OAuth2 access token (xoauth2 or oauthbearer) for IMAP.
const (
	AuthLogin       = endpoint.AuthLogin // the IMAP LOGIN command
	AuthPlain       = endpoint.AuthPlain // SASL PLAIN
	AuthXOAUTH2     = endpoint.AuthXOAUTH2
	AuthOAuthBearer = endpoint.AuthOAuthBearer
)

// imapMechanisms and smtpMechanisms are what each login accepts.
var (
	imapMechanisms = []string{AuthLogin, AuthPlain, AuthXOAUTH2, AuthOAuthBearer}
	smtpMechanisms = []string{endpoint.AuthNone, AuthPlain, AuthLogin, AuthXOAUTH2, AuthOAuthBearer}
)

// MailboxConfig is the IMAP account.
type MailboxConfig struct {
	Addr string `toml:"addr"` // host:port
	TLS  string `toml:"tls"`  // tls (default), starttls, plain (loopback only)
	// CAFile adds the roots of a private CA; verification is never off.
	CAFile string `toml:"ca_file"`
	// ServerName is the name the certificate is checked against (default
	// the host of Addr).
	ServerName   string   `toml:"server_name"`
	Auth         string   `toml:"auth"` // login (default), plain, xoauth2, oauthbearer
	Username     string   `toml:"username"`
	PasswordFile string   `toml:"password_file"`
	TokenFile    string   `toml:"token_file"`
	TokenCommand []string `toml:"token_command"` // run without a shell; prints an access token
	// Folder is the mailbox the forms arrive in.
	Folder string `toml:"folder"`
	// CommandTimeout bounds every IMAP command, a body download included:
	// the client library has no deadline of its own, so a watchdog closes
	// the connection when it runs out.
	CommandTimeout time.Duration `toml:"command_timeout"`
	// IdleRestart ends IDLE and starts it again well before servers drop
	// an idle connection (29 minutes by RFC, 10 at some providers).
	IdleRestart time.Duration `toml:"idle_restart"`
	// PollInterval is how often the mailbox is searched even while IDLE
	// is running (IDLE is known to stall silently), and when the server
	// has no IDLE at all.
	PollInterval time.Duration `toml:"poll_interval"`
	// ReconnectMin and ReconnectMax bound the jittered exponential backoff
	// between connection attempts; a failed login waits AuthBackoffMin at
	// least, growing to AuthBackoffMax, so a wrong password does not lock
	// the account.
	ReconnectMin   time.Duration `toml:"reconnect_min"`
	ReconnectMax   time.Duration `toml:"reconnect_max"`
	AuthBackoffMin time.Duration `toml:"auth_backoff_min"`
	AuthBackoffMax time.Duration `toml:"auth_backoff_max"`
	// FetchBatch is how many messages' envelopes are asked for at once.
	FetchBatch int `toml:"fetch_batch"`
}

// Endpoint is the connection as package endpoint knows it.
func (m MailboxConfig) Endpoint() endpoint.Config {
	return endpoint.Config{
		Addr: m.Addr, TLS: m.TLS, CAFile: m.CAFile, ServerName: m.ServerName, Auth: m.Auth,
		Username: m.Username, PasswordFile: m.PasswordFile, TokenFile: m.TokenFile,
		TokenCommand: m.TokenCommand, TokenTimeout: m.CommandTimeout,
	}
}

// RelayConfig is the part of [mailer.smtp] that package mailer does not read
// itself (its addr, tls, helo, auth and username are mailer.SMTPConfig's):
// the certificate roots and the secrets, as for the mailbox.
type RelayConfig struct {
	CAFile       string   `toml:"ca_file"`
	ServerName   string   `toml:"server_name"`
	PasswordFile string   `toml:"password_file"`
	TokenFile    string   `toml:"token_file"`
	TokenCommand []string `toml:"token_command"`
}

// smtpEndpoint is the relay connection as package endpoint knows it.
func (c Config) smtpEndpoint() endpoint.Config {
	s := c.Mailer.SMTP
	return endpoint.Config{
		Addr: s.Addr, TLS: string(s.TLS), CAFile: c.Relay.CAFile, ServerName: c.Relay.ServerName,
		Auth: string(s.Auth), Username: s.Username, PasswordFile: c.Relay.PasswordFile,
		TokenFile: c.Relay.TokenFile, TokenCommand: c.Relay.TokenCommand, TokenTimeout: c.Mailer.AttemptTimeout,
	}
}

// FolderConfig names the folder of each outcome. Levels are separated by
// "/" here whatever the server's hierarchy separator is; the daemon
// translates. Missing folders are created.
type FolderConfig struct {
	Queued      string `toml:"queued"`
	Returned    string `toml:"returned"`
	NoForm      string `toml:"no_form"`
	Ignored     string `toml:"ignored"`
	Quarantined string `toml:"quarantined"`
}

// For returns the folder of an outcome.
func (f FolderConfig) For(o store.Outcome) string {
	return byOutcome(o, f.Queued, f.Returned, f.NoForm, f.Ignored, f.Quarantined)
}

// byOutcome picks the setting of outcome o among one per outcome, in the
// order the configuration lists them; quarantined is the fallback, the
// outcome of anything not otherwise decided.
func byOutcome[T any](o store.Outcome, queued, returned, noForm, ignored, quarantined T) T {
	switch o {
	case store.OutcomeQueued:
		return queued
	case store.OutcomeReturned:
		return returned
	case store.OutcomeNoForm:
		return noForm
	case store.OutcomeIgnored:
		return ignored
	default:
		return quarantined
	}
}

// Backlog policies: what a first start against a mailbox with history does
// with the mail already there.
const (
	BacklogAll   = "all"   // handle every matching message
	BacklogSince = "since" // only messages received on or after BacklogSince
)

// PolicyConfig says what is accepted.
type PolicyConfig struct {
	// Keyword must occur in the decoded subject, in any letter case.
	Keyword string `toml:"keyword"`
	// AllowedSenderDomains: mail from any other domain is quarantined.
	// Empty means any sender.
	AllowedSenderDomains []string `toml:"allowed_sender_domains"`
	// MaxMessageSize: a larger message is quarantined without being
	// downloaded.
	MaxMessageSize int64 `toml:"max_message_size"`
	// MaxAttachmentSize and MaxUnzippedSize bound each attachment and a
	// workbook's unpacked size; MaxAttachments caps the files in one
	// message.
	MaxAttachmentSize int64 `toml:"max_attachment_size"`
	MaxUnzippedSize   int64 `toml:"max_unzipped_size"`
	MaxAttachments    int   `toml:"max_attachments"`
	// ParseTimeout is the time budget of reading one form.
	ParseTimeout time.Duration `toml:"parse_timeout"`
	// Backlog is all or since; with since, mail received before
	// BacklogSince (YYYY-MM-DD) is left alone.
	Backlog      string `toml:"backlog"`
	BacklogSince string `toml:"backlog_since"`
}

// StoreConfig is the database file.
type StoreConfig struct {
	Path        string        `toml:"path"`
	LockTimeout time.Duration `toml:"lock_timeout"`
}

// Defaults.
const (
	DefaultFolder            = "INBOX"
	DefaultKeyword           = "webSesam"
	DefaultCommandTimeout    = 2 * time.Minute
	DefaultIdleRestart       = 9 * time.Minute
	DefaultPollInterval      = 2 * time.Minute
	DefaultReconnectMin      = time.Second
	DefaultReconnectMax      = 5 * time.Minute
	DefaultAuthBackoffMin    = time.Minute
	DefaultAuthBackoffMax    = time.Hour
	DefaultFetchBatch        = 200
	DefaultMaxMessageSize    = 30 << 20
	DefaultMaxAttachmentSize = 10 << 20
	DefaultMaxUnzippedSize   = 50 << 20
	DefaultMaxAttachments    = 10
	DefaultParseTimeout      = 10 * time.Second
	DefaultStorePath         = "/var/lib/websesam-intake/intake.db"
	DefaultLockTimeout       = 10 * time.Second
)

// WithDefaults returns c with every unset value at its default.
func (c Config) WithDefaults() Config {
	c.Mailbox = endpoint.WithDefaults(c.Mailbox, MailboxConfig{
		TLS: TLSImplicit, Auth: AuthLogin, Folder: DefaultFolder,
		CommandTimeout: DefaultCommandTimeout, IdleRestart: DefaultIdleRestart, PollInterval: DefaultPollInterval,
		ReconnectMin: DefaultReconnectMin, ReconnectMax: DefaultReconnectMax,
		AuthBackoffMin: DefaultAuthBackoffMin, AuthBackoffMax: DefaultAuthBackoffMax,
		FetchBatch: DefaultFetchBatch,
	})
	c.Folders = endpoint.WithDefaults(c.Folders, FolderConfig{
		Queued: "webSesam/Queued", Returned: "webSesam/Returned", NoForm: "webSesam/No-form",
		Ignored: "webSesam/Ignored", Quarantined: "webSesam/Quarantine",
	})
	c.Policy = endpoint.WithDefaults(c.Policy, PolicyConfig{
		Keyword: DefaultKeyword, Backlog: BacklogAll,
		MaxMessageSize: DefaultMaxMessageSize, MaxAttachmentSize: DefaultMaxAttachmentSize,
		MaxUnzippedSize: DefaultMaxUnzippedSize, MaxAttachments: DefaultMaxAttachments,
		ParseTimeout: DefaultParseTimeout,
	})
	c.Store = endpoint.WithDefaults(c.Store, StoreConfig{Path: DefaultStorePath, LockTimeout: DefaultLockTimeout})
	c.Mailer = c.Mailer.WithDefaults()
	c.Trust = c.Trust.WithDefaults()
	c.OAuth2 = c.OAuth2.WithDefaults()
	c.Directory = c.Directory.WithDefaults()
	c.Staff.Socket = cmp.Or(c.Staff.Socket, staffapi.DefaultSocket)
	c.Log = endpoint.WithDefaults(c.Log, ops.LogConfig{Level: "info", Format: "auto"})
	c.reportDefaults()
	return c
}

func problem(key, format string, args ...any) error {
	return endpoint.Problemf(key, format, args...)
}

// fileConfig is the shape of the file: [mailer.smtp] is one table in the
// file but two structs here, mailer's and intake's (see Config.SMTP).
type fileConfig struct {
	Config
	Mailer struct {
		mailer.Config
		SMTP struct {
			mailer.SMTPConfig
			RelayConfig
		} `toml:"smtp"`
	} `toml:"mailer"`
}

// StaffPaths reads from the configuration at path only where the staff's
// socket and the store lie (defaults filled in), without the checks and the
// credentials LoadConfig needs: a staff command given the daemon's
// configuration reaches the same daemon and database.
func StaffPaths(path string) (socket, db string, err error) {
	var f fileConfig
	if _, err := toml.DecodeFile(path, &f); err != nil {
		return "", "", &endpoint.Problem{Msg: "read " + path + ": " + err.Error()}
	}
	c := f.Config.WithDefaults()
	return c.Staff.Socket, c.Store.Path, nil
}

// LoadConfig reads the TOML file at path, applies the defaults, resolves
// secret paths against $CREDENTIALS_DIRECTORY and validates the result. Every
// problem is reported at once (errors.Join), each naming its key; all wrap
// ErrConfig. A key the program does not know is a problem too: a typo (or a
// `password =` line) must not pass silently.
func LoadConfig(path string) (Config, error) {
	var f fileConfig
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return Config{}, &endpoint.Problem{Msg: "read " + path + ": " + err.Error()}
	}
	c := f.Config
	c.Mailer = f.Mailer.Config
	c.Mailer.SMTP = f.Mailer.SMTP.SMTPConfig
	c.Relay = f.Mailer.SMTP.RelayConfig
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, problem(k.String(), "unknown key"))
	}
	c = c.WithDefaults()
	c.resolveCredentials(os.Getenv("CREDENTIALS_DIRECTORY"))
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if err := c.resolve(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// resolveCredentials makes relative secret paths absolute under dir (the
// directory systemd's LoadCredential= fills), for the IMAP and SMTP logins
// and the OAuth2 client.
func (c *Config) resolveCredentials(dir string) {
	for _, p := range []*string{&c.Mailbox.PasswordFile, &c.Mailbox.TokenFile, &c.Relay.PasswordFile, &c.Relay.TokenFile} {
		*p = endpoint.ResolvePath(dir, *p)
	}
	c.OAuth2 = c.OAuth2.ResolvePaths(dir)
	c.Directory = c.Directory.ResolvePaths(dir)
}

// Validate reports every problem of c (call it on WithDefaults' result),
// each wrapping ErrConfig and naming its key as section.key.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, problem(key, format, args...)) }
	m := c.Mailbox
	if err := m.Endpoint().Validate(endpoint.Rules{Section: "mailbox", Mechanisms: imapMechanisms, OAuth2: c.OAuth2.Configured()}); err != nil {
		errs = append(errs, err)
	}
	if m.Folder == "" {
		add("mailbox.folder", "must not be empty")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"mailbox.command_timeout", m.CommandTimeout}, {"mailbox.idle_restart", m.IdleRestart},
		{"mailbox.poll_interval", m.PollInterval}, {"mailbox.reconnect_min", m.ReconnectMin},
		{"mailbox.reconnect_max", m.ReconnectMax}, {"mailbox.auth_backoff_min", m.AuthBackoffMin},
		{"mailbox.auth_backoff_max", m.AuthBackoffMax}, {"policy.parse_timeout", c.Policy.ParseTimeout},
		{"store.lock_timeout", c.Store.LockTimeout},
	} {
		if d.v <= 0 {
			add(d.key, "must be positive, got %s", d.v)
		}
	}
	if m.IdleRestart > 25*time.Minute {
		add("mailbox.idle_restart", "must be under 25m (servers drop IDLE after 29m or less), got %s", m.IdleRestart)
	}
	if m.ReconnectMax < m.ReconnectMin {
		add("mailbox.reconnect_max", "must not be below reconnect_min")
	}
	if m.AuthBackoffMax < m.AuthBackoffMin {
		add("mailbox.auth_backoff_max", "must not be below auth_backoff_min")
	}
	if m.FetchBatch < 1 {
		add("mailbox.fetch_batch", "must be at least 1, got %d", m.FetchBatch)
	}

	seen := map[string]string{}
	for _, f := range []struct{ key, v string }{
		{"folders.queued", c.Folders.Queued}, {"folders.returned", c.Folders.Returned},
		{"folders.no_form", c.Folders.NoForm}, {"folders.ignored", c.Folders.Ignored},
		{"folders.quarantined", c.Folders.Quarantined},
	} {
		switch {
		case strings.Trim(f.v, "/ ") == "" || strings.Contains(f.v, "//"):
			add(f.key, "not a folder name: %q", f.v)
		case strings.EqualFold(f.v, m.Folder):
			add(f.key, "must differ from mailbox.folder")
		case seen[f.v] != "":
			add(f.key, "same folder as %s", seen[f.v])
		}
		seen[f.v] = f.key
	}

	p := c.Policy
	if strings.TrimSpace(p.Keyword) == "" {
		add("policy.keyword", "must not be empty")
	}
	for _, d := range p.AllowedSenderDomains {
		if !mailer.ValidDomain(d) {
			add("policy.allowed_sender_domains", "not a domain name: %q", d)
		}
	}
	for _, n := range []struct {
		key string
		v   int64
	}{
		{"policy.max_message_size", p.MaxMessageSize}, {"policy.max_attachment_size", p.MaxAttachmentSize},
		{"policy.max_unzipped_size", p.MaxUnzippedSize}, {"policy.max_attachments", int64(p.MaxAttachments)},
	} {
		if n.v < 1 {
			add(n.key, "must be at least 1, got %d", n.v)
		}
	}
	switch p.Backlog {
	case BacklogAll:
		if p.BacklogSince != "" {
			add("policy.backlog_since", "only with backlog = \"since\"")
		}
	case BacklogSince:
		if _, err := time.Parse(time.DateOnly, p.BacklogSince); err != nil {
			add("policy.backlog_since", "want a date YYYY-MM-DD, got %q", p.BacklogSince)
		}
	default:
		add("policy.backlog", "want all or since, got %q", p.Backlog)
	}
	if c.Store.Path == "" {
		add("store.path", "must not be empty")
	}
	if !filepath.IsAbs(c.Staff.Socket) {
		add("staff.socket", "want an absolute path, got %q", c.Staff.Socket)
	}
	if p := c.Metrics.Problem(); p != "" {
		add("metrics.addr", "%s", p)
	}
	if key, p := c.Log.Problem(); p != "" {
		add(key, "%s", p)
	}
	c.reportProblems(add)
	if err := c.Trust.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Directory.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Mailer.Validate(); err != nil {
		for _, e := range unjoin(err) {
			var ce *mailer.ConfigError
			if errors.As(e, &ce) {
				errs = append(errs, &endpoint.Problem{Key: "mailer." + ce.Key, Msg: ce.Msg, Err: e})
			} else {
				errs = append(errs, &endpoint.Problem{Key: "mailer", Msg: e.Error(), Err: e})
			}
		}
	}
	if err := c.smtpEndpoint().Validate(endpoint.Rules{Section: "mailer.smtp", Mechanisms: smtpMechanisms, OAuth2: c.OAuth2.Configured()}); err != nil {
		errs = append(errs, err)
	}
	if err := c.OAuth2.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// resolve hands package mailer what it cannot read itself: the relay's
// TLS configuration and its login's credentials. Call it on a valid
// configuration.
func (c *Config) resolve() error {
	ep := c.smtpEndpoint()
	tc, err := ep.TLSConfig()
	if err != nil {
		return problem("mailer.smtp.ca_file", "%v", err)
	}
	c.Mailer.SMTP.TLSConfig = tc
	if c.OAuth2.Configured() {
		tokens, err := endpoint.NewTokens(c.OAuth2)
		if err != nil {
			return problem("oauth2.ca_file", "%v", err)
		}
		c.tokens = tokens
	}
	if ep.Auth != endpoint.AuthNone {
		c.Mailer.SMTP.Credentials = ep.Credentials(c.tokens)
	}
	return nil
}

// Tokens is the built-in OAuth2 client LoadConfig made, or nil.
func (c Config) Tokens() *endpoint.Tokens {
	t, _ := c.tokens.(*endpoint.Tokens)
	return t
}

// SMTPEndpoint is the relay's connection as package endpoint knows it.
func (c Config) SMTPEndpoint() endpoint.Config { return c.smtpEndpoint() }

// TokenSource is the token source both logins use (nil without [oauth2]).
func (c Config) TokenSource() endpoint.TokenSource { return c.tokens }

// WithTokens returns c with its logins taking tokens from ts, for a
// configuration made in code rather than loaded (tests, the demo).
func (c Config) WithTokens(ts endpoint.TokenSource) Config {
	c.tokens = ts
	if c.Mailer.SMTP.Auth != mailer.AuthNone {
		c.Mailer.SMTP.Credentials = c.smtpEndpoint().Credentials(ts)
	}
	return c
}

// backlogSince is the first day handled under the since policy (zero for all).
func (p PolicyConfig) backlogSince() time.Time {
	if p.Backlog != BacklogSince {
		return time.Time{}
	}
	t, _ := time.ParseInLocation(time.DateOnly, p.BacklogSince, time.Local)
	return t
}

// unjoin flattens (nested) errors.Join results into their leaves, so that
// every problem of a section gets the section's prefix.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		if e != nil {
			out = append(out, unjoin(e)...)
		}
	}
	return out
}
