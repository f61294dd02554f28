package fence

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
)

// envTestRead chooses, in a worker started by these tests, a reader that
// misbehaves in one way, in place of formparse.Read; envTestDir is where such
// a reader leaves what the test should see.
const (
	envTestRead = "FENCE_TEST_READ"
	envTestDir  = "FENCE_TEST_DIR"
)

// TestMain makes the test binary a worker when a test starts it as one: the
// tests run real processes under real limits.
func TestMain(m *testing.M) {
	if conf, ok := os.LookupEnv(envWorker); ok {
		if os.Getenv(envTestRead) == "die-at-start" {
			// A worker that ends before it is ready, as one that cannot
			// fence itself in does.
			fmt.Fprintln(os.Stderr, "form reader: set RLIMIT_AS: operation not permitted")
			os.Exit(exitFence)
		}
		read := formparse.Read
		if r, ok := testReaders[os.Getenv(envTestRead)]; ok {
			read = r
		}
		os.Exit(serveWorker(conf, read, os.Stdin, os.Stdout, os.Stderr))
	}
	if os.Getenv(envTestRead) == "sleep" {
		// A grandchild started by the "spawn" reader: it only waits to
		// be killed with its process group.
		select {}
	}
	os.Exit(m.Run())
}

var (
	sink  [][]byte
	reads int // files read by this worker process (the "second" reader)
)

var testReaders = map[string]func([]byte, formparse.Options) (*formparse.Form, error){
	// bomb allocates without end, as an inflating stream does.
	"bomb": func([]byte, formparse.Options) (*formparse.Form, error) {
		for {
			sink = append(sink, make([]byte, 4<<20))
		}
	},
	// threads reads the file on a runtime that has started a dozen more
	// OS threads, as the Go runtime does on its own on a busy machine
	// (a thread blocked in a system call is replaced).
	"threads": func(data []byte, opts formparse.Options) (*formparse.Form, error) {
		started := make(chan struct{})
		for range 12 {
			go func() {
				runtime.LockOSThread() // this goroutine keeps its thread; the runtime starts another
				started <- struct{}{}
				select {}
			}()
			<-started
		}
		return formparse.Read(data, opts)
	},
	// second reads the first file it gets and runs out of memory on the
	// next, as a worker whose earlier files used up its room would.
	"second": func(data []byte, opts formparse.Options) (*formparse.Form, error) {
		if reads++; reads > 1 {
			fmt.Fprintln(os.Stderr, "fatal error: out of memory")
			os.Exit(2)
		}
		return formparse.Read(data, opts)
	},
	// hang waits for ever without using the CPU.
	"hang": func([]byte, formparse.Options) (*formparse.Form, error) { select {} },
	// spin burns CPU for ever.
	"spin": func([]byte, formparse.Options) (*formparse.Form, error) {
		n := 0
		for {
			n++
		}
	},
	// exit dies the way a runtime fatal error other than memory would.
	"exit": func([]byte, formparse.Options) (*formparse.Form, error) {
		os.Exit(7)
		return nil, nil
	},
	// flood answers far more than any form.
	"flood": func([]byte, formparse.Options) (*formparse.Form, error) {
		os.Stdout.Write(make([]byte, maxReply+1<<20))
		return nil, fmt.Errorf("%w: flooded", formparse.ErrNotAForm)
	},
	// network tries to connect to the address in the file.
	"network": func(data []byte, _ formparse.Options) (*formparse.Form, error) {
		c, err := net.Dial("tcp", string(data))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", formparse.ErrNotAForm, err)
		}
		c.Close()
		return nil, fmt.Errorf("%w: connected", formparse.ErrNotAForm)
	},
	// files opens files until it cannot.
	"files": func([]byte, formparse.Options) (*formparse.Form, error) {
		for i := 0; i < 100; i++ {
			if _, err := os.Open("/dev/null"); err != nil {
				return nil, fmt.Errorf("%w: %v", formparse.ErrNotAForm, err)
			}
		}
		return nil, fmt.Errorf("%w: opened 100 files", formparse.ErrNotAForm)
	},
	// spawn starts a grandchild that sleeps, writes its pid down and hangs.
	"spawn": func([]byte, formparse.Options) (*formparse.Form, error) {
		cmd := exec.Command("/proc/self/exe")
		cmd.Env = []string{envTestRead + "=sleep"}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("%w: start: %v", formparse.ErrNotAForm, err)
		}
		dir := os.Getenv(envTestDir)
		if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
			return nil, fmt.Errorf("%w: write pid: %v", formparse.ErrNotAForm, err)
		}
		select {}
	},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "forms", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSameAsInProcess: a worker gives exactly what formparse.Read gives, a
