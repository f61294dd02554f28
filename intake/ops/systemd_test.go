package ops

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifySocket listens like systemd does: a unixgram socket, here in a
// temporary directory (or the abstract namespace for a name starting "@").
func notifySocket(t *testing.T, name string) (*net.UnixConn, string) {
	t.Helper()
	path := name
	if !strings.HasPrefix(name, "@") {
		path = filepath.Join(t.TempDir(), name)
	}
	listen := path
	if strings.HasPrefix(listen, "@") {
		listen = "\x00" + listen[1:]
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: listen, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// recv reads one datagram, failing the test after a while rather than hanging.
func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read the notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestNotifierProtocol(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, sock := range []string{"notify.sock", fmt.Sprintf("@websesam-intake-test-%d-%d", os.Getpid(), time.Now().UnixNano())} {
		t.Run(sock, func(t *testing.T) {
			l, path := notifySocket(t, sock)
			n, err := NewNotifier(path, "", "", os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if !n.Enabled() {
				t.Fatal("Enabled() = false with a socket")
			}
			steps := []struct {
				name string
				send func() error
				want string
			}{
				{"ready", func() error { return n.Ready("watching INBOX") }, "READY=1\nSTATUS=watching INBOX\nMAINPID=" + pid + "\n"},
				{"status", func() error { return n.Status("handling 3 messages") }, "STATUS=handling 3 messages\n"},
				{"watchdog", n.Watchdog, "WATCHDOG=1\n"},
				{"a newline cannot forge a line", func() error { return n.Status("x\nREADY=1") }, "STATUS=x READY=1\n"},
				{"stopping", func() error { return n.Stopping("finishing the message in hand") }, "STOPPING=1\nSTATUS=finishing the message in hand\n"},
			}
			for _, s := range steps {
				if err := s.send(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if got := recv(t, l); got != s.want {
					t.Errorf("%s: got %q, want %q", s.name, got, s.want)
				}
			}
		})
	}
}

func TestNotifierOutsideSystemd(t *testing.T) {
	n, err := NewNotifier("", "", "", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() {
		t.Error("Enabled() = true without NOTIFY_SOCKET")
	}
	for name, f := range map[string]func() error{"ready": func() error { return n.Ready("x") }, "watchdog": n.Watchdog, "stopping": func() error { return n.Stopping("x") }, "close": n.Close} {
		if err := f(); err != nil {
			t.Errorf("%s: %v, want nil", name, err)
		}
	}
	if got := n.WatchdogInterval(); got != 0 {
		t.Errorf("WatchdogInterval() = %s, want 0", got)
	}
}

func TestNotifierWatchdog(t *testing.T) {
	pid := os.Getpid()
	tests := []struct {
		name        string
		usec, wdPID string
		want        time.Duration
		wantErr     string // detail; "" for none
	}{
		{"ours by pid", "30000000", strconv.Itoa(pid), 15 * time.Second, ""},
		{"no pid given", "20000000", "", 10 * time.Second, ""},
		{"another process's", "30000000", strconv.Itoa(pid + 1), 0, ""},
		{"none", "", "", 0, ""},
		{"not a number", "soon", "", 0, `WATCHDOG_USEC "soon" is not a positive number`},
		{"zero", "0", "", 0, `WATCHDOG_USEC "0" is not a positive number`},
		{"bad pid", "1000", "me", 0, `WATCHDOG_PID "me"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NewNotifier("/run/systemd/notify", tt.usec, tt.wdPID, pid)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNotify) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrNotify with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := n.WatchdogInterval(); got != tt.want {
				t.Errorf("WatchdogInterval() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNotifierErrors(t *testing.T) {
	t.Run("relative socket", func(t *testing.T) {
		_, err := NewNotifier("notify.sock", "", "", os.Getpid())
		if !errors.Is(err, ErrNotify) || !strings.Contains(err.Error(), `NOTIFY_SOCKET "notify.sock" is neither a path nor an abstract name`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nobody listens", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gone.sock")
		n, err := NewNotifier(path, "", "", os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		err = n.Ready("x")
		if !errors.Is(err, ErrNotify) || !strings.Contains(err.Error(), "dial "+path) {
			t.Errorf("err = %v, want ErrNotify dialling %s", err, path)
		}
	})
	t.Run("listener went away and came back", func(t *testing.T) {
		l, path := notifySocket(t, "notify.sock")
		n, err := NewNotifier(path, "", "", os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		if err := n.Watchdog(); err != nil {
			t.Fatal(err)
		}
		recv(t, l)
		l.Close()
		os.Remove(path)
		if err := n.Watchdog(); !errors.Is(err, ErrNotify) {
			t.Fatalf("send with the listener gone: err = %v, want ErrNotify", err)
		}
		l2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer l2.Close()
		if err := n.Watchdog(); err != nil {
			t.Fatalf("send after systemd came back: %v", err)
		}
		if got, want := recv(t, l2), "WATCHDOG=1\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestNotifierFromEnvUnsets(t *testing.T) {
	l, path := notifySocket(t, "notify.sock")
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n, err := NewNotifierFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s = %q still set; a child process would speak for us", k, v)
		}
	}
	if got, want := n.WatchdogInterval(), 2*time.Second; got != want {
		t.Errorf("WatchdogInterval() = %s, want %s", got, want)
	}
	if err := n.Stopping("bye"); err != nil {
		t.Fatal(err)
	}
	if got, want := recv(t, l), "STOPPING=1\nSTATUS=bye\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
