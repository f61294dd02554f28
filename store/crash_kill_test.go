//go:build e2e

package store

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
