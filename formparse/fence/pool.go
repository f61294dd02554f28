package fence

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
)

// Warm workers. Starting a worker costs tens of milliseconds (exec, the Go
// runtime, every package's initialisation, fencing in), a hundred times
// what reading a small form costs; a backlog of forms read one process each
// drains at a few dozen a second. So a worker that answered a form waits,
// fenced in as it was, for the next file with the same settings; it reads
// at most maxUses files and leaves after idleTimeout.
//
// What makes reuse safe, as the fence promises each file its own limits:
//
//   - only a worker whose last answer was a form goes back: one that
//     answered an error (not a form, encrypted, too large), was killed, hit
//     a limit or answered nonsense is never given another file, so whatever
//     a hostile file did to a reader's state ends with that process;
//   - RLIMIT_CPU counts the process's whole life, so a worker stays only
//     while what is left of it covers the file's parse timeout and a second
//     more (cpuFresh): the deadline, not the CPU limit, still decides how
//     long a file may take, as in a fresh worker;
//   - RLIMIT_AS counts address space, which the Go runtime reserves in
//     arenas of 64 MiB as the heap first grows and keeps: a worker's first
//     file reserves what the next ones then reuse. So a worker whose address
//     space grew by more than a quarter of its memory budget since its first
//     file leaves: a later file finds the room the first one found, less a
//     quarter of the budget at most;
//   - the parse timeout is counted for each file from the moment it is
//     sent, and a worker that died while it waited is never handed a file.
const maxUses = 100

// idleTimeout is a variable for this package's tests only.
var idleTimeout = 30 * time.Second

const (
	// maxIdlePerKind bounds the workers kept waiting for one kind of
	// settings: the daemon reads one file at a time, parse and tests a
	// few at once.
	maxIdlePerKind = 4
)

// worker is one running worker process, fenced in and ready for a file.
type worker struct {
	key     string
	cmd     *exec.Cmd
	in      *os.File      // frames to the worker
	out     *bufio.Reader // its answers, one JSON line each
	outFile *os.File
	stderr  *limitedBuffer
	done    chan struct{} // closed once the process has been waited for
	waitErr error
	set     settings
	firstVM int64 // address space after its first file
	uses    int
	idle    *time.Timer
}

// take returns a worker waiting for key that is still alive, or nil.
func (r *Reader) take(key string) *worker {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ws := r.idle[key]; len(ws) > 0; ws = r.idle[key] {
		w := ws[len(ws)-1]
		r.idle[key] = ws[:len(ws)-1]
		if !w.idle.Stop() {
			continue // its idle time ran out: it is leaving
		}
		select {
		case <-w.done:
			w.retire() // it died while it waited
			continue
		default:
		}
		return w
	}
	return nil
}

// put keeps w for the next file when the rules above allow, and lets it go
// otherwise.
func (r *Reader) put(w *worker) {
	w.uses++
	if w.uses >= maxUses || !w.fresh() {
		w.retire()
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.idle[w.key]) >= maxIdlePerKind {
		w.retire()
		return
	}
	if r.idle == nil {
		r.idle = map[string][]*worker{}
	}
	r.idle[w.key] = append(r.idle[w.key], w)
	w.idle = time.AfterFunc(idleTimeout, func() {
		r.mu.Lock()
		ws := r.idle[w.key]
		for i, x := range ws {
			if x == w {
				r.idle[w.key] = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		r.mu.Unlock()
		w.retire()
	})
}

// fresh reports whether w has enough of its CPU time and address space
// left to be given another file (see the rules above).
func (w *worker) fresh() bool {
	pid := w.cmd.Process.Pid
	cpu, err := processCPU(pid)
	if err != nil || !cpuFresh(cpu, w.set) {
		return false
	}
	vm, err := addressSpaceOf(pid)
	if err != nil {
		return false
	}
	if w.firstVM == 0 {
		w.firstVM = vm
	}
	return vm-w.firstVM <= w.set.MemoryLimit/4
}

// cpuFresh reports whether a worker that has used cpu may read another
// file under set: the CPU time left must cover the parse timeout and a
// second more. Where the CPU limit is no longer than that, a worker that
// has used any CPU is not reused.
func cpuFresh(cpu time.Duration, set settings) bool {
	total := time.Duration(set.CPUSeconds) * time.Second
	return total-cpu >= min(total, set.Timeout+time.Second)
}

// retire lets w go: with its input closed it exits by itself; it is killed
// if it has not within a few seconds. The process is reaped in the
// background.
func (w *worker) retire() {
	w.in.Close()
	go func() {
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
			<-w.done
		}
		w.outFile.Close()
	}()
}

// start starts a worker and waits until it is fenced in and ready (its
// first newline), within startLimit.
func (r *Reader) start(ctx context.Context, key, path string, env []string, set settings, startLimit time.Duration) (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, unavailable(fmt.Errorf("%w: start the form reader: %v", formparse.ErrCrashed, err))
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, unavailable(fmt.Errorf("%w: start the form reader: %v", formparse.ErrCrashed, err))
	}
	w := &worker{key: key, in: inW, out: bufio.NewReaderSize(outR, 64<<10), outFile: outR,
		stderr: &limitedBuffer{max: maxStderr}, done: make(chan struct{}), set: set}
	cmd := exec.Command(path)
	cmd.Env = env
	cmd.Dir = "/"
	// PR_SET_PDEATHSIG fires when the thread that started the worker ends,
	// not only the daemon: Go ends a thread only when a goroutine that
	// locked it returns without unlocking, which nothing in the daemon
	// does. Were it to happen, an idle worker is found dead by take and a
	// reading one fails without an answer, and the file is read again by
	// a fresh worker (Reader.Read).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, w.stderr
	// Pipes left open by anything the worker started cannot hold Wait.
	cmd.WaitDelay = time.Second
	w.cmd = cmd
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, unavailable(fmt.Errorf("%w: start the form reader: %v", formparse.ErrCrashed, err))
	}
	go func() {
		w.waitErr = cmd.Wait()
		close(w.done)
	}()

	// The parse timeout runs from the moment the worker is fenced in and
	// ready, so that a slow process start on a busy machine is not charged
	// to the file; the start has a bound of its own.
	k := w.killer()
	timer := time.AfterFunc(startLimit, func() { k.kill("start") })
	stop := context.AfterFunc(ctx, func() { k.kill("context") })
	b, err := w.out.ReadByte()
	timer.Stop()
	stop()
	killedBy := k.freeze()
	if err == nil && b == '\n' && killedBy == "" {
		return w, nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	w.retire()
	<-w.done
	switch killedBy {
	case "start":
		return nil, unavailable(&workerError{
			msg:      fmt.Sprintf("%v: the form reader exceeded its time limit: it did not start within %s", formparse.ErrTimeout, startLimit),
			sentinel: formparse.ErrTimeout,
		})
	case "context":
		return nil, fmt.Errorf("read form: %w", context.Cause(ctx))
	}
	// It ended before it was ready (it could not fence itself in, or the
	// host ran out of something): the file never reached it.
	return nil, unavailable(classify(cmd.ProcessState, w.waitErr, w.stderr.String(), set.CPUSeconds))
}

