package main

// Whole-process benchmarks of the built binary: what a start costs (a form
// read in a worker process pays it once per attachment) and what `parse
// --json` of one filled PDF costs against `qpdf --json` of the same file.
// They measure and never assert speed. Each takes at least minRuns
// whole-process runs (more when -benchtime asks) and reports their median:
//
//	go test -run '^$' -bench 'Startup|ParseJSON|WorkerStart' ./cmd/websesam-intake

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/fence"
)

// minRuns is the fewest whole-process runs a median here is taken of.
const minRuns = 20

// buildBenchBinary builds the command into a temporary directory, as make
// build does minus the version stamp.
func buildBenchBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "websesam-intake")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// timedRun runs a command with its output discarded and returns how long
// the whole process took, start to exit, the CPU time it used (user and
// system), which a machine busy with other work inflates less, and its
// minor page faults (its waited-for children's included), which other
// work does not change at all: on a virtual machine they are much of what
// a start costs (every page of heap and binary touched for the first time).
func timedRun(b *testing.B, name string, args ...string) (wall, cpu time.Duration, faults int64) {
	b.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall = time.Since(start)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		faults = ru.Minflt
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), faults
}

// runs collects the wall and CPU times and page faults of repeated runs.
type runs struct {
	wall, cpu []time.Duration
	faults    []int64
}

func (r *runs) add(wall, cpu time.Duration, faults int64) {
	r.wall = append(r.wall, wall)
	r.cpu = append(r.cpu, cpu)
	r.faults = append(r.faults, faults)
}

// alternate runs the command ours and then the command theirs, one of each
// per iteration and at least minRuns of each, after one run of each that
// is not measured (it pages the binaries in).
func alternate(b *testing.B, ours, theirs []string) (runs, runs) {
	b.Helper()
	timedRun(b, ours[0], ours[1:]...)
	timedRun(b, theirs[0], theirs[1:]...)
	var o, t runs
	pair := func() {
		o.add(timedRun(b, ours[0], ours[1:]...))
		t.add(timedRun(b, theirs[0], theirs[1:]...))
	}
	for b.Loop() {
		pair()
	}
	for len(o.wall) < minRuns {
		pair()
	}
	return o, t
}

// medianFaults is the median page-fault count of the runs.
func (r *runs) medianFaults() float64 {
	s := slices.Clone(r.faults)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return float64(s[len(s)/2])
}

// median of durations, in milliseconds.
func medianMS(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return float64(m) / float64(time.Millisecond)
}

// BenchmarkStartup runs `websesam-intake --version` once per iteration and
// reports the median whole-process time (ms-median) and CPU time (ms-cpu),
// the same for a Go program that only prints a line (ms-floor: what any Go
// binary costs to start on this machine), and from one run under
// GODEBUG=inittrace=1 the total time of package initialisation (ms-init)
// and the costliest packages (in the log).
func BenchmarkStartup(b *testing.B) {
	bin := buildBenchBinary(b)
	floor := filepath.Join(b.TempDir(), "floor")
	src := filepath.Join(b.TempDir(), "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"dev\") }\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", floor, src).CombinedOutput(); err != nil {
		b.Fatalf("go build the floor program: %v\n%s", err, out)
	}
	ours, base := alternate(b, []string{bin, "--version"}, []string{floor})
	b.ReportMetric(medianMS(ours.wall), "ms-median")
	b.ReportMetric(medianMS(ours.cpu), "ms-cpu")
	b.ReportMetric(medianMS(base.wall), "ms-floor")
	b.ReportMetric(ours.medianFaults(), "faults")
	b.ReportMetric(base.medianFaults(), "faults-floor")

	var totals []time.Duration
	var top []string
	for range 5 {
		total, t := initTrace(b, bin)
		totals = append(totals, time.Duration(total*float64(time.Millisecond)))
		top = t
	}
	b.ReportMetric(medianMS(totals), "ms-init")
	b.Logf("median of %d starts %.2f ms (%.2f ms CPU, %.0f page faults), a minimal Go program %.2f ms (%.0f page faults); package init %.2f ms in all (median of %d), the costliest in the last: %s",
		len(ours.wall), medianMS(ours.wall), medianMS(ours.cpu), ours.medianFaults(), medianMS(base.wall), base.medianFaults(), medianMS(totals), len(totals), strings.Join(top, ", "))
}

