package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
	"github.com/regionhmc/websesam-intake/store/workdays"
)

// defaultReportWeeks is the period of a report without --from: this week
// and the eleven before it.
const defaultReportWeeks = 12

func newReportCommand() *cobra.Command {
	var (
		from, to, xlsx string
		asJSON         bool
		promise        int
		at             string
	)
	cmd := staffConfigCommand(&cobra.Command{
		Use:   "report [--from DATE] [--to DATE] [--json] [--xlsx FILE]",
		Short: "Show how the intake is doing, in counts only",
		Long: `report counts the intake's work over a period, with no names and no
addresses: only counts, request ids of late requests, and the ordering
organisation's verksamhet and kundnummer.

  - per ISO week: mails received by outcome, requests by type (ny, ändring,
    avslut);
  - turnaround from received to done, in working days: median, 90th
    percentile (nearest rank) and the share within the promise;
  - why forms came back: the fields most often missing or wrong, by label
    (a field counts once per form);
  - per verksamhet and kundnummer: requests and returned forms;
  - the open queue (queued and claimed) now, by age in working days
    (0–2, 3–5, 6–10, over 10), and the requests past the promise.

The period is by the day received (--from and --to are dates, both
included; the default is this week and the 11 before it); turnaround counts
the requests done in the period. Working days are Monday to Friday without
Swedish public holidays, Midsommarafton, julafton and nyårsafton. The promise
is [queue] promise of the daemon's configuration (--config), or --promise.

--xlsx writes a workbook with one sheet per table and native charts
(weekly stacked columns, turnaround against the promise, the top return
reasons) that Excel and LibreOffice open, with real dates and numbers.` + staffHelp,
		Example: `  websesam-intake report
  websesam-intake report --from 2026-01-01 --to 2026-06-30 --xlsx halvar.xlsx
  websesam-intake report --json --from 2026-11-01`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		now, err := parseNow(at)
		if err != nil {
			return err
		}
		opts, err := reportPeriod(from, to, now)
		if err != nil {
			return err
		}
		if promise < 0 || promise > 100 {
			return usagef("--promise: want working days from 1 to 100, got %d", promise)
		}
		var rep store.Report
		err = withStaff(cmd, sf, false, func(sess *staffSession) error {
			if l, ok := sess.Staff.(*staffapi.Local); ok && promise == 0 {
				// No daemon to ask: the promise of its configuration.
				l.Promise = intake.DefaultPromise
				if p, err := intake.ReadPromise(sf.config); err == nil {
					l.Promise = p
				} else if !errors.Is(err, os.ErrNotExist) {
					return usagef("%v (or give --promise N)", err)
				}
			}
			r, err := staffapi.Report.Do(cmd.Context(), sess.Staff, staffapi.ReportArgs{From: opts.From, To: opts.To, Now: opts.Now, Promise: promise})
			rep = store.Report(r)
			return staffError(err, "report --help")
		})
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if xlsx != "" {
			if err := writeReportWorkbook(xlsx, rep); err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintf(out, "wrote %s\n", xlsx)
				return nil
			}
		}
		return writeJSONOr(out, asJSON, rep, printReport)
	})
	cmd.Flags().Lookup("config").Usage = "the daemon's configuration, read for its [queue] promise when no daemon answers; $WEBSESAM_INTAKE_CONFIG sets the default"
	cmd.Flags().StringVar(&from, "from", "", "first day of the period, YYYY-MM-DD (default: the Monday 11 weeks before this week's)")
	cmd.Flags().StringVar(&to, "to", "", "last day of the period, YYYY-MM-DD, included (default: today)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&xlsx, "xlsx", "", "write the report as an Excel workbook to FILE")
	cmd.Flags().IntVar(&promise, "promise", 0, "the promise in working days (default: [queue] promise of --config, else 5)")
	// --now fixes the moment the period's default and the queue's ages are
	// taken at: tests and a report reproduced for a given morning.
	cmd.Flags().StringVar(&at, "now", "", "the moment the report is made at (RFC 3339)")
	_ = cmd.Flags().MarkHidden("now")
	return cmd
}

// reportPeriod turns --from and --to into the store's half-open period.
func reportPeriod(from, to string, now time.Time) (store.ReportOptions, error) {
	day := func(flag, s string) (time.Time, error) {
		t, err := time.ParseInLocation(time.DateOnly, s, time.Local)
		if err != nil {
			return time.Time{}, usagef("--%s: want a date YYYY-MM-DD, got %q", flag, s)
		}
		return t, nil
	}
	cal := workdays.Swedish(time.Local)
	o := store.ReportOptions{Now: now, WorkdaysBetween: cal.Between, Location: time.Local}
	today := cal.Date(now)
	o.To = today.AddDate(0, 0, 1)
	if to != "" {
		t, err := day("to", to)
		if err != nil {
			return o, err
		}
		o.To = t.AddDate(0, 0, 1)
	}
	if from != "" {
		t, err := day("from", from)
		if err != nil {
			return o, err
		}
		o.From = t
	} else {
		monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
		o.From = monday.AddDate(0, 0, -7*(defaultReportWeeks-1))
	}
	if !o.From.Before(o.To) {
		return o, usagef("--from %s is after --to", o.From.Format(time.DateOnly))
	}
	return o, nil
}

