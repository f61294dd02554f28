package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

func newQueueCommand() *cobra.Command {
	return commandGroup("queue", "Review and record the requests of valid forms",
		`Every valid form becomes one request per user. A request is queued, then
claimed by one of you, then done (the webSesam user name is recorded and the
user and the manager are told) or rejected (the manager is told why).

Every look at a request is written to the audit log under your name.
`+staffHelp,
		newQueueListCommand(), newQueueShowCommand(), newQueueSearchCommand(),
		newQueueClaimCommand(), newQueueDoneCommand(), newQueueRejectCommand(), newQueueReleaseCommand(),
		newQueueFormCommand(), newQueueReviewCommand())
}

// queueItem is one request in `queue list --json` and `queue search
// --json`: exactly the keys docs/cli.md promises to scripts.
type queueItem struct {
	ID         string          `json:"id"`
	Status     staffapi.Status `json:"status"`
	Type       string          `json:"type"`
	Batch      string          `json:"batch"`
	ReceivedAt time.Time       `json:"received_at"`
	MessageID  string          `json:"message_id"`
	// Fields are typed as in `parse --json`: checkboxes are booleans.
	Fields map[string]any `json:"fields"`
}

func queueItems(reqs []staffapi.Request) []queueItem {
	out := make([]queueItem, 0, len(reqs))
	for _, r := range reqs {
		f := map[string]any{}
		if def := formparse.Lookup(formparse.FormID(r.Form)); def != nil {
			f = def.FieldValues(r.Fields)
		} else {
			for k, v := range r.Fields {
				f[k] = v
			}
		}
		out = append(out, queueItem{ID: r.ID, Status: r.Status, Type: r.Type, Batch: r.Batch,
			ReceivedAt: r.ReceivedAt, MessageID: r.MessageID, Fields: f})
	}
	return out
}

// writeRequests prints requests as JSON for scripts or as a table.
func writeRequests(w io.Writer, reqs []staffapi.Request, asJSON bool, none string) error {
	if asJSON {
		return writeJSON(w, queueItems(reqs))
	}
	now := time.Now()
	return writeRows(w, reqs, false, none,
		[]string{"ID", "RECEIVED", "TYPE", "NAME", "KUNDNUMMER", "STATUS", "CLAIMED BY", "AGE"}, func(r staffapi.Request) []string {
			name := strings.TrimSpace(formparse.FieldFornamn.Value(r.Fields) + " " + formparse.FieldEfternamn.Value(r.Fields))
			if r.Purged {
				name = "(purged)"
			}
			return []string{r.ID, localTime(r.ReceivedAt), r.Type, shorten(dash(name), 30), dash(formparse.FieldKundnummer.Value(r.Fields)),
				string(r.Status), dash(r.ClaimedBy), age(r.ReceivedAt, now)}
		})
}

func newQueueListCommand() *cobra.Command {
	var status, typ, since string
	var limit int
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "list [--status S] [--type T] [--since D] [--limit N]",
		Short: "List requests, newest first",
		Long: `List requests, newest first: id, when received, type (ny, andring, avslut),
name, kundnummer, status, who claimed it and how long ago it came in.

The table shows the newest 50 unless --limit says otherwise. --json prints
the array scripts rely on, every matching request unless --limit is given:
per request exactly id, status, type, batch, received_at, message_id and
fields (every field of the form by its name). The listing shows names, so
it is written to the audit log (one entry per page of 1,000).`,
		Example: `  websesam-intake queue list
  websesam-intake queue list --status queued
  websesam-intake queue list --type avslut --since 7d
  websesam-intake queue list --since 2026-11-01 --json`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		st := staffapi.Status(status)
		if err := oneOf("status", st, staffapi.StatusQueued, staffapi.StatusClaimed, staffapi.StatusDone, staffapi.StatusRejected); err != nil {
			return err
		}
		if err := oneOf("type", typ, store.TypeNy, store.TypeAndring, store.TypeAvslut); err != nil {
			return err
		}
		limitGiven := cmd.Flags().Changed("limit")
		if limitGiven {
			if err := checkLimit(limit); err != nil {
				return err
			}
		}
		all := !limitGiven && asJSON
		from, err := parseSince(since, time.Now())
		if err != nil {
			return err
		}
		f := staffapi.ListFilter{Status: st, Type: typ, Since: from, Limit: limit}
		if all {
			f.Limit = listPage
		}
		var reqs []staffapi.Request
		var more bool
		err = withStaff(cmd, sf, false, func(s *staffSession) error {
			for {
				page, err := staffapi.ListRequests.Do(cmd.Context(), s.Staff, f)
				if err != nil {
					return staffError(err, "queue list")
				}
				reqs = append(reqs, page.Requests...)
				more = page.Next != ""
				if !all || !more {
					return nil
				}
				f.Before = page.Next
			}
		})
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if err := writeRequests(out, reqs, asJSON, "No requests match."); err != nil {
			return err
		}
		if more && !asJSON {
			fmt.Fprintf(out, "(more requests match; show more with --limit %d)\n", limit*2)
		}
		return nil
	})
	cmd.Flags().StringVar(&status, "status", "", "only requests with this status: queued, claimed, done or rejected")
	cmd.Flags().StringVar(&typ, "type", "", "only requests of this type: ny, andring or avslut")
	cmd.Flags().StringVar(&since, "since", "", "only requests that came in since a date (2026-11-01) or a span (7d, 36h)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many requests (with --json: all unless given)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts instead of a table")
	return cmd
}

