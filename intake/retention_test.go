package intake

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/store"
)

// TestRetentionAtStartMovesOldMail: a running daemon makes its first pass
// once it is up, against a server without MOVE (the copy, flag, UID
// EXPUNGE path), and moves exactly the mail past its time to move_to.
func TestRetentionAtStartMovesOldMail(t *testing.T) {
	srv, _, cfg := startMail(t, false)
	cfg.Retention.IgnoredFolderDays = 30
	cfg.Retention.QuarantinedFolderDays = 60
	cfg.Retention.MoveTo = "webSesam/Gallrat"
	now := time.Date(2027, 2, 1, 12, 0, 0, 0, time.UTC)

	c := srv.client()
	var keep, gone []string
	for _, folder := range []string{cfg.Folders.Ignored, cfg.Folders.Quarantined} {
		days := 30
		if folder == cfg.Folders.Quarantined {
			days = 60
		}
		if err := c.Create(folder, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		for i, age := range []time.Duration{time.Hour, time.Duration(days)*24*time.Hour - time.Minute, time.Duration(days)*24*time.Hour + time.Minute, 200 * 24 * time.Hour} {
			id := fmt.Sprintf("r%d-%d@%s", i, days, testDomain)
			raw := fmt.Sprintf("From: a@%s\r\nSubject: webSesam\r\nMessage-ID: <%s>\r\n\r\nx\r\n", testDomain, id)
			cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Time: now.Add(-age)})
			if _, err := cmd.Write([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if i < 2 {
				keep = append(keep, id)
			} else {
				gone = append(gone, id)
			}
		}
	}
	c.Close()

	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := New(cfg, st, Options{Logger: testLogger(t), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	waitFor(t, "the retention pass's audit entry", 30*time.Second, func() bool {
		a, err := st.AuditList("auditor", store.AuditFilter{Actor: store.ActorRetention})
		return err == nil && len(a) == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a, _ := st.AuditList("auditor", store.AuditFilter{Actor: store.ActorRetention})
	if want := "requests_days=365 messages_days=90 notices_days=90 requests=0 messages=0 outbox=0 folder_queued=0 folder_returned=0 folder_no-form=0 folder_ignored=2 folder_quarantined=2"; a[0].Detail != want {
		t.Errorf("audit detail:\n got %q\nwant %q", a[0].Detail, want)
	}
	where := srv.where()
	for _, id := range keep {
		if got := where[id]; len(got) != 1 || got[0].Folder == cfg.Retention.MoveTo {
			t.Errorf("%s (young): got %+v, want it left in its folder", id, got)
		}
	}
	for _, id := range gone {
		if got := where[id]; len(got) != 1 || got[0].Folder != cfg.Retention.MoveTo || slices.Contains(got[0].Flags, imap.FlagDeleted) {
			t.Errorf("%s (past its time): got %+v, want it only in %s", id, got, cfg.Retention.MoveTo)
		}
	}
}
