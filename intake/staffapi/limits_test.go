package staffapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// rawCall sends one HTTP request over the socket by hand and returns the
// connection, for the tests that behave as no real client would.
func rawCall(t *testing.T, sock, head string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// A body that arrives one byte at a time is cut off at the read timeout:
// the server answers (or hangs up) long before the body is complete.
func TestStaffAPISlowBodyCutOff(t *testing.T) {
	st, _ := staffStore(t)
	sock := serveStaff(t, st, ServerOptions{ReadTimeout: 300 * time.Millisecond})
	c := rawCall(t, sock, fmt.Sprintf("POST /v%d/requests/list HTTP/1.1\r\nHost: daemon\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", Version))
	stop := make(chan struct{})
	defer close(stop)
	sent := make(chan int, 1)
	go func() {
		n := 1
		defer func() { sent <- n }()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for n < 100000 {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			n++
		}
	}()
	// The failure deadline only: a server that waited for the whole body
	// would need 1,000 s.
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), kindBadCall) {
			t.Errorf("answer to a dribbled body: %s %s, want 400 %s", resp.Status, body, kindBadCall)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still waited for the body after 60 s")
	}
	c.Close()
	if n := <-sent; n >= 100000 {
		t.Errorf("the whole body was taken (%d bytes)", n)
	}
}

// A header block over the limit is refused, not buffered.
func TestStaffAPIHeaderLimit(t *testing.T) {
	st, _ := staffStore(t)
	sock := serveStaff(t, st, ServerOptions{})
	head := fmt.Sprintf("POST /v%d/whoami HTTP/1.1\r\nHost: daemon\r\nX-Pad: %s\r\nContent-Length: 2\r\n\r\n{}", Version, strings.Repeat("a", 2*maxHeader))
	c := rawCall(t, sock, head)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusRequestHeaderFieldsTooLarge; got != want {
		t.Errorf("status %d, want %d", got, want)
	}
}

// A body over the limit is refused as a bad call.
func TestStaffAPIBodyLimit(t *testing.T) {
	st, _ := staffStore(t)
	c, _ := dialStaff(t, serveStaff(t, st, ServerOptions{}))
	_, err := SearchRequests.Do(context.Background(), c, Search{Text: strings.Repeat("å", maxBody)})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Kind != kindBadCall || ae.Status != http.StatusBadRequest {
		t.Errorf("search with a %d-byte body: %v, want a 400 %s", 2*maxBody, err, kindBadCall)
	}
}

// A call under another version's path is refused with both versions named,
// and the client passes that on.
func TestStaffAPIVersionChecked(t *testing.T) {
	st, _ := staffStore(t)
	sock := serveStaff(t, st, ServerOptions{})
	c, _ := dialStaff(t, sock)
	req, err := http.NewRequest(http.MethodPost, "http://daemon/v2/whoami", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || e.Error != kindVersion || !strings.Contains(e.Message, fmt.Sprintf("version %d", Version)) || !strings.Contains(e.Message, "v2") {
		t.Errorf("call under /v2/: %d %+v, want 400 %s naming version %d and v2", resp.StatusCode, e, kindVersion, Version)
	}
}

// A backup client that stops reading holds nothing of the store: a message
// is recorded and the file grows (which needs bbolt to remap, which an
// open read transaction would block) while the client sits on the stream;
// then the stalled client is dropped and its copy is not marked complete.
func TestStaffAPIStalledBackupDoesNotBlockWrites(t *testing.T) {
	st, _ := staffStore(t)
	// A database of some megabytes: more than the socket's buffers, so the
	// server really stalls on the client.
	big := bytes.Repeat([]byte("x"), 1<<20)
	for i := range 6 {
		if _, err := st.EnqueueOutbox(store.OutboxRow{MessageID: fmt.Sprintf("big%d@intake.test", i), Kind: "kvittens",
			From: "intake@region.example.se", To: []string{"a@region.example.se"}, Subject: "s", Raw: big}); err != nil {
			t.Fatal(err)
		}
	}
	ended := make(chan slog.Record, 1)
	sock := serveStaff(t, st, ServerOptions{StallTimeout: 500 * time.Millisecond, Logger: slog.New(recordHandler{
		keep: func(r slog.Record) bool { return attr(r, "call") == "backup" }, to: ended})})
	c, _ := dialStaff(t, sock)
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://daemon/v%d/backup", Version), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.http.Do(req) // the headers: the copy is taken and streaming
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %s", resp.Status)
	}
	// The client reads nothing now. A write that grows the file well past
	// its present map must go through.
	done := make(chan error, 1)
	go func() {
		_, err := st.RecordOutcome(store.Message{
			Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: 2}, MessageID: "m2@region.example.se",
			ReceivedAt: time.Now(), Outcome: store.OutcomeNoForm,
		}, nil, nil)
		for i := 0; err == nil && i < 16; i++ {
			_, err = st.EnqueueOutbox(store.OutboxRow{MessageID: fmt.Sprintf("more%d@intake.test", i), Kind: "kvittens",
				From: "intake@region.example.se", To: []string{"a@region.example.se"}, Subject: "s", Raw: big})
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second): // the failure deadline, not a measure
		t.Fatal("writes still blocked by a backup client that stopped reading")
	}
	// The server gives up on the client and says so; reading again then
	// finds the stream cut.
	select {
	case r := <-ended:
		if r.Level != slog.LevelError || attr(r, "err") == "" {
			t.Errorf("the end of the stalled backup was logged as %s %q %v, want an error", r.Level, r.Message, attr(r, "err"))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the server kept waiting for a backup client that stopped reading")
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.Trailer.Get(backupTrailer) == "ok" {
		t.Errorf("a stalled backup was completed and marked ok (%d bytes)", n)
	}
}

// recordHandler hands the log records keep accepts to a channel: a test
// waits on the event itself instead of sleeping.
type recordHandler struct {
	keep func(slog.Record) bool
	to   chan<- slog.Record
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	if h.keep(r) {
		select {
		case h.to <- r.Clone():
		default:
		}
	}
	return nil
}

func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// attr is the value of a record's attribute, "" when it has none.
func attr(r slog.Record, key string) string {
	v := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
