// Package endpoint owns what the IMAP mailbox and the SMTP relay have in
// common: where the server is and how it is reached (TLS mode, extra CA
// roots, the name the certificate is checked against), the login's secret
// (a password file, a token file, a bounded token command, or an OAuth2
// token from a built-in client-credentials flow), and the structured
// configuration problem (Problem, with Key and Msg) that every section
// reports. With it go two helpers every section and client of the daemon
// shares: WithDefaults, which fills a section's unset keys from a value of
// its own type, and Drop, which closes and forgets a cached connection.
//
// It imports nothing of this module, so both sides can use it under the
// dependency rule: package intake imports it for the mailbox and to resolve
// the relay's settings; package mailer, which may import only formparse and
// store, never sees it. The mailer takes the resolved pieces instead (a
// *tls.Config and a value with a Secret method), and intake wires them at
// load time. A secret is read at every login, never at load time, so a
// rotated credential is picked up without a restart.
package endpoint
