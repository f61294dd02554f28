package intake

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// Why a message is quarantined when the store would not record it as
// decided (safe to log: no values).
const (
	reasonStoreRefused = "the store could not record the message as decided"
	reasonFailedPasses = "recording failed three passes in a row"
)

// maxFailedPasses is how many passes in a row may fail with a message in
// hand before that message is quarantined on its own: whatever it is about
// it that the store cannot take, it must not stop the mail behind it.
const maxFailedPasses = 3

// quarantined is the decision that sets a message aside for staff with
// why, keeping what identifies it: the one way every stage quarantines.
func quarantined(orig mailer.Original, reason string) decision {
	return decision{Outcome: store.OutcomeQuarantined, Reason: reason, Original: orig}
}

// item is what the store records of one decided message: its record, the
// requests of its valid forms (queued only), the bounces it reports and the
// function writing its replies. New mail and reprocessed mail are recorded
// from the same item.
func (d *Daemon) item(key store.MessageKey, e envelope, dec decision, log *slog.Logger) store.OutcomeItem {
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
	it := store.OutcomeItem{Msg: msg, Compose: d.composeFor(dec, log), Bounces: dec.Bounced}
	if dec.Outcome == store.OutcomeQueued {
		it.Reqs = dec.requests()
	}
	if fault := d.storeFault; fault != nil {
		compose := it.Compose
		it.Compose = func(rec store.Recorded) ([]store.OutboxRow, error) {
			if err := fault(key); err != nil {
				return nil, err
			}
			return compose(rec)
		}
	}
	return it
}

// quarantine turns an item the store refused into the barest record of the
// same message, quarantined with why: no requests, no replies, no bounces,
// nothing but what identifies it. It reports false when the item was that
// already (the store refuses even the bare record: nothing is left to drop).
func quarantine(it *store.OutcomeItem, reason string) bool {
	if it.Msg.Outcome == store.OutcomeQuarantined && it.Reqs == nil && it.Compose == nil && it.Bounces == nil {
		return false
	}
	it.Msg.Outcome, it.Msg.Reason, it.Msg.FormHashes, it.Msg.Problems = store.OutcomeQuarantined, reason, nil, nil
	it.Reqs, it.Compose, it.Bounces = nil, nil, nil
	return true
}

// refusedReason says why the store's refusal of one item quarantines it.
func refusedReason(err error, it store.OutcomeItem) string {
	if errors.Is(err, store.ErrInvalid) && len(it.Reqs) > 0 {
		return reasonUnrecordable
	}
	return reasonStoreRefused
}

// recordChunk writes the decided messages of a chunk (those in decs, in the
// order of envs) with their requests, replies and bounces in ONE store
// transaction, and returns for each the outcome to settle it by (the
// recorded one, for a message seen before); nil in a dry run.
//
// A message the store refuses (an *store.ItemError: invalid, a compose or
// a write of its own failed) is quarantined alone, with why, and the chunk
// is recorded again without what was refused: no mail can stop the
// mailbox. Any other error means the store failed: nothing of the chunk was
// written, the pass stops and is tried again, and each message of the chunk
// counts a failed pass; one that reaches maxFailedPasses is quarantined on
// the next.
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
		log := d.log.With(logUID, uint32(e.UID), logMessageID, e.MessageID)
		if d.dry {
			if err := d.report(key, e, dec, d.item(key, e, dec, log).Reqs); err != nil {
				return nil, err
			}
			continue
		}
		if n := d.failedPasses[key]; n >= maxFailedPasses {
			log.Error("message in hand when the last passes failed; quarantining it", "passes", n)
			dec = quarantined(dec.Original, reasonFailedPasses)
		}
		items = append(items, d.item(key, e, dec, log))
		inChunk = append(inChunk, e)
		chosen = append(chosen, dec)
	}
	if len(items) == 0 {
		return nil, nil
	}
	var recs []store.Recorded
	for {
		var err error
		if fault := d.recordFault; fault != nil {
			err = fault()
		}
		if err == nil {
			recs, err = d.st.RecordOutcomes(items)
		}
		if ie, ok := errors.AsType[*store.ItemError](err); ok {
			// The store will never take this message as decided: retrying
			// would stop the mailbox at it for ever. Staff see it
			// quarantined; the rest of the chunk is recorded as decided.
			e, it := inChunk[ie.Index], &items[ie.Index]
			reason := refusedReason(ie.Err, *it)
			if quarantine(it, reason) {
				d.log.Error("record the message as decided; quarantining it", logUID, uint32(e.UID), logMessageID, e.MessageID, logErr, ie.Err)
				chosen[ie.Index] = quarantined(chosen[ie.Index].Original, reason)
				continue
			}
		}
		if err != nil {
			for _, it := range items {
				d.failedPasses[it.Msg.Key]++
			}
			return nil, fmt.Errorf("record uids %d to %d: %w", inChunk[0].UID, inChunk[len(inChunk)-1].UID, err)
		}
		break
	}
	for _, it := range items {
		delete(d.failedPasses, it.Msg.Key)
		delete(d.readerPasses, it.Msg.Key)
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
		d.metrics.MessageDecided(outcome)
		if d.decided != nil {
			d.decided(Decided{UID: uint32(e.UID), MessageID: e.MessageID, Outcome: outcome, Reason: chosen[i].Reason,
				Requests: len(rec.Requests), Replies: len(rec.Outbox)})
		}
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
