package intake

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/store"
)

// scrape reads /metrics over a real loopback connection and returns each
// sample line's value by its name with labels.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got, want := resp.Header.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestMetricsFromTheDaemon runs every mail case through the real daemon
// with the metrics' log handler in its logger and checks the scrape against
// the README table and the store.
func TestMetricsFromTheDaemon(t *testing.T) {
	cases := readCases(t)
	srv := startIMAP(t, true)
	sk := startSink(t)
	cfg := testConfig(t, t.TempDir(), srv.addr, sk.addr)
	for _, c := range cases {
		srv.appendMail(readMail(t, c.Name))
	}
	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := ops.NewMetrics(st)
	log := slog.New(m.LogHandler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})))
	d, err := New(cfg, st, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, serveHandler(t, m.Handler()))

	wantOutcomes := map[string]float64{}
	var wantReplies, wantReqs float64
	for _, c := range cases {
		if c.Outcome != "untouched" {
			wantOutcomes[c.Outcome]++
		}
		wantReplies += float64(c.Replies)
		wantReqs += float64(c.Requests)
	}
	for _, o := range []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined} {
		key := fmt.Sprintf("websesam_intake_messages_total{outcome=%q}", o)
		if got[key] != wantOutcomes[string(o)] {
			t.Errorf("%s = %v, want %v", key, got[key], wantOutcomes[string(o)])
		}
	}
	for key, want := range map[string]float64{
		"websesam_intake_replies_sent_total":          wantReplies,
		"websesam_intake_replies_failed_total":        0,
		"websesam_intake_imap_reconnects_total":       0,
		"websesam_intake_store_up":                    1,
		`websesam_intake_requests{status="queued"}`:   wantReqs,
		`websesam_intake_requests{status="claimed"}`:  0,
		"websesam_intake_outbox_pending":              0,
		"websesam_intake_unsettled_messages":          0,
		"websesam_intake_last_poll_timestamp_seconds": 0, // no hook in the daemon yet
	} {
		v, ok := got[key]
		if !ok {
			t.Errorf("%s missing from the scrape", key)
		} else if v != want {
			t.Errorf("%s = %v, want %v", key, v, want)
		}
	}
	if got, want := float64(len(sk.received())), wantReplies; got != want {
		t.Errorf("the sink got %v replies, the table says %v", got, want)
	}
}

// TestMetricsReconnect cuts the IMAP connection under a running daemon and
// sees the reconnect counted.
func TestMetricsReconnect(t *testing.T) {
	srv := startIMAP(t, true)
	sk := startSink(t)
	cfg := testConfig(t, t.TempDir(), srv.addr, sk.addr)
	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := ops.NewMetrics(st)
	d, err := New(cfg, st, Options{Logger: slog.New(m.LogHandler(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	addr := serveHandler(t, m.Handler())
	waitFor(t, "the daemon to connect", 30*time.Second, func() bool { return srv.acceptedCount() > 0 })
	srv.stop()
	waitFor(t, "the lost connection counted", 30*time.Second, func() bool {
		return scrape(t, addr)["websesam_intake_imap_reconnects_total"] >= 1
	})
	srv.start()
}
