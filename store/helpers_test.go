package store

import (
	"path/filepath"
	"testing"
	"time"
)

// openTest opens a fresh store in t.TempDir() with a fixed clock the test
// can move.
func openTest(t testing.TB) (*Store, *testClock) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "db", "intake.db"), Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	clk := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	s.now = clk.now
	return s, clk
}

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time                { return c.t }
func (c *testClock) add(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
