package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// AuditBackup is the audit action of a backup taken by a person: a copy of
// the whole database is a copy of every piece of personal data in it.
const AuditBackup = "backup"

// BackupFor is Backup for a person: it first records in the audit log that
// actor takes a copy, then takes a Snapshot and writes it to w. The read
// transaction ends before the first byte reaches w, so a reader that stops
// reading (a stalled client, a pager) holds no transaction and cannot stop
// the daemon's writes. The entry stays even when the copy then fails, as the
// record of an attempt.
func (s *Store) BackupFor(actor string, w io.Writer) (int64, error) {
	snap, err := s.SnapshotFor(actor)
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	n, err := io.Copy(w, snap)
	if err != nil {
		return n, fmt.Errorf("write backup: %w", err)
	}
	return n, nil
}

// Snapshot is a consistent copy of the whole database in a private
// temporary file that no longer has a name: reading it holds nothing of the
// store, and closing it (or the process ending) frees the space. Read it
// once from the start; Size is its length in bytes.
type Snapshot struct {
	f    *os.File
	Size int64
}

// Read reads the copy.
func (sn *Snapshot) Read(p []byte) (int, error) { return sn.f.Read(p) }

// Close releases the copy.
func (sn *Snapshot) Close() error { return sn.f.Close() }

// SnapshotFor records in the audit log that actor takes a copy of the
// database, then takes a Snapshot (see BackupFor for why the entry comes
// first).
func (s *Store) SnapshotFor(actor string) (*Snapshot, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return s.appendAudit(tx, actor, AuditBackup, nil, 1, "")
	}); err != nil {
		return nil, err
	}
	return s.Snapshot()
}

// Snapshot copies the database, from one read transaction, into a temporary
// file next to it (the state directory, where there is room for the
// database) or else in the system's temporary directory, and returns the
// copy opened at its start. The transaction lasts only as long as a local
// file copy, so it cannot hold up the daemon's writes the way streaming to
// a slow reader from inside the transaction would (bbolt cannot grow its
// map while a read transaction is open). The file is created with mode 0600
// and unlinked at once: it holds personal data and must not outlive its
// reader.
func (s *Store) Snapshot() (*Snapshot, error) {
	f, err := os.CreateTemp(filepath.Dir(s.path), ".snapshot-*")
	if err != nil {
		if f, err = os.CreateTemp("", "websesam-intake-snapshot-*"); err != nil {
			return nil, fmt.Errorf("take snapshot: %w", err)
		}
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("take snapshot: %w", err)
	}
	var n int64
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(f)
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("take snapshot: %w", err)
	}
	return &Snapshot{f: f, Size: n}, nil
}
