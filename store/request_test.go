package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestRecordOutcome(t *testing.T) {
	s, clk := openTest(t)
	anna := userFields("Anna", "Svensson", "anna@region.test", "602154")
	rec := record(t, s, testMessage(10, "<m1@mail.test>"), "hash-a", anna)
	if rec.Existing {
		t.Fatal("first record: Existing set")
	}
	if got, want := len(rec.Requests), 1; got != want {
		t.Fatalf("requests: got %d, want %d", got, want)
	}
	r := rec.Requests[0]
	if got, want := r.ID, "WS-2026-000001"; got != want {
		t.Errorf("id: got %s, want %s", got, want)
	}
	if r.Status != StatusQueued || r.Batch != r.ID || r.MessageID != "m1@mail.test" || r.Fields["fornamn"] != "Anna" {
		t.Errorf("request: got %+v", r)
	}
	if got, want := len(r.History), 1; got != want || r.History[0].To != StatusQueued || r.History[0].Actor != ActorIntake {
		t.Errorf("history: got %+v", r.History)
	}
	if got, want := string(rec.Outbox[0].Raw), "ids: WS-2026-000001"; got != want {
		t.Errorf("receipt: got %q, want %q", got, want)
	}
	if rec.Outbox[0].ID == 0 || rec.Outbox[0].State != OutboxPending {
		t.Errorf("outbox row: got %+v", rec.Outbox[0])
	}

	t.Run("multi-user form shares a batch", func(t *testing.T) {
		clk.add(time.Minute)
		u1 := userFields("Bo", "Ek", "bo@region.test", "602154")
		u2 := userFields("Cia", "Al", "cia@region.test", "602154")
		rec := record(t, s, testMessage(11, "m2@mail.test"), "hash-b", u1, u2)
		if got, want := len(rec.Requests), 2; got != want {
			t.Fatalf("requests: got %d, want %d", got, want)
		}
		if rec.Requests[0].ID != "WS-2026-000002" || rec.Requests[1].ID != "WS-2026-000003" {
			t.Errorf("ids: got %s %s", rec.Requests[0].ID, rec.Requests[1].ID)
		}
		if rec.Requests[0].Batch != "WS-2026-000002" || rec.Requests[1].Batch != "WS-2026-000002" {
			t.Errorf("batch: got %s %s", rec.Requests[0].Batch, rec.Requests[1].Batch)
		}
	})

	t.Run("same key is a no-op", func(t *testing.T) {
		again := record(t, s, testMessage(10, "m1@mail.test"), "hash-a", anna)
		if !again.Existing || len(again.Requests) != 0 || len(again.Outbox) != 0 {
			t.Fatalf("again: got %+v", again)
		}
		if got, want := again.Forms[0].Requests, []string{"WS-2026-000001"}; !slices.Equal(got, want) {
			t.Errorf("forms: got %v, want %v", got, want)
		}
		assertCounts(t, s, 3, 2)
	})

	t.Run("same Message-ID under a new UIDVALIDITY is a no-op", func(t *testing.T) {
		msg := testMessage(1, "<m1@mail.test>")
		msg.Key.UIDValidity = 1800
		again := record(t, s, msg, "hash-a", anna)
		if !again.Existing || again.Message.Key.UID != 10 || len(again.Requests) != 0 {
			t.Fatalf("again: got %+v", again)
		}
		assertCounts(t, s, 3, 2)
		// The new key is remembered as a duplicate so the daemon settles it.
		un, err := s.Unsettled("INBOX")
		mustNoErr(t, err)
		if !slices.Contains(un, msg.Key) {
			t.Errorf("unsettled: got %v, want it to hold %v", un, msg.Key)
		}
		uid, _ := s.HighestUID("INBOX", 1800)
		if uid != 1 {
			t.Errorf("highest UID under 1800: got %d, want 1", uid)
		}
		dup, err := s.ShowMessage("staff", msg.Key)
		mustNoErr(t, err)
		if dup.DuplicateOf == nil || *dup.DuplicateOf != testMessage(10, "").Key {
			t.Errorf("duplicate of: got %v", dup.DuplicateOf)
		}
	})

	t.Run("same form in a new message matches the earlier request", func(t *testing.T) {
		rec := record(t, s, testMessage(12, "m3@mail.test"), "hash-a", anna)
		if rec.Existing || len(rec.Requests) != 0 {
			t.Fatalf("got %+v", rec)
		}
		if got, want := rec.Forms, []FormResult{{Hash: "hash-a", Requests: []string{"WS-2026-000001"}, Duplicate: true}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("forms: got %+v, want %+v", got, want)
		}
		if len(rec.Outbox) != 1 {
			t.Errorf("receipt for the resend: got %d rows, want 1", len(rec.Outbox))
		}
		assertCounts(t, s, 3, 3)
	})

	t.Run("a rejected form sent again becomes a new request", func(t *testing.T) {
		_, err := s.Claim("WS-2026-000001", "staff", false)
		mustNoErr(t, err)
		_, err = s.Reject("WS-2026-000001", "staff", "fel kundnummer", notice("avslag"))
		mustNoErr(t, err)
		rec := record(t, s, testMessage(13, "m4@mail.test"), "hash-a", anna)
		if len(rec.Requests) != 1 || rec.Forms[0].Duplicate {
			t.Fatalf("got %+v", rec)
		}
		ids, err := requestsByFormHash(s, "hash-a")
		mustNoErr(t, err)
		if want := []string{"WS-2026-000001", rec.Requests[0].ID}; !slices.Equal(ids, want) {
			t.Errorf("by hash: got %v, want %v", ids, want)
		}
	})

	t.Run("compose error writes nothing", func(t *testing.T) {
		boom := errors.New("template broken")
		_, err := s.RecordOutcome(testMessage(20, "m20@mail.test"),
			[]NewRequest{{FormHash: "hash-z", Type: "ny", Fields: anna}},
			func(Recorded) ([]OutboxRow, error) { return nil, boom })
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want %v", err, boom)
		}
		if _, found, _ := s.MessageByID("m20@mail.test"); found {
			t.Error("message recorded despite compose error")
		}
		if ids, _ := requestsByFormHash(s, "hash-z"); len(ids) != 0 {
			t.Errorf("requests written despite compose error: %v", ids)
		}
		// The sequence did not advance either.
		rec := record(t, s, testMessage(21, "m21@mail.test"), "hash-y", anna)
		if got, want := rec.Requests[0].ID, "WS-2026-000005"; got != want {
			t.Errorf("next id: got %s, want %s", got, want)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			msg  Message
			reqs []NewRequest
			want string
		}{
			{"no mailbox", Message{Key: MessageKey{UIDValidity: 1, UID: 1}, Outcome: OutcomeQueued}, nil,
				`record message: check message key "/1/1": want a mailbox name and non-zero UIDVALIDITY and UID: invalid argument`},
			{"zero uid", Message{Key: MessageKey{Mailbox: "INBOX", UIDValidity: 1}, Outcome: OutcomeQueued}, nil,
				`record message: check message key "INBOX/1/0": want a mailbox name and non-zero UIDVALIDITY and UID: invalid argument`},
			{"unknown outcome", Message{Key: MessageKey{Mailbox: "INBOX", UIDValidity: 1, UID: 1}, Outcome: "lost"}, nil,
				`record message INBOX/1/1: unknown outcome "lost": invalid argument`},
			{"requests of a returned message", Message{Key: MessageKey{Mailbox: "INBOX", UIDValidity: 1, UID: 1}, Outcome: OutcomeReturned},
				[]NewRequest{{FormHash: "h", Type: "ny"}}, `record message INBOX/1/1: 1 requests with outcome returned: invalid argument`},
			{"no hash", Message{Key: MessageKey{Mailbox: "INBOX", UIDValidity: 1, UID: 1}, Outcome: OutcomeQueued},
				[]NewRequest{{Type: "ny"}}, `record message INBOX/1/1: request 1 has no form hash: invalid argument`},
			{"bad type", Message{Key: MessageKey{Mailbox: "INBOX", UIDValidity: 1, UID: 1}, Outcome: OutcomeQueued},
				[]NewRequest{{FormHash: "h", Type: "flytt"}}, `record message INBOX/1/1: request 1 has unknown type "flytt": invalid argument`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.RecordOutcome(tc.msg, tc.reqs, nil)
				if !errors.Is(err, ErrInvalid) || err.Error() != tc.want {
					t.Errorf("got %v, want %s", err, tc.want)
				}
			})
		}
	})
}

