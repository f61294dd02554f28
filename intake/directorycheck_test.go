package intake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/intake/directory"
	"github.com/regionhmc/websesam-intake/intake/directory/slapdtest"
	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/store"
)

// directoryConfig is cfg asking the test slapd, retrying soon.
func directoryConfig(cfg Config, s *slapdtest.Server) Config {
	cfg.Directory = directory.Config{
		URL: s.URL, CAFile: s.CAFile, BindDN: s.BindDN, PasswordFile: s.PasswordFile, BaseDN: s.BaseDN,
		ManagerAttribute: slapdtest.ManagerAttribute, ManagerValue: slapdtest.ManagerValue, HSAIDFilter: slapdtest.HSAIDFilter,
		Timeout: 5 * time.Second, RetryInterval: 300 * time.Millisecond,
	}.WithDefaults()
	return cfg
}

// formMail is a mail with a single-user form of first last, with the
// fields in change over person()'s.
func formMail(t testing.TB, id, first, last string, change map[string]string) []byte {
	fields := person(first, last)
	maps.Copy(fields, change)
	return []byte(outlook(fields["epost"], first+" "+last, id, "webSesam ansökan", "",
		attached{"ansokan.pdf", "application/pdf", fillPDF(t, formparse.Single, fields)}))
}

// problemsOf lists a recorded message's problems as "field: reason".
func problemsOf(m store.Message) string {
	var out []string
	for _, f := range m.Problems {
		for _, p := range f.Problems {
			out = append(out, p.Field+": "+p.Reason)
		}
	}
	return strings.Join(out, "; ")
}

// TestDirectoryChecks: against a real slapd, a known manager's form is
// queued; an unknown manager, a person who is not a manager and an HSA-id
// the catalogue lacks each return the form with the reason on that field,
// and the reply goes to the sender, never to an address the directory
// does not know as a manager.
func TestDirectoryChecks(t *testing.T) {
	s := slapdtest.Start(t)
	srv := startIMAP(t, true)
	sk := startSink(t)
	cfg := directoryConfig(testConfig(t, t.TempDir(), srv.addr, sk.addr), s)
	cases := []struct {
		id       string
		mail     []byte
		outcome  store.Outcome
		reason   string
		problems string
		replyTo  string
	}{
		{"known@region.example.se", formMail(t, "known@region.example.se", "Åsa", "Öberg", nil),
			store.OutcomeQueued, reasonValid, "", "asa.oberg@region.example.se"},
		{"unknown@region.example.se", formMail(t, "unknown@region.example.se", "Bo", "Ek",
			map[string]string{"chef_epost": "chef.okand@region.example.se"}),
			store.OutcomeReturned, reasonDirectory, "chef_epost: finns inte i katalogen", "bo.ek@region.example.se"},
		{"notmanager@region.example.se", formMail(t, "notmanager@region.example.se", "Cia", "Al",
			map[string]string{"chef_epost": slapdtest.NotManager}),
			store.OutcomeReturned, reasonDirectory, "chef_epost: finns i katalogen men inte som chef", "cia.al@region.example.se"},
		{"hsa@region.example.se", formMail(t, "hsa@region.example.se", "Dan", "Ny",
			map[string]string{"hsa_id": "SE2321000131-E000000000999"}),
			store.OutcomeReturned, reasonDirectory, "hsa_id: finns inte i katalogen", "rene.linden@region.example.se"},
		{"hostile@region.example.se", formMail(t, "hostile@region.example.se", "Eva", "Ek",
			map[string]string{"chef_epost": "*@region.example.se"}),
			store.OutcomeReturned, reasonIncomplete, "chef_epost: får bara innehålla a–z, 0–9 och . _ % + -", "eva.ek@region.example.se"},
	}
	for _, c := range cases {
		srv.appendMail(c.mail)
	}
	d, st := openDaemon(t, cfg, Options{})
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatalf("Once: %v", err)
	}
	recs := recorded(t, st)
	replies := map[string][]string{}
	for _, m := range sk.received() {
		irt := strings.Trim(m.msg.Header.Get("In-Reply-To"), "<>")
		replies[irt] = append(replies[irt], m.msg.Header.Get("To"))
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			rec := recs[c.id]
			if got, want := fmt.Sprint(rec.Outcome, " (", rec.Reason, ")"), fmt.Sprint(c.outcome, " (", c.reason, ")"); got != want {
				t.Errorf("outcome: got %s, want %s", got, want)
			}
			if got := problemsOf(rec); !strings.Contains(got, c.problems) || c.problems == "" && got != "" {
				t.Errorf("problems: got %q, want %q among them", got, c.problems)
			}
			if got := replies[c.id]; len(got) != 1 || !strings.Contains(got[0], c.replyTo) {
				t.Errorf("reply To: got %q, want one to %s", got, c.replyTo)
			}
		})
	}
}

