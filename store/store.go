package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors that callers branch on.
var (
	// ErrLocked: another process (normally the daemon) holds the database
	// file and the lock timeout ran out.
	ErrLocked = errors.New("database in use by another process")
	// ErrSchemaTooNew: the file was written by a newer version of the
	// program; opening it with this one could lose data.
	ErrSchemaTooNew = errors.New("database schema is newer than this program")
	// ErrNotFound: no request, message or outbox row with that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the transition is not allowed from the current state.
	// Returned as a *TransitionError (or another typed error) that says
	// which state was found.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: an argument the transition needs is missing or malformed
	// (an empty actor, user name or reason).
	ErrInvalid = errors.New("invalid argument")
)

// DefaultTimeout is how long Open waits for the file lock. Short, because a
// staff command should say at once that the daemon holds the file rather
// than hang.
const DefaultTimeout = time.Second

// Options tune Open. The zero value is right for production.
type Options struct {
	// Timeout is how long to wait for the file lock; zero means DefaultTimeout.
	Timeout time.Duration
	// NoSync skips fsync on commit. Only for tests and benchmark fixtures:
	// a crash may then lose committed transactions.
	NoSync bool
	// ReadOnly opens the file with a shared lock for reading (backup); no
	// migration is run, so an old file must first be opened read-write.
	ReadOnly bool
	// Now is the store's clock (recording, transition and purge times);
	// nil means time.Now. Tests that prove retention and reports over a
	// year of records set it.
	Now func() time.Time
}

// Store is the open database. It is safe for concurrent use; bbolt
// serialises writers, so every method that changes state is one write
// transaction and either happens whole or not at all.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time
}

// Bucket names. Keys are chosen so that a cursor walks them in the order
// the listings need (see each bucket's comment).
var (
	bucketMeta = []byte("meta") // "schema" -> big-endian uint64 version
	// messages: mailbox 0x00 uidvalidity(4) uid(4) -> Message JSON
	bucketMessages = []byte("messages")
	// msgid: Message-ID -> message key
	bucketMsgID = []byte("msgid")
	// formhash: hex SHA-256 of a form 0x00 request id -> nil
	bucketFormHash = []byte("formhash")
	// uidnext: mailbox 0x00 uidvalidity(4) -> highest UID handled (4)
	bucketHighUID = []byte("highuid")
	// unsettled: message key -> nil, for messages not yet moved on the server
	bucketUnsettled = []byte("unsettled")
	// requests: request id (WS-YYYY-NNNNNN, sorts in creation order) -> Request JSON
	bucketRequests = []byte("requests")
	// reqstatus: status 0x00 request id -> nil (listing by status, newest first)
	bucketReqStatus = []byte("reqstatus")
	// reqsearch: lower-case term 0x00 request id -> nil (name, e-mail, HSA-id, kundnummer)
	bucketReqSearch = []byte("reqsearch")
	// reqseq: year (4 digits) -> last sequence number used that year (8)
	bucketReqSeq = []byte("reqseq")
	// outbox: id(8) -> OutboxRow JSON (without Raw)
	bucketOutbox = []byte("outbox")
	// outboxraw: id(8) -> the composed message bytes
	bucketOutboxRaw = []byte("outboxraw")
	// outboxdue: next try unix nanos(8) id(8) -> nil, pending rows only
	bucketOutboxDue = []byte("outboxdue")
	// outboxsent: lower-case address 0x00 sent-at unix nanos(8) id(8) -> nil
	bucketOutboxSent = []byte("outboxsent")
	// outboxreq: request id 0x00 id(8) -> nil (rows caused by a request)
	bucketOutboxReq = []byte("outboxreq")
	// bounces: lower-case address -> unix nanos(8) of the last permanent bounce
	bucketBounces = []byte("bounces")
	// register: kundnummer 0x00 person key -> RegisterEntry JSON
	bucketRegister = []byte("register")
	// registerperson: person key 0x00 kundnummer -> nil
	bucketRegisterPerson = []byte("registerperson")
	// audit: sequence(8) -> AuditEntry JSON; only ever appended to
	bucketAudit = []byte("audit")
)

var allBuckets = [][]byte{
	bucketMeta, bucketMessages, bucketMsgID, bucketFormHash, bucketHighUID,
	bucketUnsettled, bucketRequests, bucketReqStatus, bucketReqSearch,
	bucketReqSeq, bucketOutbox, bucketOutboxRaw, bucketOutboxDue,
	bucketOutboxSent, bucketOutboxReq, bucketBounces, bucketRegister,
	bucketRegisterPerson, bucketAudit,
}

var keySchema = []byte("schema")

// migrations[i] brings a file from schema version i to i+1. Version 0 is a
// file without a meta bucket: a new, empty file, or one written before the
// schema was versioned. Append new steps; never edit a released one.
var migrations = []func(tx *bolt.Tx) error{
	// 0 -> 1: create every bucket of the first schema.
	func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 1 -> 2: the staff buckets for reprocess marks and message history,
	// which version 1 created on first write.
	func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketReprocess, bucketMsgHistory} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
}

// SchemaVersion is the version this program writes.
var SchemaVersion = uint64(len(migrations))

