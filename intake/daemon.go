package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
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
	Notifier *Notifier
	// Heartbeat is beaten by the main loop for the systemd watchdog.
	Heartbeat *Heartbeat
	// Metrics gets the time of every completed poll (the other figures
	// come from the log records, see Metrics.LogHandler).
	Metrics *Metrics
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

	notify  *Notifier
	hb      *Heartbeat
	metrics *Metrics

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
		dec:       decider{policy: cfg.Policy, ownIDDom: cfg.Mailer.MessageIDDomain, ownFrom: cfg.Mailer.FromAddress},
		connected: func() {},
		notify:    opts.Notifier, hb: opts.Heartbeat, metrics: opts.Metrics,
	}
	if !d.dry {
		if d.worker, err = mailer.NewWorker(cfg.Mailer, st, mailer.WithLogger(opts.Logger.With("component", "outbox"))); err != nil {
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
			}
			refused++
		} else {
			wait = conn.next()
			d.log.Warn("imap connection ended", logErr, err, logRetryIn, wait)
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
		return nil
	}
	if err := d.worker.DrainOnce(ctx); err != nil {
		// Every message is decided and recorded; only delivery is behind.
		// A cron job should hear of it (exit 1), and what to expect.
		return fmt.Errorf("the mailbox is handled, but replies wait in the outbox until the relay answers (the next run sends them): %w", err)
	}
	return nil
}

// session is one connection's life: log in, select, then settle, scan and
// wait for news until the connection fails or ctx ends.
func (d *Daemon) session(ctx context.Context, once bool) error {
	cn, err := dial(ctx, d.cfg.Mailbox)
	if err != nil {
		return err
	}
	defer cn.close()
	for _, c := range d.withoutCaps {
		delete(cn.caps, c)
	}
	d.connected()
	folder := d.cfg.Mailbox.Folder
	var sel *imap.SelectData
	err = cn.do(func() error {
		var err error
		sel, err = cn.c.Select(folder, &imap.SelectOptions{ReadOnly: d.dry}).Wait()
		return err
	})
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
		if once || ctx.Err() != nil {
			_ = cn.do(func() error { return cn.c.Logout().Wait() })
			return nil
		}
		if err := d.wait(ctx, cn); err != nil {
			return err
		}
		if ctx.Err() != nil {
			_ = cn.do(func() error { return cn.c.Logout().Wait() })
			return nil
		}
	}
}

// wait returns when there may be new mail: the server said so during IDLE,
// the poll interval passed (IDLE can stall silently), or IDLE must be
// restarted before the server's time-out.
func (d *Daemon) wait(ctx context.Context, cn *conn) error {
	m := d.cfg.Mailbox
	poll := time.NewTimer(m.PollInterval)
	defer poll.Stop()
	// The wait ends by the poll timer at the latest (plus one command).
	d.hb.SleepUntil(d.now().Add(m.PollInterval + m.CommandTimeout))
	if !cn.hasIdle() {
		select {
		case <-ctx.Done():
		case <-poll.C:
		case <-cn.c.Closed():
			return errors.New("imap connection closed by the server")
		}
		return nil
	}
	// A NOOP first makes the server report what it has queued (some
	// servers, go-imap's own among them, start IDLE by waiting for the
	// next change and would sit on mail that arrived during the scan).
	if err := cn.do(func() error { return cn.c.Noop().Wait() }); err != nil {
		return fmt.Errorf("noop: %w", err)
	}
	select {
	case <-cn.news:
		return nil
	default:
	}
	var idle *imapclient.IdleCommand
	if err := cn.do(func() error {
		var err error
		idle, err = cn.c.Idle()
		return err
	}); err != nil {
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
	case <-cn.c.Closed():
		why = "closed"
	}
	d.log.Debug("idle ended", "why", why)
	if err := cn.do(func() error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	}); err != nil {
		return fmt.Errorf("stop idle: %w", err)
	}
	return nil
}

// envelope is what is fetched of every new message before deciding whether
// it is ours.
type envelope struct {
	UID       imap.UID
	Subject   string // decoded
	MessageID string
	From      string
	Date      time.Time // INTERNALDATE
	Size      int64
	// LargestPart is the encoded size of the largest leaf part: a file
	// certainly over the attachment limit is seen without downloading.
	LargestPart int64
}

