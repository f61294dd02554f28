package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

func newPurgeCommand() *cobra.Command {
	var (
		dryRun bool
		asJSON bool
		at     string
	)
	cmd := staffConfigCommand(&cobra.Command{
		Use:   "purge [--dry-run] [--json]",
		Short: "Remove personal data past its time, as the daemon does daily",
		Long: `purge runs the retention pass of the configuration's [retention] section
now, the same pass the daemon runs at start and then daily:

  - done and rejected requests closed more than requests_days ago lose their
    form contents, user name, reason and notes;
  - message records lose sender and subject (queued and returned mail after
    requests_days, no-form, ignored and quarantined mail after messages_days);
  - sent, failed and cancelled notices lose recipients, subject and body
    after notices_days;
  - mail that arrived in an outcome folder more than that folder's days ago
    is expunged, or moved to move_to.

Kept: ids, dates, statuses, the verksamhet and kundnummer of a request, the
register and the audit log. One audit entry names you and the requests.

--dry-run shows what the pass would remove and changes nothing.

Without a daemon the command needs the daemon's configuration (--config)
with its mailbox login, as the daemon has it (run it as the service's user,
with CREDENTIALS_DIRECTORY set like the unit's).` + staffHelp,
		Example: `  websesam-intake purge --dry-run
  websesam-intake purge
  websesam-intake purge --dry-run --json`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		now, err := parseNow(at)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		return withStaff(cmd, sf, false, func(sess *staffSession) error {
			if l, ok := sess.Staff.(*staffapi.Local); ok {
				cfg, err := intake.LoadConfig(sf.config)
				if err != nil {
					return usagef("no daemon answers on %s, so the pass runs here and needs the daemon's whole configuration (its [retention], and its mailbox login for the folders): %w (give it with --config FILE)", sf.socket, err)
				}
				log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
				l.Retain = func(ctx context.Context, actor string, dry bool) (store.RetentionResult, error) {
					return intake.RetentionPass(ctx, cfg, l.Store, actor, now, dry, log)
				}
			}
			r, err := staffapi.Purge.Do(ctx, sess.Staff, staffapi.PurgeArgs{DryRun: dryRun})
			res := store.RetentionResult(r)
			if err != nil && res.At.IsZero() {
				return staffError(err, "purge --help")
			}
			if werr := writeJSONOr(cmd.OutOrStdout(), asJSON, res, printPurge); werr != nil {
				return werr
			}
			return err // the folder pass failed; the store's ran
		})
	})
	cmd.Flags().Lookup("config").Usage = "the daemon's configuration ([retention] and the mailbox login), read when no daemon answers; $WEBSESAM_INTAKE_CONFIG sets the default"
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the pass would remove; change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&at, "now", "", "the moment the pass runs at, without a daemon (RFC 3339)")
	_ = cmd.Flags().MarkHidden("now")
	return cmd
}

// printPurge says what the pass removed (or would).
func printPurge(w io.Writer, r store.RetentionResult) error {
	verb := "removed"
	if r.DryRun {
		verb = "would remove"
		fmt.Fprintf(w, "Retention pass at %s (dry run: nothing was changed)\n", r.At.Local().Format("2006-01-02 15:04"))
	} else {
		fmt.Fprintf(w, "Retention pass at %s\n", r.At.Local().Format("2006-01-02 15:04"))
	}
	p := r.Policy
	fmt.Fprintf(w, "  requests (closed over %d days ago): %s the contents of %d", p.RequestsDays, verb, r.Requests)
	if len(r.RequestIDs) > 0 {
		ids := r.RequestIDs
		more := ""
		if len(ids) > 20 {
			ids, more = ids[:20], fmt.Sprintf(" and %d more", len(r.RequestIDs)-20)
		}
		fmt.Fprintf(w, ": %s%s", strings.Join(ids, " "), more)
	}
	fmt.Fprintln(w)
	var parts []string
	outcomes := make([]string, 0, len(r.MessagesByOutcome))
	for o := range r.MessagesByOutcome {
		outcomes = append(outcomes, string(o))
	}
	slices.Sort(outcomes)
	for _, o := range outcomes {
		parts = append(parts, fmt.Sprintf("%s %d", o, r.MessagesByOutcome[store.Outcome(o)]))
	}
	fmt.Fprintf(w, "  message records (%d days; no-form, ignored, quarantined %d days): %s sender and subject of %d",
		p.RequestsDays, p.MessagesDays, verb, r.Messages)
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  notices (%d days): %s recipients and body of %d\n", p.NoticesDays, verb, r.Outbox)
	if len(r.Folders) == 0 {
		return nil
	}
	fmt.Fprintln(w, "  outcome folders:")
	t := newTable(w, "    FOLDER", "DAYS", "ARRIVED BEFORE", "MAILS", "")
	for _, f := range r.Folders {
		what := "expunged"
		if f.MovedTo != "" {
			what = "moved to " + f.MovedTo
		}
		if r.DryRun {
			what = "would be " + what
		}
		if f.Missing {
			what = "(no such folder yet)"
		}
		t.row("    "+f.Folder, itoa(f.Days), f.Before.Local().Format("2006-01-02 15:04"), itoa(f.Removed), what)
	}
	return t.flush()
}