// initTrace runs the binary once under GODEBUG=inittrace=1 and returns the
// sum of the packages' init clock times in milliseconds and the five
// costliest as "package ms (allocs)".
func initTrace(b testing.TB, bin string) (float64, []string) {
	b.Helper()
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s --version under inittrace: %v\n%s", bin, err, stderr.Bytes())
	}
	type pkg struct {
		name   string
		ms     float64
		allocs string
	}
	var pkgs []pkg
	var total float64
	// init github.com/x/y @0.5 ms, 0.02 ms clock, 1192 bytes, 14 allocs
	for _, line := range strings.Split(stderr.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		total += ms
		pkgs = append(pkgs, pkg{f[1], ms, f[9]})
	}
	if len(pkgs) == 0 {
		b.Fatalf("no init lines under GODEBUG=inittrace=1:\n%s", stderr.Bytes())
	}
	slices.SortFunc(pkgs, func(x, y pkg) int {
		switch {
		case x.ms > y.ms:
			return -1
		case x.ms < y.ms:
			return 1
		}
		return 0
	})
	var top []string
	for _, p := range pkgs[:min(5, len(pkgs))] {
		top = append(top, p.name+" "+strconv.FormatFloat(p.ms, 'f', 2, 64)+" ms ("+p.allocs+" allocs)")
	}
	return total, top
}

// BenchmarkParseJSONVsQpdf runs `websesam-intake parse --json` and `qpdf
// --json` on the same filled single-user PDF, alternating, one of each per
// iteration, and reports both medians and their ratio (parse/qpdf; at most
// 1 is the goal), in wall time and in CPU time. qpdf is a required tool
// here (.ci/run installs it): the benchmark fails without it rather than
// report nothing.
func BenchmarkParseJSONVsQpdf(b *testing.B) {
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		b.Fatalf("qpdf is not installed (apt-get install qpdf): %v", err)
	}
	bin := buildBenchBinary(b)
	pdf, err := filepath.Abs(filepath.Join("..", "..", "testdata", "forms", "pdf-pdftk-xfdf", "input.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	ours, theirs := alternate(b, []string{bin, "parse", "--json", pdf}, []string{qpdf, "--json", pdf})
	b.ReportMetric(medianMS(ours.wall), "ms-parse")
	b.ReportMetric(medianMS(theirs.wall), "ms-qpdf")
	b.ReportMetric(medianMS(ours.wall)/medianMS(theirs.wall), "parse/qpdf")
	b.ReportMetric(medianMS(ours.cpu)/medianMS(theirs.cpu), "parse/qpdf-cpu")
	b.ReportMetric(ours.medianFaults(), "faults-parse")
	b.ReportMetric(theirs.medianFaults(), "faults-qpdf")
}

// BenchmarkWorkerStart is what the fence costs the daemon per attachment
// with the real binary as its worker (formparse/fence's own benchmark runs
// its test binary, which links much less): start the worker, let it fence
// itself in, hand it an empty file and read its answer. ms-median is the
// median of at least minRuns such reads, in the daemon's own clock.
func BenchmarkWorkerStart(b *testing.B) {
	r := fence.Reader{Path: buildBenchBinary(b)}
	var walls []time.Duration
	read := func() {
		start := time.Now()
		_, err := r.Read(context.Background(), nil, formparse.Options{})
		walls = append(walls, time.Since(start))
		if !errors.Is(err, formparse.ErrNotAForm) {
			b.Fatalf("a fenced read of an empty file: %v, want ErrNotAForm", err)
		}
	}
	read() // page the binary in
	walls = walls[:0]
	for b.Loop() {
		read()
	}
	for len(walls) < minRuns {
		read()
	}
	b.ReportMetric(medianMS(walls), "ms-median")
}