// scan handles every message above the highest UID handled under uv, in UID
// order: envelope, size and structure first; the body only for matches.
func (d *Daemon) scan(ctx context.Context, cn *conn, uv uint32) error {
	high, err := d.highestUID(uv)
	if err != nil {
		return err
	}
	var uids []imap.UID
	err = cn.do(func() error {
		data, err := cn.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(high + 1), Stop: 0}}}}, nil).Wait()
		if err != nil {
			return err
		}
		uids = data.AllUIDs()
		return nil
	})
	if err != nil {
		return fmt.Errorf("search new mail: %w", err)
	}
	// "n:*" always matches the last message, even below n.
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return uint32(u) <= high })
	slices.Sort(uids)
	since := d.cfg.Policy.backlogSince()
	for len(uids) > 0 {
		batch := uids[:min(len(uids), d.cfg.Mailbox.FetchBatch)]
		uids = uids[len(batch):]
		envs, err := d.envelopes(cn, batch)
		if err != nil {
			return err
		}
		handled := uint32(0)
		// Bodies are fetched a chunk at a time (bounded bytes) and decided
		// in parallel while the previous chunk is recorded (one commit for
		// the chunk) and settled.
		chunks := d.chunks(envs, since)
		var pending func() (map[imap.UID]decision, error)
		if len(chunks) > 0 {
			pending = d.prepare(cn, chunks[0].want)
		}
		for k, c := range chunks {
			decs, err := pending()
			if err != nil {
				d.advance(uv, handled)
				return err
			}
			if k+1 < len(chunks) && ctx.Err() == nil {
				pending = d.prepare(cn, chunks[k+1].want)
			}
			if ctx.Err() != nil {
				break
			}
			// Record the chunk in one commit, then settle it: one move per
			// outcome folder, one commit for the settles. Nothing is moved
			// before its record is committed.
			outcomes, err := d.recordChunk(uv, c.envs, decs)
			if err != nil {
				d.advance(uv, handled)
				return err
			}
			if len(c.envs) > 0 {
				handled = uint32(c.envs[len(c.envs)-1].UID)
			}
			recorded := map[store.Outcome][]store.MessageKey{}
			ids := map[uint32]string{}
			var order []store.Outcome
			for _, e := range c.envs {
				outcome := outcomes[e.UID]
				if outcome == "" {
					continue
				}
				if recorded[outcome] == nil {
					order = append(order, outcome)
				}
				recorded[outcome] = append(recorded[outcome], store.MessageKey{Mailbox: d.cfg.Mailbox.Folder, UIDValidity: uv, UID: uint32(e.UID)})
				ids[uint32(e.UID)] = e.MessageID
			}
			for _, o := range order {
				if err := d.settle(cn, recorded[o], o, false, ids); err != nil {
					d.advance(uv, handled)
					return err
				}
			}
		}
		// Messages that vanished between SEARCH and FETCH need nothing.
		if ctx.Err() == nil {
			handled = uint32(batch[len(batch)-1])
		}
		d.advance(uv, handled)
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

func (d *Daemon) highestUID(uv uint32) (uint32, error) {
	if d.st == nil {
		return 0, nil
	}
	high, err := d.st.HighestUID(d.cfg.Mailbox.Folder, uv)
	if err != nil {
		return 0, err
	}
	return high, nil
}

// advance remembers that every UID up to uid is handled (matching ones are
// recorded; the rest needed nothing).
func (d *Daemon) advance(uv, uid uint32) {
	if d.dry || uid == 0 {
		return
	}
	if err := d.st.AdvanceUID(d.cfg.Mailbox.Folder, uv, uid); err != nil {
		d.log.Error("remember the last UID handled", logUID, uid, logErr, err)
	}
}

// matches reports whether the decoded subject carries the keyword in any
// letter case (SEARCH is not trusted with non-ASCII: servers disagree).
func (d *Daemon) matches(subject string) bool {
	return strings.Contains(strings.ToLower(subject), strings.ToLower(d.cfg.Policy.Keyword))
}

func (d *Daemon) envelopes(cn *conn, uids []imap.UID) ([]envelope, error) {
	var bufs []*imapclient.FetchMessageBuffer
	err := cn.do(func() error {
		var err error
		bufs, err = cn.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
			UID: true, Envelope: true, InternalDate: true, RFC822Size: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		}).Collect()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fetch envelopes: %w", err)
	}
	out := make([]envelope, 0, len(bufs))
	for _, b := range bufs {
		if b.UID == 0 {
			continue
		}
		e := envelope{UID: b.UID, Date: b.InternalDate, Size: b.RFC822Size}
		if b.BodyStructure != nil {
			b.BodyStructure.Walk(func(_ []int, p imap.BodyStructure) bool {
				if sp, ok := p.(*imap.BodyStructureSinglePart); ok && sp.MessageRFC822 == nil {
					e.LargestPart = max(e.LargestPart, int64(sp.Size))
				}
				return true
			})
		}
		if b.Envelope != nil {
			e.Subject = b.Envelope.Subject
			e.MessageID = b.Envelope.MessageID
			if len(b.Envelope.From) > 0 {
				e.From = b.Envelope.From[0].Addr()
			}
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b envelope) int { return int(a.UID) - int(b.UID) })
	return out, nil
}

