package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/store"
)

func init() { subcommands = append(subcommands, newStatusCommand) }

func newStatusCommand() *cobra.Command {
	var metricsAddr, db string
	cmd := &cobra.Command{
		Use:   "status [--metrics ADDR | --db PATH]",
		Short: "Show what the daemon has done and what waits, for a person",
		Long: `status prints the daemon's figures for a person: messages by outcome,
replies sent, failed and suppressed, IMAP reconnects, the last poll, and the
depths of the queue and the outbox.

With --metrics (the [metrics] addr of the daemon, or $WEBSESAM_INTAKE_METRICS)
it asks the running daemon. Without, it opens the store read-only, which only
works while no daemon holds it, and shows the depths alone.`,
		Example: `  websesam-intake status --metrics 127.0.0.1:9464
  websesam-intake status --db /var/lib/websesam-intake/intake.db`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if metricsAddr != "" {
				return statusFromMetrics(cmd.Context(), metricsAddr, out, time.Now())
			}
			return statusFromStore(db, out)
		},
	}
	cmd.Flags().StringVar(&metricsAddr, "metrics", envOr("WEBSESAM_INTAKE_METRICS", ""), "host:port of the running daemon's /metrics; $WEBSESAM_INTAKE_METRICS sets the default")
	cmd.Flags().StringVar(&db, "db", envOr("WEBSESAM_INTAKE_DB", defaultDBPath), "the database file, read when --metrics is not given; $WEBSESAM_INTAKE_DB sets the default")
	return cmd
}

// promSamples parses the Prometheus text format into value by series
// ("name{label=\"v\"}").
func promSamples(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("read metrics: a line without a value: %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("read metrics: %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

func statusFromMetrics(ctx context.Context, addr string, out io.Writer, now time.Time) error {
	url := "http://" + addr + "/metrics"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usagef("status: --metrics %q: %v", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask the daemon at %s: %w (is [metrics] addr set and the daemon running?)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ask the daemon at %s: %s", url, resp.Status)
	}
	s, err := promSamples(resp.Body)
	if err != nil {
		return err
	}
	if _, ok := s["websesam_intake_start_timestamp_seconds"]; !ok {
		return fmt.Errorf("ask the daemon at %s: no websesam_intake metrics there", url)
	}
	n := func(key string) string { return strconv.FormatFloat(s[key], 'f', -1, 64) }
	when := func(key string) string {
		v := s[key]
		if v == 0 {
			return "never"
		}
		t := time.UnixMilli(int64(v * 1000))
		return fmt.Sprintf("%s (%s ago)", t.Format("2006-01-02 15:04:05"), now.Sub(t).Round(time.Second))
	}
	fmt.Fprintf(out, "websesam-intake status, from %s\n", url)
	fmt.Fprintf(out, "  running since  %s\n", when("websesam_intake_start_timestamp_seconds"))
	fmt.Fprintf(out, "  last poll      %s\n", when("websesam_intake_last_poll_timestamp_seconds"))
	var outcomes []string
	for _, o := range []string{"queued", "returned", "no-form", "ignored", "quarantined"} {
		outcomes = append(outcomes, o+" "+n(`websesam_intake_messages_total{outcome="`+o+`"}`))
	}
	fmt.Fprintf(out, "  messages       %s\n", strings.Join(outcomes, ", "))
	var supp []string
	total := 0.0
	for k, v := range s {
		if r, ok := strings.CutPrefix(k, `websesam_intake_replies_suppressed_total{reason="`); ok {
			supp = append(supp, strings.TrimSuffix(r, `"}`)+" "+strconv.FormatFloat(v, 'f', -1, 64))
			total += v
		}
	}
	line := fmt.Sprintf("sent %s, failed %s, suppressed %s", n("websesam_intake_replies_sent_total"), n("websesam_intake_replies_failed_total"), strconv.FormatFloat(total, 'f', -1, 64))
	if len(supp) > 0 {
		slices.Sort(supp)
		line += " (" + strings.Join(supp, ", ") + ")"
	}
	fmt.Fprintf(out, "  replies        %s\n", line)
	fmt.Fprintf(out, "  imap           reconnects %s, login refusals %s\n", n("websesam_intake_imap_reconnects_total"), n("websesam_intake_imap_login_refusals_total"))
	if s["websesam_intake_store_up"] != 1 {
		fmt.Fprintf(out, "  store          NOT READABLE: the depths are unknown\n")
		return nil
	}
	var reqs []string
	for _, st := range []string{"queued", "claimed", "done", "rejected"} {
		reqs = append(reqs, st+" "+n(`websesam_intake_requests{status="`+st+`"}`))
	}
	fmt.Fprintf(out, "  requests       %s\n", strings.Join(reqs, ", "))
	fmt.Fprintf(out, "  outbox         %s waiting\n", n("websesam_intake_outbox_pending"))
	fmt.Fprintf(out, "  unsettled      %s message(s) recorded, not yet moved\n", n("websesam_intake_unsettled_messages"))
	return nil
}

func statusFromStore(path string, out io.Writer) error {
	st, err := store.Open(path, store.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%w (while the daemon runs it holds the store: ask it with --metrics ADDR)", err)
	}
	defer st.Close()
	c, err := st.Counts()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "websesam-intake status, from the store %s (no daemon asked: counts since the start are not known)\n", path)
	var reqs []string
	for _, s := range []store.Status{store.StatusQueued, store.StatusClaimed, store.StatusDone, store.StatusRejected} {
		reqs = append(reqs, fmt.Sprintf("%s %d", s, c.Requests[s]))
	}
	fmt.Fprintf(out, "  requests       %s\n", strings.Join(reqs, ", "))
	fmt.Fprintf(out, "  outbox         %d waiting\n", c.OutboxPending)
	fmt.Fprintf(out, "  unsettled      %d message(s) recorded, not yet moved\n", c.Unsettled)
	return nil
}
