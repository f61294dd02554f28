package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/regionhmc/websesam-intake/store"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
)

// MetricsConfig is where /metrics is served; it belongs in Config as
// [metrics]. Off by default: an empty Addr serves nothing.
type MetricsConfig struct {
	// Addr is a loopback host:port such as 127.0.0.1:9464. The counts
	// name no person, but they are the organisation's business: they are
	// never offered beyond the machine.
	Addr string `toml:"addr"`
}

// ErrMetricsAddr refuses a metrics address that is not on loopback.
var ErrMetricsAddr = errors.New("metrics address must be loopback")

// CheckMetricsAddr validates a [metrics] addr ("" is off and valid).
func CheckMetricsAddr(addr string) error {
	if p := metricsAddrProblem(addr); p != "" {
		return fmt.Errorf("%w: %s", ErrMetricsAddr, p)
	}
	return nil
}

// Problem is what is wrong with c for Config.Validate ("" for nothing).
func (c MetricsConfig) Problem() string { return metricsAddrProblem(c.Addr) }

func metricsAddrProblem(addr string) string {
	if addr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Sprintf("want host:port, got %q", addr)
	}
	if !endpoint.IsLoopback(host) {
		return fmt.Sprintf("%q is not a loopback host", host)
	}
	return ""
}

// Metrics counts what the daemon does, for Prometheus (/metrics) and for
// `websesam-intake status`. Counters live in memory since the process
// started; the depths (queue, outbox, unsettled) are read from the store at
// each scrape, so they are right after a restart too. The zero value is
// not usable; a nil *Metrics ignores every event, so the daemon can call
// it unconditionally.
type Metrics struct {
	mu            sync.Mutex
	outcomes      map[store.Outcome]uint64
	repliesSent   uint64
	repliesFailed uint64
	suppressed    map[string]uint64
	dropped       uint64
	reconnects    uint64
	refusals      uint64
	lastPoll      time.Time
	started       time.Time
	counts        func() (store.Counts, error)
}

// NewMetrics reads the depths from st at each scrape (st may be nil: then
// they are not reported).
func NewMetrics(st *store.Store) *Metrics {
	m := &Metrics{outcomes: map[store.Outcome]uint64{}, suppressed: map[string]uint64{}, started: time.Now()}
	if st != nil {
		m.counts = st.Counts
	}
	return m
}

// MessageDecided counts one message's outcome.
func (m *Metrics) MessageDecided(o store.Outcome) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.outcomes[o]++
	m.mu.Unlock()
}

// ReplySent counts a reply the relay accepted.
func (m *Metrics) ReplySent() { m.add(func(m *Metrics) { m.repliesSent++ }) }

// ReplyFailed counts a reply given up on for good (a permanent refusal or
// too old).
func (m *Metrics) ReplyFailed() { m.add(func(m *Metrics) { m.repliesFailed++ }) }

// ReplySuppressed counts a reply never sent by policy (recipient domain,
// bounced address), by reason.
func (m *Metrics) ReplySuppressed(reason string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.suppressed[reason]++
	m.mu.Unlock()
}

// RecipientDropped counts a recipient left out of a notice because it is
// outside the allowed domains; the notice went to the others (the outbox
// worker's mailer.WithRecipientDropped).
func (m *Metrics) RecipientDropped() { m.add(func(m *Metrics) { m.dropped++ }) }

// IMAPReconnect counts a lost IMAP connection that will be retried.
func (m *Metrics) IMAPReconnect() { m.add(func(m *Metrics) { m.reconnects++ }) }

// IMAPLoginRefused counts a refused IMAP login.
func (m *Metrics) IMAPLoginRefused() { m.add(func(m *Metrics) { m.refusals++ }) }

// PollSucceeded records the time of a completed search of the mailbox.
func (m *Metrics) PollSucceeded(t time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.lastPoll = t
	m.mu.Unlock()
}

func (m *Metrics) add(inc func(*Metrics)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	inc(m)
	m.mu.Unlock()
}

// allOutcomes are always exported, zero or not, so a rate over them never
// starts from a missing series.
var allOutcomes = []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined}

// allStatuses are the request statuses exported as queue depth.
var allStatuses = []store.Status{store.StatusQueued, store.StatusClaimed, store.StatusDone, store.StatusRejected}

