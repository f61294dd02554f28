package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "intake")
	path := filepath.Join(dir, "intake.db")
	s, err := Open(path, Options{})
	mustNoErr(t, err)
	defer s.Close()
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{{path, 0o600}, {dir, 0o700 | os.ModeDir}} {
		fi, err := os.Stat(tc.path)
		mustNoErr(t, err)
		if got := fi.Mode(); got != tc.want {
			t.Errorf("mode of %s: got %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "intake.db")
	s, err := Open(path, Options{})
	mustNoErr(t, err)
	defer s.Close()
	_, err = Open(path, Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if got, want := err.Error(), "the database "+path+" is in use by another process (is the daemon running?)"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.Path != path {
		t.Errorf("got %T %v, want *LockedError for %s", err, err, path)
	}
	// Once the holder closes, the file opens.
	mustNoErr(t, s.Close())
	s2, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	mustNoErr(t, err)
	s2.Close()
}

func TestMigrationFromVersion0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	// A version 0 file: no meta bucket, one bucket of the old layout with data.
	db, err := bolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMessages)
		if err != nil {
			return err
		}
		return b.Put([]byte("old"), []byte(`{"v":1}`))
	}))
	mustNoErr(t, db.Close())

	s, err := Open(path, Options{})
	mustNoErr(t, err)
	var version uint64
	var old []byte
	missing := []string{}
	mustNoErr(t, s.db.View(func(tx *bolt.Tx) error {
		version = schemaVersion(tx)
		old = clone(tx.Bucket(bucketMessages).Get([]byte("old")))
		for _, name := range append(allBuckets, bucketReprocess, bucketMsgHistory) {
			if tx.Bucket(name) == nil {
				missing = append(missing, string(name))
			}
		}
		return nil
	}))
	if version != 2 || SchemaVersion != 2 {
		t.Errorf("version: got %d (program %d), want 2", version, SchemaVersion)
	}
	if string(old) != `{"v":1}` {
		t.Errorf("old data: got %q", old)
	}
	if len(missing) > 0 {
		t.Errorf("buckets missing after migration: %v", missing)
	}
	// The migrated store works.
	rec := record(t, s, testMessage(1, "m@mail.test"), "h", userFields("A", "B", "a@region.test", "602154"))
	if len(rec.Requests) != 1 {
		t.Errorf("record after migration: %+v", rec)
	}
	mustNoErr(t, s.Close())
	// Opening again runs nothing and keeps the version.
	s, err = Open(path, Options{})
	mustNoErr(t, err)
	s.Close()
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(path, Options{})
	mustNoErr(t, err)
	mustNoErr(t, s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(7)) }))
	mustNoErr(t, s.Close())
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
	if want := "schema version 7, this program knows up to 2 (upgrade websesam-intake)"; !strings.Contains(err.Error(), want) {
		t.Errorf("message: got %q, want it to contain %q", err, want)
	}
	// Refusing did not touch the file.
	db, err := bolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	defer db.Close()
	mustNoErr(t, db.View(func(tx *bolt.Tx) error {
		if v := schemaVersion(tx); v != 7 {
			t.Errorf("version after refusal: got %d, want 7", v)
		}
		return nil
	}))
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	mustNoErr(t, os.WriteFile(path, bytes.Repeat([]byte("junk"), 4096), 0o600))
	_, err := Open(path, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "open database "+path+": ") {
		t.Errorf("got %v, want an open error naming the file", err)
	}
}

func TestBackup(t *testing.T) {
	s, _ := openTest(t)
	rec := record(t, s, testMessage(1, "b@mail.test"), "h", userFields("Anna", "Svensson", "anna@region.test", "602154"))
	var buf bytes.Buffer
	n, err := s.Backup(&buf)
	mustNoErr(t, err)
	if n != int64(buf.Len()) || n == 0 {
		t.Errorf("size: got %d, wrote %d", n, buf.Len())
	}
	want := dumpDB(t, s.db)
	// The store stays usable after the backup is taken.
	_, err = s.Claim(rec.Requests[0].ID, "eva", false)
	mustNoErr(t, err)

	path := filepath.Join(t.TempDir(), "copy.db")
	mustNoErr(t, os.WriteFile(path, buf.Bytes(), 0o600))
	c, err := Open(path, Options{ReadOnly: true})
	mustNoErr(t, err)
	defer c.Close()
	mustNoErr(t, c.Check())
	if got := dumpDB(t, c.db); got != want {
		t.Errorf("backup content differs from the store at backup time")
	}
	if got := dumpDB(t, s.db); got == want {
		t.Errorf("the claim after the backup changed nothing in the store")
	}
	var got Request
	mustNoErr(t, c.db.View(func(tx *bolt.Tx) error {
		var err error
		got, err = getRequest(tx, rec.Requests[0].ID)
		return err
	}))
	if got.Status != StatusQueued || got.Fields["fornamn"] != "Anna" {
		t.Errorf("request in backup: got %+v", got)
	}
}

func dumpDB(t *testing.T, db *bolt.DB) string {
	t.Helper()
	var out []byte
	mustNoErr(t, db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out = fmt.Appendf(out, "%s|%x|%x\n", name, k, v)
				return nil
			})
		})
	}))
	return string(out)
}

// A version 1 file (the first released schema) gains the staff buckets and
// keeps its data.
func TestMigrationFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := bolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, db.Update(func(tx *bolt.Tx) error {
		if err := migrations[0](tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keySchema, u64(1)); err != nil {
			return err
		}
		return tx.Bucket(bucketRequests).Put([]byte("WS-2026-000001"), []byte(`{"v":1}`))
	}))
	mustNoErr(t, db.Close())

	s, err := Open(path, Options{})
	mustNoErr(t, err)
	defer s.Close()
	mustNoErr(t, s.db.View(func(tx *bolt.Tx) error {
		if got, want := schemaVersion(tx), uint64(2); got != want {
			t.Errorf("schema version: got %d, want %d", got, want)
		}
		for _, name := range [][]byte{bucketReprocess, bucketMsgHistory} {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing after migration", name)
			}
		}
		if got := string(tx.Bucket(bucketRequests).Get([]byte("WS-2026-000001"))); got != `{"v":1}` {
			t.Errorf("request kept: got %q", got)
		}
		return nil
	}))
}