// bar draws n of max as a bar of at most width cells.
func bar(n, maxN, width int) string {
	if n <= 0 || maxN <= 0 {
		return ""
	}
	w := max(1, n*width/maxN)
	return strings.Repeat("█", w)
}

// stackedBar draws the parts of a total one after another, each with its
// own character, scaled together.
func stackedBar(parts []int, chars []string, maxN, width int) string {
	var b strings.Builder
	for i, n := range parts {
		if n <= 0 || maxN <= 0 {
			continue
		}
		b.WriteString(strings.Repeat(chars[i], max(1, n*width/maxN)))
	}
	return b.String()
}

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" }

// printReport writes the report's tables with bar charts drawn in text.
func printReport(w io.Writer, r store.Report) error {
	fmt.Fprintf(w, "Report %s to %s (promise: %d working days; queue as of %s)\n\n",
		r.From.Format(time.DateOnly), r.To.AddDate(0, 0, -1).Format(time.DateOnly), r.Promise, r.Now.Local().Format("2006-01-02 15:04"))

	fmt.Fprintln(w, "Mails by outcome and requests by type, per ISO week")
	fmt.Fprintln(w, "  bar: █ queued  ▓ returned  ▒ no-form  ░ ignored  · quarantined")
	maxMails := 0
	for _, wk := range r.Weeks {
		maxMails = max(maxMails, wk.Mails())
	}
	t := newTable(w, "WEEK", "MONDAY", "QUEUED", "RETURNED", "NO-FORM", "IGNORED", "QUARANTINED", "NY", "ÄNDRING", "AVSLUT", "")
	chars := []string{"█", "▓", "▒", "░", "·"}
	for _, wk := range r.Weeks {
		parts := []int{wk.Queued, wk.Returned, wk.NoForm, wk.Ignored, wk.Quarantined}
		t.row(wk.Week, wk.Start.Format(time.DateOnly), itoa(wk.Queued), itoa(wk.Returned), itoa(wk.NoForm), itoa(wk.Ignored),
			itoa(wk.Quarantined), itoa(wk.Ny), itoa(wk.Andring), itoa(wk.Avslut), stackedBar(parts, chars, maxMails, 30))
	}
	if len(r.Weeks) == 0 {
		t.row("(no mail in the period)")
	}
	if err := t.flush(); err != nil {
		return err
	}

	ta := r.Turnaround
	fmt.Fprintf(w, "\nTurnaround, received to done (working days): %d done", ta.Done)
	if ta.Done > 0 {
		fmt.Fprintf(w, ", median %s, 90th percentile %d, within the promise %d (%s)",
			strconv.FormatFloat(ta.Median, 'f', -1, 64), ta.P90, ta.WithinPromise, pct(ta.Share))
	}
	fmt.Fprintln(w)
	if ta.Done > 0 {
		maxDays := 0
		last := 0
		for i, n := range ta.Days {
			maxDays = max(maxDays, n)
			if n > 0 {
				last = i
			}
		}
		t = newTable(w, "  DAYS", "DONE", "")
		for i := 0; i <= max(last, r.Promise); i++ {
			label := itoa(i)
			if i == len(ta.Days)-1 {
				label += "+"
			}
			mark := ""
			if i == r.Promise {
				mark = "  ← promise"
			}
			b := bar(ta.Days[i], maxDays, 30)
			if i > r.Promise {
				b = strings.ReplaceAll(b, "█", "▒") // past the promise
			}
			t.row("  "+label, itoa(ta.Days[i]), b+mark)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nWhy forms came back (fields missing or wrong, once per form)")
	t = newTable(w, "  LABEL", "FIELD", "FORMS", "")
	maxR := 0
	for _, c := range r.Reasons {
		maxR = max(maxR, c.Count)
	}
	for _, c := range r.Reasons {
		t.row("  "+c.Label, c.Field, itoa(c.Count), bar(c.Count, maxR, 30))
	}
	if len(r.Reasons) == 0 {
		t.row("  (no returned form in the period)")
	}
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nPer verksamhet and kundnummer")
	t = newTable(w, "  VERKSAMHET", "KUNDNUMMER", "REQUESTS", "RETURNS")
	for _, o := range r.Organisations {
		t.row("  "+shorten(dash(o.Verksamhet), 40), dash(o.Kundnummer), itoa(o.Requests), itoa(o.Returns))
	}
	if len(r.Organisations) == 0 {
		t.row("  (none in the period)")
	}
	if err := t.flush(); err != nil {
		return err
	}

	q := r.Queue
	fmt.Fprintf(w, "\nOpen queue now: %d open, oldest %d working days, %d past the promise\n", q.Open, q.Oldest, len(q.Late))
	t = newTable(w, "  AGE (WORKING DAYS)", "OPEN", "")
	maxB := 0
	for _, n := range q.Bands {
		maxB = max(maxB, n)
	}
	for i, b := range store.AgeBands {
		t.row("  "+b.Label, itoa(q.Bands[i]), bar(q.Bands[i], maxB, 30))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(q.Late) > 0 {
		fmt.Fprintln(w, "\nPast the promise")
		t = newTable(w, "  REQUEST", "STATUS", "RECEIVED", "WORKING DAYS")
		for _, l := range q.Late {
			t.row("  "+l.ID, string(l.Status), l.Since.Local().Format(time.DateOnly), itoa(l.Age))
		}
		return t.flush()
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
