package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
)

func newAuditCommand() *cobra.Command {
	return commandGroup("audit", "Read the log of who looked at or changed what",
		`Every read of personal data (queue list, show and search, register list and
export, messages list and show, the outbox) and every change writes one
entry: who, when, what was asked and how many records came back — ids and
counts, never the data itself. Reading the log is logged too.
`+staffHelp,
		newAuditListCommand())
}

func newAuditListCommand() *cobra.Command {
	var since, actor string
	var limit int
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "list [--since D] [--actor U]",
		Short: "List audit entries, newest first",
		Example: `  websesam-intake audit list --since 7d
  websesam-intake audit list --actor anna --since 2026-11-01 --json`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		from, err := parseSince(since, time.Now())
		if err != nil {
			return err
		}
		if err := checkLimit(limit); err != nil {
			return err
		}
		entries, err := staffCall(cmd, sf, staffapi.AuditList, staffapi.AuditFilter{Actor: actor, Since: from, Limit: limit}, seeList("audit list"))
		if err != nil {
			return err
		}
		return writeRows(cmd.OutOrStdout(), entries, asJSON, "No audit entries match.",
			[]string{"SEQ", "AT", "ACTOR", "ACTION", "COUNT", "SUBJECTS", "DETAIL"}, func(e staffapi.AuditEntry) []string {
				return []string{strconv.FormatUint(e.Seq, 10), e.At.Local().Format(time.DateTime), e.Actor, e.Action,
					strconv.Itoa(e.Count), shorten(dash(strings.Join(e.Subjects, " ")), 60), dash(e.Detail)}
			})
	})
	cmd.Flags().StringVar(&since, "since", "", "only entries since a date (2026-11-01) or a span (7d, 36h)")
	cmd.Flags().StringVar(&actor, "actor", "", "only this user's entries")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many entries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}