// listPage is the page size of `queue list --json` without --limit (a
// variable so a test can walk several pages of a small store).
var listPage = 1000

func newQueueSearchCommand() *cobra.Command {
	var limit int
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "search TEXT",
		Short: "Find requests by name, e-mail, HSA-id or kundnummer",
		Long: `Find requests whose first name, last name, previous name, e-mail address,
HSA-id or a kundnummer starts with TEXT (any letter case). Several words
match a full name in either order. The search is written to the audit log
(the ids found, never the text searched for).`,
		Example: `  websesam-intake queue search 602154
  websesam-intake queue search "anna sv"
  websesam-intake queue search anna.svensson@region.example.se --json`,
		Args: minArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		text := strings.TrimSpace(strings.Join(args, " "))
		if text == "" {
			return usagef("search needs a name, e-mail address, HSA-id or kundnummer")
		}
		if err := checkLimit(limit); err != nil {
			return err
		}
		reqs, err := staffCall(cmd, sf, staffapi.SearchRequests, staffapi.Search{Text: text, Limit: limit}, seeList("queue list"))
		if err != nil {
			return err
		}
		return writeRequests(cmd.OutOrStdout(), reqs, asJSON, "No request matches.")
	})
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many requests")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts instead of a table")
	return cmd
}

func newQueueShowCommand() *cobra.Command {
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show everything about one request",
		Long: `Show one request: its fields by the labels the form shows, its history
(who claimed, released, completed or rejected it, and when), the message it
came from and the replies sent about it. Written to the audit log.`,
		Example: `  websesam-intake queue show WS-2026-000123
  websesam-intake queue show WS-2026-000123 --json`,
		Args: exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		d, err := staffCall(cmd, sf, staffapi.ShowRequest, staffapi.RequestID{ID: args[0]}, seeList("queue list"))
		if err != nil {
			return err
		}
		return writeJSONOr(cmd.OutOrStdout(), asJSON, d, writeRequestDetail)
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func writeRequestDetail(w io.Writer, d staffapi.RequestDetail) error {
	r := d.Request
	def := formparse.Lookup(formparse.FormID(r.Form))
	title := r.Form
	if def != nil {
		title = def.Title
	}
	t := newTable(w, "Request", r.ID)
	t.row("Status", statusLine(r))
	t.row("Form", title)
	if r.Batch != r.ID {
		t.row("Batch", r.Batch+" (one form, several users)")
	}
	t.row("Received", localTime(r.ReceivedAt))
	if r.Username != "" {
		t.row("webSesam user name", r.Username)
	}
	if r.Reason != "" {
		t.row("Reason", r.Reason)
	}
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nFields")
	if r.Purged {
		fmt.Fprintf(w, "  (emptied by retention on %s)\n", localTime(r.PurgedAt))
	} else {
		t = newIndentedTable(w)
		for _, fl := range formFields(def, r.Fields) {
			t.row("  "+fl.label, fl.value)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nHistory")
	t = newIndentedTable(w)
	for _, h := range r.History {
		step := string(h.To)
		if h.From != "" {
			step = string(h.From) + " → " + string(h.To)
		}
		t.row("  "+localTime(h.At), h.Actor, step, h.Note)
	}
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nMessage")
	if m := d.Message; m == nil {
		fmt.Fprintln(w, "  (no record)")
	} else {
		t = newIndentedTable(w)
		t.row("  Key", m.Key.String())
		t.row("  Message-ID", "<"+m.MessageID+">")
		t.row("  From", dash(m.From))
		t.row("  Subject", dash(m.Subject))
		t.row("  Received", localTime(m.ReceivedAt))
		t.row("  Outcome", string(m.Outcome))
		if err := t.flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nReplies")
	if len(d.Replies) == 0 {
		fmt.Fprintln(w, "  (none)")
		return nil
	}
	t = newIndentedTable(w)
	for _, o := range d.Replies {
		t.row(fmt.Sprintf("  %d", o.ID), o.Kind, string(o.State), strings.Join(append(append([]string{}, o.To...), o.Cc...), ", "), outboxWhen(o))
	}
	return t.flush()
}

// newIndentedTable is a table without a header row.
func newIndentedTable(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func statusLine(r staffapi.Request) string {
	switch r.Status {
	case staffapi.StatusClaimed:
		return fmt.Sprintf("claimed by %s since %s", r.ClaimedBy, localTime(r.ClaimedAt))
	case staffapi.StatusDone, staffapi.StatusRejected:
		return fmt.Sprintf("%s on %s", r.Status, localTime(r.ClosedAt))
	}
	return string(r.Status)
}

type labelled struct{ label, value string }

// formFields lists a request's fields in form order by the labels the form
// definition gives them: the shared fields, then the user-row columns of a
// multi-user form, then anything the definition does not know, by name.
func formFields(def *formparse.Definition, f map[string]string) []labelled {
	var out []labelled
	seen := map[string]bool{}
	if def != nil {
		for _, fl := range append(append([]formparse.Field{}, def.Fields...), def.UserColumns...) {
			if seen[fl.Name] {
				continue
			}
			seen[fl.Name] = true
			out = append(out, labelled{fl.Label, showValue(fl, f[fl.Name])})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f)) {
		if !seen[name] {
			out = append(out, labelled{name, dash(f[name])})
		}
	}
	return out
}

// showValue is a value as the form shows it: a choice by its label, a box
// as Ja or Nej.
func showValue(fl formparse.Field, v string) string { return formValue(fl, v, "Ja", "Nej", "-") }
