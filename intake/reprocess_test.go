package intake

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/fence"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// TestReprocess: a form from a domain not yet allowed is quarantined; the
// policy is fixed and the daemon restarted; staff mark the message; the
// daemon finds it in the quarantine folder, decides it again as queued,
// moves it to the queued folder and sends the receipt once, and the
// message's history shows the staff reprocess. A mark whose message is gone
// from the server stays pending, with a log line.
func TestReprocess(t *testing.T) {
	const partner = "partner.example.org"
	for _, withMove := range []bool{true, false} {
		name := "move"
		if !withMove {
			name = "copy-expunge"
		}
		t.Run(name, func(t *testing.T) {
			srv := startIMAP(t, withMove)
			sk := startSink(t)
			dir := t.TempDir()
			cfg := testConfig(t, dir, srv.addr, sk.addr)
			pdf := fillPDF(t, formparse.Single, person("Eva", "Ek"))
			const keptID, goneID = "reprocess-1@partner.example.org", "reprocess-2@partner.example.org"
			srv.appendMail([]byte(outlook("eva.ek@"+partner, "Eva Ek", keptID, "webSesam", "", attached{"ansokan.pdf", "application/pdf", pdf})))
			srv.appendMail([]byte(outlook("bo.al@"+partner, "Bo Al", goneID, "webSesam", "", attached{"ansokan.pdf", "application/pdf", pdf})))

			// First run: the partner domain is not allowed.
			st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			d, err := New(cfg, st, Options{Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Once(withTimeout(t, time.Minute)); err != nil {
				t.Fatalf("first Once: %v", err)
			}
			recs := recorded(t, st)
			for _, id := range []string{keptID, goneID} {
				if got, want := recs[id].Outcome, store.OutcomeQuarantined; got != want {
					t.Fatalf("%s first outcome: got %q (%s), want %q", id, got, recs[id].Reason, want)
				}
			}
			kept, gone := recs[keptID].Key, recs[goneID].Key
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if got := len(sk.received()); got != 0 {
				t.Fatalf("replies after quarantine: got %d, want 0", got)
			}

			// The second quarantined message is deleted from the server.
			deleteFrom(t, srv, cfg.Folders.Quarantined, goneID)

			// The policy is fixed and the daemon restarted.
			fixed := cfg
			fixed.Policy.AllowedSenderDomains = append(slices.Clone(cfg.Policy.AllowedSenderDomains), partner)
			fixed.Mailer.AllowedDomains = append(slices.Clone(cfg.Mailer.AllowedDomains), partner)
			if err := fixed.Validate(); err != nil {
				t.Fatal(err)
			}
			logs := &mailtest.Buffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			d, st = openDaemon(t, fixed, Options{Logger: log})
			for _, k := range []store.MessageKey{kept, gone} {
				if _, err := st.MarkReprocess("anna.staff", k, "partner domain allowed", false); err != nil {
					t.Fatalf("MarkReprocess %s: %v", k, err)
				}
			}
			for i := range 2 { // the second pass must change nothing
				if err := d.Once(withTimeout(t, time.Minute)); err != nil {
					t.Fatalf("Once %d after the marks: %v", i+1, err)
				}
			}
			t.Log(logs.String())

			t.Run("reprocessed", func(t *testing.T) {
				det, err := st.ShowMessageDetail("test", kept)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := det.Message.Outcome, store.OutcomeQueued; got != want {
					t.Errorf("outcome: got %q (%s), want %q", got, det.Message.Reason, want)
				}
				if got, want := newRequests(det.Message), 1; got != want {
					t.Errorf("new requests: got %d, want %d", got, want)
				}
				if det.Pending != nil {
					t.Errorf("mark: got %+v, want none left", det.Pending)
				}
				var events []string
				for _, e := range det.History {
					events = append(events, e.Event+" "+e.Actor+" "+string(e.From)+">"+string(e.To)+" "+e.Note)
				}
				want := []string{
					"reprocess-requested anna.staff quarantined> partner domain allowed",
					"reprocessed intake quarantined>queued asked by anna.staff",
				}
				if !slices.Equal(events, want) {
					t.Errorf("history:\n got %q\nwant %q", events, want)
				}
				places := srv.where()[keptID]
				if got, want := places, []placed{{Folder: cfg.Folders.Queued, Flags: []imap.Flag{imap.FlagSeen}}}; !slices.EqualFunc(got, want, func(a, b placed) bool {
					return a.Folder == b.Folder && slices.Equal(a.Flags, b.Flags)
				}) {
					t.Errorf("places: got %+v, want %+v", got, want)
				}
				var receipts int
				for _, m := range sk.received() {
					if strings.Trim(m.msg.Header.Get("In-Reply-To"), "<> ") == keptID {
						receipts++
						if got, want := m.to, []string{"eva.ek@" + partner}; !slices.Equal(got, want) {
							t.Errorf("receipt to: got %v, want %v", got, want)
						}
					}
				}
				if got, want := receipts, 1; got != want {
					t.Errorf("receipts: got %d, want %d", got, want)
				}
				if got, want := len(sk.received()), 1; got != want {
					t.Errorf("mails sent in all: got %d, want %d", got, want)
				}
				if !strings.Contains(logs.String(), `msg="message reprocessed"`) || !strings.Contains(logs.String(), "message_id="+keptID) {
					t.Errorf("log: want a 'message reprocessed' line with message_id=%s", keptID)
				}
			})

			t.Run("gone", func(t *testing.T) {
				pending, err := st.ReprocessPending()
				if err != nil {
					t.Fatal(err)
				}
				if got, want := len(pending), 1; got != want {
					t.Fatalf("pending marks: got %d, want %d", got, want)
				}
				if got, want := pending[0].Key, gone; got != want {
					t.Errorf("pending mark: got %s, want %s", got, want)
				}
				out, err := st.MessageOutcome(gone)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := out, store.OutcomeQuarantined; got != want {
					t.Errorf("outcome: got %q, want %q", got, want)
				}
				var lines []string
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, "message to reprocess not found") {
						lines = append(lines, l)
					}
				}
				// One line per pass: two passes.
				if got, want := len(lines), 2; got != want {
					t.Fatalf("not-found log lines: got %d, want %d:\n%s", got, want, logs.String())
				}
				for _, want := range []string{"level=WARN", "uid=" + strconv.FormatUint(uint64(gone.UID), 10), "message_id=" + goneID} {
					if !strings.Contains(lines[0], want) {
						t.Errorf("log line %q: want %q in it", lines[0], want)
					}
				}
				if strings.Contains(logs.String(), "bo.al@") || strings.Contains(logs.String(), "Eva Ek") {
					t.Errorf("log holds personal data:\n%s", logs.String())
				}
			})
		})
	}
}

