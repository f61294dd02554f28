package fence

import (
	"context"
	"errors"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
)

// idleWorkers lists the workers r keeps waiting, of every kind.
func idleWorkers(r *Reader) []*worker {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*worker
	for _, ws := range r.idle {
		out = append(out, ws...)
	}
	return out
}

func pidOf(w *worker) int { return w.cmd.Process.Pid }

var poolOpts = formparse.Options{Timeout: time.Minute, Today: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}

// A worker that answered a form reads the next file too: one process for
// several forms, each answer the same as in process.
func TestWarmWorkerReused(t *testing.T) {
	var r Reader
	data := readFixture(t, "pdf-qpdf-objstreams/input.pdf")
	want, err := formparse.Read(data, poolOpts)
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for i := range 3 {
		got, err := r.Read(context.Background(), data, poolOpts)
		if err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read %d: form = %+v\nwant %+v", i+1, got, want)
		}
		idle := idleWorkers(&r)
		if len(idle) != 1 {
			t.Fatalf("after read %d: %d workers waiting, want 1", i+1, len(idle))
		}
		if pid != 0 && pidOf(idle[0]) != pid {
			t.Errorf("read %d was answered by worker %d, want the warm worker %d", i+1, pidOf(idle[0]), pid)
		}
		pid = pidOf(idle[0])
		if got := idle[0].uses; got != i+1 {
			t.Errorf("after read %d: the worker has read %d files, want %d", i+1, got, i+1)
		}
	}
}

// A worker whose answer was not a form is never given another file, nor is
// one that failed; the next file gets a new worker.
func TestWorkerNotReusedAfterAnError(t *testing.T) {
	var r Reader
	form := readFixture(t, "pdf-qpdf-objstreams/input.pdf")
	if _, err := r.Read(context.Background(), form, poolOpts); err != nil {
		t.Fatal(err)
	}
	first := pidOf(idleWorkers(&r)[0])
	_, err := r.Read(context.Background(), []byte("not a form at all"), poolOpts)
	if !errors.Is(err, formparse.ErrNotAForm) {
		t.Fatalf("a text file: %v, want ErrNotAForm", err)
	}
	if idle := idleWorkers(&r); len(idle) != 0 {
		t.Fatalf("after an answer that was no form: %d workers waiting, want none", len(idle))
	}
	if _, err := r.Read(context.Background(), form, poolOpts); err != nil {
		t.Fatal(err)
	}
	if idle := idleWorkers(&r); len(idle) != 1 || pidOf(idle[0]) == first {
		t.Errorf("the next form was read by worker %v, want a new one (not %d)", idle, first)
	}
}

