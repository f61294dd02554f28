package store

import (
	"cmp"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Audit actions of the staff reads added for the staff commands.
const (
	AuditShowRequestDetail = "show-request-detail"
	AuditRegisterExport    = "register-export"
	AuditReprocessMessage  = "reprocess-message"
)

// RequestDetail is everything staff see about one request: the request
// (fields and history), the message it came from and the replies sent about
// it. One read, one audit entry.
type RequestDetail struct {
	Request Request `json:"request"`
	// Message is nil when the record is gone (it never is while the request
	// exists, but a damaged file must not hide the request).
	Message *Message `json:"message,omitempty"`
	// Replies are the outbox rows of the request, of its batch and of the
	// receipt of its message, oldest first, without bodies.
	Replies []OutboxRow `json:"replies"`
}

// ShowRequestDetail returns a request with its source message and replies
// in one transaction with one audit entry naming the request and the
// message (a second entry per part would tell the log nothing more).
func (s *Store) ShowRequestDetail(actor, id string) (RequestDetail, error) {
	return audited(s, actor, "show request "+id, func(tx *bolt.Tx) (RequestDetail, auditNote, error) {
		r, err := getRequest(tx, id)
		if err != nil {
			return RequestDetail{}, auditNote{}, err
		}
		d := RequestDetail{Request: r, Replies: []OutboxRow{}}
		subjects := []string{id}
		if m, err := getMessage(tx, r.Message); err == nil {
			d.Message = &m
			subjects = append(subjects, m.Key.String())
		}
		// The receipt is filed under the first request of the message's
		// first form; the Klar/Avslag notices under the request itself.
		owners := []string{r.ID, r.Batch}
		if d.Message != nil {
			for _, f := range d.Message.Forms {
				if len(f.Requests) > 0 {
					owners = append(owners, f.Requests[0])
				}
			}
		}
		seen := map[uint64]bool{}
		for _, owner := range dedupe(owners) {
			rows, err := outboxOfRequest(tx, owner)
			if err != nil {
				return RequestDetail{}, auditNote{}, err
			}
			for _, row := range rows {
				// A batch's Klar notices belong to the other users of the batch.
				if row.Request != r.ID && row.Kind != "kvittens" {
					continue
				}
				if !seen[row.ID] {
					seen[row.ID] = true
					d.Replies = append(d.Replies, row)
				}
			}
		}
		slices.SortFunc(d.Replies, func(a, b OutboxRow) int { return cmp.Compare(a.ID, b.ID) })
		return d, auditNote{action: AuditShowRequestDetail, subjects: subjects, count: 1}, nil
	})
}

// RegisterExport returns every register row in the export's order
// (kundnummer, then person), audited as an export: the whole register leaves
// the database in a file, which the log must say apart from a look-up.
func (s *Store) RegisterExport(actor string) ([]RegisterEntry, error) {
	return audited(s, actor, "export register", func(tx *bolt.Tx) ([]RegisterEntry, auditNote, error) {
		out, err := rowsOfKundnummer(tx, "")
		return out, auditNote{action: AuditRegisterExport, count: len(out), detail: "whole register"}, err
	})
}
