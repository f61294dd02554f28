package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

const retentionSection = `
[retention]
requests_days = 180
messages_days = 60
notices_days = 90
queued_folder_days = 200
returned_folder_days = 90
no_form_folder_days = 90
ignored_folder_days = 30
quarantined_folder_days = 60
`

// folderMail is one mail put into an outcome folder at a known time.
type folderMail struct {
	folder, id string
	at         time.Time
}

// yearOfFolders fills every outcome folder with one mail a fortnight for a
// year before now, at a known INTERNALDATE.
func yearOfFolders(t *testing.T, srv *mailtest.IMAP, cfg intake.Config, now time.Time) []folderMail {
	t.Helper()
	var out []folderMail
	for _, o := range []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined} {
		folder := cfg.Folders.For(o)
		if err := srv.User.Create(folder, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 26 {
			m := folderMail{folder: folder, id: fmt.Sprintf("f%d-%s@region.example.se", i, o), at: now.Add(-time.Duration(i)*14*24*time.Hour - time.Hour)}
			raw := fmt.Sprintf("From: chef@region.example.se\r\nTo: %s\r\nSubject: webSesam\r\nMessage-ID: <%s>\r\n\r\nblankett\r\n", serveUser, m.id)
			if err := srv.Append(folder, []byte(raw), &imap.AppendOptions{Time: m.at}); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// folderContents lists the Message-IDs in each folder.
func folderContents(t *testing.T, srv *mailtest.IMAP) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for id, places := range srv.Where(t) {
		for _, p := range places {
			out[p.Folder] = append(out[p.Folder], id)
		}
	}
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out
}

// yearOfRecords records one message a week for a year before now through
// the store calls the daemon and staff make, the outcomes in turn; the
// requests of the first 40 weeks are done a week after they came, each
// with a sent notice. It returns the request ids by the week they came.
func yearOfRecords(t *testing.T, dbPath string, now time.Time) map[int]string {
	t.Helper()
	start := now.AddDate(-1, 0, 0)
	clock := start
	st, err := store.Open(dbPath, store.Options{NoSync: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	outcomes := []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined}
	ids := map[int]string{}
	for week := range 52 {
		clock = start.Add(time.Duration(week) * 7 * 24 * time.Hour)
		o := outcomes[week%len(outcomes)]
		m := store.Message{Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 3, UID: uint32(week + 1)}, MessageID: fmt.Sprintf("w%d@region.example.se", week),
			From: "chef@region.example.se", Subject: "webSesam", ReceivedAt: clock, Outcome: o}
		var reqs []store.NewRequest
		if o == store.OutcomeQueued {
			reqs = []store.NewRequest{{FormHash: fmt.Sprintf("h%d", week), Form: "websesam-behorighet", Type: "ny",
				Fields: map[string]string{"fornamn": "Åsa", "efternamn": fmt.Sprintf("Öberg%d", week), "epost": "asa@region.example.se", "verksamhet": "Rehab", "kundnummer": "602154"}}}
		}
		rec, err := st.RecordOutcome(m, reqs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Requests) > 0 {
			ids[week] = rec.Requests[0].ID
		}
	}
	for week, id := range ids {
		if week >= 40 {
			continue
		}
		clock = start.Add(time.Duration(week+1) * 7 * 24 * time.Hour)
		if _, err := st.Claim(id, "eva", false); err != nil {
			t.Fatal(err)
		}
		notice := func(r store.Request) ([]store.OutboxRow, error) {
			return []store.OutboxRow{{MessageID: "klar-" + r.ID + "@region.example.se", Kind: "klar-anvandare", Request: r.ID,
				From: serveUser, To: []string{"asa@region.example.se"}, Subject: "Klart", Raw: []byte("Subject: Klart\r\n\r\nKlart\r\n")}}, nil
		}
		if _, err := st.Complete(id, "eva", "asaobe01", "klart", notice); err != nil {
			t.Fatal(err)
		}
		due, err := st.DueOutbox(clock.Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range due {
			if err := st.MarkSent(r.ID, clock); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids
}

// TestPurgeAgreesWithTheDaemon: over a store and outcome folders spread
// over a year, with the clock fixed, `purge --dry-run` (no daemon) says
// exactly what the daemon's pass then removes; the folders lose exactly the
// mail past its time; the audit entry and the kept fields are right.
func TestPurgeAgreesWithTheDaemon(t *testing.T) {
	srv, sk := startServers(t)
	cfgPath, dbPath := serveConfig(t, srv.Addr(), sk.Addr())
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(retentionSection)
	f.Close()
	cfg, err := intake.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	ids := yearOfRecords(t, dbPath, now)
	mails := yearOfFolders(t, srv, cfg, now)
	before := folderContents(t, srv)

	// What must go, from the known dates.
	wantFolders := map[string][]string{} // what stays
	removed := map[string]int{}
	for _, m := range mails {
		var o store.Outcome
		for _, oc := range []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined} {
			if cfg.Folders.For(oc) == m.folder {
				o = oc
			}
		}
		if m.at.Before(now.Add(-time.Duration(cfg.Retention.FolderDays(o)) * 24 * time.Hour)) {
			removed[m.folder]++
		} else {
			wantFolders[m.folder] = append(wantFolders[m.folder], m.id)
		}
	}
	for k := range wantFolders {
		slices.Sort(wantFolders[k])
	}
	start := now.AddDate(-1, 0, 0)
	var wantIDs []string
	for week, id := range ids {
		closed := start.Add(time.Duration(week+1) * 7 * 24 * time.Hour)
		if week < 40 && closed.Before(now.Add(-180*24*time.Hour)) {
			wantIDs = append(wantIDs, id)
		}
	}
	slices.Sort(wantIDs)

	stdout, stderr, code := runCLI(t, "purge", "--dry-run", "--json", "--config", cfgPath, "--db", dbPath,
		"--socket", filepath.Join(t.TempDir(), "none.sock"), "--now", now.Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("purge --dry-run: exit %d: %s", code, stderr)
	}
	var dry store.RetentionResult
	if err := json.Unmarshal([]byte(stdout), &dry); err != nil {
		t.Fatalf("decode: %v\n%s", err, stdout)
	}
	if !dry.DryRun || !slices.Equal(dry.RequestIDs, wantIDs) || dry.Requests != len(wantIDs) {
		t.Errorf("dry run: got ids %v (dry %v), want %v", dry.RequestIDs, dry.DryRun, wantIDs)
	}
	for _, fr := range dry.Folders {
		if fr.Removed != removed[fr.Folder] {
			t.Errorf("dry run, %s: got %d, want %d", fr.Folder, fr.Removed, removed[fr.Folder])
		}
	}
	if got := folderContents(t, srv); !reflect.DeepEqual(got, before) {
		t.Errorf("the dry run changed the folders:\n got %v\nwant %v", got, before)
	}

	// The daemon's pass at the same moment.
	st, err := store.Open(dbPath, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	metrics := ops.NewMetrics(st)
	d, err := intake.New(cfg, st, intake.Options{Logger: discardLog(), Now: func() time.Time { return now }, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Retain(context.Background(), store.ActorRetention, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.PurgeResult != dry.PurgeResult || !slices.Equal(res.RequestIDs, dry.RequestIDs) || !reflect.DeepEqual(res.MessagesByOutcome, dry.MessagesByOutcome) {
		t.Errorf("the daemon's pass differs from the dry run:\n got %+v\nwant %+v", res, dry)
	}
	if len(res.Folders) != len(dry.Folders) {
		t.Fatalf("folders: got %+v, want %+v", res.Folders, dry.Folders)
	}
	totalFolder := 0
	for i, fr := range res.Folders {
		dr := dry.Folders[i]
		if fr.Folder != dr.Folder || fr.Removed != dr.Removed || !fr.Before.Equal(dr.Before) || fr.Days != dr.Days {
			t.Errorf("folder %d: daemon %+v, dry run %+v", i, fr, dr)
		}
		totalFolder += fr.Removed
	}
	if totalFolder == 0 || res.Requests == 0 || res.Messages == 0 || res.Outbox == 0 {
		t.Fatalf("the fixture removes too little to prove anything: %+v", res)
	}
	got := folderContents(t, srv)
	delete(got, "INBOX")
	if !reflect.DeepEqual(got, wantFolders) {
		t.Errorf("folders after the pass:\n got %v\nwant %v", got, wantFolders)
	}

	// One audit entry for the pass, with the folder counts.
	audit, err := st.AuditList("auditor", store.AuditFilter{Actor: store.ActorRetention})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Action != store.AuditPurge || !slices.Equal(audit[0].Subjects, wantIDs) ||
		!strings.Contains(audit[0].Detail, fmt.Sprintf("folder_ignored=%d", removed[cfg.Folders.Ignored])) ||
		!strings.HasPrefix(audit[0].Detail, fmt.Sprintf("requests_days=180 messages_days=60 notices_days=90 requests=%d ", len(wantIDs))) {
		t.Errorf("audit: got %+v", audit)
	}
	// Kept: id, status, dates, verksamhet and kundnummer.
	r, err := st.ShowRequest("auditor", wantIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !r.Purged || r.Status != store.StatusDone || r.ReceivedAt.IsZero() || r.ClosedAt.IsZero() || r.Username != "" ||
		!reflect.DeepEqual(r.Fields, map[string]string{"verksamhet": "Rehab", "kundnummer": "602154"}) {
		t.Errorf("purged request: %+v", r)
	}
	// Counted for /metrics.
	var b strings.Builder
	if _, err := metrics.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	samples, err := promSamples(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`websesam_intake_retention_removed_total{kind="requests"}`:    float64(len(wantIDs)),
		`websesam_intake_retention_removed_total{kind="folder_mail"}`: float64(totalFolder),
		`websesam_intake_retention_last_pass_timestamp_seconds`:       float64(now.Unix()),
	} {
		if got, ok := samples[series]; !ok || got != want {
			t.Errorf("metrics: %s = %v (present %v), want %v\n%s", series, got, ok, want, b.String())
		}
	}
	// Nothing is left for a second pass.
	again, err := d.Retain(context.Background(), "eva", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range again.Folders {
		if fr.Removed != 0 {
			t.Errorf("second pass, %s: %d", fr.Folder, fr.Removed)
		}
	}
	if again.PurgeResult != (store.PurgeResult{}) {
		t.Errorf("second pass: %+v", again.PurgeResult)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
