package store

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkRecordAndSettle is the store's share of draining one message,
// with fsync on: record then settle, one message per transaction (as the
// daemon did) or a chunk of 32 per transaction (as it does now). The
// per-message figure is ns/op.
func BenchmarkRecordAndSettle(b *testing.B) {
	fields := userFields("Anna", "Svensson", "anna@region.test", "602154")
	for _, chunk := range []int{1, 32} {
		b.Run(fmt.Sprintf("chunk=%d", chunk), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			uid := uint32(0)
			for n := 0; n < b.N; n += chunk {
				items := make([]OutcomeItem, 0, chunk)
				keys := make([]MessageKey, 0, chunk)
				for range min(chunk, b.N-n) {
					uid++
					msg := testMessage(uid, fmt.Sprintf("b%d@mail.test", uid))
					items = append(items, OutcomeItem{Msg: msg, Reqs: []NewRequest{{FormHash: fmt.Sprintf("h%d", uid), Type: TypeNy, Fields: fields}}, Compose: receipt})
					keys = append(keys, msg.Key)
				}
				if _, err := s.RecordOutcomes(items); err != nil {
					b.Fatal(err)
				}
				if err := s.MarkSettled(keys...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
