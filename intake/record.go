package intake

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/store"
)

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
			Verdict: dec.Verdict,
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