// TestDirectoryDown: while slapd is stopped, mail that needs it waits
// undecided (not recorded, not moved, not flagged) and so does the mail
// behind it; once slapd answers again the running daemon decides all of
// it, each once, rightly.
func TestDirectoryDown(t *testing.T) {
	s := slapdtest.Start(t)
	srv := startIMAP(t, true)
	sk := startSink(t)
	cfg := directoryConfig(testConfig(t, t.TempDir(), srv.addr, sk.addr), s)

	before := formMail(t, "before@region.example.se", "Åsa", "Öberg", nil)
	srv.appendMail(before)
	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	metrics := ops.NewMetrics(st)
	d, err := New(cfg, st, Options{Logger: testLogger(t), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatalf("Once before the outage: %v", err)
	}
	s.Stop()
	waiting := map[string][]byte{
		// Another manager than before's: an answer still in the cache is
		// used during an outage, by design.
		"down-known@region.example.se":   formMail(t, "down-known@region.example.se", "Bo", "Ek", map[string]string{"chef_epost": slapdtest.OtherManager}),
		"down-unknown@region.example.se": formMail(t, "down-unknown@region.example.se", "Cia", "Al", map[string]string{"chef_epost": "chef.okand@region.example.se"}),
		// No form at all: needs no directory, but comes after mail that
		// does, and the highest UID handled must not pass that.
		"down-noform@region.example.se": []byte(outlook("dan.ny@region.example.se", "Dan Ny", "down-noform@region.example.se", "webSesam fråga", "")),
	}
	for _, id := range []string{"down-known@region.example.se", "down-unknown@region.example.se", "down-noform@region.example.se"} {
		srv.appendMail(waiting[id])
	}
	err = d.Once(withTimeout(t, time.Minute))
	if !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("Once during the outage: got %v, want ErrUnavailable", err)
	}
	recs := recorded(t, st)
	where := srv.where()
	for id := range waiting {
		if _, ok := recs[id]; ok {
			t.Errorf("%s recorded while the directory was down", id)
		}
		if got := where[id]; len(got) != 1 || got[0].Folder != "INBOX" || len(got[0].Flags) != 0 {
			t.Errorf("%s during the outage: %v, want in INBOX unflagged", id, got)
		}
	}
	var b strings.Builder
	metrics.WriteTo(&b)
	if !strings.Contains(b.String(), "websesam_intake_directory_up 0\n") {
		t.Errorf("metrics during the outage lack websesam_intake_directory_up 0:\n%s", b.String())
	}

	// The running daemon tries again by itself once slapd is back.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	s.Start()
	waitFor(t, "the waiting mail decided", time.Minute, func() bool {
		st := recorded(t, st)
		return len(st) == 4 && !slices.ContainsFunc(slices.Collect(maps.Values(st)), func(m store.Message) bool { return !m.Settled })
	})
	recs = recorded(t, st)
	for id, want := range map[string]string{
		"before@region.example.se":       "queued",
		"down-known@region.example.se":   "queued",
		"down-unknown@region.example.se": "returned: chef_epost: finns inte i katalogen",
		"down-noform@region.example.se":  "no-form",
	} {
		got := string(recs[id].Outcome)
		if p := problemsOf(recs[id]); p != "" {
			got += ": " + p
		}
		if got != want {
			t.Errorf("%s: got %s, want %s", id, got, want)
		}
	}
	b.Reset()
	metrics.WriteTo(&b)
	if !strings.Contains(b.String(), "websesam_intake_directory_up 1\n") {
		t.Errorf("metrics after the outage lack websesam_intake_directory_up 1")
	}
}
