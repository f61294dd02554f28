// Package doctor checks, for the operator on day one, everything the
// daemon needs from the machine and the servers, and says in plain words
// what to do about each failure: the configuration, the secret files, DNS,
// TCP, TLS (chain, name, days until expiry), the IMAP greeting, the
// capabilities the daemon uses, the login, the folders, the SMTP greeting,
// STARTTLS and login, the store, the staff socket and the metrics address.
//
// It changes nothing unless asked: a missing folder is created only with
// Fix, and mail is sent only to SendTest (an allowed domain only).
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/directory"
	"github.com/regionhmc/websesam-intake/intake/endpoint"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// Status is the outcome of one check.
type Status string

// The outcomes: OK holds; Warn works but deserves a look; Fail does not
// work, and the daemon would not either.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one check: one line for a person, one object in JSON.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Advice string `json:"advice,omitempty"`
}

// Options say what to check and how.
type Options struct {
	ConfigPath string
	// Fix creates missing outcome folders.
	Fix bool
	// SendTest, when set, is sent one test mail (its domain must be in
	// mailer.allowed_recipient_domains).
	SendTest string
	// Timeout bounds each network step (default 15s).
	Timeout time.Duration
	// Report receives each result as it is known.
	Report func(Result)
}

type run struct {
	o      Options
	failed bool
	// daemonRuns: the store is held, so the daemon runs and its metrics
	// address and socket are expectedly in use.
	daemonRuns bool
}

// Run runs every check and reports whether any failed.
func Run(ctx context.Context, o Options) (failed bool) {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Report == nil {
		o.Report = func(Result) {}
	}
	r := &run{o: o}
	cfg, err := intake.LoadConfig(o.ConfigPath)
	if err != nil {
		for _, p := range endpoint.Problems(err) {
			r.fail("config", p.String(), "fix it in "+o.ConfigPath+" (every key is documented in the example configuration)")
		}
		return true
	}
	r.ok("config", "%s is valid", o.ConfigPath)
	r.secrets(cfg)
	if t := cfg.Tokens(); t != nil {
		r.oauth2(ctx, cfg, t)
	}
	r.store(cfg)
	r.imap(ctx, cfg)
	r.smtp(ctx, cfg)
	r.directory(cfg)
	r.staff(cfg)
	r.metrics(cfg)
	return r.failed
}

func (r *run) report(check string, st Status, detail, advice string) {
	if st == Fail {
		r.failed = true
	}
	r.o.Report(Result{Check: check, Status: st, Detail: detail, Advice: advice})
}

func (r *run) ok(check, format string, args ...any) {
	r.report(check, OK, fmt.Sprintf(format, args...), "")
}
func (r *run) warn(check, detail, advice string) { r.report(check, Warn, detail, advice) }
func (r *run) fail(check, detail, advice string) { r.report(check, Fail, detail, advice) }

// secrets reads every secret and CA file as the user running doctor.
func (r *run) secrets(cfg intake.Config) {
	who := "this user"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	files := []struct{ key, path string }{
		{"mailbox.password_file", cfg.Mailbox.PasswordFile}, {"mailbox.token_file", cfg.Mailbox.TokenFile},
		{"mailbox.ca_file", cfg.Mailbox.CAFile},
		{"mailer.smtp.password_file", cfg.Relay.PasswordFile}, {"mailer.smtp.token_file", cfg.Relay.TokenFile},
		{"mailer.smtp.ca_file", cfg.Relay.CAFile},
		{"oauth2.client_secret_file", cfg.OAuth2.ClientSecretFile}, {"oauth2.certificate_file", cfg.OAuth2.CertificateFile},
		{"oauth2.private_key_file", cfg.OAuth2.PrivateKeyFile}, {"oauth2.ca_file", cfg.OAuth2.CAFile},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		check := "secret " + f.key
		b, err := os.ReadFile(f.path)
		switch {
		case err != nil:
			r.fail(check, fmt.Sprintf("%s cannot be read by %s: %v", f.path, who, err),
				"the daemon reads it as its own user: run doctor as that user (sudo -u websesam-intake env CREDENTIALS_DIRECTORY=… websesam-intake doctor), and hand the file over with LoadCredential= in the unit")
		case strings.TrimSpace(string(b)) == "":
			r.fail(check, f.path+" is empty", "write the secret into it (one line)")
		default:
			r.ok(check, "%s is readable by %s", f.path, who)
		}
	}
}

