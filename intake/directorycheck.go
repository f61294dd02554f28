package intake

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/intake/directory"
	"github.com/regionhmc/websesam-intake/store"
)

// Reasons the directory gives on a form (Swedish: they go to the manager
// and the sender in the return notice) and on the outcome (logs).
const (
	reasonNotInDirectory  = "finns inte i katalogen"
	reasonNotManager      = "finns i katalogen men inte som chef"
	reasonHSANotInCatalog = "finns inte i katalogen"
	reasonDirectory       = "a form names a manager or HSA-id the directory does not know"
)

// dirWait is what the daemon knows of an unreachable directory: since when
// mail waits (zero: nothing waits).
type dirWait struct {
	since time.Time
}

// newDirectory is the directory client of an enabled [directory], or nil.
func newDirectory(cfg Config) *directory.Directory {
	if !cfg.Directory.Enabled() {
		return nil
	}
	return directory.New(cfg.Directory)
}

// checkDirectory asks the directory about every readable form of a queued
// or returned decision: the manager's address must belong to a person in
// the directory (a manager, where configured), and an HSA-id given must
// exist. What it does not know becomes a problem on that field, so the form
// is returned. When the directory cannot answer, the decision is to wait:
// nothing of the message is recorded or moved, and a later pass decides it.
func (d *Daemon) checkDirectory(dec decision) decision {
	if d.dir == nil || len(dec.Forms) == 0 || dec.Outcome != store.OutcomeQueued && dec.Outcome != store.OutcomeReturned {
		return dec
	}
	added := false
	for _, ff := range dec.Forms {
		f := ff.Form
		def := f.Definition()
		if def == nil {
			continue
		}
		flagged := map[string]bool{}
		for _, p := range f.Problems {
			flagged[p.Field] = true
		}
		var problems []formparse.FieldProblem
		chef := string(formparse.FieldChefEpost)
		if mail := formparse.FieldChefEpost.Value(f.Fields); mail != "" && !flagged[chef] {
			p, err := d.dir.Manager(mail)
			if err != nil {
				return waitForDirectory(dec, err)
			}
			switch {
			case !p.Found:
				problems = append(problems, formparse.FieldProblem{Field: chef, Label: def.Label(chef), Reason: reasonNotInDirectory})
			case !p.Manager:
				problems = append(problems, formparse.FieldProblem{Field: chef, Label: def.Label(chef), Reason: reasonNotManager})
			}
		}
		if d.dir.ChecksHSAID() {
			type hsa struct{ field, id string }
			var ids []hsa
			if f.ID == formparse.Multi {
				for _, u := range f.Users {
					ids = append(ids, hsa{formparse.UserFieldName(u.N, string(formparse.FieldHSAID)), formparse.FieldHSAID.Value(u.Fields)})
				}
			} else {
				ids = append(ids, hsa{string(formparse.FieldHSAID), formparse.FieldHSAID.Value(f.Fields)})
			}
			for _, h := range ids {
				if h.id == "" || flagged[h.field] {
					continue
				}
				ok, err := d.dir.HSAID(h.id)
				if err != nil {
					return waitForDirectory(dec, err)
				}
				if !ok {
					problems = append(problems, formparse.FieldProblem{Field: h.field, Label: def.Label(h.field), Reason: reasonHSANotInCatalog})
				}
			}
		}
		if len(problems) > 0 {
			f.Problems = append(f.Problems, problems...)
			added = true
		}
	}
	if added && dec.Outcome == store.OutcomeQueued {
		dec.Outcome, dec.Reason = store.OutcomeReturned, reasonDirectory
	}
	return dec
}

// waitForDirectory turns a decision into waiting for the directory.
func waitForDirectory(dec decision, err error) decision {
	return decision{Wait: err, Original: dec.Original, Verdict: dec.Verdict}
}

// firstWaiting returns the index in envs of the first message whose
// decision waits for the directory, or -1. The pass stops there: messages
// are recorded in UID order and the highest UID handled must stay below a
// message that waits, so everything after it waits too.
func (d *Daemon) firstWaiting(envs []envelope, decs map[imap.UID]decision) int {
	i := slices.IndexFunc(envs, func(e envelope) bool {
		dec, ok := decs[e.UID]
		return ok && dec.Wait != nil
	})
	if i < 0 {
		return -1
	}
	e := envs[i]
	if d.dirDown.since.IsZero() {
		d.dirDown.since = d.now()
		d.metrics.DirectoryUp(false, d.dirDown.since)
		d.log.Error("directory unreachable; new mail waits undecided and is tried again", logUID, uint32(e.UID), logMessageID, e.MessageID,
			logErr, decs[e.UID].Wait, logRetryIn, d.cfg.Directory.RetryInterval)
	} else {
		d.log.Warn("directory still unreachable; mail waits", logUID, uint32(e.UID), logMessageID, e.MessageID, logErr, decs[e.UID].Wait)
	}
	_ = d.notify.Status(fmt.Sprintf("directory unreachable since %s: new mail waits undecided; retrying every %s",
		d.dirDown.since.Format("15:04:05"), d.cfg.Directory.RetryInterval))
	return i
}

// nothingWaits records that a whole pass went through: the directory, if
// it was down, answers again.
func (d *Daemon) nothingWaits() {
	if !d.readerDown.since.IsZero() {
		d.log.Info("form reader starts again; the mail that waited is decided", "waited", d.now().Sub(d.readerDown.since).Round(time.Second))
		d.readerDown = readerWait{}
		if d.dir == nil || d.dirDown.since.IsZero() {
			_ = d.notify.Status(fmt.Sprintf("watching %s on %s", d.cfg.Mailbox.Folder, d.cfg.Mailbox.Addr))
		}
	}
	if d.dir == nil || d.dirDown.since.IsZero() {
		return
	}
	d.log.Info("directory answers again; the mail that waited is decided", "waited", d.now().Sub(d.dirDown.since).Round(time.Second))
	d.dirDown = dirWait{}
	d.metrics.DirectoryUp(true, time.Time{})
	_ = d.notify.Status(fmt.Sprintf("watching %s on %s", d.cfg.Mailbox.Folder, d.cfg.Mailbox.Addr))
}

// pollInterval is how long the daemon waits for news before searching the
// mailbox again: sooner while mail waits for the directory or for a form
// reader.
func (d *Daemon) pollInterval() time.Duration {
	p := d.cfg.Mailbox.PollInterval
	if d.dir != nil && !d.dirDown.since.IsZero() {
		p = min(p, d.cfg.Directory.RetryInterval)
	}
	if !d.readerDown.since.IsZero() {
		p = min(p, readerRetryInterval)
	}
	return p
}

// errWaiting says, for Once, that mail was left undecided.
func (d *Daemon) errWaiting() error {
	var errs []error
	if d.dir != nil && !d.dirDown.since.IsZero() {
		errs = append(errs, fmt.Errorf("mail waits undecided: the directory is unreachable (the next run decides it): %w", directory.ErrUnavailable))
	}
	if !d.readerDown.since.IsZero() {
		errs = append(errs, fmt.Errorf("mail waits undecided: the form reader could not be started (the next run tries again): %w", d.readerDown.err))
	}
	return errors.Join(errs...)
}
