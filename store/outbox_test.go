package store

import (
	"errors"
	"testing"
	"time"
)

func testRow(kind string, to ...string) OutboxRow {
	return OutboxRow{
		MessageID: kind + "@intake.test", Kind: kind, From: "intake@region.test",
		To: to, Subject: "webSesam " + kind, Raw: []byte("Subject: x\r\n\r\nbody\r\n"),
	}
}

func TestOutboxLifecycle(t *testing.T) {
	s, clk := openTest(t)
	t0 := clk.now()
	rows, err := s.EnqueueOutbox(testRow("kvittens", "Anna@Region.test"), testRow("avslag", "chef@region.test"))
	mustNoErr(t, err)
	if got, want := len(rows), 2; got != want {
		t.Fatalf("rows: got %d, want %d", got, want)
	}
	if rows[0].ID >= rows[1].ID {
		t.Errorf("ids not in creation order: %d, %d", rows[0].ID, rows[1].ID)
	}
	for _, r := range rows {
		if r.State != OutboxPending || !r.NextTry.Equal(t0) || !r.CreatedAt.Equal(t0) {
			t.Errorf("row %d: got state %s next %v created %v, want pending at %v", r.ID, r.State, r.NextTry, r.CreatedAt, t0)
		}
	}

	due, err := s.DueOutbox(t0.Add(-time.Second), 10)
	mustNoErr(t, err)
	if len(due) != 0 {
		t.Errorf("due before creation: got %d rows, want 0", len(due))
	}
	due, err = s.DueOutbox(t0, 10)
	mustNoErr(t, err)
	if got, want := len(due), 2; got != want {
		t.Fatalf("due: got %d, want %d", got, want)
	}
	if got, want := string(due[0].Raw), "Subject: x\r\n\r\nbody\r\n"; got != want {
		t.Errorf("raw: got %q, want %q", got, want)
	}

	// Retry the first a minute later: no longer due now, due after.
	mustNoErr(t, s.MarkRetry(rows[0].ID, t0.Add(time.Minute), "451 try later"))
	due, _ = s.DueOutbox(t0, 10)
	if got, want := len(due), 1; got != want || due[0].ID != rows[1].ID {
		t.Fatalf("due after retry: got %v, want only row %d", due, rows[1].ID)
	}
	due, _ = s.DueOutbox(t0.Add(time.Minute), 10)
	if got, want := len(due), 2; got != want {
		t.Fatalf("due a minute later: got %d, want %d", got, want)
	}
	// Oldest NextTry first: row 2 (t0) before row 1 (t0+1m).
	if due[0].ID != rows[1].ID || due[1].Attempts != 1 || due[1].LastError != "451 try later" {
		t.Errorf("due order/attempts: got %+v", due)
	}

	sentAt := t0.Add(2 * time.Minute)
	mustNoErr(t, s.MarkSent(rows[0].ID, sentAt))
	mustNoErr(t, s.MarkSent(rows[0].ID, sentAt.Add(time.Hour))) // second call: no change
	mustNoErr(t, s.MarkFailed(rows[1].ID, "550 no such user", sentAt))
	due, _ = s.DueOutbox(sentAt.Add(time.Hour), 10)
	if len(due) != 0 {
		t.Errorf("due after sent/failed: got %d rows, want 0", len(due))
	}

	for _, tc := range []struct {
		addr  string
		since time.Time
		want  int
	}{
		{"anna@region.test", t0, 1},
		{"ANNA@region.test", sentAt, 1},
		{"anna@region.test", sentAt.Add(time.Nanosecond), 0},
		{"chef@region.test", t0, 0}, // failed, not sent
		{"ann@region.test", t0, 0},
	} {
		got, err := s.SentCount(tc.addr, tc.since)
		mustNoErr(t, err)
		if got != tc.want {
			t.Errorf("SentCount(%s, %v): got %d, want %d", tc.addr, tc.since, got, tc.want)
		}
	}

	t.Run("refused", func(t *testing.T) {
		err := s.MarkRetry(rows[1].ID, t0, "x")
		var se *OutboxStateError
		if !errors.Is(err, ErrConflict) || !errors.As(err, &se) || se.State != OutboxFailed {
			t.Errorf("MarkRetry on failed: got %v, want OutboxStateError{failed}", err)
		}
		if err := s.MarkFailed(rows[0].ID, "x", t0); !errors.Is(err, ErrConflict) {
			t.Errorf("MarkFailed on sent: got %v, want ErrConflict", err)
		}
		if err := s.OutboxCancel("staff", rows[0].ID); !errors.Is(err, ErrConflict) {
			t.Errorf("cancel sent: got %v, want ErrConflict", err)
		}
		if err := s.OutboxRetry("staff", rows[0].ID); err == nil || err.Error() != "retry outbox row 1: outbox row 1 is sent; it cannot be retried" {
			t.Errorf("retry sent: got %v", err)
		}
		if err := s.MarkSent(999, t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("MarkSent unknown: got %v, want ErrNotFound", err)
		}
	})

	t.Run("staff", func(t *testing.T) {
		mustNoErr(t, s.OutboxRetry("staff", rows[1].ID))
		due, _ := s.DueOutbox(clk.now(), 10)
		if len(due) != 1 || due[0].ID != rows[1].ID || due[0].State != OutboxPending {
			t.Fatalf("due after staff retry: got %+v", due)
		}
		mustNoErr(t, s.OutboxCancel("staff", rows[1].ID))
		due, _ = s.DueOutbox(clk.now(), 10)
		if len(due) != 0 {
			t.Errorf("due after cancel: got %d", len(due))
		}
		failed, err := s.OutboxList("staff", OutboxFilter{State: OutboxCancelled})
		mustNoErr(t, err)
		if len(failed) != 1 || failed[0].ID != rows[1].ID || failed[0].Raw != nil {
			t.Errorf("list cancelled: got %+v", failed)
		}
		all, _ := s.OutboxList("staff", OutboxFilter{})
		if len(all) != 2 || all[0].ID != rows[1].ID {
			t.Errorf("list all newest first: got %+v", all)
		}
		one, err := s.OutboxGet("staff", rows[0].ID)
		mustNoErr(t, err)
		if one.State != OutboxSent || !one.SentAt.Equal(sentAt) || len(one.Raw) == 0 {
			t.Errorf("get: got %+v", one)
		}
		if _, err := s.OutboxList("", OutboxFilter{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("list without actor: got %v, want ErrInvalid", err)
		}
		entries, _ := s.AuditList("auditor", AuditFilter{Actor: "staff"})
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		want := []string{AuditOutboxShow, AuditOutboxList, AuditOutboxList, AuditOutboxCancel, AuditOutboxRetry}
		if len(actions) != len(want) {
			t.Fatalf("audit actions: got %v, want %v", actions, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Fatalf("audit actions: got %v, want %v", actions, want)
			}
		}
	})

	t.Run("no recipient", func(t *testing.T) {
		_, err := s.EnqueueOutbox(OutboxRow{Kind: "kvittens"})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	})
}

func TestBounces(t *testing.T) {
	s, clk := openTest(t)
	t0 := clk.now()
	mustNoErr(t, s.RecordBounce("Ola@Region.test", t0))
	mustNoErr(t, s.RecordBounce("ola@region.test", t0.Add(-time.Hour))) // older: kept newest
	for _, tc := range []struct {
		addr  string
		since time.Time
		want  bool
	}{
		{"ola@region.test", t0, true},
		{"OLA@region.test", t0.Add(-time.Minute), true},
		{"ola@region.test", t0.Add(time.Second), false},
		{"other@region.test", time.Time{}, false},
	} {
		got, err := s.BouncedSince(tc.addr, tc.since)
		mustNoErr(t, err)
		if got != tc.want {
			t.Errorf("BouncedSince(%s, %v): got %v, want %v", tc.addr, tc.since, got, tc.want)
		}
	}
}
