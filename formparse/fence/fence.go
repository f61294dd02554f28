// Package fence reads form files in a fenced worker process, never inside the
// daemon.
//
// A Go process that runs out of memory dies whole (no recover catches
// "fatal error: out of memory"), and a parser goroutine that overran its
// time cannot be stopped. So every file is read by the same binary re-run in
// a hidden worker mode: the parent starts it with one environment variable
// set, writes the file to its stdin and reads one JSON answer from its
// stdout. Before the worker reads a byte it fences itself in:
//
//   - RLIMIT_AS: its idle address space (Go reserves about 1.2 GB of address
//     space up front, which is never memory in use) plus a budget, so a
//     parser that allocates without end dies at the budget with Go's "out of
//     memory", not the host;
//   - RLIMIT_CPU: the parse timeout plus a few seconds, so a worker whose
//     parent is gone cannot spin on (SIGXCPU, then SIGKILL);
//   - RLIMIT_NOFILE: a handful, so it cannot open files;
//   - no network: a seccomp filter that makes socket(2) fail with EPERM,
//     installed with PR_SET_NO_NEW_PRIVS (both allowed to an unprivileged
//     process). A network namespace would be stronger but needs user
//     namespaces, which hardened hosts and systemd's RestrictNamespaces=
//     refuse; the worker has no reason to touch the network at all, and
//     with no socket it cannot.
//
// The worker says it is ready (fenced in, about to read) with a first
// newline on stdout; the parent kills the worker's whole process group at
// the parse timeout counted from then, and the worker dies with the parent
// (PR_SET_PDEATHSIG). The worker's environment is only its settings: nothing
// of the daemon's (credentials) reaches it. A worker that is
// killed, hits a limit or crashes gives an error wrapping
// formparse.ErrMemoryLimit, formparse.ErrTimeout or formparse.ErrCrashed
// with a specific message; the daemon quarantines that message.
//
// A start costs tens of milliseconds (BenchmarkWorkerStart), so a worker
// whose answer was a form is kept warm for the next file with the same
// settings, within bounds that keep every file's limits (pool.go); a worker
// that answered anything else or failed is never given another file.
package fence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
)

// ErrUnavailable is wrapped by the error of a read whose worker could not
// be started (the host could not run it, it ended before it was ready, or
// it did not start within the start limit): nothing about the file, which
// the worker never got. It wraps how the start failed as well
// (formparse.ErrCrashed, ErrTimeout or ErrMemoryLimit).
var ErrUnavailable = errors.New("the form reader could not be started")

// envWorker is set, to the worker's settings as JSON, only in the
// environment of a worker. Its presence is what makes MaybeServeWorker serve.
const envWorker = "WEBSESAM_INTAKE_FORM_WORKER"

// Defaults of a Reader.
const (
	// DefaultMemoryLimit is the address space a worker may add to what it
	// holds idle. A 20,000-field PDF took 116 MB; the forms are tiny.
	DefaultMemoryLimit = 256 << 20
	// maxReply bounds the worker's answer (the largest real form, 500
	// users with every value at its maximum length, is about 1 MB).
	maxReply = 16 << 20
	// maxStderr is what is kept of a worker's stderr to classify its death.
	maxStderr = 64 << 10
	// cpuGrace is the CPU time a worker gets beyond the parse timeout: its
	// own start (a race-instrumented test binary takes a good part of a
	// second) and the collector's threads.
	cpuGrace = 5 * time.Second
	// minStartLimit bounds the start of a worker (exec, runtime start,
	// fencing in) when the parse timeout is shorter.
	minStartLimit = 30 * time.Second
	// openFiles is the worker's RLIMIT_NOFILE: stdin, stdout, stderr and the
	// few descriptors the Go runtime opens (epoll, its event fd, pipes).
	openFiles = 16
)

// Reader reads files in fenced worker processes. The zero value is ready:
// it runs this very binary (/proc/self/exe, so a binary replaced on disk
// while the daemon runs is not mixed with the running one) under the default
// limits. A Reader is safe for concurrent use; every Read has its own worker.
type Reader struct {
	// Path is the binary to run as the worker; "" means /proc/self/exe. Its
	// main must call MaybeServeWorker first thing.
	Path string
	// MemoryLimit is the address space the worker may grow by beyond its
	// idle size; 0 means DefaultMemoryLimit.
	MemoryLimit int64
	// CPULimit is the worker's CPU time; 0 means the parse timeout plus
	// cpuGrace (the parent kills it at the timeout anyway: this limit is
	// what stops a worker whose parent could not).
	CPULimit time.Duration

	// testEnv is added to the worker's environment by this package's tests,
	// to choose a misbehaving reader in the test binary.
	testEnv []string

	mu   sync.Mutex
	idle map[string][]*worker // warm workers by settings (pool.go)
}

