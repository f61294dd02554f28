package intake

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// reprocess acts on the marks staff set with 'messages reprocess': each
// marked message is found again by its Message-ID in the folder of its
// current outcome, decided again by the same code as new mail, recorded
// with RecordReprocessed and moved to its new outcome's folder. A message
// not found keeps its mark (and is looked for again on the next pass).
// Moves left over from an earlier pass (a crash or a refused move after
// the commit) are finished first: only the move is repeated. The watched
// mailbox is selected again afterwards.
func (d *Daemon) reprocess(cn *conn, uv uint32) error {
	moves, err := d.st.ReprocessMoves()
	if err != nil {
		return err
	}
	marks, err := d.st.ReprocessPending()
	if err != nil {
		return err
	}
	if len(moves) == 0 && len(marks) == 0 {
		return nil
	}
	steps := make([]func() error, 0, len(moves)+len(marks))
	for _, mv := range moves {
		steps = append(steps, func() error { return d.finishMove(cn, mv) })
	}
	for _, m := range marks {
		steps = append(steps, func() error { return d.reprocessOne(cn, m) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			// Leave the mailbox as the rest of the pass expects it.
			if rerr := d.selectWatched(cn, uv); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
	}
	return d.selectWatched(cn, uv)
}

// reprocessOne handles one mark; it may leave another folder selected.
func (d *Daemon) reprocessOne(cn *conn, mark store.ReprocessMark) error {
	log := d.log.With(logUID, mark.Key.UID, logMessageID, mark.MessageID)
	old, err := d.st.MessageOutcome(mark.Key)
	if errors.Is(err, store.ErrNotFound) {
		// A mark without its record: nothing to decide, and stopping the
		// mailbox for it would help no one.
		log.Error("reprocess mark of a message the store does not hold; skipped", logErr, err)
		return nil
	}
	if err != nil {
		return err
	}
	src, err := cn.serverFolder(d.cfg.Folders.For(old))
	if err != nil {
		return err
	}
	e, found, err := d.findByMessageID(cn, src, mark.MessageID)
	if err != nil {
		return err
	}
	if !found {
		log.Warn("message to reprocess not found in the folder of its outcome; the mark is kept", logFolder, src, logOutcome, string(old))
		return nil
	}
	var dec decision
	if reason := d.tooLarge(e); reason != "" {
		dec = quarantined(mailer.Original{MessageID: e.MessageID, Subject: e.Subject, From: e.From}, reason)
	} else {
		bodies, err := d.bodies(cn, []imap.UID{e.UID})
		if err != nil {
			return err
		}
		raw, ok := bodies[e.UID]
		if !ok {
			log.Warn("message to reprocess gone before download; the mark is kept", logFolder, src)
			return nil
		}
		dec = d.decideRaw(raw, e.MessageID, e.Subject)
		if dec.Wait != nil {
			log.Warn("message to reprocess waits for the directory; the mark is kept", logErr, dec.Wait)
			return nil
		}
		if dec.Retry != nil {
			// The host could not start a form reader: its fault, not the
			// message's. The mark waits for a pass with a reader, and the
			// new mail behind it is not held up (it counts its own
			// failed passes).
			log.Warn("message to reprocess waits for a form reader; the mark is kept", logErr, dec.Retry)
			return nil
		}
	}
	// The same outcome again sends no second, identical notice unless staff
	// asked for one (messages reprocess --notify).
	notify := mark.Notify || dec.Outcome != old
	rec, err := d.recordReprocessed(mark.Key, e, dec, notify, log)
	if errors.Is(err, store.ErrConflict) {
		// The mark went away meanwhile: nothing to do.
		log.Warn("reprocess mark gone before the message was recorded again", logErr, err)
		return nil
	}
	if err != nil {
		return err
	}
	outcome := rec.Message.Outcome
	dest, err := cn.serverFolder(d.cfg.Folders.For(outcome))
	if err != nil {
		return err
	}
	log.Info("message reprocessed", "previous_outcome", string(old), logOutcome, string(outcome), logReason, rec.Message.Reason,
		logRequests, len(rec.Requests), logReplies, len(rec.Outbox), logFolder, dest)
	if len(rec.Outbox) > 0 {
		d.worker.Notify()
	}
	if dest == src {
		return d.st.MarkReprocessMoved(mark.Key)
	}
	return d.moveReprocessed(cn, mark.Key, e.UID, dest, false, log)
}

// finishMove moves a message recorded as reprocessed but not yet moved:
// found in its old outcome's folder, it is moved; not found, an earlier
// move got there (or it was deleted) and nothing is left to do.
func (d *Daemon) finishMove(cn *conn, mv store.ReprocessMove) error {
	log := d.log.With(logUID, mv.Key.UID, logMessageID, mv.MessageID)
	src, err := cn.serverFolder(d.cfg.Folders.For(mv.From))
	if err != nil {
		return err
	}
	dest, err := cn.serverFolder(d.cfg.Folders.For(mv.To))
	if err != nil {
		return err
	}
	if src == dest {
		return d.st.MarkReprocessMoved(mv.Key)
	}
	// Without MOVE, an earlier COPY may have been done with the original
	// left behind: look in the destination first, or it gets two.
	copied := false
	if !cn.hasMove() {
		var err error
		if _, copied, err = d.findByMessageID(cn, dest, mv.MessageID); err != nil {
			return err
		}
	}
	e, found, err := d.findByMessageID(cn, src, mv.MessageID)
	if err != nil {
		return err
	}
	if !found {
		log.Info("reprocessed message no longer in the folder of its old outcome; nothing left to move", logFolder, src)
		return d.st.MarkReprocessMoved(mv.Key)
	}
	log.Info("finishing the move of a reprocessed message", logOutcome, string(mv.To), logFolder, dest)
	return d.moveReprocessed(cn, mv.Key, e.UID, dest, copied, log)
}

// moveReprocessed moves uid of the selected folder to dest and records
// that it is done. A move the server refuses is left for the next pass.
func (d *Daemon) moveReprocessed(cn *conn, key store.MessageKey, uid imap.UID, dest string, copied bool, log *slog.Logger) error {
	if err := d.moveSelected(cn, uid, dest, copied); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			clear(cn.folders)
			log.Warn("move of a reprocessed message refused by the server; retried on the next pass", logFolder, dest, logErr, err)
			return nil
		}
		return err
	}
	return d.st.MarkReprocessMoved(key)
}

