package intake

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// variant gives a fixture a new Message-ID (and so a new identity), keeping
// its form bytes.
func variant(raw []byte, oldID, newID string) []byte {
	return bytes.Replace(raw, []byte("<"+oldID+">"), []byte("<"+newID+">"), 1)
}

// waitFor polls cond until it holds or the time runs out (crash_test.go
// calls it by this name).
var waitFor = mailtest.Wait

// checkExactlyOnce asserts that every id is in exactly one folder, outside
// INBOX, recorded and settled, with at most one reply each.
func checkExactlyOnce(t testing.TB, srv *imapServer, st *store.Store, sk *sink, ids []string, wantReplies int) {
	t.Helper()
	where := srv.where()
	recs := recorded(t, st)
	replies := map[string]int{}
	for _, m := range sk.received() {
		replies[strings.Trim(m.msg.Header.Get("In-Reply-To"), "<> ")]++
	}
	for _, id := range ids {
		if p := where[id]; len(p) != 1 || p[0].Folder == "INBOX" {
			t.Errorf("%s: in %v, want exactly one outcome folder", id, p)
		}
		if m, ok := recs[id]; !ok || !m.Settled {
			t.Errorf("%s: recorded %v settled %v, want both", id, ok, m.Settled)
		}
		if replies[id] != wantReplies {
			t.Errorf("%s: %d replies, want %d", id, replies[id], wantReplies)
		}
	}
}