// settings is what a worker learns from its parent, in envWorker.
type settings struct {
	MaxSize         int64         `json:"max_size"`
	MaxUnzippedSize int64         `json:"max_unzipped_size"`
	Timeout         time.Duration `json:"timeout"`
	Today           time.Time     `json:"today"`
	MemoryLimit     int64         `json:"memory_limit"`
	CPUSeconds      uint64        `json:"cpu_seconds"`
}

// reply is the worker's one JSON answer: a form, or an error with its kind.
type reply struct {
	Form  *wireForm  `json:"form,omitempty"`
	Error *wireError `json:"error,omitempty"`
	// NoNetwork says whether the seccomp filter is in place (it is where
	// the kernel has seccomp, which every supported host has).
	NoNetwork bool `json:"no_network"`
}

// wireForm carries a formparse.Form whole (its own JSON is the `parse
// --json` object, which does not keep the format or the raw field map).
type wireForm struct {
	ID       formparse.FormID         `json:"id"`
	Version  int                      `json:"version"`
	Format   formparse.Format         `json:"format"`
	Fields   map[string]string        `json:"fields"`
	Users    []formparse.User         `json:"users"`
	Problems []formparse.FieldProblem `json:"problems"`
}

type wireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Error kinds on the wire, one per formparse sentinel.
var kinds = []struct {
	name     string
	sentinel error
}{
	{"not-a-form", formparse.ErrNotAForm},
	{"encrypted", formparse.ErrEncrypted},
	{"too-large", formparse.ErrTooLarge},
	{"timeout", formparse.ErrTimeout},
	{"crashed", formparse.ErrCrashed},
	{"memory", formparse.ErrMemoryLimit},
}

// workerError is an error that came back from a worker: its message exactly
// as the worker's formparse gave it, matching the same sentinel.
type workerError struct {
	msg      string
	sentinel error
}

func (e *workerError) Error() string { return e.msg }
func (e *workerError) Unwrap() error { return e.sentinel }

// Read reads data as formparse.Read would, in a fenced worker: the same form
// or the same error (wrapping the same sentinel, with the same message), and
// never anything worse. A worker that dies gives an error wrapping
// formparse.ErrMemoryLimit ("the form reader exceeded its memory limit"),
// formparse.ErrTimeout ("… its time limit") or formparse.ErrCrashed. The
// worker is killed at opts.Timeout or when ctx ends (ctx.Err() then).
//
// A worker that answered a form is kept warm for the next file (pool.go);
// one that answered anything else, or failed, is never used again. A file
// a reused worker failed on without an answer is read once more by a fresh
// worker, so that it is judged under its whole limits.
func (r *Reader) Read(ctx context.Context, data []byte, opts formparse.Options) (*formparse.Form, error) {
	opts = withDefaults(opts)
	if int64(len(data)) > opts.MaxSize {
		// The same answer the worker would give, without starting one.
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", formparse.ErrTooLarge, len(data), opts.MaxSize)
	}
	set := settings{
		MaxSize: opts.MaxSize, MaxUnzippedSize: opts.MaxUnzippedSize, Timeout: opts.Timeout, Today: opts.Today,
		MemoryLimit: r.MemoryLimit, CPUSeconds: uint64((opts.Timeout + cpuGrace + time.Second - 1) / time.Second),
	}
	if set.MemoryLimit <= 0 {
		set.MemoryLimit = DefaultMemoryLimit * raceFactor
	}
	if r.CPULimit > 0 {
		set.CPUSeconds = uint64((r.CPULimit + time.Second - 1) / time.Second)
	}
	env, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("start the form reader: %w", err)
	}
	path := r.Path
	if path == "" {
		path = "/proc/self/exe"
	}
	// The worker gets an environment of its own: nothing of the daemon's
	// (credentials, proxies) reaches the process that reads a stranger's file.
	// GOMAXPROCS set spares the worker's runtime reading its cgroup's CPU
	// limit at start; the worker uses at most two (fenceIn) anyway.
	// MALLOC_ARENA_MAX=1: the binary is linked with cgo, and glibc gives
	// every new thread its own malloc arena, 64 MiB of address space
	// reserved at the thread's first malloc or free; a worker whose
	// runtime started a few threads on a busy machine then ran out of its
	// memory budget on a valid form. With one arena a thread costs its
	// stack alone.
	workerEnv := append(append([]string{envWorker + "=" + string(env), "GOTRACEBACK=single", "MALLOC_ARENA_MAX=1",
		"GOMAXPROCS=" + strconv.Itoa(min(runtime.GOMAXPROCS(0), 2))}, raceEnv...), r.testEnv...)
	key := path + "\x00" + strings.Join(workerEnv, "\x00")

	startLimit := max(opts.Timeout, minStartLimit)
	w := r.take(key)
	reused := w != nil
	if !reused {
		if w, err = r.start(ctx, key, path, workerEnv, set, startLimit); err != nil {
			return nil, err
		}
	}
	form, answered, err := w.read(ctx, data, opts.Timeout)
	if err == nil {
		r.put(w)
		return form, nil
	}
	w.retire()
	if !reused || answered || ctx.Err() != nil {
		return nil, err
	}
	// A reused worker that failed without an answer (a limit, a crash, or
	// it died while it waited) had less of its budget left than a fresh
	// one: the file gets a fresh worker, with its whole limits, before
	// what happened is held against it.
	if w, err = r.start(ctx, key, path, workerEnv, set, startLimit); err != nil {
		return nil, err
	}
	form, _, err = w.read(ctx, data, opts.Timeout)
	if err == nil {
		r.put(w)
	} else {
		w.retire()
	}
	return form, err
}

