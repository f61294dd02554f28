package intake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/intake/ops/opstest"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

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

// metricsDaemon builds the daemon over a store that closes with the test,
// every log message reworded, feeding the metrics it returns.
func metricsDaemon(t *testing.T, cfg Config) (*Daemon, *ops.Metrics) {
	t.Helper()
	st, err := store.Open(cfg.Store.Path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := ops.NewMetrics(st)
	d, err := New(cfg, st, Options{Logger: renamedLog(), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

// TestMetricsFromTheDaemon runs every mail case through the real daemon,
// every log message reworded, and checks the scrape against the README
// table and the store: the counters come from the events themselves.
func TestMetricsFromTheDaemon(t *testing.T) {
	cases := readCases(t)
	srv, sk, cfg := startMail(t, true)
	for _, c := range cases {
		srv.appendMail(readMail(t, c.Name))
	}
	d, m := metricsDaemon(t, cfg)
	if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := opstest.Scrape(t, opstest.Serve(t, m.Handler()))

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
	srv, _, cfg := startMail(t, true)
	d, m := metricsDaemon(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	addr := opstest.Serve(t, m.Handler())
	srv.WaitFor(t, "the daemon to connect", 30*time.Second, func(n mailtest.ProxyCounts) bool { return n.Accepted > 0 })
	srv.stop()
	waitFor(t, "the lost connection counted", 30*time.Second, func() bool {
		return opstest.Scrape(t, addr)["websesam_intake_imap_reconnects_total"] >= 1
	})
	srv.start()
}
