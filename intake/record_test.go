package intake

import (
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// TestRecordChunk records one chunk of real decisions in one commit: the
// same form in two messages of the chunk gives one request and an "already
// received" for the second, and a message whose requests the store refuses
// is quarantined while the rest of the chunk is recorded as decided.
func TestRecordChunk(t *testing.T) {
	_, sk, cfg := startMail(t, true)
	logs := &mailtest.Buffer{}
	d, st := openDaemon(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})

	pdf := fillPDF(t, formparse.Single, person("Åsa", "Öberg"))
	other := fillPDF(t, formparse.Single, person("Bo", "Ek"))
	mails := []struct {
		uid imap.UID
		pdf []byte
	}{{1, pdf}, {2, other}, {3, pdf}}
	var envs []envelope
	decs := map[imap.UID]decision{}
	for _, m := range mails {
		id := "chunk-" + string(rune('0'+m.uid)) + "@region.example.se"
		raw := []byte(outlook("asa.oberg@"+testDomain, "Åsa Öberg", id, "webSesam", "", attached{"ansokan.pdf", "application/pdf", m.pdf}))
		e := envelope{UID: m.uid, Subject: "webSesam", MessageID: id, Date: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), Size: int64(len(raw))}
		dec := d.decideRaw(raw, e.MessageID, e.Subject)
		if got, want := dec.Outcome, store.OutcomeQueued; got != want {
			t.Fatalf("uid %d decided %s (%s), want %s", m.uid, got, dec.Reason, want)
		}
		envs = append(envs, e)
		decs[m.uid] = dec
	}
	// A type the store never takes (formparse would not let it through;
	// the store checks anyway).
	bad := decs[2]
	form := *bad.Forms[0].Form
	form.Fields = maps.Clone(form.Fields)
	form.Fields["arende"] = "flytt"
	bad.Forms = []foundForm{{File: bad.Forms[0].File, Form: &form, Hash: bad.Forms[0].Hash}}
	decs[2] = bad

	const uv = 77
	outcomes, err := d.recordChunk(uv, envs, decs)
	if err != nil {
		t.Fatalf("recordChunk: %v", err)
	}
	want := map[imap.UID]store.Outcome{1: store.OutcomeQueued, 2: store.OutcomeQuarantined, 3: store.OutcomeQueued}
	if !maps.Equal(outcomes, want) {
		t.Errorf("outcomes: got %v, want %v", outcomes, want)
	}
	key := func(uid uint32) store.MessageKey {
		return store.MessageKey{Mailbox: cfg.Mailbox.Folder, UIDValidity: uv, UID: uid}
	}
	first, err := st.ShowMessage("test", key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := newRequests(first), 1; got != want {
		t.Fatalf("first: new requests got %d, want %d", got, want)
	}
	third, err := st.ShowMessage("test", key(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Forms) != 1 || !third.Forms[0].Duplicate || third.Forms[0].Requests[0] != first.Forms[0].Requests[0] {
		t.Errorf("third: forms got %+v, want a duplicate of %v", third.Forms, first.Forms[0].Requests)
	}
	refused, err := st.ShowMessage("test", key(2))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refused.Reason, reasonUnrecordable; got != want {
		t.Errorf("refused: reason got %q, want %q", got, want)
	}
	page, err := st.ListRequests("test", store.ListFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(page.Requests), 1; got != want {
		t.Errorf("requests in the store: got %d, want %d", got, want)
	}
	unsettled, err := st.Unsettled(cfg.Mailbox.Folder)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(unsettled), 3; got != want {
		t.Errorf("unsettled after recording: got %d, want %d (moves come after the commit)", got, want)
	}
	// Both receipts went out once the worker ran: the second says the form
	// was already received.
	if err := d.worker.DrainOnce(withTimeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range sk.received() {
		got[strings.Trim(m.msg.Header.Get("In-Reply-To"), "<> ")] = textOf(t, m.raw)
	}
	if len(got) != 2 {
		t.Fatalf("replies: got %d, want 2 (receipts for uid 1 and 3)", len(got))
	}
	if text := got["chunk-3@region.example.se"]; !strings.Contains(text, "redan tagit emot") {
		t.Errorf("receipt of the same form again: want it to say already received, got:\n%s", text)
	}
	if text := got["chunk-1@region.example.se"]; strings.Contains(text, "redan tagit emot") {
		t.Errorf("receipt of the first: says already received:\n%s", text)
	}
	if !strings.Contains(logs.String(), "record the message as decided; quarantining it") || !strings.Contains(logs.String(), "uid=2") {
		t.Errorf("log: want the quarantine of uid 2 logged:\n%s", logs.String())
	}
}
