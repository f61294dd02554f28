//go:build e2e

// Sender verdicts and the directory end to end: mails carrying the verdict
// the region's boundary would add, submitted through the real Postfix into
// the real Dovecot; forms whose managers and HSA-ids the real OpenLDAP
// (.ci/ldapstack, started by .ci/e2e into E2E_LDAPSTACK) knows or does not
// know; and slapd stopped while mail arrives.

package main

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/formtest"
	"github.com/regionhmc/websesam-intake/intake/trust"
	"github.com/regionhmc/websesam-intake/store"
)

// ldapStack is the running slapd, read from E2E_LDAPSTACK/env.
type ldapStack struct {
	dir, tool                                   string
	url, ca, bindDN, passwordFile, baseDN, port string
	tlsPort                                     string
}

func loadLDAPStack(t *testing.T) ldapStack {
	t.Helper()
	dir := os.Getenv("E2E_LDAPSTACK")
	if dir == "" {
		t.Fatal("E2E_LDAPSTACK (a started .ci/ldapstack directory) must be set; run make e2e")
	}
	env := stackEnv(t, dir, "ldapstack")
	tool, err := filepath.Abs("../../.ci/ldapstack")
	if err != nil {
		t.Fatal(err)
	}
	l := ldapStack{dir: dir, tool: tool, url: env["LDAP_URL"], ca: env["LDAP_CA_FILE"], bindDN: env["LDAP_BIND_DN"],
		passwordFile: env["LDAP_PASSWORD_FILE"], baseDN: env["LDAP_BASE_DN"]}
	u, err := url.Parse(l.url)
	if err != nil || u.Port() == "" || l.baseDN == "" {
		t.Fatalf("the ldapstack env in %s lacks LDAP_URL or LDAP_BASE_DN", dir)
	}
	l.port = u.Port()
	if v, err := url.Parse(env["LDAPS_URL"]); err == nil {
		l.tlsPort = v.Port()
	}
	return l
}

// run stops or starts slapd on the same ports.
func (l ldapStack) run(t *testing.T, verb string) {
	t.Helper()
	cmd := exec.Command(l.tool, verb, l.dir)
	cmd.Env = append(os.Environ(), "LDAP_PORT="+l.port, "LDAPS_PORT="+l.tlsPort)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapstack %s: %v\n%s", verb, err, out)
	}
}

// config is the [directory] section for this slapd, retrying soon.
func (l ldapStack) config() string {
	return fmt.Sprintf(`
[directory]
url = %q
ca_file = %q
bind_dn = %q
password_file = %q
base_dn = %q
manager_attribute = "employeeType"
manager_value = "Chef"
hsa_id_filter = "(hsaIdentity={hsa_id})"
timeout = "5s"
retry_interval = "2s"
`, l.url, l.ca, l.bindDN, l.passwordFile, l.baseDN)
}

// e2eForm is a filled single-user PDF of first last (a complete "ny"),
// with change over the defaults.
func e2eForm(t *testing.T, first, last string, change map[string]string) []byte {
	t.Helper()
	values := formtest.Person(first, last)
	maps.Copy(values, change)
	return formtest.FillPDF(t, formparse.Single, values)
}

// asciiUser is the mail user name of first last.
var asciiUser = formtest.ASCIIUser

// boundary is what the region's MX (Postfix with OpenDKIM and OpenDMARC
// on mx.region.example.se) puts above a mail from outside before relaying
// it inwards: its verdicts, then its Received line.
func boundary(dmarc, dkim string) []byte {
	return []byte(fmt.Sprintf("Authentication-Results: mx.region.example.se; dmarc=%s (p=reject dis=none) header.from=region.example.se\r\n"+
		"Authentication-Results: mx.region.example.se;\r\n\tdkim=%s (2048-bit key; unprotected) header.d=region.example.se header.i=@region.example.se header.b=AbCdEf12\r\n"+
		"Authentication-Results: mx.region.example.se; spf=pass smtp.mailfrom=region.example.se\r\n"+
		"Received: from mail.sender.example (mail.sender.example [192.0.2.25])\r\n"+
		"\tby mx.region.example.se (Postfix) with ESMTPS id 4Y2Q1M3ZkVz9sWr\r\n"+
		"\tfor <info.hmc@region.example.se>; %s\r\n", dmarc, dkim, time.Now().Format(time.RFC1123Z)))
}

