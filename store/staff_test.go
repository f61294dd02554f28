package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A request's detail: the request, its message, and the replies about it —
// its own notices and its message's receipt, not another batch member's
// notices — in one audited read.
func TestStaffShowRequestDetail(t *testing.T) {
	s, _ := openTest(t)
	rec := record(t, s, testMessage(1, "m1@region.test"), "h1",
		userFields("Anna", "Berg", "anna@region.test", "602154"),
		userFields("Bo", "Ek", "bo@region.test", "602154"))
	a, b := rec.Requests[0].ID, rec.Requests[1].ID
	for _, id := range []string{a, b} {
		_, err := s.Claim(id, "staff", false)
		mustNoErr(t, err)
		_, err = s.Complete(id, "staff", "u-"+id, "", notice("klar-anvandare"))
		mustNoErr(t, err)
	}

	for _, tc := range []struct {
		id   string
		want string
	}{
		{a, "kvittens:" + a + " klar-anvandare:" + a},
		{b, "kvittens:" + a + " klar-anvandare:" + b},
	} {
		d, err := s.ShowRequestDetail("eva", tc.id)
		mustNoErr(t, err)
		var got []string
		for _, r := range d.Replies {
			got = append(got, r.Kind+":"+r.Request)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("replies of %s = %q, want %q", tc.id, strings.Join(got, " "), tc.want)
		}
		if d.Message == nil || d.Message.Key != rec.Message.Key {
			t.Errorf("message of %s = %+v", tc.id, d.Message)
		}
	}
	entries, err := s.AuditList("auditor", AuditFilter{Actor: "eva"})
	mustNoErr(t, err)
	if len(entries) != 2 || entries[0].Action != AuditShowRequestDetail ||
		strings.Join(entries[0].Subjects, " ") != b+" "+rec.Message.Key.String() || entries[0].Count != 1 {
		t.Errorf("audit = %+v, want one show-request-detail per read naming request and message", entries)
	}

	_, err = s.ShowRequestDetail("eva", "WS-2026-999999")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
	_, err = s.ShowRequestDetail(" ", a)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "empty actor") {
		t.Errorf("empty actor: %v, want ErrInvalid", err)
	}
}

func TestStaffRegisterExport(t *testing.T) {
	s, _ := openTest(t)
	rec := record(t, s, testMessage(1, "m1@region.test"), "h1", userFields("Anna", "Berg", "anna@region.test", "602160"))
	f := userFields("Bo", "Ek", "bo@region.test", "602154")
	f["ovriga_kundnummer"] = "602155"
	rec2 := record(t, s, testMessage(2, "m2@region.test"), "h2", f)
	for _, id := range []string{rec.Requests[0].ID, rec2.Requests[0].ID} {
		_, err := s.Claim(id, "staff", false)
		mustNoErr(t, err)
		_, err = s.Complete(id, "staff", "u", "", nil)
		mustNoErr(t, err)
	}
	rows, err := s.RegisterExport("eva")
	mustNoErr(t, err)
	var got []string
	for _, r := range rows {
		got = append(got, r.Kundnummer+"/"+r.Standardkund+"/"+r.Fornamn)
	}
	if want := "602154/602154/Bo 602155/602154/Bo 602160/602160/Anna"; strings.Join(got, " ") != want {
		t.Errorf("export rows = %q, want %q", strings.Join(got, " "), want)
	}
	entries, err := s.AuditList("auditor", AuditFilter{Actor: "eva"})
	mustNoErr(t, err)
	if len(entries) != 1 || entries[0].Action != AuditRegisterExport || entries[0].Count != 3 || len(entries[0].Subjects) != 0 {
		t.Errorf("audit = %+v, want one register-export of 3 rows", entries)
	}
}

