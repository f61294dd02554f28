package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden screens in testdata/review")

// reviewNow is the screen's clock in these tests: Friday 4 December 2026.
var reviewNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.Local)

// reviewFixture is a real store with five requests received on fixed days,
// so that ages in working days are known: Åsa ny (Mon 16 Nov, 14 days),
// Anna ny (Thu 26 Nov, 6), Åsa ändring (Mon 30 Nov, 4), Per ny (Tue 1 Dec,
// 3) and Per avslut (Wed 2 Dec, 2). The promise is 5 working days.
func reviewFixture(t *testing.T) (db string, ids []string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(db, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	asa := personFields("ny", "Åsa", "Öberg", "asa.oberg@region.example.se", "602154")
	asa["hsa_id"] = asaHSA
	anna := personFields("ny", "Anna", "Svensson", "anna.svensson@region.example.se", "602154")
	asaAndring := personFields("andring", "Åsa", "Öberg", "asa.oberg@region.example.se", "602154")
	asaAndring["hsa_id"], asaAndring["andring_roll"], asaAndring["roll_bestallare"] = asaHSA, "true", "true"
	per := personFields("ny", "Per", "Persson", "per.persson@region.example.se", "602160")
	perAvslut := personFields("avslut", "Per", "Persson", "per.persson@region.example.se", "602160")
	days := []time.Time{
		time.Date(2026, 11, 16, 9, 0, 0, 0, time.Local), time.Date(2026, 11, 26, 9, 0, 0, 0, time.Local),
		time.Date(2026, 11, 30, 9, 0, 0, 0, time.Local), time.Date(2026, 12, 1, 9, 0, 0, 0, time.Local),
		time.Date(2026, 12, 2, 9, 0, 0, 0, time.Local),
	}
	for i, fields := range []map[string]string{asa, anna, asaAndring, per, perAvslut} {
		uid := uint32(i + 1)
		var file *store.FormFile
		if i == 0 { // Åsa's first form is kept as it came
			file = &store.FormFile{Name: "Ansökan webSesam.pdf", Data: reviewFormBytes}
		}
		rec, err := st.RecordOutcome(store.Message{
			Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: uid}, MessageID: "m" + string(rune('0'+uid)) + "@region.example.se",
			From: fields["epost"], Subject: "webSesam ansökan", ReceivedAt: days[i], Size: 2000, Outcome: store.OutcomeQueued,
		}, []store.NewRequest{{FormHash: "hash" + string(rune('0'+uid)), Form: "websesam-behorighet", Type: fields["arende"], Fields: fields, File: file}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.Requests[0].ID)
	}
	return db, ids
}

// reviewFormBytes stand for the original of Åsa's form.
var reviewFormBytes = []byte("%PDF-1.7\n% Åsa Öberg\n%%EOF\n")

// screen is a review screen under test, on a real store (directly, or
// through a daemon's socket when env.st is set).
type screen struct {
	t   *testing.T
	m   *reviewModel
	env staffEnv
	ids []string
}

func newScreen(t *testing.T, mode string, w, h int) *screen {
	t.Helper()
	db, ids := reviewFixture(t)
	env := newStaffEnv(t, mode, db)
	ctx := context.Background()
	s, err := openStaff(ctx, staffFlags{socket: os.Getenv("WEBSESAM_INTAKE_SOCKET"), db: db, config: env.config}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	who, err := staffapi.WhoAmI.Do(ctx, s.Staff, staffapi.Nothing{})
	if err != nil {
		t.Fatal(err)
	}
	m := newReviewModel(ctx, s.Staff, who.Actor, func() time.Time { return reviewNow })
	m.refresh = 0
	sc := &screen{t: t, m: m, env: env, ids: ids}
	sc.send(tea.WindowSizeMsg{Width: w, Height: h})
	sc.run(m.Init())
	return sc
}

// run executes a command and everything it leads to, feeding each message
// back into the model, as the program would (without its timers).
func (s *screen) run(cmd tea.Cmd) {
	s.t.Helper()
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil, tea.QuitMsg, tickMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := s.m.Update(msg)
			queue = append(queue, next)
		}
	}
}

func (s *screen) send(msg tea.Msg) {
	s.t.Helper()
	_, cmd := s.m.Update(msg)
	s.run(cmd)
}

