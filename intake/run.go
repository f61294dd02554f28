package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/intake/directory"
	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
	"github.com/regionhmc/websesam-intake/store/workdays"
)

// Log attribute keys: constant, so that log queries keep working. Values
// are never field values of a form, nor secrets.
const (
	logUID       = "uid"
	logMessageID = "message_id"
	logOutcome   = "outcome"
	logReason    = "reason"
	logFolder    = "folder"
	logErr       = "err"
	logRetryIn   = "retry_in"
	logRequests  = "requests"
	logReplies   = "replies"
)

// Options change how a Daemon runs. The zero value is the production daemon.
type Options struct {
	Logger *slog.Logger
	// DryRun examines the mailbox read-only, downloads with PEEK, writes
	// nothing to the store or the server and prints to Out what would
	// happen to each matching message.
	DryRun bool
	Out    io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Notifier tells systemd READY after the first login and STATUS lines
	// as the daemon goes (nil outside systemd is fine).
	Notifier *ops.Notifier
	// Heartbeat is beaten by the main loop for the systemd watchdog.
	Heartbeat *ops.Heartbeat
	// Metrics is told of every event it counts where the event happens:
	// a message decided, a reply sent, failed or suppressed, an IMAP
	// connection lost or a login refused, a completed poll.
	Metrics *ops.Metrics
	// Decided, when set, is told of every message decided and recorded
	// (the demo prints them as they happen). It runs on the daemon's
	// goroutine and must not block.
	Decided func(Decided)
	// FormReader reads each attachment (default: a fence.Reader running
	// this binary as its worker, under the fence's default limits).
	FormReader FormReader
	// SkipRetention leaves out the retention pass at start and daily: for
	// tests of the mail loop that count connections or cut commands (the
	// pass has a connection of its own). Retain still runs on demand.
	SkipRetention bool
}

// Decided is one message's decision as recorded: what Options.Decided is
// told. It carries no field values of a form.
type Decided struct {
	UID       uint32
	MessageID string
	Outcome   store.Outcome
	Reason    string
	Requests  int // requests created
	Replies   int // replies queued in the outbox
}

// Daemon watches one mailbox and turns every matching message into exactly
// one recorded, answered and settled outcome.
type Daemon struct {
	cfg      Config
	st       *store.Store // nil in a dry run without a database file
	composer *mailer.Composer
	worker   *mailer.Worker
	dec      decider
	log      *slog.Logger
	dry      bool
	out      io.Writer
	now      func() time.Time

	notify  *ops.Notifier
	hb      *ops.Heartbeat
	metrics *ops.Metrics
	decided func(Decided)

	// failedPasses counts, by message, the passes in a row that failed to
	// record it (see recordChunk); the session's goroutine alone uses it.
	failedPasses map[store.MessageKey]int
	// readerPasses counts, by message, the passes in a row that ended at
	// it because no form reader could be started (see firstRetry): a count
	// of its own, so that the quarantine names what failed three times.
	readerPasses map[store.MessageKey]int
	// storeFault, in tests, fails the recording of a message inside the
	// store's transaction (where its replies are composed), the way the
	// database refusing one of its writes would.
	storeFault func(store.MessageKey) error
	// recordFault, in tests, fails a chunk's whole store transaction the
	// way a full disk or a failing database file would: no ItemError, so
	// nothing of the chunk is written and the pass is tried again.
	recordFault func() error

	retainMu      sync.Mutex    // one retention pass at a time
	polled        chan struct{} // closed after the first completed poll
	polledOnce    sync.Once
	skipRetention bool
	cal           *workdays.Calendar

	// dir asks the directory about managers and HSA-ids (nil without
	// [directory]); dirDown is set while mail waits for it.
	dir     *directory.Directory
	dirDown dirWait
	// readerDown is set while mail waits for a form reader the host
	// could not start (readerWaits).
	readerDown readerWait

	connected func() // called after every successful login
	// withoutCaps, in tests, hides capabilities the server has (IDLE) to
	// run the paths for servers without them.
	withoutCaps []imap.Cap
}