// Open opens (creating when missing) the database at path, waits at most
// opts.Timeout for the file lock, checks the schema version and runs the
// migrations the file needs. A new file gets mode 0600 and a new parent
// directory 0700: the file holds personal data.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.Timeout, NoSync: opts.NoSync, ReadOnly: opts.ReadOnly,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, &LockedError{Path: path}
		}
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: time.Now}
	if opts.Now != nil {
		s.now = opts.Now
	}
	if err := s.migrate(opts.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// LockedError says which file is held. It matches ErrLocked.
type LockedError struct{ Path string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("the database %s is in use by another process (is the daemon running?)", e.Path)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

func (s *Store) migrate(readOnly bool) error {
	var version uint64
	if err := s.db.View(func(tx *bolt.Tx) error {
		version = schemaVersion(tx)
		return nil
	}); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > SchemaVersion {
		return fmt.Errorf("open database %s: schema version %d, this program knows up to %d (upgrade websesam-intake): %w",
			s.path, version, SchemaVersion, ErrSchemaTooNew)
	}
	if version == SchemaVersion {
		return nil
	}
	if readOnly {
		return fmt.Errorf("open database %s read-only: schema version %d needs a migration to %d; open it read-write first", s.path, version, SchemaVersion)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for v := version; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return fmt.Errorf("create meta bucket: %w", err)
			}
			if err := meta.Put(keySchema, u64(v+1)); err != nil {
				return fmt.Errorf("write schema version: %w", err)
			}
		}
		return nil
	})
}

func schemaVersion(tx *bolt.Tx) uint64 {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0
	}
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Close releases the file lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Backup writes a consistent copy of the whole database to w while the store
// stays in use (a read transaction sees one snapshot), and returns the number
// of bytes written.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("write backup: %w", err)
	}
	return n, nil
}

// Check runs bbolt's consistency check over the whole file and returns every
// problem found, joined (nil when the file is sound).
func (s *Store) Check() error {
	var errs []error
	err := s.db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			errs = append(errs, e)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check database: %w", err)
	}
	return errors.Join(errs...)
}

// Record encoding.
//
// Every record is JSON with a "v" field holding its record version. JSON
// because the file is then readable with `bbolt get` when something goes
// wrong, and because a field added later decodes as its zero value from old
// records; "v" lets a reader (or a migration) tell an old shape from a new
// one when a field changes meaning. The volume (hundreds of forms a week)
// makes the size and speed cost of JSON irrelevant.
const recordVersion = 1

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

// decode unmarshals a value read from bbolt. json.Unmarshal copies what it
// keeps (strings, and []byte via base64), so nothing of the result points into
// the memory map after the transaction ends.
func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

// eachRecord decodes every value of b, in key order, and hands it to fn; a
// bucket not yet created (nil) has none.
func eachRecord[T any](b *bolt.Bucket, fn func(T) error) error {
	if b == nil {
		return nil
	}
	return eachRecordUnder(b, nil, fn)
}

// eachRecordUnder decodes the values of b whose keys start with prefix (nil:
// every value), in key order, and hands each to fn.
func eachRecordUnder[T any](b *bolt.Bucket, prefix []byte, fn func(T) error) error {
	return prefixed(b, prefix, func(_, v []byte) error {
		var r T
		if err := decode(v, &r); err != nil {
			return err
		}
		return fn(r)
	})
}

// prefixed iterates the keys of b that start with prefix, in key order.
func prefixed(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// eachFiledUnder iterates the entries of an index bucket filed under key
// (keyText(key), then 0x00) and hands fn the rest of each entry's key: the
// id of what is filed there.
func eachFiledUnder(b *bolt.Bucket, key string, fn func(rest, v []byte) error) error {
	prefix := join(keyText(key), nil)
	return prefixed(b, prefix, func(k, v []byte) error { return fn(k[len(prefix):], v) })
}

// getRecord reads the record under key; what names it in the errors
// ("request WS-2026-000001"), ErrNotFound when there is none.
func getRecord[T any](b *bolt.Bucket, key []byte, what string) (T, error) {
	r, found, err := findRecord[T](b, key, what)
	if err == nil && !found {
		return r, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return r, err
}

// findRecord reads the record under key, for a caller to whom none is no
// error (found false; a bucket not yet created, nil, has none). what names
// it in a decode error.
func findRecord[T any](b *bolt.Bucket, key []byte, what string) (r T, found bool, err error) {
	if b == nil {
		return r, false, nil
	}
	v := b.Get(key)
	if v == nil {
		return r, false, nil
	}
	if err := decode(v, &r); err != nil {
		var none T
		return none, false, fmt.Errorf("read %s: %w", what, err)
	}
	return r, true, nil
}

// allRecords reads every record of a bucket, in key order.
func allRecords[T any](s *Store, bucket []byte) ([]T, error) {
	var out []T
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachRecord(tx.Bucket(bucket), func(r T) error {
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// newestFirst decodes the records of a bucket keyed by a sequence number
// (audit, outbox), newest first from below the cursor before (0: from the
// newest), and hands each to fn until fn says there is no more to take.
// what names the record in a decode error.
func newestFirst[T any](b *bolt.Bucket, before uint64, what string, fn func(T) (more bool)) error {
	c := b.Cursor()
	k, v := c.Last()
	if before > 0 {
		k, v = seekBefore(c, u64(before))
	}
	for ; k != nil; k, v = c.Prev() {
		var r T
		if err := decode(v, &r); err != nil {
			return fmt.Errorf("read %s %d: %w", what, binary.BigEndian.Uint64(k), err)
		}
		if !fn(r) {
			return nil
		}
	}
	return nil
}

// appendOnly returns a bucket whose keys grow with time (requests, outbox,
// audit) filled to 90% when a page splits: the default 50% suits random
// inserts and would leave every page of these half empty.
func appendOnly(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = 0.9
	return b
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func timeKey(t time.Time) []byte { return u64(uint64(t.UnixNano())) }

// join builds a composite key; parts are separated by 0x00, which never
// occurs in the text parts (mailbox names, ids, addresses, terms).
func join(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	out := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			out = append(out, 0)
		}
		out = append(out, p...)
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
