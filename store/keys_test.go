package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestKeyText(t *testing.T) {
	long := strings.Repeat("å", 20000) // 40,000 bytes
	for _, tt := range []struct {
		name string
		in   string
		kept bool
	}{
		{"short", "anna.svensson@region.test", true},
		{"at the limit", strings.Repeat("a", maxKeyText), true},
		{"one over", strings.Repeat("a", maxKeyText+1), false},
		{"long non-ASCII", long, false},
		{"separator", "anna\x00svensson", false},
		{"marker", "anna\x01svensson", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := keyText(tt.in)
			if got := string(k) == tt.in; got != tt.kept {
				t.Errorf("kept as written: got %v, want %v", got, tt.kept)
			}
			if len(k) > maxKeyText+1 || bytes.IndexByte(k, 0) >= 0 {
				t.Errorf("key of %d bytes (0x00 at %d): want at most %d and no 0x00", len(k), bytes.IndexByte(k, 0), maxKeyText+1)
			}
			if got := keyText(string(k)); !bytes.Equal(got, k) {
				t.Errorf("not idempotent: %q became %q", k, got)
			}
			if !tt.kept && !strings.HasPrefix(tt.in, string(k[:bytes.IndexByte(k, 1)])) {
				t.Errorf("bounded key %q does not start with the text", k)
			}
		})
	}
	// Texts differing only after the cut stay apart.
	a, b := keyText(long+"a"), keyText(long+"b")
	if bytes.Equal(a, b) {
		t.Errorf("two long texts share the key %q", a)
	}
}

// A form whose values are far longer than a key may be (issue: a surname
// over 32 KB made bbolt refuse the search key and blocked the mailbox) is
// recorded whole, searchable, completed into the register and answered,
// with every key of the file bounded.
func TestLongValuesRecord(t *testing.T) {
	s, _ := openTest(t)
	surname := "Ö" + strings.Repeat("x", 39999) // 40,000 characters
	epost := strings.Repeat("a", 40000) + "@region.test"
	kund := "6" + strings.Repeat("0", 39999)
	msgID := strings.Repeat("m", 100*1024) + "@mail.test"
	f := userFields("Anna", surname, epost, kund)
	f["ovriga_kundnummer"] = strings.TrimSpace(strings.Repeat("602155 "+kund+"1 ", 5)) // two numbers, each five times
	f["hsa_id"] = "SE" + strings.Repeat("1", 50000)
	msg := testMessage(1, "<"+msgID+">")
	msg.From = epost
	rec := record(t, s, msg, "h1", f)
	if got, want := len(rec.Requests), 1; got != want {
		t.Fatalf("requests: got %d, want %d", got, want)
	}
	id := rec.Requests[0].ID
	if got := rec.Requests[0].Fields["efternamn"]; got != surname {
		t.Errorf("surname kept: got %d bytes, want %d", len(got), len(surname))
	}

	t.Run("message id", func(t *testing.T) {
		key, found, err := s.MessageByID(msgID)
		mustNoErr(t, err)
		if !found || key != msg.Key {
			t.Errorf("MessageByID: got %v %v, want %v", key, found, msg.Key)
		}
		// The same id under another key is the same message; an id that
		// differs only at its end is another.
		again, err := s.RecordOutcome(testMessage(2, msgID), nil, receipt)
		mustNoErr(t, err)
		if !again.Existing || again.Message.Key != msg.Key {
			t.Errorf("same Message-ID again: got existing %v key %v, want the first message", again.Existing, again.Message.Key)
		}
		other, err := s.RecordOutcome(testMessage(3, msgID+"x"), nil, receipt)
		mustNoErr(t, err)
		if other.Existing {
			t.Errorf("a different long Message-ID counted as seen")
		}
	})

	t.Run("search", func(t *testing.T) {
		for _, q := range []string{"anna", strings.ToLower(surname), strings.ToLower(surname[:300]), "ö", epost[:1000], kund, "anna " + strings.ToLower(surname[:500])} {
			got, err := s.SearchRequests("eva", q, 0)
			mustNoErr(t, err)
			if len(got) != 1 || got[0].ID != id {
				t.Errorf("search %.20q… (%d bytes): got %d requests, want %s", q, len(q), len(got), id)
			}
		}
		for _, q := range []string{strings.ToLower(surname) + "y", strings.ToLower(surname[:300]) + "y"} {
			got, err := s.SearchRequests("eva", q, 0)
			mustNoErr(t, err)
			if len(got) != 0 {
				t.Errorf("search for a longer name that is not there: got %d requests, want none", len(got))
			}
		}
	})

	t.Run("complete and register", func(t *testing.T) {
		_, err := s.Claim(id, "eva", false)
		mustNoErr(t, err)
		_, err = s.Complete(id, "eva", "anna01", "", notice("klar"))
		mustNoErr(t, err)
		rows, err := s.RegisterList("eva", RegisterFilter{Kundnummer: kund})
		mustNoErr(t, err)
		if len(rows) != 1 || rows[0].Efternamn != surname || rows[0].Kundnummer != kund {
			t.Fatalf("register by kundnummer: got %d rows, want Anna's one", len(rows))
		}
		byPerson, err := s.RegisterList("eva", RegisterFilter{Person: f["hsa_id"]})
		mustNoErr(t, err)
		if got, want := len(byPerson), 1+2; got != want { // main + 602155 + kund+"1"
			t.Errorf("register by HSA-id: got %d rows, want %d", got, want)
		}
	})

	t.Run("outbox addresses", func(t *testing.T) {
		rows, err := s.EnqueueOutbox(testRow("kvittens", strings.ToUpper(epost)))
		mustNoErr(t, err)
		at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		mustNoErr(t, s.MarkSent(rows[0].ID, at))
		n, err := s.SentCount(epost, at.Add(-time.Hour))
		mustNoErr(t, err)
		if n != 1 {
			t.Errorf("SentCount: got %d, want 1", n)
		}
		mustNoErr(t, s.RecordBounce(epost, at))
		bounced, err := s.BouncedSince(strings.ToUpper(epost), at)
		mustNoErr(t, err)
		other, err := s.BouncedSince(epost+"x", at)
		mustNoErr(t, err)
		if !bounced || other {
			t.Errorf("BouncedSince: got %v for the address and %v for another, want true, false", bounced, other)
		}
	})

	t.Run("every key bounded", func(t *testing.T) {
		mustNoErr(t, s.db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				return b.ForEach(func(k, _ []byte) error {
					if len(k) > 2*(maxKeyText+1)+16 {
						t.Errorf("bucket %s: key of %d bytes", name, len(k))
					}
					return nil
				})
			})
		}))
	})

	t.Run("purge unindexes", func(t *testing.T) {
		_, err := s.Purge(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 1)
		mustNoErr(t, err)
		got, err := s.SearchRequests("eva", strings.ToLower(surname[:300]), 0)
		mustNoErr(t, err)
		if len(got) != 0 {
			t.Errorf("search after purge: got %d requests, want none", len(got))
		}
		mustNoErr(t, s.db.View(func(tx *bolt.Tx) error {
			if n := tx.Bucket(bucketReqSearch).Stats().KeyN; n != 0 {
				t.Errorf("search index after purge: %d keys, want 0", n)
			}
			return nil
		}))
	})
}

