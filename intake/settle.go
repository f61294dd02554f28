package intake

import (
	"errors"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/store"
)

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
	if cn.hasMove() {
		// \Seen and MOVE go back to back: one round trip instead of two,
		// which is what counts on a real network. A message moved without
		// \Seen is harmless.
		errSeen, err := cn.seenAndMove(uids, dest)
		if err == nil && errSeen != nil {
			d.log.Warn("flag seen refused; moved anyway", "uids", set.String(), logErr, errSeen)
		}
		return err
	}
	if err := cn.addFlag(uids, imap.FlagSeen); err != nil {
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
		if err := cn.copy(uids, dest); err != nil {
			return fmt.Errorf("copy uids %v: %w", set, err)
		}
	}
	if !slices.Contains(flags, imap.FlagDeleted) {
		if err := cn.addFlag(uids, imap.FlagDeleted); err != nil {
			return fmt.Errorf("flag uids %v deleted: %w", set, err)
		}
	}
	if !cn.hasUIDPlus() {
		d.log.Warn("server has neither MOVE nor UIDPLUS: the copies are made and the originals left flagged \\Deleted", "uids", set.String())
		return nil
	}
	if err := cn.expunge(uids); err != nil {
		return fmt.Errorf("expunge uids %v: %w", set, err)
	}
	return nil
}

// inFolder reports whether folder holds a message with this Message-ID,
// then selects the watched mailbox again (checking that its UIDVALIDITY did
// not change, or the UID in hand would mean another message).
func (d *Daemon) inFolder(cn *conn, folder, messageID string, uv uint32) (bool, error) {
	if _, err := cn.selectMailbox(folder, true); err != nil {
		return false, fmt.Errorf("look for a copy in %s: %w", folder, err)
	}
	uids, err := cn.searchMessageID(messageID)
	if err != nil {
		return false, fmt.Errorf("look for a copy in %s: %w", folder, err)
	}
	if err := d.selectWatched(cn, uv); err != nil {
		return false, err
	}
	return len(uids) > 0, nil
}

// lookup tells whether uid is still in the selected mailbox, with its flags
// and Message-ID.
func (d *Daemon) lookup(cn *conn, uid imap.UID) (found bool, flags []imap.Flag, messageID string, err error) {
	bufs, err := cn.fetch([]imap.UID{uid}, &imap.FetchOptions{UID: true, Flags: true, Envelope: true})
	if err != nil {
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
