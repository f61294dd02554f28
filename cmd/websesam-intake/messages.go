package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
)

func newMessagesCommand() *cobra.Command {
	return commandGroup("messages", "See what became of each matching message, and decide one again",
		`Every message whose subject holds the keyword gets one outcome: queued,
returned, no-form, ignored or quarantined. Quarantined messages get no reply;
staff find them here. After fixing the cause (a sender domain allowed, a
limit raised), 'messages reprocess' has the daemon decide one again.

A message is named MAILBOX/UIDVALIDITY/UID, as 'messages list' shows.
`+staffHelp,
		newMessagesListCommand(), newMessagesShowCommand(), newMessagesReprocessCommand())
}

func parseOutcome(s string) (staffapi.Outcome, error) {
	o := staffapi.Outcome(s)
	return o, oneOf("outcome", o, staffapi.OutcomeQueued, staffapi.OutcomeReturned, staffapi.OutcomeNoForm, staffapi.OutcomeIgnored, staffapi.OutcomeQuarantined)
}

func messageKey(s string) (staffapi.MessageKey, error) {
	k, err := staffapi.ParseMessageKey(s)
	if err != nil {
		return k, usagef("%q is not a message (MAILBOX/UIDVALIDITY/UID, as 'messages list' shows)", s)
	}
	return k, nil
}

func newMessagesListCommand() *cobra.Command {
	var outcome string
	var limit int
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "list [--outcome O]",
		Short: "List message records, most recent first",
		Long: `List the messages the daemon decided, most recently recorded first, with
sender and subject (so the listing is written to the audit log).`,
		Example: `  websesam-intake messages list --outcome quarantined
  websesam-intake messages list --outcome no-form --json`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		o, err := parseOutcome(outcome)
		if err != nil {
			return err
		}
		if err := checkLimit(limit); err != nil {
			return err
		}
		msgs, err := staffCall(cmd, sf, staffapi.ListMessages, staffapi.MessageFilter{Outcome: o, Limit: limit}, seeList("messages list"))
		if err != nil {
			return err
		}
		return writeRows(cmd.OutOrStdout(), msgs, asJSON, "No messages match.",
			[]string{"MESSAGE", "RECEIVED", "OUTCOME", "FROM", "SUBJECT", "REASON"}, func(m staffapi.Message) []string {
				return []string{m.Key.String(), localTime(m.ReceivedAt), string(m.Outcome), shorten(dash(m.From), 35),
					shorten(dash(m.Subject), 40), shorten(dash(m.Reason), 50)}
			})
	})
	cmd.Flags().StringVar(&outcome, "outcome", "", "only messages with this outcome: queued, returned, no-form, ignored or quarantined")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many messages")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func newMessagesShowCommand() *cobra.Command {
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "show MAILBOX/UIDVALIDITY/UID",
		Short: "Show one message's record and history",
		Long: `Show one message: sender, subject, outcome and why, the requests its forms
became, and its history after the first decision. Written to the audit log.`,
		Example: `  websesam-intake messages show INBOX/1700000000/42
  websesam-intake messages show INBOX/1700000000/42 --json`,
		Args: exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		key, err := messageKey(args[0])
		if err != nil {
			return err
		}
		d, err := staffCall(cmd, sf, staffapi.ShowMessage, key, seeList("messages list"))
		if err != nil {
			return err
		}
		return writeJSONOr(cmd.OutOrStdout(), asJSON, d, writeMessageDetail)
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func writeMessageDetail(w io.Writer, d staffapi.MessageDetail) error {
	m := d.Message
	t := newTable(w, "Message", m.Key.String())
	t.row("Message-ID", "<"+m.MessageID+">")
	t.row("From", dash(m.From))
	t.row("Subject", dash(m.Subject))
	t.row("Received", localTime(m.ReceivedAt))
	t.row("Size", fmt.Sprintf("%d bytes", m.Size))
	t.row("Outcome", string(m.Outcome))
	t.row("Reason", dash(m.Reason))
	verdict := m.Verdict
	if verdict == "" {
		verdict = "not read (no [trust] authserv_id when it was decided)"
	}
	t.row("Sender verdict", verdict)
	t.row("Recorded", localTime(m.RecordedAt))
	settled := "not yet moved on the server"
	if m.Settled {
		settled = "moved " + localTime(m.SettledAt)
	}
	t.row("Settled", settled)
	if m.DuplicateOf != nil {
		t.row("Copy of", m.DuplicateOf.String())
	}
	for i, f := range m.Forms {
		what := "requests " + strings.Join(f.Requests, ", ")
		if f.Duplicate {
			what = "sent before: " + strings.Join(f.Requests, ", ")
		}
		t.row(fmt.Sprintf("Form %d", i+1), what)
	}
	if d.Pending != nil {
		t.row("Reprocess", fmt.Sprintf("asked by %s at %s; waiting for the daemon", d.Pending.Actor, localTime(d.Pending.At)))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := writeProblems(w, m.Problems); err != nil {
		return err
	}
	if len(d.History) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nHistory")
	t = newIndentedTable(w)
	for _, e := range d.History {
		step := string(e.From)
		if e.To != "" {
			step += " → " + string(e.To)
		}
		t.row("  "+localTime(e.At), e.Actor, e.Event, step, e.Note)
	}
	return t.flush()
}

func newMessagesReprocessCommand() *cobra.Command {
	var note string
	var notify bool
	cmd := staffCommand(&cobra.Command{
		Use:   "reprocess MAILBOX/UIDVALIDITY/UID [--note TEXT] [--notify]",
		Short: "Have the daemon decide a quarantined or no-form message again",
		Long: `After fixing what made the daemon quarantine a message (or find no form in
it), ask for the message to be decided again. This is the only way a
message is decided twice: it is written to the message's history and the
audit log with your name. Only quarantined and no-form messages can be
reprocessed; the daemon picks the request up on its next pass. When the
message comes out as it did before, the sender is not told again unless
you give --notify; a changed outcome (a form now read, a sender now
allowed) is notified as usual.`,
		Example: `  websesam-intake messages reprocess INBOX/1700000000/42 --note "region.example.se now allowed"`,
		Args:    exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		key, err := messageKey(args[0])
		if err != nil {
			return err
		}
		return withStaff(cmd, sf, false, func(s *staffSession) error {
			if _, err := staffapi.Reprocess.Do(cmd.Context(), s.Staff, staffapi.ReprocessArgs{Key: key, Note: note, Notify: notify}); err != nil {
				return staffError(err, "messages list")
			}
			when := "on its next pass"
			if s.Direct {
				when = "when it next runs"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Message %s will be decided again by the daemon %s.\n", key, when)
			return nil
		})
	})
	cmd.Flags().StringVar(&note, "note", "", "what was fixed, for the message's history")
	cmd.Flags().BoolVar(&notify, "notify", false, "send the notice even when the decision comes out as before (by default only a changed outcome is notified, so the sender gets no second, identical mail)")
	return cmd
}

// writeProblems lists, per form, what made a returned message come back:
// each field by its label on the form and the reason, as the notice said.
func writeProblems(w io.Writer, forms []staffapi.FormProblems) error {
	if len(forms) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nWhy it came back")
	for i, f := range forms {
		fmt.Fprintf(w, "  Form %d (%s), %d problem(s):\n", i+1, f.Form, len(f.Problems))
		t := newIndentedTable(w)
		for _, p := range f.Problems {
			t.row("    "+p.Label, p.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}
