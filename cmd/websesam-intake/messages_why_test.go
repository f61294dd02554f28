package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

// TestMessagesShowWhyReturned runs the daemon (serve --once) over every
// returned case of testdata/mail and checks that `messages show` lists each
// problem of each form by its label on the form and its reason, as the
// notice did, and that --json carries the same.
func TestMessagesShowWhyReturned(t *testing.T) {
	cases := []struct {
		fixture string
		forms   [][]string // per form with problems, the labels listed
	}{
		// Both cases lack the manager's phone and have a customer number
		// that is not six digits (testdata/mail/README.md).
		{"subject-windows-1252", [][]string{{"Kundnummer (standardkund)", "Ansvarig chef – telefon"}}},
		{"two-forms-one-incomplete", [][]string{{"Kundnummer (standardkund)", "Ansvarig chef – telefon"}}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			srv, sk := startServers(t, c.fixture)
			cfg, db := serveConfig(t, srv.Addr(), sk.Addr())
			if _, stderr, code := runServe(t, "--config", cfg, "--once"); code != 0 {
				t.Fatalf("serve --once: exit status %d; stderr:\n%s", code, stderr)
			}
			msgs := storedMessages(t, db)
			if len(msgs) != 1 || msgs[0].Outcome != store.OutcomeReturned {
				t.Fatalf("got %d messages (%v), want one returned", len(msgs), msgs)
			}
			key := msgs[0].Key.String()
			sock := db + ".nosock"
			out := mustRun(t, "messages", "show", key, "--db", db, "--socket", sock)
			for _, want := range []string{"Why it came back", "ska vara sex siffror, t.ex. 602154", "saknas"} {
				if !strings.Contains(out, want) {
					t.Fatalf("show lacks %q:\n%s", want, out)
				}
			}
			if !strings.Contains(out, "Why it came back") {
				t.Fatalf("show has no problem section:\n%s", out)
			}
			for i, labels := range c.forms {
				if !strings.Contains(out, fmt.Sprintf("Form %d (websesam-behorighet)", i+1)) {
					t.Errorf("show does not name form %d:\n%s", i+1, out)
				}
				for _, l := range labels {
					if !strings.Contains(out, "    "+l+" ") {
						t.Errorf("show does not list %q:\n%s", l, out)
					}
				}
			}
			var d store.MessageDetail
			if err := json.Unmarshal([]byte(mustRun(t, "messages", "show", key, "--json", "--db", db, "--socket", sock)), &d); err != nil {
				t.Fatal(err)
			}
			if got, want := len(d.Message.Problems), len(c.forms); got != want {
				t.Fatalf("--json: got %d forms with problems, want %d", got, want)
			}
			for i, labels := range c.forms {
				var got []string
				for _, p := range d.Message.Problems[i].Problems {
					if p.Reason == "" {
						t.Errorf("--json: %s has no reason", p.Label)
					}
					got = append(got, p.Label)
				}
				for _, l := range labels {
					if !strings.Contains(strings.Join(got, "|"), l) {
						t.Errorf("--json form %d: labels %q lack %q", i+1, got, l)
					}
				}
			}
		})
	}
}

// TestMessagesReprocessNotify: --notify reaches the daemon's mark, with and
// without a daemon; without it the mark says not to repeat a notice.
func TestMessagesReprocessNotify(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		mustRun(t, "messages", "reprocess", f.noForm.String(), "--notify")
		mustRun(t, "messages", "reprocess", f.quarantined.String())
		st := env.st
		if st == nil {
			var err error
			if st, err = store.Open(env.db, store.Options{}); err != nil {
				t.Fatal(err)
			}
			defer st.Close()
		}
		marks, err := st.ReprocessPending()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, m := range marks {
			got[m.Key.String()] = m.Notify
		}
		if want := map[string]bool{f.noForm.String(): true, f.quarantined.String(): false}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("marks' notify: got %v, want %v", got, want)
		}
	})
}
