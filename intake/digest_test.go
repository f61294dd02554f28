package intake

import (
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// TestDigestOncePerDay: the digest goes into the outbox once on a working
// morning after [digest] at, never on a weekend, and a restarted daemon
// over the same store does not send that day's again.
func TestDigestOncePerDay(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, "127.0.0.1:1", "127.0.0.1:2")
	cfg.Digest.Recipients = []string{"hmc.websesam@" + testDomain}
	cfg.Digest.At = "07:30"
	loc := time.Local
	at := func(day string, hh, mm int) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, day, loc)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	clock := at("2026-11-25", 10, 0)
	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	// A request received on Wednesday 25 November, still queued: past the
	// promise of 5 working days by Monday 7 December (8 working days).
	rec, err := st.RecordOutcome(store.Message{Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 1, UID: 1}, MessageID: "d1@" + testDomain,
		From: "asa.oberg@" + testDomain, Subject: "webSesam", ReceivedAt: clock, Outcome: store.OutcomeQueued},
		[]store.NewRequest{{FormHash: "dh", Form: "websesam-behorighet", Type: "ny",
			Fields: map[string]string{"fornamn": "Åsa", "efternamn": "Öberg", "epost": "asa.oberg@" + testDomain, "kundnummer": "602154"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := rec.Requests[0].ID
	clock = at("2026-12-04", 14, 0) // a returned form on Friday
	if _, err := st.RecordOutcome(store.Message{Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 1, UID: 2}, MessageID: "d2@" + testDomain,
		From: "bo@" + testDomain, Subject: "webSesam", ReceivedAt: clock, Outcome: store.OutcomeReturned}, nil, nil); err != nil {
		t.Fatal(err)
	}
	newDaemon := func() *Daemon {
		d, err := New(cfg, st, Options{Logger: testLogger(t), Now: func() time.Time { return clock }, SkipRetention: true})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := newDaemon()
	for _, step := range []struct {
		now  time.Time
		want bool
	}{
		{at("2026-12-05", 9, 0), false},  // Saturday
		{at("2026-12-07", 7, 29), false}, // Monday, before 07:30
		{at("2026-12-07", 7, 30), true},
		{at("2026-12-07", 7, 31), false}, // sent already
	} {
		clock = step.now
		got, err := d.SendDigestIfDue(step.now)
		if err != nil || got != step.want {
			t.Fatalf("at %s: got %v, %v; want %v", step.now, got, err, step.want)
		}
	}
	// A restart the same morning: the day is in the store.
	d = newDaemon()
	clock = at("2026-12-07", 11, 0)
	if got, err := d.SendDigestIfDue(clock); err != nil || got {
		t.Fatalf("after a restart: got %v, %v; want no second digest", got, err)
	}
	clock = at("2026-12-08", 7, 45)
	if got, err := d.SendDigestIfDue(clock); err != nil || !got {
		t.Fatalf("Tuesday: got %v, %v; want a digest", got, err)
	}

	due, err := st.DueOutbox(clock.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var digests []store.OutboxRow
	for _, r := range due {
		if r.Kind == mailer.KindDigest {
			digests = append(digests, r)
		}
	}
	if len(digests) != 2 {
		t.Fatalf("digests in the outbox: got %d, want 2", len(digests))
	}
	monday := textOf(t, digests[0].Raw)
	for _, want := range []string{"Över löftet (5 arbetsdagar)", id + "  väntar, 8 arbetsdagar", "Sedan förra arbetsdagen (2026-12-04) till i morse",
		"returnerade för komplettering: 1", "Väntar på handläggning: 1"} {
		if !strings.Contains(monday, want) {
			t.Errorf("Monday's digest lacks %q:\n%s", want, monday)
		}
	}
	for _, personal := range []string{"Öberg", "asa.oberg", "bo@", "602154"} {
		if strings.Contains(monday, personal) {
			t.Errorf("the digest names %q", personal)
		}
	}
	if got := digests[0].To; len(got) != 1 || got[0] != cfg.Digest.Recipients[0] {
		t.Errorf("digest to %v", got)
	}
}
