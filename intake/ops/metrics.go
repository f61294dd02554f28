package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
	"github.com/regionhmc/websesam-intake/store"
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
// `websesam-intake status`. The counters are Prometheus client counters in
// memory since the process started, fed by explicit calls where the events
// happen (the daemon's decisions and connections, the outbox worker's
// deliveries), never by reading log lines; the depths (queue, outbox,
// unsettled) are read from the store at each scrape, so they are right
// after a restart too. A nil *Metrics ignores every event, so the daemon
// can call it unconditionally.
//
// The Prometheus client library stays although its package initialisation
// costs every start of the binary (form workers included) about 3 ms: the
// counters were asked for as client_golang's, and a hand-written exposition
// format is code to keep correct for the sake of 3 ms out of a start that
// excelize's initialisation alone makes larger.
type Metrics struct {
	reg        *prometheus.Registry
	messages   *prometheus.CounterVec
	sent       prometheus.Counter
	failed     prometheus.Counter
	suppressed *prometheus.CounterVec
	dropped    prometheus.Counter
	reconnects prometheus.Counter
	refusals   prometheus.Counter
	lastPoll   prometheus.Gauge
	// retained counts what retention passes removed, by kind; lastPass is
	// when the last one ran.
	retained *prometheus.CounterVec
	lastPass prometheus.Gauge
	// waiting ages the open requests at each scrape (SetWaiting).
	waiting atomic.Pointer[func() (store.Waiting, error)]
	// The directory's gauges, registered by the first DirectoryUp (only a
	// daemon with [directory] has them).
	dirOnce      sync.Once
	dirUp        prometheus.Gauge
	dirDownSince prometheus.Gauge
}

// Kinds of record a retention pass removes, as the metric labels them.
const (
	RetainedRequests   = "requests"
	RetainedMessages   = "messages"
	RetainedNotices    = "notices"
	RetainedFolderMail = "folder_mail"
)

var retainedKinds = []string{RetainedRequests, RetainedMessages, RetainedNotices, RetainedFolderMail}

// allOutcomes are always exported, zero or not, so a rate over them never
// starts from a missing series.
var allOutcomes = []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined}

// allStatuses are the request statuses exported as queue depth.
var allStatuses = []store.Status{store.StatusQueued, store.StatusClaimed, store.StatusDone, store.StatusRejected}

const ns = "websesam_intake"

// NewMetrics reads the depths from st at each scrape (st may be nil: then
// they are not reported).
func NewMetrics(st *store.Store) *Metrics {
	m := &Metrics{
		reg:        prometheus.NewRegistry(),
		messages:   counterVec("messages_total", "Messages decided since the start, by outcome.", "outcome"),
		sent:       counter("replies_sent_total", "Replies the SMTP relay accepted since the start."),
		failed:     counter("replies_failed_total", "Replies given up on since the start (refused for good or too old)."),
		suppressed: counterVec("replies_suppressed_total", "Replies not sent by policy since the start, by reason.", "reason"),
		dropped:    counter("recipients_dropped_total", "Recipients left out of a reply since the start, being outside the allowed domains (the reply went to the others)."),
		reconnects: counter("imap_reconnects_total", "IMAP connections lost and retried since the start."),
		refusals:   counter("imap_login_refusals_total", "IMAP login refusal streaks since the start (the daemon logs a streak once)."),
		lastPoll:   gauge("last_poll_timestamp_seconds", "Unix time of the last completed search of the mailbox (0: none yet)."),
		retained:   counterVec("retention_removed_total", "Records emptied and folder mails removed by retention passes since the start, by kind.", "kind"),
		lastPass:   gauge("retention_last_pass_timestamp_seconds", "Unix time of the last retention pass (0: none yet)."),
	}
	for _, k := range retainedKinds {
		m.retained.WithLabelValues(k)
	}
	m.reg.MustRegister(m.retained, m.lastPass, scraped{descs: []*prometheus.Desc{descOldest, descLate}, collect: m.collectWaiting})
	started := gauge("start_timestamp_seconds", "Unix time the daemon started.")
	started.Set(unixSeconds(time.Now()))
	for _, o := range allOutcomes {
		m.messages.WithLabelValues(string(o))
	}
	m.reg.MustRegister(m.messages, m.sent, m.failed, m.suppressed, m.dropped, m.reconnects, m.refusals, m.lastPoll, started)
	if st != nil {
		m.reg.MustRegister(scraped{
			descs:   []*prometheus.Desc{descStoreUp, descRequests, descOutbox, descUnsettled},
			collect: func(ch chan<- prometheus.Metric) { collectDepths(ch, st.Counts) },
		})
	}
	return m
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
}

