package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

// Every read of personal data writes exactly one audit entry, with the
// actor, what was read (ids) and how many records came back.
func TestAuditOneEntryPerRead(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		who := me(t)
		reads := []struct {
			args   []string
			action string
			count  int
		}{
			{[]string{"queue", "list"}, store.AuditListRequests, 5},
			{[]string{"queue", "list", "--json"}, store.AuditListRequests, 5},
			{[]string{"queue", "show", f.ids[0]}, store.AuditShowRequestDetail, 1},
			{[]string{"queue", "search", "åsa"}, store.AuditSearchRequests, 2},
			{[]string{"register", "list"}, store.AuditRegisterList, 0},
			{[]string{"register", "export", t.TempDir() + "/r.xlsx"}, store.AuditRegisterExport, 0},
			{[]string{"messages", "list"}, store.AuditListMessages, 7},
			{[]string{"messages", "show", "INBOX/7/6"}, store.AuditShowMessage, 1},
			{[]string{"outbox", "list"}, store.AuditOutboxList, 5},
			{[]string{"outbox", "show", "1"}, store.AuditOutboxShow, 1},
		}
		for _, r := range reads {
			mustRun(t, r.args...)
		}
		var entries []store.AuditEntry
		env.inspect(t, func(st *store.Store) {
			var err error
			if entries, err = st.AuditList("auditor", store.AuditFilter{Actor: who}); err != nil {
				t.Fatal(err)
			}
		})
		if got, want := len(entries), len(reads); got != want {
			t.Fatalf("got %d audit entries by %s, want %d: %+v", got, who, want, entries)
		}
		for i, r := range reads {
			e := entries[len(entries)-1-i] // newest first
			if e.Action != r.action || e.Count != r.count || e.Actor != who {
				t.Errorf("%v: audit entry %+v, want action %s count %d actor %s", r.args, e, r.action, r.count, who)
			}
		}
		// The search text itself is personal data and never in the log.
		for _, e := range entries {
			if strings.Contains(strings.ToLower(e.Detail+strings.Join(e.Subjects, " ")), "åsa") {
				t.Errorf("audit entry %+v holds the search text", e)
			}
		}
		if got, want := strings.Join(entries[len(entries)-1-2].Subjects, " "), f.ids[0]+" INBOX/7/1"; got != want {
			t.Errorf("show's subjects = %q, want %q", got, want)
		}

		// audit list shows them (and logs its own reading).
		out := mustRun(t, "audit", "list", "--actor", who, "--since", "1h", "--json")
		var listed []store.AuditEntry
		if err := json.Unmarshal([]byte(out), &listed); err != nil {
			t.Fatal(err)
		}
		if got, want := len(listed), len(reads); got != want {
			t.Errorf("audit list --json gave %d entries, want %d", got, want)
		}
		out = mustRun(t, "audit", "list", "--actor", who)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got, want := strings.Join(strings.Fields(lines[0]), " "), "SEQ AT ACTOR ACTION COUNT SUBJECTS DETAIL"; got != want {
			t.Errorf("header = %q, want %q", got, want)
		}
		if fields := strings.Fields(lines[1]); len(fields) < 6 || fields[3] != who || fields[4] != store.AuditListAudit {
			t.Errorf("newest entry line = %q, want the previous audit list by %s", lines[1], who)
		}
		if got := strings.TrimSpace(mustRun(t, "audit", "list", "--actor", "nobody-"+strconv.Itoa(len(who)))); got != "No audit entries match." {
			t.Errorf("unknown actor: %q", got)
		}
		_, errOut, code := runCLI(t, "audit", "list", "--since", "last week")
		if code != 2 || !strings.Contains(errOut, `--since "last week": want a date`) {
			t.Errorf("bad --since: exit %d %q", code, errOut)
		}
	})
}
