//go:build e2e

// The end-to-end suite: the real binary against real Dovecot and Postfix on
// loopback (.ci/mailstack), driven by .ci/e2e, which starts the stack, builds
// the binary once and runs
//
//	E2E_MAILSTACK=DIR E2E_BIN=$PWD/bin/websesam-intake go test -tags e2e -run '^TestE2E' ./cmd/websesam-intake
//
// Without those two variables every test fails: a suite that cannot run must
// not look like one that passed.

package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// stack is the running mail stack, read from DIR/env.
type stack struct {
	dir                                     string
	imap, imaps, smtp, smtps, submitAddr    string
	ca, intake, catchall, alias, password   string
	passwordFile, postfixDir, mailstackTool string
	bin                                     string
}

const e2eDomain = "region.example.se"

func loadStack(t *testing.T) stack {
	t.Helper()
	dir, bin := os.Getenv("E2E_MAILSTACK"), os.Getenv("E2E_BIN")
	if dir == "" || bin == "" {
		t.Fatal("E2E_MAILSTACK (a started .ci/mailstack directory) and E2E_BIN (the built binary) must be set; run make e2e")
	}
	env := stackEnv(t, dir, "mailstack")
	pw, err := os.ReadFile(env["PASSWORD_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	tool, err := filepath.Abs("../../.ci/mailstack")
	if err != nil {
		t.Fatal(err)
	}
	bin, err = filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	s := stack{
		dir: dir, imap: env["IMAP_ADDR"], imaps: env["IMAPS_ADDR"], smtp: env["SMTP_ADDR"], smtps: env["SMTPS_ADDR"],
		submitAddr: env["SUBMIT_ADDR"], ca: env["CA_FILE"], intake: env["INTAKE_USER"], catchall: env["CATCHALL_USER"],
		alias: env["INTAKE_ALIAS"], password: strings.TrimSpace(string(pw)), passwordFile: env["PASSWORD_FILE"],
		postfixDir: env["POSTFIX_DIR"], mailstackTool: tool, bin: bin,
	}
	for k, v := range map[string]string{"IMAP_ADDR": s.imap, "IMAPS_ADDR": s.imaps, "SMTP_ADDR": s.smtp, "SMTPS_ADDR": s.smtps, "SUBMIT_ADDR": s.submitAddr, "CA_FILE": s.ca, "INTAKE_ALIAS": s.alias} {
		if v == "" {
			t.Fatalf("%s missing from %s/env", k, dir)
		}
	}
	return s
}

// ---- IMAP, as a person looking at the mailboxes would -----------------

func (s stack) login(t *testing.T, user string) *imapclient.Client {
	t.Helper()
	pem, err := os.ReadFile(s.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	var c *imapclient.Client
	// Dovecot may be coming back from an outage test.
	if !mailtest.Poll(10*time.Second, 200*time.Millisecond, func() bool {
		c, err = imapclient.DialTLS(s.imaps, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool}})
		return err == nil
	}) {
		t.Fatalf("dial %s: %v", s.imaps, err)
	}
	if err := c.Login(user, s.password).Wait(); err != nil {
		c.Close()
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func folders(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, l := range list {
		if !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			out = append(out, l.Mailbox)
		}
	}
	sort.Strings(out)
	return out
}

// count is the number of messages in a folder (0 when it does not exist).
func count(c *imapclient.Client, folder string) int {
	st, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil {
		return 0
	}
	return int(*st.NumMessages)
}

// placed is one message as it lies in a folder.
type placed struct {
	folder    string
	flags     []imap.Flag
	messageID string
	inReplyTo string
	subject   string
	to, cc    []string
	header    mail.Header
	// queueID is Postfix's id for the SMTP transaction that brought the
	// message: two copies with one id are one submission delivered twice
	// by Postfix over LMTP (Dovecot cut mid-delivery), not a resend.
	queueID string
}

var postfixID = regexp.MustCompile(`\(Postfix\) with \S+ id (\w+)`)

func queueIDOf(h mail.Header) string {
	for _, r := range h.Values("Received") {
		if m := postfixID.FindStringSubmatch(r); m != nil {
			return m[1]
		}
	}
	return ""
}

// snapshot reads the headers and flags of every message of a user.
func (s stack) snapshot(t *testing.T, user string) []placed {
	t.Helper()
	c := s.login(t, user)
	defer c.Close()
	var out []placed
	for _, f := range folders(t, c) {
		sel, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("select %s: %v", f, err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
		if err != nil {
			t.Fatalf("fetch %s: %v", f, err)
		}
		for _, m := range msgs {
			h, err := readHeader(m.FindBodySection(hdr))
			if err != nil {
				t.Fatalf("%s: parse header: %v", f, err)
			}
			p := placed{folder: f, flags: m.Flags, header: h}
			p.messageID = strings.Trim(h.Get("Message-Id"), "<> ")
			p.inReplyTo = strings.Trim(h.Get("In-Reply-To"), "<> ")
			p.subject, _ = h.Subject()
			p.to = addrs(h, "To")
			p.cc = addrs(h, "Cc")
			p.queueID = queueIDOf(h)
			out = append(out, p)
		}
	}
	return out
}

func readHeader(raw []byte) (mail.Header, error) {
	r, err := mail.CreateReader(bytes.NewReader(append(raw, "\r\n"...)))
	if err != nil {
		return mail.Header{}, err
	}
	return r.Header, nil
}

func addrs(h mail.Header, key string) []string {
	list, _ := h.AddressList(key)
	var out []string
	for _, a := range list {
		out = append(out, strings.ToLower(a.Address))
	}
	return out
}

// catchallFolder is where the stack delivers mail to addr.
func catchallFolder(addr string) string { return strings.Replace(strings.ToLower(addr), "@", "=", 1) }

// reset empties both mailboxes and waits for Postfix to be idle, so that
// one test's late mail never lands in the next.
func (s stack) reset(t *testing.T) {
	t.Helper()
	s.waitPostfixIdle(t)
	for _, user := range []string{s.intake, s.catchall} {
		c := s.login(t, user)
		fs := folders(t, c)
		slices.SortFunc(fs, func(a, b string) int { return len(b) - len(a) }) // children first
		for _, f := range fs {
			if f == "INBOX" {
				continue
			}
			if err := c.Delete(f).Wait(); err != nil {
				t.Fatalf("delete %s of %s: %v", f, user, err)
			}
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if count(c, "INBOX") > 0 {
			if err := c.Store(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Expunge().Close(); err != nil {
				t.Fatal(err)
			}
		}
		c.Logout().Wait()
		c.Close()
	}
}

// waitPostfixIdle waits until Postfix's queue is empty: every accepted
// mail was delivered (or, in a broken run, is stuck: that fails the test).
func (s stack) waitPostfixIdle(t *testing.T) {
	t.Helper()
	var out []byte
	if mailtest.Poll(60*time.Second, 100*time.Millisecond, func() bool {
		var err error
		out, err = exec.Command("postqueue", "-c", s.postfixDir, "-p").CombinedOutput()
		return err == nil && strings.Contains(string(out), "Mail queue is empty")
	}) {
		return
	}
	t.Fatalf("postfix queue not empty after 60s:\n%s", out)
}

// ---- SMTP submission -----------------------------------------------------

const submitter = "e2e-submit@example.org"

// submit sends each message to the intake address over the plain
// submission port, one connection, in order, waiting after each until the
// intake INBOX holds one more: UID order is then submission order (the
// duplicate case must come after its original).
func (s stack) submit(t *testing.T, raws [][]byte, ordered bool) {
	t.Helper()
	c := s.login(t, s.intake)
	defer c.Close()
	base := count(c, "INBOX")
	s.sendEach(t, raws, func(i int) {
		if ordered {
			waitFor(t, fmt.Sprintf("message %d in INBOX", i), 30*time.Second, func() bool { return count(c, "INBOX") >= base+i+1 })
		}
	})
	waitFor(t, "every submitted message in INBOX", 2*time.Minute, func() bool { return count(c, "INBOX") >= base+len(raws) })
}

// sendEach submits each message to the intake address over the plain
// submission port, one connection, in order; after, when set, runs after
// each message is accepted.
func (s stack) sendEach(t *testing.T, raws [][]byte, after func(i int)) {
	t.Helper()
	sc := s.submission(t)
	for i, raw := range raws {
		if err := sc.SendMail(submitter, []string{s.alias}, bytes.NewReader(raw)); err != nil {
			t.Fatalf("submit message %d: %v", i, err)
		}
		if after != nil {
			after(i)
		}
	}
	sc.Quit()
}

// submission is a connection to the plain submission port, past its
// greeting; it closes with the test.
func (s stack) submission(t *testing.T) *smtp.Client {
	t.Helper()
	sc, err := smtp.Dial(s.submitAddr)
	if err != nil {
		t.Fatalf("dial %s: %v", s.submitAddr, err)
	}
	t.Cleanup(func() { sc.Close() })
	if err := sc.Hello("e2e.example.org"); err != nil {
		t.Fatal(err)
	}
	return sc
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	if !awaited(t, what, limit, cond) {
		t.FailNow()
	}
}

// awaited is waitFor that reports a timeout and lets the test go on to
// say what went wrong (which message, with which outcome) before it ends.
func awaited(t *testing.T, what string, limit time.Duration, cond func() bool) bool {
	t.Helper()
	// Each look may cost a connection to a real server: every 200 ms.
	if !mailtest.Poll(limit, 200*time.Millisecond, cond) {
		t.Errorf("timed out after %s waiting for %s", limit, what)
		return false
	}
	return true
}

// ---- the daemon, as an operator runs it ------------------------------

// cfgOpts are the parts of the configuration a test varies.
type cfgOpts struct {
	imapAddr, imapTLS, imapCA string
	imapAuth                  string // "": the password file; else the mechanism, with tokens from [oauth2]
	smtpAddr, smtpTLS, smtpCA string
	smtpAuth                  bool
	smtpXOAUTH2               bool   // with smtpAuth: XOAUTH2 with tokens from [oauth2], not PLAIN
	extra                     string // more TOML, appended
}

func (s stack) defaults() cfgOpts {
	return cfgOpts{imapAddr: s.imap, imapTLS: "starttls", imapCA: s.ca, smtpAddr: s.smtp, smtpTLS: "starttls", smtpCA: s.ca, smtpAuth: true}
}

// writeConfig writes a real configuration file as an operator would, with
// short timers so that the suite runs in minutes, and the staff socket in
// dir (dir/staff.sock), never in /run.
func (s stack) writeConfig(t *testing.T, dir string, o cfgOpts) string {
	t.Helper()
	mailboxAuth := fmt.Sprintf("password_file = %q\n", s.passwordFile)
	if o.imapAuth != "" {
		mailboxAuth = fmt.Sprintf("auth = %q\n", o.imapAuth)
	}
	auth := ""
	switch {
	case o.smtpAuth && o.smtpXOAUTH2:
		auth = fmt.Sprintf("auth = \"xoauth2\"\nusername = %q\n", s.intake)
	case o.smtpAuth:
		auth = fmt.Sprintf("auth = \"plain\"\nusername = %q\npassword_file = %q\n", s.intake, s.passwordFile)
	}
	cfg := fmt.Sprintf(`# written by the e2e suite
[mailbox]
addr = %q
tls = %q
ca_file = %q
username = %q
%scommand_timeout = "20s"
poll_interval = "2s"
idle_restart = "1m"
reconnect_min = "100ms"
reconnect_max = "2s"
auth_backoff_min = "1s"
auth_backoff_max = "5s"

[policy]
allowed_sender_domains = [%q]
max_attachment_size = 262144

[store]
path = %q

[mailer]
from_address = %q
from_name = "Hjälpmedelscentrum"
login_instructions = "Logga in på https://websesam.region.example.se med ditt användarnamn."
form_url = "https://www.region.example.se/hmc/websesam"
allowed_recipient_domains = [%q]
max_per_recipient_per_hour = 100000
attempt_timeout = "20s"
retry_base = "200ms"
retry_max = "3s"
poll_interval = "500ms"
reconnect_max = "3s"

[mailer.smtp]
addr = %q
tls = %q
ca_file = %q
helo = "intake.hmc.example.se"
%s
[staff]
socket = %q
%s`, o.imapAddr, o.imapTLS, o.imapCA, s.intake, mailboxAuth, e2eDomain, filepath.Join(dir, "intake.db"),
		s.alias, e2eDomain, o.smtpAddr, o.smtpTLS, o.smtpCA, auth, filepath.Join(dir, "staff.sock"), o.extra)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// daemon is one run of the real binary.
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start runs the binary with args; its stderr goes to a log file that is
// printed when the test fails. The process is killed (by pid) at cleanup if
// it still runs.
func (s stack) start(t *testing.T, dir string, args ...string) *daemon {
	t.Helper()
	return s.startEnv(t, dir, nil, args...)
}

// startEnv is start with more environment variables.
func (s stack) startEnv(t *testing.T, dir string, env []string, args ...string) *daemon {
	t.Helper()
	logf, err := os.CreateTemp(dir, "daemon-*.log")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: exec.Command(s.bin, args...), log: logf.Name(), done: make(chan struct{})}
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout = logf
	d.cmd.Stderr = logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s %v, log tail:\n%s", filepath.Base(s.bin), args, b)
		}
	})
	return d
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// term sends SIGTERM and waits for a clean exit.
func (d *daemon) term(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-d.done:
	case <-time.After(90 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		t.Fatalf("the daemon did not stop within 90s of SIGTERM")
	}
	if d.err != nil {
		t.Errorf("the daemon exited with %v after SIGTERM, want status 0", d.err)
	}
}

// kill sends SIGKILL and checks that the kill, not the daemon, ended it.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-d.done
	ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		t.Fatalf("the daemon ended by itself (%v) before the kill", d.err)
	}
}

// wait waits for a run that ends by itself (--once, config check).
func (d *daemon) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case <-d.done:
		return d.err
	case <-time.After(limit):
		d.cmd.Process.Kill()
		<-d.done
		t.Fatalf("%v did not end within %s", d.cmd.Args, limit)
		return nil
	}
}