func (r *run) oauth2(ctx context.Context, cfg intake.Config, t *endpoint.Tokens) {
	where := cfg.OAuth2.TokenURL
	if where == "" {
		where = strings.TrimRight(cfg.OAuth2.Authority, "/") + "/" + cfg.OAuth2.Tenant
	}
	_, err := t.Token(ctx, false)
	switch {
	case errors.Is(err, endpoint.ErrRefused):
		r.fail("oauth2 token", err.Error(),
			"the identity platform refused the app: check oauth2.tenant and oauth2.client_id, and that the client secret (or certificate) is the current one (Certificates & secrets in the app registration: secrets expire)")
	case err != nil:
		r.fail("oauth2 token", err.Error(), "the token endpoint could not be reached or answered wrongly: check oauth2.authority (or token_url), DNS, the proxy and oauth2.ca_file")
	default:
		s := t.Stats()
		r.ok("oauth2 token", "a token for %s from %s, valid until %s", cfg.OAuth2.Scope, where, s.Expires.Format(time.DateTime))
	}
}

// network checks DNS and TCP for ep and returns the open connection, or nil.
func (r *run) network(ctx context.Context, name string, ep endpoint.Config) net.Conn {
	host := ep.Host()
	if net.ParseIP(host) != nil {
		r.ok(name+" dns", "%s is an address", host)
	} else {
		ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		cancel()
		if err != nil {
			r.fail(name+" dns", fmt.Sprintf("%s does not resolve: %v", host, err),
				"check the host name in "+name+".addr and this machine's DNS (/etc/resolv.conf)")
			return nil
		}
		r.ok(name+" dns", "%s is %s", host, strings.Join(addrs, ", "))
	}
	d := net.Dialer{Timeout: r.o.Timeout}
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", ep.Addr)
	if err != nil {
		r.fail(name+" tcp", fmt.Sprintf("cannot connect to %s: %v", ep.Addr, err),
			"check the port in "+name+".addr, that the server runs, and any firewall between")
		return nil
	}
	r.ok(name+" tcp", "connected to %s in %d ms", ep.Addr, time.Since(start).Milliseconds())
	return c
}

// tlsConfig is ep's TLS configuration, which also keeps the state of the
// verified handshake for the report.
func tlsConfig(ep endpoint.Config, seen *tls.ConnectionState) (*tls.Config, error) {
	tc, err := ep.TLSConfig()
	if err != nil {
		return nil, err
	}
	tc.VerifyConnection = func(cs tls.ConnectionState) error { *seen = cs; return nil }
	return tc, nil
}

// reportTLS says what the handshake showed, or why it failed.
func (r *run) reportTLS(check string, ep endpoint.Config, cs tls.ConnectionState, err error) {
	if err != nil {
		r.fail(check, err.Error(), tlsAdvice(err, ep))
		return
	}
	if len(cs.PeerCertificates) == 0 {
		r.fail(check, "no certificate", "the server sent no certificate")
		return
	}
	leaf := cs.PeerCertificates[0]
	days := int(time.Until(leaf.NotAfter).Hours() / 24)
	issuer := leaf.Issuer.CommonName
	if len(cs.VerifiedChains) > 0 && len(cs.VerifiedChains[0]) > 0 {
		root := cs.VerifiedChains[0][len(cs.VerifiedChains[0])-1]
		issuer = root.Subject.CommonName
	}
	name := ep.ServerName
	if name == "" {
		name = ep.Host()
	}
	detail := fmt.Sprintf("%s, certificate for %s verified (chain to %q), expires in %d days (%s)",
		tls.VersionName(cs.Version), name, issuer, days, leaf.NotAfter.Format(time.DateOnly))
	if days < 14 {
		r.warn(check, detail, "the server's certificate expires soon: tell whoever runs the server")
		return
	}
	r.ok(check, "%s", detail)
}

