package ops

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/mailer/mailtest"
)

func TestHeartbeat(t *testing.T) {
	start := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	clk := &mailtest.Clock{}
	clk.Set(start)
	h := NewHeartbeat(time.Minute)
	h.now = clk.Now
	h.deadline = start.Add(time.Minute)
	steps := []struct {
		name string
		at   time.Duration
		do   func()
		want bool
	}{
		{"fresh", 30 * time.Second, nil, true},
		{"silent past grace", 61 * time.Second, nil, false},
		{"a beat revives it", 62 * time.Second, h.Beat, true},
		{"still within grace of the beat", 2 * time.Minute, nil, true},
		{"an announced long sleep", 2*time.Minute + time.Second, func() { h.SleepUntil(start.Add(time.Hour)) }, true},
		{"late in the sleep", 59 * time.Minute, nil, true},
		{"a beat does not shorten the sleep", 59 * time.Minute, h.Beat, true},
		{"past the sleep and its grace", time.Hour + time.Minute + time.Second, nil, false},
	}
	for _, s := range steps {
		clk.Set(start.Add(s.at))
		if s.do != nil {
			s.do()
		}
		if got := h.Healthy(); got != s.want {
			t.Errorf("%s: Healthy() = %v, want %v", s.name, got, s.want)
		}
	}
	var nilH *Heartbeat
	nilH.Beat()
	nilH.SleepUntil(start)
}

// TestWatchdogPings runs the watchdog against a real notify socket: pings
// come while the loop is healthy and stop when it is stuck.
func TestWatchdogPings(t *testing.T) {
	l, path := notifySocket(t, "notify.sock")
	n, err := NewNotifier(path, "100000", "", os.Getpid()) // WatchdogSec=100ms: pings every 50ms
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	clk := &mailtest.Clock{}
	clk.Set(time.Now())
	h := NewHeartbeat(time.Minute)
	h.now = clk.Now
	h.deadline = clk.Now().Add(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		RunWatchdog(ctx, n, h, discardLogger())
		close(done)
	}()
	for range 3 {
		if got, want := recv(t, l), "WATCHDOG=1\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	clk.Set(clk.Now().Add(2 * time.Minute)) // stuck: no beat for longer than grace
	// Drain a ping that may have been in flight, then expect silence.
	l.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 64)
	for {
		if _, err := l.Read(buf); err != nil {
			break
		}
	}
	l.SetReadDeadline(time.Now().Add(time.Second))
	if k, err := l.Read(buf); err == nil {
		t.Errorf("a ping %q came while the loop was stuck", buf[:k])
	}
	h.Beat()
	if got, want := recv(t, l), "WATCHDOG=1\n"; got != want {
		t.Errorf("after a beat: got %q, want %q", got, want)
	}
	cancel()
	<-done
}

func TestWatchdogOff(t *testing.T) {
	n, err := NewNotifier("", "", "", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		RunWatchdog(context.Background(), n, NewHeartbeat(time.Minute), nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunWatchdog without a watchdog did not return")
	}
}

// TestExitOnSecondSignal sends real signals to this process.
func TestExitOnSecondSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(strconv.Itoa(int(sig)), func(t *testing.T) {
			codes := make(chan int, 2)
			stop := ExitOnSecondSignal(discardLogger(), func(code int) { codes <- code })
			defer stop()
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-codes:
				t.Fatalf("exit(%d) after the first signal; the first must let the daemon finish", c)
			case <-time.After(300 * time.Millisecond):
			}
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-codes:
				if c != 1 {
					t.Errorf("exit(%d), want exit(1)", c)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no exit after the second signal")
			}
		})
	}
	t.Run("stopped", func(t *testing.T) {
		codes := make(chan int, 2)
		stop := ExitOnSecondSignal(nil, func(code int) { codes <- code })
		stop()
		stop() // twice is harmless
		// Keep the test process alive through the signals: a handler of
		// our own stays registered.
		keep := make(chan os.Signal, 4)
		signalNotify(keep)
		defer signalStop(keep)
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case c := <-codes:
			t.Errorf("exit(%d) after stop", c)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

func signalNotify(ch chan os.Signal) { signal.Notify(ch, syscall.SIGTERM) }
func signalStop(ch chan os.Signal)   { signal.Stop(ch) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