// keys types each key: a word in braces is a named key ({enter}, {esc},
// {tab}, {down}), anything else one character.
func (s *screen) keys(in string) {
	s.t.Helper()
	for in != "" {
		if strings.HasPrefix(in, "{") {
			end := strings.IndexByte(in, '}')
			name := in[1:end]
			in = in[end+1:]
			k := map[string]tea.KeyPressMsg{
				"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
				"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "down": {Code: tea.KeyDown}, "up": {Code: tea.KeyUp},
				"space": {Code: tea.KeySpace, Text: " "},
			}[name]
			s.send(k)
			continue
		}
		r := []rune(in)[0]
		in = in[len(string(r)):]
		s.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// text is the screen without styles, with the caller's name and the
// store's real clock masked.
var clock = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}`)

func (s *screen) text() string {
	return s.mask(ansi.Strip(s.m.View().Content))
}

func (s *screen) mask(out string) string {
	out = strings.ReplaceAll(out, s.m.me, "<jag>")
	return clock.ReplaceAllString(out, "ÅÅÅÅ-MM-DD tt:mm")
}

func (s *screen) contains(want ...string) {
	s.t.Helper()
	got := s.text()
	for _, w := range want {
		if !strings.Contains(got, w) {
			s.t.Errorf("the screen lacks %q:\n%s", w, got)
		}
	}
}

func (s *screen) golden(name string) {
	s.t.Helper()
	raw := ansi.Strip(s.m.View().Content)
	got := s.mask(raw)
	lines := strings.Split(raw, "\n")
	if len(lines) != s.m.height {
		s.t.Errorf("%s: %d lines, want the window's %d", name, len(lines), s.m.height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > s.m.width {
			s.t.Errorf("%s: line %d is %d wide, more than the window's %d: %q", name, i+1, w, s.m.width, l)
		}
	}
	path := filepath.Join("testdata", "review", name+".golden")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		s.t.Fatalf("%v (run go test -run TestReviewScreens -update to write it)", err)
	}
	if got != string(want) {
		s.t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func (s *screen) request(id string) staffapi.Request {
	s.t.Helper()
	d, err := staffapi.ShowRequest.Do(context.Background(), s.m.staff, staffapi.RequestID{ID: id})
	if err != nil {
		s.t.Fatal(err)
	}
	return d.Request
}

// TestReviewScreens compares whole screens at 80×24 and 120×40 with golden
// files: the list, the other tabs, a search, the detail pane, the reject
// reasons and the help page.
func TestReviewScreens(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			s := newScreen(t, "direct", size.w, size.h)
			name := func(n string) string { return fmt.Sprintf("%s-%dx%d", n, size.w, size.h) }
			s.golden(name("list"))
			s.keys("c{esc}") // claim Åsa's, the oldest (it opens), back
			s.keys("{tab}")
			s.golden(name("mine"))
			s.keys("{tab}{tab}")
			s.golden(name("closed-empty"))
			s.keys("{tab}/persson{enter}")
			s.golden(name("search"))
			s.keys("{esc}{up}{up}{up}{up}{down}{enter}") // Åsa's ändring
			s.golden(name("detail"))
			s.keys("r")
			s.golden(name("reasons"))
			s.keys("{esc}{esc}?")
			s.golden(name("help"))
		})
	}
}

// TestReviewKeys drives each key against a real store, with and without a
// daemon, and checks what it changed.
func TestReviewKeys(t *testing.T) {
	for _, mode := range []string{"direct", "daemon"} {
		t.Run(mode, func(t *testing.T) {
			s := newScreen(t, mode, 80, 24)
			asa, anna, asaAndring, per := s.ids[0], s.ids[1], s.ids[2], s.ids[3]
			s.contains("Att göra (5)", asa, "14 d !", "6 d !", "4 d", "ändring", "avslut")

			// c claims the request under the cursor.
			s.keys("c")
			if r := s.request(asa); r.Status != staffapi.StatusClaimed || r.ClaimedBy != s.m.me {
				t.Fatalf("after c: %s is %s by %q", asa, r.Status, r.ClaimedBy)
			}
			s.contains(asa+" är nu din.", "Uppgifter om användaren") // it opened
			s.keys("{esc}")
			s.contains("Att göra (4)")

			// d asks for the user name and a note, then closes it: the
			// Klar notices are in the outbox.
			s.keys("{tab}") // Mina
			s.contains("Mina (1)", asa)
			s.keys("d")
			s.contains("Användarnamn i webSesam för " + asa)
			s.keys("{enter}")
			s.contains("Skriv användarnamnet i webSesam")
			s.keys("asaobe01{enter}")
			s.contains("Anteckning (frivillig")
			s.keys("konto skapat{enter}")
			r := s.request(asa)
			if r.Status != staffapi.StatusDone || r.Username != "asaobe01" {
				t.Fatalf("after d: %s is %s with user name %q", asa, r.Status, r.Username)
			}
			if n := len(r.History); r.History[n-1].Note != "konto skapat" || r.History[n-1].Actor != s.m.me {
				t.Errorf("after d: last step %+v, want the note and my name", r.History[n-1])
			}
			s.contains(asa+" är klar (asaobe01). Användaren och chefen får besked.", "Mina (0)")
			d, err := staffapi.ShowRequest.Do(context.Background(), s.m.staff, staffapi.RequestID{ID: asa})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, o := range d.Replies {
				kinds = append(kinds, o.Kind)
			}
			if got := strings.Join(kinds, ","); !strings.Contains(got, "klar-anvandare") || !strings.Contains(got, "klar-chef") {
				t.Errorf("after d: notices %s, want klar-anvandare and klar-chef", got)
			}

			// d straight on a queued request claims it first; esc cancels
			// and changes nothing.
			s.keys("{shift+tab}") // Att göra: Anna, Åsa ändring, Per, Per avslut
			s.keys("d{esc}")
			s.contains("Avbrutet; inget ändrades.")
			if r := s.request(anna); r.Status != staffapi.StatusQueued {
				t.Errorf("after d esc: %s is %s, want queued", anna, r.Status)
			}

			// r offers the common reasons; 2 rejects with the second.
			s.keys("r")
			s.contains("Avslå "+anna, "1  "+rejectReasons[0], "5  Skriv en egen orsak")
			s.keys("2")
			if r := s.request(anna); r.Status != staffapi.StatusRejected || r.Reason != rejectReasons[1] {
				t.Fatalf("after r 2: %s is %s (%q)", anna, r.Status, r.Reason)
			}
			s.contains(anna + " är avslagen. Chefen får besked med orsaken.")

			// r 5 takes a written reason.
			s.keys("r5{enter}")
			s.contains("Skriv orsaken")
			s.keys("Fel blankett{enter}")
			if r := s.request(asaAndring); r.Status != staffapi.StatusRejected || r.Reason != "Fel blankett" {
				t.Fatalf("after r 5: %s is %s (%q)", asaAndring, r.Status, r.Reason)
			}

			// u releases only my own claim.
			s.keys("u")
			s.contains("Du kan bara släppa ansökningar som är dina.")
			s.keys("c")
			s.contains(per, "tagen av")
			s.keys("u")
			if r := s.request(per); r.Status != staffapi.StatusQueued {
				t.Errorf("after c u: %s is %s, want queued again", per, r.Status)
			}
			s.contains(per + " är släppt och ligger i kön igen.")

			// enter opens the detail pane; esc goes back; q quits.
			s.keys("{esc}{up}{enter}")
			s.contains(per, "Uppgifter om användaren", "Förnamn", "Per", "Rad 1–21 av")
			whole := ansi.Strip(s.m.detailText()) // the pane scrolls: all of it
			wantContains(t, "the detail pane", whole, "Historik", "mottagen  intake", "tagen", "Mejlet", "per.persson@region.example.se",
				"Samma person, andra ansökningar", s.ids[4], "I registret nu", "Inget: personen finns inte i registret.")
			s.keys("{space}")
			s.contains("Rad 22–")
			s.keys("{esc}")
			s.contains("Att göra (2)")
			s.send(tea.KeyPressMsg{Code: 'q', Text: "q"})
			if !s.m.quit {
				t.Error("q did not quit")
			}
		})
	}
}

// TestReviewConflicts changes requests behind the screen's back (another
// person, through the daemon's store) and checks that the screen says what
// happened instead of failing.
func TestReviewConflicts(t *testing.T) {
	s := newScreen(t, "daemon", 80, 24)
	st := s.env.st
	asa, anna, asaAndring := s.ids[0], s.ids[1], s.ids[2]
	// boClaims claims id as Bo, another person, behind the screen's back.
	boClaims := func(id string) {
		t.Helper()
		if _, err := st.Claim(id, "bo.ek", false); err != nil {
			t.Fatal(err)
		}
	}
	// holder checks who holds id after a step; failure says what went wrong.
	holder := func(id, want, failure string) {
		t.Helper()
		if r := s.request(id); r.ClaimedBy != want {
			t.Fatalf("%s (holder %q)", failure, r.ClaimedBy)
		}
	}

	// Bo claims Åsa's request after the list was loaded; c says so.
	boClaims(asa)
	s.keys("c")
	s.contains(asa + " togs just av bo.ek. Tryck c för att ta över den.")
	holder(asa, "bo.ek", "the failed claim changed the holder")
	// The list was refreshed: Åsa's is no longer to do. Under Alla, c asks
	// to take it over, n leaves it and j takes it.
	s.contains("Att göra (4)")
	s.keys("{tab}{tab}c")
	s.contains(asa + " är hos bo.ek. Ta över den? (j/n)")
	s.keys("n")
	s.contains(asa + " lämnades hos den som har den.")
	holder(asa, "bo.ek", "n took it over")
	s.keys("cj")
	holder(asa, s.m.me, "j did not take it over")

	// Bo closes Anna's request while the screen asks for the user name.
	s.keys("{esc}{shift+tab}{shift+tab}{up}{up}d")
	s.contains("Användarnamn i webSesam för " + anna)
	boClaims(anna)
	if _, err := st.Complete(anna, "bo.ek", "annsve01", "", func(store.Request) ([]store.OutboxRow, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	s.keys("annsve99{enter}{enter}")
	s.contains(anna + " blev just klar (av bo.ek).")
	if r := s.request(anna); r.Username != "annsve01" {
		t.Fatalf("the screen overwrote Bo's user name: %q", r.Username)
	}

	// A request that disappears from Att göra while open: the detail pane
	// follows the refresh and shows the new holder.
	s.keys("{up}{up}{up}{enter}")
	s.contains(asaAndring, "i kö")
	boClaims(asaAndring)
	s.send(tickMsg{})
	s.contains("tagen av bo.ek")
}

// TestReviewSave: s saves the original form of the request under the
// cursor into the directory given, readable by the person only, says
// where, and refuses to overwrite; a request without a kept original says
// so in Swedish.
func TestReviewSave(t *testing.T) {
	s := newScreen(t, "daemon", 80, 24)
	dir := t.TempDir()
	s.m.saveDir = dir
	s.keys("s")
	s.contains("Spara blanketten i mapp eller fil: " + dir)
	s.keys("{enter}")
	want := filepath.Join(dir, s.ids[0]+"-Ansökan webSesam.pdf")
	s.contains("Blanketten är sparad i " + want[:40])
	got, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(reviewFormBytes) {
		t.Errorf("saved %q, want the original %q", got, reviewFormBytes)
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("saved file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	s.keys("s{enter}")
	s.contains("Filen finns redan. Spara igen med s och välj ett annat namn.")
	s.keys("{down}s{enter}")
	s.contains("Originalblanketten finns inte kvar")
}

// TestQueueForm saves the original form from the command line, refuses to
// overwrite, and says what to do when the original is not kept.
func TestQueueForm(t *testing.T) {
	db, ids := reviewFixture(t)
	newStaffEnv(t, "direct", db)
	dir := t.TempDir()
	out := mustRun(t, "queue", "form", ids[0], "--out", dir)
	want := filepath.Join(dir, ids[0]+"-Ansökan webSesam.pdf")
	if got := strings.TrimSpace(out); got != "Saved the form of "+ids[0]+" as "+want {
		t.Errorf("queue form: %q", got)
	}
	if b, err := os.ReadFile(want); err != nil || string(b) != string(reviewFormBytes) {
		t.Errorf("saved %q (%v), want the original", b, err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"queue", "form", ids[0], "--out", want}, 1, "already exists; give another name with --out"},
		{[]string{"queue", "form", ids[1], "--out", dir}, 1, "the original form of request " + ids[1] + " is not kept"},
		{[]string{"queue", "form"}, 2, "form takes 1 argument(s), got 0"},
	} {
		_, stderr, code := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
