package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// outboxDB makes a real store with three rows: one pending, one sent and one
// failed, and returns its path (closed, as staff would find it with the
// daemon stopped).
func outboxDB(t *testing.T) string {
	t.Helper()
	noDaemon(t)
	path := filepath.Join(t.TempDir(), "intake.db")
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.EnqueueOutbox(
		store.OutboxRow{MessageID: "a1@hmc.example.se", Kind: "kvittens", From: "intake@hmc.example.se",
			To: []string{"asa.oberg@region.example.se"}, Subject: "SV: webSesam Åsa Öberg", Raw: []byte("Subject: a\r\n\r\nhej\r\n")},
		store.OutboxRow{MessageID: "a2@hmc.example.se", Kind: "komplettering", From: "intake@hmc.example.se",
			To: []string{"chef@region.example.se"}, Cc: []string{"asa.oberg@region.example.se"}, Subject: "SV: webSesam", Raw: []byte("Subject: b\r\n\r\nhej\r\n")},
		store.OutboxRow{MessageID: "a3@hmc.example.se", Kind: "ingen-blankett", From: "intake@hmc.example.se",
			To: []string{"someone@outside.example.com"}, Subject: "SV: webSesam?", Raw: []byte("Subject: c\r\n\r\nhej\r\n")},
	)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.MarkSent(rows[0].ID, now); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(rows[2].ID, "recipient domain outside.example.com is not allowed", now); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOutboxList(t *testing.T) {
	db := outboxDB(t)
	out, errOut, code := runCLI(t, "outbox", "list", "--db", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got, want := len(lines), 4; got != want {
		t.Fatalf("got %d lines, want %d:\n%s", got, want, out)
	}
	for i, want := range []string{"ID", "3  ", "2  ", "1  "} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], want)
		}
	}
	wantContains(t, "output", out, "failed", "pending", "sent", "recipient domain outside.example.com is not allow…", "chef@region.example.se, asa.oberg@regio…")

	out, _, code = runCLI(t, "outbox", "list", "--db", db, "--state", "failed", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var rows []store.OutboxRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rows) != 1 || rows[0].ID != 3 || rows[0].State != store.OutboxFailed {
		t.Fatalf("got %+v, want only row 3, failed", rows)
	}

	// The reads are audited with the OS user as actor.
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	actor, _ := staffActor()
	entries, err := s.AuditList(actor, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	wantAudited(t, entries, store.AuditOutboxList, actor, 2)
}

func TestOutboxShowRetryCancel(t *testing.T) {
	db := outboxDB(t)

	out, errOut, code := runCLI(t, "outbox", "show", "2", "--db", db)
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	wantContains(t, "show", out, "komplettering", "<a2@hmc.example.se>", "chef@region.example.se", "asa.oberg@region.example.se", "pending")
	out, _, _ = runCLI(t, "outbox", "show", "2", "--raw", "--db", db)
	if got, want := out, "Subject: b\r\n\r\nhej\r\n"; got != want {
		t.Errorf("show --raw = %q, want %q", got, want)
	}

	out, errOut, code = runCLI(t, "outbox", "retry", "3", "--db", db)
	if code != 0 || !strings.Contains(out, "Outbox row 3 will be sent again.") {
		t.Fatalf("retry failed row: exit %d, %q %q", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "outbox", "cancel", "2", "--db", db)
	if code != 0 || !strings.Contains(out, "Outbox row 2 is cancelled.") {
		t.Fatalf("cancel pending row: exit %d, %q %q", code, out, errOut)
	}

	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	actor, _ := staffActor()
	r3, _ := s.OutboxGet(actor, 3)
	r2, _ := s.OutboxGet(actor, 2)
	s.Close()
	if r3.State != store.OutboxPending || r2.State != store.OutboxCancelled {
		t.Errorf("states after retry/cancel: row 3 %s, row 2 %s; want pending, cancelled", r3.State, r2.State)
	}
}

func TestOutboxRefusals(t *testing.T) {
	db := outboxDB(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"retry a sent row", []string{"outbox", "retry", "1"}, 1, "outbox row 1 is sent; it cannot be retried"},
		{"cancel a failed row", []string{"outbox", "cancel", "3"}, 1, "outbox row 3 is failed; it cannot be cancelled"},
		{"unknown id", []string{"outbox", "show", "99"}, 1, "not found (see 'websesam-intake outbox list')"},
		{"id not a number", []string{"outbox", "show", "abc"}, 2, `"abc" is not an outbox row id`},
		{"no id", []string{"outbox", "retry"}, 2, "retry takes 1 argument(s), got 0"},
		{"bad state", []string{"outbox", "list", "--state", "lost"}, 2, `--state must be pending, sent, failed or cancelled, not "lost"`},
		{"unknown flag", []string{"outbox", "list", "--colour"}, 2, "unknown flag: --colour"},
		{"missing database", []string{"outbox", "list", "--db", filepath.Join(t.TempDir(), "none.db")}, 1, "does not exist and no daemon answers (give the right file with --db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--db") {
				args = append(args, "--db", db)
			}
			_, errOut, code := runCLI(t, args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (%s)", code, tc.wantCode, errOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tc.wantErr)
			}
		})
	}
}

