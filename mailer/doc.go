// Package mailer composes every notice the product sends (Swedish text with
// an HTML alternative) and delivers the outbox over SMTP.
//
// Composition (Composer) is pure: given its input, a clock and a random
// source it returns complete store.OutboxRow values, RFC 5322 bytes
// included. The daemon calls it inside the store transaction that records
// the outcome (store.RecordOutcome, store.Complete via Composer.Completed,
// store.Reject via Composer.Rejected), so a reply exists exactly when its
// cause does, and a resend after a crash is the same bytes with the same
// Message-ID. The wording lives in templates/ (text/template for the plain
// text, html/template for the HTML part), embedded in the binary and
// overridable file by file from Config.TemplatesDir.
//
// Delivery (Worker) takes due rows oldest first, applies the recipient
// policy (allowed domains, recipient by recipient: one outside them is left
// out and the row goes to the others; a per-recipient hourly limit; no mail
// to an address that bounced within the bounce window), sends each row's stored
// bytes over one SMTP session (go-mail dials, secures and authenticates;
// its smtp sub-package carries the envelope and DATA), and writes every
// outcome back: sent, failed with the server's answer (5xx, or temporary
// failures older than MaxAge), or retried with jittered exponential
// backoff. While the relay is unreachable no row's place in the queue
// changes, so everything goes out in order once it is back.
//
// Domains are compared in one way only (CanonicalDomain: ASCII after IDNA,
// never Unicode case folding), here and in the intake's sender policy.
//
// Every mail carries LoopHeader; the intake ignores incoming mail with it.
package mailer
