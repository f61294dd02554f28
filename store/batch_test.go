package store

import (
	"errors"
	"slices"
	"testing"
)

// item is a one-form OutcomeItem composed with receipt.
func item(msg Message, hash string, users ...map[string]string) OutcomeItem {
	var reqs []NewRequest
	for _, f := range users {
		reqs = append(reqs, NewRequest{FormHash: hash, Form: "websesam-behorighet", Type: f["arende"], Fields: f})
	}
	return OutcomeItem{Msg: msg, Reqs: reqs, Compose: receipt}
}

func TestRecordOutcomes(t *testing.T) {
	anna := userFields("Anna", "Svensson", "anna@region.test", "602154")
	bo := userFields("Bo", "Ek", "bo@region.test", "602154")

	t.Run("duplicates within the batch", func(t *testing.T) {
		s, _ := openTest(t)
		moved := testMessage(4, "m1@mail.test")
		moved.Key.UIDValidity = 1800 // the same message under another key
		recs, err := s.RecordOutcomes([]OutcomeItem{
			item(testMessage(1, "<m1@mail.test>"), "hash-a", anna),
			item(testMessage(2, "m2@mail.test"), "hash-a", anna), // same form, other message
			item(testMessage(1, "m1@mail.test"), "hash-a", anna), // same key
			item(moved, "hash-a", anna),                          // same Message-ID
			item(testMessage(5, "m5@mail.test"), "hash-b", bo),
		})
		mustNoErr(t, err)
		if got, want := len(recs), 5; got != want {
			t.Fatalf("records: got %d, want %d", got, want)
		}
		first := recs[0]
		if first.Existing || len(first.Requests) != 1 || len(first.Outbox) != 1 {
			t.Fatalf("first: got %+v", first)
		}
		id := first.Requests[0].ID
		if got, want := id, "WS-2026-000001"; got != want {
			t.Errorf("first id: got %s, want %s", got, want)
		}

		form := recs[1]
		if form.Existing || len(form.Requests) != 0 {
			t.Errorf("same form: got Existing %v and %d requests, want a new record and none", form.Existing, len(form.Requests))
		}
		if got, want := form.Forms, []FormResult{{Hash: "hash-a", Requests: []string{id}, Duplicate: true}}; !slices.EqualFunc(got, want, formEqual) {
			t.Errorf("same form: forms got %+v, want %+v", got, want)
		}
		// Its receipt says "already received" with the earlier request.
		if got, want := len(form.Outbox), 1; got != want {
			t.Fatalf("same form: receipts got %d, want %d", got, want)
		}
		if got, want := string(form.Outbox[0].Raw), "ids: "+id; got != want {
			t.Errorf("same form: receipt got %q, want %q", got, want)
		}

		key := recs[2]
		if !key.Existing || key.Message.Key != testMessage(1, "").Key || len(key.Requests) != 0 || len(key.Outbox) != 0 {
			t.Errorf("same key: got %+v, want the first record and nothing new", key)
		}

		mid := recs[3]
		if !mid.Existing || mid.Message.Key != testMessage(1, "").Key || len(mid.Requests) != 0 || len(mid.Outbox) != 0 {
			t.Errorf("same Message-ID: got %+v, want the first record and nothing new", mid)
		}
		un, err := s.Unsettled("INBOX")
		mustNoErr(t, err)
		if !slices.Contains(un, moved.Key) {
			t.Errorf("unsettled: got %v, want it to hold the copy %v", un, moved.Key)
		}

		if got, want := recs[4].Requests[0].ID, "WS-2026-000002"; got != want {
			t.Errorf("last id: got %s, want %s", got, want)
		}
		// One request per distinct form; receipts for the three new records.
		assertCounts(t, s, 2, 3)
		uid, err := s.HighestUID("INBOX", 1700)
		mustNoErr(t, err)
		if got, want := uid, uint32(5); got != want {
			t.Errorf("highest UID: got %d, want %d", got, want)
		}
	})

	t.Run("duplicates of earlier commits", func(t *testing.T) {
		s, _ := openTest(t)
		first := record(t, s, testMessage(1, "m1@mail.test"), "hash-a", anna)
		moved := testMessage(1, "m1@mail.test")
		moved.Key.UIDValidity = 1800
		recs, err := s.RecordOutcomes([]OutcomeItem{
			item(testMessage(1, "other@mail.test"), "hash-b", bo), // same key
			item(moved, "hash-b", bo),                             // same Message-ID
			item(testMessage(3, "m3@mail.test"), "hash-a", anna),  // same form
		})
		mustNoErr(t, err)
		if !recs[0].Existing || recs[0].Message.MessageID != "m1@mail.test" {
			t.Errorf("same key: got %+v", recs[0])
		}
		if !recs[1].Existing || recs[1].Message.Key != first.Message.Key {
			t.Errorf("same Message-ID: got %+v", recs[1])
		}
		if got, want := recs[2].Forms, []FormResult{{Hash: "hash-a", Requests: []string{first.Requests[0].ID}, Duplicate: true}}; !slices.EqualFunc(got, want, formEqual) {
			t.Errorf("same form: got %+v, want %+v", got, want)
		}
		assertCounts(t, s, 1, 2)
	})

	t.Run("a failing compose writes nothing and names its item", func(t *testing.T) {
		s, _ := openTest(t)
		boom := errors.New("template broken")
		items := []OutcomeItem{
			item(testMessage(1, "m1@mail.test"), "hash-a", anna),
			item(testMessage(2, "m2@mail.test"), "hash-b", bo),
			item(testMessage(3, "m3@mail.test"), "hash-c", anna),
		}
		items[1].Compose = func(Recorded) ([]OutboxRow, error) { return nil, boom }
		_, err := s.RecordOutcomes(items)
		var ie *ItemError
		if !errors.As(err, &ie) || !errors.Is(err, boom) {
			t.Fatalf("got %v, want an *ItemError wrapping %v", err, boom)
		}
		if got, want := ie.Index, 1; got != want {
			t.Errorf("index: got %d, want %d", got, want)
		}
		if got, want := err.Error(), "item 2: record message INBOX/1700/2: compose replies: template broken"; got != want {
			t.Errorf("error: got %q, want %q", got, want)
		}
		assertCounts(t, s, 0, 0)
		if un, _ := s.Unsettled("INBOX"); len(un) != 0 {
			t.Errorf("unsettled after a failed batch: got %v, want none", un)
		}
		// The caller takes the item's replies away and records the batch.
		items[1].Compose = nil
		recs, err := s.RecordOutcomes(items)
		mustNoErr(t, err)
		if got, want := []string{recs[0].Requests[0].ID, recs[1].Requests[0].ID, recs[2].Requests[0].ID},
			[]string{"WS-2026-000001", "WS-2026-000002", "WS-2026-000003"}; !slices.Equal(got, want) {
			t.Errorf("ids: got %v, want %v (the failed attempt used none)", got, want)
		}
		assertCounts(t, s, 3, 2)
	})

	t.Run("an invalid item writes nothing and names its item", func(t *testing.T) {
		s, _ := openTest(t)
		bad := testMessage(2, "m2@mail.test")
		bad.Outcome = OutcomeReturned
		_, err := s.RecordOutcomes([]OutcomeItem{
			item(testMessage(1, "m1@mail.test"), "hash-a", anna),
			item(bad, "hash-b", bo),
		})
		var ie *ItemError
		if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v, want an *ItemError wrapping ErrInvalid", err)
		}
		if got, want := err.Error(), "item 2: record message INBOX/1700/2: 1 requests with outcome returned: invalid argument"; got != want {
			t.Errorf("error: got %q, want %q", got, want)
		}
		assertCounts(t, s, 0, 0)
		if _, found, _ := s.MessageByID("m1@mail.test"); found {
			t.Error("the valid item was written beside the invalid one")
		}
	})

	t.Run("the single-item error is unchanged", func(t *testing.T) {
		s, _ := openTest(t)
		boom := errors.New("template broken")
		_, err := s.RecordOutcome(testMessage(1, "m1@mail.test"), nil, func(Recorded) ([]OutboxRow, error) { return nil, boom })
		if !errors.Is(err, boom) || err.Error() != "record message INBOX/1700/1: compose replies: template broken" {
			t.Errorf("got %v", err)
		}
		if _, ok := errors.AsType[*ItemError](err); ok {
			t.Errorf("RecordOutcome returned an *ItemError: %v", err)
		}
	})

	t.Run("empty batch", func(t *testing.T) {
		s, _ := openTest(t)
		recs, err := s.RecordOutcomes(nil)
		if err != nil || recs != nil {
			t.Errorf("got %v, %v; want nil, nil", recs, err)
		}
	})
}

