package store

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// crashEnv names the database a re-executed test binary works on as the
// crash helper.
const crashEnv = "STORE_CRASH_HELPER_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		if err := crashHelper(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash helper:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	code := m.Run()
	if fixturePath != "" {
		os.RemoveAll(filepath.Dir(fixturePath))
	}
	os.Exit(code)
}

// crashUsers is how many users the form of message uid has.
func crashUsers(uid uint32) int {
	if uid%3 == 0 {
		return 2
	}
	return 1
}

// crashHelper runs the daemon's and staff's transitions in a loop, with
// fsync on, until it is killed: record a message (its requests and one
// receipt per request), settle it, claim and complete each request (two
// notices each), send a due row; now and then record a message again or
// resend a form.
func crashHelper(path string) error {
	s, err := Open(path, Options{Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	// Tell the parent the file is open: the kill should land in the work,
	// not in the start of the process.
	fmt.Println("ready")
	perRequest := func(kind string) func(Recorded) ([]OutboxRow, error) {
		return func(rec Recorded) ([]OutboxRow, error) {
			var rows []OutboxRow
			for _, r := range rec.Requests {
				rows = append(rows, OutboxRow{MessageID: kind + r.ID, Kind: kind, Request: r.ID, From: "i@x.test", To: []string{"a@x.test"}, Raw: []byte(r.ID)})
			}
			if len(rec.Requests) == 0 {
				rows = append(rows, OutboxRow{MessageID: "dup" + rec.Message.Key.String(), Kind: "kvittens-dup", From: "i@x.test", To: []string{"a@x.test"}, Raw: []byte("dup")})
			}
			return rows, nil
		}
	}
	done := func(r Request) ([]OutboxRow, error) {
		return []OutboxRow{
			{MessageID: "u" + r.ID, Kind: "klar-anvandare", From: "i@x.test", To: []string{"a@x.test"}, Raw: []byte(r.ID)},
			{MessageID: "c" + r.ID, Kind: "klar-chef", From: "i@x.test", To: []string{"c@x.test"}, Raw: []byte(r.ID)},
		}, nil
	}
	for {
		high, err := s.HighestUID("INBOX", 1)
		if err != nil {
			return err
		}
		uid := high + 1
		hash := fmt.Sprintf("hash-%d", uid)
		if uid%7 == 0 {
			hash = fmt.Sprintf("hash-%d", uid-1) // the same form sent again
		}
		msg := Message{Key: MessageKey{Mailbox: "INBOX", UIDValidity: 1, UID: uid}, MessageID: fmt.Sprintf("crash-%d@x.test", uid),
			From: "a@x.test", Subject: "webSesam", Outcome: OutcomeQueued}
		var reqs []NewRequest
		for u := range crashUsers(uid) {
			reqs = append(reqs, NewRequest{FormHash: hash, Type: TypeNy, Fields: userFields("N", fmt.Sprint(u), fmt.Sprintf("u%d-%d@x.test", uid, u), "602154")})
		}
		rec, err := s.RecordOutcome(msg, reqs, perRequest("kvittens"))
		if err != nil {
			return err
		}
		if uid%5 == 0 { // seen again after a restart
			if again, err := s.RecordOutcome(msg, reqs, perRequest("kvittens")); err != nil || !again.Existing {
				return fmt.Errorf("record again: %v %+v", err, again)
			}
		}
		if err := s.MarkSettled(msg.Key); err != nil {
			return err
		}
		for _, r := range rec.Requests {
			if _, err := s.Claim(r.ID, "crash", false); err != nil {
				return err
			}
			if uid%4 == 0 {
				if _, err := s.Reject(r.ID, "crash", "test", nil); err != nil {
					return err
				}
				continue
			}
			if _, err := s.Complete(r.ID, "crash", "user"+r.ID, "", done); err != nil {
				return err
			}
		}
		due, err := s.DueOutbox(time.Now(), 1)
		if err != nil {
			return err
		}
		for _, r := range due {
			if err := s.MarkSent(r.ID, time.Now()); err != nil {
				return err
			}
		}
	}
}

// checkInvariants opens the file after a crash and checks that every step
// left it whole. It returns the number of requests.
func checkInvariants(t *testing.T, path string) int {
	t.Helper()
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open after kill: %v", err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
	var nreq int
	err = s.db.View(func(tx *bolt.Tx) error {
		reqs := map[string]Request{}
		mustNoErr(t, tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
			var r Request
			mustNoErr(t, decode(v, &r))
			reqs[r.ID] = r
			return nil
		}))
		nreq = len(reqs)
		rows := map[string][]string{} // request id -> kinds
		var nrows, npending int
		mustNoErr(t, tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var r OutboxRow
			mustNoErr(t, decode(v, &r))
			nrows++
			if r.Request != "" {
				rows[r.Request] = append(rows[r.Request], r.Kind)
			}
			if tx.Bucket(bucketOutboxRaw).Get(k) == nil {
				t.Errorf("outbox row %d has no body", r.ID)
			}
			if r.State == OutboxPending {
				npending++
				if tx.Bucket(bucketOutboxDue).Get(dueKey(r)) == nil {
					t.Errorf("pending row %d not in the due index", r.ID)
				}
			}
			return nil
		}))
		if got := tx.Bucket(bucketOutboxDue).Stats().KeyN; got != npending {
			t.Errorf("due index: %d entries, %d pending rows", got, npending)
		}
		if got := tx.Bucket(bucketReqStatus).Stats().KeyN; got != len(reqs) {
			t.Errorf("status index: %d entries, %d requests", got, len(reqs))
		}
		for id, r := range reqs {
			h := r.History
			if len(h) == 0 || h[0].From != "" || h[0].To != StatusQueued {
				t.Errorf("%s: history does not start with queued: %+v", id, h)
				continue
			}
			for i := 1; i < len(h); i++ {
				if h[i].From != h[i-1].To {
					t.Errorf("%s: history gap at %d: %+v", id, i, h)
				}
			}
			if last := h[len(h)-1].To; last != r.Status {
				t.Errorf("%s: status %s, history ends at %s", id, r.Status, last)
			}
			if tx.Bucket(bucketReqStatus).Get(join([]byte(r.Status), []byte(id))) == nil {
				t.Errorf("%s: not in the status index", id)
			}
			want := []string{"kvittens"}
			if r.Status == StatusDone {
				want = append(want, "klar-anvandare", "klar-chef")
				if r.Username == "" || r.ClosedAt.IsZero() {
					t.Errorf("%s: done without user name or time", id)
				}
			}
			if got := rows[id]; !slices.Equal(got, want) {
				t.Errorf("%s (%s): outbox rows %v, want %v", id, r.Status, got, want)
			}
		}
		// Messages and requests match one to one: no request without its
		// message, no message with more requests than it made.
		byMsg := map[MessageKey][]string{}
		for id, r := range reqs {
			byMsg[r.Message] = append(byMsg[r.Message], id)
		}
		mustNoErr(t, tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			var m Message
			mustNoErr(t, decode(v, &m))
			var made []string
			for _, f := range m.Forms {
				if !f.Duplicate {
					made = append(made, f.Requests...)
				}
			}
			got := byMsg[m.Key]
			slices.Sort(got)
			slices.Sort(made)
			if !slices.Equal(got, made) {
				t.Errorf("message %s: requests %v, record says %v", m.Key, got, made)
			}
			if want := crashUsers(m.Key.UID); len(made) != 0 && len(made) != want {
				t.Errorf("message %s: %d requests, want %d", m.Key, len(made), want)
			}
			delete(byMsg, m.Key)
			unsettled := tx.Bucket(bucketUnsettled).Get(k) != nil
			if unsettled == m.Settled {
				t.Errorf("message %s: settled %v but unsettled index %v", m.Key, m.Settled, unsettled)
			}
			return nil
		}))
		for k, ids := range byMsg {
			t.Errorf("requests %v point to message %s, which is not recorded", ids, k)
		}
		return nil
	})
	mustNoErr(t, err)
	return nreq
}
