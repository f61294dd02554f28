package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
)

func init() { subcommands = append(subcommands, newAuditCommand) }

func newAuditCommand() *cobra.Command {
	audit := &cobra.Command{
		Use:   "audit",
		Short: "Read the log of who looked at or changed what",
		Long: `Every read of personal data (queue list, show and search, register list and
export, messages list and show, the outbox) and every change writes one
entry: who, when, what was asked and how many records came back — ids and
counts, never the data itself. Reading the log is logged too.
` + staffHelp,
	}
	audit.AddCommand(newAuditListCommand())
	return audit
}

func newAuditListCommand() *cobra.Command {
	var sf staffFlags
	var since, actor string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--since D] [--actor U]",
		Short: "List audit entries, newest first",
		Example: `  websesam-intake audit list --since 7d
  websesam-intake audit list --actor anna --since 2026-11-01 --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			if limit < 1 {
				return usagef("--limit must be at least 1")
			}
			s, err := openStaff(cmd.Context(), sf, false)
			if err != nil {
				return err
			}
			defer s.Close()
			entries, err := staffapi.AuditList.Do(cmd.Context(), s.Staff, staffapi.AuditFilter{Actor: actor, Since: from, Limit: limit})
			if err != nil {
				return staffError(err, "audit list")
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if entries == nil {
					entries = []staffapi.AuditEntry{}
				}
				return writeJSON(out, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintln(out, "No audit entries match.")
				return nil
			}
			t := newTable(out, "SEQ", "AT", "ACTOR", "ACTION", "COUNT", "SUBJECTS", "DETAIL")
			for _, e := range entries {
				t.row(strconv.FormatUint(e.Seq, 10), e.At.Local().Format(time.DateTime), e.Actor, e.Action,
					strconv.Itoa(e.Count), shorten(dash(strings.Join(e.Subjects, " ")), 60), dash(e.Detail))
			}
			return t.flush()
		},
	}
	addStaffFlags(cmd, &sf)
	cmd.Flags().StringVar(&since, "since", "", "only entries since a date (2026-11-01) or a span (7d, 36h)")
	cmd.Flags().StringVar(&actor, "actor", "", "only this user's entries")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many entries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}