// classify names how a worker that gave no answer ended.
func classify(ps *os.ProcessState, waitErr error, stderr string, cpuLimit uint64) error {
	var status syscall.WaitStatus
	var cpu time.Duration
	if ps != nil {
		status, _ = ps.Sys().(syscall.WaitStatus)
		cpu = ps.UserTime() + ps.SystemTime()
	}
	switch {
	case outOfMemory(stderr):
		return &workerError{msg: formparse.ErrMemoryLimit.Error(), sentinel: formparse.ErrMemoryLimit}
	case status.Exited() && status.ExitStatus() == exitCPU,
		status.Signaled() && status.Signal() == syscall.SIGXCPU,
		// Nobody here sent this SIGKILL (the deadline is handled before):
		// at the CPU limit it is the kernel's, at RLIMIT_CPU's hard limit.
		status.Signaled() && status.Signal() == syscall.SIGKILL && cpu >= time.Duration(cpuLimit)*time.Second:
		return &workerError{
			msg:      fmt.Sprintf("%v: the form reader exceeded its time limit (%s of CPU time)", formparse.ErrTimeout, time.Duration(cpuLimit)*time.Second),
			sentinel: formparse.ErrTimeout,
		}
	}
	how := "without an answer"
	if waitErr != nil {
		how = "with " + waitErr.Error()
	}
	return &workerError{msg: fmt.Sprintf("%v: the form reader crashed (it ended %s)", formparse.ErrCrashed, how), sentinel: formparse.ErrCrashed}
}

// outOfMemory recognises the Go runtime's last words when an allocation
// fails at RLIMIT_AS.
//
// A race-enabled runtime must place its heap where the race detector has
// shadow memory; when mmap fails there it says "too many address space
// collisions", and ThreadSanitizer, failing to map shadow memory or its own
// trace parts, "failed to allocate" or "out of memory" (exit status 66, one
// run in twenty-five under load): under RLIMIT_AS all mean the same.
func outOfMemory(stderr string) bool {
	for _, s := range []string{"fatal error: out of memory", "runtime: out of memory", "cannot allocate memory", "too many address space collisions",
		"ThreadSanitizer failed to allocate", "ThreadSanitizer: out of memory",
		// A new thread's stack is mapped too: under RLIMIT_AS cgo's
		// pthread_create fails with EAGAIN when the limit is reached.
		"runtime/cgo: pthread_create failed"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

func decodeReply(b []byte) (*formparse.Form, error) {
	var rep reply
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, &workerError{msg: fmt.Sprintf("%v: the form reader's answer is not readable (%v)", formparse.ErrCrashed, err), sentinel: formparse.ErrCrashed}
	}
	switch {
	case rep.Error != nil:
		for _, k := range kinds {
			if k.name == rep.Error.Kind {
				return nil, &workerError{msg: rep.Error.Message, sentinel: k.sentinel}
			}
		}
		return nil, &workerError{msg: fmt.Sprintf("%v: %s", formparse.ErrCrashed, rep.Error.Message), sentinel: formparse.ErrCrashed}
	case rep.Form != nil:
		f := rep.Form
		return &formparse.Form{ID: f.ID, Version: f.Version, Format: f.Format, Fields: f.Fields, Users: f.Users, Problems: f.Problems}, nil
	}
	return nil, &workerError{msg: fmt.Sprintf("%v: the form reader answered neither a form nor an error", formparse.ErrCrashed), sentinel: formparse.ErrCrashed}
}

// withDefaults fills opts as formparse does, so that parent and worker agree
// on the limits.
func withDefaults(o formparse.Options) formparse.Options {
	if o.MaxSize <= 0 {
		o.MaxSize = formparse.DefaultMaxSize
	}
	if o.MaxUnzippedSize <= 0 {
		o.MaxUnzippedSize = formparse.DefaultMaxUnzippedSize
	}
	if o.Timeout <= 0 {
		o.Timeout = formparse.DefaultTimeout
	}
	return o
}

// limitedBuffer keeps the first max bytes written (the worker's stderr) and
// drops the rest; it never refuses a write, so the worker is not blocked on
// a full pipe. It has only Write (no ReadFrom, which io.Copy would prefer
// and which would bypass the limit).
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }

var _ io.Writer = (*limitedBuffer)(nil)
