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

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store/workdays"
)

func newStatusCommand() *cobra.Command {
	var metricsAddr string
	var asJSON bool
	cmd := staffConfigCommand(&cobra.Command{
		Use:   "status [--json] [--socket PATH | --metrics ADDR | --db PATH]",
		Short: "Show what the daemon has done and what waits, for a person",
		Long: `status prints the daemon's figures for a person: messages by outcome,
replies sent, failed and suppressed, IMAP reconnects, the last poll, and the
depths of the queue and the outbox.

It asks the running daemon over its staff socket, like the other staff
commands. When no daemon answers it opens the store and shows the depths
alone (the counts since the start live only in the daemon). With --metrics
(the [metrics] addr) it reads the daemon's /metrics page instead of the
socket. --json prints the same as one JSON object.`,
		Example: `  websesam-intake status
  websesam-intake status --json
  websesam-intake status --metrics 127.0.0.1:9464`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		ctx := cmd.Context()
		var v statusView
		if metricsAddr != "" {
			url, samples, err := fetchMetrics(ctx, metricsAddr)
			if err != nil {
				return err
			}
			v = statusFromSamples(url, samples)
		} else {
			var err error
			if v, err = statusFromStaff(cmd, sf); err != nil {
				return err
			}
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), v)
		}
		return writeStatus(cmd.OutOrStdout(), v, time.Now())
	})
	cmd.Flags().Lookup("config").Usage = "the daemon's configuration, read for its [queue] promise when no daemon answers; $WEBSESAM_INTAKE_CONFIG sets the default"
	cmd.Flags().StringVar(&metricsAddr, "metrics", envOr("WEBSESAM_INTAKE_METRICS", ""), "host:port of the running daemon's /metrics, read instead of the socket; $WEBSESAM_INTAKE_METRICS sets the default")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// statusFromStaff asks the daemon over its socket or, when none answers,
// reads the depths and the waiting requests from the store.
func statusFromStaff(cmd *cobra.Command, sf staffFlags) (statusView, error) {
	ctx := cmd.Context()
	var v statusView
	err := withStaff(cmd, sf, false, func(s *staffSession) error {
		rep, err := staffapi.DaemonStatus.Do(ctx, s.Staff, staffapi.Nothing{})
		if err != nil {
			return fmt.Errorf("ask for the status: %w", err)
		}
		if rep.Daemon {
			v = statusFromSamples("the daemon on "+sf.socket, rep.Samples)
		} else {
			v = statusView{Source: "the store " + sf.db + " (no daemon answers: counts since the start are not known)", StoreReadable: true}
		}
		v.Requests = map[string]int{}
		for _, st := range []staffapi.Status{staffapi.StatusQueued, staffapi.StatusClaimed, staffapi.StatusDone, staffapi.StatusRejected} {
			v.Requests[string(st)] = rep.Requests[st]
		}
		v.OutboxPending, v.Unsettled, v.StoreReadable = rep.OutboxPending, rep.Unsettled, true
		if l, ok := s.Staff.(*staffapi.Local); ok {
			// No daemon: age the queue here against its configuration's promise.
			promise := intake.DefaultPromise
			if p, err := intake.ReadPromise(sf.config); err == nil {
				promise = p
			}
			w, err := l.Store.Waiting(time.Now(), promise, workdays.Swedish(time.Local).Between)
			if err != nil {
				return err
			}
			v.Waiting = &statusWaiting{OldestWorkingDays: w.Oldest, PastPromise: len(w.Late), Promise: promise}
			for i, r := range w.Late {
				if i == 10 {
					v.Waiting.Late = append(v.Waiting.Late, "…")
					break
				}
				v.Waiting.Late = append(v.Waiting.Late, fmt.Sprintf("%s (%d)", r.ID, r.Age))
			}
		}
		return nil
	})
	return v, err
}

// statusView is what status shows, as text or as JSON. Counts since the
// start (Messages, Replies, IMAP) are there only when a daemon answered.
type statusView struct {
	Source       string         `json:"source"`
	Daemon       bool           `json:"daemon"`
	RunningSince time.Time      `json:"running_since,omitzero"`
	LastPoll     time.Time      `json:"last_poll,omitzero"`
	Messages     map[string]int `json:"messages,omitempty"`
	Replies      *statusReplies `json:"replies,omitempty"`
	IMAP         *statusIMAP    `json:"imap,omitempty"`
	OAuth2       *statusOAuth2  `json:"oauth2,omitempty"`
	// Directory is there when the daemon has a [directory].
	Directory     *statusDirectory `json:"directory,omitempty"`
	StoreReadable bool             `json:"store_readable"`
	Requests      map[string]int   `json:"requests,omitempty"`
	OutboxPending int              `json:"outbox_pending"`
	Unsettled     int              `json:"unsettled"`
	// Waiting: the oldest open request's age and how many are past the
	// promise, in working days.
	Waiting *statusWaiting `json:"waiting,omitempty"`
	// Retention: the daemon's passes since the start.
	Retention *statusRetention `json:"retention,omitempty"`
}

