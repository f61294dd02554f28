package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketForms: form hash -> file name 0x00 the form's bytes, exactly as the
// sender attached them. Staff save the original from the review screen
// without digging in the mail server's folders; retention removes it with
// the request's fields. Created on first write (older files lack it).
var bucketForms = []byte("forms")

// AuditSaveForm is the audit action of a staff read of an original form.
const AuditSaveForm = "save-form"

// FormFile is an original form file as it came in a mail.
type FormFile struct {
	Name string // the attachment's file name as decoded; may be empty
	Data []byte
}

// putFormFile keeps the original of a form whose requests are created, once
// per form.
func putFormFile(tx *bolt.Tx, hash string, f *FormFile) error {
	if f == nil || len(f.Data) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketForms)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketForms, err)
	}
	name := bytes.ReplaceAll([]byte(f.Name), []byte{0}, nil)
	if len(name) > 255 {
		name = name[:255]
	}
	v := make([]byte, 0, len(name)+1+len(f.Data))
	v = append(append(append(v, name...), 0), f.Data...)
	if err := b.Put(keyText(hash), v); err != nil {
		return fmt.Errorf("keep the original form: %w", err)
	}
	return nil
}

// deleteFormFile removes the original of a form (retention).
func deleteFormFile(tx *bolt.Tx, hash string) error {
	b := tx.Bucket(bucketForms)
	if b == nil {
		return nil
	}
	return b.Delete(keyText(hash))
}

// RequestForm returns the original form file a request came from, audited
// as a read by actor. ErrNotFound when the request is unknown or its form
// is not kept (taken in before forms were kept, or removed by retention).
func (s *Store) RequestForm(actor, id string) (FormFile, error) {
	return audited(s, actor, "", func(tx *bolt.Tx) (FormFile, auditNote, error) {
		r, err := getRequest(tx, id)
		if err != nil {
			return FormFile{}, auditNote{}, err
		}
		b := tx.Bucket(bucketForms)
		var v []byte
		if b != nil {
			v = b.Get(keyText(r.FormHash))
		}
		if v == nil {
			return FormFile{}, auditNote{}, fmt.Errorf("the original form of request %s is not kept (taken in before forms were kept, or removed by retention): %w", id, ErrNotFound)
		}
		name, data, _ := bytes.Cut(v, []byte{0})
		f := FormFile{Name: string(name), Data: bytes.Clone(data)}
		return f, auditNote{action: AuditSaveForm, subjects: []string{id}, count: 1}, nil
	})
}

// purgeFormFiles removes the originals of the forms in hashes whose
// requests are all purged; a form of several users keeps its original while
// any of them is still open or within its time.
func purgeFormFiles(tx *bolt.Tx, hashes []string) error {
	for _, hash := range hashes {
		prefix := append(keyText(hash), 0)
		keep := false
		c := tx.Bucket(bucketFormHash).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			r, err := getRequest(tx, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			if !r.Purged {
				keep = true
				break
			}
		}
		if !keep {
			if err := deleteFormFile(tx, hash); err != nil {
				return err
			}
		}
	}
	return nil
}
