package ops

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Heartbeat is the main loop's proof of life for the systemd watchdog. The
// loop beats whenever it makes progress and announces the timed sleeps it
// takes (a reconnect backoff, an IDLE bounded by the poll interval); the
// watchdog pings systemd only while the last beat or the end of the
// announced sleep is less than grace ago. A loop stuck anywhere else stops
// the pings, and systemd restarts the service after WatchdogSec=.
type Heartbeat struct {
	mu       sync.Mutex
	deadline time.Time
	grace    time.Duration
	now      func() time.Time
}

// NewHeartbeat starts healthy for grace.
func NewHeartbeat(grace time.Duration) *Heartbeat {
	h := &Heartbeat{grace: grace, now: time.Now}
	h.deadline = h.now().Add(grace)
	return h
}

// Beat records progress. A nil Heartbeat ignores it.
func (h *Heartbeat) Beat() {
	if h == nil {
		return
	}
	h.mu.Lock()
	if d := h.now().Add(h.grace); d.After(h.deadline) {
		h.deadline = d
	}
	h.mu.Unlock()
}

// SleepUntil announces a timed sleep that ends at t.
func (h *Heartbeat) SleepUntil(t time.Time) {
	if h == nil {
		return
	}
	h.mu.Lock()
	if d := t.Add(h.grace); d.After(h.deadline) {
		h.deadline = d
	}
	h.mu.Unlock()
}

// Healthy reports whether the loop beat (or is in an announced sleep)
// recently enough.
func (h *Heartbeat) Healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now().Before(h.deadline)
}

// RunWatchdog pings n at its watchdog interval while h is healthy, until
// ctx ends. It returns at once when systemd set no watchdog.
func RunWatchdog(ctx context.Context, n *Notifier, h *Heartbeat, log *slog.Logger) {
	every := n.WatchdogInterval()
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	quiet := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !h.Healthy() {
			if !quiet && log != nil {
				log.Error("main loop made no progress: no more watchdog pings, systemd will restart the service")
			}
			quiet = true
			continue
		}
		quiet = false
		if err := n.Watchdog(); err != nil && log != nil {
			log.Warn("watchdog ping", "err", err)
		}
	}
}

// ExitOnSecondSignal makes a second SIGINT or SIGTERM end the process at
// once (status 1), while the first one (handled by the caller's
// signal.NotifyContext) lets the daemon finish the message in hand. The
// returned stop undoes it.
func ExitOnSecondSignal(log *slog.Logger, exit func(code int)) (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		seen := 0
		for {
			select {
			case <-done:
				return
			case <-ch:
				seen++
				if seen >= 2 {
					if log != nil {
						log.Warn("second stop signal: exiting at once; the message in hand is finished on the next start")
					}
					exit(1)
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
		})
	}
}
