package mailtest

import (
	"sync"
	"time"
)

// Clock is a clock a test moves by hand, safe for the goroutines that read
// it, so that time-driven code can be tested without sleeping. Its zero
// value is real time; Set fixes it at a time; Advance moves either forward.
type Clock struct {
	mu   sync.Mutex
	at   time.Time // fixed by Set; zero: real time
	plus time.Duration
}

// Now is the clock's time: the time Set fixed, or real time, plus all that
// Advance added.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now().Add(c.plus)
	}
	return c.at.Add(c.plus)
}

// Set fixes the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.at, c.plus = t, 0
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.plus += d
	c.mu.Unlock()
}