// TestReconnect drops the connection in the middle of a body download and
// of a move, and stops and restarts the server, while the daemon runs:
// every message ends in one folder with one reply, none lost or doubled.
func TestReconnect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		withMove bool
		trigger  string // the command the proxy cuts the connection on
		after    bool   // the server executes it, the answer is lost
	}{
		{"mid-fetch", true, "BODY.PEEK[]", false},
		{"mid-move-unsent", true, "UID MOVE", false},
		{"mid-move-answer-lost", true, "UID MOVE", true},
		{"mid-copy-unsent", false, "UID COPY", false},
		{"mid-copy-answer-lost", false, "UID COPY", true},
		{"mid-expunge-answer-lost", false, "UID EXPUNGE", true},
		{"mid-flag-deleted-answer-lost", false, "+FLAGS.SILENT (\\Deleted)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, sk, cfg := startMail(t, tc.withMove)
			base := readMail(t, "no-attachment")
			oldID := messageID(t, base)
			var ids []string
			for i := range 6 {
				id := fmt.Sprintf("reconnect-%d@region.example.se", i)
				ids = append(ids, id)
				srv.appendMail(variant(base, oldID, id))
			}
			srv.CutWhen(tc.trigger, tc.after)
			d, st := openDaemon(t, cfg, Options{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			waitFor(t, "every message settled", 30*time.Second, func() bool {
				keys, err := st.Unsettled("INBOX")
				recs := recorded(t, st)
				return err == nil && len(keys) == 0 && len(recs) == len(ids) && len(sk.received()) == len(ids)
			})
			if got := srv.Counts().Cuts; got != 1 {
				t.Fatalf("connection cuts: got %d, want 1 (the trigger %q never came)", got, tc.trigger)
			}

			// Stop the server, add mail while it is down, bring it back.
			srv.stop()
			for i := 6; i < 9; i++ {
				id := fmt.Sprintf("reconnect-%d@region.example.se", i)
				ids = append(ids, id)
				srv.appendMailDirect(variant(base, oldID, id))
			}
			refused := srv.Counts().Refused
			srv.WaitFor(t, "the daemon to find the server down", 30*time.Second, func(n mailtest.ProxyCounts) bool { return n.Refused > refused })
			srv.start()
			waitFor(t, "the mail sent while the server was down", 30*time.Second, func() bool {
				keys, err := st.Unsettled("INBOX")
				return err == nil && len(keys) == 0 && len(recorded(t, st)) == len(ids) && len(sk.received()) == len(ids)
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkExactlyOnce(t, srv, st, sk, ids, 1)
		})
	}
}

// TestAuthFailureLoggedOnce: a wrong password is retried with a growing
// delay and logged once per streak, and the daemon recovers when the
// password is fixed.
func TestAuthFailureLoggedOnce(t *testing.T) {
	srv := startIMAP(t, true)
	sk := startSink(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir, srv.addr, sk.addr)
	if err := writeFile(cfg.Mailbox.PasswordFile, "fel lösenord\n"); err != nil {
		t.Fatal(err)
	}
	var logs mailtest.Buffer
	d, st := openDaemon(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv.appendMail(readMail(t, "outlook-pdf"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	// Four connections: the first three logins were refused (the daemon
	// dials again only after a refusal and its back-off).
	srv.WaitFor(t, "several refused logins", 30*time.Second, func(n mailtest.ProxyCounts) bool { return n.Accepted >= 4 })
	if got := strings.Count(logs.String(), `msg="imap login refused`); got != 1 {
		t.Errorf("refusal logged %d times, want once per streak:\n%s", got, logs.String())
	}
	if secret := testPassword; strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "fel lösenord") {
		t.Errorf("a password appears in the log")
	}
	if err := writeFile(cfg.Mailbox.PasswordFile, testPassword+"\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message handled after the password was fixed", 10*time.Second, func() bool {
		return len(recorded(t, st)) == 1
	})
	cancel()
	<-done
	if !strings.Contains(logs.String(), "imap login accepted again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// TestNonMatchingUntouched: mail without the keyword keeps its exact flags
// (unread stays unread, flagged stays flagged), stays in INBOX and is not
// recorded; the watcher still never looks at it again.
func TestNonMatchingUntouched(t *testing.T) {
	srv, sk, cfg := startMail(t, true)
	base := readMail(t, "not-matching")
	oldID := messageID(t, base)
	flagSets := [][]imap.Flag{nil, {imap.FlagFlagged}, {imap.FlagSeen, imap.FlagAnswered}}
	c := srv.client()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i, flags := range flagSets {
		raw := variant(base, oldID, fmt.Sprintf("other-%d@region.example.se", i))
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: flags})
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	before := srv.where()
	d, st := openDaemon(t, cfg, Options{})
	for range 2 {
		if err := d.Once(withTimeout(t, time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	after := srv.where()
	for i := range flagSets {
		id := fmt.Sprintf("other-%d@region.example.se", i)
		if got, want := fmt.Sprint(after[id]), fmt.Sprint(before[id]); got != want {
			t.Errorf("%s: got %s, want unchanged %s", id, got, want)
		}
	}
	if got := len(recorded(t, st)); got != 0 {
		t.Errorf("recorded %d messages, want 0", got)
	}
	sel := srv.selectData(t)
	high, err := st.HighestUID("INBOX", sel.UIDValidity)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := high, uint32(len(flagSets)); got != want {
		t.Errorf("highest UID handled: got %d, want %d (skipped mail is not looked at again)", got, want)
	}
	if n := len(sk.received()); n != 0 {
		t.Errorf("replies: got %d, want 0", n)
	}
}

func (s *imapServer) selectData(t testing.TB) *imap.SelectData {
	t.Helper()
	c := s.client()
	defer c.Close()
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// TestUIDValidityChange: a message recorded but not yet moved when the
// server renumbers INBOX (a new UIDVALIDITY) comes back under a new UID and
// is recognised by its Message-ID: moved once, never answered or queued
// again; new mail after the change is handled as usual.
func TestUIDValidityChange(t *testing.T) {
	srv, sk, cfg := startMail(t, true)
	a := readMail(t, "outlook-pdf")
	srv.appendMail(a)
	srv.CutWhen("UID MOVE", false)
	d, st := openDaemon(t, cfg, Options{})
	if err := d.Once(withTimeout(t, time.Minute)); err == nil {
		t.Fatalf("Once: got nil, want the error of the cut connection")
	}
	if keys, err := st.Unsettled("INBOX"); err != nil || len(keys) != 1 {
		t.Fatalf("unsettled after the cut: got %v %v, want the one message", keys, err)
	}
	old := srv.selectData(t).UIDValidity

	// The server rebuilds INBOX: same mail, new UIDVALIDITY, new UIDs.
	if err := srv.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := srv.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	srv.appendMailDirect(readMail(t, "no-attachment"))
	srv.appendMailDirect(a)
	if now := srv.selectData(t).UIDValidity; now == old {
		t.Fatalf("UIDVALIDITY did not change (%d)", now)
	}
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatalf("Once after the change: %v", err)
	}
	ids := []string{messageID(t, a), messageID(t, readMail(t, "no-attachment"))}
	checkExactlyOnce(t, srv, st, sk, ids, 1)
	page, err := st.ListRequests("test", store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(page.Requests); got != 1 {
		t.Errorf("requests: got %d, want 1 (the form queued once)", got)
	}
	if keys, err := st.Unsettled("INBOX"); err != nil || len(keys) != 0 {
		t.Errorf("unsettled at the end: got %v %v, want none", keys, err)
	}
}

// TestBacklogSince: with backlog = since, matching mail received before the
// date is left exactly as it was; mail from that day on is handled.
func TestBacklogSince(t *testing.T) {
	srv, _, cfg := startMail(t, true)
	cfg.Policy.Backlog, cfg.Policy.BacklogSince = BacklogSince, "2026-11-20"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	old, recent := readMail(t, "outlook-pdf"), readMail(t, "no-attachment")
	srv.appendMailAt(old, time.Date(2026, 11, 19, 23, 0, 0, 0, time.Local))
	srv.appendMailAt(recent, time.Date(2026, 11, 20, 8, 0, 0, 0, time.Local))
	d, st := openDaemon(t, cfg, Options{})
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	where := srv.where()
	if got := where[messageID(t, old)]; len(got) != 1 || got[0].Folder != "INBOX" || len(got[0].Flags) != 0 {
		t.Errorf("old mail: got %v, want untouched in INBOX", got)
	}
	if got := where[messageID(t, recent)]; len(got) != 1 || got[0].Folder != "webSesam/No-form" {
		t.Errorf("recent mail: got %v, want webSesam/No-form", got)
	}
	if got := len(recorded(t, st)); got != 1 {
		t.Errorf("recorded: got %d, want 1", got)
	}
}

// TestOversizedNotDownloaded: a message over the size limit, or with a
// part whose encoded size is certainly over the attachment limit, is
// quarantined from its envelope and structure alone; its body is never
// fetched.
func TestOversizedNotDownloaded(t *testing.T) {
	for _, c := range []struct {
		name       string
		maxMessage int64
		reason     string
	}{
		{"message", 100 << 10, reasonMessageSize},
		{"attachment", DefaultMaxMessageSize, reasonFileSize},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, sk, cfg := startMail(t, true)
			cfg.Policy.MaxMessageSize = c.maxMessage
			srv.appendMail(readMail(t, "oversized-attachment"))
			srv.CutWhen("BODY.PEEK[]", false) // any download would cut the connection
			d, st := openDaemon(t, cfg, Options{})
			if err := d.Once(withTimeout(t, time.Minute)); err != nil {
				t.Fatalf("Once: %v", err)
			}
			if n := srv.Counts().Cuts; n != 0 {
				t.Errorf("the body was fetched %d time(s), want never", n)
			}
			recs := recorded(t, st)
			m := recs[messageID(t, readMail(t, "oversized-attachment"))]
			if m.Outcome != store.OutcomeQuarantined || m.Reason != c.reason || !m.Settled {
				t.Errorf("got %s (%s) settled %v, want quarantined (%s) and settled", m.Outcome, m.Reason, m.Settled, c.reason)
			}
			if n := len(sk.received()); n != 0 {
				t.Errorf("replies: got %d, want 0", n)
			}
		})
	}
}

// TestFolderNames: configured folders with Swedish letters and levels are
// created as needed (modified UTF-7 on the wire) and used.
func TestFolderNames(t *testing.T) {
	srv, _, cfg := startMail(t, true)
	cfg.Folders.NoForm = "Ärenden/webSesam/Utan blankett – åter"
	srv.appendMail(readMail(t, "no-attachment"))
	d, _ := openDaemon(t, cfg, Options{})
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := srv.where()[messageID(t, readMail(t, "no-attachment"))]
	if len(got) != 1 || got[0].Folder != cfg.Folders.NoForm {
		t.Errorf("got %v, want only in %q", got, cfg.Folders.NoForm)
	}
}

// TestRefusedMoveRetried: a move the server refuses (the folder deleted
// under the daemon: NO [TRYCREATE]) leaves the message recorded and
// unsettled; a later pass moves it, and it is decided and answered once.
func TestRefusedMoveRetried(t *testing.T) {
	srv, sk, cfg := startMail(t, true)
	cfg.Mailbox.PollInterval = 200 * time.Millisecond
	srv.appendMail(readMail(t, "no-attachment"))
	srv.beforeCommand("UID MOVE", func() {
		if err := srv.user.Delete("webSesam/No-form"); err != nil {
			t.Errorf("delete the folder: %v", err)
		}
	})
	var logs mailtest.Buffer
	d, st := openDaemon(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	waitFor(t, "the move refused", 10*time.Second, func() bool { return strings.Contains(logs.String(), "move refused by the server") })
	waitFor(t, "the message settled on a later pass", 10*time.Second, func() bool {
		keys, err := st.Unsettled("INBOX")
		return err == nil && len(keys) == 0
	})
	cancel()
	<-done
	id := messageID(t, readMail(t, "no-attachment"))
	checkExactlyOnce(t, srv, st, sk, []string{id}, 1)
	if got := strings.Count(logs.String(), `msg="message decided"`); got != 1 {
		t.Errorf("decided %d times, want once:\n%s", got, logs.String())
	}
}

// TestPollingWithoutIdle: against a server without IDLE the daemon polls,
// and new mail is handled within the poll interval.
func TestPollingWithoutIdle(t *testing.T) {
	srv, _, cfg := startMail(t, true)
	cfg.Mailbox.PollInterval = 200 * time.Millisecond
	d, st := openDaemon(t, cfg, Options{})
	d.withoutCaps = []imap.Cap{imap.CapIdle}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	srv.WaitFor(t, "the daemon connected", 10*time.Second, func(n mailtest.ProxyCounts) bool { return n.Accepted > 0 })
	srv.appendMail(readMail(t, "no-attachment"))
	waitFor(t, "the message handled by a poll", 10*time.Second, func() bool {
		keys, err := st.Unsettled("INBOX")
		return err == nil && len(keys) == 0 && len(recorded(t, st)) == 1
	})
	cancel()
	<-done
	if n := srv.Counts().Idles; n != 0 {
		t.Errorf("IDLE started %d times against a server without it", n)
	}
}