type statusWaiting struct {
	OldestWorkingDays int      `json:"oldest_working_days"`
	PastPromise       int      `json:"past_promise"`
	Promise           int      `json:"promise,omitempty"` // when known here
	Late              []string `json:"past_promise_ids,omitempty"`
}

type statusRetention struct {
	LastPass time.Time      `json:"last_pass,omitzero"`
	Removed  map[string]int `json:"removed"`
}

type statusReplies struct {
	Sent       int            `json:"sent"`
	Failed     int            `json:"failed"`
	Suppressed map[string]int `json:"suppressed"`
}

// statusDirectory says whether the directory answers; while it does not,
// new mail waits undecided.
type statusDirectory struct {
	Up        bool      `json:"up"`
	DownSince time.Time `json:"down_since,omitzero"`
}

type statusIMAP struct {
	Reconnects    int `json:"reconnects"`
	LoginRefusals int `json:"login_refusals"`
}

// statusOAuth2 is the built-in OAuth2 client, when configured.
type statusOAuth2 struct {
	Tokens   int       `json:"tokens"`
	Refusals int       `json:"refusals"`
	Failures int       `json:"failures"`
	Expires  time.Time `json:"expires,omitzero"`
}

// statusFromSamples reads the daemon's series into the view.
func statusFromSamples(source string, s map[string]float64) statusView {
	n := func(key string) int { return int(s[key]) }
	when := func(key string) time.Time {
		if v := s[key]; v != 0 {
			return time.UnixMilli(int64(v * 1000))
		}
		return time.Time{}
	}
	v := statusView{Source: source, Daemon: true,
		RunningSince: when("websesam_intake_start_timestamp_seconds"), LastPoll: when("websesam_intake_last_poll_timestamp_seconds"),
		Messages: map[string]int{}, Replies: &statusReplies{Suppressed: map[string]int{}},
		IMAP:          &statusIMAP{Reconnects: n("websesam_intake_imap_reconnects_total"), LoginRefusals: n("websesam_intake_imap_login_refusals_total")},
		StoreReadable: s["websesam_intake_store_up"] == 1,
		OutboxPending: n("websesam_intake_outbox_pending"), Unsettled: n("websesam_intake_unsettled_messages"),
	}
	for _, o := range []string{"queued", "returned", "no-form", "ignored", "quarantined"} {
		v.Messages[o] = n(`websesam_intake_messages_total{outcome="` + o + `"}`)
	}
	if up, ok := s["websesam_intake_directory_up"]; ok {
		v.Directory = &statusDirectory{Up: up == 1, DownSince: when("websesam_intake_directory_down_since_timestamp_seconds")}
	}
	if _, ok := s["websesam_intake_oauth2_tokens_total"]; ok {
		v.OAuth2 = &statusOAuth2{Tokens: n("websesam_intake_oauth2_tokens_total"), Refusals: n("websesam_intake_oauth2_token_refusals_total"),
			Failures: n("websesam_intake_oauth2_token_failures_total"), Expires: when("websesam_intake_oauth2_token_expiry_timestamp_seconds")}
	}
	v.Replies.Sent, v.Replies.Failed = n("websesam_intake_replies_sent_total"), n("websesam_intake_replies_failed_total")
	for k, x := range s {
		if r, ok := strings.CutPrefix(k, `websesam_intake_replies_suppressed_total{reason="`); ok {
			v.Replies.Suppressed[strings.TrimSuffix(r, `"}`)] = int(x)
		}
	}
	if v.StoreReadable {
		v.Requests = map[string]int{}
		for _, st := range []string{"queued", "claimed", "done", "rejected"} {
			v.Requests[st] = n(`websesam_intake_requests{status="` + st + `"}`)
		}
	}
	if _, ok := s["websesam_intake_oldest_waiting_working_days"]; ok {
		v.Waiting = &statusWaiting{OldestWorkingDays: n("websesam_intake_oldest_waiting_working_days"), PastPromise: n("websesam_intake_requests_past_promise")}
	}
	if _, ok := s["websesam_intake_retention_last_pass_timestamp_seconds"]; ok {
		v.Retention = &statusRetention{LastPass: when("websesam_intake_retention_last_pass_timestamp_seconds"), Removed: map[string]int{}}
		for _, k := range []string{"requests", "messages", "notices", "folder_mail"} {
			v.Retention.Removed[k] = n(`websesam_intake_retention_removed_total{kind="` + k + `"}`)
		}
	}
	return v
}