// assertCounts checks how many requests and outbox rows the file holds.
func assertCounts(t *testing.T, s *Store, requests, outbox int) {
	t.Helper()
	var r, o int
	mustNoErr(t, s.db.View(func(tx *bolt.Tx) error {
		r = tx.Bucket(bucketRequests).Stats().KeyN
		o = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	}))
	if r != requests || o != outbox {
		t.Errorf("counts: got %d requests %d outbox rows, want %d and %d", r, o, requests, outbox)
	}
}

func TestMessagesSettleAndUID(t *testing.T) {
	s, _ := openTest(t)
	for uid := uint32(1); uid <= 3; uid++ {
		msg := testMessage(uid, fmt.Sprintf("s%d@mail.test", uid))
		msg.Outcome = OutcomeNoForm
		if _, err := s.RecordOutcome(msg, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	other := testMessage(9, "o@mail.test")
	other.Key.Mailbox = "INBOX/Sub"
	other.Outcome = OutcomeIgnored
	if _, err := s.RecordOutcome(other, nil, nil); err != nil {
		t.Fatal(err)
	}
	un, err := s.Unsettled("INBOX")
	mustNoErr(t, err)
	if got, want := len(un), 3; got != want {
		t.Fatalf("unsettled INBOX: got %v", un)
	}
	mustNoErr(t, s.MarkSettled(un[1]))
	mustNoErr(t, s.MarkSettled(un[1]))
	un2, _ := s.Unsettled("INBOX")
	if want := []MessageKey{un[0], un[2]}; !slices.Equal(un2, want) {
		t.Errorf("after settle: got %v, want %v", un2, want)
	}
	if err := s.MarkSettled(MessageKey{Mailbox: "INBOX", UIDValidity: 1700, UID: 99}); !errors.Is(err, ErrNotFound) {
		t.Errorf("settle unknown: got %v, want ErrNotFound", err)
	}
	uid, _ := s.HighestUID("INBOX", 1700)
	if uid != 3 {
		t.Errorf("highest: got %d, want 3", uid)
	}
	mustNoErr(t, s.AdvanceUID("INBOX", 1700, 7))
	mustNoErr(t, s.AdvanceUID("INBOX", 1700, 5))
	if uid, _ = s.HighestUID("INBOX", 1700); uid != 7 {
		t.Errorf("after advance: got %d, want 7", uid)
	}
	if uid, _ = s.HighestUID("INBOX", 1); uid != 0 {
		t.Errorf("other uidvalidity: got %d, want 0", uid)
	}
	if o, err := s.MessageOutcome(un[0]); err != nil || o != OutcomeNoForm {
		t.Errorf("outcome: got %s %v, want no-form", o, err)
	}
	if _, err := s.MessageOutcome(MessageKey{"INBOX", 1700, 99}); !errors.Is(err, ErrNotFound) {
		t.Errorf("outcome of unknown: got %v, want ErrNotFound", err)
	}
	c, err := s.Counts()
	mustNoErr(t, err)
	if c.Unsettled != 3 || len(c.Requests) != 0 || c.OutboxPending != 0 {
		t.Errorf("counts: got %+v, want 3 unsettled", c)
	}
	key, found, err := s.MessageByID("<s2@mail.test>")
	mustNoErr(t, err)
	if !found || key.UID != 2 {
		t.Errorf("by Message-ID: got %v %v", key, found)
	}
	m, err := s.ShowMessage("staff", key)
	mustNoErr(t, err)
	if !m.Settled || m.Outcome != OutcomeNoForm || m.Subject != "webSesam ansökan" {
		t.Errorf("message: got %+v", m)
	}
	list, err := s.ListMessages("staff", MessageFilter{Outcome: OutcomeIgnored})
	mustNoErr(t, err)
	if len(list) != 1 || list[0].Key != other.Key {
		t.Errorf("list ignored: got %+v", list)
	}
	for _, tc := range []struct {
		in   string
		want MessageKey
	}{
		{"INBOX/1700/3", MessageKey{"INBOX", 1700, 3}},
		{"INBOX/Sub/9/1", MessageKey{"INBOX/Sub", 9, 1}},
	} {
		got, err := ParseMessageKey(tc.in)
		if err != nil || got != tc.want || got.String() != tc.in {
			t.Errorf("ParseMessageKey(%q): got %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"INBOX", "INBOX/1", "INBOX/x/1", "/1/1", "INBOX/0/1"} {
		if _, err := ParseMessageKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMessageKey(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

func TestTransitions(t *testing.T) {
	setup := func(t *testing.T) (*Store, string) {
		s, _ := openTest(t)
		rec := record(t, s, testMessage(1, "t@mail.test"), "h1", userFields("Anna", "Svensson", "anna@region.test", "602154"))
		return s, rec.Requests[0].ID
	}
	path := func(r Request) string {
		var p []string
		for _, h := range r.History {
			p = append(p, fmt.Sprintf("%s>%s:%s", h.From, h.To, h.Actor))
		}
		return fmt.Sprint(p)
	}

	t.Run("claim release claim complete", func(t *testing.T) {
		s, id := setup(t)
		r, err := s.Claim(id, "eva", false)
		mustNoErr(t, err)
		if r.Status != StatusClaimed || r.ClaimedBy != "eva" || r.ClaimedAt.IsZero() {
			t.Errorf("claimed: got %+v", r)
		}
		r, err = s.Release(id, "eva")
		mustNoErr(t, err)
		if r.Status != StatusQueued || r.ClaimedBy != "" {
			t.Errorf("released: got %+v", r)
		}
		_, err = s.Claim(id, "eva", false)
		mustNoErr(t, err)
		r, err = s.Complete(id, "eva", "annsve01", "konto skapat", notice("klar-anvandare"))
		mustNoErr(t, err)
		if r.Status != StatusDone || r.Username != "annsve01" || r.ClosedAt.IsZero() {
			t.Errorf("done: got %+v", r)
		}
		if got, want := path(r), "[>queued:intake queued>claimed:eva claimed>queued:eva queued>claimed:eva claimed>done:eva]"; got != want {
			t.Errorf("history: got %s, want %s", got, want)
		}
		if r.History[4].Note != "konto skapat" {
			t.Errorf("note: got %q", r.History[4].Note)
		}
		rows, err := s.RequestOutbox("eva", id)
		mustNoErr(t, err)
		var kinds []string
		for _, o := range rows {
			kinds = append(kinds, o.Kind)
		}
		if want := []string{"kvittens", "klar-anvandare"}; !slices.Equal(kinds, want) {
			t.Errorf("outbox of request: got %v, want %v", kinds, want)
		}
		reg, err := s.RegisterList("eva", RegisterFilter{Kundnummer: "602154"})
		mustNoErr(t, err)
		if len(reg) != 1 || reg[0].Username != "annsve01" || reg[0].Request != id {
			t.Errorf("register: got %+v", reg)
		}
		entries, _ := s.AuditList("auditor", AuditFilter{Subject: id, Actor: "eva"})
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		want := []string{AuditRegisterList, AuditOutboxList, AuditComplete, AuditClaim, AuditRelease, AuditClaim}
		if !slices.Equal(actions, want) {
			t.Errorf("audit: got %v, want %v", actions, want)
		}
	})

	t.Run("force takes over a claim", func(t *testing.T) {
		s, id := setup(t)
		_, err := s.Claim(id, "eva", false)
		mustNoErr(t, err)
		r, err := s.Claim(id, "olle", true)
		mustNoErr(t, err)
		if r.ClaimedBy != "olle" || r.History[2].Note != "taken over from eva" {
			t.Errorf("got %+v", r)
		}
	})

	t.Run("reject", func(t *testing.T) {
		s, id := setup(t)
		_, err := s.Claim(id, "eva", false)
		mustNoErr(t, err)
		r, err := s.Reject(id, "eva", "  fel kundnummer ", notice("avslag"))
		mustNoErr(t, err)
		if r.Status != StatusRejected || r.Reason != "fel kundnummer" {
			t.Errorf("got %+v", r)
		}
		if reg, _ := s.RegisterList("eva", RegisterFilter{}); len(reg) != 0 {
			t.Errorf("register after reject: got %+v", reg)
		}
	})

	// Each refused transition: the exact error, and nothing changed.
	type step func(s *Store, id string) error
	claim := func(actor string, force bool) step {
		return func(s *Store, id string) error { _, err := s.Claim(id, actor, force); return err }
	}
	release := func(actor string) step {
		return func(s *Store, id string) error { _, err := s.Release(id, actor); return err }
	}
	complete := func(actor, user string) step {
		return func(s *Store, id string) error {
			_, err := s.Complete(id, actor, user, "", notice("klar-anvandare"))
			return err
		}
	}
	reject := func(actor, reason string) step {
		return func(s *Store, id string) error { _, err := s.Reject(id, actor, reason, notice("avslag")); return err }
	}
	for _, tc := range []struct {
		name    string
		before  []step
		refused step
		want    string
		target  error
	}{
		{"claim a claimed one", []step{claim("eva", false)}, claim("olle", false),
			"claim request WS-2026-000001: request WS-2026-000001 is claimed by eva; use --force to take it over", ErrConflict},
		{"claim own claim again", []step{claim("eva", false)}, claim("eva", false),
			"claim request WS-2026-000001: request WS-2026-000001 is claimed by eva; use --force to take it over", ErrConflict},
		{"claim a done one", []step{claim("eva", false), complete("eva", "u1")}, claim("eva", true),
			"claim request WS-2026-000001: request WS-2026-000001 is done; it cannot be claimed", ErrConflict},
		{"release a queued one", nil, release("eva"),
			"release request WS-2026-000001: request WS-2026-000001 is queued; it cannot be released", ErrConflict},
		{"release another's claim", []step{claim("eva", false)}, release("olle"),
			"release request WS-2026-000001: request WS-2026-000001 is claimed by eva; it cannot be released by anyone else", ErrConflict},
		{"complete a queued one", nil, complete("eva", "u1"),
			"complete request WS-2026-000001: request WS-2026-000001 is queued; claim it before it can be completed", ErrConflict},
		{"complete another's claim", []step{claim("eva", false)}, complete("olle", "u1"),
			"complete request WS-2026-000001: request WS-2026-000001 is claimed by eva; it cannot be completed by anyone else", ErrConflict},
		{"complete a rejected one", []step{claim("eva", false), reject("eva", "nej")}, complete("eva", "u1"),
			"complete request WS-2026-000001: request WS-2026-000001 is rejected; it cannot be completed", ErrConflict},
		{"complete twice", []step{claim("eva", false), complete("eva", "u1")}, complete("eva", "u1"),
			"complete request WS-2026-000001: request WS-2026-000001 is done; it cannot be completed", ErrConflict},
		{"reject a done one", []step{claim("eva", false), complete("eva", "u1")}, reject("eva", "nej"),
			"reject request WS-2026-000001: request WS-2026-000001 is done; it cannot be rejected", ErrConflict},
		{"reject a queued one", nil, reject("eva", "nej"),
			"reject request WS-2026-000001: request WS-2026-000001 is queued; claim it before it can be rejected", ErrConflict},
		{"complete without user name", []step{claim("eva", false)}, complete("eva", " "),
			"complete request WS-2026-000001: complete: the webSesam user name is empty: invalid argument", ErrInvalid},
		{"reject without reason", []step{claim("eva", false)}, reject("eva", ""),
			"reject request WS-2026-000001: reject: the reason is empty: invalid argument", ErrInvalid},
		{"claim without actor", nil, claim("", false), "claim request WS-2026-000001: check actor: empty actor: invalid argument", ErrInvalid},
		{"claim unknown", nil, func(s *Store, _ string) error { _, err := s.Claim("WS-2026-000099", "eva", false); return err },
			"claim request WS-2026-000099: request WS-2026-000099: not found", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, id := setup(t)
			for _, st := range tc.before {
				mustNoErr(t, st(s, id))
			}
			before := dump(t, s)
			err := tc.refused(s, id)
			if !errors.Is(err, tc.target) || err.Error() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			if tc.target == ErrConflict {
				var te *TransitionError
				if !errors.As(err, &te) || te.ID != id {
					t.Errorf("got %T, want *TransitionError for %s", err, id)
				}
			}
			if after := dump(t, s); after != before {
				t.Errorf("state changed by a refused transition:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// dump renders every bucket except the audit log, to compare states.
func dump(t *testing.T, s *Store) string {
	t.Helper()
	var out []byte
	mustNoErr(t, s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if string(name) == string(bucketAudit) {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				out = fmt.Appendf(out, "%s|%x|%s\n", name, k, v)
				return nil
			})
		})
	}))
	return string(out)
}

func TestConcurrentClaim(t *testing.T) {
	s, _ := openTest(t)
	rec := record(t, s, testMessage(1, "c@mail.test"), "h", userFields("Anna", "Svensson", "anna@region.test", "602154"))
	id := rec.Requests[0].ID
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Claim(id, fmt.Sprintf("staff%02d", i), false)
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("two winners: %d and %d", winner, i)
			}
			winner = i
		case !errors.Is(err, ErrConflict):
			t.Errorf("goroutine %d: got %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no winner")
	}
	r, err := s.ShowRequest("auditor", id)
	mustNoErr(t, err)
	if got, want := r.ClaimedBy, fmt.Sprintf("staff%02d", winner); got != want {
		t.Errorf("claimed by: got %s, want %s", got, want)
	}
	if got, want := len(r.History), 2; got != want {
		t.Errorf("history: got %d steps, want %d", got, want)
	}
	c, err := s.Counts()
	mustNoErr(t, err)
	if c.Requests[StatusClaimed] != 1 || c.Requests[StatusQueued] != 0 || c.OutboxPending != 1 || c.Unsettled != 1 {
		t.Errorf("counts: got %+v", c)
	}
}

// requestsByFormHash returns the ids of every request made from the form
// with this SHA-256, oldest first, whatever their status: read from the
// index directly (the daemon never needs it, only these tests).
func requestsByFormHash(s *Store, hash string) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := join(keyText(hash), nil)
		return prefixed(tx.Bucket(bucketFormHash), prefix, func(k, _ []byte) error {
			ids = append(ids, string(k[len(prefix):]))
			return nil
		})
	})
	return ids, err
}
