package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/mailer/mailtest"
)

// TestServeUnderSystemd runs serve in-process as systemd would start it
// (NOTIFY_SOCKET a real unixgram socket, WATCHDOG_USEC set) against an
// in-memory IMAP server: READY=1 comes once the store exists and the login
// worked, WATCHDOG=1 pings follow, and the stop sends STOPPING=1 before a
// clean exit.
func TestServeUnderSystemd(t *testing.T) {
	srv, sk := startServers(t, "outlook-pdf")
	cfg, dbPath := serveConfig(t, srv.Addr(), sk.Addr())
	sock := filepath.Join(t.TempDir(), "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var errOut mailtest.Buffer
	go func() {
		err := run(ctx, []string{"serve", "--config", cfg}, strings.NewReader(""), &mailtest.Buffer{}, &errOut)
		done <- exitCode(err, &errOut)
	}()
	next := func(what string) string {
		t.Helper()
		l.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 4096)
		n, err := l.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v\nstderr:\n%s", what, err, errOut.String())
		}
		return string(buf[:n])
	}
	var seen []string
	for {
		m := next("READY=1")
		seen = append(seen, m)
		if strings.Contains(m, "READY=1\n") {
			if _, err := os.Stat(dbPath); err != nil {
				t.Errorf("READY=1 before the store exists: %v", err)
			}
			if !strings.Contains(m, fmt.Sprintf("MAINPID=%d\n", os.Getpid())) || !strings.Contains(m, "STATUS=watching INBOX on "+srv.Addr()+"\n") {
				t.Errorf("READY datagram %q lacks MAINPID or the STATUS line", m)
			}
			break
		}
	}
	if got, want := seen[0], "STATUS=opening the store\n"; got != want {
		t.Errorf("first datagram %q, want %q", got, want)
	}
	pings := 0
	for pings < 3 {
		if strings.Contains(next("WATCHDOG=1"), "WATCHDOG=1\n") {
			pings++
		}
	}
	cancel()
	for !strings.Contains(next("STOPPING=1"), "STOPPING=1\n") {
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d after the stop, want 0; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return within 30s of the stop")
	}
}
