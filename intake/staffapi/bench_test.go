package staffapi

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// BenchmarkStaffAPIListRequests measures one `queue list` page (50
// requests of 2,000) over the socket, audit entry included: a write
// transaction with fsync on a real file.
func BenchmarkStaffAPIListRequests(b *testing.B) {
	path := filepath.Join(b.TempDir(), "intake.db")
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 2000 {
		uid := uint32(i + 1)
		_, err := st.RecordOutcome(store.Message{
			Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: uid}, MessageID: fmt.Sprintf("m%d@region.example.se", uid),
			From: "a@region.example.se", ReceivedAt: time.Now(), Outcome: store.OutcomeQueued,
		}, []store.NewRequest{{FormHash: fmt.Sprintf("h%d", uid), Form: "websesam-behorighet", Type: "ny",
			Fields: staffFields("Anna", fmt.Sprintf("Berg%d", i), fmt.Sprintf("anna%d@region.example.se", i), "602154")}}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	if st, err = store.Open(path, store.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	sock := serveStaff(b, st, ServerOptions{})
	c, _, err := Dial(context.Background(), sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for b.Loop() {
		page, err := ListRequests.Do(context.Background(), c, ListFilter{Limit: 50})
		if err != nil || len(page.Requests) != 50 {
			b.Fatalf("list: %d requests, %v", len(page.Requests), err)
		}
	}
}