// unavailableError is an error of a worker that could not be started: its
// message is err's; it matches ErrUnavailable and whatever err matches.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

func unavailable(err error) error { return &unavailableError{err} }

// read sends data to w and reads its answer, killing w at timeout or when
// ctx ends.
//
// answered reports whether the worker itself answered (a form, or an error
// it found in the file): an answer a fresh worker would give as well.
func (w *worker) read(ctx context.Context, data []byte, timeout time.Duration) (form *formparse.Form, answered bool, err error) {
	k := w.killer()
	timer := time.AfterFunc(timeout, func() { k.kill("deadline") })
	stop := context.AfterFunc(ctx, func() { k.kill("context") })
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(len(data)))
	_, werr := w.in.Write(hdr[:])
	if werr == nil {
		_, werr = w.in.Write(data)
	}
	var line []byte
	var rerr error
	if werr == nil {
		for {
			chunk, err := w.out.ReadSlice('\n')
			if len(line)+len(chunk) > maxReply {
				// A worker that answers more than any form can be is
				// stopped at once.
				k.kill("flood")
				break
			}
			line = append(line, chunk...)
			if err == bufio.ErrBufferFull {
				continue
			}
			rerr = err
			break
		}
	}
	timer.Stop()
	stop()
	// A worker that answered before any kill is believed; anything else
	// is classified by how it ended.
	switch k.freeze() {
	case "deadline":
		return nil, false, w.stopped(&workerError{
			msg:      fmt.Sprintf("%v: the form reader exceeded its time limit of %s and was stopped", formparse.ErrTimeout, timeout),
			sentinel: formparse.ErrTimeout,
		})
	case "context":
		return nil, false, w.stopped(fmt.Errorf("read form: %w", context.Cause(ctx)))
	case "flood":
		return nil, false, w.stopped(&workerError{msg: fmt.Sprintf("%v: the form reader answered more than %d bytes", formparse.ErrCrashed, maxReply), sentinel: formparse.ErrCrashed})
	}
	if werr == nil && rerr == nil {
		form, err := decodeReply(line)
		return form, true, err
	}
	// The worker ended without an answer: wait for it to say how.
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	}
	return nil, false, classify(w.cmd.ProcessState, w.waitErr, w.stderr.String(), w.set.CPUSeconds)
}

// stopped kills w's process group (whatever it started goes too), waits for
// it and returns err.
func (w *worker) stopped(err error) error {
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	<-w.done
	return err
}

// killer kills a worker's process group once, for the first reason given,
// until frozen: after freeze no kill happens, and the reason (or "") is
// what decided the outcome.
type killer struct {
	once sync.Once
	pid  int
	why  string
}

func (w *worker) killer() *killer { return &killer{pid: w.cmd.Process.Pid} }

func (k *killer) kill(why string) {
	k.once.Do(func() {
		k.why = why
		_ = syscall.Kill(-k.pid, syscall.SIGKILL)
	})
}

func (k *killer) freeze() string {
	k.once.Do(func() {})
	return k.why
}

// processCPU returns the user and system CPU time process pid has used.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold anything: utime and stime are the 12th and 13th of them.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read /proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read /proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	// Linux reports CPU time in USER_HZ, 100 a second on every
	// architecture it exports to user space.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