// Chunks of bodies fetched at once: few round trips, bounded memory.
const (
	chunkMessages = 32
	chunkBytes    = 4 << 20
)

// tooLarge says from the envelope alone why a message is over a size
// limit, or "". Base64 grows a file by 4/3 plus line ends: an encoded part
// over 1.4 times the limit is certainly over it.
func (d *Daemon) tooLarge(e envelope) string {
	switch {
	case e.Size > d.cfg.Policy.MaxMessageSize:
		return reasonMessageSize
	case e.LargestPart > d.cfg.Policy.MaxAttachmentSize*14/10:
		return reasonFileSize
	}
	return ""
}

// chunk is a run of envelopes in UID order and the matching ones among
// them whose bodies are fetched together.
type chunk struct {
	envs, want []envelope
}

// chunks cuts envs into runs whose matching messages fit chunkMessages and
// chunkBytes (a single message over chunkBytes makes a chunk of its own).
func (d *Daemon) chunks(envs []envelope, since time.Time) []chunk {
	var out []chunk
	for i := 0; i < len(envs); {
		c := chunk{}
		j, bytes := i, int64(0)
		for ; j < len(envs) && len(c.want) < chunkMessages; j++ {
			e := envs[j]
			if !d.matches(e.Subject) || e.Date.Before(since) {
				continue
			}
			if d.tooLarge(e) == "" {
				if bytes+e.Size > chunkBytes && len(c.want) > 0 {
					break
				}
				bytes += e.Size
			}
			c.want = append(c.want, e)
		}
		c.envs = envs[i:j]
		out = append(out, c)
		i = j
	}
	return out
}

// prepare downloads the bodies of the matching messages want (one FETCH,
// now) and decides them in parallel in the background; the returned
// function waits for the decisions. A message over the size limit is
// decided without download; a message gone from the server gets none.
func (d *Daemon) prepare(cn *conn, want []envelope) func() (map[imap.UID]decision, error) {
	decs := make(map[imap.UID]decision, len(want))
	var uids []imap.UID
	for _, e := range want {
		if reason := d.tooLarge(e); reason != "" {
			decs[e.UID] = decision{Outcome: store.OutcomeQuarantined, Reason: reason,
				Original: mailer.Original{MessageID: e.MessageID, Subject: e.Subject, From: e.From}}
			continue
		}
		uids = append(uids, e.UID)
	}
	if len(uids) == 0 {
		return func() (map[imap.UID]decision, error) { return decs, nil }
	}
	bodies, err := d.bodies(cn, uids)
	if err != nil {
		return func() (map[imap.UID]decision, error) { return nil, err }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for _, e := range want {
			raw, ok := bodies[e.UID]
			delete(bodies, e.UID) // the decider holds it only as long as it works
			if !ok {
				if d.tooLarge(e) == "" {
					d.log.Info("message gone before download", logUID, uint32(e.UID), logMessageID, e.MessageID)
				}
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				dec := d.decideRaw(raw, e.MessageID, e.Subject)
				mu.Lock()
				decs[e.UID] = dec
				mu.Unlock()
			}()
		}
		wg.Wait()
	}()
	return func() (map[imap.UID]decision, error) {
		<-done
		return decs, nil
	}
}

// decideRaw decides one downloaded message: the one decision path of new
// mail and of a message staff asked to reprocess. messageID and subject,
// from the envelope, stand in when the header gives none.
func (d *Daemon) decideRaw(raw []byte, messageID, subject string) decision {
	dec := d.dec.decide(raw)
	if dec.Outcome != store.OutcomeReturned {
		// Only a returned form travels back as an attachment.
		for i := range dec.Forms {
			dec.Forms[i].File.Data = nil
		}
	}
	if dec.Original.MessageID == "" {
		dec.Original.MessageID = messageID
	}
	if dec.Original.Subject == "" {
		dec.Original.Subject = subject
	}
	return dec
}