// TestE2ETrustVerdicts: through real Postfix and Dovecot (which add their
// own trace headers on top), a dmarc=fail verdict is quarantined with the
// verdict as its reason, a pass is queued, and a pass the sender forged
// under the boundary's fail changes nothing; messages show prints each
// verdict.
func TestE2ETrustVerdicts(t *testing.T) {
	s := loadStack(t)
	s.reset(t)
	dir := t.TempDir()
	forged := []byte("Authentication-Results: mx.region.example.se; dmarc=pass header.from=region.example.se\r\n" +
		"Authentication-Results: mx.region.example.se; dkim=pass header.d=region.example.se; spf=pass smtp.mailfrom=region.example.se\r\n")
	cases := []struct {
		id, folder string
		raw        []byte
		outcome    store.Outcome
		reason     string
		verdict    string
	}{
		{"verdict-pass@region.example.se", "webSesam/Queued",
			append(boundary("pass", "pass"), message("asa.oberg@region.example.se", "verdict-pass@region.example.se", "webSesam", "Hej", e2eForm(t, "Åsa", "Öberg", nil))...),
			store.OutcomeQueued, "every form complete and valid", "dmarc-pass: dmarc=pass dkim=pass spf=pass (3 headers by mx.region.example.se)"},
		{"verdict-fail@region.example.se", "webSesam/Quarantine",
			append(boundary("fail", "fail"), message("bo.ek@region.example.se", "verdict-fail@region.example.se", "webSesam", "Hej", e2eForm(t, "Bo", "Ek", nil))...),
			store.OutcomeQuarantined, trust.ReasonDMARCFail, "dmarc-fail: dmarc=fail dkim=fail spf=pass (3 headers by mx.region.example.se)"},
		{"verdict-forged@region.example.se", "webSesam/Quarantine",
			append(append(boundary("fail", "none"), forged...), message("cia.al@region.example.se", "verdict-forged@region.example.se", "webSesam", "Hej", e2eForm(t, "Cia", "Al", nil))...),
			store.OutcomeQuarantined, trust.ReasonDMARCFail, "dmarc-fail: dmarc=fail dkim=none spf=pass (3 headers by mx.region.example.se)"},
	}
	var raws [][]byte
	for _, c := range cases {
		raws = append(raws, c.raw)
	}
	s.submit(t, raws, true)
	o := s.defaults()
	o.extra = "\n[trust]\nauthserv_id = \"mx.region.example.se\"\n"
	cfg := s.writeConfig(t, dir, o)
	d := s.start(t, dir, "serve", "--config", cfg)
	c := s.login(t, s.intake)
	defer c.Close()
	waitFor(t, "the three messages settled", 2*time.Minute, func() bool { return s.settledCount(c) == len(cases) })
	d.term(t)
	recs, reqs := records(t, filepath.Join(dir, "intake.db"))
	if len(reqs) != 1 {
		t.Errorf("requests: got %d, want 1 (the pass only)", len(reqs))
	}
	where := map[string][]string{}
	for _, p := range s.snapshot(t, s.intake) {
		where[p.messageID] = append(where[p.messageID], p.folder)
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			m := recs[tc.id]
			if got, want := fmt.Sprintf("%s (%s) %s", m.Outcome, m.Reason, m.Verdict), fmt.Sprintf("%s (%s) %s", tc.outcome, tc.reason, tc.verdict); got != want {
				t.Errorf("record:\n got %s\nwant %s", got, want)
			}
			if got := where[tc.id]; len(got) != 1 || got[0] != tc.folder {
				t.Errorf("folders: got %v, want [%s]", got, tc.folder)
			}
			out, errOut, code := s.cli(t, "messages", "show", m.Key.String(), "--db", filepath.Join(dir, "intake.db"), "--socket", filepath.Join(dir, "none.sock"))
			if code != 0 || !strings.Contains(out, "Sender verdict  "+tc.verdict+"\n") {
				t.Errorf("messages show (exit %d, %s) lacks the verdict %q:\n%s", code, errOut, tc.verdict, out)
			}
		})
	}
}

