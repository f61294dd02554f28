//go:build e2e

package mailer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// TestCrashRecovery kills the worker process with SIGKILL 30 times at
// random moments around deliveries, restarting it each time, then lets it
// finish. Every row must end sent or failed, every copy the relay got must
// be a row's exact bytes, and a row delivered twice must carry its one
// Message-ID both times.
func TestCrashRecovery(t *testing.T) {
	const rows, kills = 100, 30
	sk := startSink(t)
	started := make(chan struct{}, 4*rows)
	sk.dataStarted = started

	path := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(path, store.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stored := enqueue(t, st, rows, "karin@kommun.se")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	env := append(os.Environ(), crashHelperEnv+"=1", crashStoreEnv+"="+path, crashSMTPEnv+"="+sk.addr)
	start := func() (*exec.Cmd, chan error, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		return cmd, exited, &stderr
	}

	for round := 0; round < kills; round++ {
		cmd, exited, stderr := start()
		// Kill after a random number of DATA commands, a random moment later:
		// sometimes before the relay answered, sometimes before MarkSent.
		wait := 1 + rnd.IntN(3)
		finished := false
		for i := 0; i < wait && !finished; i++ {
			select {
			case <-started:
			case err := <-exited:
				t.Fatalf("round %d: the helper ended before it was killed (%v): %s", round, err, stderr)
			}
		}
		time.Sleep(time.Duration(rnd.IntN(3000)) * time.Microsecond) // a random kill moment, the thing under test
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("kill: %v", err)
		}
		<-exited
		for len(started) > 0 {
			<-started
		}
	}

	// The last run finishes the outbox.
	cmd, exited, stderr := start()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("final run: %v: %s", err, stderr)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the final run did not finish the outbox")
	}

	st, err = store.Open(path, store.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	byID := map[string]store.OutboxRow{}
	for _, r := range stored {
		byID[r.MessageID] = r
	}
	copies := map[uint64]int{}
	for i, m := range sk.received() {
		r, ok := byID[m.messageID]
		if !ok {
			t.Errorf("copy %d has Message-ID %q of no row", i, m.messageID)
			continue
		}
		if !bytes.Equal(m.data, r.Raw) {
			t.Errorf("copy %d of row %d differs from the row's bytes", i, r.ID)
		}
		copies[r.ID]++
	}
	dups := 0
	for _, r := range stored {
		got := getRow(t, st, r.ID)
		if got.State != store.OutboxSent && got.State != store.OutboxFailed {
			t.Errorf("row %d ended %s", r.ID, got.State)
		}
		if got.State == store.OutboxSent && copies[r.ID] == 0 {
			t.Errorf("row %d is sent but the relay never got it", r.ID)
		}
		if copies[r.ID] > 1 {
			dups++
		}
		// Each row's request number appears only in its own copies, so a
		// second Message-ID for one row would show here.
		marker := []byte(fmt.Sprintf("R-%06d", r.ID-stored[0].ID))
		for _, m := range sk.received() {
			if bytes.Contains(m.data, marker) && m.messageID != r.MessageID {
				t.Errorf("row %d went out with two Message-IDs: %s and %s", r.ID, r.MessageID, m.messageID)
			}
		}
	}
	t.Logf("%d kills, %d rows, %d copies received, %d rows delivered more than once (each with one Message-ID)",
		kills, rows, len(sk.received()), dups)
}
