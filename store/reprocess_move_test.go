package store

import (
	"testing"
)

// TestReprocessMoves: a new decision that changes the outcome leaves a move
// to do, written in the same commit, until the daemon says it is done; one
// that keeps the outcome leaves none.
func TestReprocessMoves(t *testing.T) {
	s, _ := openTest(t)

	t.Run("none on a fresh file", func(t *testing.T) {
		moves, err := s.ReprocessMoves()
		if err != nil || len(moves) != 0 {
			t.Errorf("got %v, %v; want none", moves, err)
		}
		if err := s.MarkReprocessMoved(testMessage(1, "").Key); err != nil {
			t.Errorf("moved without a bucket: got %v, want nil", err)
		}
	})

	for uid, id := range map[uint32]string{1: "<a@outside.test>", 2: "b@outside.test"} {
		m := testMessage(uid, id)
		m.Outcome = OutcomeQuarantined
		_, err := s.RecordOutcome(m, nil, nil)
		mustNoErr(t, err)
		_, err = s.MarkReprocess("eva", m.Key, "", false)
		mustNoErr(t, err)
	}
	changed, same := testMessage(1, "").Key, testMessage(2, "").Key
	_, err := s.RecordReprocessed(Message{Key: changed, Outcome: OutcomeNoForm, Reason: "no attachment"}, nil, nil)
	mustNoErr(t, err)
	_, err = s.RecordReprocessed(Message{Key: same, Outcome: OutcomeQuarantined, Reason: "sender outside the allowed domains"}, nil, nil)
	mustNoErr(t, err)

	moves, err := s.ReprocessMoves()
	mustNoErr(t, err)
	want := ReprocessMove{V: recordVersion, Key: changed, MessageID: "a@outside.test", From: OutcomeQuarantined, To: OutcomeNoForm}
	if len(moves) != 1 || moves[0] != want {
		t.Fatalf("moves: got %+v, want [%+v]", moves, want)
	}

	for i := range 2 { // the second call changes nothing
		if err := s.MarkReprocessMoved(changed); err != nil {
			t.Fatalf("moved %d: %v", i+1, err)
		}
		moves, err = s.ReprocessMoves()
		mustNoErr(t, err)
		if len(moves) != 0 {
			t.Errorf("moves after %d calls: got %+v, want none", i+1, moves)
		}
	}
}