// A warm worker that died while it waited is not handed the next file: the
// file is read by a new worker as if nothing had happened.
func TestDeadIdleWorkerReplaced(t *testing.T) {
	var r Reader
	form := readFixture(t, "xlsx-date-serials/input.xlsx")
	if _, err := r.Read(context.Background(), form, poolOpts); err != nil {
		t.Fatal(err)
	}
	w := idleWorkers(&r)[0]
	if err := syscall.Kill(pidOf(w), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w.done
	if _, err := r.Read(context.Background(), form, poolOpts); err != nil {
		t.Fatalf("the file after a warm worker died: %v", err)
	}
	if idle := idleWorkers(&r); len(idle) != 1 || pidOf(idle[0]) == pidOf(w) {
		t.Errorf("workers waiting: %v, want one new worker", idle)
	}
}

// A worker that used a quarter of its CPU time, or grew its address space
// by a quarter of its memory budget since its first file, leaves instead of
// waiting.
func TestWorkerLeavesNearItsLimits(t *testing.T) {
	var r Reader
	if _, err := r.Read(context.Background(), readFixture(t, "pdf-qpdf-objstreams/input.pdf"), poolOpts); err != nil {
		t.Fatal(err)
	}
	w := idleWorkers(&r)[0]
	if !w.fresh() {
		t.Fatalf("a worker that read one small form is not fresh: first address space %d, settings %+v", w.firstVM, w.set)
	}
	vm, err := addressSpaceOf(pidOf(w))
	if err != nil {
		t.Fatal(err)
	}
	grown := *w
	grown.firstVM = vm - w.set.MemoryLimit/4 - 1<<20
	if grown.fresh() {
		t.Errorf("a worker whose address space grew by over a quarter of %d bytes is fresh", w.set.MemoryLimit)
	}
	spent := *w
	spent.set.CPUSeconds = 0
	if cpu, _ := processCPU(pidOf(w)); cpu > 0 && spent.fresh() {
		t.Errorf("a worker that used %s of a 0 s CPU budget is fresh", cpu)
	}
}

// A reused worker's file keeps the CPU time its parse timeout needs: with a
// long parse_timeout a quarter of the budget spent already cuts into it.
func TestCPUFresh(t *testing.T) {
	s := time.Second
	for _, tt := range []struct {
		cpu     time.Duration
		timeout time.Duration
		limit   uint64
		want    bool
	}{
		{0, 10 * s, 15, true},
		{4 * s, 10 * s, 15, true},
		{4*s + 10*time.Millisecond, 10 * s, 15, false},
		{4 * s, 60 * s, 65, true},
		{10 * s, 60 * s, 65, false}, // a quarter would have kept it: 48.75 s of CPU against a 60 s deadline
		{0, 10 * s, 1, true},        // a CPU limit under the timeout: only an unused worker
		{10 * time.Millisecond, 10 * s, 1, false},
	} {
		if got := cpuFresh(tt.cpu, settings{Timeout: tt.timeout, CPUSeconds: tt.limit}); got != tt.want {
			t.Errorf("cpuFresh(%s, timeout %s, limit %d s) = %v, want %v", tt.cpu, tt.timeout, tt.limit, got, tt.want)
		}
	}
}

// processCPU reads this process's CPU time as the kernel counts it.
func TestProcessCPU(t *testing.T) {
	deadline := time.Now().Add(50 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		_ = n * n
	}
	cpu, err := processCPU(syscall.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu < 10*time.Millisecond {
		t.Errorf("processCPU = %s after spinning 50 ms, want at least 10 ms", cpu)
	}
}

// A worker reads at most maxUses files: after the last it leaves, and the
// next file gets a new one.
func TestWorkerRetiresAfterMaxUses(t *testing.T) {
	var r Reader
	file := readFixture(t, "pdf-qpdf-objstreams/input.pdf")
	var first int
	for n := 1; n <= maxUses+1; n++ {
		if _, err := r.Read(context.Background(), file, poolOpts); err != nil {
			t.Fatalf("file %d: %v", n, err)
		}
		idle := idleWorkers(&r)
		switch {
		case n == maxUses:
			if len(idle) != 0 {
				t.Fatalf("after file %d: %d idle workers, want none (the worker read its last)", n, len(idle))
			}
		case len(idle) != 1:
			t.Fatalf("after file %d: %d idle workers, want 1", n, len(idle))
		case n == 1:
			first = pidOf(idle[0])
		case n < maxUses && pidOf(idle[0]) != first:
			t.Fatalf("file %d read by pid %d, want the first worker (pid %d) until %d files", n, pidOf(idle[0]), first, maxUses)
		case n > maxUses && pidOf(idle[0]) == first:
			t.Fatalf("file %d read by the first worker again, want a new one after %d files", n, maxUses)
		}
	}
}

// An idle worker leaves after idleTimeout: its process ends and it is no
// longer offered.
func TestIdleWorkerLeaves(t *testing.T) {
	defer func(d time.Duration) { idleTimeout = d }(idleTimeout)
	idleTimeout = 50 * time.Millisecond
	var r Reader
	if _, err := r.Read(context.Background(), readFixture(t, "pdf-qpdf-objstreams/input.pdf"), poolOpts); err != nil {
		t.Fatal(err)
	}
	idle := idleWorkers(&r)
	if len(idle) != 1 {
		t.Fatalf("%d idle workers after a form, want 1", len(idle))
	}
	w := idle[0]
	select {
	case <-w.done:
	case <-time.After(time.Minute):
		t.Fatalf("the idle worker (pid %d) had not ended a minute after its idle time of %s", pidOf(w), idleTimeout)
	}
	if n := len(idleWorkers(&r)); n != 0 {
		t.Errorf("%d idle workers after the idle time, want none", n)
	}
}

// A file on which a reused worker failed without an answer is read again by
// a fresh worker, with the whole of its limits: what the worker's earlier
// files used is not held against it.
func TestReusedWorkerFailureReadsAgainFresh(t *testing.T) {
	r := Reader{testEnv: []string{envTestRead + "=second"}}
	file := readFixture(t, "xlsx-date-serials/input.xlsx")
	if _, err := r.Read(context.Background(), file, poolOpts); err != nil {
		t.Fatal(err)
	}
	first := pidOf(idleWorkers(&r)[0])
	form, err := r.Read(context.Background(), file, poolOpts)
	if err != nil {
		t.Fatalf("second file, the reused worker out of memory: %v, want the form from a fresh worker", err)
	}
	if form.ID != formparse.Single {
		t.Errorf("form id = %q, want %q", form.ID, formparse.Single)
	}
	idle := idleWorkers(&r)
	if len(idle) != 1 || pidOf(idle[0]) == first {
		t.Errorf("idle workers after the second file: %d, want one other than pid %d", len(idle), first)
	}
}

// A worker that ends before it is ready never got the file: the read is
// ErrUnavailable (the daemon tries the mail again), not a crash blamed on it.
func TestWorkerDiesAtStart(t *testing.T) {
	r := Reader{testEnv: []string{envTestRead + "=die-at-start"}}
	_, err := r.Read(context.Background(), []byte("x"), poolOpts)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, formparse.ErrCrashed) {
		t.Fatalf("error = %v, want ErrUnavailable and ErrCrashed", err)
	}
	if got, want := err.Error(), "parser crashed: the form reader crashed (it ended with exit status 4)"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

// A worker that cannot be started says so with ErrUnavailable (the host's
// failure, not the file's) and still matches ErrCrashed for those that
// only know formparse's sentinels.
func TestWorkerUnavailable(t *testing.T) {
	r := Reader{Path: "/nonexistent/websesam-intake"}
	_, err := r.Read(context.Background(), []byte("x"), poolOpts)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, formparse.ErrCrashed) {
		t.Fatalf("Read with no worker binary: %v, want ErrUnavailable and ErrCrashed", err)
	}
	if want := "parser crashed: start the form reader: fork/exec /nonexistent/websesam-intake: no such file or directory"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
