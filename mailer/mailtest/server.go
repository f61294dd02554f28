package mailtest

import (
	"context"
	"io"
	"net"
	"sync"
)

// server is what IMAP and Sink share: one server on a listener whose
// address outlives Stop, so that the server can come back on it.
type server struct {
	mu   sync.Mutex
	srv  io.Closer
	ln   net.Listener
	addr string
}

func (s *server) serving(srv io.Closer, ln net.Listener) {
	s.mu.Lock()
	s.srv, s.ln, s.addr = srv, ln, ln.Addr().String()
	s.mu.Unlock()
}

// Addr is where clients connect.
func (s *server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and drops every connection: the server is
// down, its state (mailboxes, messages received) kept.
func (s *server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// Serve may not have taken the listener yet: close it here too.
		ln.Close()
		srv.Close()
	}
}

// started fails the test when a server did not start, and stops it when
// the test ends.
func started[S interface{ Stop() }](t TB, what string, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Serve runs serve on ln until the test ends, then ends its context and
// fails the test if serve returned an error: for a server of the code under
// test (the staff API, say) that stops when its context ends.
func Serve(t TB, ln net.Listener, serve func(context.Context, net.Listener) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve on %s: %v", ln.Addr(), err)
		}
	})
}
