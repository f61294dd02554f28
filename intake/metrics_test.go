package intake

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
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
	// The Prometheus text format, version 0.0.4 (the client library adds
	// parameters of its own, such as escaping).
	if mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" || params["version"] != "0.0.4" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type = %q, want text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
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

// renamedLog is a logger that rewords every message it is given: the
// metrics tests run under it, so a counter that still depended on a log
// line's text would read zero and fail them.
func renamedLog() *slog.Logger {
	return slog.New(renaming{slog.NewTextHandler(io.Discard, nil)})
}

type renaming struct{ slog.Handler }

func (h renaming) Handle(ctx context.Context, r slog.Record) error {
	r.Message = "reworded: " + strings.ToUpper(r.Message)
	return h.Handler.Handle(ctx, r)
}

func (h renaming) WithAttrs(as []slog.Attr) slog.Handler { return renaming{h.Handler.WithAttrs(as)} }
func (h renaming) WithGroup(g string) slog.Handler       { return renaming{h.Handler.WithGroup(g)} }

// TestMetricsFromTheDaemon runs every mail case through the real daemon,
// every log message reworded, and checks the scrape against the README
// table and the store: the counters come from the events themselves.
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
	d, err := New(cfg, st, Options{Logger: renamedLog(), Metrics: m})
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
		"websesam_intake_replies_sent_total":         wantReplies,
		"websesam_intake_replies_failed_total":       0,
		"websesam_intake_imap_reconnects_total":      0,
		"websesam_intake_store_up":                   1,
		`websesam_intake_requests{status="queued"}`:  wantReqs,
		`websesam_intake_requests{status="claimed"}`: 0,
		"websesam_intake_outbox_pending":             0,
		"websesam_intake_unsettled_messages":         0,
	} {
		v, ok := got[key]
		if !ok {
			t.Errorf("%s missing from the scrape", key)
		} else if v != want {
			t.Errorf("%s = %v, want %v", key, v, want)
		}
	}
	if got["websesam_intake_last_poll_timestamp_seconds"] <= 0 {
		t.Errorf("last_poll_timestamp_seconds = %v after a completed pass, want its time", got["websesam_intake_last_poll_timestamp_seconds"])
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
	d, err := New(cfg, st, Options{Logger: renamedLog(), Metrics: m})
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
