package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkRecordOutcome records one-request messages with a receipt, fsync
// on, as the daemon does for each valid form. "settled" is the daemon's
// steady state: each message is settled after its record (outside the
// timer) while the receipts wait for the mailer, as in a backlog; "nothing
// settled" lets the unsettled index grow too, the worst case.
func BenchmarkRecordOutcome(b *testing.B) {
	for _, tc := range []struct {
		name   string
		settle bool
	}{{"settled", true}, {"nothing-settled", false}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: os.Getenv("BENCH_NOSYNC") != ""})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fields := userFields("Anna", "Svensson", "anna@region.test", "602154")
			b.ResetTimer()
			for i := range b.N {
				uid := uint32(i + 1)
				msg := testMessage(uid, fmt.Sprintf("b%d@mail.test", uid))
				_, err := s.RecordOutcome(msg, []NewRequest{{FormHash: fmt.Sprintf("h%d", uid), Type: TypeNy, Fields: fields}}, receipt)
				if err != nil {
					b.Fatal(err)
				}
				if tc.settle {
					b.StopTimer()
					if err := s.MarkSettled(msg.Key); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

var (
	fixtureOnce sync.Once
	fixturePath string
	fixtureErr  error
)

// listFixture builds, once per run, a file with 100,000 requests (every
// fourth claimed), written with NoSync and large transactions.
func listFixture(b *testing.B) string {
	fixtureOnce.Do(func() {
		dir, err := mkdirTemp()
		if err != nil {
			fixtureErr = err
			return
		}
		fixturePath = filepath.Join(dir, "list.db")
		s, err := Open(fixturePath, Options{NoSync: true})
		if err != nil {
			fixtureErr = err
			return
		}
		defer s.Close()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		const total, perTx = 100000, 1000
		for batch := 0; batch < total/perTx; batch++ {
			err := s.db.Update(func(tx *bolt.Tx) error {
				for j := range perTx {
					n := batch*perTx + j + 1
					now := t0.Add(time.Duration(n) * time.Minute)
					id, err := nextRequestID(tx, t0)
					if err != nil {
						return err
					}
					f := userFields(fmt.Sprintf("Förnamn%d", n), fmt.Sprintf("Efternamn%d", n), fmt.Sprintf("u%d@region.test", n), fmt.Sprintf("%06d", 600000+n%500))
					r := Request{V: recordVersion, ID: id, Batch: id, Type: TypeNy, Status: StatusQueued, Fields: f,
						FormHash: fmt.Sprint(n), Message: MessageKey{"INBOX", 1, uint32(n)}, CreatedAt: now, UpdatedAt: now,
						History: []Transition{{At: now, Actor: ActorIntake, To: StatusQueued}}}
					if n%4 == 0 {
						r.Status, r.ClaimedBy = StatusClaimed, "eva"
					}
					if err := putRequest(tx, r, nil); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				fixtureErr = err
				return
			}
		}
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixturePath
}

// BenchmarkListPage100k lists the newest page of 50 from 100,000 requests,
// all of them and by status, with the audit entry each listing writes.
func BenchmarkListPage100k(b *testing.B) {
	path := listFixture(b)
	for _, tc := range []struct {
		name string
		f    ListFilter
	}{
		{"all", ListFilter{Limit: 50}},
		{"queued", ListFilter{Status: StatusQueued, Limit: 50}},
		{"claimed-page-3", ListFilter{Status: StatusClaimed, Limit: 50, Before: "WS-2026-050000"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			for range b.N {
				page, err := s.ListRequests("eva", tc.f)
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Requests) != 50 {
					b.Fatalf("page: got %d requests, want 50", len(page.Requests))
				}
			}
		})
	}
}

// mkdirTemp makes the fixture's directory; it outlives one benchmark (the
// fixture is shared by the sub-benchmarks), so b.TempDir cannot hold it.
func mkdirTemp() (string, error) { return os.MkdirTemp("", "store-bench-") }

// BenchmarkCommitFloor is one key written with fsync on: the least any
// transaction costs on this disk, to read BenchmarkRecordOutcome against.
func BenchmarkCommitFloor(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "floor.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := range b.N {
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("floor"), u64(uint64(i))) }); err != nil {
			b.Fatal(err)
		}
	}
}
