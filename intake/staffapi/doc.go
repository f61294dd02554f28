// Package staffapi is how support staff reach the intake's data: the staff
// calls (list, show, claim, done, reject, reprocess, register, audit,
// outbox, backup), served by the daemon as JSON over HTTP on a Unix socket
// whose peer credentials name the caller, a client for that socket, and a
// local implementation that calls the store directly when no daemon runs.
//
// The CLI imports this package, never the daemon, to get a client.
package staffapi
