package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// demoSample is one mail the demo puts in the mailbox.
type demoSample struct {
	file, what string
	decided    bool // has the keyword: the daemon decides it
	replies    int
}

// demoSamples cover what a newcomer should see: a form queued, one sent
// back, a multi-user form, a workbook, a question, and mail left alone.
var demoSamples = []demoSample{
	{"outlook-pdf", "a complete PDF form", true, 1},
	{"subject-windows-1252", "an incomplete PDF form", true, 1},
	{"sv-vb-websesam", "a PDF form for two users", true, 1},
	{"subject-iso-8859-1", "a filled workbook", true, 1},
	{"no-attachment", "a question without a form", true, 1},
	{"out-of-office", "an out-of-office reply", true, 0},
	{"not-matching", "an unrelated mail", false, 0},
}

const (
	demoUser   = "info.hmc@region.example.se"
	demoDomain = "region.example.se"
)

func newDemoCommand() *cobra.Command {
	var samples string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole product on this machine against sample mail, nothing installed",
		Long: `demo starts an IMAP server and an SMTP sink in this process on 127.0.0.1,
puts sample mails from testdata/mail in the mailbox (a complete form, an
incomplete one, a multi-user form, a workbook, a question, an out-of-office
reply and an unrelated mail), and runs the real daemon against them with a
store in a temporary directory. It prints each message's outcome and each
reply as it happens, then the staff commands to try from another terminal.
Ctrl-C stops it and removes the temporary directory.`,
		Example: `  make run
  websesam-intake demo --samples testdata/mail`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), samples, cmd.OutOrStdout(), cmd.ErrOrStderr(), nil)
		},
	}
	cmd.Flags().StringVar(&samples, "samples", filepath.Join("testdata", "mail"), "the directory of sample .eml files (the repository's testdata/mail)")
	return cmd
}

// runDemo runs until ctx ends. ready, when set, is called with the staff
// socket once every sample is decided and answered (tests use it).
func runDemo(ctx context.Context, samples string, out, errOut io.Writer, ready func(socket string)) error {
	raws := make([][]byte, len(demoSamples))
	for i, s := range demoSamples {
		raw, err := os.ReadFile(filepath.Join(samples, s.file+".eml"))
		if err != nil {
			return usagef("read the demo's sample mail: %v (run it from the repository, or give --samples DIR)", err)
		}
		raws[i] = raw
	}
	dir, err := os.MkdirTemp("", "websesam-intake-demo-")
	if err != nil {
		return fmt.Errorf("make the demo directory: %w", err)
	}
	defer os.RemoveAll(dir)

	pw := make([]byte, 12)
	rand.Read(pw)
	password := hex.EncodeToString(pw)
	pwFile := filepath.Join(dir, "imap-password")
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		return fmt.Errorf("write the demo password: %w", err)
	}

	// The mailbox: an IMAP server in this process, seeded with the samples.
	imapSrv, err := mailtest.NewIMAP(mailtest.IMAPOptions{User: demoUser, Password: password})
	if err != nil {
		return fmt.Errorf("start the demo IMAP server: %w", err)
	}
	defer imapSrv.Stop()
	byID := map[string]demoSample{}
	for i, raw := range raws {
		if err := imapSrv.Append("INBOX", raw, nil); err != nil {
			return fmt.Errorf("put %s in the demo mailbox: %w", demoSamples[i].file, err)
		}
		if h, err := mail.CreateReader(bytes.NewReader(raw)); err == nil {
			byID[strings.Trim(h.Header.Get("Message-Id"), "<> ")] = demoSamples[i]
		}
	}

	// The relay: an SMTP sink that prints every reply.
	var mu sync.Mutex // one event printed at a time
	progress := &demoProgress{}
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	sink, err := mailtest.NewSink(mailtest.SinkOptions{Domain: "sink.demo", Discard: true, OnDeliver: func(m mailtest.Mail) {
		printf("%s", describeReply(m.Data, m.To))
		progress.reply()
	}})
	if err != nil {
		return fmt.Errorf("start the demo SMTP sink: %w", err)
	}
	defer sink.Stop()

	socket := filepath.Join(dir, "staff.sock")
	cfg := intake.Config{
		Mailbox: intake.MailboxConfig{
			Addr: imapSrv.Addr(), TLS: intake.TLSPlain, Username: demoUser, PasswordFile: pwFile,
			PollInterval: 5 * time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 2 * time.Second,
		},
		Policy: intake.PolicyConfig{AllowedSenderDomains: []string{demoDomain}},
		Store:  intake.StoreConfig{Path: filepath.Join(dir, "intake.db")},
		Mailer: mailer.Config{
			FromAddress: demoUser, FromName: "Hjälpmedelscentrum",
			LoginInstructions: "Logga in på https://websesam.region.example.se med ditt användarnamn.",
			FormURL:           "https://www.region.example.se/hmc/websesam",
			AllowedDomains:    []string{demoDomain},
			RetryBase:         time.Second, RetryMax: 10 * time.Second, PollInterval: time.Second, ReconnectMax: 5 * time.Second,
			SMTP: mailer.SMTPConfig{Addr: sink.Addr(), TLS: mailer.Plain},
		},
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("the demo's own configuration: %w", err)
	}
	st, err := store.Open(cfg.Store.Path, store.Options{Timeout: cfg.Store.LockTimeout})
	if err != nil {
		return err
	}
	defer st.Close()

	logger := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	decided := func(dec intake.Decided) {
		s, ok := byID[dec.MessageID]
		name := s.file + " (" + s.what + ")"
		if !ok {
			name = "<" + dec.MessageID + ">"
		}
		line := fmt.Sprintf("● %s\n    → %s", name, dec.Outcome)
		if dec.Reason != "" {
			line += ": " + dec.Reason
		}
		if dec.Requests > 0 {
			line += fmt.Sprintf(", %d request(s) queued", dec.Requests)
		}
		if dec.Outcome == store.OutcomeReturned {
			line += demoWhyReturned(st, dec.MessageID)
		}
		printf("%s\n\n", line)
		progress.decide()
	}
	// The daemon's figures, as under systemd, so that `status` answers.
	metrics := ops.NewMetrics(st)
	d, err := intake.New(cfg, st, intake.Options{Logger: logger, Metrics: metrics, Decided: decided})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	staffDone, err := startStaff(ctx, st, cfg.Mailer, staffapi.Config{Socket: socket}, metrics, logger,
		staffapi.ServerOptions{Promise: cfg.Queue.Promise, Retain: d.Retain})
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := staffDone(); err != nil {
			printf("staff socket: %v\n", err)
		}
	}()

	wantDecided, wantReplies := 0, 0
	for _, s := range demoSamples {
		if s.decided {
			wantDecided++
		}
		wantReplies += s.replies
	}
	printf("websesam-intake demo: an IMAP server on %s holds %d sample mails (%s),\n"+
		"an SMTP sink on %s catches the replies, the store is in %s.\n"+
		"The real daemon now reads the mailbox. Ctrl-C stops it.\n\n",
		imapSrv.Addr(), len(demoSamples), samples, sink.Addr(), dir)
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-progress.until(wantDecided, wantReplies):
		case <-time.After(time.Minute):
		}
		printf("%s", demoStaffHints(st, socket, len(demoSamples)-wantDecided))
		if ready != nil {
			ready(socket)
		}
	}()

	err = d.Run(ctx)
	cancel()
	wg.Wait()
	printf("\nStopped. The demo directory %s is removed.\n", dir)
	return err
}

