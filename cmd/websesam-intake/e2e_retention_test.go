//go:build e2e

package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/store"
)

// retentionOutcomes are the outcomes whose folders retention empties.
var retentionOutcomes = []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined}

// TestE2ERetentionFolders proves retention in the outcome folders against
// Dovecot: mail put in each folder with arrival dates spread over a year
// (APPEND's date sets INTERNALDATE, which the pass reads), then
// `purge --dry-run` says what would go, the daemon's pass at start removes
// exactly that (and nothing else), with one audit entry; then `purge` with
// move_to moves the next old mail to the folder named instead of
// expunging it.
func TestE2ERetentionFolders(t *testing.T) {
	s := loadStack(t)
	s.reset(t)
	dir := t.TempDir()
	cfgPath := s.writeConfig(t, dir, s.defaults())
	cfg, err := intake.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// Days of age around each folder's limit (30, 90 and 365 by default).
	ages := []int{0, 29, 31, 89, 91, 200, 364, 366, 400}
	now := time.Now()
	// put appends one mail per age to each outcome folder and returns,
	// by folder, the Message-IDs that are past the folder's time.
	put := func(round string) (past, kept map[string][]string) {
		t.Helper()
		past, kept = map[string][]string{}, map[string][]string{}
		c := s.login(t, s.intake)
		defer c.Close()
		for _, o := range retentionOutcomes {
			folder, days := cfg.Folders.For(o), cfg.Retention.FolderDays(o)
			if err := c.Create(folder, nil).Wait(); err != nil && !strings.Contains(strings.ToLower(err.Error()), "exists") {
				t.Fatalf("create %s: %v", folder, err)
			}
			for _, age := range ages {
				id := fmt.Sprintf("%s-%s-%d@region.example.se", round, strings.ToLower(string(o)), age)
				raw := message("arkiv@region.example.se", id, "webSesam", "Gammal post.", nil)
				arrived := now.Add(-time.Duration(age)*24*time.Hour - time.Hour)
				cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Time: arrived, Flags: []imap.Flag{imap.FlagSeen}})
				cmd.Write(raw)
				cmd.Close()
				if _, err := cmd.Wait(); err != nil {
					t.Fatalf("append to %s: %v", folder, err)
				}
				if age >= days {
					past[folder] = append(past[folder], id)
				} else {
					kept[folder] = append(kept[folder], id)
				}
			}
			slices.Sort(past[folder])
			slices.Sort(kept[folder])
		}
		return past, kept
	}
	// where lists the Message-IDs in each folder.
	where := func() map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, p := range s.snapshot(t, s.intake) {
			out[p.folder] = append(out[p.folder], p.messageID)
		}
		for f := range out {
			slices.Sort(out[f])
		}
		return out
	}
	union := func(a, b map[string][]string) map[string][]string {
		out := map[string][]string{}
		for _, m := range []map[string][]string{a, b} {
			for f, ids := range m {
				out[f] = append(out[f], ids...)
			}
		}
		for f := range out {
			slices.Sort(out[f])
		}
		return out
	}
	checkFolders := func(when string, want map[string][]string) {
		t.Helper()
		got := where()
		for _, f := range slices.Sorted(maps.Keys(union(got, want))) {
			if !slices.Equal(got[f], want[f]) {
				t.Errorf("%s: %s holds %v, want %v", when, f, got[f], want[f])
			}
		}
	}
	purge := func(args ...string) store.RetentionResult {
		t.Helper()
		var r store.RetentionResult
		s.cliJSON(t, &r, append([]string{"purge", "--json", "--config", cfgPath}, args...)...)
		return r
	}
	removedBy := func(r store.RetentionResult) map[string]int {
		out := map[string]int{}
		for _, f := range r.Folders {
			out[f.Folder] = f.Removed
		}
		return out
	}
	count := func(m map[string][]string) map[string]int {
		out := map[string]int{}
		for _, o := range retentionOutcomes {
			out[cfg.Folders.For(o)] = len(m[cfg.Folders.For(o)])
		}
		return out
	}

	// Round one: expunged by the daemon's pass at start. The database is
	// there already, as after the daemon's earlier runs.
	st, err := store.Open(filepath.Join(dir, "intake.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	past, kept := put("ret1")
	all := union(past, kept)
	dry := purge("--dry-run")
	if !dry.DryRun {
		t.Errorf("purge --dry-run --json: dry_run false")
	}
	if got, want := removedBy(dry), count(past); !maps.Equal(got, want) {
		t.Errorf("purge --dry-run would remove %v, want %v", got, want)
	}
	checkFolders("after purge --dry-run", all)

	d := s.start(t, dir, "serve", "--config", cfgPath)
	waitFor(t, "the daemon's retention pass at start to empty the old mail", 2*time.Minute, func() bool {
		return maps.Equal(count(where()), count(kept))
	})
	d.term(t)
	checkFolders("after the daemon's pass", kept)
	entries := fromStore(t, filepath.Join(dir, "intake.db"), store.Options{Timeout: 5 * time.Second}, func(st *store.Store) ([]store.AuditEntry, error) {
		return st.AuditList("e2e", store.AuditFilter{})
	})
	passes := slices.DeleteFunc(entries, func(e store.AuditEntry) bool { return e.Action != store.AuditPurge })
	if len(passes) != 1 {
		t.Fatalf("audit entries of retention passes: %d, want 1 (the dry run writes none): %+v", len(passes), passes)
	}
	for _, o := range retentionOutcomes {
		want := fmt.Sprintf("folder_%s=%d", o, len(past[cfg.Folders.For(o)]))
		if !strings.Contains(passes[0].Detail, want) {
			t.Errorf("audit entry %q lacks %q", passes[0].Detail, want)
		}
	}

	// Round two: `purge` by hand with move_to moves the mail past its time
	// to the folder named, which it creates.
	archive := "webSesam/Arkiv"
	cfgPath = s.writeConfig(t, dir, func() cfgOpts {
		o := s.defaults()
		o.extra = fmt.Sprintf("\n[retention]\nmove_to = %q\n", archive)
		return o
	}())
	past2, kept2 := put("ret2")
	r := purge()
	if r.DryRun {
		t.Errorf("purge --json: dry_run true")
	}
	if got, want := removedBy(r), count(past2); !maps.Equal(got, want) {
		t.Errorf("purge removed %v, want %v", got, want)
	}
	for _, f := range r.Folders {
		if f.MovedTo != archive {
			t.Errorf("purge: %s moved_to %q, want %q", f.Folder, f.MovedTo, archive)
		}
	}
	want := union(kept, kept2)
	var moved []string
	for _, ids := range past2 {
		moved = append(moved, ids...)
	}
	slices.Sort(moved)
	want[archive] = moved
	checkFolders("after purge with move_to", want)
}