// form or an error with the same sentinel and message.
func TestSameAsInProcess(t *testing.T) {
	var r Reader
	for _, name := range []string{
		"xlsx-date-serials", "pdf-qpdf-objstreams", "xlsx-multi-60-users",
		"other-jpeg", "pdf-encrypted", "other-xlsm", "pdf-truncated",
	} {
		t.Run(name, func(t *testing.T) {
			matches, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "forms", name, "input.*"))
			if len(matches) != 1 {
				t.Fatalf("fixture %s: found %v", name, matches)
			}
			data, err := os.ReadFile(matches[0])
			if err != nil {
				t.Fatal(err)
			}
			// A minute: the race detector on a busy machine is slow, and
			// this test is about what comes back, not when.
			opts := formparse.Options{Timeout: time.Minute, Today: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
			want, wantErr := formparse.Read(data, opts)
			got, err := r.Read(context.Background(), data, opts)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("error = %v, want %v", err, wantErr)
			}
			for _, s := range []error{formparse.ErrNotAForm, formparse.ErrEncrypted, formparse.ErrTooLarge, formparse.ErrCrashed} {
				if errors.Is(err, s) != errors.Is(wantErr, s) {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, errors.Is(err, s), errors.Is(wantErr, s))
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("form = %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestMemoryBomb: a reader that allocates without end is stopped by the
// address-space limit, the parent hears "exceeded its memory limit", and the
// next file is read as usual.
func TestMemoryBomb(t *testing.T) {
	r := Reader{MemoryLimit: 64 << 20, testEnv: []string{envTestRead + "=bomb"}}
	_, err := r.Read(context.Background(), []byte("x"), formparse.Options{Timeout: time.Minute})
	if !errors.Is(err, formparse.ErrMemoryLimit) {
		t.Fatalf("error = %v, want ErrMemoryLimit", err)
	}
	if got, want := err.Error(), "the form reader exceeded its memory limit"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	var next Reader
	if _, err := next.Read(context.Background(), readFixture(t, "xlsx-date-serials/input.xlsx"), formparse.Options{Timeout: time.Minute}); err != nil {
		t.Errorf("the next file: %v", err)
	}
}

// TestThreadsFitTheBudget: the threads a worker's runtime starts do not
// eat its memory budget. In a binary linked with cgo (the daemon is, for
// the system's user lookups) each thread gets a pthread stack and, at its
// first malloc or free, a glibc malloc arena of its own that reserves 64 MiB
// of address space; a dozen threads then passed a 256 MiB budget, and a
// valid form came back as "exceeded its memory limit" (or, when the thread
// itself could not be started, as a crash).
func TestThreadsFitTheBudget(t *testing.T) {
	r := Reader{testEnv: []string{envTestRead + "=threads"}}
	form, err := r.Read(context.Background(), readFixture(t, "xlsx-date-serials/input.xlsx"), formparse.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatalf("a valid form read by a worker with a dozen more threads: %v", err)
	}
	if form.ID != formparse.Single {
		t.Errorf("form id = %q, want %q", form.ID, formparse.Single)
	}
}

// TestOutOfMemoryWords: the last words of a worker that reached its address
// space limit, in each way the runtime says it, are the memory limit; other
// last words are not.
func TestOutOfMemoryWords(t *testing.T) {
	for _, tt := range []struct {
		stderr string
		want   bool
	}{
		{"fatal error: out of memory\n", true},
		{"runtime: out of memory: cannot allocate 4194304-byte block (7798784 in use)\n", true},
		{"runtime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT: abort\n", true},
		{"==1==ThreadSanitizer: out of memory\n", true},
		{"panic: runtime error: index out of range [3] with length 3\n", false},
		{"", false},
	} {
		if got := outOfMemory(tt.stderr); got != tt.want {
			t.Errorf("outOfMemory(%q) = %v, want %v", tt.stderr, got, tt.want)
		}
	}
}

// TestHang: a reader that never returns is killed at the timeout, with its
// process group: a process it started dies too.
func TestHang(t *testing.T) {
	dir := t.TempDir()
	r := Reader{testEnv: []string{envTestRead + "=spawn", envTestDir + "=" + dir}}
	_, err := r.Read(context.Background(), []byte("x"), formparse.Options{Timeout: 2 * time.Second})
	if !errors.Is(err, formparse.ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	if got, want := err.Error(), "reading the form took too long: the form reader exceeded its time limit of 2s and was stopped"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatalf("the worker did not start its grandchild: %v", err)
	}
	pid, _ := strconv.Atoi(string(b))
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the worker's grandchild %d outlived the kill of its group", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
}

// alive reports whether pid is a process that is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	return ok && !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// TestCPULimit: a reader that spins is stopped by RLIMIT_CPU even when the
// wall-clock deadline is far (a parent that could not kill it).
func TestCPULimit(t *testing.T) {
	r := Reader{CPULimit: time.Second, testEnv: []string{envTestRead + "=spin"}}
	_, err := r.Read(context.Background(), []byte("x"), formparse.Options{Timeout: 5 * time.Minute})
	if !errors.Is(err, formparse.ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "the form reader exceeded its time limit (1s of CPU time)") {
		t.Errorf("error = %q, want the CPU time limit named", err)
	}
}

func TestCrash(t *testing.T) {
	r := Reader{testEnv: []string{envTestRead + "=exit"}}
	_, err := r.Read(context.Background(), []byte("x"), formparse.Options{})
	if !errors.Is(err, formparse.ErrCrashed) {
		t.Fatalf("error = %v, want ErrCrashed", err)
	}
	if got, want := err.Error(), "parser crashed: the form reader crashed (it ended with exit status 7)"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

// TestFlood: an answer over the bound is not kept whole, and is a crash.
func TestFlood(t *testing.T) {
	r := Reader{testEnv: []string{envTestRead + "=flood"}}
	_, err := r.Read(context.Background(), []byte("x"), formparse.Options{Timeout: 5 * time.Minute})
	if want := "parser crashed: the form reader answered more than 16777216 bytes"; !errors.Is(err, formparse.ErrCrashed) || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// TestNoNetwork: the worker cannot open a socket, not even to a listener on
// loopback.
func TestNoNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := Reader{testEnv: []string{envTestRead + "=network"}}
	_, err = r.Read(context.Background(), []byte(ln.Addr().String()), formparse.Options{})
	if !errors.Is(err, formparse.ErrNotAForm) || !strings.Contains(err.Error(), "socket: operation not permitted") {
		t.Fatalf("error = %v, want the socket refused", err)
	}
}

// TestNoFiles: the worker can hold only a handful of descriptors.
func TestNoFiles(t *testing.T) {
	r := Reader{testEnv: []string{envTestRead + "=files"}}
	_, err := r.Read(context.Background(), nil, formparse.Options{})
	if err == nil || !strings.Contains(err.Error(), "too many open files") {
		t.Fatalf("error = %v, want too many open files", err)
	}
}

// TestCancel: a worker is killed when the caller gives up, and the caller
// hears its own reason, not the worker's.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader{testEnv: []string{envTestRead + "=hang"}}
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(ctx, []byte("x"), formparse.Options{Timeout: time.Hour})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestTooLargeWithoutAWorker(t *testing.T) {
	r := Reader{Path: "/nonexistent"}
	_, err := r.Read(context.Background(), make([]byte, 11), formparse.Options{MaxSize: 10})
	if !errors.Is(err, formparse.ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
}

// BenchmarkWorkerStart is the fixed cost of the fence: start a worker, fence
// it in, answer an empty file.
func BenchmarkWorkerStart(b *testing.B) {
	var r Reader
	for b.Loop() {
		if _, err := r.Read(context.Background(), nil, formparse.Options{}); !errors.Is(err, formparse.ErrNotAForm) {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead compares a fenced read of a real form with the same read in
// process.
func BenchmarkRead(b *testing.B) {
	for _, name := range []string{"pdf-qpdf-objstreams/input.pdf", "xlsx-date-serials/input.xlsx"} {
		data := readFixture(b, name)
		b.Run("fenced/"+filepath.Ext(name)[1:], func(b *testing.B) {
			var r Reader
			for b.Loop() {
				if _, err := r.Read(context.Background(), data, formparse.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("in-process/"+filepath.Ext(name)[1:], func(b *testing.B) {
			for b.Loop() {
				if _, err := formparse.Read(data, formparse.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