// New builds the daemon over an open store (nil is allowed only for a dry
// run). The configuration must have passed Validate.
func New(cfg Config, st *store.Store, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if st == nil && !opts.DryRun {
		return nil, errors.New("new daemon: no store")
	}
	c, err := mailer.NewComposer(cfg.Mailer)
	if err != nil {
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d := &Daemon{
		cfg: cfg, st: st, composer: c, log: opts.Logger, dry: opts.DryRun, out: opts.Out, now: opts.Now,
		dec:       decider{policy: cfg.Policy, ownIDDom: cfg.Mailer.MessageIDDomain, ownFrom: cfg.Mailer.FromAddress, trust: cfg.Trust, reader: opts.FormReader},
		connected: func() {}, failedPasses: map[store.MessageKey]int{}, readerPasses: map[store.MessageKey]int{},
		notify: opts.Notifier, hb: opts.Heartbeat, metrics: opts.Metrics, decided: opts.Decided,
		cal: calendar(), skipRetention: opts.SkipRetention, polled: make(chan struct{}),
		dir: newDirectory(cfg),
	}
	if d.dir != nil {
		d.metrics.DirectoryUp(true, time.Time{})
	}
	if st != nil {
		d.metrics.SetWaiting(d.Waiting)
	}
	if !d.dry {
		m := opts.Metrics
		if d.worker, err = mailer.NewWorker(cfg.Mailer, st, mailer.WithLogger(opts.Logger.With("component", "outbox")),
			mailer.WithDelivery(func(dl mailer.Delivery) {
				switch dl {
				case mailer.DeliverySent:
					m.ReplySent()
				case mailer.DeliveryFailed:
					m.ReplyFailed()
				case mailer.DeliverySuppressed:
					m.ReplySuppressed("policy")
				}
			}),
			mailer.WithRecipientDropped(func(string) { m.RecipientDropped() })); err != nil {
			return nil, fmt.Errorf("new daemon: %w", err)
		}
	}
	return d, nil
}

// Run watches the mailbox until ctx ends, reconnecting with jittered
// exponential backoff; the outbox worker runs beside it. A refused login
// backs off harder and is logged once per streak, not on every attempt. On
// cancellation the message in hand is finished first (two-phase shutdown:
// ctx stops new work, nothing is cut in the middle of a transaction).
func (d *Daemon) Run(ctx context.Context) error {
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		if d.worker == nil { // a dry run sends nothing
			return
		}
		if err := d.worker.Run(ctx); err != nil {
			d.log.Error("outbox worker stopped", logErr, err)
		}
	}()
	defer func() { <-workerDone }()
	if !d.dry && !d.skipRetention {
		retentionDone := make(chan struct{})
		go func() {
			defer close(retentionDone)
			d.retentionLoop(ctx)
		}()
		defer func() { <-retentionDone }()
	}
	if !d.dry {
		digestDone := make(chan struct{})
		go func() {
			defer close(digestDone)
			d.digestLoop(ctx)
		}()
		defer func() { <-digestDone }()
	}

	m := d.cfg.Mailbox
	conn := backoff{min: m.ReconnectMin, max: m.ReconnectMax}
	auth := backoff{min: m.AuthBackoffMin, max: m.AuthBackoffMax}
	refused := 0
	ready := false
	d.connected = func() {
		d.hb.Beat()
		status := fmt.Sprintf("watching %s on %s", m.Folder, m.Addr)
		if !ready {
			// The store is open (New needs it) and the login worked.
			ready = true
			if err := d.notify.Ready(status); err != nil {
				d.log.Warn("tell systemd the daemon is ready", logErr, err)
			}
		} else {
			_ = d.notify.Status(status)
		}
		if refused > 0 {
			d.log.Info("imap login accepted again", "refusals", refused)
		}
		refused = 0
		conn.reset()
		auth.reset()
	}
	for {
		err := d.session(ctx, false)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		if errors.Is(err, ErrAuth) {
			wait = auth.next()
			if refused == 0 {
				d.log.Error("imap login refused; retrying with a growing delay, logged again only once it works", logErr, err, logRetryIn, wait)
				d.metrics.IMAPLoginRefused()
			}
			refused++
		} else {
			wait = conn.next()
			d.log.Warn("imap connection ended", logErr, err, logRetryIn, wait)
			d.metrics.IMAPReconnect()
		}
		d.hb.SleepUntil(d.now().Add(wait))
		_ = d.notify.Status(fmt.Sprintf("no IMAP connection to %s; retrying in %s", m.Addr, wait.Round(time.Second)))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Once handles what is in the mailbox now (the moves left over from last
// time included), delivers the due outbox and returns: for cron and tests.
func (d *Daemon) Once(ctx context.Context) error {
	if err := d.session(ctx, true); err != nil {
		return err
	}
	if d.dry {
		return d.errWaiting()
	}
	if err := d.worker.DrainOnce(ctx); err != nil {
		// Every message is decided and recorded; only delivery is behind.
		// A cron job should hear of it (exit 1), and what to expect.
		return fmt.Errorf("the mailbox is handled, but replies wait in the outbox until the relay answers (the next run sends them): %w", err)
	}
	return d.errWaiting()
}

// session is one connection's life: log in, select, then settle, scan and
// wait for news until the connection fails or ctx ends.
func (d *Daemon) session(ctx context.Context, once bool) error {
	cn, err := dial(ctx, d.cfg.Mailbox, d.cfg.tokens)
	if err != nil {
		return err
	}
	defer cn.close()
	for _, c := range d.withoutCaps {
		delete(cn.caps, c)
	}
	d.connected()
	folder := d.cfg.Mailbox.Folder
	sel, err := cn.selectMailbox(folder, d.dry)
	if err != nil {
		return fmt.Errorf("select %s: %w", folder, err)
	}
	uv := sel.UIDValidity
	if uv == 0 {
		return fmt.Errorf("select %s: the server gave no UIDVALIDITY", folder)
	}
	for {
		if !d.dry {
			if err := d.settleLeftOver(cn, uv); err != nil {
				return err
			}
			if err := d.reprocess(cn, uv); err != nil {
				return err
			}
		}
		if err := d.scan(ctx, cn, uv); err != nil {
			return err
		}
		d.hb.Beat()
		d.metrics.PollSucceeded(d.now())
		d.polledOnce.Do(func() { close(d.polled) })
		if once || ctx.Err() != nil {
			cn.logout()
			return nil
		}
		if err := d.wait(ctx, cn); err != nil {
			return err
		}
		if ctx.Err() != nil {
			cn.logout()
			return nil
		}
	}
}

// wait returns when there may be new mail: the server said so during IDLE,
// the poll interval passed (IDLE can stall silently), or IDLE must be
// restarted before the server's time-out.
func (d *Daemon) wait(ctx context.Context, cn *conn) error {
	m := d.cfg.Mailbox
	poll := time.NewTimer(d.pollInterval())
	defer poll.Stop()
	// The wait ends by the poll timer at the latest (plus one command).
	d.hb.SleepUntil(d.now().Add(m.PollInterval + m.CommandTimeout))
	if !cn.hasIdle() {
		select {
		case <-ctx.Done():
		case <-poll.C:
		case <-cn.closed():
			return errors.New("imap connection closed by the server")
		}
		return nil
	}
	// A NOOP first makes the server report what it has queued (some
	// servers, go-imap's own among them, start IDLE by waiting for the
	// next change and would sit on mail that arrived during the scan).
	if err := cn.noop(); err != nil {
		return fmt.Errorf("noop: %w", err)
	}
	select {
	case <-cn.news:
		return nil
	default:
	}
	idle, err := cn.idle()
	if err != nil {
		return fmt.Errorf("start idle: %w", err)
	}
	restart := time.NewTimer(m.IdleRestart)
	defer restart.Stop()
	why := "stop"
	select {
	case <-ctx.Done():
	case <-cn.news:
		why = "new mail"
	case <-poll.C:
		why = "poll"
	case <-restart.C:
		why = "idle restart"
	case <-cn.closed():
		why = "closed"
	}
	d.log.Debug("idle ended", "why", why)
	if err := cn.stopIdle(idle); err != nil {
		return fmt.Errorf("stop idle: %w", err)
	}
	return nil
}
