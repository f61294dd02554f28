// Package mailtest is the one set of in-process mail servers and waits that
// every test of this module and the demo use: an IMAP server (go-imap's
// imapmemserver on 127.0.0.1, plain or TLS, with a hook on each session), an
// SMTP sink (go-smtp; it records each envelope and raw message, offers AUTH
// and TLS on request, and refuses, stalls or goes away when a test says so),
// a proxy that cuts, stalls or slows connections on cue, a test certificate
// authority, and waits that end on an event (a delivery, a mailbox change,
// a proxy count) or on a condition polled against a deadline, never on a
// fixed sleep.
//
// It lives under mailer/ and imports nothing of this module: mailer's own
// tests import it without a cycle, and intake, its sub-packages and cmd
// (which may import mailer's tree) reach it within the dependency rule
// (formparse and store import nothing of ours; mailer only those two;
// intake all three; cmd wires).
//
// It does not import package testing, so the shipped demo links none of it:
// the servers are made with NewIMAP and NewSink, which return errors; the
// Start functions wrap them for tests through TB, which testing.TB
// satisfies.
package mailtest

import "time"

// TB is the part of testing.TB these helpers use.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// pollEvery is how often Wait looks at a condition nothing signals.
const pollEvery = 5 * time.Millisecond
