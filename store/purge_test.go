package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestPurge(t *testing.T) {
	s, clk := openTest(t)
	t0 := clk.now()
	mk := func(uid uint32, name string) string {
		rec := record(t, s, testMessage(uid, fmt.Sprintf("p%d@mail.test", uid)), fmt.Sprintf("ph%d", uid), userFields(name, "Test", name+"@region.test", "602154"))
		return rec.Requests[0].ID
	}
	done, rejected, queued := mk(1, "dora"), mk(2, "rut"), mk(3, "kim")
	_, _ = s.Claim(done, "eva", false)
	_, err := s.Complete(done, "eva", "dortes01", "konto skapat", notice("klar-anvandare"))
	mustNoErr(t, err)
	_, _ = s.Claim(rejected, "eva", false)
	_, err = s.Reject(rejected, "eva", "fel chef", notice("avslag"))
	mustNoErr(t, err)
	due, _ := s.DueOutbox(clk.now(), 100)
	for _, r := range due {
		mustNoErr(t, s.MarkSent(r.ID, clk.now()))
	}
	mustNoErr(t, s.RecordBounce("dora@region.test", clk.now()))
	// A quarantined message with a staff note in its history.
	q := testMessage(9, "q@mail.test")
	q.Outcome = OutcomeQuarantined
	_, err = s.RecordOutcome(q, nil, nil)
	mustNoErr(t, err)
	_, err = s.MarkReprocess("eva", q.Key, "sender dora@region.test now allowed", false)
	mustNoErr(t, err)

	// 364 days later nothing is old enough.
	clk.add(364 * 24 * time.Hour)
	res, err := s.Purge(clk.now(), 0)
	mustNoErr(t, err)
	if res != (PurgeResult{}) {
		t.Fatalf("purge at 364 days: got %+v, want nothing", res)
	}
	// A late request, done just now, must survive the next purge.
	late := mk(4, "lo")
	_, _ = s.Claim(late, "eva", false)
	_, err = s.Complete(late, "eva", "lo01", "", nil)
	mustNoErr(t, err)

	clk.add(2 * 24 * time.Hour)
	res, err = s.Purge(clk.now(), 365)
	mustNoErr(t, err)
	if got, want := res, (PurgeResult{Requests: 2, Messages: 4, Outbox: 5}); got != want {
		t.Errorf("purge: got %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		id     string
		purged bool
		status Status
	}{{done, true, StatusDone}, {rejected, true, StatusRejected}, {queued, false, StatusQueued}, {late, false, StatusDone}} {
		r, err := s.ShowRequest("eva", tc.id)
		mustNoErr(t, err)
		if r.Purged != tc.purged || r.Status != tc.status || r.Type != "ny" || r.CreatedAt.IsZero() {
			t.Errorf("%s: got purged %v status %s type %s", tc.id, r.Purged, r.Status, r.Type)
		}
		if tc.purged {
			// Only the organisation's fields stay, for the report.
			if len(r.Fields) != 2 || r.Fields["verksamhet"] == "" || r.Fields["kundnummer"] != "602154" || r.Username != "" || r.Reason != "" || r.ClosedAt.IsZero() || len(r.History) != 3 {
				t.Errorf("%s not purged right: %+v", tc.id, r)
			}
			for _, h := range r.History {
				if h.Note != "" {
					t.Errorf("%s: history note kept: %q", tc.id, h.Note)
				}
			}
		} else if r.Fields["fornamn"] == "" {
			t.Errorf("%s lost its fields", tc.id)
		}
	}
	for _, text := range []string{"dora", "rut", "dora@region.test"} {
		if got, _ := s.SearchRequests("eva", text, 0); len(got) != 0 {
			t.Errorf("search %q after purge: got %v", text, idsOf(got))
		}
	}
	if got, _ := s.SearchRequests("eva", "kim", 0); !slices.Equal(idsOf(got), []string{queued}) {
		t.Errorf("search kim: got %v", idsOf(got))
	}
	m, _ := s.ShowMessage("eva", testMessage(1, "").Key)
	if m.From != "" || m.Subject != "" || !m.Purged || m.MessageID == "" {
		t.Errorf("message after purge: %+v", m)
	}
	qd, err := s.ShowMessageDetail("eva", q.Key)
	mustNoErr(t, err)
	if len(qd.History) != 1 || qd.History[0].Note != "" || qd.History[0].Event != EventReprocessRequested {
		t.Errorf("message history after purge: got %+v", qd.History)
	}
	// Message-ID and form hash are kept: a resend is still recognised.
	if _, found, _ := s.MessageByID("p1@mail.test"); !found {
		t.Error("Message-ID index lost")
	}
	rows, _ := s.OutboxList("eva", OutboxFilter{})
	for _, r := range rows {
		body, _ := s.OutboxGet("eva", r.ID)
		purged := r.CreatedAt.Before(t0.Add(time.Hour))
		if purged != r.Purged || purged && (len(r.To) > 0 || r.Subject != "" || body.Raw != nil) {
			t.Errorf("outbox row %d (created %v): got %+v raw %q", r.ID, r.CreatedAt, r, body.Raw)
		}
	}
	if n, _ := s.SentCount("dora@region.test", time.Time{}); n != 0 {
		t.Errorf("sent count kept: %d", n)
	}
	if b, _ := s.BouncedSince("dora@region.test", time.Time{}); b {
		t.Error("bounce kept")
	}
	// Register and audit log stay.
	if reg, _ := s.RegisterList("eva", RegisterFilter{Person: "dora@region.test"}); len(reg) != 1 {
		t.Errorf("register after purge: got %d rows, want 1", len(reg))
	}
	audit, _ := s.AuditList("auditor", AuditFilter{Actor: ActorRetention})
	if len(audit) != 2 || audit[0].Action != AuditPurge || audit[0].Count != 2 {
		t.Errorf("purge audit: got %+v", audit)
	}
	// A second purge finds nothing new.
	if res, _ := s.Purge(clk.now(), 365); res != (PurgeResult{}) {
		t.Errorf("second purge: got %+v", res)
	}
}