// cli runs a short command of the binary and returns stdout, stderr and
// the exit status.
func (s stack) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, exec.Command(s.bin, args...))
}

// sentRows counts the outbox rows that are sent.
func sentRows(rows []store.OutboxRow) int {
	sent := 0
	for _, r := range rows {
		if r.State == store.OutboxSent {
			sent++
		}
	}
	return sent
}

// records opens the store the daemon left (it must be stopped) and
// returns every recorded message by Message-ID, and the requests.
func records(t *testing.T, dbPath string) (map[string]store.Message, []store.Request) {
	t.Helper()
	st, err := store.Open(dbPath, store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open the daemon's store: %v", err)
	}
	defer st.Close()
	msgs, err := st.ListMessages("e2e", store.MessageFilter{Limit: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Message{}
	for _, m := range msgs {
		if _, dup := out[m.MessageID]; dup {
			t.Errorf("%s recorded twice", m.MessageID)
		}
		out[m.MessageID] = m
	}
	page, err := st.ListRequests("e2e", store.ListFilter{Limit: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	return out, page.Requests
}

func newRequests(m store.Message) int {
	n := 0
	for _, f := range m.Forms {
		if !f.Duplicate {
			n += len(f.Requests)
		}
	}
	return n
}

// ---- the cases of testdata/mail ---------------------------------------

type mailCase struct {
	name, outcome, folder string
	requests, replies     int
}

// readCases reads the table of testdata/mail/README.md, the one statement
// of what each case must become.
func readCases(t *testing.T) []mailCase {
	t.Helper()
	f, err := os.Open("../../testdata/mail/README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mailCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| case") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		reqs, err1 := strconv.Atoi(cells[3])
		reps, err2 := strconv.Atoi(cells[4])
		if err1 != nil || err2 != nil {
			t.Fatalf("README row %q: requests and replies must be numbers", line)
		}
		out = append(out, mailCase{cells[0], cells[1], cells[2], reqs, reps})
	}
	if len(out) < 20 {
		t.Fatalf("README table: %d cases, want the whole table", len(out))
	}
	return out
}

func readEML(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../testdata/mail", name+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func headerOf(t *testing.T, raw []byte) mail.Header {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return r.Header
}

// TestE2EMailCases submits every case over SMTP, lets the daemon run, and
// checks each case's folder and flags on Dovecot, its record and requests
// in the store, and its replies in the recipients' mailboxes.
func TestE2EMailCases(t *testing.T) {
	s := loadStack(t)
	s.reset(t)
	dir := t.TempDir()
	cases := readCases(t)
	var raws [][]byte
	type orig struct {
		id, subject, from string
	}
	origs := map[string]orig{}
	wantReplies, wantReqs := 0, 0
	for _, c := range cases {
		raw := readEML(t, c.name)
		h := headerOf(t, raw)
		subj, _ := h.Subject()
		from := addrs(h, "From")
		o := orig{id: strings.Trim(h.Get("Message-Id"), "<> "), subject: subj}
		if len(from) > 0 {
			o.from = from[0]
		}
		origs[c.name] = o
		raws = append(raws, raw)
		wantReplies += c.replies
		wantReqs += c.requests
	}
	s.submit(t, raws, true)
	cfg := s.writeConfig(t, dir, s.defaults())

	if out, errOut, code := s.cli(t, "config", "check", cfg); code != 0 {
		t.Fatalf("config check: status %d\n%s%s", code, out, errOut)
	}

	d := s.start(t, dir, "serve", "--config", cfg)
	ic := s.login(t, s.intake)
	waitFor(t, "the daemon to take every matching message out of INBOX", 3*time.Minute, func() bool { return count(ic, "INBOX") == 1 })
	ic.Close()
	waitFor(t, fmt.Sprintf("%d replies delivered", wantReplies), 3*time.Minute, func() bool { return s.repliesIn(t) >= wantReplies })
	s.waitPostfixIdle(t)
	d.term(t)

	intake := s.snapshot(t, s.intake)
	catch := s.snapshot(t, s.catchall)
	where := map[string][]placed{}
	for _, p := range intake {
		where[p.messageID] = append(where[p.messageID], p)
	}
	// Replies by the message they answer; each reply is one Message-ID,
	// delivered once into the folder of each of its recipients.
	replies := map[string]map[string][]placed{}
	for _, p := range catch {
		if p.folder == catchallFolder(submitter) {
			t.Errorf("a bounce of a submitted message came back: %q", p.subject)
			continue
		}
		if replies[p.inReplyTo] == nil {
			replies[p.inReplyTo] = map[string][]placed{}
		}
		replies[p.inReplyTo][p.messageID] = append(replies[p.inReplyTo][p.messageID], p)
	}
	recs, reqs := records(t, filepath.Join(dir, "intake.db"))
	if got, want := len(intake), len(cases); got != want {
		t.Errorf("messages in the intake mailbox: got %d, want %d (one per case: nothing copied twice, no bounce of a reply came home)", got, want)
	}
	if got, want := len(reqs), wantReqs; got != want {
		t.Errorf("requests in the store: got %d, want %d", got, want)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := origs[c.name]
			places := where[o.id]
			if len(places) != 1 {
				t.Fatalf("in %d places on Dovecot, want exactly 1", len(places))
			}
			if got, want := places[0].folder, c.folder; got != want {
				t.Errorf("folder: got %q, want %q", got, want)
			}
			if got, want := slices.Contains(places[0].flags, imap.FlagSeen), c.outcome != "untouched"; got != want {
				t.Errorf(`\Seen: got %v, want %v`, got, want)
			}
			m, ok := recs[o.id]
			switch {
			case c.outcome == "untouched" && ok:
				t.Errorf("recorded as %s, want never recorded", m.Outcome)
			case c.outcome != "untouched" && !ok:
				t.Errorf("not recorded, want %s", c.outcome)
			case ok:
				if got, want := string(m.Outcome), c.outcome; got != want {
					t.Errorf("outcome: got %s (%s), want %s", got, m.Reason, want)
				}
				if !m.Settled {
					t.Errorf("settled: got false, want true")
				}
			}
			if got, want := newRequests(m), c.requests; got != want {
				t.Errorf("requests: got %d, want %d", got, want)
			}
			rs := replies[o.id]
			if got, want := len(rs), c.replies; got != want {
				t.Fatalf("distinct replies: got %d, want %d", got, want)
			}
			for id, copies := range rs {
				r := copies[0]
				if got, want := r.subject, mailer.ReplySubject(o.subject); got != want {
					t.Errorf("reply %s: Subject %q, want %q", id, got, want)
				}
				if !strings.Contains(r.header.Get("References"), o.id) {
					t.Errorf("reply %s: References %q, want it to name %s", id, r.header.Get("References"), o.id)
				}
				if got := r.header.Get("Auto-Submitted"); got != "auto-replied" {
					t.Errorf("reply %s: Auto-Submitted %q, want auto-replied", id, got)
				}
				var got, want []string
				for _, p := range copies {
					got = append(got, p.folder)
				}
				for _, a := range append(append([]string{}, r.to...), r.cc...) {
					want = append(want, catchallFolder(a))
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("reply %s landed in %v, want once in each recipient's mailbox %v", id, got, want)
				}
				if !slices.Contains(append(append([]string{}, r.to...), r.cc...), o.from) {
					t.Errorf("reply %s: To %v Cc %v, want the sender %s among them", id, r.to, r.cc, o.from)
				}
			}
		})
	}

	t.Run("staff commands on the store", func(t *testing.T) {
		db := filepath.Join(dir, "intake.db")
		nosock := filepath.Join(dir, "no-daemon.sock")
		var items []map[string]any
		s.cliJSON(t, &items, "queue", "list", "--json", "--limit", "1000", "--db", db, "--socket", nosock)
		if got, want := len(items), wantReqs; got != want {
			t.Errorf("queue list: %d requests, want %d", got, want)
		}
		var rows []store.OutboxRow
		s.cliJSON(t, &rows, "outbox", "list", "--json", "--limit", "1000", "--db", db, "--socket", nosock)
		for _, r := range rows {
			if r.State != store.OutboxSent {
				t.Errorf("outbox row %d (%s) is %s: %s", r.ID, r.Kind, r.State, r.LastError)
			}
		}
		if got, want := sentRows(rows), wantReplies; got != want {
			t.Errorf("outbox: %d sent, want %d", got, want)
		}
	})
}

// cliJSON runs the binary with args, which must succeed, and decodes its
// JSON output into v.
func (s stack) cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, errOut, code := s.cli(t, args...)
	if code != 0 {
		t.Fatalf("%s: status %d: %s", strings.Join(args, " "), code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ---- generated load for the crash and outage tests ----------------------

// attachmentOf returns the first attachment with the given file name suffix.
func attachmentOf(t *testing.T, raw []byte, suffix string) []byte {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("no %s attachment: %v", suffix, err)
		}
		if h, ok := p.Header.(*mail.AttachmentHeader); ok {
			name, _ := h.Filename()
			if strings.HasSuffix(strings.ToLower(name), suffix) {
				var b bytes.Buffer
				b.ReadFrom(p.Body)
				return b.Bytes()
			}
		}
	}
}

// kind is what one generated message must become.
type kind struct {
	outcome store.Outcome
	folder  string
	reqs    int
	replies int
}

var messageIDLine = regexp.MustCompile(`(?im)^Message-ID:[^\r\n]*`)

// load makes n distinct messages: valid forms (each PDF made distinct by
// bytes after %%EOF, which readers ignore), incomplete forms, questions
// without a form and out-of-office replies.
func load(t *testing.T, prefix string, n int) ([][]byte, map[string]kind, int, int) {
	t.Helper()
	valid := attachmentOf(t, readEML(t, "outlook-pdf"), ".pdf")
	incomplete := attachmentOf(t, readEML(t, "subject-windows-1252"), ".pdf")
	ooo := readEML(t, "out-of-office")
	var raws [][]byte
	want := map[string]kind{}
	reqs, replies := 0, 0
	for i := range n {
		id := fmt.Sprintf("%s-%04d@region.example.se", prefix, i)
		from := fmt.Sprintf("user%02d@region.example.se", i%20)
		pad := []byte(fmt.Sprintf("\n%% %s variant %d\n", prefix, i))
		var raw []byte
		switch i % 6 {
		case 0, 1, 2:
			raw = message(from, id, "webSesam", "Hej, här är blanketten.", append(slices.Clone(valid), pad...))
			want[id] = kind{store.OutcomeQueued, "webSesam/Queued", 1, 1}
		case 3:
			raw = message(from, id, "Fråga om webSesam", "Hur fyller jag i blanketten?", nil)
			want[id] = kind{store.OutcomeNoForm, "webSesam/No-form", 0, 1}
		case 4:
			raw = message(from, id, "webSesam", "Blankett bifogad.", append(slices.Clone(incomplete), pad...))
			want[id] = kind{store.OutcomeReturned, "webSesam/Returned", 0, 1}
		case 5:
			raw = messageIDLine.ReplaceAll(ooo, []byte("Message-ID: <"+id+">"))
			want[id] = kind{store.OutcomeIgnored, "webSesam/Ignored", 0, 0}
		}
		reqs += want[id].reqs
		replies += want[id].replies
		raws = append(raws, raw)
	}
	return raws, want, reqs, replies
}

// message builds a plain Outlook-like mail with an optional PDF.
func message(from, id, subject, body string, pdf []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: info.hmc@region.example.se\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\n",
		from, encodeSubject(subject), id, time.Now().Format(time.RFC1123Z))
	if pdf == nil {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", body)
		return b.Bytes()
	}
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", body)
	b.WriteString("--b1\r\nContent-Type: application/pdf; name=\"ansokan.pdf\"\r\nContent-Disposition: attachment; filename=\"ansokan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	writeBase64(&b, pdf)
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

// writeBase64 writes data base64-encoded in lines of 76 characters, as a
// mail program does, each line ended by CRLF.
func writeBase64(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
}

// stackEnv reads the KEY=value lines of the env file a started stack
// (named what) wrote in dir.
func stackEnv(t *testing.T, dir, what string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatalf("read the %s env: %v", what, err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	return env
}

func encodeSubject(s string) string {
	for _, r := range s {
		if r > 127 {
			return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
		}
	}
	return s
}

// settledCount is how many messages lie in the outcome folders.
func (s stack) settledCount(c *imapclient.Client) int {
	n := 0
	for _, f := range []string{"webSesam/Queued", "webSesam/Returned", "webSesam/No-form", "webSesam/Ignored", "webSesam/Quarantine"} {
		n += count(c, f)
	}
	return n
}

// repliesIn counts the distinct replies delivered (by Message-ID): a
// reply's Cc copy, a resend after a kill or a Postfix redelivery must not
// make a missing reply look delivered.
func (s stack) repliesIn(t *testing.T) int {
	t.Helper()
	ids := map[string]bool{}
	for _, p := range s.snapshot(t, s.catchall) {
		if p.inReplyTo != "" {
			ids[p.messageID] = true
		}
	}
	return len(ids)
}

// verifyLoad checks a generated load after the daemon stopped: every
// message exactly one outcome in exactly one folder, requests one per
// valid form, exactly the expected distinct replies per message (never a
// second, different reply). Copies of one reply are counted apart:
// resent are those the daemon submitted again with the same Message-ID
// (its outbox delivers at least once, so a kill mid-SMTP causes them);
// redelivered are one submission that Postfix delivered twice.
func (s stack) verifyLoad(t *testing.T, dbPath string, want map[string]kind, wantReqs int) (resent, redelivered int) {
	t.Helper()
	s.waitPostfixIdle(t)
	recs, reqs := records(t, dbPath)
	where := map[string][]placed{}
	for _, p := range s.snapshot(t, s.intake) {
		where[p.messageID] = append(where[p.messageID], p)
	}
	// original -> reply Message-ID -> recipient folder -> copies by Postfix
	// queue id. A reply with a Cc lies in two folders once each: not a repeat.
	byReply := map[string]map[string]map[string]map[string]int{}
	for _, p := range s.snapshot(t, s.catchall) {
		if byReply[p.inReplyTo] == nil {
			byReply[p.inReplyTo] = map[string]map[string]map[string]int{}
		}
		if byReply[p.inReplyTo][p.messageID] == nil {
			byReply[p.inReplyTo][p.messageID] = map[string]map[string]int{}
		}
		if byReply[p.inReplyTo][p.messageID][p.folder] == nil {
			byReply[p.inReplyTo][p.messageID][p.folder] = map[string]int{}
		}
		byReply[p.inReplyTo][p.messageID][p.folder][p.queueID]++
		if p.queueID == "" {
			t.Errorf("reply %s in %s has no Postfix queue id in its Received lines: resends could not be told from redeliveries", p.messageID, p.folder)
		}
	}
	if got, want := len(recs), len(want); got != want {
		t.Errorf("recorded messages: got %d, want %d", got, want)
	}
	if got := len(reqs); got != wantReqs {
		t.Errorf("requests: got %d, want %d (one per valid form, none twice)", got, wantReqs)
	}
	bad := 0
	for id, k := range want {
		var problems []string
		m, ok := recs[id]
		switch {
		case !ok:
			problems = append(problems, "never recorded")
		case m.Outcome != k.outcome:
			problems = append(problems, fmt.Sprintf("outcome %s (%s), want %s", m.Outcome, m.Reason, k.outcome))
		case !m.Settled:
			problems = append(problems, "not settled")
		}
		if p := where[id]; len(p) != 1 || p[0].folder != k.folder {
			var fs []string
			for _, x := range p {
				fs = append(fs, x.folder)
			}
			problems = append(problems, fmt.Sprintf("in %v, want only %s", fs, k.folder))
		}
		if got := newRequests(m); got != k.reqs {
			problems = append(problems, fmt.Sprintf("%d requests, want %d", got, k.reqs))
		}
		if got := len(byReply[id]); got != k.replies {
			problems = append(problems, fmt.Sprintf("%d distinct replies, want %d", got, k.replies))
		}
		for _, perFolder := range byReply[id] {
			for _, perQueue := range perFolder {
				resent += len(perQueue) - 1
				for _, copies := range perQueue {
					redelivered += copies - 1
				}
			}
		}
		if len(problems) > 0 {
			bad++
			if bad <= 20 {
				t.Errorf("%s: %s", id, strings.Join(problems, "; "))
			}
		}
	}
	if bad > 20 {
		t.Errorf("... and %d more messages with problems", bad-20)
	}
	return resent, redelivered
}

// TestE2ESIGKILL kills the real daemon with SIGKILL at random moments while
// it drains a backlog, restarts it each time, and then lets it finish.
func TestE2ESIGKILL(t *testing.T) {
	s := loadStack(t)
	n, kills := envInt(t, "E2E_CRASH_MESSAGES", 500), envInt(t, "E2E_CRASH_KILLS", 20)
	s.reset(t)
	dir := t.TempDir()
	raws, want, wantReqs, wantReplies := load(t, "crash", n)
	s.submit(t, raws, false)
	cfg := s.writeConfig(t, dir, s.defaults())
	ic := s.login(t, s.intake)
	defer ic.Close()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	withWork := 0
	for k := range kills {
		d := s.start(t, dir, "serve", "--config", cfg)
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond) // the random moment of the kill is the thing under test
		if count(ic, "INBOX") > 0 {
			withWork++
		}
		if !d.running() {
			t.Fatalf("kill %d: the daemon had already exited (%v)", k, d.err)
		}
		d.kill(t)
	}
	after := s.settledCount(ic)
	t.Logf("%d kills, %d of them with mail still in INBOX; %d of %d messages settled by the killed daemons", kills, withWork, after, n)
	if withWork == 0 {
		t.Errorf("no kill hit a daemon with mail in INBOX: the test proved nothing about crashes mid-work")
	}

	d := s.start(t, dir, "serve", "--config", cfg)
	waitFor(t, "INBOX drained after the kills", 5*time.Minute, func() bool { return count(ic, "INBOX") == 0 })
	// On a timeout the test goes on, so that verifyLoad names the message
	// whose reply is missing.
	awaited(t, fmt.Sprintf("%d replies delivered", wantReplies), 3*time.Minute, func() bool { return s.repliesIn(t) >= wantReplies })
	s.waitPostfixIdle(t)
	time.Sleep(2 * time.Second) // a quiet period: what is checked is that no repeat comes, and an absence signals nothing
	d.term(t)
	resent, redelivered := s.verifyLoad(t, filepath.Join(dir, "intake.db"), want, wantReqs)
	t.Logf("%d messages, %d requests, %d distinct replies; %d resent with the same Message-ID after a kill mid-SMTP; %d delivered twice by Postfix",
		n, wantReqs, wantReplies, resent, redelivered)
}

// TestE2EOutages stops Dovecot for 30 s and Postfix for 60 s while the
// daemon works: the same process carries on, reconnects, and the outbox
// delivers everything afterwards. Each outage is arranged to hit work:
// Dovecot is stopped with a backlog in INBOX and more mail is submitted
// while it is down (Postfix defers it); while Postfix is down, mail is put
// straight into the mailbox over IMAP, so its replies must wait in the
// outbox.
func TestE2EOutages(t *testing.T) {
	s := loadStack(t)
	n := envInt(t, "E2E_OUTAGE_MESSAGES", 200)
	dovecotDown := time.Duration(envInt(t, "E2E_DOVECOT_DOWN_SECONDS", 30)) * time.Second
	postfixDown := time.Duration(envInt(t, "E2E_POSTFIX_DOWN_SECONDS", 60)) * time.Second
	s.reset(t)
	dir := t.TempDir()
	want := map[string]kind{}
	wantReqs, wantReplies := 0, 0
	batch := func(prefix string, size int) [][]byte {
		raws, w, reqs, replies := load(t, prefix, size)
		for k, v := range w {
			want[k] = v
		}
		wantReqs += reqs
		wantReplies += replies
		return raws
	}
	a, b := batch("outage-a", n/2), batch("outage-b", n/4)
	abReplies := wantReplies
	c := batch("outage-c", n-n/2-n/4)
	mailstack := func(verb string) {
		t.Helper()
		out, err := exec.Command(s.mailstackTool, verb, s.dir).CombinedOutput()
		if err != nil {
			t.Fatalf("mailstack %s: %v\n%s", verb, err, out)
		}
	}
	t.Cleanup(func() { // never leave the stack half down for the next test
		exec.Command(s.mailstackTool, "start-dovecot", s.dir).Run()
		exec.Command(s.mailstackTool, "start-postfix", s.dir).Run()
	})
	settled := func() int {
		c := s.login(t, s.intake)
		defer c.Close()
		return s.settledCount(c)
	}

	s.submit(t, a, false)
	cfg := s.writeConfig(t, dir, s.defaults())
	d := s.start(t, dir, "serve", "--config", cfg)
	waitFor(t, "the daemon to start on the backlog", time.Minute, func() bool { return settled() >= 1 })
	mailstack("stop-dovecot")
	downAt := time.Now()
	t.Logf("Dovecot stopped for %s", dovecotDown)
	// Mail keeps coming while the mailbox is down: Postfix defers it.
	sc, err := smtp.Dial(s.submitAddr)
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range b {
		if err := sc.SendMail(submitter, []string{s.alias}, bytes.NewReader(raw)); err != nil {
			t.Fatalf("submit %d while Dovecot is down: %v", i, err)
		}
	}
	sc.Quit()
	time.Sleep(time.Until(downAt.Add(dovecotDown))) // the outage's length is the thing under test
	if !d.running() {
		t.Fatalf("the daemon exited while Dovecot was down: %v", d.err)
	}
	mailstack("start-dovecot")
	ab := len(a) + len(b)
	waitFor(t, "the backlog and the deferred mail settled after Dovecot came back", 5*time.Minute, func() bool { return settled() == ab })
	waitFor(t, "their replies delivered", 3*time.Minute, func() bool { return s.repliesIn(t) >= abReplies })
	s.waitPostfixIdle(t)

	mailstack("stop-postfix")
	downAt = time.Now()
	t.Logf("Postfix stopped for %s", postfixDown)
	repliesBefore := s.repliesIn(t)
	ic := s.login(t, s.intake)
	for i, raw := range c {
		cmd := ic.Append("INBOX", int64(len(raw)), nil)
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	ic.Close()
	waitFor(t, "the mail put in while Postfix is down settled", 2*time.Minute, func() bool { return settled() == n })
	time.Sleep(time.Until(downAt.Add(postfixDown))) // the outage's length is the thing under test
	if !d.running() {
		t.Fatalf("the daemon exited while Postfix was down: %v", d.err)
	}
	if got := s.repliesIn(t); got != repliesBefore {
		t.Errorf("replies delivered with Postfix down: %d, want none", got-repliesBefore)
	}
	mailstack("start-postfix")

	// On a timeout the records below still say which message lacks its
	// reply and what became of it.
	awaited(t, fmt.Sprintf("%d replies delivered after the outages", wantReplies), 5*time.Minute, func() bool { return s.repliesIn(t) >= wantReplies })
	s.waitPostfixIdle(t)
	d.term(t)
	resent, redelivered := s.verifyLoad(t, filepath.Join(dir, "intake.db"), want, wantReqs)
	if resent != 0 {
		t.Errorf("%d replies submitted twice by the daemon with no crash in between", resent)
	}
	t.Logf("%d messages, %d requests, %d distinct replies; %d copies delivered twice by Postfix (LMTP cut by the Dovecot stop)",
		n, wantReqs, wantReplies, redelivered)
}

// TestE2ETLS runs one message through each TLS arrangement.
func TestE2ETLS(t *testing.T) {
	s := loadStack(t)
	question := func(id string) []byte {
		return message("tls.test@region.example.se", id, "Fråga om webSesam", "Var finns blanketten?", nil)
	}
	type outcome int
	const (
		delivered   outcome = iota // moved to No-form, the reply arrived
		imapRefused                // serve --once fails, the message stays unread
		smtpRefused                // moved, but the reply stays in the outbox
	)
	noCA := ""
	tests := []struct {
		name    string
		opts    func(o *cfgOpts)
		want    outcome
		wantErr string // in the daemon's output
	}{
		{"implicit TLS for both", func(o *cfgOpts) { o.imapAddr, o.imapTLS, o.smtpAddr, o.smtpTLS = s.imaps, "tls", s.smtps, "tls" }, delivered, ""},
		{"STARTTLS for both", func(o *cfgOpts) {}, delivered, ""},
		{"explicit plain IMAP on loopback", func(o *cfgOpts) { o.imapTLS, o.imapCA = "plain", "" }, delivered, ""},
		{"explicit plain SMTP on loopback", func(o *cfgOpts) { o.smtpAddr, o.smtpTLS, o.smtpCA, o.smtpAuth = s.submitAddr, "plain", "", false }, delivered, ""},
		{"IMAP without the CA", func(o *cfgOpts) { o.imapCA = noCA }, imapRefused, "certificate signed by unknown authority"},
		{"implicit IMAP without the CA", func(o *cfgOpts) { o.imapAddr, o.imapTLS, o.imapCA = s.imaps, "tls", noCA }, imapRefused, "certificate signed by unknown authority"},
		{"SMTP STARTTLS where none is offered", func(o *cfgOpts) { o.smtpAddr, o.smtpAuth = s.submitAddr, false }, smtpRefused, "STARTTLS"},
		{"SMTP without the CA", func(o *cfgOpts) { o.smtpCA = noCA }, smtpRefused, "certificate signed by unknown authority"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.reset(t)
			dir := t.TempDir()
			id := fmt.Sprintf("tls-%d-%d@region.example.se", i, time.Now().UnixNano())
			s.submit(t, [][]byte{question(id)}, true)
			o := s.defaults()
			tt.opts(&o)
			cfg := s.writeConfig(t, dir, o)
			d := s.start(t, dir, "serve", "--once", "--config", cfg)
			err := d.wait(t, 2*time.Minute)
			logb, _ := os.ReadFile(d.log)
			snap := s.snapshot(t, s.intake)
			var folder string
			seen := false
			for _, p := range snap {
				if p.messageID == id {
					folder, seen = p.folder, slices.Contains(p.flags, imap.FlagSeen)
				}
			}
			switch tt.want {
			case delivered, smtpRefused:
				if tt.want == delivered && err != nil {
					t.Fatalf("serve --once: %v", err)
				}
				if tt.want == smtpRefused && err == nil {
					t.Errorf("serve --once succeeded, want it to fail on the undeliverable outbox")
				}
				if folder != "webSesam/No-form" {
					t.Errorf("message in %q, want webSesam/No-form", folder)
				}
			case imapRefused:
				if err == nil {
					t.Fatalf("serve --once succeeded, want the connection refused")
				}
				if folder != "INBOX" || seen {
					t.Errorf("message in %q (seen %v), want untouched in INBOX", folder, seen)
				}
			}
			if tt.wantErr != "" && !strings.Contains(string(logb), tt.wantErr) {
				t.Errorf("daemon output lacks %q:\n%s", tt.wantErr, logb)
			}
			s.waitPostfixIdle(t)
			got := 0
			for _, p := range s.snapshot(t, s.catchall) {
				if p.inReplyTo == id {
					got++
				}
			}
			want := 0
			if tt.want == delivered {
				want = 1
			}
			if got != want {
				t.Errorf("replies delivered: got %d, want %d", got, want)
			}
			if tt.want != smtpRefused {
				return
			}
			// The refused reply waits in the outbox, never sent in the
			// clear; once plain is explicitly allowed it goes out, once.
			var rows []store.OutboxRow
			s.cliJSON(t, &rows, "outbox", "list", "--json", "--db", filepath.Join(dir, "intake.db"), "--socket", filepath.Join(dir, "none.sock"))
			if len(rows) != 1 || rows[0].State != store.OutboxPending || rows[0].InReplyTo != id {
				t.Fatalf("outbox: %+v, want one pending reply to %s", rows, id)
			}
			o.smtpAddr, o.smtpTLS, o.smtpCA, o.smtpAuth = s.submitAddr, "plain", "", false
			cfg = s.writeConfig(t, dir, o)
			time.Sleep(time.Second) // the wall clock past the row's retry time: the daemon's retry waits on time alone
			if err := s.start(t, dir, "serve", "--once", "--config", cfg).wait(t, 2*time.Minute); err != nil {
				t.Fatalf("serve --once with plain allowed: %v", err)
			}
			s.waitPostfixIdle(t)
			got = 0
			for _, p := range s.snapshot(t, s.catchall) {
				if p.inReplyTo == id {
					got++
				}
			}
			if got != 1 {
				t.Errorf("replies delivered once plain was allowed: got %d, want 1", got)
			}
		})
	}

	t.Run("plain to a remote host is refused by config check", func(t *testing.T) {
		dir := t.TempDir()
		o := s.defaults()
		o.imapAddr, o.imapTLS = "192.0.2.1:143", "plain"
		o.smtpAddr, o.smtpTLS = "192.0.2.1:25", "plain"
		cfg := s.writeConfig(t, dir, o)
		_, errOut, code := s.cli(t, "config", "check", cfg)
		if code != 2 {
			t.Errorf("config check: status %d, want 2", code)
		}
		wantContains(t, "config check output", errOut, `mailbox.tls: plain is allowed only for a loopback host, not "192.0.2.1"`, `mailer.smtp.tls: plain is allowed only for a loopback host, not "192.0.2.1"`)
		_, errOut, code = s.cli(t, "serve", "--config", cfg)
		if code != 2 {
			t.Errorf("serve with that configuration: status %d, want 2 (%s)", code, errOut)
		}
	})
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// TestE2EStaffSocket runs the staff commands against the running daemon
// over its socket, while it holds the store.
func TestE2EStaffSocket(t *testing.T) {
	s := loadStack(t)
	s.reset(t)
	dir := t.TempDir()
	raws, want, wantReqs, wantReplies := load(t, "staff", 12)
	s.submit(t, raws, false)
	staffSock := filepath.Join(dir, "staff.sock") // where writeConfig puts it
	cfg := s.writeConfig(t, dir, s.defaults())
	d := s.start(t, dir, "serve", "--config", cfg)
	ic := s.login(t, s.intake)
	waitFor(t, "INBOX drained", 2*time.Minute, func() bool { return count(ic, "INBOX") == 0 })
	ic.Close()
	waitFor(t, fmt.Sprintf("%d replies delivered", wantReplies), 2*time.Minute, func() bool { return s.repliesIn(t) >= wantReplies })
	absent := filepath.Join(dir, "absent.db") // never opened: the answer must come from the daemon

	t.Run("queue list", func(t *testing.T) {
		var items []map[string]any
		s.cliJSON(t, &items, "queue", "list", "--json", "--limit", "1000", "--socket", staffSock, "--db", absent)
		if got := len(items); got != wantReqs {
			t.Errorf("%d requests, want %d", got, wantReqs)
		}
	})
	t.Run("messages list", func(t *testing.T) {
		var msgs []store.Message
		s.cliJSON(t, &msgs, "messages", "list", "--json", "--limit", "1000", "--socket", staffSock, "--db", absent)
		ours := 0
		for _, m := range msgs {
			if _, ok := want[m.MessageID]; ok {
				ours++
			}
		}
		if ours != len(want) || len(msgs) != len(want) {
			t.Errorf("%d messages, %d of ours, want exactly our %d", len(msgs), ours, len(want))
		}
	})
	t.Run("outbox list", func(t *testing.T) {
		var rows []store.OutboxRow
		s.cliJSON(t, &rows, "outbox", "list", "--json", "--limit", "1000", "--socket", staffSock, "--db", absent)
		if sent := sentRows(rows); sent != wantReplies || len(rows) != wantReplies {
			t.Errorf("%d rows, %d sent, want %d all sent", len(rows), sent, wantReplies)
		}
	})
	t.Run("the actor is the caller", func(t *testing.T) {
		out, errOut, code := s.cli(t, "audit", "list", "--socket", staffSock, "--db", absent)
		if code != 0 {
			t.Fatalf("status %d: %s", code, errOut)
		}
		if !strings.Contains(out, "root") {
			t.Errorf("the audit log does not name the calling user root:\n%s", out)
		}
	})
	d.term(t)
	if _, err := os.Stat(staffSock); !os.IsNotExist(err) {
		t.Errorf("the staff socket is left behind after stop: %v", err)
	}
	s.verifyLoad(t, filepath.Join(dir, "intake.db"), want, wantReqs)
}

// TestE2ESystemd runs serve as systemd would (Type=notify, WatchdogSec=,
// a real NOTIFY_SOCKET) with /metrics on, and checks READY only after the
// store is open and Dovecot logged the daemon in, WATCHDOG pings while it
// works, status against the running daemon, and STOPPING then a clean exit
// on SIGTERM.
func TestE2ESystemd(t *testing.T) {
	s := loadStack(t)
	s.reset(t)
	dir := t.TempDir()
	raws, want, wantReqs, wantReplies := load(t, "systemd", 12)
	s.submit(t, raws, false)

	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	staffSock := filepath.Join(dir, "staff.sock") // where writeConfig puts it
	o := s.defaults()
	o.extra = fmt.Sprintf("\n[metrics]\naddr = %q\n\n[log]\nlevel = \"debug\"\n", metricsAddr)
	cfg := s.writeConfig(t, dir, o)
	if out, errOut, code := s.cli(t, "config", "check", cfg); code != 0 {
		t.Fatalf("config check: status %d\n%s%s", code, out, errOut)
	}

	logins := func() int {
		b, _ := os.ReadFile(filepath.Join(s.dir, "log", "dovecot.log"))
		return strings.Count(string(b), "Login: user=<"+s.intake+">")
	}
	before := logins()
	d := s.startEnv(t, dir, []string{"NOTIFY_SOCKET=" + notify.LocalAddr().String(), "WATCHDOG_USEC=1000000"}, "serve", "--config", cfg)
	// Datagrams until READY=1.
	var got []string
	readyAt := -1
	for readyAt < 0 {
		notify.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 4096)
		n, err := notify.Read(buf)
		if err != nil {
			t.Fatalf("no READY=1 within 30s (got %q): %v", got, err)
		}
		got = append(got, string(buf[:n]))
		if strings.Contains(string(buf[:n]), "READY=1\n") {
			readyAt = len(got) - 1
			if logins() <= before {
				t.Errorf("READY=1 before Dovecot logged the daemon's login")
			}
			if _, err := os.Stat(filepath.Join(dir, "intake.db")); err != nil {
				t.Errorf("READY=1 before the store exists: %v", err)
			}
			if !strings.Contains(string(buf[:n]), fmt.Sprintf("MAINPID=%d\n", d.cmd.Process.Pid)) {
				t.Errorf("READY datagram %q lacks MAINPID=%d", buf[:n], d.cmd.Process.Pid)
			}
		}
	}
	ic := s.login(t, s.intake)
	waitFor(t, "INBOX drained", 2*time.Minute, func() bool { return count(ic, "INBOX") == 0 })
	ic.Close()
	waitFor(t, fmt.Sprintf("%d replies delivered", wantReplies), 2*time.Minute, func() bool { return s.repliesIn(t) >= wantReplies })

	t.Run("watchdog pings", func(t *testing.T) {
		pings := 0
		deadline := time.Now().Add(10 * time.Second)
		for pings < 3 && time.Now().Before(deadline) {
			notify.SetReadDeadline(deadline)
			buf := make([]byte, 4096)
			n, err := notify.Read(buf)
			if err != nil {
				break
			}
			if strings.Contains(string(buf[:n]), "WATCHDOG=1\n") {
				pings++
			}
		}
		if pings < 3 {
			t.Errorf("%d WATCHDOG=1 pings in 10s with WatchdogSec=1s, want at least 3", pings)
		}
	})
	t.Run("status from the running daemon", func(t *testing.T) {
		counts := map[store.Outcome]int{}
		for _, k := range want {
			counts[k.outcome]++
		}
		out, errOut, code := s.cli(t, "status", "--metrics", metricsAddr)
		if code != 0 {
			t.Fatalf("status: %d: %s", code, errOut)
		}
		for _, line := range []string{
			fmt.Sprintf("  messages       queued %d, returned %d, no-form %d, ignored %d, quarantined 0\n",
				counts[store.OutcomeQueued], counts[store.OutcomeReturned], counts[store.OutcomeNoForm], counts[store.OutcomeIgnored]),
			fmt.Sprintf("  replies        sent %d, failed 0, suppressed 0\n", wantReplies),
			fmt.Sprintf("  requests       queued %d, claimed 0, done 0, rejected 0\n", wantReqs),
			"  outbox         0 waiting\n",
		} {
			if !strings.Contains(out, line) {
				t.Errorf("status lacks %q:\n%s", line, out)
			}
		}
		if strings.Contains(out, "last poll      never") {
			t.Errorf("status says the daemon never polled:\n%s", out)
		}
	})

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopping := false
	for !stopping {
		notify.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 4096)
		n, err := notify.Read(buf)
		if err != nil {
			t.Fatalf("no STOPPING=1 within 30s of SIGTERM: %v", err)
		}
		stopping = strings.Contains(string(buf[:n]), "STOPPING=1\n")
	}
	select {
	case <-d.done:
		if d.err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", d.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit within 60s of SIGTERM")
	}
	if _, err := os.Stat(staffSock); !os.IsNotExist(err) {
		t.Errorf("the staff socket is left behind: %v", err)
	}
	s.verifyLoad(t, filepath.Join(dir, "intake.db"), want, wantReqs)
}
