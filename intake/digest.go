package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// digestCheck bounds the wait between looks at the clock, so that a clock
// change or a long suspend delays the digest by at most this much.
const digestCheck = time.Hour

// SendDigestIfDue puts the morning digest in the outbox when now is a
// working day at or after [digest] at and today's digest is not there yet
// (the day is recorded with it, in one transaction: once a day, restarts
// included). It reports whether it enqueued one.
func (d *Daemon) SendDigestIfDue(now time.Time) (bool, error) {
	dc := d.cfg.Digest
	if len(dc.Recipients) == 0 || d.st == nil {
		return false, nil
	}
	at, err := dc.DigestTime()
	if err != nil {
		return false, err
	}
	today := d.cal.Date(now)
	if !d.cal.IsWorkday(today) || now.Before(today.Add(at)) {
		return false, nil
	}
	day := today.Format(time.DateOnly)
	if last, err := d.st.DigestDay(); err != nil || last >= day {
		return false, err
	}
	c, err := d.st.Counts()
	if err != nil {
		return false, err
	}
	w, err := d.st.Waiting(now, d.cfg.Queue.Promise, d.cal.Between)
	if err != nil {
		return false, err
	}
	since := today.AddDate(0, 0, -1)
	for !d.cal.IsWorkday(since) {
		since = since.AddDate(0, 0, -1)
	}
	yesterday, err := d.st.CountPeriod(since, today)
	if err != nil {
		return false, err
	}
	row, err := d.composer.Digest(mailer.Digest{To: dc.Recipients, Date: today, Promise: d.cfg.Queue.Promise,
		Queued: c.Requests[store.StatusQueued], Claimed: c.Requests[store.StatusClaimed], Late: w.Late,
		Since: since, Yesterday: yesterday})
	if err != nil {
		return false, fmt.Errorf("compose the digest: %w", err)
	}
	sent, err := d.st.EnqueueDigest(day, row)
	if err != nil || !sent {
		return false, err
	}
	d.log.Info("morning digest enqueued", "day", day, "open", c.Requests[store.StatusQueued]+c.Requests[store.StatusClaimed], "past_promise", len(w.Late))
	if d.worker != nil {
		d.worker.Notify()
	}
	return true, nil
}

// digestLoop sends the digest when due until ctx ends.
func (d *Daemon) digestLoop(ctx context.Context) {
	if len(d.cfg.Digest.Recipients) == 0 {
		return
	}
	at, err := d.cfg.Digest.DigestTime()
	if err != nil {
		return
	}
	for {
		now := d.now()
		if _, err := d.SendDigestIfDue(now); err != nil {
			d.log.Error("morning digest", logErr, err)
		}
		next := d.cal.Date(now).Add(at)
		if !next.After(now) {
			next = d.cal.Date(now.AddDate(0, 0, 1)).Add(at)
		}
		wait := min(next.Sub(now), digestCheck)
		t := time.NewTimer(max(wait, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