// recordChunk writes the decided messages of a chunk (those in decs, in the
// order of envs) with their requests and replies in ONE store transaction,
// and returns for each the outcome to settle it by (the recorded one, for a
// message seen before); nil in a dry run. An error means the store failed:
// the pass stops and is tried again, and nothing of the chunk was written.
func (d *Daemon) recordChunk(uv uint32, envs []envelope, decs map[imap.UID]decision) (map[imap.UID]store.Outcome, error) {
	d.hb.Beat()
	var items []store.OutcomeItem
	var inChunk []envelope
	var chosen []decision
	for _, e := range envs {
		dec, ok := decs[e.UID]
		if !ok {
			continue
		}
		key := store.MessageKey{Mailbox: d.cfg.Mailbox.Folder, UIDValidity: uv, UID: uint32(e.UID)}
		reqs := []store.NewRequest(nil)
		if dec.Outcome == store.OutcomeQueued {
			reqs = dec.requests()
		}
		if d.dry {
			if err := d.report(key, e, dec, reqs); err != nil {
				return nil, err
			}
			continue
		}
		for _, addr := range dec.Bounced {
			if err := d.st.RecordBounce(addr, d.now()); err != nil {
				return nil, err
			}
		}
		msg := store.Message{
			Key: key, MessageID: dec.Original.MessageID, From: dec.Original.From, Subject: dec.Original.Subject,
			ReceivedAt: e.Date, Size: e.Size, Outcome: dec.Outcome, Reason: dec.Reason, Problems: dec.problemRecords(),
		}
		for _, f := range dec.Forms {
			if !slices.Contains(msg.FormHashes, f.Hash) {
				msg.FormHashes = append(msg.FormHashes, f.Hash)
			}
		}
		items = append(items, store.OutcomeItem{Msg: msg, Reqs: reqs, Compose: d.composeFor(dec, d.log.With(logUID, uint32(e.UID), logMessageID, e.MessageID))})
		inChunk = append(inChunk, e)
		chosen = append(chosen, dec)
	}
	if len(items) == 0 {
		return nil, nil
	}
	var recs []store.Recorded
	for {
		var err error
		recs, err = d.st.RecordOutcomes(items)
		var ie *store.ItemError
		if errors.As(err, &ie) && errors.Is(err, store.ErrInvalid) && len(items[ie.Index].Reqs) > 0 {
			// The store will never take these requests: retrying would stop
			// the mailbox at this message for ever. Staff see it
			// quarantined; the rest of the chunk is recorded as decided.
			e := inChunk[ie.Index]
			d.log.Error("record requests; quarantining the message", logUID, uint32(e.UID), logMessageID, e.MessageID, logErr, ie.Err)
			dec := decision{Outcome: store.OutcomeQuarantined, Reason: reasonUnrecordable, Original: chosen[ie.Index].Original}
			chosen[ie.Index] = dec
			it := &items[ie.Index]
			it.Msg.Outcome, it.Msg.Reason, it.Msg.FormHashes, it.Reqs, it.Compose = dec.Outcome, dec.Reason, nil, nil, nil
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("record uids %d to %d: %w", inChunk[0].UID, inChunk[len(inChunk)-1].UID, err)
		}
		break
	}
	out := make(map[imap.UID]store.Outcome, len(recs))
	notify := false
	for i, rec := range recs {
		e := inChunk[i]
		outcome := rec.Message.Outcome
		out[e.UID] = outcome
		log := d.log.With(logUID, uint32(e.UID), logMessageID, e.MessageID)
		if rec.Existing {
			log.Info("message already recorded; settling only", logOutcome, string(outcome))
			continue
		}
		log.Info("message decided", logOutcome, string(outcome), logReason, chosen[i].Reason,
			logRequests, len(rec.Requests), logReplies, len(rec.Outbox))
		notify = notify || len(rec.Outbox) > 0
	}
	if notify {
		d.worker.Notify()
	}
	return out, nil
}

// composeFor writes the replies of one decision inside its record's
// transaction. A reply that cannot be written must not hold the message
// back for ever: the outcome stands without it, and staff see the error.
func (d *Daemon) composeFor(dec decision, log *slog.Logger) func(store.Recorded) ([]store.OutboxRow, error) {
	return func(rec store.Recorded) ([]store.OutboxRow, error) {
		rows, err := dec.compose(d.composer, rec)
		if err != nil {
			log.Error("compose reply; the outcome is recorded without one", logOutcome, string(dec.Outcome), logErr, err)
			return nil, nil
		}
		return rows, nil
	}
}

