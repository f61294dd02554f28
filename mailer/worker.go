package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// Outbox is what the worker needs of the store; *store.Store has it.
type Outbox interface {
	DueOutbox(now time.Time, limit int) ([]store.OutboxRow, error)
	MarkSent(id uint64, at time.Time) error
	MarkRetry(id uint64, next time.Time, lastErr string) error
	MarkFailed(id uint64, reason string, at time.Time) error
	SentCount(addr string, since time.Time) (int, error)
	RecordBounce(addr string, at time.Time) error
	BouncedSince(addr string, since time.Time) (bool, error)
}

var _ Outbox = (*store.Store)(nil)

// rateWindow is the rolling window of Config.MaxPerHour.
const rateWindow = time.Hour

// Worker delivers the outbox: due rows oldest first, the recipient policy
// before each, one SMTP session for as many rows as are due, and every
// outcome written back to the store before the next row.
type Worker struct {
	cfg    Config
	out    Outbox
	sender *Sender
	log    *slog.Logger
	now    func() time.Time
	poke   chan struct{}
	// dropped is told the domain of each recipient the policy leaves out.
	dropped func(domain string)
	// delivered is told what became of each row the worker finished with.
	delivered func(Delivery)

	reconnectWait time.Duration // current wait after the relay could not be reached
}

// WorkerOption changes how a Worker is built.
type WorkerOption func(*Worker)

// WithWorkerClock sets the worker's clock (tests move it past MaxAge).
func WithWorkerClock(now func() time.Time) WorkerOption { return func(w *Worker) { w.now = now } }

// WithLogger sets the logger; default slog.Default().
func WithLogger(l *slog.Logger) WorkerOption { return func(w *Worker) { w.log = l } }

// WithRecipientDropped sets a function told the domain (never the whole
// address) of every recipient left out of a notice because it is outside
// the allowed domains, while the notice goes to the others: the daemon
// counts these for its metrics. It runs on the worker's goroutine.
func WithRecipientDropped(fn func(domain string)) WorkerOption {
	return func(w *Worker) { w.dropped = fn }
}

// Delivery is what became of an outbox row the worker is done with.
type Delivery int

// What became of a row.
const (
	// DeliverySent: the relay accepted it.
	DeliverySent Delivery = iota
	// DeliveryFailed: given up on for good (refused for good, too old).
	DeliveryFailed
	// DeliverySuppressed: never sent by policy (no allowed recipient left).
	DeliverySuppressed
)

// WithDelivery sets a function told what became of each row the worker is
// done with (sent, failed, suppressed by policy): the daemon counts these
// for its metrics, where they happen rather than from the log. It runs on
// the worker's goroutine.
func WithDelivery(fn func(Delivery)) WorkerOption {
	return func(w *Worker) { w.delivered = fn }
}

func (w *Worker) tell(d Delivery) {
	if w.delivered != nil {
		w.delivered(d)
	}
}

// NewWorker validates cfg and builds a worker over the outbox.
func NewWorker(cfg Config, out Outbox, opts ...WorkerOption) (*Worker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := NewSender(cfg)
	if err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, out: out, sender: s, log: slog.Default(), now: time.Now, poke: make(chan struct{}, 1)}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// Notify wakes the worker: new rows were written.
func (w *Worker) Notify() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// Run drains the outbox until ctx ends: after each pass it waits for the
// poll interval or a Notify, and while the relay is unreachable it waits
// with a growing, jittered delay (capped by ReconnectMax) without touching
// the order of the rows, so that everything goes out in order once the
// relay is back. It returns nil when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	for {
		err := w.DrainOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := w.cfg.PollInterval
		listen := w.poke
		var ce *ConnError
		switch {
		case errors.As(err, &ce):
			wait = w.nextReconnectWait()
			listen = nil // do not hammer a relay that is down on every new row
			w.log.Warn("smtp server unreachable", "err", err, "retry_in", wait)
		case err != nil:
			w.log.Error("deliver outbox", "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-listen:
			t.Stop()
		case <-t.C:
		}
	}
}

func (w *Worker) nextReconnectWait() time.Duration {
	if w.reconnectWait == 0 {
		w.reconnectWait = min(w.cfg.RetryBase, w.cfg.ReconnectMax)
	} else {
		w.reconnectWait = min(2*w.reconnectWait, w.cfg.ReconnectMax)
	}
	return jitter(w.reconnectWait)
}

// jitter spreads a wait over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// backoff is the wait before attempt n+1 of a row: RetryBase doubled per
// attempt, capped at RetryMax, jittered.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.RetryBase
	for i := 0; i < attempts && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	return jitter(min(d, w.cfg.RetryMax))
}