func tlsAdvice(err error, ep endpoint.Config) string {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return "the certificate is signed by a CA this machine does not trust: set ca_file to that CA's PEM file (verification cannot be turned off)"
	case errors.As(err, &he):
		return "the certificate is not for the name checked: use the name on the certificate in addr, or set server_name"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "the server's certificate has expired (or this machine's clock is wrong): tell whoever runs the server"
	case strings.Contains(err.Error(), "STARTTLS"):
		return "the server offers no STARTTLS: use tls = \"tls\" with the implicit-TLS port (993 for IMAP, 465 for SMTP)"
	}
	return "check the tls mode against the port: \"tls\" for 993 and 465, \"starttls\" for 143 and 587"
}

// deadline closes c when the step takes longer than the timeout: the
// protocol libraries have no deadlines of their own.
func (r *run) deadline(c net.Conn) (stop func()) {
	t := time.AfterFunc(r.o.Timeout, func() { c.Close() })
	return func() { t.Stop() }
}

func (r *run) imap(ctx context.Context, cfg intake.Config) {
	m := cfg.Mailbox
	ep := m.Endpoint()
	raw := r.network(ctx, "mailbox", ep)
	if raw == nil {
		return
	}
	defer raw.Close()
	var cs tls.ConnectionState
	opts := &imapclient.Options{}
	if m.TLS != intake.TLSPlain {
		tc, err := tlsConfig(ep, &cs)
		if err != nil {
			r.fail("mailbox tls", err.Error(), "fix mailbox.ca_file")
			return
		}
		opts.TLSConfig = tc
	}
	stop := r.deadline(raw)
	var c *imapclient.Client
	var err error
	switch m.TLS {
	case intake.TLSImplicit:
		tc := tls.Client(raw, opts.TLSConfig)
		err = tc.HandshakeContext(ctx)
		r.reportTLS("mailbox tls", ep, cs, err)
		if err != nil {
			stop()
			return
		}
		c = imapclient.New(tc, opts)
		err = c.WaitGreeting()
	case intake.TLSStart:
		c, err = imapclient.NewStartTLS(raw, opts)
		if err != nil && cs.Version == 0 && !isTLSError(err) {
			stop()
			r.fail("mailbox greeting", err.Error(), "the server did not greet as an IMAP server: check mailbox.addr and mailbox.tls")
			return
		}
		r.reportTLS("mailbox tls", ep, cs, err)
	default:
		c = imapclient.New(raw, opts)
		err = c.WaitGreeting()
		r.warn("mailbox tls", "plain: nothing is encrypted (allowed only on loopback)", "")
	}
	stop()
	if err != nil {
		if m.TLS == intake.TLSImplicit {
			r.fail("mailbox greeting", err.Error(), "the server did not greet as an IMAP server: check mailbox.addr and mailbox.tls")
		}
		return
	}
	defer c.Close()
	r.ok("mailbox greeting", "an IMAP server answered")

	// Login.
	cred := ep.Credentials(cfg.TokenSource())
	if err := r.imapLogin(ctx, c, raw, m, cred); err != nil {
		return
	}
	caps := c.Caps()
	for _, cp := range []struct {
		cap     imap.Cap
		without string
	}{
		{imap.CapIdle, "new mail is noticed at each poll (mailbox.poll_interval) instead of at once"},
		{imap.CapMove, "a message is moved as COPY, \\Deleted and EXPUNGE in steps, not at once"},
		{imap.CapUIDPlus, "without UID EXPUNGE, a move on a server without MOVE expunges every \\Deleted message of the folder, not just ours"},
	} {
		if caps.Has(cp.cap) {
			r.ok("mailbox capability "+string(cp.cap), "offered")
		} else {
			r.warn("mailbox capability "+string(cp.cap), "not offered: "+cp.without, "")
		}
	}
	r.folders(c, raw, cfg)
	stop = r.deadline(raw)
	_ = c.Logout().Wait()
	stop()
}

func isTLSError(err error) bool {
	var re tls.RecordHeaderError
	var ae tls.AlertError
	var ve *tls.CertificateVerificationError
	return errors.As(err, &re) || errors.As(err, &ae) || errors.As(err, &ve) || strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:")
}

