package mailtest

import (
	"sync"
	"time"
)

// Wait returns once cond holds, polling it, and fails the test when limit
// passes first. The limit keeps a broken test from hanging; it asserts
// nothing about speed. Prefer WaitSignal (or a server's own wait) where
// something signals the change.
func Wait(t TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	if !Poll(limit, pollEvery, cond) {
		t.Fatalf("waited %s for %s", limit, what)
	}
}

// Poll reports whether cond came to hold within limit, looking every
// interval: for a condition nothing signals, such as a real server's state
// where each look costs a connection, and for a caller that has more to
// say than Wait when it does not.
func Poll(limit, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every) // the poll interval of a condition with a deadline
	}
	return true
}

// WaitSignal returns once cond holds, looking again each time s fires, and
// fails the test when limit passes first.
func WaitSignal(t TB, what string, limit time.Duration, s *Signal, cond func() bool) {
	t.Helper()
	if !Until(limit, s, cond) {
		t.Fatalf("waited %s for %s", limit, what)
	}
}

// Until reports whether cond came to hold within limit, looking again
// each time s fires: for a caller that has more to say than WaitSignal
// when it does not.
func Until(limit time.Duration, s *Signal, cond func() bool) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		changed := s.C()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return cond()
		}
	}
}

// Recv returns the next value from ch, failing the test when limit passes
// first or ch is closed.
func Recv[T any](t TB, what string, limit time.Duration, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel closed", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("waited %s for %s", limit, what)
	}
	var zero T
	return zero
}

// Signal tells every waiter that something changed. The zero value is
// ready to use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel closed at the next Fire. Take it before looking at
// the state it guards, so that a change in between is not missed.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Fire wakes everyone waiting on C.
func (s *Signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
