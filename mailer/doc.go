// Package mailer composes every notice the product sends (Swedish text with
// an HTML alternative) and delivers the outbox over SMTP.
package mailer