// demoStaffHints are the commands to try against the running demo.
func demoStaffHints(st *store.Store, socket string, untouched int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Every sample is decided and answered; %d unrelated mail stays unread in INBOX.\n", untouched)
	fmt.Fprintf(&b, "The daemon keeps watching. Try the staff commands from another terminal:\n\n")
	fmt.Fprintf(&b, "  export WEBSESAM_INTAKE_SOCKET=%s\n", socket)
	fmt.Fprintf(&b, "  websesam-intake queue list\n")
	if page, err := st.ListRequests("demo", store.ListFilter{Limit: 1}); err == nil && len(page.Requests) > 0 {
		fmt.Fprintf(&b, "  websesam-intake queue show %s\n", page.Requests[0].ID)
	}
	fmt.Fprintf(&b, "  websesam-intake messages list\n")
	fmt.Fprintf(&b, "  websesam-intake outbox list\n\n")
	fmt.Fprintf(&b, "(go run ./cmd/websesam-intake … or bin/websesam-intake … from the repository.)\n")
	return b.String()
}

// demoProgress counts decisions and replies so the staff hints come once
// everything has happened.
type demoProgress struct {
	mu               sync.Mutex
	decided, replies int
	waiters          []demoWaiter
}

type demoWaiter struct {
	decided, replies int
	ch               chan struct{}
}

func (p *demoProgress) decide() { p.bump(1, 0) }
func (p *demoProgress) reply()  { p.bump(0, 1) }

func (p *demoProgress) bump(d, r int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.decided += d
	p.replies += r
	p.wake()
}

func (p *demoProgress) wake() {
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if p.decided >= w.decided && p.replies >= w.replies {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	p.waiters = kept
}

// until returns a channel closed once at least decided messages and
// replies were seen.
func (p *demoProgress) until(decided, replies int) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{})
	p.waiters = append(p.waiters, demoWaiter{decided, replies, ch})
	p.wake()
	return ch
}

// describeReply is a reply as the demo shows it: subject, recipients and
// the first lines of its text.
func describeReply(raw []byte, rcpts []string) string {
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return fmt.Sprintf("  ✉ a reply to %s that does not parse: %v\n\n", strings.Join(rcpts, ", "), err)
	}
	subject, _ := mr.Header.Subject()
	var b strings.Builder
	fmt.Fprintf(&b, "  ✉ reply %q to %s\n", subject, strings.Join(rcpts, ", "))
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		h, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			continue
		}
		if ct, _, _ := h.ContentType(); ct != "text/plain" {
			continue
		}
		sc := bufio.NewScanner(p.Body)
		n := 0
		for sc.Scan() && n < 4 {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			fmt.Fprintf(&b, "    | %s\n", line)
			n++
		}
		break
	}
	b.WriteString("\n")
	return b.String()
}

// demoWhyReturned lists, for the narration, what the return notice told the
// manager: each problem of each form by its label and reason. The daemon
// logs the decision after its commit, so the record is there to read.
func demoWhyReturned(st *store.Store, messageID string) string {
	key, ok, err := st.MessageByID(messageID)
	if err != nil || !ok {
		return ""
	}
	m, err := st.ShowMessage("demo", key)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for i, f := range m.Problems {
		if len(m.Problems) > 1 {
			fmt.Fprintf(&b, "\n      form %d:", i+1)
		}
		for _, p := range f.Problems {
			fmt.Fprintf(&b, "\n      · %s: %s", p.Label, p.Reason)
		}
	}
	return b.String()
}
