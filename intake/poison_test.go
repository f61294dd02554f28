package intake

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/fence"
	"github.com/regionhmc/websesam-intake/store"
)

// errRefused stands for the database refusing a write of one message.
var errRefused = errors.New("injected: the database refused a write of this message")

// A store failure for one message of a chunk quarantines that message alone,
// with its reason, and the rest of the chunk is queued and answered: the
// mailbox moves on in the same pass.
func TestPoisonMessageQuarantinedAlone(t *testing.T) {
	srv, sk, cfg := startMail(t, true)
	d, st := openDaemon(t, cfg, Options{Logger: discardLogger()})
	var ids []string
	for i, name := range [][2]string{{"Åsa", "Öberg"}, {"Bo", "Ek"}, {"Cia", "Lund"}} {
		id := fmt.Sprintf("poison-%d@region.example.se", i+1)
		ids = append(ids, id)
		pdf := fillPDF(t, formparse.Single, person(name[0], name[1]))
		srv.appendMail([]byte(outlook("asa.oberg@"+testDomain, "Åsa Öberg", id, "webSesam ansökan", "", attached{"ansokan.pdf", "application/pdf", pdf})))
	}
	// The second message's recording fails inside the store's transaction,
	// every time it is tried as decided.
	d.storeFault = func(k store.MessageKey) error {
		if k.UID == 2 {
			return errRefused
		}
		return nil
	}
	if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
		t.Fatalf("a pass with one poisoned message: %v, want it to finish", err)
	}
	wantSettled(t, srv, st, ids, []settledAs{
		{store.OutcomeQueued, reasonValid, cfg.Folders.Queued},
		{store.OutcomeQuarantined, reasonStoreRefused, cfg.Folders.Quarantined},
		{store.OutcomeQueued, reasonValid, cfg.Folders.Queued},
	})
	page, err := st.ListRequests("test", store.ListFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(page.Requests), 2; got != want {
		t.Errorf("requests: %d, want %d (none for the quarantined message)", got, want)
	}
	if got, want := len(sk.received()), 2; got != want {
		t.Errorf("replies sent: %d, want %d (the two receipts)", got, want)
	}
}

// errDiskFull stands for the database failing a whole transaction.
var errDiskFull = errors.New("injected: no space left on the database's disk")

// A message in hand when maxFailedPasses passes in a row failed to record
// its chunk is quarantined alone on the next, and a message that arrived
// later (fewer failed passes) is recorded as decided in the same chunk.
// The passes fail for real: the whole store transaction is refused, so
// each pass returns the error and leaves the mailbox as it was.
func TestFailedPassesQuarantine(t *testing.T) {
	srv, _, cfg := startMail(t, true)
	d, st := openDaemon(t, cfg, Options{Logger: discardLogger()})
	var ids []string
	add := func(first, last string) {
		id := fmt.Sprintf("passes-%d@region.example.se", len(ids)+1)
		ids = append(ids, id)
		pdf := fillPDF(t, formparse.Single, person(first, last))
		srv.appendMail([]byte(outlook("asa.oberg@"+testDomain, "Åsa Öberg", id, "webSesam ansökan", "", attached{"ansokan.pdf", "application/pdf", pdf})))
	}
	failing := true
	d.recordFault = func() error {
		if failing {
			return errDiskFull
		}
		return nil
	}
	add("Åsa", "Öberg")
	for pass := 1; pass <= maxFailedPasses; pass++ {
		if pass == 2 {
			add("Bo", "Ek") // in hand for one pass fewer
		}
		err := d.Once(withTimeout(t, 2*time.Minute))
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("pass %d with the store failing: %v, want %v", pass, err, errDiskFull)
		}
		if got := recorded(t, st); len(got) != 0 {
			t.Fatalf("pass %d recorded %d messages although the store failed", pass, len(got))
		}
		for _, id := range ids {
			if w := srv.where()[id]; len(w) != 1 || w[0].Folder != "INBOX" {
				t.Fatalf("pass %d: %s in %v, want it left in INBOX", pass, id, w)
			}
		}
	}
	failing = false
	if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
		t.Fatalf("the pass after the store recovered: %v", err)
	}
	wantSettled(t, srv, st, ids, []settledAs{
		{store.OutcomeQuarantined, reasonFailedPasses, cfg.Folders.Quarantined},
		{store.OutcomeQueued, reasonValid, cfg.Folders.Queued},
	})
	if len(d.failedPasses) != 0 {
		t.Errorf("failed passes left after a recorded chunk: %v", d.failedPasses)
	}
}

// settledAs is how one message must end.
type settledAs struct {
	outcome store.Outcome
	reason  string
	folder  string
}

// wantSettled checks that ids[i] is recorded with want[i]'s outcome and
// reason, settled, and lies only in its folder.
func wantSettled(t *testing.T, srv *imapServer, st *store.Store, ids []string, want []settledAs) {
	t.Helper()
	got := recorded(t, st)
	where := srv.where()
	for i, want := range want {
		m, ok := got[ids[i]]
		if !ok {
			t.Errorf("%s: not recorded", ids[i])
			continue
		}
		if m.Outcome != want.outcome || m.Reason != want.reason || !m.Settled {
			t.Errorf("%s: %s (%q), settled %v; want %s (%q), settled", ids[i], m.Outcome, m.Reason, m.Settled, want.outcome, want.reason)
		}
		if w := where[ids[i]]; len(w) != 1 || w[0].Folder != want.folder {
			t.Errorf("%s: in %v, want only in %s", ids[i], w, want.folder)
		}
	}
}