// Staff mark a quarantined or no-form message; the daemon's new decision
// then replaces the outcome, creates the requests and their receipt, and
// clears the mark, with both steps in the message's history.
func TestStaffReprocess(t *testing.T) {
	s, clk := openTest(t)
	q := testMessage(1, "q1@outside.test")
	q.Outcome, q.Reason, q.From = OutcomeQuarantined, "sender domain not allowed", "anna@outside.test"
	_, err := s.RecordOutcome(q, nil, nil)
	mustNoErr(t, err)
	queued := record(t, s, testMessage(2, "m2@region.test"), "h2", userFields("Bo", "Ek", "bo@region.test", "602154"))
	ignored := testMessage(3, "i3@region.test")
	ignored.Outcome = OutcomeIgnored
	_, err = s.RecordOutcome(ignored, nil, nil)
	mustNoErr(t, err)
	noID := testMessage(5, "")
	noID.Outcome = OutcomeNoForm
	_, err = s.RecordOutcome(noID, nil, nil)
	mustNoErr(t, err)
	copyOf := testMessage(4, "q1@outside.test") // same Message-ID as q: a copy
	_, err = s.RecordOutcome(copyOf, nil, nil)
	mustNoErr(t, err)

	// Refused before anything is marked.
	for _, tc := range []struct {
		name string
		key  MessageKey
		want string
		is   error
	}{
		{"queued", queued.Message.Key, "only quarantined and no-form messages can be reprocessed", ErrConflict},
		{"ignored", ignored.Key, "only quarantined and no-form messages can be reprocessed", ErrConflict},
		{"copy", copyOf.Key, "is a copy of " + q.Key.String() + "; reprocess that one", ErrConflict},
		{"no Message-ID", noID.Key, "has no Message-ID, so the daemon cannot find it again in its folder", ErrConflict},
		{"unknown", MessageKey{Mailbox: "INBOX", UIDValidity: 1700, UID: 99}, "not found", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.MarkReprocess("eva", tc.key, "", false)
			var mse *MessageStateError
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) || (tc.is == ErrConflict && !errors.As(err, &mse)) {
				t.Errorf("got %v, want %v containing %q", err, tc.is, tc.want)
			}
		})
	}
	// The daemon may not decide an unmarked message again.
	_, err = s.RecordReprocessed(Message{Key: q.Key, Outcome: OutcomeNoForm}, nil, nil)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "is not waiting to be reprocessed") {
		t.Errorf("unmarked: %v, want a refusal", err)
	}

	clk.add(time.Minute)
	mark, err := s.MarkReprocess("eva", q.Key, " outside.test allowed ", false)
	mustNoErr(t, err)
	if mark.Actor != "eva" || mark.Outcome != OutcomeQuarantined || mark.Note != "outside.test allowed" || mark.MessageID != "q1@outside.test" {
		t.Errorf("mark = %+v", mark)
	}
	_, err = s.MarkReprocess("bo", q.Key, "", false)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "is already waiting to be reprocessed (asked by eva") {
		t.Errorf("second mark: %v", err)
	}
	pending, err := s.ReprocessPending()
	mustNoErr(t, err)
	if len(pending) != 1 || pending[0].Key != q.Key {
		t.Errorf("pending = %+v", pending)
	}

	clk.add(time.Minute)
	reqs := []NewRequest{{FormHash: "hq", Form: "websesam-behorighet", Type: TypeNy, Fields: userFields("Anna", "Ös", "anna@outside.test", "602154")}}
	rec, err := s.RecordReprocessed(Message{Key: q.Key, Outcome: OutcomeQueued, FormHashes: []string{"hq"}}, reqs, receipt)
	mustNoErr(t, err)
	if len(rec.Requests) != 1 || len(rec.Outbox) != 1 || rec.Outbox[0].Request != rec.Requests[0].ID || rec.Message.Outcome != OutcomeQueued {
		t.Fatalf("recorded = %+v", rec)
	}
	if got := rec.Requests[0].History[0]; got.Actor != ActorIntake || got.Note != "reprocessed" || rec.Requests[0].MessageID != "q1@outside.test" {
		t.Errorf("new request = %+v", rec.Requests[0])
	}

	d, err := s.ShowMessageDetail("eva", q.Key)
	mustNoErr(t, err)
	if d.Pending != nil || d.Message.Outcome != OutcomeQueued || d.Message.From != "anna@outside.test" ||
		len(d.Message.Forms) != 1 || d.Message.Forms[0].Requests[0] != rec.Requests[0].ID {
		t.Errorf("after reprocess: %+v", d)
	}
	var hist []string
	for _, e := range d.History {
		hist = append(hist, e.Actor+" "+e.Event+" "+string(e.From)+">"+string(e.To)+" "+e.Note)
	}
	if want := "eva reprocess-requested quarantined> outside.test allowed|intake reprocessed quarantined>queued asked by eva"; strings.Join(hist, "|") != want {
		t.Errorf("history = %q, want %q", strings.Join(hist, "|"), want)
	}
	if pending, _ := s.ReprocessPending(); len(pending) != 0 {
		t.Errorf("pending after the decision = %+v", pending)
	}
	// Now queued: no second reprocess.
	if _, err := s.MarkReprocess("eva", q.Key, "", false); !errors.Is(err, ErrConflict) {
		t.Errorf("reprocess a reprocessed-to-queued message: %v", err)
	}
	entries, err := s.AuditList("auditor", AuditFilter{Actor: "eva", Subject: q.Key.String()})
	mustNoErr(t, err)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if want := "show-message reprocess-message"; strings.Join(actions, " ") != want {
		t.Errorf("audit = %q, want %q", strings.Join(actions, " "), want)
	}
}

// A purged message cannot be reprocessed: its content is gone.
func TestStaffReprocessPurged(t *testing.T) {
	s, clk := openTest(t)
	q := testMessage(1, "q1@outside.test")
	q.Outcome = OutcomeNoForm
	_, err := s.RecordOutcome(q, nil, nil)
	mustNoErr(t, err)
	mustNoErr(t, s.MarkSettled(q.Key))
	_, err = s.Purge(clk.add(400*24*time.Hour), 0)
	mustNoErr(t, err)
	d, err := s.ShowMessageDetail("eva", q.Key)
	mustNoErr(t, err)
	if !d.Message.Purged {
		t.Fatalf("retention kept the record of a message 400 days old: %+v", d.Message)
	}
	_, err = s.MarkReprocess("eva", q.Key, "", false)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "was purged by retention") {
		t.Errorf("purged: %v", err)
	}
}
