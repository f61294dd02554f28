// Package ops is the daemon's operational surface, the parts an operator
// and systemd see rather than the mail: the systemd notify protocol
// (READY, STATUS, WATCHDOG, STOPPING) with the main loop's heartbeat, the
// Prometheus metrics served on a loopback /metrics, and the logger set up
// from the [log] section (JSON under the journal, text on a terminal).
//
// It imports nothing of the daemon: the daemon and the outbox worker tell
// it what happened through explicit calls, so it never learns of an event
// by reading a log line.
package ops
