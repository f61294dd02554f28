package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

// wantContains fails the test once for each of wants that out, the text a
// command printed (named what in the failure), lacks.
func wantContains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, out)
		}
	}
}

// fromStore opens the store at db with opts, reads it with read and closes
// it again before it returns, so that the next command can open it.
func fromStore[T any](t *testing.T, db string, opts store.Options, read func(*store.Store) (T, error)) T {
	t.Helper()
	st, err := store.Open(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	v, err := read(st)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// storedMessages are every message in the store at db, listed as "test".
func storedMessages(t *testing.T, db string) []store.Message {
	t.Helper()
	return fromStore(t, db, store.Options{}, func(st *store.Store) ([]store.Message, error) {
		return st.ListMessages("test", store.MessageFilter{})
	})
}

// wantAudited checks that entries hold n entries of action, each by actor.
func wantAudited(t *testing.T, entries []store.AuditEntry, action, actor string, n int) {
	t.Helper()
	got := 0
	for _, e := range entries {
		if e.Action == action {
			got++
			if e.Actor != actor {
				t.Errorf("%s audited as %q, want %q", action, e.Actor, actor)
			}
		}
	}
	if got != n {
		t.Errorf("got %d %s audit entries, want %d", got, action, n)
	}
}

// refusal is a command line that must fail with exit status code and an
// error output that holds wantErr.
type refusal struct {
	args    []string
	code    int
	wantErr string
}

// wantRefused runs each refusal's command in-process and checks both.
func wantRefused(t *testing.T, refusals []refusal) {
	t.Helper()
	for _, tc := range refusals {
		_, errOut, code := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, errOut, tc.code, tc.wantErr)
		}
	}
}

// runCmd runs cmd to its end with its output captured and returns stdout,
// stderr and the exit status; a command that cannot run fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return out.String(), errOut.String(), 0
}