// DrainOnce sends every row that is due now and returns when none is left.
// It returns a *ConnError when the relay could not be reached (the rows are
// left in order), the store's error, or ctx's error when ctx ended; the row
// in hand at that moment is still finished and recorded first.
func (w *Worker) DrainOnce(ctx context.Context) error {
	var ss *session
	defer func() {
		if ss != nil {
			ss.close()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := w.out.DueOutbox(w.now(), w.cfg.Batch)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		for i, r := range rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			now := w.now()
			rcpts, err := w.policy(r, now)
			if err != nil {
				if errors.Is(err, errPolicyHandled) {
					continue
				}
				return err
			}
			if ss == nil || ss.broken {
				if ss != nil {
					ss.close()
				}
				if ss, err = w.sender.dial(ctx); err != nil {
					ss = nil
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return errors.Join(err, w.unreachable(rows[i:], now, err))
				}
				w.reconnectWait = 0
			}
			// The row in hand is finished and settled even when ctx ends
			// meanwhile (two-phase shutdown); the attempt timeout bounds it.
			d, err := ss.deliver(r.From, rcpts, r.Raw)
			if err := w.settle(r, rcpts, d, err); err != nil {
				return err
			}
		}
	}
}

// errPolicyHandled: the policy already wrote the row's fate.
var errPolicyHandled = errors.New("handled by policy")

// policy returns the envelope recipients of r, or writes the row's fate
// (failed: every recipient outside the allowed domains, or every recipient
// bounced; retry: a recipient is at the hourly limit) and returns
// errPolicyHandled. Recipients outside the allowed domains are left out
// one by one; the row fails only when none is left.
func (w *Worker) policy(r store.OutboxRow, now time.Time) ([]string, error) {
	var all []string
	for _, a := range append(append([]string(nil), r.To...), r.Cc...) {
		a = strings.TrimSpace(a)
		dup := a == ""
		for _, b := range all {
			dup = dup || SameAddress(a, b)
		}
		if !dup {
			all = append(all, a)
		}
	}
	if len(all) == 0 {
		return nil, w.fail(r, "no recipient", now)
	}
	// Each recipient outside the allowed domains is dropped on its own: a
	// user's address in Cc outside them must not keep the manager from
	// hearing of a rejection (reportDropped tells of them once the row is
	// sent, not on every attempt).
	var inside, outside []string
	for _, a := range all {
		if DomainAllowed(a, w.cfg.AllowedDomains) {
			inside = append(inside, a)
		} else {
			outside = append(outside, a)
		}
	}
	if len(inside) == 0 {
		return nil, w.fail(r, fmt.Sprintf("recipient outside the allowed domains (%s): %s",
			strings.Join(w.cfg.AllowedDomains, ", "), strings.Join(outside, ", ")), now)
	}
	all = inside
	var rcpts, bounced []string
	for _, a := range all {
		b, err := w.out.BouncedSince(a, now.Add(-w.cfg.BounceWindow))
		if err != nil {
			return nil, err
		}
		if b {
			bounced = append(bounced, a)
		} else {
			rcpts = append(rcpts, a)
		}
	}
	if len(rcpts) == 0 {
		return nil, w.fail(r, fmt.Sprintf("every recipient bounced within %s: %s",
			days(w.cfg.BounceWindow), strings.Join(bounced, ", ")), now)
	}
	var until time.Time
	var limited []string
	for _, a := range rcpts {
		free, err := w.rateFree(a, now)
		if err != nil {
			return nil, err
		}
		if free.After(now) {
			limited = append(limited, a)
			if free.After(until) {
				until = free
			}
		}
	}
	if len(limited) > 0 {
		msg := fmt.Sprintf("waiting: %d mails per hour reached for %s", w.cfg.MaxPerHour, strings.Join(limited, ", "))
		if err := w.out.MarkRetry(r.ID, until, msg); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		w.log.Info("outbox row waits for the rate limit", "outbox_id", r.ID, "message_id", r.MessageID, "until", until)
		return nil, errPolicyHandled
	}
	return rcpts, nil
}