func formEqual(a, b FormResult) bool {
	return a.Hash == b.Hash && a.Duplicate == b.Duplicate && slices.Equal(a.Requests, b.Requests)
}

func TestMarkSettledBatch(t *testing.T) {
	s, clk := openTest(t)
	var keys []MessageKey
	for uid := uint32(1); uid <= 3; uid++ {
		msg := testMessage(uid, "")
		msg.Outcome = OutcomeNoForm
		_, err := s.RecordOutcome(msg, nil, nil)
		mustNoErr(t, err)
		keys = append(keys, msg.Key)
	}

	t.Run("an unknown key settles none", func(t *testing.T) {
		unknown := testMessage(99, "").Key
		err := s.MarkSettled(keys[0], unknown)
		if !errors.Is(err, ErrNotFound) || err.Error() != "mark message INBOX/1700/99 settled: message INBOX/1700/99: not found" {
			t.Fatalf("got %v, want the unknown key not found", err)
		}
		un, err := s.Unsettled("INBOX")
		mustNoErr(t, err)
		if !slices.Equal(un, keys) {
			t.Errorf("unsettled: got %v, want %v", un, keys)
		}
	})

	t.Run("all in one call", func(t *testing.T) {
		at := clk.add(1)
		mustNoErr(t, s.MarkSettled(keys[0], keys[2]))
		un, err := s.Unsettled("INBOX")
		mustNoErr(t, err)
		if want := keys[1:2]; !slices.Equal(un, want) {
			t.Errorf("unsettled: got %v, want %v", un, want)
		}
		m, err := s.ShowMessage("staff", keys[2])
		mustNoErr(t, err)
		if !m.Settled || !m.SettledAt.Equal(at) {
			t.Errorf("settled: got %v at %v, want true at %v", m.Settled, m.SettledAt, at)
		}
		// Again, with one new: the settled keep their time.
		clk.add(1)
		mustNoErr(t, s.MarkSettled(keys...))
		m, err = s.ShowMessage("staff", keys[2])
		mustNoErr(t, err)
		if !m.SettledAt.Equal(at) {
			t.Errorf("settled again: time got %v, want %v", m.SettledAt, at)
		}
		if un, _ := s.Unsettled("INBOX"); len(un) != 0 {
			t.Errorf("unsettled: got %v, want none", un)
		}
	})

	t.Run("no keys", func(t *testing.T) {
		if err := s.MarkSettled(); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}
