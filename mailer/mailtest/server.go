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
	// open makes the protocol's server and its listener on addr, ready to
	// serve.
	open func(addr string) (protocolServer, net.Listener, error)

	mu   sync.Mutex
	srv  io.Closer
	ln   net.Listener
	addr string
}

// protocolServer is what imapserver.Server and smtp.Server both are.
type protocolServer interface {
	Serve(net.Listener) error
	io.Closer
}

// listenFresh makes s serve, with open, on a free port of 127.0.0.1 and
// returns owner, the IMAP or Sink that s serves.
func listenFresh[S any](owner S, s *server, open func(addr string) (protocolServer, net.Listener, error)) (S, error) {
	s.open = open
	if err := s.listen("127.0.0.1:0"); err != nil {
		var none S
		return none, err
	}
	return owner, nil
}

// listen opens the server on addr and serves it until Stop.
func (s *server) listen(addr string) error {
	srv, ln, err := s.open(addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.srv, s.ln, s.addr = srv, ln, ln.Addr().String()
	s.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

// relisten brings a stopped server back on the same address.
func (s *server) relisten() error { return s.listen(s.Addr()) }

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

// started starts a server for a test with newServer(opts), fails the test
// when it did not start, and stops it when the test ends.
func started[O any, S interface{ Stop() }](t TB, what string, newServer func(O) (S, error), opts O) S {
	t.Helper()
	s, err := newServer(opts)
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