func counterVec(name, help, label string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, []string{label})
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
}

// scraped is a collector whose figures are read afresh at each scrape (the
// store's depths, the waiting requests, the OAuth2 client's figures): descs
// are the series it may report, collect sends their values.
type scraped struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (s scraped) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range s.descs {
		ch <- d
	}
}

func (s scraped) Collect(ch chan<- prometheus.Metric) { s.collect(ch) }

// MessageDecided counts one message's outcome.
func (m *Metrics) MessageDecided(o store.Outcome) {
	if m != nil {
		m.messages.WithLabelValues(string(o)).Inc()
	}
}

// ReplySent counts a reply the relay accepted.
func (m *Metrics) ReplySent() {
	if m != nil {
		m.sent.Inc()
	}
}

// ReplyFailed counts a reply given up on for good (a permanent refusal or
// too old).
func (m *Metrics) ReplyFailed() {
	if m != nil {
		m.failed.Inc()
	}
}

// ReplySuppressed counts a reply never sent by policy (recipient domain,
// bounced address), by reason.
func (m *Metrics) ReplySuppressed(reason string) {
	if m != nil {
		m.suppressed.WithLabelValues(reason).Inc()
	}
}

// RecipientDropped counts a recipient left out of a notice by the domain
// policy while the notice went to the others.
func (m *Metrics) RecipientDropped() {
	if m != nil {
		m.dropped.Inc()
	}
}

// IMAPReconnect counts a lost IMAP connection that will be retried.
func (m *Metrics) IMAPReconnect() {
	if m != nil {
		m.reconnects.Inc()
	}
}

// IMAPLoginRefused counts a refused IMAP login (once per streak).
func (m *Metrics) IMAPLoginRefused() {
	if m != nil {
		m.refusals.Inc()
	}
}

// PollSucceeded records the time of a completed search of the mailbox.
func (m *Metrics) PollSucceeded(t time.Time) {
	if m != nil {
		m.lastPoll.Set(unixSeconds(t))
	}
}

// RetentionPass counts what one (real) retention pass removed.
func (m *Metrics) RetentionPass(r store.RetentionResult) {
	if m == nil {
		return
	}
	m.retained.WithLabelValues(RetainedRequests).Add(float64(r.Requests))
	m.retained.WithLabelValues(RetainedMessages).Add(float64(r.Messages))
	m.retained.WithLabelValues(RetainedNotices).Add(float64(r.Outbox))
	for _, f := range r.Folders {
		m.retained.WithLabelValues(RetainedFolderMail).Add(float64(f.Removed))
	}
	m.lastPass.Set(unixSeconds(r.At))
}

// SetWaiting makes every scrape report the open requests' oldest age and
// how many are past the promise, in working days, as fn finds them.
func (m *Metrics) SetWaiting(fn func() (store.Waiting, error)) {
	if m != nil {
		m.waiting.Store(&fn)
	}
}

var (
	descOldest = prometheus.NewDesc(ns+"_oldest_waiting_working_days", "Age in working days of the oldest open (queued or claimed) request.", nil, nil)
	descLate   = prometheus.NewDesc(ns+"_requests_past_promise", "Open requests older than the promise ([queue] promise, working days).", nil, nil)
)

// collectWaiting reads who waits too long at each scrape; nothing until
// SetWaiting, and nothing when the store cannot be read (store_up says so).
func (m *Metrics) collectWaiting(ch chan<- prometheus.Metric) {
	fn := m.waiting.Load()
	if fn == nil {
		return
	}
	w, err := (*fn)()
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, float64(w.Oldest))
	ch <- prometheus.MustNewConstMetric(descLate, prometheus.GaugeValue, float64(len(w.Late)))
}