// bodies downloads whole messages without setting \Seen (BODY.PEEK[]);
// messages gone from the server are missing from the result.
func (d *Daemon) bodies(cn *conn, uids []imap.UID) (map[imap.UID][]byte, error) {
	section := &imap.FetchItemBodySection{Peek: true}
	out := make(map[imap.UID][]byte, len(uids))
	err := cn.do(func() error {
		cmd := cn.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		for {
			m := cmd.Next()
			if m == nil {
				break
			}
			b, err := m.Collect()
			if err != nil {
				cmd.Close()
				return err
			}
			if raw := b.FindBodySection(section); raw != nil && b.UID != 0 {
				out[b.UID] = raw
			}
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %d bodies: %w", len(uids), err)
	}
	return out, nil
}

// report prints what a dry run would do with one message: no field values,
// only the outcome and its consequences.
func (d *Daemon) report(key store.MessageKey, e envelope, dec decision, reqs []store.NewRequest) error {
	extra := ""
	if d.st != nil && dec.Original.MessageID != "" {
		if k, ok, err := d.st.MessageByID(dec.Original.MessageID); err == nil && ok {
			extra = " (already recorded as " + k.String() + ")"
		}
	}
	reply := "no reply"
	switch dec.Outcome {
	case store.OutcomeQueued:
		reply = "receipt to the sender"
	case store.OutcomeReturned:
		reply = "returned to the manager"
	case store.OutcomeNoForm:
		reply = "no-form reply to the sender"
	}
	_, err := fmt.Fprintf(d.out, "uid %d message-id <%s>: %s (%s), %d request(s), %s, to folder %s%s\n",
		e.UID, dec.Original.MessageID, dec.Outcome, dec.Reason, len(reqs), reply, d.cfg.Folders.For(dec.Outcome), extra)
	return err
}

// settleLeftOver moves the messages recorded but not yet moved (a crash or a
// failed move after the commit): only the move is repeated, the decision
// never.
func (d *Daemon) settleLeftOver(cn *conn, uv uint32) error {
	keys, err := d.st.Unsettled(d.cfg.Mailbox.Folder)
	if err != nil {
		return err
	}
	for _, k := range keys {
		log := d.log.With(logUID, k.UID)
		if k.UIDValidity != uv {
			// The UID means nothing any more; the message comes back under
			// a new UID and its Message-ID is recognised then.
			log.Warn("UIDVALIDITY changed before the message was moved; it will be recognised by Message-ID", "uidvalidity", k.UIDValidity)
			if err := d.st.MarkSettled(k); err != nil {
				return err
			}
			continue
		}
		outcome, err := d.st.MessageOutcome(k)
		if err != nil {
			return err
		}
		if err := d.settle(cn, []store.MessageKey{k}, outcome, true, nil); err != nil {
			return err
		}
	}
	return nil
}

// settle flags the messages \Seen and moves them to their outcome's
// folder (one command for all of them), then records that they were moved.
// MOVE where the server has it; otherwise COPY, check, flag \Deleted and
// UID EXPUNGE those UIDs (never a plain EXPUNGE, which would remove every
// \Deleted message in the mailbox). A refusal by the server leaves the
// messages unsettled for the next pass; a broken connection is returned.
// recovering (one key only) says an earlier attempt may have got part of
// the way.
//
// ids gives the Message-IDs by UID for the log, when known.
func (d *Daemon) settle(cn *conn, keys []store.MessageKey, outcome store.Outcome, recovering bool, ids map[uint32]string) error {
	if len(keys) == 0 {
		return nil
	}
	err := d.move(cn, keys, outcome, recovering)
	var ie *imap.Error
	if errors.As(err, &ie) {
		// The folder may have been deleted under us (NO [TRYCREATE]):
		// look again next time.
		clear(cn.folders)
		for _, k := range keys {
			d.log.Warn("move refused by the server; retried on the next pass", logUID, k.UID, logMessageID, ids[k.UID], logOutcome, string(outcome), logErr, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	return d.st.MarkSettled(keys...)
}

func (d *Daemon) move(cn *conn, keys []store.MessageKey, outcome store.Outcome, recovering bool) error {
	dest, err := cn.serverFolder(d.cfg.Folders.For(outcome))
	if err != nil {
		return err
	}
	if err := cn.ensureFolder(dest); err != nil {
		return err
	}
	uids := make([]imap.UID, len(keys))
	for i, k := range keys {
		uids[i] = imap.UID(k.UID)
	}
	set := imap.UIDSetNum(uids...)
	var flags []imap.Flag
	var messageID string
	if recovering {
		// Still here? After a crash the move may already have happened.
		var found bool
		var err error
		if found, flags, messageID, err = d.lookup(cn, uids[0]); err != nil || !found {
			return err
		}
	}
	addFlag := func(f imap.Flag) error {
		return cn.do(func() error {
			return cn.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{f}}, nil).Close()
		})
	}
	if cn.hasMove() {
		// \Seen and MOVE are sent back to back (UID commands pipeline
		// safely): one round trip instead of two, which is what counts on
		// a real network. A message moved without \Seen is harmless.
		return cn.do(func() error {
			seen := cn.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil)
			move := cn.c.Move(set, dest)
			errSeen := seen.Close()
			if _, err := move.Wait(); err != nil {
				return fmt.Errorf("move uids %v: %w", set, err)
			}
			if errSeen != nil {
				d.log.Warn("flag seen refused; moved anyway", "uids", set.String(), logErr, errSeen)
			}
			return nil
		})
	}
	if err := addFlag(imap.FlagSeen); err != nil {
		return fmt.Errorf("flag uids %v seen: %w", set, err)
	}
	// \Deleted is set only after a successful COPY: finding it means the
	// copy exists and only the expunge is left.
	copied := slices.Contains(flags, imap.FlagDeleted)
	if !copied && recovering && messageID != "" {
		// An earlier COPY may have been done with its answer lost: look
		// before copying again, or the folder gets the message twice.
		var err error
		if copied, err = d.inFolder(cn, dest, messageID, keys[0].UIDValidity); err != nil {
			return err
		}
	}
	if !copied {
		if err := cn.do(func() error { _, err := cn.c.Copy(set, dest).Wait(); return err }); err != nil {
			return fmt.Errorf("copy uids %v: %w", set, err)
		}
	}
	if !slices.Contains(flags, imap.FlagDeleted) {
		if err := addFlag(imap.FlagDeleted); err != nil {
			return fmt.Errorf("flag uids %v deleted: %w", set, err)
		}
	}
	if !cn.hasUIDPlus() {
		d.log.Warn("server has neither MOVE nor UIDPLUS: the copies are made and the originals left flagged \\Deleted", "uids", set.String())
		return nil
	}
	if err := cn.do(func() error { _, err := cn.c.UIDExpunge(set).Collect(); return err }); err != nil {
		return fmt.Errorf("expunge uids %v: %w", set, err)
	}
	return nil
}

// inFolder reports whether folder holds a message with this Message-ID,
// then selects the watched mailbox again (checking that its UIDVALIDITY did
// not change, or the UID in hand would mean another message).
func (d *Daemon) inFolder(cn *conn, folder, messageID string, uv uint32) (bool, error) {
	var found bool
	err := cn.do(func() error {
		if _, err := cn.c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return err
		}
		data, err := cn.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: messageID}}}, nil).Wait()
		if err != nil {
			return err
		}
		found = len(data.AllUIDs()) > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("look for a copy in %s: %w", folder, err)
	}
	var sel *imap.SelectData
	if err := cn.do(func() error {
		var err error
		sel, err = cn.c.Select(d.cfg.Mailbox.Folder, nil).Wait()
		return err
	}); err != nil {
		return false, fmt.Errorf("select %s again: %w", d.cfg.Mailbox.Folder, err)
	}
	if sel.UIDValidity != uv {
		return false, fmt.Errorf("select %s again: UIDVALIDITY changed from %d to %d", d.cfg.Mailbox.Folder, uv, sel.UIDValidity)
	}
	return found, nil
}

// lookup tells whether uid is still in the selected mailbox, with its flags
// and Message-ID.
func (d *Daemon) lookup(cn *conn, uid imap.UID) (found bool, flags []imap.Flag, messageID string, err error) {
	var bufs []*imapclient.FetchMessageBuffer
	if err := cn.do(func() error {
		var err error
		bufs, err = cn.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
		return err
	}); err != nil {
		return false, nil, "", fmt.Errorf("look up uid %d: %w", uid, err)
	}
	for _, b := range bufs {
		if b.UID == uid {
			found, flags = true, b.Flags
			if b.Envelope != nil {
				messageID = b.Envelope.MessageID
			}
		}
	}
	return found, flags, messageID, nil
}
