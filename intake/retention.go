package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/store"
)

// RetentionInterval is how often the daemon runs its retention pass after
// the one at start.
const RetentionInterval = 24 * time.Hour

// retentionChunk bounds the UIDs of one expunge or move command.
const retentionChunk = 500

// RetentionPass applies [retention] once at now: first the outcome folders
// on the mail server (over a connection of its own, so the main loop's is
// never disturbed), then the store, whose audit entry, written as actor,
// carries the folder counts too. With dryRun nothing is changed anywhere
// (folders are examined read-only, the store pass is rolled back) and the
// result is what a real pass at now would remove. A folder pass that fails
// (the server is down) does not keep the store's pass from running: the
// error is returned with the store's result.
func RetentionPass(ctx context.Context, cfg Config, st *store.Store, actor string, now time.Time, dryRun bool, log *slog.Logger) (store.RetentionResult, error) {
	folders, ferr := folderPass(ctx, cfg, now, dryRun, log)
	res, err := st.Retain(actor, now, cfg.Retention.Policy(), dryRun, folders)
	if err != nil {
		return res, errors.Join(ferr, err)
	}
	if ferr != nil {
		return res, fmt.Errorf("retention in the outcome folders (the store's pass ran): %w", ferr)
	}
	return res, nil
}

// folderPass removes (or counts, in a dry run) the mail of each outcome
// folder that arrived (INTERNALDATE) before its folder's days.
func folderPass(ctx context.Context, cfg Config, now time.Time, dryRun bool, log *slog.Logger) ([]store.FolderResult, error) {
	cn, err := dial(ctx, cfg.Mailbox, cfg.tokens)
	if err != nil {
		return nil, err
	}
	defer cn.close()
	moveTo := ""
	if cfg.Retention.MoveTo != "" {
		if moveTo, err = cn.serverFolder(cfg.Retention.MoveTo); err != nil {
			return nil, err
		}
		if !dryRun {
			if err := cn.ensureFolder(moveTo); err != nil {
				return nil, err
			}
		}
	}
	var out []store.FolderResult
	for _, o := range allOutcomes {
		days := cfg.Retention.FolderDays(o)
		if days <= 0 {
			continue // not configured (Validate refuses it): keep the mail
		}
		res := store.FolderResult{Outcome: o, Folder: cfg.Folders.For(o), Days: days,
			Before: now.Add(-time.Duration(days) * 24 * time.Hour), MovedTo: cfg.Retention.MoveTo}
		if err := folderExpire(cn, &res, moveTo, dryRun); err != nil {
			return out, fmt.Errorf("expire mail in %s: %w", res.Folder, err)
		}
		if res.Removed > 0 && !dryRun {
			log.Info("retention: mail past its time removed from an outcome folder", logFolder, res.Folder,
				"removed", res.Removed, "days", days, "moved_to", res.MovedTo)
		}
		out = append(out, res)
	}
	_ = cn.do(func() error { return cn.c.Logout().Wait() })
	return out, nil
}

// folderExpire handles one folder: select it (read-only in a dry run), read
// every message's INTERNALDATE, and expunge or move those before res.Before.
func folderExpire(cn *conn, res *store.FolderResult, moveTo string, dryRun bool) error {
	name, err := cn.serverFolder(res.Folder)
	if err != nil {
		return err
	}
	var list []*imap.ListData
	if err := cn.do(func() error {
		var err error
		list, err = cn.c.List("", name, nil).Collect()
		return err
	}); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if len(list) == 0 {
		res.Missing = true // nothing was ever moved there
		return nil
	}
	var sel *imap.SelectData
	if err := cn.do(func() error {
		var err error
		sel, err = cn.c.Select(name, &imap.SelectOptions{ReadOnly: dryRun}).Wait()
		return err
	}); err != nil {
		return fmt.Errorf("select: %w", err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var old []imap.UID
	if err := cn.do(func() error {
		msgs, err := cn.c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, InternalDate: true}).Collect()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if !m.InternalDate.IsZero() && m.InternalDate.Before(res.Before) {
				old = append(old, m.UID)
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("fetch dates: %w", err)
	}
	res.Removed = len(old)
	if dryRun {
		return nil
	}
	for len(old) > 0 {
		n := min(len(old), retentionChunk)
		set := imap.UIDSetNum(old[:n]...)
		old = old[n:]
		if err := expireSet(cn, set, moveTo); err != nil {
			return err
		}
	}
	return nil
}

// expireSet moves set to moveTo, or expunges it when moveTo is "".
// Without MOVE the copy is made first and the originals are flagged
// \Deleted only once it exists; without UIDPLUS a plain EXPUNGE removes
// them (and any other message flagged \Deleted in this outcome folder,
// which was meant to go anyway).
func expireSet(cn *conn, set imap.UIDSet, moveTo string) error {
	if moveTo != "" && cn.hasMove() {
		return cn.do(func() error {
			if _, err := cn.c.Move(set, moveTo).Wait(); err != nil {
				return fmt.Errorf("move uids %v to %s: %w", set, moveTo, err)
			}
			return nil
		})
	}
	if moveTo != "" {
		if err := cn.do(func() error { _, err := cn.c.Copy(set, moveTo).Wait(); return err }); err != nil {
			return fmt.Errorf("copy uids %v to %s: %w", set, moveTo, err)
		}
	}
	if err := cn.do(func() error {
		return cn.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	}); err != nil {
		return fmt.Errorf("flag uids %v deleted: %w", set, err)
	}
	return cn.do(func() error {
		var err error
		if cn.hasUIDPlus() {
			_, err = cn.c.UIDExpunge(set).Collect()
		} else {
			_, err = cn.c.Expunge().Collect()
		}
		if err != nil {
			return fmt.Errorf("expunge uids %v: %w", set, err)
		}
		return nil
	})
}

// Retain runs the retention pass now as actor (the daemon's daily pass, or
// `purge` over the staff socket); passes never overlap.
func (d *Daemon) Retain(ctx context.Context, actor string, dryRun bool) (store.RetentionResult, error) {
	if d.st == nil {
		return store.RetentionResult{}, errors.New("retention: no store in a dry run")
	}
	d.retainMu.Lock()
	defer d.retainMu.Unlock()
	res, err := RetentionPass(ctx, d.cfg, d.st, actor, d.now(), dryRun, d.log)
	if !dryRun && !res.At.IsZero() {
		d.metrics.RetentionPass(res)
	}
	return res, err
}

// retentionLoop runs the pass once the daemon is up (after its first
// completed poll: the mail waiting at start comes first) and then every
// RetentionInterval until ctx ends.
func (d *Daemon) retentionLoop(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-d.polled:
	}
	for {
		res, err := d.Retain(ctx, store.ActorRetention, false)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.log.Error("retention pass", logErr, err)
		}
		removed := 0
		for _, f := range res.Folders {
			removed += f.Removed
		}
		d.log.Info("retention pass", logRequests, res.Requests, "messages", res.Messages, "notices", res.Outbox, "folder_mail", removed)
		t := time.NewTimer(RetentionInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
