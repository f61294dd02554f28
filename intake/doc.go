// Package intake is the daemon: it watches the mailbox over IMAP, decides
// each matching message's outcome, records it in the store, settles the
// message on the server, runs the outbox worker and serves the staff API on a
// Unix socket.
package intake
