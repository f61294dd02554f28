package store

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestRetainYear: a store with mail spread over a year (one message every
// week, the outcomes in turn), requests closed a week after they came;
// a dry run at the end says exactly what the real pass then removes, writes
// nothing, and the pass keeps ids, dates, statuses and the audit log.
func TestRetainYear(t *testing.T) {
	s, clk := openTest(t)
	start := clk.now()
	outcomes := []Outcome{OutcomeQueued, OutcomeReturned, OutcomeNoForm, OutcomeIgnored, OutcomeQuarantined}
	policy := RetentionPolicy{RequestsDays: 180, MessagesDays: 60, NoticesDays: 90}
	type rec struct {
		at      time.Time
		outcome Outcome
		req     string
	}
	var recs []rec
	for week := range 52 {
		at := start.Add(time.Duration(week) * 7 * 24 * time.Hour)
		clk.t = at
		o := outcomes[week%len(outcomes)]
		m := testMessage(uint32(week+1), fmt.Sprintf("y%d@mail.test", week))
		m.Outcome, m.ReceivedAt = o, at
		r := rec{at: at, outcome: o}
		if o == OutcomeQueued {
			got := record(t, s, m, fmt.Sprintf("yh%d", week), userFields(fmt.Sprintf("person%d", week), "Test", fmt.Sprintf("p%d@region.test", week), "602154"))
			r.req = got.Requests[0].ID
		} else {
			_, err := s.RecordOutcome(m, nil, nil)
			mustNoErr(t, err)
		}
		recs = append(recs, r)
	}
	// Close the requests of the first 40 weeks a week after they came.
	for _, r := range recs {
		if r.req == "" || r.at.After(start.Add(40*7*24*time.Hour)) {
			continue
		}
		clk.t = r.at.Add(7 * 24 * time.Hour)
		_, err := s.Claim(r.req, "eva", false)
		mustNoErr(t, err)
		_, err = s.Complete(r.req, "eva", "user01", "klart", notice("klar-anvandare"))
		mustNoErr(t, err)
	}
	now := start.Add(365 * 24 * time.Hour)
	clk.t = now

	// What the policy says, computed here from the known dates.
	days := func(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }
	var wantIDs []string
	wantMsgs := map[Outcome]int{}
	wantOutbox := 0
	for _, r := range recs {
		cut := days(policy.MessagesDays)
		if r.outcome == OutcomeQueued || r.outcome == OutcomeReturned {
			cut = days(policy.RequestsDays)
		}
		if r.at.Before(cut) {
			wantMsgs[r.outcome]++
		}
		if r.req == "" {
			continue
		}
		closed := r.at.Add(7 * 24 * time.Hour)
		if !r.at.After(start.Add(40*7*24*time.Hour)) && closed.Before(days(policy.RequestsDays)) {
			wantIDs = append(wantIDs, r.req)
		}
	}
	// Receipts stay pending (never sent here) and are never purged; mark
	// the done notices of the first weeks sent so that some rows qualify.
	due, err := s.DueOutbox(now.Add(time.Hour), 1000)
	mustNoErr(t, err)
	for _, row := range due {
		if row.Kind == "klar-anvandare" {
			mustNoErr(t, s.MarkSent(row.ID, now))
			if row.CreatedAt.Before(days(policy.NoticesDays)) {
				wantOutbox++
			}
		}
	}
	slices.Sort(wantIDs)
	auditBefore, _ := s.AuditList("auditor", AuditFilter{Actor: "anna"})

	dry, err := s.Retain("anna", now, policy, true, nil)
	mustNoErr(t, err)
	wantMsgTotal := 0
	for _, n := range wantMsgs {
		wantMsgTotal += n
	}
	if got, want := dry.PurgeResult, (PurgeResult{Requests: len(wantIDs), Messages: wantMsgTotal, Outbox: wantOutbox}); got != want {
		t.Errorf("dry run: got %+v, want %+v", got, want)
	}
	if !slices.Equal(dry.RequestIDs, wantIDs) {
		t.Errorf("dry run ids: got %v, want %v", dry.RequestIDs, wantIDs)
	}
	if !reflect.DeepEqual(dry.MessagesByOutcome, wantMsgs) {
		t.Errorf("dry run by outcome: got %v, want %v", dry.MessagesByOutcome, wantMsgs)
	}
	if len(wantIDs) == 0 || wantOutbox == 0 || wantMsgs[OutcomeIgnored] == 0 {
		t.Fatalf("the fixture purges too little to prove anything: %v %d %v", wantIDs, wantOutbox, wantMsgs)
	}
	// The dry run changed nothing.
	if r, _ := s.ShowRequest("eva", wantIDs[0]); r.Purged || r.Fields["fornamn"] == "" {
		t.Errorf("dry run purged %s: %+v", wantIDs[0], r)
	}
	if a, _ := s.AuditList("auditor", AuditFilter{Actor: "anna"}); len(a) != len(auditBefore) {
		t.Errorf("dry run wrote %d audit entries", len(a)-len(auditBefore))
	}

	real, err := s.Retain("anna", now, policy, false, nil)
	mustNoErr(t, err)
	dry.DryRun = true
	real.DryRun = true
	if !reflect.DeepEqual(real, dry) {
		t.Errorf("real pass differs from the dry run:\n got %+v\nwant %+v", real, dry)
	}
	a, _ := s.AuditList("auditor", AuditFilter{Actor: "anna"})
	if len(a) != 1 || a[0].Action != AuditPurge || !slices.Equal(a[0].Subjects, wantIDs) ||
		a[0].Detail != fmt.Sprintf("requests_days=180 messages_days=60 notices_days=90 requests=%d messages=%d outbox=%d", len(wantIDs), wantMsgTotal, wantOutbox) {
		t.Errorf("audit entry: got %+v", a)
	}
	for _, id := range wantIDs {
		r, err := s.ShowRequest("eva", id)
		mustNoErr(t, err)
		kept := r.ID == id && r.Status == StatusDone && !r.ReceivedAt.IsZero() && !r.ClosedAt.IsZero() && len(r.History) == 3 &&
			reflect.DeepEqual(r.Fields, map[string]string{"verksamhet": "Rehab", "kundnummer": "602154"})
		if !kept || !r.Purged || r.Username != "" {
			t.Errorf("%s after the pass: %+v", id, r)
		}
	}
	// The next pass finds nothing more.
	again, err := s.Retain("anna", now, policy, false, nil)
	mustNoErr(t, err)
	if again.PurgeResult != (PurgeResult{}) {
		t.Errorf("second pass: got %+v", again.PurgeResult)
	}
}