// writeStatus prints the view for a person.
func writeStatus(out io.Writer, v statusView, now time.Time) error {
	when := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.Format("2006-01-02 15:04:05"), now.Sub(t).Round(time.Second))
	}
	fmt.Fprintf(out, "websesam-intake status, from %s\n", v.Source)
	if v.Daemon {
		fmt.Fprintf(out, "  running since  %s\n", when(v.RunningSince))
		fmt.Fprintf(out, "  last poll      %s\n", when(v.LastPoll))
		var outcomes []string
		for _, o := range []string{"queued", "returned", "no-form", "ignored", "quarantined"} {
			outcomes = append(outcomes, fmt.Sprintf("%s %d", o, v.Messages[o]))
		}
		fmt.Fprintf(out, "  messages       %s\n", strings.Join(outcomes, ", "))
		var supp []string
		total := 0
		for r, n := range v.Replies.Suppressed {
			supp = append(supp, fmt.Sprintf("%s %d", r, n))
			total += n
		}
		line := fmt.Sprintf("sent %d, failed %d, suppressed %d", v.Replies.Sent, v.Replies.Failed, total)
		if len(supp) > 0 {
			slices.Sort(supp)
			line += " (" + strings.Join(supp, ", ") + ")"
		}
		fmt.Fprintf(out, "  replies        %s\n", line)
		fmt.Fprintf(out, "  imap           reconnects %d, login refusals %d\n", v.IMAP.Reconnects, v.IMAP.LoginRefusals)
		if v.Directory != nil {
			line := "answering"
			if !v.Directory.Up {
				line = "UNREACHABLE since " + when(v.Directory.DownSince) +
					": new mail waits undecided (nothing is lost) and is decided once it answers"
			}
			fmt.Fprintf(out, "  directory      %s\n", line)
		}
		if o := v.OAuth2; o != nil {
			line := fmt.Sprintf("tokens %d, refused by the issuer %d, failed %d", o.Tokens, o.Refusals, o.Failures)
			if o.Refusals > 0 {
				line += " (check the client secret or certificate: run doctor)"
			}
			fmt.Fprintf(out, "  oauth2         %s\n", line)
		}
		if r := v.Retention; r != nil {
			fmt.Fprintf(out, "  retention      last pass %s; removed requests %d, messages %d, notices %d, folder mail %d\n",
				when(r.LastPass), r.Removed["requests"], r.Removed["messages"], r.Removed["notices"], r.Removed["folder_mail"])
		}
	}
	if !v.StoreReadable {
		fmt.Fprintf(out, "  store          NOT READABLE: the depths are unknown\n")
		return nil
	}
	var reqs []string
	for _, st := range []string{"queued", "claimed", "done", "rejected"} {
		reqs = append(reqs, fmt.Sprintf("%s %d", st, v.Requests[st]))
	}
	fmt.Fprintf(out, "  requests       %s\n", strings.Join(reqs, ", "))
	if w := v.Waiting; w != nil {
		line := fmt.Sprintf("oldest %d working day(s), %d past the promise", w.OldestWorkingDays, w.PastPromise)
		if w.Promise > 0 {
			line += fmt.Sprintf(" of %d", w.Promise)
		}
		if len(w.Late) > 0 {
			line += ": " + strings.Join(w.Late, " ")
		}
		fmt.Fprintf(out, "  waiting        %s\n", line)
	}
	fmt.Fprintf(out, "  outbox         %d waiting\n", v.OutboxPending)
	fmt.Fprintf(out, "  unsettled      %d message(s) recorded, not yet moved\n", v.Unsettled)
	return nil
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

// fetchMetrics reads the daemon's /metrics page at addr.
func fetchMetrics(ctx context.Context, addr string) (url string, samples map[string]float64, err error) {
	url = "http://" + addr + "/metrics"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return url, nil, usagef("status: --metrics %q: %v", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return url, nil, fmt.Errorf("ask the daemon at %s: %w (is [metrics] addr set and the daemon running? Without --metrics, status asks over the staff socket)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return url, nil, fmt.Errorf("ask the daemon at %s: %s", url, resp.Status)
	}
	s, err := promSamples(resp.Body)
	if err != nil {
		return url, nil, err
	}
	if _, ok := s["websesam_intake_start_timestamp_seconds"]; !ok {
		return url, nil, fmt.Errorf("ask the daemon at %s: no websesam_intake metrics there", url)
	}
	return url, s, nil
}