// rateFree returns when addr may get another mail: now when it got fewer
// than MaxPerHour in the last hour, else one hour after the send that must
// leave the window. The store only counts, so that send is found by
// bisecting the window with SentCount (to the second).
func (w *Worker) rateFree(addr string, now time.Time) (time.Time, error) {
	start := now.Add(-rateWindow)
	n, err := w.out.SentCount(addr, start)
	if err != nil || n < w.cfg.MaxPerHour {
		return now, err
	}
	// Find the latest since with SentCount(since) >= MaxPerHour: the time of
	// the send whose leaving frees a place.
	lo, hi := start, now.Add(time.Second)
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		n, err := w.out.SentCount(addr, mid)
		if err != nil {
			return now, err
		}
		if n >= w.cfg.MaxPerHour {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi.Add(rateWindow), nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// reportDropped logs and tells WithRecipientDropped of each recipient of a
// sent row that the policy left out, by domain only (the local part names a
// person).
func (w *Worker) reportDropped(r store.OutboxRow) {
	var seen []string
	for _, a := range append(append([]string(nil), r.To...), r.Cc...) {
		a = strings.TrimSpace(a)
		if a == "" || DomainAllowed(a, w.cfg.AllowedDomains) || slices.ContainsFunc(seen, func(b string) bool { return SameAddress(a, b) }) {
			continue
		}
		seen = append(seen, a)
		dom := AddressDomain(a)
		w.log.Warn("outbox recipient dropped", "outbox_id", r.ID, "message_id", r.MessageID, "kind", r.Kind,
			"domain", dom, "cause", "domain")
		if w.dropped != nil {
			w.dropped(dom)
		}
	}
}

// fail marks r failed for good and returns errPolicyHandled.
func (w *Worker) fail(r store.OutboxRow, reason string, now time.Time) error {
	if err := w.out.MarkFailed(r.ID, reason, now); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	w.log.Warn("outbox row failed", "outbox_id", r.ID, "message_id", r.MessageID, "kind", r.Kind, "cause", "policy")
	w.tell(DeliverySuppressed)
	return errPolicyHandled
}

// settle writes the outcome of one delivery.
func (w *Worker) settle(r store.OutboxRow, rcpts []string, d delivery, err error) error {
	now := w.now()
	for i, a := range d.refused {
		if isBounce(d.answers[i]) {
			if err := w.out.RecordBounce(a, now); err != nil {
				return err
			}
		}
	}
	switch {
	case err == nil:
		if err := w.out.MarkSent(r.ID, now); err != nil {
			return err
		}
		w.log.Info("outbox row sent", "outbox_id", r.ID, "message_id", r.MessageID, "kind", r.Kind,
			"recipients", len(rcpts)-len(d.refused), "refused", len(d.refused))
		w.reportDropped(r)
		w.tell(DeliverySent)
		return nil
	case permanent(err):
		return w.failed(r, err.Error(), now)
	case now.Sub(r.CreatedAt) > w.cfg.MaxAge:
		return w.failed(r, fmt.Sprintf("gave up after %s: %v", days(w.cfg.MaxAge), err), now)
	default:
		next := now.Add(w.backoff(r.Attempts))
		if err := w.out.MarkRetry(r.ID, next, err.Error()); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		w.log.Info("outbox row will be retried", "outbox_id", r.ID, "message_id", r.MessageID,
			"attempts", r.Attempts+1, "next_try", next, "code", code(err))
		return nil
	}
}

func (w *Worker) failed(r store.OutboxRow, reason string, now time.Time) error {
	if err := w.out.MarkFailed(r.ID, reason, now); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	w.log.Warn("outbox row failed", "outbox_id", r.ID, "message_id", r.MessageID, "kind", r.Kind, "code", code(errors.New(reason)))
	w.tell(DeliveryFailed)
	return nil
}

func code(err error) int {
	var se *SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// isBounce: the answer says the mailbox does not exist or is disabled
// (enhanced status 5.1.x or 5.2.1). A 5xx for policy reasons (relay
// denied, 5.7.x) says nothing about the address and is not remembered.
func isBounce(e *SMTPError) bool {
	if !e.Permanent() {
		return false
	}
	return strings.HasPrefix(e.Msg, "5.1.") || strings.HasPrefix(e.Msg, "5.2.1") ||
		// the refused recipient's address is put before the answer
		strings.Contains(e.Msg, ": 5.1.") || strings.Contains(e.Msg, ": 5.2.1")
}

// unreachable handles rows that could not be tried because the relay is
// down: rows older than MaxAge fail; the first other row records the error
// and one more attempt with its NextTry unchanged, so the order of the
// outbox is kept for when the relay is back.
func (w *Worker) unreachable(rows []store.OutboxRow, now time.Time, cause error) error {
	noted := false
	for _, r := range rows {
		if now.Sub(r.CreatedAt) > w.cfg.MaxAge {
			if err := w.failed(r, fmt.Sprintf("gave up after %s: %v", days(w.cfg.MaxAge), cause), now); err != nil {
				return err
			}
			continue
		}
		if !noted {
			noted = true
			if err := w.out.MarkRetry(r.ID, r.NextTry, cause.Error()); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
	}
	return nil
}