// DirectoryUp records whether the directory answers; since is when it
// stopped answering (mail waits undecided meanwhile).
func (m *Metrics) DirectoryUp(up bool, since time.Time) {
	if m == nil {
		return
	}
	m.dirOnce.Do(func() {
		m.dirUp = gauge("directory_up", "Whether the directory answers; 0 while new mail waits undecided for it.")
		m.dirDownSince = gauge("directory_down_since_timestamp_seconds", "Unix time the directory stopped answering (0 while it answers).")
		m.reg.MustRegister(m.dirUp, m.dirDownSince)
	})
	if up {
		m.dirUp.Set(1)
		m.dirDownSince.Set(0)
		return
	}
	m.dirUp.Set(0)
	m.dirDownSince.Set(unixSeconds(since))
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

var (
	descStoreUp   = prometheus.NewDesc(ns+"_store_up", "Whether the store could be read for the depths below.", nil, nil)
	descRequests  = prometheus.NewDesc(ns+"_requests", "Requests in the store, by status.", []string{"status"}, nil)
	descOutbox    = prometheus.NewDesc(ns+"_outbox_pending", "Replies waiting in the outbox.", nil, nil)
	descUnsettled = prometheus.NewDesc(ns+"_unsettled_messages", "Messages recorded but not yet moved on the server.", nil, nil)
)

// collectDepths reads the store's counts at each scrape. A store that cannot
// be read is reported as websesam_intake_store_up 0 rather than failing the
// whole scrape.
func collectDepths(ch chan<- prometheus.Metric, counts func() (store.Counts, error)) {
	c, err := counts()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 1)
	for _, s := range allStatuses {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.GaugeValue, float64(c.Requests[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(c.OutboxPending))
	ch <- prometheus.MustNewConstMetric(descUnsettled, prometheus.GaugeValue, float64(c.Unsettled))
}

// WatchTokens reports the built-in OAuth2 client's figures at each scrape
// (nil: not configured, nothing reported): tokens obtained, requests the
// issuer refused (a wrong or expired client secret or certificate) or that
// failed otherwise, and the expiry of the token in hand.
func (m *Metrics) WatchTokens(t *endpoint.Tokens) {
	if m == nil || t == nil {
		return
	}
	m.reg.MustRegister(scraped{
		descs:   []*prometheus.Desc{descTokens, descTokenRefusals, descTokenFailures, descTokenExpiry},
		collect: func(ch chan<- prometheus.Metric) { collectTokens(ch, t.Stats()) },
	})
}

var (
	descTokens        = prometheus.NewDesc(ns+"_oauth2_tokens_total", "OAuth2 access tokens obtained since the start.", nil, nil)
	descTokenRefusals = prometheus.NewDesc(ns+"_oauth2_token_refusals_total", "Token requests the issuer refused since the start (wrong or expired client secret or certificate, unknown client id).", nil, nil)
	descTokenFailures = prometheus.NewDesc(ns+"_oauth2_token_failures_total", "Token requests that failed otherwise since the start (network, issuer down).", nil, nil)
	descTokenExpiry   = prometheus.NewDesc(ns+"_oauth2_token_expiry_timestamp_seconds", "Unix time the token in hand expires (0: none).", nil, nil)
)

func collectTokens(ch chan<- prometheus.Metric, s endpoint.TokenStats) {
	ch <- prometheus.MustNewConstMetric(descTokens, prometheus.CounterValue, float64(s.Fetched))
	ch <- prometheus.MustNewConstMetric(descTokenRefusals, prometheus.CounterValue, float64(s.Refused))
	ch <- prometheus.MustNewConstMetric(descTokenFailures, prometheus.CounterValue, float64(s.Failed))
	ch <- prometheus.MustNewConstMetric(descTokenExpiry, prometheus.GaugeValue, unixSeconds(s.Expires))
}

// Handler serves GET /metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
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
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
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

// WriteTo writes what /metrics serves, in the Prometheus text format: for
// `status`, which reads the same figures over the staff socket.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	mfs, err := m.reg.Gather()
	if err != nil {
		return 0, fmt.Errorf("gather metrics: %w", err)
	}
	cw := &countingWriter{w: w}
	enc := expfmt.NewEncoder(cw, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return cw.n, fmt.Errorf("write metrics: %w", err)
		}
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
