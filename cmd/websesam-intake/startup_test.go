package main

import (
	"debug/buildinfo"
	"strings"
	"testing"
)

// droppedForStartup are modules left out of the binary because their
// package initialisation cost every start (and every form-reading worker
// is a start) far more than they gave: the Prometheus client (with expvar,
// procfs and protobuf; intake/ops writes the text format itself).
var droppedForStartup = []string{
	"github.com/prometheus/client_golang",
	"github.com/prometheus/common",
	"github.com/prometheus/procfs",
	"google.golang.org/protobuf",
}

// TestStartupInit reports what the package initialisation of the built
// binary costs, from one run under GODEBUG=inittrace=1 (logged, never
// asserted: speed is BenchmarkStartup's), and fails when a module dropped
// for its start-up cost is linked in again.
func TestStartupInit(t *testing.T) {
	bin := testBinary(t)
	total, top := initTrace(t, bin)
	t.Logf("package initialisation: %.2f ms in all; the costliest: %s", total, strings.Join(top, ", "))

	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("read the build information of %s: %v", bin, err)
	}
	linked := map[string]bool{}
	for _, d := range info.Deps {
		linked[d.Path] = true
	}
	for _, m := range droppedForStartup {
		if linked[m] {
			t.Errorf("%s is linked into the binary again; its package initialisation runs at every start (see droppedForStartup)", m)
		}
	}
}
