package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RetentionPolicy is how long, in days, each kind of personal data is kept.
// A value <= 0 means DefaultRetentionDays.
type RetentionPolicy struct {
	// RequestsDays: the contents of done and rejected requests, from
	// closing, and the sender and subject of queued and returned mail,
	// from recording.
	RequestsDays int `json:"requests_days"`
	// MessagesDays: sender and subject of no-form, ignored and quarantined
	// mail, from recording.
	MessagesDays int `json:"messages_days"`
	// NoticesDays: recipients, subject and body of closed outbox rows, and
	// the per-address send counts and bounces, from creation.
	NoticesDays int `json:"notices_days"`
}

func (p RetentionPolicy) withDefaults() RetentionPolicy {
	for _, d := range []*int{&p.RequestsDays, &p.MessagesDays, &p.NoticesDays} {
		if *d <= 0 {
			*d = DefaultRetentionDays
		}
	}
	return p
}

// RetentionResult is what one retention pass removed (or, in a dry run,
// would remove).
type RetentionResult struct {
	PurgeResult
	DryRun bool      `json:"dry_run"`
	At     time.Time `json:"at"`
	Policy RetentionPolicy
	// RequestIDs are the requests emptied, in id order.
	RequestIDs []string `json:"request_ids"`
	// MessagesByOutcome counts the message records emptied per outcome.
	MessagesByOutcome map[Outcome]int `json:"messages_by_outcome"`
	// Folders are what the pass did to the outcome folders on the mail
	// server (filled by the daemon's pass; the store has no mailbox).
	Folders []FolderResult `json:"folders,omitempty"`
}

// FolderResult is what a retention pass removed from one outcome folder.
type FolderResult struct {
	Outcome Outcome   `json:"outcome"`
	Folder  string    `json:"folder"`
	Days    int       `json:"days"`
	Before  time.Time `json:"before"` // mail that arrived before this went
	Removed int       `json:"removed"`
	MovedTo string    `json:"moved_to,omitempty"` // "" when expunged
	Missing bool      `json:"missing,omitempty"`  // the folder does not exist
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// Retain removes the personal data older than policy says, as Purge
// describes, and writes one audit entry naming actor and the request ids,
// with the counts of the folder pass the daemon ran just before (folders,
// nil when none ran), so one entry tells the whole pass.
// With dryRun the very same pass runs in a transaction that is rolled back:
// the result is what a real pass at now would remove, and nothing (not even
// the audit entry) is written.
func (s *Store) Retain(actor string, now time.Time, policy RetentionPolicy, dryRun bool, folders []FolderResult) (RetentionResult, error) {
	if err := checkActor(actor); err != nil {
		return RetentionResult{}, err
	}
	policy = policy.withDefaults()
	cut := func(days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }
	reqCut, msgCut, noticeCut := cut(policy.RequestsDays), cut(policy.MessagesDays), cut(policy.NoticesDays)
	var res RetentionResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		res = RetentionResult{DryRun: dryRun, At: now, Policy: policy, RequestIDs: []string{}, MessagesByOutcome: map[Outcome]int{}, Folders: folders}
		stamp := s.now().UTC()
		// Requests. Collected first: bbolt cursors must not see writes to
		// the bucket they walk.
		var reqs []Request
		if err := eachRecord(tx.Bucket(bucketRequests), func(r Request) error {
			if !r.Purged && (r.Status == StatusDone || r.Status == StatusRejected) && r.ClosedAt.Before(reqCut) {
				reqs = append(reqs, r)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, old := range reqs {
			r := old
			r.Fields = nil
			for _, k := range rules().KeptFields {
				if v, ok := old.Fields[k]; ok {
					if r.Fields == nil {
						r.Fields = map[string]string{}
					}
					r.Fields[k] = v
				}
			}
			r.Username, r.Reason = "", ""
			r.History = append([]Transition(nil), old.History...)
			for i := range r.History {
				r.History[i].Note = ""
			}
			r.Purged, r.PurgedAt = true, stamp
			if err := putRequest(tx, r, &old); err != nil {
				return err
			}
			res.RequestIDs = append(res.RequestIDs, r.ID)
		}
		slices.Sort(res.RequestIDs)
		res.Requests = len(reqs)
		var hashes []string
		for _, r := range reqs {
			if !slices.Contains(hashes, r.FormHash) {
				hashes = append(hashes, r.FormHash)
			}
		}
		if err := purgeFormFiles(tx, hashes); err != nil {
			return err
		}

		var msgs []Message
		if err := eachRecord(tx.Bucket(bucketMessages), func(m Message) error {
			c := msgCut
			if m.Outcome == OutcomeQueued || m.Outcome == OutcomeReturned {
				c = reqCut
			}
			if !m.Purged && m.RecordedAt.Before(c) {
				msgs = append(msgs, m)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, m := range msgs {
			m.From, m.Subject, m.Purged = "", "", true
			if err := putMessage(tx, m); err != nil {
				return err
			}
			if err := purgeMessageHistory(tx, m.Key); err != nil {
				return err
			}
			res.MessagesByOutcome[m.Outcome]++
		}
		res.Messages = len(msgs)

		var rows []OutboxRow
		if err := eachRecord(tx.Bucket(bucketOutbox), func(r OutboxRow) error {
			if !r.Purged && r.State != OutboxPending && r.CreatedAt.Before(noticeCut) {
				rows = append(rows, r)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, r := range rows {
			r.To, r.Cc, r.Subject, r.Purged = nil, nil, "", true
			if err := putOutbox(tx, r); err != nil {
				return err
			}
			if err := tx.Bucket(bucketOutboxRaw).Delete(u64(r.ID)); err != nil {
				return fmt.Errorf("delete outbox body %d: %w", r.ID, err)
			}
		}
		res.Outbox = len(rows)

		if err := deleteOlder(tx.Bucket(bucketOutboxSent), noticeCut, func(k, _ []byte) []byte { return k[len(k)-16 : len(k)-8] }); err != nil {
			return err
		}
		if err := deleteOlder(tx.Bucket(bucketBounces), noticeCut, func(_, v []byte) []byte { return v }); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return s.appendAudit(tx, actor, AuditPurge, res.RequestIDs, len(res.RequestIDs), policy.detail(res.PurgeResult, folders))
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return RetentionResult{}, fmt.Errorf("purge personal data: %w", err)
	}
	return res, nil
}

// detail is the audit entry's text: the periods and the counts.
func (p RetentionPolicy) detail(r PurgeResult, folders []FolderResult) string {
	d := fmt.Sprintf("requests_days=%d messages_days=%d notices_days=%d requests=%d messages=%d outbox=%d",
		p.RequestsDays, p.MessagesDays, p.NoticesDays, r.Requests, r.Messages, r.Outbox)
	for _, f := range folders {
		d += fmt.Sprintf(" folder_%s=%d", f.Outcome, f.Removed)
	}
	return d
}
