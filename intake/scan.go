package intake

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

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
	uids, err := cn.searchUIDs(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(high + 1), Stop: 0}}}})
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
			// A message that waits for the directory ends the pass: what
			// comes before it is recorded, it and what follows wait. A
			// message before it whose form reader could not start ends the
			// pass the same way, sooner: the host failed, not the mail.
			waits := d.firstWaiting(c.envs, decs)
			upto := c.envs
			if waits >= 0 {
				upto = c.envs[:waits]
			}
			retry, retryErr := d.firstRetry(uv, upto, decs)
			if retry >= 0 {
				c.envs = c.envs[:retry]
			} else if waits >= 0 {
				c.envs = c.envs[:waits]
			}
			if k+1 < len(chunks) && ctx.Err() == nil && waits < 0 && retry < 0 {
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
			if retry >= 0 {
				d.readerWaits(retryErr)
				d.advance(uv, handled)
				return nil
			}
			if waits >= 0 {
				d.advance(uv, handled)
				return nil
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
	d.nothingWaits()
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

// readerRetryInterval is how soon the mailbox is searched again while mail
// waits for a form reader the host could not start.
const readerRetryInterval = 30 * time.Second

type readerWait struct {
	since time.Time
	err   error
}

// readerWaits ends a pass at a message whose form reader could not be
// started: the connection stays (the mailbox is not at fault), and the next
// pass comes within readerRetryInterval, so that the failed passes that
// quarantine the message are spread over a minute or more rather than the
// seconds of a reconnect.
func (d *Daemon) readerWaits(err error) {
	if d.readerDown.since.IsZero() {
		d.readerDown.since = d.now()
		d.log.Error("the form reader could not be started; new mail waits undecided and is tried again",
			logErr, err, logRetryIn, readerRetryInterval)
	} else {
		d.log.Warn("the form reader still cannot be started; mail waits", logErr, err)
	}
	d.readerDown.err = err
	_ = d.notify.Status(fmt.Sprintf("form reader could not be started since %s: new mail waits undecided; retrying every %s",
		d.readerDown.since.Format("15:04:05"), readerRetryInterval))
}

// firstRetry returns the index in envs of the first message whose form
// reader could not be started, and why (readerWaits); -1 when
// there is none. Each such message counts a failed pass (readerPasses, apart
// from the store's failedPasses); one that reaches maxFailedPasses is
// quarantined instead (decs is changed), so that a host that can never
// start a reader does not stop the mailbox.
func (d *Daemon) firstRetry(uv uint32, envs []envelope, decs map[imap.UID]decision) (int, error) {
	for i, e := range envs {
		dec, ok := decs[e.UID]
		if !ok || dec.Retry == nil {
			continue
		}
		key := store.MessageKey{Mailbox: d.cfg.Mailbox.Folder, UIDValidity: uv, UID: uint32(e.UID)}
		if d.readerPasses[key] >= maxFailedPasses-1 {
			// The count goes when the quarantine is recorded
			// (recordChunk); a pass that ends before that counts it again.
			d.log.Error("the form reader could not be started for this message three passes in a row; quarantining it",
				logUID, uint32(e.UID), logMessageID, e.MessageID, logErr, dec.Retry)
			decs[e.UID] = quarantined(dec.Original, reasonReaderDown)
			continue
		}
		d.readerPasses[key]++
		return i, fmt.Errorf("read the forms of uid %d (tried again on the next pass): %w", e.UID, dec.Retry)
	}
	return -1, nil
}

// matches reports whether the decoded subject carries the keyword in any
// letter case (SEARCH is not trusted with non-ASCII: servers disagree).
func (d *Daemon) matches(subject string) bool {
	return strings.Contains(strings.ToLower(subject), strings.ToLower(d.cfg.Policy.Keyword))
}

func (d *Daemon) envelopes(cn *conn, uids []imap.UID) ([]envelope, error) {
	bufs, err := cn.fetch(uids, &imap.FetchOptions{
		UID: true, Envelope: true, InternalDate: true, RFC822Size: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
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
			decs[e.UID] = quarantined(mailer.Original{MessageID: e.MessageID, Subject: e.Subject, From: e.From}, reason)
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
	// The directory is asked before the files are dropped: a form it
	// returns travels back as an attachment.
	dec := d.checkDirectory(d.dec.decide(raw))
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

// bodies downloads whole messages without setting \Seen (BODY.PEEK[]);
// messages gone from the server are missing from the result.
func (d *Daemon) bodies(cn *conn, uids []imap.UID) (map[imap.UID][]byte, error) {
	out, err := cn.fetchBodies(uids)
	if err != nil {
		return nil, fmt.Errorf("fetch %d bodies: %w", len(uids), err)
	}
	return out, nil
}