func (r *run) imapLogin(ctx context.Context, c *imapclient.Client, raw net.Conn, m intake.MailboxConfig, cred *endpoint.Credentials) error {
	try := func(renew bool) error {
		secret, err := cred.Secret(ctx, renew)
		if err != nil {
			return err
		}
		stop := r.deadline(raw)
		defer stop()
		switch m.Auth {
		case intake.AuthPlain:
			return c.Authenticate(sasl.NewPlainClient("", m.Username, secret))
		case intake.AuthXOAUTH2, intake.AuthOAuthBearer:
			return c.Authenticate(endpoint.TokenClient(m.Auth, m.Username, secret))
		default:
			return c.Login(m.Username, secret).Wait()
		}
	}
	err := try(false)
	var ie *imap.Error
	if err != nil && errors.As(err, &ie) && cred.Renewable() {
		err = try(true)
	}
	if err != nil {
		r.fail("mailbox login", fmt.Sprintf("as %s (%s): %v", m.Username, m.Auth, err), loginAdvice(m.Auth, err, "IMAP.AccessAsApp", "Add-MailboxPermission"))
		return err
	}
	r.ok("mailbox login", "logged in as %s (%s)", m.Username, m.Auth)
	return nil
}

func loginAdvice(auth string, err error, permission, grant string) string {
	switch {
	case errors.Is(err, endpoint.ErrRefused):
		return "the identity platform refused the app: check oauth2.tenant, oauth2.client_id and the secret or certificate"
	case endpoint.IsOAuth(auth):
		return "the server refused the token: for Microsoft 365, the app needs " + permission + " with admin consent, its service principal in Exchange (New-ServicePrincipal) and the mailbox given to it (" + grant + "); the user name must be the mailbox's address (README, Microsoft 365)"
	default:
		return "the server refused the user name and password: check username and the password file (and that the account may use IMAP/SMTP)"
	}
}

// folders checks the watched folder and each outcome folder; a missing
// outcome folder is created only with Fix.
func (r *run) folders(c *imapclient.Client, raw net.Conn, cfg intake.Config) {
	stop := r.deadline(raw)
	list, err := c.List("", "", nil).Collect()
	stop()
	delim := "/"
	if err == nil && len(list) > 0 && list[0].Delim != 0 {
		delim = string(list[0].Delim)
	}
	exists := func(name string) (bool, error) {
		stop := r.deadline(raw)
		defer stop()
		l, err := c.List("", name, nil).Collect()
		return len(l) > 0, err
	}
	server := func(name string) string { return strings.ReplaceAll(name, "/", delim) }
	w := server(cfg.Mailbox.Folder)
	if ok, err := exists(w); err != nil || !ok {
		detail := fmt.Sprintf("the watched folder %s does not exist", cfg.Mailbox.Folder)
		if err != nil {
			detail = fmt.Sprintf("cannot list %s: %v", cfg.Mailbox.Folder, err)
		}
		r.fail("folder "+cfg.Mailbox.Folder, detail, "set mailbox.folder to the folder the forms arrive in")
	} else {
		r.ok("folder "+cfg.Mailbox.Folder, "exists (watched)")
	}
	for _, f := range []string{cfg.Folders.Queued, cfg.Folders.Returned, cfg.Folders.NoForm, cfg.Folders.Ignored, cfg.Folders.Quarantined} {
		name := server(f)
		ok, err := exists(name)
		switch {
		case err != nil:
			r.fail("folder "+f, fmt.Sprintf("cannot list it: %v", err), "check the account's rights on the mailbox")
		case ok:
			r.ok("folder "+f, "exists")
		case !r.o.Fix:
			r.warn("folder "+f, "missing; the daemon creates it when it first moves a message there", "run doctor --fix to create it now and prove it can be")
		default:
			stop := r.deadline(raw)
			err := c.Create(name, nil).Wait()
			stop()
			if err != nil {
				r.fail("folder "+f, fmt.Sprintf("missing, and cannot be created: %v", err),
					"create it by hand, or name another folder in [folders]; check the account's rights on the parent folder")
			} else {
				r.ok("folder "+f, "created")
			}
		}
	}
}

