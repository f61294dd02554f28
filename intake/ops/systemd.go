package ops

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
)

// Notifier speaks systemd's notify protocol (sd_notify(3)): one datagram of
// newline-separated KEY=VALUE lines to the socket in $NOTIFY_SOCKET. Under
// Type=notify, systemd counts the unit started only at READY=1, so the
// daemon says so only after the store is open and the first IMAP login
// worked; with WatchdogSec= set, a main loop that stops sending WATCHDOG=1
// gets the process restarted. Outside systemd ($NOTIFY_SOCKET unset) every
// method does nothing, so the daemon calls them unconditionally.
//
// A Notifier is safe for concurrent use.
type Notifier struct {
	mu       sync.Mutex
	addr     *net.UnixAddr // nil: not under systemd
	conn     *net.UnixConn
	watchdog time.Duration
}

// NewNotifierFromEnv reads $NOTIFY_SOCKET and the watchdog variables
// ($WATCHDOG_USEC, honoured only when $WATCHDOG_PID is unset or this
// process's pid), then unsets them so that child processes (a token
// command) do not talk to systemd in our name.
func NewNotifierFromEnv() (*Notifier, error) {
	n, err := NewNotifier(os.Getenv("NOTIFY_SOCKET"), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(k)
	}
	return n, err
}

// ErrNotify wraps a malformed notify environment.
var ErrNotify = errors.New("systemd notify")

// NewNotifier builds a Notifier from the values of the three environment
// variables; socket "" gives a Notifier that does nothing. A socket path
// starting with "@" is in the abstract namespace.
func NewNotifier(socket, watchdogUsec, watchdogPID string, pid int) (*Notifier, error) {
	n := &Notifier{}
	if socket == "" {
		return n, nil
	}
	if !strings.HasPrefix(socket, "/") && !strings.HasPrefix(socket, "@") {
		return n, fmt.Errorf("%w: NOTIFY_SOCKET %q is neither a path nor an abstract name", ErrNotify, socket)
	}
	name := socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	n.addr = &net.UnixAddr{Name: name, Net: "unixgram"}
	if watchdogUsec != "" {
		if watchdogPID != "" {
			p, err := strconv.Atoi(watchdogPID)
			if err != nil {
				return n, fmt.Errorf("%w: WATCHDOG_PID %q: %v", ErrNotify, watchdogPID, err)
			}
			if p != pid {
				return n, nil // the watchdog is another process's
			}
		}
		us, err := strconv.ParseInt(watchdogUsec, 10, 64)
		if err != nil || us <= 0 {
			return n, fmt.Errorf("%w: WATCHDOG_USEC %q is not a positive number", ErrNotify, watchdogUsec)
		}
		n.watchdog = time.Duration(us) * time.Microsecond
	}
	return n, nil
}

// Enabled reports whether systemd listens.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// WatchdogInterval is how often WATCHDOG=1 must be sent: half of
// WatchdogSec= (as sd_watchdog_enabled(3) advises), or 0 when there is no
// watchdog.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog / 2
}

// Ready says the service is up: the store is open and the mailbox answered.
func (n *Notifier) Ready(status string) error {
	return n.send("READY=1", "STATUS="+status, "MAINPID="+strconv.Itoa(os.Getpid()))
}

// Status sets the one line `systemctl status` shows: what the daemon is doing.
func (n *Notifier) Status(status string) error { return n.send("STATUS=" + status) }

// Watchdog is the keep-alive ping of the main loop.
func (n *Notifier) Watchdog() error { return n.send("WATCHDOG=1") }

// Stopping says shutdown began (SIGTERM): systemd waits for the exit
// instead of treating the silence as a hang.
func (n *Notifier) Stopping(status string) error {
	return n.send("STOPPING=1", "STATUS="+status)
}

// send writes one datagram. A line must not carry a newline: it would
// become a second, forged assignment.
func (n *Notifier) send(lines ...string) error {
	if !n.Enabled() {
		return nil
	}
	for i, l := range lines {
		lines[i] = strings.NewReplacer("\n", " ", "\r", " ").Replace(l)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		c, err := net.DialUnix("unixgram", nil, n.addr)
		if err != nil {
			return fmt.Errorf("%w: dial %s: %v", ErrNotify, n.addr.Name, err)
		}
		n.conn = c
	}
	if _, err := n.conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		// systemd may have been restarted (daemon-reexec): dial again next time.
		endpoint.Drop(&n.conn)
		return fmt.Errorf("%w: send: %v", ErrNotify, err)
	}
	return nil
}

// Close releases the socket.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return endpoint.Drop(&n.conn)
}
