// Package intake is the daemon: it watches the mailbox over IMAP, decides
// each matching message's outcome, records it in the store, settles the
// message on the server and runs the outbox worker beside it.
//
// The files follow the stages: run.go (Run, Once, one session, the wait
// for news), scan.go (new UIDs, envelopes, chunks, bodies, decisions in
// parallel), record.go (a chunk in one store transaction), settle.go (moves
// on the server, left-over moves), reprocess.go (messages staff asked to
// decide again); conn.go is the IMAP connection and verbs.go its typed
// commands (each under the command deadline), decide.go and mime.go the
// pure decision, config.go the configuration. Beside it, in sub-packages:
// staffapi (the staff calls over the Unix socket, the client the CLI uses,
// and the local path when no daemon runs), ops (systemd notify, metrics fed
// by explicit events, logging), endpoint (IMAP and SMTP endpoints and
// credentials), register (the register's rules) and trust (sender
// verdicts).
//
// A message the store will not take as decided is quarantined alone, with
// its reason, and its chunk recorded without it; one in hand when three
// passes in a row failed is quarantined on the next (record.go): no mail
// can stop the mailbox.
//
// One pass over the mailbox (Daemon.session) goes:
//
//  1. Settle what is left over: messages recorded but not yet moved (a
//     crash or a refused move after the commit) are moved now; the decision
//     is never made again.
//  2. Scan: UIDs above the highest handled under the current UIDVALIDITY;
//     envelope, size and structure first; the keyword is matched on the
//     decoded subject in Go. Mail without it is never changed.
//  3. Decide: bodies are fetched with BODY.PEEK[] in chunks of bounded size
//     and decided in parallel (the whole MIME tree, forwarded messages
//     included; automatic mail first; then sender policy, limits and
//     formparse under its time budget). Nothing here writes anywhere.
//  4. Record, one message at a time in UID order: one store transaction
//     writes the outcome, the requests and the replies. Then settle the
//     chunk: the recorded messages are flagged \Seen and moved, one command
//     per outcome folder (MOVE, or COPY + \Deleted + UID EXPUNGE of those
//     UIDs), and marked settled. A crash in between leaves them unsettled,
//     and step 1 of the next pass moves them one by one, checking first.
//  5. Wait: IDLE, ended by new mail, the poll interval or the restart
//     interval; or a plain poll when the server has no IDLE.
//
// Every IMAP command runs under a deadline (conn.do, through the typed
// verbs of verbs.go): the client library
// has none, so a watchdog closes the connection and the pass fails; Run
// reconnects with jittered exponential backoff, harder after a refused
// login. Log lines about a message carry its UID and Message-ID and never a
// form's field values.
package intake
