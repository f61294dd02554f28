//go:build e2e

package store

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCrashSafety(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	const kills = 50
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: helper did not start: %q %v", i, line, err)
		}
		time.Sleep(time.Duration(5+rand.IntN(146)) * time.Millisecond) // a random kill moment, the thing under test
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() == 3 {
			t.Fatalf("kill %d: helper ended by itself: %v", i, err)
		}
		n := checkInvariants(t, path)
		if t.Failed() {
			t.Fatalf("after kill %d of %d", i+1, kills)
		}
		if i == kills-1 {
			t.Logf("%d requests after %d kills", n, kills)
			// On a loaded machine (or under -race) a run may do little, but
			// the helper must have done real work across the kills.
			if n < kills/5 {
				t.Errorf("only %d requests recorded in %d runs: the helper did too little to prove anything", n, kills)
			}
		}
	}
}

// checkInvariants opens the file after a crash and checks that every step
// left it whole. It returns the number of requests.
func checkInvariants(t *testing.T, path string) int {
	t.Helper()
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open after kill: %v", err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
	var nreq int
	err = s.db.View(func(tx *bolt.Tx) error {
		reqs := map[string]Request{}
		mustNoErr(t, tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
			var r Request
			mustNoErr(t, decode(v, &r))
			reqs[r.ID] = r
			return nil
		}))
		nreq = len(reqs)
		rows := map[string][]string{} // request id -> kinds
		var nrows, npending int
		mustNoErr(t, tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var r OutboxRow
			mustNoErr(t, decode(v, &r))
			nrows++
			if r.Request != "" {
				rows[r.Request] = append(rows[r.Request], r.Kind)
			}
			if tx.Bucket(bucketOutboxRaw).Get(k) == nil {
				t.Errorf("outbox row %d has no body", r.ID)
			}
			if r.State == OutboxPending {
				npending++
				if tx.Bucket(bucketOutboxDue).Get(dueKey(r)) == nil {
					t.Errorf("pending row %d not in the due index", r.ID)
				}
			}
			return nil
		}))
		if got := tx.Bucket(bucketOutboxDue).Stats().KeyN; got != npending {
			t.Errorf("due index: %d entries, %d pending rows", got, npending)
		}
		if got := tx.Bucket(bucketReqStatus).Stats().KeyN; got != len(reqs) {
			t.Errorf("status index: %d entries, %d requests", got, len(reqs))
		}
		for id, r := range reqs {
			h := r.History
			if len(h) == 0 || h[0].From != "" || h[0].To != StatusQueued {
				t.Errorf("%s: history does not start with queued: %+v", id, h)
				continue
			}
			for i := 1; i < len(h); i++ {
				if h[i].From != h[i-1].To {
					t.Errorf("%s: history gap at %d: %+v", id, i, h)
				}
			}
			if last := h[len(h)-1].To; last != r.Status {
				t.Errorf("%s: status %s, history ends at %s", id, r.Status, last)
			}
			if tx.Bucket(bucketReqStatus).Get(join([]byte(r.Status), []byte(id))) == nil {
				t.Errorf("%s: not in the status index", id)
			}
			want := []string{"kvittens"}
			if r.Status == StatusDone {
				want = append(want, "klar-anvandare", "klar-chef")
				if r.Username == "" || r.ClosedAt.IsZero() {
					t.Errorf("%s: done without user name or time", id)
				}
			}
			if got := rows[id]; !slices.Equal(got, want) {
				t.Errorf("%s (%s): outbox rows %v, want %v", id, r.Status, got, want)
			}
		}
		// Messages and requests match one to one: no request without its
		// message, no message with more requests than it made.
		byMsg := map[MessageKey][]string{}
		for id, r := range reqs {
			byMsg[r.Message] = append(byMsg[r.Message], id)
		}
		mustNoErr(t, tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			var m Message
			mustNoErr(t, decode(v, &m))
			var made []string
			for _, f := range m.Forms {
				if !f.Duplicate {
					made = append(made, f.Requests...)
				}
			}
			got := byMsg[m.Key]
			slices.Sort(got)
			slices.Sort(made)
			if !slices.Equal(got, made) {
				t.Errorf("message %s: requests %v, record says %v", m.Key, got, made)
			}
			if want := crashUsers(m.Key.UID); len(made) != 0 && len(made) != want {
				t.Errorf("message %s: %d requests, want %d", m.Key, len(made), want)
			}
			delete(byMsg, m.Key)
			unsettled := tx.Bucket(bucketUnsettled).Get(k) != nil
			if unsettled == m.Settled {
				t.Errorf("message %s: settled %v but unsettled index %v", m.Key, m.Settled, unsettled)
			}
			return nil
		}))
		for k, ids := range byMsg {
			t.Errorf("requests %v point to message %s, which is not recorded", ids, k)
		}
		return nil
	})
	mustNoErr(t, err)
	return nreq
}