func (r *run) smtp(ctx context.Context, cfg intake.Config) {
	ep := cfg.SMTPEndpoint()
	s := cfg.Mailer.SMTP
	raw := r.network(ctx, "mailer.smtp", ep)
	if raw == nil {
		return
	}
	defer raw.Close()
	var cs tls.ConnectionState
	tc, err := tlsConfig(ep, &cs)
	if err != nil {
		r.fail("mailer.smtp tls", err.Error(), "fix mailer.smtp.ca_file")
		return
	}
	stop := r.deadline(raw)
	defer stop()
	helo := s.HELO
	if helo == "" {
		helo = "localhost"
	}
	greeted := func(c *smtp.Client) bool {
		if err := c.Hello(helo); err != nil {
			r.fail("mailer.smtp greeting", err.Error(), "the server did not greet as an SMTP server: check mailer.smtp.addr and mailer.smtp.tls")
			return false
		}
		r.ok("mailer.smtp greeting", "an SMTP server answered EHLO")
		return true
	}
	var c *smtp.Client
	switch s.TLS {
	case mailer.TLSImplicit:
		t := tls.Client(raw, tc)
		err := t.HandshakeContext(ctx)
		r.reportTLS("mailer.smtp tls", ep, cs, err)
		if err != nil {
			return
		}
		c = smtp.NewClient(t)
		defer c.Close()
		if !greeted(c) {
			return
		}
	case mailer.StartTLS:
		// The library greets, says EHLO and sends STARTTLS in one call;
		// the handshake itself runs with the next command.
		c, err = smtp.NewClientStartTLS(raw, tc)
		switch {
		case err != nil && strings.Contains(err.Error(), "STARTTLS"):
			r.ok("mailer.smtp greeting", "an SMTP server answered EHLO")
			r.fail("mailer.smtp tls", "the server does not offer STARTTLS", tlsAdvice(errors.New("no STARTTLS"), ep))
			return
		case err != nil:
			r.fail("mailer.smtp greeting", err.Error(), "the server did not greet as an SMTP server: check mailer.smtp.addr and mailer.smtp.tls")
			return
		}
		defer c.Close()
		r.ok("mailer.smtp greeting", "an SMTP server answered EHLO")
		err = c.Hello(helo)
		r.reportTLS("mailer.smtp tls", ep, cs, err)
		if err != nil {
			return
		}
	default:
		c = smtp.NewClient(raw)
		defer c.Close()
		if !greeted(c) {
			return
		}
		r.warn("mailer.smtp tls", "plain: nothing is encrypted (allowed only on loopback)", "")
	}
	if s.Auth != mailer.AuthNone {
		cred := ep.Credentials(cfg.TokenSource())
		try := func(renew bool) error {
			secret, err := cred.Secret(ctx, renew)
			if err != nil {
				return err
			}
			switch s.Auth {
			case mailer.AuthXOAUTH2, mailer.AuthOAuthBearer:
				return c.Auth(endpoint.TokenClient(string(s.Auth), s.Username, secret))
			case mailer.AuthLogin:
				return c.Auth(sasl.NewLoginClient(s.Username, secret))
			default:
				return c.Auth(sasl.NewPlainClient("", s.Username, secret))
			}
		}
		err := try(false)
		var se *smtp.SMTPError
		if err != nil && errors.As(err, &se) && cred.Renewable() {
			err = try(true)
		}
		if err != nil {
			r.fail("mailer.smtp login", fmt.Sprintf("as %s (%s): %v", s.Username, s.Auth, err), loginAdvice(string(s.Auth), err, "SMTP.SendAsApp", "Add-RecipientPermission or Add-MailboxPermission"))
			return
		}
		r.ok("mailer.smtp login", "logged in as %s (%s)", s.Username, s.Auth)
	}
	if r.o.SendTest != "" {
		r.sendTest(c, cfg)
	} else {
		r.ok("mailer.smtp send", "no mail sent (use --send-test ADDRESS to send one)")
	}
	_ = c.Quit()
}

func (r *run) sendTest(c *smtp.Client, cfg intake.Config) {
	to := r.o.SendTest
	if !mailer.DomainAllowed(to, cfg.Mailer.AllowedDomains) {
		r.fail("mailer.smtp send", to+" is outside mailer.allowed_recipient_domains; nothing sent", "send the test to an address of an allowed domain")
		return
	}
	from := cfg.Mailer.FromAddress
	id := fmt.Sprintf("<doctor.%d@%s>", time.Now().UnixNano(), cfg.Mailer.MessageIDDomain)
	msg := "From: " + from + "\r\nTo: " + to + "\r\nSubject: websesam-intake doctor: test mail\r\n" +
		"Message-ID: " + id + "\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		mailer.LoopHeader + ": " + cfg.Mailer.MessageIDDomain + "\r\nAuto-Submitted: auto-generated\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
		"This is a test from websesam-intake doctor: the relay accepts mail from " + from + ".\r\n"
	if err := c.SendMail(from, []string{to}, strings.NewReader(msg)); err != nil {
		r.fail("mailer.smtp send", fmt.Sprintf("the relay refused the test mail: %v", err),
			"the relay must let "+cfg.Mailer.SMTP.Username+" send as "+from+" (Microsoft 365: SMTP.SendAsApp, and SendAs on the mailbox if the addresses differ)")
		return
	}
	r.ok("mailer.smtp send", "a test mail to %s was accepted (Message-ID %s)", to, id)
}

