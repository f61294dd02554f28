package store

import (
	"io"

	bolt "go.etcd.io/bbolt"
)

// AuditBackup is the audit action of a backup taken by a person: a copy of
// the whole database is a copy of every piece of personal data in it.
const AuditBackup = "backup"

// BackupFor is Backup for a person: it first records in the audit log that
// actor takes a copy, then writes the copy from one read transaction (the
// daemon goes on writing meanwhile). The entry stays even when the copy then
// fails, as the record of an attempt.
func (s *Store) BackupFor(actor string, w io.Writer) (int64, error) {
	if err := checkActor(actor); err != nil {
		return 0, err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return s.appendAudit(tx, actor, AuditBackup, nil, 1, "")
	}); err != nil {
		return 0, err
	}
	return s.Backup(w)
}
