package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// testBin is the real binary, built once for every test that runs it as a
// separate process (linking it is the costliest step of those tests).
var testBin struct {
	once     sync.Once
	dir, bin string
	err      error
	out      []byte
}

// testBinary builds the binary (go build, as installed: no race detector)
// the first time it is asked for and returns its path, in a directory any
// user can traverse (a test runs it as nobody).
func testBinary(t testing.TB) string {
	t.Helper()
	testBin.once.Do(func() {
		testBin.dir, testBin.err = os.MkdirTemp("", "websesam-testbin-")
		if testBin.err != nil {
			return
		}
		if testBin.err = os.Chmod(testBin.dir, 0o755); testBin.err != nil {
			return
		}
		testBin.bin = filepath.Join(testBin.dir, "websesam-intake")
		testBin.out, testBin.err = exec.Command("go", "build", "-o", testBin.bin, ".").CombinedOutput()
	})
	if testBin.err != nil {
		t.Fatalf("build the binary: %v\n%s", testBin.err, testBin.out)
	}
	return testBin.bin
}