// store checks the store's directory and whether a daemon holds the file.
func (r *run) store(cfg intake.Config) {
	path := cfg.Store.Path
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		r.fail("store", fmt.Sprintf("cannot write in %s: %v", dir, err),
			"the daemon's user must own the directory (systemd's StateDirectory= does it); run doctor as that user")
		return
	}
	f.Close()
	os.Remove(f.Name())
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		r.ok("store", "%s is writable; %s is made at the first start", dir, filepath.Base(path))
		return
	}
	st, err := store.Open(path, store.Options{Timeout: 500 * time.Millisecond, ReadOnly: true})
	switch {
	case errors.Is(err, store.ErrLocked):
		r.daemonRuns = true
		r.ok("store", "%s is held by a running daemon", path)
	case err != nil:
		r.fail("store", fmt.Sprintf("cannot open %s: %v", path, err), "check the file's owner and mode (0600, the daemon's user)")
	default:
		st.Close()
		r.ok("store", "%s opens; no daemon holds it", path)
	}
}

func (r *run) staff(cfg intake.Config) {
	dir := filepath.Dir(cfg.Staff.Socket)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		r.warn("staff socket", dir+" does not exist", "under systemd RuntimeDirectory= makes it when the daemon starts; otherwise create it for the daemon's user")
	} else if c, err := net.DialTimeout("unix", cfg.Staff.Socket, time.Second); err == nil {
		c.Close()
		r.ok("staff socket", "the daemon answers on %s", cfg.Staff.Socket)
	} else {
		r.ok("staff socket", "%s exists for the socket", dir)
	}
	if cfg.Staff.Group == "" {
		r.ok("staff group", "none set: the socket keeps the daemon's group")
		return
	}
	g, err := user.LookupGroup(cfg.Staff.Group)
	if err != nil {
		r.fail("staff group", fmt.Sprintf("no group %q", cfg.Staff.Group), "groupadd --system "+cfg.Staff.Group+", then usermod -aG "+cfg.Staff.Group+" for each person of the support staff")
		return
	}
	r.ok("staff group", "%s (gid %s)", g.Name, g.Gid)
}

// directory binds to the [directory] server and makes one lookup (of the
// intake's own address), as the daemon does for each manager on a form.
func (r *run) directory(cfg intake.Config) {
	if cfg.Directory.URL == "" {
		r.ok("directory", "off: managers and HSA-ids are not checked against a directory")
		return
	}
	d := directory.New(cfg.Directory)
	defer d.Close()
	probe := cfg.Mailer.FromAddress
	p, err := d.Check(probe)
	if err != nil {
		r.fail("directory", fmt.Sprintf("%s: %v", cfg.Directory.URL, err),
			"check directory.url, the CA (directory.ca_file), directory.bind_dn and its password file, and that the server lets that account search directory.base_dn; until it answers, mail that needs it waits undecided")
		return
	}
	found := "not found (the lookup itself works)"
	if p.Found {
		found = "found"
	}
	r.ok("directory", "bound to %s as %s; %s looked up: %s", cfg.Directory.URL, cfg.Directory.BindDN, probe, found)
}

func (r *run) metrics(cfg intake.Config) {
	if cfg.Metrics.Addr == "" {
		r.ok("metrics", "off")
		return
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Addr)
	switch {
	case err == nil:
		ln.Close()
		r.ok("metrics", "%s is free", cfg.Metrics.Addr)
	case r.daemonRuns:
		r.ok("metrics", "%s is in use, by the running daemon", cfg.Metrics.Addr)
	default:
		r.fail("metrics", fmt.Sprintf("%s is in use by another program: %v", cfg.Metrics.Addr, err), "choose another port in metrics.addr")
	}
}