// recordReprocessed records the new decision of a marked message, its
// bounces in the same transaction; its replies only when notify. A message
// the store will not take as decided is quarantined instead, as for new
// mail.
func (d *Daemon) recordReprocessed(key store.MessageKey, e envelope, dec decision, notify bool, log *slog.Logger) (store.Recorded, error) {
	it := d.item(key, e, dec, log)
	if !notify {
		it.Compose = nil
	}
	rec, err := d.st.RecordReprocessed(it.Msg, it.Reqs, it.Compose, it.Bounces...)
	if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return rec, err
	}
	reason := refusedReason(err, it)
	if !quarantine(&it, reason) {
		return rec, err
	}
	log.Error("record the message as decided; quarantining it", logErr, err)
	return d.st.RecordReprocessed(it.Msg, nil, nil)
}

// findByMessageID selects folder (read-write: the message is moved from
// it) and returns the envelope of the message with this Message-ID.
func (d *Daemon) findByMessageID(cn *conn, folder, messageID string) (envelope, bool, error) {
	if _, err := cn.selectMailbox(folder, false); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			// No such folder (yet): the message is not there.
			return envelope{}, false, nil
		}
		return envelope{}, false, fmt.Errorf("select %s: %w", folder, err)
	}
	uids, err := cn.searchMessageID(messageID)
	if err != nil {
		return envelope{}, false, fmt.Errorf("search %s by Message-ID: %w", folder, err)
	}
	if len(uids) == 0 {
		return envelope{}, false, nil
	}
	envs, err := d.envelopes(cn, uids)
	if err != nil {
		return envelope{}, false, err
	}
	// SEARCH HEADER matches substrings: take the exact Message-ID only.
	for _, e := range envs {
		if strings.Trim(strings.TrimSpace(e.MessageID), "<>") == messageID {
			return e, true, nil
		}
	}
	return envelope{}, false, nil
}

// moveSelected moves one message of the selected folder to dest: MOVE, or
// COPY (unless copied says dest already has it), flag \Deleted and UID
// EXPUNGE that UID.
func (d *Daemon) moveSelected(cn *conn, uid imap.UID, dest string, copied bool) error {
	if err := cn.ensureFolder(dest); err != nil {
		return err
	}
	uids := []imap.UID{uid}
	if cn.hasMove() {
		if err := cn.move(uids, dest); err != nil {
			return fmt.Errorf("move uid %d: %w", uid, err)
		}
		return nil
	}
	if !copied {
		if err := cn.copy(uids, dest); err != nil {
			return fmt.Errorf("copy uid %d: %w", uid, err)
		}
	}
	if err := cn.addFlag(uids, imap.FlagDeleted); err != nil {
		return fmt.Errorf("flag uid %d deleted: %w", uid, err)
	}
	if !cn.hasUIDPlus() {
		d.log.Warn("server has neither MOVE nor UIDPLUS: the copy is made and the original left flagged \\Deleted", logUID, uint32(uid))
		return nil
	}
	if err := cn.expunge(uids); err != nil {
		return fmt.Errorf("expunge uid %d: %w", uid, err)
	}
	return nil
}

// selectWatched selects the watched mailbox again and checks that its
// UIDVALIDITY did not change (the UIDs in hand would mean other messages).
func (d *Daemon) selectWatched(cn *conn, uv uint32) error {
	folder := d.cfg.Mailbox.Folder
	sel, err := cn.selectMailbox(folder, false)
	if err != nil {
		return fmt.Errorf("select %s again: %w", folder, err)
	}
	if sel.UIDValidity != uv {
		return fmt.Errorf("select %s again: UIDVALIDITY changed from %d to %d", folder, uv, sel.UIDValidity)
	}
	return nil
}
