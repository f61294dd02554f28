package store

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/store/storetest"
)

// openTest opens a fresh store in t.TempDir() with a fixed clock the test
// can move.
func openTest(t testing.TB) (*Store, *testClock) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "db", "intake.db"), Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	clk := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	s.now = clk.now
	return s, clk
}

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time                { return c.t }
func (c *testClock) add(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

// mustNoErr and userFields are storetest's, by the names this package's
// tests (crash_test.go among them) use.
var (
	mustNoErr  = storetest.NoErr
	userFields = storetest.UserFields
)

func testMessage(uid uint32, messageID string) Message {
	return Message{
		Key:       MessageKey{Mailbox: "INBOX", UIDValidity: 1700, UID: uid},
		MessageID: messageID, From: "anna@region.test", Subject: "webSesam ansökan",
		ReceivedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), Size: 1234, Outcome: OutcomeQueued,
	}
}

// receipt composes one receipt row per message listing the new request ids,
// the way the mailer does.
func receipt(rec Recorded) ([]OutboxRow, error) {
	var ids []string
	for _, f := range rec.Forms {
		ids = append(ids, f.Requests...)
	}
	row := OutboxRow{
		MessageID: "r-" + rec.Message.Key.String() + "@intake.test", Kind: "kvittens",
		InReplyTo: rec.Message.MessageID, From: "intake@region.test", To: []string{rec.Message.From},
		Subject: "Re: webSesam", Raw: []byte("ids: " + strings.Join(ids, ",")),
	}
	if len(rec.Requests) > 0 {
		row.Request = rec.Requests[0].ID
	}
	return []OutboxRow{row}, nil
}

// notice composes the done/rejected notice for a request.
func notice(kind string) func(Request) ([]OutboxRow, error) {
	return func(r Request) ([]OutboxRow, error) {
		return []OutboxRow{{
			MessageID: kind + "-" + r.ID + "@intake.test", Kind: kind, From: "intake@region.test",
			To: []string{r.Fields["epost"]}, Cc: []string{r.Fields["chef_epost"]}, Subject: "webSesam " + r.ID,
			Raw: []byte("request " + r.ID),
		}}, nil
	}
}

// record stores a one-form message and fails the test on error.
func record(t testing.TB, s *Store, msg Message, hash string, users ...map[string]string) Recorded {
	t.Helper()
	var reqs []NewRequest
	for _, f := range users {
		reqs = append(reqs, NewRequest{FormHash: hash, Form: "websesam-behorighet", Type: f["arende"], Fields: f})
	}
	rec, err := s.RecordOutcome(msg, reqs, receipt)
	if err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	return rec
}