// One request indexes at most maxSearchTerms terms.
func TestSearchTermsBounded(t *testing.T) {
	f := userFields("Anna", "Svensson", "anna@region.test", "602154")
	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("7%05d", i))
	}
	f["ovriga_kundnummer"] = strings.Join(many, ", ")
	terms := searchTerms(f)
	if got, want := len(terms), maxSearchTerms; got != want {
		t.Errorf("terms: got %d, want %d", got, want)
	}
	if got, want := terms[:3], []string{"anna", "svensson", "anna@region.test"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("first terms: got %q, want %q", got, want)
	}
}

// A backup whose reader stops reading holds no transaction: the daemon's
// writes, including ones that grow the file (bbolt must remap, which an
// open read transaction blocks), go on while the reader is stalled.
func TestBackupReaderStalls(t *testing.T) {
	s, _ := openTest(t)
	record(t, s, testMessage(1, "b@mail.test"), "h", userFields("Anna", "Svensson", "anna@region.test", "602154"))
	w := &stallWriter{stalled: make(chan struct{}), resume: make(chan struct{})}
	done := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = s.BackupFor("eva", w)
		done <- err
	}()
	<-w.stalled

	// 16 MiB of outbox bodies: far past the map the file had.
	wrote := make(chan error, 1)
	go func() {
		raw := bytes.Repeat([]byte("x"), 1<<20)
		for i := range 16 {
			r := testRow("kvittens", "anna@region.test")
			r.MessageID = strconv.Itoa(i+1) + "@intake.test"
			r.Raw = raw
			if _, err := s.EnqueueOutbox(r); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		mustNoErr(t, err)
	case <-time.After(time.Minute):
		close(w.resume)
		t.Fatal("writes waited a minute behind a stalled backup reader")
	}
	close(w.resume)
	mustNoErr(t, <-done)
	if n != int64(w.buf.Len()) || n == 0 {
		t.Errorf("backup size: got %d, wrote %d", n, w.buf.Len())
	}
}

// stallWriter takes the first write, then blocks until resumed.
type stallWriter struct {
	once    sync.Once
	stalled chan struct{}
	resume  chan struct{}
	buf     bytes.Buffer
}

func (w *stallWriter) Write(p []byte) (int, error) {
	first := false
	w.once.Do(func() { first = true })
	if !first {
		<-w.resume
	}
	n, _ := w.buf.Write(p)
	if first {
		close(w.stalled)
	}
	return n, nil
}

// A snapshot is a consistent copy that leaves no file behind.
func TestSnapshot(t *testing.T) {
	s, _ := openTest(t)
	record(t, s, testMessage(1, "b@mail.test"), "h", userFields("Anna", "Svensson", "anna@region.test", "602154"))
	want := dumpDB(t, s.db)
	snap, err := s.Snapshot()
	mustNoErr(t, err)
	b, err := io.ReadAll(snap)
	mustNoErr(t, err)
	mustNoErr(t, snap.Close())
	if got := int64(len(b)); got != snap.Size {
		t.Errorf("read %d bytes, Size says %d", got, snap.Size)
	}
	var buf bytes.Buffer
	_, err = s.Backup(&buf)
	mustNoErr(t, err)
	if !bytes.Equal(b, buf.Bytes()) {
		t.Errorf("snapshot differs from a backup of the same state")
	}
	if got := dumpDB(t, s.db); got != want {
		t.Errorf("the store changed while taking a snapshot")
	}
	entries, err := os.ReadDir(filepath.Dir(s.path))
	mustNoErr(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, ","), "intake.db"; got != want {
		t.Errorf("files next to the database: got %s, want %s", got, want)
	}
	if _, err := s.SnapshotFor(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("SnapshotFor without an actor: got %v, want ErrInvalid", err)
	}
}
