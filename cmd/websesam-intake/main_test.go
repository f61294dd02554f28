package main

import (
	"os"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse/fence"
)

// TestMain lets the test binary be the form-reading worker that parse and
// serve start (they run /proc/self/exe, which in a test is this binary), as
// main does for the real one; it removes the binary that testBinary built
// once the tests end.
func TestMain(m *testing.M) {
	fence.MaybeServeWorker()
	code := m.Run()
	if testBin.dir != "" {
		os.RemoveAll(testBin.dir)
	}
	os.Exit(code)
}
