package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

func TestMessagesListShow(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		out := mustRun(t, "messages", "list", "--outcome", "quarantined")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "INBOX/7/6  ") || !strings.Contains(lines[1], "nagon@outside.example.com") ||
			!strings.Contains(lines[1], "sender domain not allowed") {
			t.Errorf("quarantined messages:\n%s", out)
		}
		out = mustRun(t, "messages", "list", "--json")
		var msgs []store.Message
		if err := json.Unmarshal([]byte(out), &msgs); err != nil {
			t.Fatal(err)
		}
		if got, want := len(msgs), 7; got != want {
			t.Errorf("got %d messages, want %d", got, want)
		}
		out = mustRun(t, "messages", "show", "INBOX/7/1")
		wantContains(t, "show", out, "INBOX/7/1", "<m1@region.example.se>", "asa.oberg@region.example.se", "queued", "requests "+f.ids[0], "not yet moved on the server")
		out = mustRun(t, "messages", "show", "INBOX/7/6")
		wantContains(t, "show of a quarantined message", out,
			"Sender verdict  dmarc-fail: dmarc=fail dkim=none spf=fail (1 header by mx.region.example.se)\n",
		)
		out = mustRun(t, "messages", "show", "INBOX/7/7")
		if want := "Sender verdict  not read (no [trust] authserv_id when it was decided)\n"; !strings.Contains(out, want) {
			t.Errorf("show of a message decided without verdicts lacks %q:\n%s", want, out)
		}
		wantRefused(t, []refusal{
			{[]string{"messages", "show", "INBOX/7/99"}, 1, "message INBOX/7/99: not found (see 'websesam-intake messages list')"},
			{[]string{"messages", "show", "INBOX/7"}, 2, `"INBOX/7" is not a message (MAILBOX/UIDVALIDITY/UID, as 'messages list' shows)`},
			{[]string{"messages", "list", "--outcome", "lost"}, 2, `--outcome must be queued, returned, no-form, ignored or quarantined, not "lost"`},
		})
	})
}

// reprocess marks a quarantined or no-form message for the daemon, on
// purpose and on the record; anything else is refused.
func TestMessagesReprocess(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		who := me(t)
		when := "on its next pass"
		if env.st == nil {
			when = "when it next runs"
		}
		if got, want := mustRun(t, "messages", "reprocess", "INBOX/7/6", "--note", "outside.example.com tillåten"),
			"Message INBOX/7/6 will be decided again by the daemon "+when+".\n"; got != want {
			t.Errorf("reprocess: %q, want %q", got, want)
		}
		mustRun(t, "messages", "reprocess", "INBOX/7/7")
		out := mustRun(t, "messages", "show", "INBOX/7/6")
		wantContains(t, "show after reprocess", out, "asked by "+who, "waiting for the daemon", "History", "reprocess-requested", "quarantined", "outside.example.com tillåten")
		for _, tc := range []struct {
			name, key string
			wantErr   string
		}{
			{"twice", "INBOX/7/6", "message INBOX/7/6 (quarantined) is already waiting to be reprocessed (asked by " + who},
			{"a queued message", "INBOX/7/1", "message INBOX/7/1 (queued) was decided on a readable form or an automatic message; only quarantined and no-form messages can be reprocessed"},
			{"unknown", "INBOX/7/99", "message INBOX/7/99: not found (see 'websesam-intake messages list')"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, errOut, code := runCLI(t, "messages", "reprocess", tc.key)
				if code != 1 || !strings.Contains(errOut, tc.wantErr) {
					t.Errorf("exit %d %q, want 1 and %q", code, errOut, tc.wantErr)
				}
			})
		}
		env.inspect(t, func(st *store.Store) {
			marks, err := st.ReprocessPending()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range marks {
				got = append(got, m.Key.String()+" "+m.Actor+" "+string(m.Outcome))
			}
			if want := "INBOX/7/6 " + who + " quarantined|INBOX/7/7 " + who + " no-form"; strings.Join(got, "|") != want {
				t.Errorf("pending marks = %q, want %q", strings.Join(got, "|"), want)
			}
		})
	})
}
