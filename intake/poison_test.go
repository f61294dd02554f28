package intake

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/store"
)

// errRefused stands for the database refusing a write of one message.
var errRefused = errors.New("injected: the database refused a write of this message")

// A store failure for one message of a chunk quarantines that message alone,
// with its reason, and the rest of the chunk is queued and answered: the
// mailbox moves on in the same pass.
func TestPoisonMessageQuarantinedAlone(t *testing.T) {
	srv := startIMAP(t, true)
	sk := startSink(t)
	cfg := testConfig(t, t.TempDir(), srv.addr, sk.addr)
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
	got := recorded(t, st)
	for i, want := range []struct {
		outcome store.Outcome
		reason  string
		folder  string
	}{
		{store.OutcomeQueued, reasonValid, cfg.Folders.Queued},
		{store.OutcomeQuarantined, reasonStoreRefused, cfg.Folders.Quarantined},
		{store.OutcomeQueued, reasonValid, cfg.Folders.Queued},
	} {
		m, ok := got[ids[i]]
		if !ok {
			t.Errorf("%s: not recorded", ids[i])
			continue
		}
		if m.Outcome != want.outcome || m.Reason != want.reason || !m.Settled {
			t.Errorf("%s: %s (%q), settled %v; want %s (%q), settled", ids[i], m.Outcome, m.Reason, m.Settled, want.outcome, want.reason)
		}
		if w := srv.where()[ids[i]]; len(w) != 1 || w[0].Folder != want.folder {
			t.Errorf("%s: in %v, want only in %s", ids[i], w, want.folder)
		}
	}
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

// A message in hand when maxFailedPasses passes in a row failed to record
// its chunk is quarantined alone on the next, and the others of the chunk
// are recorded as decided.
func TestFailedPassesQuarantine(t *testing.T) {
	srv := startIMAP(t, true)
	sk := startSink(t)
	cfg := testConfig(t, t.TempDir(), srv.addr, sk.addr)
	d, st := openDaemon(t, cfg, Options{Logger: discardLogger()})
	var ids []string
	for i, name := range [][2]string{{"Åsa", "Öberg"}, {"Bo", "Ek"}} {
		id := fmt.Sprintf("passes-%d@region.example.se", i+1)
		ids = append(ids, id)
		pdf := fillPDF(t, formparse.Single, person(name[0], name[1]))
		srv.appendMail([]byte(outlook("asa.oberg@"+testDomain, "Åsa Öberg", id, "webSesam ansökan", "", attached{"ansokan.pdf", "application/pdf", pdf})))
	}
	uv := srv.selectData(t).UIDValidity
	d.failedPasses[store.MessageKey{Mailbox: cfg.Mailbox.Folder, UIDValidity: uv, UID: 1}] = maxFailedPasses
	d.failedPasses[store.MessageKey{Mailbox: cfg.Mailbox.Folder, UIDValidity: uv, UID: 2}] = maxFailedPasses - 1
	if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := recorded(t, st)
	if m := got[ids[0]]; m.Outcome != store.OutcomeQuarantined || m.Reason != reasonFailedPasses {
		t.Errorf("after %d failed passes: %s (%q), want quarantined (%q)", maxFailedPasses, m.Outcome, m.Reason, reasonFailedPasses)
	}
	if m := got[ids[1]]; m.Outcome != store.OutcomeQueued {
		t.Errorf("after %d failed passes: %s (%q), want queued", maxFailedPasses-1, m.Outcome, m.Reason)
	}
	if len(d.failedPasses) != 0 {
		t.Errorf("failed passes left after a recorded chunk: %v", d.failedPasses)
	}
}