// deleteFrom removes the message with this Message-ID from folder, as a
// person cleaning up the mailbox would.
func deleteFrom(t *testing.T, srv *imapServer, folder, messageID string) {
	t.Helper()
	c := srv.client()
	defer c.Close()
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatalf("select %s: %v", folder, err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: messageID}}}, nil).Wait()
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	uids := data.AllUIDs()
	if len(uids) != 1 {
		t.Fatalf("search %s in %s: got %d messages, want 1", messageID, folder, len(uids))
	}
	if err := c.Store(imap.UIDSetNum(uids...), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatalf("flag deleted: %v", err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatalf("expunge: %v", err)
	}
}

// TestReprocessMoveAfterCrash: the daemon committed a reprocessed message's
// new outcome and died before moving it (or, without MOVE, after copying
// it): the next pass repeats only the move, and the message ends in the new
// outcome's folder exactly once.
func TestReprocessMoveAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name     string
		withMove bool
		copied   bool // the copy was made before the crash
	}{
		{"move", true, false},
		{"copy-expunge before the copy", false, false},
		{"copy-expunge after the copy", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, cfg := startMail(t, tc.withMove)
			const id = "crash-1@partner.example.org"
			pdf := fillPDF(t, formparse.Single, person("Eva", "Ek"))
			srv.appendMail([]byte(outlook("eva.ek@partner.example.org", "Eva Ek", id, "webSesam", "", attached{"ansokan.pdf", "application/pdf", pdf})))
			logs := &mailtest.Buffer{}
			d, st := openDaemon(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err := d.Once(withTimeout(t, time.Minute)); err != nil {
				t.Fatal(err)
			}
			m := recorded(t, st)[id]
			if got, want := m.Outcome, store.OutcomeQuarantined; got != want {
				t.Fatalf("first outcome: got %q, want %q", got, want)
			}
			// What the daemon committed before it died.
			if _, err := st.MarkReprocess("anna.staff", m.Key, "", false); err != nil {
				t.Fatal(err)
			}
			if _, err := st.RecordReprocessed(store.Message{Key: m.Key, Outcome: store.OutcomeNoForm, Reason: reasonNoFiles}, nil, nil); err != nil {
				t.Fatal(err)
			}
			if tc.copied {
				copyTo(t, srv, cfg.Folders.Quarantined, cfg.Folders.NoForm, id)
			}
			for i := range 2 { // the second pass finds nothing to do
				if err := d.Once(withTimeout(t, time.Minute)); err != nil {
					t.Fatalf("Once %d after the crash: %v", i+1, err)
				}
			}
			places := srv.where()[id]
			if len(places) != 1 || places[0].Folder != cfg.Folders.NoForm {
				t.Errorf("places: got %+v, want exactly one, in %s", places, cfg.Folders.NoForm)
			}
			moves, err := st.ReprocessMoves()
			if err != nil {
				t.Fatal(err)
			}
			if len(moves) != 0 {
				t.Errorf("moves left: got %+v, want none", moves)
			}
			if got, want := strings.Count(logs.String(), "finishing the move of a reprocessed message"), 1; got != want {
				t.Errorf("finishing log lines: got %d, want %d:\n%s", got, want, logs.String())
			}
		})
	}
}

