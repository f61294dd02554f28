package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

func newOutboxCommand() *cobra.Command {
	return commandGroup("outbox", "See and steer the e-mails the daemon sends",
		`Every reply and notice goes through the outbox. Rows are pending until sent;
a permanent failure (the server refused, or a policy stopped it) stays as
failed with the reason, for staff to see, fix and retry.
`+staffHelp,
		newOutboxListCommand(), newOutboxShowCommand(), newOutboxRetryCommand(), newOutboxCancelCommand())
}

func newOutboxListCommand() *cobra.Command {
	var state string
	var limit int
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "list",
		Short: "List outbox rows, newest first",
		Example: `  websesam-intake outbox list
  websesam-intake outbox list --state failed
  websesam-intake outbox list --json --limit 500`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		st := staffapi.OutboxState(state)
		if err := oneOf("state", st, staffapi.OutboxPending, staffapi.OutboxSent, staffapi.OutboxFailed, staffapi.OutboxCancelled); err != nil {
			return err
		}
		if err := checkLimit(limit); err != nil {
			return err
		}
		rows, err := staffCall(cmd, sf, staffapi.OutboxList, staffapi.OutboxFilter{State: st, Limit: limit}, nil)
		if err != nil {
			return err
		}
		return writeRows(cmd.OutOrStdout(), rows, asJSON, "The outbox has no such rows.",
			[]string{"ID", "STATE", "KIND", "REQUEST", "TO", "SUBJECT", "ATTEMPTS", "WHEN", "LAST ERROR"}, func(r staffapi.OutboxRow) []string {
				return []string{strconv.FormatUint(r.ID, 10), string(r.State), r.Kind, dash(r.Request),
					shorten(strings.Join(append(append([]string{}, r.To...), r.Cc...), ", "), 40),
					shorten(r.Subject, 40), strconv.Itoa(outboxAttempts(r)), outboxWhen(r), shorten(dash(r.LastError), 50)}
			})
	})
	cmd.Flags().StringVar(&state, "state", "", "only rows in this state: pending, sent, failed or cancelled")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many rows")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func newOutboxShowCommand() *cobra.Command {
	var asJSON, raw bool
	cmd := staffCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show one outbox row: recipients, state, attempts, and the message",
		Example: `  websesam-intake outbox show 12
  websesam-intake outbox show 12 --raw > mail.eml`,
		Args: exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		id, err := outboxID(args[0])
		if err != nil {
			return err
		}
		m, err := staffCall(cmd, sf, staffapi.OutboxShow, staffapi.OutboxID{ID: id}, outboxError)
		if err != nil {
			return err
		}
		r := m.Row
		out := cmd.OutOrStdout()
		switch {
		case raw:
			_, err := out.Write(m.Raw)
			return err
		case asJSON:
			return writeJSON(out, struct {
				staffapi.OutboxRow
				Raw string `json:"raw"`
			}{r, string(m.Raw)})
		}
		t := newTable(out, "", "")
		t.row("ID", strconv.FormatUint(r.ID, 10))
		t.row("State", string(r.State))
		t.row("Kind", r.Kind)
		t.row("Request", dash(r.Request))
		t.row("Message-ID", "<"+r.MessageID+">")
		t.row("In reply to", dash(r.InReplyTo))
		t.row("From", r.From)
		t.row("To", strings.Join(r.To, ", "))
		t.row("Cc", dash(strings.Join(r.Cc, ", ")))
		t.row("Subject", r.Subject)
		t.row("Created", r.CreatedAt.Local().Format(time.DateTime))
		t.row("Attempts", outboxAttemptsText(r))
		t.row("Next try", outboxWhen(r))
		t.row("Last error", dash(r.LastError))
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "\n(%d bytes of message; --raw prints it)\n", len(m.Raw))
		return nil
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, the message included")
	cmd.Flags().BoolVar(&raw, "raw", false, "print the message exactly as it is sent")
	return cmd
}

func newOutboxRetryCommand() *cobra.Command {
	return newOutboxChangeCommand(&cobra.Command{
		Use:   "retry ID",
		Short: "Send a failed or cancelled row again, now",
		Long: `Puts a failed or cancelled row back to pending, due at once. Fix the cause
first (a full mailbox, a domain missing from the allowed list).`,
		Example: `  websesam-intake outbox retry 12`,
	}, "will be sent again", staffapi.OutboxRetry)
}

func newOutboxCancelCommand() *cobra.Command {
	return newOutboxChangeCommand(&cobra.Command{
		Use:     "cancel ID",
		Short:   "Stop a pending row from being sent",
		Example: `  websesam-intake outbox cancel 12`,
	}, "is cancelled", staffapi.OutboxCancel)
}

// newOutboxChangeCommand makes c a command that changes one outbox row,
// named by its id, and says what became of it (done).
func newOutboxChangeCommand(c *cobra.Command, done string, change staffapi.Call[staffapi.OutboxID, staffapi.Done]) *cobra.Command {
	c.Args = exactArgs(1)
	return staffCommand(c, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		return outboxChange(cmd, sf, args[0], done, change)
	})
}

func outboxChange(cmd *cobra.Command, sf staffFlags, arg, done string, change staffapi.Call[staffapi.OutboxID, staffapi.Done]) error {
	id, err := outboxID(arg)
	if err != nil {
		return err
	}
	if _, err := staffCall(cmd, sf, change, staffapi.OutboxID{ID: id}, outboxError); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Outbox row %d %s.\n", id, done)
	return nil
}

func outboxID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%q is not an outbox row id (a number, as 'outbox list' shows)", s)
	}
	return id, nil
}

// outboxError adds what to do to the store's refusals.
func outboxError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return staffError(err, "outbox list")
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w (see 'websesam-intake outbox show')", err)
	}
	return err
}

func outboxWhen(r staffapi.OutboxRow) string {
	switch r.State {
	case staffapi.OutboxSent:
		return "sent " + r.SentAt.Local().Format(time.DateTime)
	case staffapi.OutboxFailed:
		return "failed " + r.FailedAt.Local().Format(time.DateTime)
	case staffapi.OutboxPending:
		return "due " + r.NextTry.Local().Format(time.DateTime)
	}
	return "-"
}

// outboxAttempts is how many times delivery was tried: the row counts the
// tries that did not deliver, and a sent row had one more that did.
func outboxAttempts(r staffapi.OutboxRow) int {
	if r.State == staffapi.OutboxSent {
		return r.Attempts + 1
	}
	return r.Attempts
}

// outboxAttemptsText says the attempts for a person: how many, and how many
// of them did not deliver.
func outboxAttemptsText(r staffapi.OutboxRow) string {
	n := outboxAttempts(r)
	switch {
	case n == 0:
		return "none yet"
	case r.Attempts == 0:
		return fmt.Sprintf("%d (delivered on the first)", n)
	case r.State == staffapi.OutboxSent:
		return fmt.Sprintf("%d (%d did not deliver, the last did)", n, r.Attempts)
	}
	return fmt.Sprintf("%d, none delivered", n)
}