// A form reader the host cannot start (here: its binary is not there, so
// exec fails for real) is the host's failure, not the mail's: the pass ends
// with the error before that message, which stays in INBOX unrecorded with
// what follows it, while what came before is decided. On the third pass in
// a row it is quarantined alone, so that a host that never starts a reader
// cannot stop the mailbox.
func TestFormReaderUnavailable(t *testing.T) {
	srv, sk, cfg := startMail(t, true)
	reader := &fence.Reader{Path: filepath.Join(t.TempDir(), "no-such-binary")}
	d, st := openDaemon(t, cfg, Options{Logger: discardLogger(), FormReader: reader})
	ids := []string{"reader-1@region.example.se", "reader-2@region.example.se", "reader-3@region.example.se"}
	question := func(id string) []byte {
		return []byte(outlook("asa.oberg@"+testDomain, "Åsa Öberg", id, "Fråga om webSesam", ""))
	}
	srv.appendMail(question(ids[0]))
	pdf := fillPDF(t, formparse.Single, person("Bo", "Ek"))
	srv.appendMail([]byte(outlook("asa.oberg@"+testDomain, "Åsa Öberg", ids[1], "webSesam ansökan", "", attached{"ansokan.pdf", "application/pdf", pdf})))
	srv.appendMail(question(ids[2]))

	for pass := 1; pass < maxFailedPasses; pass++ {
		err := d.Once(withTimeout(t, 2*time.Minute))
		if !errors.Is(err, fence.ErrUnavailable) {
			t.Fatalf("pass %d with no form reader: %v, want fence.ErrUnavailable", pass, err)
		}
		if want := "mail waits undecided: the form reader could not be started"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("pass %d: error %q, want it to start %q", pass, err, want)
		}
		got := recorded(t, st)
		if len(got) != 1 || got[ids[0]].Outcome != store.OutcomeNoForm {
			t.Fatalf("pass %d recorded %v, want only %s (no-form)", pass, got, ids[0])
		}
		// The pass ended as a wait, not as a failed session: what came
		// before is answered in the same run.
		if n := len(sk.received()); n != 1 {
			t.Errorf("pass %d: %d replies sent, want 1 (the question's)", pass, n)
		}
		for _, id := range ids[1:] {
			if w := srv.where()[id]; len(w) != 1 || w[0].Folder != "INBOX" {
				t.Fatalf("pass %d: %s in %v, want it left in INBOX", pass, id, w)
			}
		}
	}
	if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
		t.Fatalf("pass %d: %v, want the message quarantined and the pass finished", maxFailedPasses, err)
	}
	wantSettled(t, srv, st, ids, []settledAs{
		{store.OutcomeNoForm, reasonNoFiles, cfg.Folders.NoForm},
		{store.OutcomeQuarantined, reasonReaderDown, cfg.Folders.Quarantined},
		{store.OutcomeNoForm, reasonNoFiles, cfg.Folders.NoForm},
	})
	if len(d.readerPasses) != 0 {
		t.Errorf("failed passes left after the message was quarantined: %v", d.readerPasses)
	}
}

// Passes that ended for want of a form reader and a pass whose recording
// failed are counted apart: a message that met two of one and one of the
// other has not failed three passes for one reason, and is decided as
// usual once both work.
func TestReaderAndStoreFailuresCountApart(t *testing.T) {
	srv, _, cfg := startMail(t, true)
	reader := &fence.Reader{Path: filepath.Join(t.TempDir(), "no-such-binary")}
	d, st := openDaemon(t, cfg, Options{Logger: discardLogger(), FormReader: reader})
	const id = "mixed-1@region.example.se"
	pdf := fillPDF(t, formparse.Single, person("Bo", "Ek"))
	srv.appendMail([]byte(outlook("asa.oberg@"+testDomain, "Åsa Öberg", id, "webSesam ansökan", "", attached{"ansokan.pdf", "application/pdf", pdf})))
	for pass := 1; pass < maxFailedPasses; pass++ {
		if err := d.Once(withTimeout(t, 2*time.Minute)); !errors.Is(err, fence.ErrUnavailable) {
			t.Fatalf("pass %d with no form reader: %v, want fence.ErrUnavailable", pass, err)
		}
	}
	reader.Path = "" // this test binary, which serves as a worker (TestMain)
	d.recordFault = func() error { return errDiskFull }
	if err := d.Once(withTimeout(t, 2*time.Minute)); !errors.Is(err, errDiskFull) {
		t.Fatalf("pass with the store failing: %v, want %v", err, errDiskFull)
	}
	d.recordFault = nil
	if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
		t.Fatalf("pass with both working: %v", err)
	}
	wantSettled(t, srv, st, []string{id}, []settledAs{{store.OutcomeQueued, reasonValid, cfg.Folders.Queued}})
}
