package staffapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// Version 1 of the wire carries a record exactly as the store's JSON gave
// it when the two were one type: the CLI's --json output does not change.
// A field the store adds later fails here until it is put on the wire (a
// new Version) or deliberately left off.
func TestWireV1MatchesTheRecords(t *testing.T) {
	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	key := store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: 42}
	req := store.Request{V: 1, ID: "WS-2026-000001", Batch: "WS-2026-000001", Form: "websesam-behorighet", Type: "ny",
		Status: store.StatusDone, Fields: map[string]string{"fornamn": "Åsa"}, FormHash: "aa", Message: key, MessageID: "m@x",
		ReceivedAt: at, CreatedAt: at, UpdatedAt: at, ClaimedBy: "anna", ClaimedAt: at, Username: "asaobe01", Reason: "r",
		ClosedAt: at, History: []store.Transition{{At: at, Actor: "anna", From: store.StatusQueued, To: store.StatusClaimed, Note: "n"}},
		Purged: true, PurgedAt: at}
	msg := store.Message{V: 1, Key: key, MessageID: "m@x", From: "a@x", Subject: "s", ReceivedAt: at, Size: 9,
		Outcome: store.OutcomeReturned, Reason: "r", FormHashes: []string{"aa"}, RecordedAt: at, Settled: true, SettledAt: at,
		Forms: []store.FormResult{{Hash: "aa", Requests: []string{"WS-2026-000001"}, Duplicate: true}}, DuplicateOf: &key,
		Problems: []store.FormProblems{{Hash: "aa", Form: "f", Problems: []store.Problem{{Field: "epost", Label: "E-post", Reason: "saknas"}}}},
		Purged:   true, Verdict: "dmarc-pass: dmarc=pass (1 header by mx.region.se)"}
	row := store.OutboxRow{V: 1, ID: 3, MessageID: "o@x", Kind: "klar-chef", Request: "WS-2026-000001", InReplyTo: "m@x",
		From: "i@x", To: []string{"a@x"}, Cc: []string{"b@x"}, Subject: "s", Raw: []byte("raw"), State: store.OutboxFailed,
		Attempts: 2, LastError: "e", NextTry: at, CreatedAt: at, SentAt: at, FailedAt: at, Purged: true}
	mark := store.ReprocessMark{V: 1, Key: key, MessageID: "m@x", Actor: "anna", At: at, Note: "n", Outcome: store.OutcomeQuarantined}
	entry := store.RegisterEntry{V: 1, Kundnummer: "602154", Standardkund: "602154", Person: "hsa:X", HSAID: "X", Fornamn: "Åsa",
		Efternamn: "Öberg", TidigareNamn: "T", Yrke: "Y", Epost: "e@x", Telefon: "1", Verksamhet: "V", Enhet: "E", Buffertforrad: "B",
		Forskrivare: true, Bestallare: true, ChefNamn: "C", ChefEpost: "c@x", ChefTelefon: "2", GallerFran: "2026-12-01",
		TjanstledigFran: "2026-12-02", TjanstledigTill: "2026-12-03", Username: "u", Request: "WS-2026-000001", UpdatedAt: at}
	audit := store.AuditEntry{V: 1, Seq: 5, At: at, Actor: "anna", Action: "claim", Subjects: []string{"WS-2026-000001"}, Count: 1, Detail: "d"}
	for _, c := range []struct {
		name        string
		record, got any
	}{
		{"request", req, requestFrom(req)},
		{"message", msg, messageFrom(msg)},
		{"outbox row", row, outboxRowFrom(row)},
		{"reprocess mark", mark, markFrom(mark)},
		{"register entry", entry, registerEntryFrom(entry)},
		{"audit entry", audit, auditEntryFrom(audit)},
		{"request detail", store.RequestDetail{Request: req, Message: &msg, Replies: []store.OutboxRow{row}},
			requestDetailFrom(store.RequestDetail{Request: req, Message: &msg, Replies: []store.OutboxRow{row}})},
		{"message detail", store.MessageDetail{Message: msg, History: []store.MessageEvent{{At: at, Actor: "a", Event: "e", From: store.OutcomeQueued, To: store.OutcomeIgnored, Note: "n", Reason: "r"}}, Pending: &mark},
			messageDetailFrom(store.MessageDetail{Message: msg, History: []store.MessageEvent{{At: at, Actor: "a", Event: "e", From: store.OutcomeQueued, To: store.OutcomeIgnored, Note: "n", Reason: "r"}}, Pending: &mark})},
		{"empty request", store.Request{}, requestFrom(store.Request{})},
		{"empty message", store.Message{}, messageFrom(store.Message{})},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := json.Marshal(c.record)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(c.got)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("wire JSON\n got %s\nwant %s", got, want)
			}
		})
	}
}
