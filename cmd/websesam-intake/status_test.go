package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

// statusStore makes a store with one pending outbox row.
func statusStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnqueueOutbox(store.OutboxRow{MessageID: "r1@region.example.se", Kind: "kvittens", From: "info.hmc@region.example.se",
		To: []string{"a@region.example.se"}, Subject: "SV: webSesam", Raw: []byte("Subject: x\r\n\r\nx\r\n")}); err != nil {
		t.Fatal(err)
	}
	return st, path
}

// statusMetrics makes a status store and a daemon's metrics over it that
// have decided one message of each of outcomes.
func statusMetrics(t *testing.T, outcomes ...store.Outcome) (*store.Store, *ops.Metrics) {
	t.Helper()
	st, _ := statusStore(t)
	t.Cleanup(func() { st.Close() }) // after the server stops
	m := ops.NewMetrics(st)
	for _, o := range outcomes {
		m.MessageDecided(o)
	}
	return st, m
}

func TestStatusFromMetrics(t *testing.T) {
	_, m := statusMetrics(t, store.OutcomeQueued, store.OutcomeQueued, store.OutcomeIgnored)
	m.ReplySent()
	m.ReplySuppressed("policy")
	m.IMAPReconnect()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m.Handler()}
	go srv.Serve(ln)
	defer srv.Close()

	stdout, stderr, code := runCLI(t, "status", "--metrics", ln.Addr().String())
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	wantContains(t, "output", stdout,
		"websesam-intake status, from http://"+ln.Addr().String()+"/metrics\n",
		"  last poll      never\n",
		"  messages       queued 2, returned 0, no-form 0, ignored 1, quarantined 0\n",
		"  replies        sent 1, failed 0, suppressed 1 (policy 1)\n",
		"  imap           reconnects 1, login refusals 0\n",
		"  requests       queued 0, claimed 0, done 0, rejected 0\n",
		"  outbox         1 waiting\n",
		"  unsettled      0 message(s) recorded, not yet moved\n",
	)
	if !strings.Contains(stdout, "  running since  "+time.Now().Format("2006-01-02")) {
		t.Errorf("output lacks the start time:\n%s", stdout)
	}

	if strings.Contains(stdout, "directory") {
		t.Errorf("a daemon without [directory] shows a directory line:\n%s", stdout)
	}

	t.Run("directory", func(t *testing.T) {
		m.DirectoryUp(true, time.Time{})
		stdout, _, _ := runCLI(t, "status", "--metrics", ln.Addr().String())
		if want := "  directory      answering\n"; !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
		down := time.Now().Add(-90 * time.Second)
		m.DirectoryUp(false, down)
		stdout, _, _ = runCLI(t, "status", "--metrics", ln.Addr().String())
		want := "  directory      UNREACHABLE since " + down.Format("2006-01-02 15:04:05") + " (1m30s ago): new mail waits undecided (nothing is lost) and is decided once it answers\n"
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	})
}

func TestStatusFromStore(t *testing.T) {
	st, path := statusStore(t)
	none := filepath.Join(t.TempDir(), "none.sock")
	t.Run("held by a process that does not answer", func(t *testing.T) {
		_, stderr, code := runCLI(t, "status", "--db", path, "--socket", none, "--metrics", "")
		if got, want := code, 1; got != want {
			t.Errorf("exit status %d, want %d", got, want)
		}
		if !strings.Contains(stderr, "no daemon answers on its socket, so stop the process holding it or give the daemon's socket with --socket") {
			t.Errorf("stderr = %q", stderr)
		}
	})
	st.Close()
	t.Run("free", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, "status", "--db", path, "--socket", none, "--metrics", "")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		wantContains(t, "output", stdout, "from the store "+path, "  outbox         1 waiting\n", "  requests       queued 0, claimed 0, done 0, rejected 0\n")
		var v map[string]any
		if err := json.Unmarshal([]byte(mustRun(t, "status", "--json", "--db", path, "--socket", none, "--metrics", "")), &v); err != nil {
			t.Fatal(err)
		}
		if v["daemon"] != false || v["outbox_pending"] != float64(1) || v["messages"] != nil {
			t.Errorf("status --json without a daemon = %v", v)
		}
	})
}

// TestStatusOverSocket asks a daemon's staff socket, as the other staff
// commands do: the daemon's counts since its start and the store's depths,
// as text and as JSON with numbers as numbers.
func TestStatusOverSocket(t *testing.T) {
	st, m := statusMetrics(t, store.OutcomeQueued, store.OutcomeReturned)
	m.ReplySent()
	m.ReplySuppressed("rate")
	comp := mustComposer(t)
	api, err := staffapi.NewServer(st, comp, staffapi.ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Samples: metricsSamples(m)})
	if err != nil {
		t.Fatal(err)
	}
	sock := serveSocket(t, api)

	out := mustRun(t, "status", "--socket", sock, "--metrics", "")
	wantContains(t, "status", out,
		"websesam-intake status, from the daemon on "+sock+"\n",
		"  messages       queued 1, returned 1, no-form 0, ignored 0, quarantined 0\n",
		"  replies        sent 1, failed 0, suppressed 1 (rate 1)\n",
		"  outbox         1 waiting\n",
	)
	var v struct {
		Daemon   bool           `json:"daemon"`
		Messages map[string]int `json:"messages"`
		Replies  struct {
			Sent       int            `json:"sent"`
			Suppressed map[string]int `json:"suppressed"`
		} `json:"replies"`
		Requests      map[string]int `json:"requests"`
		OutboxPending int            `json:"outbox_pending"`
		RunningSince  time.Time      `json:"running_since"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--json", "--socket", sock, "--metrics", "")), &v); err != nil {
		t.Fatal(err)
	}
	if !v.Daemon || v.Messages["queued"] != 1 || v.Messages["returned"] != 1 || v.Replies.Sent != 1 || v.Replies.Suppressed["rate"] != 1 ||
		v.OutboxPending != 1 || v.Requests["queued"] != 0 || v.RunningSince.IsZero() {
		t.Errorf("status --json = %+v", v)
	}
}

func TestStatusErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	notOurs, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("other_metric 1\n")) })}
	go srv.Serve(notOurs)
	defer srv.Close()
	tests := []struct {
		name, addr, want string
	}{
		{"nobody listens", closed, "ask the daemon at http://" + closed + "/metrics: Get "},
		{"not our metrics", notOurs.Addr().String(), "no websesam_intake metrics there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "status", "--metrics", tt.addr)
			if got, want := code, 1; got != want {
				t.Errorf("exit status %d, want %d", got, want)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}
