package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
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
