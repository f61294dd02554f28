// Package store keeps the daemon's memory in one bbolt file: the messages
// seen, the requests, the outbox, the register and the audit log, with every
// state change as one transaction. It imports nothing else of this module.
//
// # What a transaction holds
//
// RecordOutcome writes a message's record, its requests and the outbox rows
// that answer it together; Complete writes the request, the register and the
// notices together; Reject the request and its notice. A crash therefore
// leaves either all of a step or none of it, and the outbox worker sends
// only what a committed step asked for. TestCrashSafety kills a process doing
// these steps 50 times and checks exactly that.
//
// # Seen before
//
// A message is known by (mailbox, UIDVALIDITY, UID) and by its Message-ID;
// either match makes RecordOutcome a no-op that returns the earlier record.
// A form is known by the SHA-256 of its file: one whose requests are queued,
// claimed or done creates no new request (the receipt says "already
// received"); a rejected form sent again is a new request.
//
// # Personal data
//
// Every call that returns personal data to staff takes the actor and writes
// an audit entry (ids and counts, never values) in the same transaction;
// the daemon's own look-ups (MessageByID, Unsettled,
// DueOutbox) return keys and composed mail only. Purge empties closed
// requests, message records and outbox rows after the retention period and
// keeps ids, dates, statuses and the audit log.
//
// # Fields
//
// A request's fields are opaque data here: the store never spells a field
// name. What it needs to know of them (the search terms, the fields a
// purged request keeps, the register's rules) comes from FieldRules, set
// once per program by intake/register.
//
// # Keys
//
// Request ids (WS-YYYY-NNNNNN) sort in creation order, so listings read a
// bucket or the status index backwards and a page costs the same at any
// size; outbox ids and audit sequence numbers are big-endian integers for
// the same reason. Composite keys join their parts with a 0x00 byte. No key
// part is taken from input as it is: text from a mail or a form goes
// through keyText, which keeps it up to 256 bytes and otherwise shortens it
// to a prefix and its SHA-256, so nothing a sender writes makes a key bbolt
// refuses.
package store
