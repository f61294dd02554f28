package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

// runCLIIn is runCLI with the given standard input.
func runCLIIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func TestQueueReview(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		answers := strings.Join([]string{
			"c", "d", "asaobe01", // oldest: Åsa, done
			"n",                           // Anna: next
			"c", "x", "r", "Fel blankett", // Åsa's andring: a wrong key, then rejected
			"q", // Per: quit
		}, "\n") + "\n"
		out, errOut, code := runCLIIn(t, answers, "queue", "review")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantContains(t, "review output", out,
			"— 1 of 5 —", "Åsa", "Claimed "+f.ids[0]+".", "Request "+f.ids[0]+" is done; the notices are in the outbox.",
			"— 2 of 5 —", "— 3 of 5 —", `"x" is not one of d, r, l, u.`,
			"Request "+f.ids[2]+" is rejected; the notice is in the outbox.", "— 4 of 5 —",
			"Reviewed 3 of 5 queued requests.",
		)
		if strings.Contains(out, "— 5 of 5 —") {
			t.Errorf("review went on after quit:\n%s", out)
		}
		env.inspect(t, func(st *store.Store) {
			want := []store.Status{store.StatusDone, store.StatusQueued, store.StatusRejected, store.StatusQueued, store.StatusQueued}
			for i, id := range f.ids {
				d, err := st.ShowRequestDetail("test", id)
				if err != nil {
					t.Fatal(err)
				}
				if d.Request.Status != want[i] {
					t.Errorf("%s is %s, want %s", id, d.Request.Status, want[i])
				}
			}
			d, _ := st.ShowRequestDetail("test", f.ids[0])
			if d.Request.Username != "asaobe01" || d.Request.ClaimedBy != me(t) {
				t.Errorf("done request: user %q claimed by %q", d.Request.Username, d.Request.ClaimedBy)
			}
		})

		// The input ends while a request is claimed: it stays claimed.
		out, errOut, code = runCLIIn(t, "c\n", "queue", "review")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, f.ids[1]+" stays claimed by you.") {
			t.Errorf("end of input while claimed:\n%s", out)
		}
	})
}

// TestQueueReviewPlain: --plain keeps the line mode (the default off a
// terminal, as in every test here), so scripts can pipe their answers.
func TestQueueReviewPlain(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		out, errOut, code := runCLIIn(t, "q\n", "queue", "review", "--plain")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "— 1 of 5 —") || !strings.Contains(out, "[c]laim, [n]ext, [q]uit? ") {
			t.Errorf("queue review --plain is not the line mode:\n%s", out)
		}
	})
}