// WriteTo writes the Prometheus text exposition format (version 0.0.4).
// A store that cannot be read is reported as websesam_intake_store_up 0
// rather than failing the whole scrape.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	outcomes := map[store.Outcome]uint64{}
	for k, v := range m.outcomes {
		outcomes[k] = v
	}
	suppressed := map[string]uint64{}
	for k, v := range m.suppressed {
		suppressed[k] = v
	}
	sent, failed, reconnects, refusals, lastPoll, started := m.repliesSent, m.repliesFailed, m.reconnects, m.refusals, m.lastPoll, m.started
	dropped := m.dropped
	m.mu.Unlock()

	var b strings.Builder
	metric := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("websesam_intake_messages_total", "counter", "Messages decided since the start, by outcome.")
	for _, o := range allOutcomes {
		fmt.Fprintf(&b, "websesam_intake_messages_total{outcome=%q} %d\n", o, outcomes[o])
	}
	metric("websesam_intake_replies_sent_total", "counter", "Replies the SMTP relay accepted since the start.")
	fmt.Fprintf(&b, "websesam_intake_replies_sent_total %d\n", sent)
	metric("websesam_intake_replies_failed_total", "counter", "Replies given up on since the start (refused for good or too old).")
	fmt.Fprintf(&b, "websesam_intake_replies_failed_total %d\n", failed)
	metric("websesam_intake_replies_suppressed_total", "counter", "Replies not sent by policy since the start, by reason.")
	reasons := make([]string, 0, len(suppressed))
	for r := range suppressed {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "websesam_intake_replies_suppressed_total{reason=%q} %d\n", r, suppressed[r])
	}
	metric("websesam_intake_recipients_dropped_total", "counter", "Recipients left out of a reply since the start, being outside the allowed domains (the reply went to the others).")
	fmt.Fprintf(&b, "websesam_intake_recipients_dropped_total %d\n", dropped)
	metric("websesam_intake_imap_reconnects_total", "counter", "IMAP connections lost and retried since the start.")
	fmt.Fprintf(&b, "websesam_intake_imap_reconnects_total %d\n", reconnects)
	metric("websesam_intake_imap_login_refusals_total", "counter", "IMAP login refusal streaks since the start (the daemon logs a streak once).")
	fmt.Fprintf(&b, "websesam_intake_imap_login_refusals_total %d\n", refusals)
	metric("websesam_intake_last_poll_timestamp_seconds", "gauge", "Unix time of the last completed search of the mailbox (0: none yet).")
	fmt.Fprintf(&b, "websesam_intake_last_poll_timestamp_seconds %s\n", unixSeconds(lastPoll))
	metric("websesam_intake_start_timestamp_seconds", "gauge", "Unix time the daemon started.")
	fmt.Fprintf(&b, "websesam_intake_start_timestamp_seconds %s\n", unixSeconds(started))

	if m.counts != nil {
		c, err := m.counts()
		up := 1
		if err != nil {
			up = 0
		}
		metric("websesam_intake_store_up", "gauge", "Whether the store could be read for the depths below.")
		fmt.Fprintf(&b, "websesam_intake_store_up %d\n", up)
		if err == nil {
			metric("websesam_intake_requests", "gauge", "Requests in the store, by status.")
			for _, s := range allStatuses {
				fmt.Fprintf(&b, "websesam_intake_requests{status=%q} %d\n", s, c.Requests[s])
			}
			metric("websesam_intake_outbox_pending", "gauge", "Replies waiting in the outbox.")
			fmt.Fprintf(&b, "websesam_intake_outbox_pending %d\n", c.OutboxPending)
			metric("websesam_intake_unsettled_messages", "gauge", "Messages recorded but not yet moved on the server.")
			fmt.Fprintf(&b, "websesam_intake_unsettled_messages %d\n", c.Unsettled)
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func unixSeconds(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000)
}

// Handler serves GET /metrics.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.WriteTo(w)
	})
	return mux
}

// ServeMetrics serves /metrics on addr (loopback only) until ctx ends.
func ServeMetrics(ctx context.Context, addr string, m *Metrics) error {
	if err := CheckMetricsAddr(addr); err != nil {
		return err
	}
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve metrics: %w", err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}

// LogHandler wraps the daemon's log handler and counts the events the
// daemon and its outbox worker already log (a message decided, a reply
// sent or failed, an IMAP connection lost or refused), so metrics work
// without a hook in every code path. Records pass on to next unchanged.
func (m *Metrics) LogHandler(next slog.Handler) slog.Handler {
	return &metricsHandler{m: m, next: next}
}

type metricsHandler struct {
	m     *Metrics
	next  slog.Handler
	attrs []slog.Attr
}

func (h *metricsHandler) Enabled(ctx context.Context, l slog.Level) bool {
	// Counting needs the Info records even when the log shows only warnings.
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *metricsHandler) Handle(ctx context.Context, r slog.Record) error {
	attr := func(key string) string {
		v := ""
		find := func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value.String()
				return false
			}
			return true
		}
		for _, a := range h.attrs {
			find(a)
		}
		r.Attrs(find)
		return v
	}
	switch r.Message {
	case "message decided":
		h.m.MessageDecided(store.Outcome(attr("outcome")))
	case "outbox row sent":
		h.m.ReplySent()
	case "outbox row failed":
		if cause := attr("cause"); cause != "" {
			h.m.ReplySuppressed(cause)
		} else {
			h.m.ReplyFailed()
		}
	case "imap connection ended":
		h.m.IMAPReconnect()
	case "imap login refused; retrying with a growing delay, logged again only once it works":
		h.m.IMAPLoginRefused()
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *metricsHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &metricsHandler{m: h.m, next: h.next.WithAttrs(attrs), attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *metricsHandler) WithGroup(name string) slog.Handler {
	return &metricsHandler{m: h.m, next: h.next.WithGroup(name), attrs: h.attrs}
}
