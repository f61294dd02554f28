package fence

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/regionhmc/websesam-intake/formparse"
)

// Exit statuses of a worker that could not answer.
const (
	exitCPU   = 3 // SIGXCPU: the CPU time limit was reached
	exitFence = 4 // the limits could not be set: the file was not read
	exitSetup = 5 // the settings from the parent were unreadable
)

// MaybeServeWorker turns this process into a form-reading worker when its
// parent started it as one, and then never returns; otherwise it returns at
// once. main calls it first thing, before flags, configuration or logging,
// so that a worker runs nothing of the daemon (package initialisers, which
// only set variables, have run by then).
func MaybeServeWorker() {
	conf, ok := os.LookupEnv(envWorker)
	if !ok {
		return
	}
	os.Exit(serveWorker(conf, formparse.Read, os.Stdin, os.Stdout, os.Stderr))
}

// serveWorker is the worker: fence in, read the file, answer. read is
// formparse.Read except in this package's tests, which put misbehaving
// readers in its place to see the fences hold.
func serveWorker(conf string, read func([]byte, formparse.Options) (*formparse.Form, error), stdin io.Reader, stdout, stderr io.Writer) int {
	var set settings
	if err := json.Unmarshal([]byte(conf), &set); err != nil {
		fmt.Fprintf(stderr, "form reader: read settings: %v\n", err)
		return exitSetup
	}
	// SIGXCPU comes at the soft CPU limit; answering it with an exit
	// status of our own tells the parent why (the hard limit, a second
	// later, is SIGKILL).
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, syscall.SIGXCPU)
	go func() {
		<-xcpu
		fmt.Fprintln(stderr, "form reader: CPU time limit reached")
		os.Exit(exitCPU)
	}()
	noNetwork, err := fenceIn(set)
	if err != nil {
		fmt.Fprintf(stderr, "form reader: %v\n", err)
		return exitFence
	}

	// Ready: the parent's parse timeout starts now.
	if _, err := io.WriteString(stdout, "\n"); err != nil {
		fmt.Fprintf(stderr, "form reader: say ready: %v\n", err)
		return exitSetup
	}
	// Files come framed, an 8-byte big-endian length and the bytes, one
	// after the other; each gets one JSON line. The end of stdin ends the
	// worker.
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(stdin, hdr[:]); err != nil {
			if err == io.EOF {
				return 0
			}
			fmt.Fprintf(stderr, "form reader: read the file's length: %v\n", err)
			return exitSetup
		}
		n := binary.BigEndian.Uint64(hdr[:])
		if n > uint64(set.MaxSize) {
			fmt.Fprintf(stderr, "form reader: a file of %d bytes, over the limit of %d\n", n, set.MaxSize)
			return exitSetup
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(stdin, data); err != nil {
			fmt.Fprintf(stderr, "form reader: read the file: %v\n", err)
			return exitSetup
		}
		form, err := read(data, formparse.Options{
			MaxSize: set.MaxSize, MaxUnzippedSize: set.MaxUnzippedSize, Timeout: set.Timeout, Today: set.Today,
		})
		rep := reply{NoNetwork: noNetwork}
		if err != nil {
			rep.Error = &wireError{Kind: "crashed", Message: err.Error()}
			for _, k := range kinds {
				if errors.Is(err, k.sentinel) {
					rep.Error.Kind = k.name
					break
				}
			}
		} else {
			rep.Form = &wireForm{ID: form.ID, Version: form.Version, Format: form.Format, Fields: form.Fields, Users: form.Users, Problems: form.Problems}
		}
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "form reader: write the answer: %v\n", err)
			return exitSetup
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintf(stderr, "form reader: write the answer: %v\n", err)
			return exitSetup
		}
	}
}

// fenceIn sets the worker's limits; it runs before the first byte of the
// file is read. The limits are set hard as well as soft, so nothing in the
// worker can raise them again. It reports whether the network is closed.
func fenceIn(set settings) (noNetwork bool, err error) {
	runtime.GOMAXPROCS(min(runtime.GOMAXPROCS(0), 2))
	idle, err := addressSpace()
	if err != nil {
		return false, fmt.Errorf("measure the address space: %w", err)
	}
	limit := uint64(idle) + uint64(set.MemoryLimit)
	if err := syscall.Setrlimit(unix.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		return false, fmt.Errorf("set RLIMIT_AS: %w", err)
	}
	// The collector works harder as the heap nears half the budget, so a
	// large but honest form stays well inside it.
	debug.SetMemoryLimit(set.MemoryLimit / 2)
	if set.CPUSeconds > 0 {
		if err := syscall.Setrlimit(unix.RLIMIT_CPU, &syscall.Rlimit{Cur: set.CPUSeconds, Max: set.CPUSeconds + 1}); err != nil {
			return false, fmt.Errorf("set RLIMIT_CPU: %w", err)
		}
	}
	if err := syscall.Setrlimit(unix.RLIMIT_NOFILE, &syscall.Rlimit{Cur: openFiles, Max: openFiles}); err != nil {
		return false, fmt.Errorf("set RLIMIT_NOFILE: %w", err)
	}
	return denySockets() == nil, nil
}

// addressSpace returns this process's VmSize in bytes.
func addressSpace() (int64, error) { return vmSize("/proc/self/status") }

// addressSpaceOf returns process pid's VmSize in bytes.
func addressSpaceOf(pid int) (int64, error) { return vmSize("/proc/" + strconv.Itoa(pid) + "/status") }

func vmSize(status string) (int64, error) {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmSize:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 2 && string(f[1]) == "kB" {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, errors.New("no VmSize in " + status)
}

// denySockets installs a seccomp filter on every thread of the process that
// makes socket(2) fail with EPERM, and refuses any system call of another
// ABI (x32, or 32-bit calls on a 64-bit kernel), which the Go runtime never
// makes and through which socket could be reached by another number.
func denySockets() error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return fmt.Errorf("no seccomp filter for %s", runtime.GOARCH)
	}
	const (
		offNr   = 0 // offsetof(struct seccomp_data, nr)
		offArch = 4 // offsetof(struct seccomp_data, arch)
		x32Bit  = 0x40000000
		deny    = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	)
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offArch},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 4, K: arch},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offNr},
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, Jt: 2, Jf: 0, K: x32Bit},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 0, K: unix.SYS_SOCKET},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: deny},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// no_new_privs is a property of the thread that installs the filter;
	// TSYNC then gives both to every other thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("install the seccomp filter: %w", errno)
	}
	runtime.KeepAlive(filter)
	return nil
}