// TestE2ETrustDirectory: against the real slapd, a known manager's form is
// queued, an unknown manager's and an unknown HSA-id's are returned with
// the reason on the field (the reply to the sender, never to the unknown
// address); then slapd is stopped while mail arrives: nothing is decided
// or moved while it is down, status says so, and everything is decided
// rightly once it is back, by the same daemon process.
func TestE2ETrustDirectory(t *testing.T) {
	s := loadStack(t)
	l := loadLDAPStack(t)
	down := time.Duration(envInt(t, "E2E_LDAP_DOWN_SECONDS", 30)) * time.Second
	s.reset(t)
	dir := t.TempDir()
	type want struct {
		folder, outcome, problems, replyTo string
	}
	mail := func(id, first, last string, change map[string]string) []byte {
		user := asciiUser(first, last)
		return message(user+"@region.example.se", id, "webSesam ansökan", "Hej, blanketten bifogas.", e2eForm(t, first, last, change))
	}
	first := []struct {
		id  string
		raw []byte
		w   want
	}{
		{"dir-known@region.example.se", mail("dir-known@region.example.se", "Åsa", "Öberg", nil),
			want{"webSesam/Queued", "queued", "", "asa.oberg@region.example.se"}},
		{"dir-unknown@region.example.se", mail("dir-unknown@region.example.se", "Bo", "Ek", map[string]string{"chef_epost": "chef.okand@region.example.se"}),
			want{"webSesam/Returned", "returned", "chef_epost: finns inte i katalogen", "bo.ek@region.example.se"}},
		{"dir-hsa@region.example.se", mail("dir-hsa@region.example.se", "Cia", "Al", map[string]string{"hsa_id": "SE2321000131-E000000000999"}),
			want{"webSesam/Returned", "returned", "hsa_id: finns inte i katalogen", "rene.linden@region.example.se"}},
	}
	// Sent while slapd is down; each asks about a manager or HSA-id not
	// asked about before (a cached answer would rightly be used).
	during := []struct {
		id  string
		raw []byte
		w   want
	}{
		{"down-known@region.example.se", mail("down-known@region.example.se", "Dan", "Ny", map[string]string{"chef_epost": "goran.arlig@region.example.se", "hsa_id": ""}),
			want{"webSesam/Queued", "queued", "", "dan.ny@region.example.se"}},
		{"down-notmanager@region.example.se", mail("down-notmanager@region.example.se", "Eva", "Ek", map[string]string{"chef_epost": "bo.ek@region.example.se", "hsa_id": ""}),
			want{"webSesam/Returned", "returned", "chef_epost: finns i katalogen men inte som chef", "eva.ek@region.example.se"}},
		{"down-hsa@region.example.se", mail("down-hsa@region.example.se", "Fia", "Berg", map[string]string{"hsa_id": "SE2321000131-E000000000998"}),
			want{"webSesam/Returned", "returned", "hsa_id: finns inte i katalogen", "rene.linden@region.example.se"}},
	}

	o := s.defaults()
	o.extra = l.config()
	cfg := s.writeConfig(t, dir, o)
	var raws [][]byte
	for _, m := range first {
		raws = append(raws, m.raw)
	}
	s.submit(t, raws, true) // before the daemon runs: submit counts them in INBOX
	d := s.start(t, dir, "serve", "--config", cfg)
	c := s.login(t, s.intake)
	defer c.Close()
	waitFor(t, "the first three settled", 2*time.Minute, func() bool { return s.settledCount(c) == len(first) })

	t.Cleanup(func() { // never leave slapd down for the next test
		cmd := exec.Command(l.tool, "start", l.dir)
		cmd.Env = append(os.Environ(), "LDAP_PORT="+l.port, "LDAPS_PORT="+l.tlsPort)
		cmd.Run()
	})
	l.run(t, "stop")
	downAt := time.Now()
	t.Logf("slapd stopped for %s", down)
	raws = nil
	for _, m := range during {
		raws = append(raws, m.raw)
	}
	s.submit(t, raws, true)
	staffSock := filepath.Join(dir, "staff.sock")
	waitFor(t, "status to say the directory is unreachable", time.Minute, func() bool {
		out, _, _ := s.cli(t, "status", "--socket", staffSock)
		return strings.Contains(out, "  directory      UNREACHABLE since ")
	})
	for time.Now().Before(downAt.Add(down)) {
		if got := s.settledCount(c); got != len(first) {
			t.Fatalf("%d messages settled while slapd was down, want %d (none of the new ones)", got, len(first))
		}
		out, _, code := s.cli(t, "messages", "list", "--json", "--limit", "1000", "--socket", staffSock, "--db", filepath.Join(dir, "absent.db"))
		if code != 0 || strings.Count(out, `"message_id"`) != len(first) {
			t.Fatalf("messages recorded while slapd was down (exit %d):\n%s", code, out)
		}
		time.Sleep(2 * time.Second) // sampling through the outage, whose length is the thing under test
	}
	if !d.running() {
		t.Fatalf("the daemon exited while slapd was down: %v", d.err)
	}
	inbox := map[string]bool{}
	for _, p := range s.snapshot(t, s.intake) {
		if p.folder == "INBOX" {
			inbox[p.messageID] = len(p.flags) == 0
		}
	}
	for _, m := range during {
		if unflagged, ok := inbox[m.id]; !ok || !unflagged {
			t.Errorf("%s while slapd was down: in INBOX %v, unflagged %v; want it there untouched", m.id, ok, unflagged)
		}
	}
	l.run(t, "start")
	waitFor(t, "everything settled after slapd came back", 2*time.Minute, func() bool { return s.settledCount(c) == len(first)+len(during) })
	waitFor(t, "status to say the directory answers", time.Minute, func() bool {
		out, _, _ := s.cli(t, "status", "--socket", staffSock)
		return strings.Contains(out, "  directory      answering\n")
	})
	waitFor(t, "the six replies delivered", 2*time.Minute, func() bool { return s.repliesIn(t) >= len(first)+len(during) })
	s.waitPostfixIdle(t)
	d.term(t)

	recs, _ := records(t, filepath.Join(dir, "intake.db"))
	where := map[string][]string{}
	for _, p := range s.snapshot(t, s.intake) {
		where[p.messageID] = append(where[p.messageID], p.folder)
	}
	replies := map[string][]string{}
	for _, p := range s.snapshot(t, s.catchall) {
		if p.inReplyTo != "" {
			replies[p.inReplyTo] = append(replies[p.inReplyTo], p.folder)
		}
	}
	for _, m := range append(first, during...) {
		t.Run(m.id, func(t *testing.T) {
			rec := recs[m.id]
			var problems []string
			for _, f := range rec.Problems {
				for _, p := range f.Problems {
					problems = append(problems, p.Field+": "+p.Reason)
				}
			}
			if got, want := fmt.Sprint(rec.Outcome, " ", strings.Join(problems, "; ")), fmt.Sprint(m.w.outcome, " ", m.w.problems); got != want {
				t.Errorf("record: got %q, want %q", got, want)
			}
			if got := where[m.id]; len(got) != 1 || got[0] != m.w.folder {
				t.Errorf("folders: got %v, want [%s]", got, m.w.folder)
			}
			if got := replies[m.id]; len(got) == 0 || !bytes.Contains([]byte(strings.Join(got, " ")), []byte(catchallFolder(m.w.replyTo))) {
				t.Errorf("reply folders: got %v, want one in %s", got, catchallFolder(m.w.replyTo))
			}
			for _, f := range replies[m.id] {
				if strings.Contains(f, "okand") {
					t.Errorf("a reply went to an address the directory does not know: %s", f)
				}
			}
		})
	}
}
