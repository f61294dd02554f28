package mailtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy stands between clients and a server on 127.0.0.1 and breaks
// connections on cue, as networks and servers do: it cuts a connection
// when the client sends a command holding a trigger (before the server
// sees it, or once the server has answered, the answer lost), stalls one
// silently, runs a hook just before a command reaches the server, or makes
// every client send pay a delay. It counts what it saw, the IMAP answers
// that start IDLE among it.
type Proxy struct {
	backend string
	ln      net.Listener

	mu    sync.Mutex
	conns []net.Conn
	// cutOn, when set, closes the connection as soon as the client sends a
	// line containing it (then it is cleared): a drop mid-command.
	cutOn    string
	cutAfter bool // forward the command first, then cut once it is answered
	stall    bool // swallow the command and everything after it, silently
	counts   ProxyCounts
	// hook runs once, before the server sees the next command holding
	// hookOn: the world changing under a command.
	hookOn string
	hook   func()
	// delay is added to every client send: the round trip of a server
	// across a network.
	delay   time.Duration
	closed  bool
	changed Signal // fires when a count changes
}

// ProxyCounts is what a Proxy saw.
type ProxyCounts struct {
	Accepted int // connections passed on to the server
	Refused  int // connections the server was not there to take
	Cuts     int // connections cut or stalled on a trigger
	Idles    int // "+ idling" answers: a client entering IDLE
}

// NewProxy listens on a free port of 127.0.0.1 and passes each connection
// on to backend.
func NewProxy(backend string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the proxy: %w", err)
	}
	p := &Proxy{backend: backend, ln: ln}
	go p.accept()
	return p, nil
}

// StartProxy is NewProxy for a test; the proxy closes with it.
func StartProxy(t TB, backend string) *Proxy {
	t.Helper()
	return started(t, "start the proxy", NewProxy, backend)
}

// Addr is where clients dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// CutWhen arms the proxy to drop the connection at the next command
// holding trigger: before the server sees it, or with afterAnswer once the
// server has answered it, the answer lost.
func (p *Proxy) CutWhen(trigger string, afterAnswer bool) {
	p.mu.Lock()
	p.cutOn, p.cutAfter, p.stall = trigger, afterAnswer, false
	p.mu.Unlock()
}

// StallWhen arms the proxy to swallow the next command holding trigger and
// keep the connection open without an answer: a server that hangs.
func (p *Proxy) StallWhen(trigger string) {
	p.mu.Lock()
	p.cutOn, p.cutAfter, p.stall = trigger, false, true
	p.mu.Unlock()
}

// BeforeCommand runs f once, just before the server gets the next command
// holding trigger; an empty trigger disarms it.
func (p *Proxy) BeforeCommand(trigger string, f func()) {
	p.mu.Lock()
	p.hookOn, p.hook = trigger, f
	p.mu.Unlock()
}

// SetDelay makes the server as far away as a round trip of d.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Counts is what the proxy saw so far.
func (p *Proxy) Counts() ProxyCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// WaitFor returns once cond holds for the counts, looking again at each
// change, and fails the test when limit passes first.
func (p *Proxy) WaitFor(t TB, what string, limit time.Duration, cond func(ProxyCounts) bool) {
	t.Helper()
	WaitSignal(t, what, limit, &p.changed, func() bool { return cond(p.Counts()) })
}

// DropAll closes every connection made so far, both ways.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Stop stops listening and drops every connection.
func (p *Proxy) Stop() {
	p.mu.Lock()
	closed := p.closed
	p.closed = true
	p.mu.Unlock()
	if !closed {
		p.ln.Close()
		p.DropAll()
	}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			p.mu.Lock()
			p.counts.Refused++
			p.mu.Unlock()
			p.changed.Fire()
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, b)
		p.counts.Accepted++
		p.mu.Unlock()
		p.changed.Fire()
		pc := &proxyConn{p: p, c: c}
		go func() { io.Copy(pc, b); c.Close() }()
		go p.pipeClient(pc, b)
	}
}

// proxyConn is one client connection; it passes the server's bytes on,
// counting the answers that start IDLE, or, once a command was cut after
// it was sent, swallows them until that command's tagged answer and then
// closes the connection: the server did the command, the client never
// hears.
type proxyConn struct {
	p *Proxy
	c net.Conn

	mu      sync.Mutex
	lostTag []byte // "\nTAG " of the command whose answer is lost
	seen    []byte
}

func (pc *proxyConn) Write(b []byte) (int, error) {
	pc.mu.Lock()
	if tag := pc.lostTag; tag != nil {
		pc.seen = append(pc.seen, b...)
		done := bytes.Contains(pc.seen, tag)
		pc.mu.Unlock()
		if done {
			pc.c.Close()
		}
		return len(b), nil
	}
	pc.mu.Unlock()
	if n := bytes.Count(b, []byte("+ idling")); n > 0 {
		pc.p.mu.Lock()
		pc.p.counts.Idles += n
		pc.p.mu.Unlock()
		pc.p.changed.Fire()
	}
	return pc.c.Write(b)
}

// loseAnswer makes the proxy swallow the server's answer to the command
// sent in line, which holds trigger, and close the connection after it.
func (pc *proxyConn) loseAnswer(line []byte, trigger string) {
	i := bytes.Index(line, []byte(trigger))
	start := bytes.LastIndex(line[:i], []byte("\n")) + 1
	tag, _, _ := bytes.Cut(line[start:], []byte(" "))
	pc.mu.Lock()
	pc.lostTag = []byte("\n" + string(tag) + " ")
	pc.seen = []byte("\n")
	pc.mu.Unlock()
}

// pipeClient copies client to server, breaking the connection on cue.
func (p *Proxy) pipeClient(pc *proxyConn, b net.Conn) {
	c := pc.c
	defer b.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			p.mu.Lock()
			var hook func()
			if p.hookOn != "" && bytes.Contains(buf[:n], []byte(p.hookOn)) {
				hook, p.hookOn = p.hook, ""
			}
			p.mu.Unlock()
			if hook != nil {
				hook()
			}
			p.mu.Lock()
			delay := p.delay
			p.mu.Unlock()
			if delay > 0 {
				time.Sleep(delay) // a distant server: each send pays the latency
			}
			p.mu.Lock()
			trigger := p.cutOn
			cut := trigger != "" && bytes.Contains(buf[:n], []byte(trigger))
			if cut {
				p.cutOn = ""
				p.counts.Cuts++
			}
			stall, after := p.stall, p.cutAfter
			p.mu.Unlock()
			if cut {
				p.changed.Fire()
			}
			switch {
			case cut && stall:
				// The server never sees the command nor answers: the
				// connection stays open and silent.
				io.Copy(io.Discard, c)
				return
			case cut && !after:
				c.Close()
				return
			case cut:
				pc.loseAnswer(buf[:n], trigger)
			}
			if _, err := b.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