// copyTo copies the message with this Message-ID from one folder to
// another, creating it: the state a COPY leaves when the daemon dies
// before flagging and expunging the original.
func copyTo(t *testing.T, srv *imapServer, from, to, messageID string) {
	t.Helper()
	c := srv.client()
	defer c.Close()
	if err := c.Create(to, nil).Wait(); err != nil {
		t.Fatalf("create %s: %v", to, err)
	}
	if _, err := c.Select(from, nil).Wait(); err != nil {
		t.Fatalf("select %s: %v", from, err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: messageID}}}, nil).Wait()
	if err != nil || len(data.AllUIDs()) != 1 {
		t.Fatalf("search %s in %s: %v, %v", messageID, from, data, err)
	}
	if _, err := c.Copy(imap.UIDSetNum(data.AllUIDs()...), to).Wait(); err != nil {
		t.Fatalf("copy: %v", err)
	}
}

// TestReprocessSameOutcomeNoSpam: a no-form message reprocessed without a
// change (the sender still attached no form) sends no second, identical
// notice; asked with Notify (messages reprocess --notify), it does.
func TestReprocessSameOutcomeNoSpam(t *testing.T) {
	srv, sk, cfg := startMail(t, true)
	const id = "question-1@region.example.se"
	srv.appendMail([]byte(outlook("eva.ek@region.example.se", "Eva Ek", id, "webSesam", "")))
	d, st := openDaemon(t, cfg, Options{Logger: testLogger(t)})
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	key := recorded(t, st)[id].Key
	if got := recorded(t, st)[id].Outcome; got != store.OutcomeNoForm {
		t.Fatalf("first outcome %q, want no-form", got)
	}
	if got := len(sk.received()); got != 1 {
		t.Fatalf("notices after the first decision: %d, want 1", got)
	}
	for _, c := range []struct {
		notify bool
		want   int
	}{{false, 1}, {true, 2}} {
		if _, err := st.MarkReprocess("anna.staff", key, "", c.notify); err != nil {
			t.Fatal(err)
		}
		if err := d.Once(withTimeout(t, time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := recorded(t, st)[id].Outcome; got != store.OutcomeNoForm {
			t.Fatalf("outcome after reprocess: %q, want no-form", got)
		}
		if got := len(sk.received()); got != c.want {
			t.Errorf("notify=%v: notices sent in all %d, want %d", c.notify, got, c.want)
		}
	}
}

// A message staff asked to reprocess while the host cannot start a form
// reader keeps its mark and stays where it is, and the pass goes on to the
// new mail: the reader being down is the host's fault, and a reprocess must
// not stop the mailbox behind it (new mail has its own count of failed
// passes, TestFormReaderUnavailable). Once a reader starts again, the mark
// is carried out.
func TestReprocessFormReaderUnavailable(t *testing.T) {
	const partner = "partner.example.org"
	srv, _, cfg := startMail(t, true)
	const formID, questionID = "reprocess-down-1@partner.example.org", "reprocess-down-2@region.example.se"
	pdf := fillPDF(t, formparse.Single, person("Eva", "Ek"))
	srv.appendMail([]byte(outlook("eva.ek@"+partner, "Eva Ek", formID, "webSesam", "", attached{"ansokan.pdf", "application/pdf", pdf})))
	d, st := openDaemon(t, cfg, Options{Logger: testLogger(t)})
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatalf("first Once: %v", err)
	}
	first := recorded(t, st)[formID]
	if first.Outcome != store.OutcomeQuarantined {
		t.Fatalf("first outcome: got %q (%s), want quarantined (sender's domain not allowed)", first.Outcome, first.Reason)
	}
	if _, err := st.MarkReprocess("anna.staff", first.Key, "partner domain allowed", false); err != nil {
		t.Fatal(err)
	}
	srv.appendMail([]byte(outlook("bo.al@"+testDomain, "Bo Al", questionID, "Fråga om webSesam", "")))

	fixed := cfg
	fixed.Policy.AllowedSenderDomains = append(slices.Clone(cfg.Policy.AllowedSenderDomains), partner)
	fixed.Mailer.AllowedDomains = append(slices.Clone(cfg.Mailer.AllowedDomains), partner)
	down, err := New(fixed, st, Options{Logger: testLogger(t), SkipRetention: true,
		FormReader: &fence.Reader{Path: filepath.Join(t.TempDir(), "no-such-binary")}})
	if err != nil {
		t.Fatal(err)
	}
	for pass := 1; pass <= maxFailedPasses; pass++ {
		if err := down.Once(withTimeout(t, time.Minute)); err != nil {
			t.Fatalf("pass %d with no form reader: %v, want the pass finished past the reprocess", pass, err)
		}
	}
	wantSettled(t, srv, st, []string{formID, questionID}, []settledAs{
		{store.OutcomeQuarantined, first.Reason, cfg.Folders.Quarantined},
		{store.OutcomeNoForm, reasonNoFiles, cfg.Folders.NoForm},
	})
	det, err := st.ShowMessageDetail("test", first.Key)
	if err != nil {
		t.Fatal(err)
	}
	if det.Pending == nil {
		t.Fatalf("the mark went while no reader could start: want it kept")
	}

	up, err := New(fixed, st, Options{Logger: testLogger(t), SkipRetention: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatalf("Once with the reader back: %v", err)
	}
	wantSettled(t, srv, st, []string{formID}, []settledAs{{store.OutcomeQueued, reasonValid, cfg.Folders.Queued}})
	det, err = st.ShowMessageDetail("test", first.Key)
	if err != nil {
		t.Fatal(err)
	}
	if det.Pending != nil {
		t.Errorf("mark after the reader came back: got %+v, want it carried out", det.Pending)
	}
}