// While the daemon holds the file, a staff command says so instead of
// hanging.
func TestOutboxDatabaseHeld(t *testing.T) {
	db := outboxDB(t)
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, errOut, code := runCLI(t, "outbox", "list", "--db", db)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := "is in use by another process (is the daemon running?); no daemon answers on its socket"; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want it to contain %q", errOut, want)
	}
}

// With the daemon running, the outbox commands go through its socket: the
// body comes back whole, refusals keep their words and exit status, and
// the audit log names the peer.
func TestOutboxOverSocket(t *testing.T) {
	env := newStaffEnv(t, "daemon", outboxDB(t))
	out := mustRun(t, "outbox", "show", "2", "--raw")
	if got, want := out, "Subject: b\r\n\r\nhej\r\n"; got != want {
		t.Errorf("show --raw = %q, want %q", got, want)
	}
	if got, want := mustRun(t, "outbox", "retry", "3"), "Outbox row 3 will be sent again.\n"; got != want {
		t.Errorf("retry: %q, want %q", got, want)
	}
	if got, want := mustRun(t, "outbox", "cancel", "2"), "Outbox row 2 is cancelled.\n"; got != want {
		t.Errorf("cancel: %q, want %q", got, want)
	}
	wantRefused(t, []refusal{
		{[]string{"outbox", "retry", "1"}, 1, "outbox row 1 is sent; it cannot be retried (see 'websesam-intake outbox show')"},
		{[]string{"outbox", "show", "99"}, 1, "outbox row 99: not found (see 'websesam-intake outbox list')"},
		{[]string{"outbox", "list", "--state", "lost"}, 2, `--state must be pending, sent, failed or cancelled, not "lost"`},
	})
	out = mustRun(t, "outbox", "list", "--json")
	var rows []store.OutboxRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, r := range rows {
		states = append(states, string(r.State))
	}
	if got, want := strings.Join(states, " "), "pending cancelled sent"; got != want {
		t.Errorf("states = %q, want %q", got, want)
	}
	entries, err := env.st.AuditList("auditor", store.AuditFilter{Actor: me(t)})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if got, want := strings.Join(actions, " "), "outbox-list outbox-cancel outbox-retry outbox-show"; got != want {
		t.Errorf("audit by %s = %q, want %q", me(t), got, want)
	}
}

// TestOutboxAttempts: attempts are every try, the one that delivered
// included: a row sent at once was tried once, not zero times.
func TestOutboxAttempts(t *testing.T) {
	db := outboxDB(t)
	for _, c := range []struct{ id, want string }{
		{"1", "1 (delivered on the first)"},
		{"2", "none yet"},
		{"3", "1, none delivered"},
	} {
		out := mustRun(t, "outbox", "show", c.id, "--db", db)
		if !strings.Contains(out, "Attempts     "+c.want+"\n") {
			t.Errorf("outbox show %s: want Attempts %q:\n%s", c.id, c.want, out)
		}
	}
	out := mustRun(t, "outbox", "list", "--db", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	col := strings.Index(lines[0], "ATTEMPTS")
	if col < 0 {
		t.Fatalf("no ATTEMPTS column:\n%s", out)
	}
	for i, want := range map[int]string{1: "1", 2: "0", 3: "1"} { // rows 3, 2, 1
		if got := strings.Fields(lines[i][col:])[0]; got != want {
			t.Errorf("list line %d: attempts %s, want %s:\n%s", i, got, want, out)
		}
	}
}
