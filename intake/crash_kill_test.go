//go:build e2e

package intake

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/store"
)

// crashKind is what one message of the crash test is, and what it must
// become.
type crashKind struct {
	outcome store.Outcome
	folder  string
	reqs    int
	replies int
}

// TestCrashSafety kills a child serve process with SIGKILL 30 times while
// it drains 150 messages: the first kill after the first record, the others
// at a random moment after the child reached the server or after its first
// MOVE (which follows a record), whichever comes first. Then one child finishes:
// every message has exactly one outcome and is in exactly one folder,
// requests equal the valid forms, and no message is answered by two
// different replies. A reply whose SMTP transaction was cut by the kill goes
// out again with the same Message-ID (the outbox delivers at least once);
// those repeats are counted and logged, not hidden.
func TestCrashSafety(t *testing.T) {
	const messages, kills = 150, 30
	srv := startIMAP(t, true)
	sk := startSink(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir, srv.addr, sk.addr)
	path := writeConfig(t, dir, cfg)

	valid := fillPDF(t, formparse.Single, person("Åsa", "Öberg"))
	bad := person("Bo", "Ek")
	delete(bad, "chef_telefon")
	incomplete := fillPDF(t, formparse.Single, bad)
	ooo := readMail(t, "out-of-office")
	oooID := messageID(t, ooo)
	want := map[string]crashKind{}
	wantReqs, wantReplies := 0, 0
	for i := range messages {
		id := fmt.Sprintf("crash-%03d@region.example.se", i)
		from := fmt.Sprintf("user%03d@region.example.se", i)
		// Bytes after %%EOF make each PDF distinct (a new form, not a
		// duplicate) and are ignored by PDF readers.
		pad := []byte(fmt.Sprintf("\n%% variant %d\n", i))
		var raw []byte
		switch i % 6 {
		case 0, 1, 2:
			raw = []byte(outlook(from, "Test", id, "webSesam", "", attached{"ansokan.pdf", "application/pdf", append(bytes.Clone(valid), pad...)}))
			want[id] = crashKind{store.OutcomeQueued, "webSesam/Queued", 1, 1}
		case 3:
			raw = []byte(outlook(from, "Test", id, "Fråga om webSesam", ""))
			want[id] = crashKind{store.OutcomeNoForm, "webSesam/No-form", 0, 1}
		case 4:
			raw = []byte(outlook(from, "Test", id, "webSesam", "", attached{"ansokan.pdf", "application/pdf", append(bytes.Clone(incomplete), pad...)}))
			want[id] = crashKind{store.OutcomeReturned, "webSesam/Returned", 0, 1}
		case 5:
			raw = variant(ooo, oooID, id)
			want[id] = crashKind{store.OutcomeIgnored, "webSesam/Ignored", 0, 0}
		}
		wantReqs += want[id].reqs
		wantReplies += want[id].replies
		srv.appendMailDirect(raw)
	}

	child := func(once bool) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "INTAKE_TEST_CHILD="+path)
		if once {
			cmd.Env = append(cmd.Env, "INTAKE_TEST_ONCE=1")
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t.Cleanup(func() {
			if t.Failed() && stderr.Len() > 0 {
				t.Logf("child stderr:\n%s", stderr.String())
			}
		})
		return cmd
	}
	killedWithWork, killedAtMove := 0, 0
	// window is what the first child took from connecting to its first
	// MOVE: the random kills then land before and after a child's first
	// record alike, on a quiet machine or a loaded one, with the race
	// detector or without, and the drain lasts most of the kills.
	var window time.Duration
	for k := range kills {
		// A child's first MOVE comes after it recorded a chunk (or, after a
		// restart, settles what the last child recorded): the moment
		// between the store's commit and the mailbox's change.
		moving := make(chan struct{})
		srv.beforeCommand("MOVE", func() { close(moving) })
		cmd := child(false)
		conns := srv.acceptedCount()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the child to connect", time.Minute, func() bool { return srv.acceptedCount() > conns })
		connected := time.Now()
		// The first kill waits for the first record, so that the killed
		// children are known to have recorded something. The others land
		// at a random moment after the child reached the server, or at a
		// random moment after its first MOVE, whichever comes first: a kill
		// before any record is a valid run too (a crash at start).
		var at <-chan time.Time
		if k > 0 {
			at = time.After(rand.N(window))
		}
		select {
		case <-moving:
			killedAtMove++
			if k == 0 {
				window = max(time.Since(connected), 100*time.Millisecond)
			}
			// Right at the MOVE or later: a restarted child's first MOVE
			// settles what the last one left, so only a later kill lets
			// the drain go on.
			time.Sleep(rand.N(window / 4)) // a random kill moment: the thing under test, not synchronisation
		case <-at:
		case <-time.After(2 * time.Minute):
			t.Fatalf("kill %d: the child recorded nothing within 2 minutes", k)
		}
		if srv.inboxCount() > 0 {
			killedWithWork++
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: child ended by itself (%v) before the kill", k, err)
		}
		srv.beforeCommand("", nil)
	}
	before := 0
	if st, err := store.Open(cfg.Store.Path, store.Options{}); err == nil {
		before = len(recorded(t, st))
		st.Close()
	} else {
		t.Fatal(err)
	}
	if before == 0 {
		t.Fatalf("the killed children recorded nothing: the kills never hit work in progress")
	}
	// Let one child finish what is left, as after the last restart.
	for attempt := 0; ; attempt++ {
		if err := child(true).Run(); err != nil {
			t.Fatalf("final run: %v", err)
		}
		st, err := store.Open(cfg.Store.Path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		left, err := st.Unsettled("INBOX")
		n := len(recorded(t, st))
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if (len(left) == 0 && n == messages && distinctReplies(sk) == wantReplies) || attempt == 5 {
			break
		}
		// Pacing, not synchronisation: a reply the last kill cut short is
		// due again only after the outbox's retry delay.
		time.Sleep(200 * time.Millisecond)
	}

	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs := recorded(t, st)
	where := srv.where()
	byReply := map[string]map[string]int{} // original id -> reply Message-ID -> copies
	for _, m := range sk.received() {
		orig := strings.Trim(m.msg.Header.Get("In-Reply-To"), "<> ")
		if byReply[orig] == nil {
			byReply[orig] = map[string]int{}
		}
		byReply[orig][m.msg.Header.Get("Message-Id")]++
	}
	if got := len(recs); got != messages {
		t.Errorf("recorded messages: got %d, want %d", got, messages)
	}
	repeats := 0
	for id, k := range want {
		m, ok := recs[id]
		switch {
		case !ok:
			t.Errorf("%s: never recorded", id)
			continue
		case m.Outcome != k.outcome:
			t.Errorf("%s: outcome %s (%s), want %s", id, m.Outcome, m.Reason, k.outcome)
		case !m.Settled:
			t.Errorf("%s: not settled", id)
		}
		if p := where[id]; len(p) != 1 || p[0].Folder != k.folder {
			t.Errorf("%s: in %v, want only %s", id, p, k.folder)
		}
		if got := newRequests(m); got != k.reqs {
			t.Errorf("%s: %d requests, want %d", id, got, k.reqs)
		}
		if got := len(byReply[id]); got != k.replies {
			t.Errorf("%s: %d distinct replies, want %d", id, got, k.replies)
		}
		for _, copies := range byReply[id] {
			repeats += copies - 1
		}
	}
	page, err := st.ListRequests("test", store.ListFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(page.Requests); got != wantReqs {
		t.Errorf("requests: got %d, want %d (one per valid form)", got, wantReqs)
	}
	t.Logf("%d messages recorded by the killed children before the final run", before)
	t.Logf("%d of %d kills hit a child with mail still in INBOX, %d of them after its first MOVE; kill window %v", killedWithWork, kills, killedAtMove, window)
	t.Logf("%d kills; %d messages; %d requests; %d replies, of which %d were the same reply sent again after a kill mid-SMTP",
		kills, len(recs), len(page.Requests), len(sk.received()), repeats)
}

func distinctReplies(sk *sink) int {
	ids := map[string]bool{}
	for _, m := range sk.received() {
		ids[m.msg.Header.Get("Message-Id")] = true
	}
	return len(ids)
}

// inboxCount is how many messages wait in INBOX.
func (s *imapServer) inboxCount() uint32 {
	s.t.Helper()
	c := s.client()
	defer c.Close()
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		s.t.Fatal(err)
	}
	return sel.NumMessages
}

// acceptedCount is how many connections the proxy in front of the server
// has accepted.
func (s *imapServer) acceptedCount() int { return s.Counts().Accepted }
