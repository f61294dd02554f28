package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// testClock is real time plus an offset the test moves forward, so rows
// become due again without sleeping (crash_test.go names it too).
type testClock = mailtest.Clock

// drain runs one pass of the worker, which must not fail as a whole.
func drain(t *testing.T, w *Worker) {
	t.Helper()
	if err := w.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// clockedWorker is a worker on st whose clock the test moves.
func clockedWorker(t *testing.T, cfg Config, st *store.Store) (*Worker, *testClock) {
	t.Helper()
	clk := &testClock{}
	return newWorker(t, cfg, st, clk), clk
}

// sentOnRetry moves the clock a minute on, past the next try of row (one
// attempt failed), and checks that the next pass sends it: the sink then
// holds that one mail.
func sentOnRetry(t *testing.T, w *Worker, st *store.Store, sk *sink, clk *testClock, row store.OutboxRow) {
	t.Helper()
	clk.Advance(time.Minute)
	drain(t, w)
	wantState(t, st, row.ID, store.OutboxSent, 1, "")
	if got := sk.received(); len(got) != 1 || got[0].messageID != row.MessageID {
		t.Errorf("sink got %d mails, want the one", len(got))
	}
}

func workerConfig(addr string) Config {
	cfg := testConfig()
	cfg.SMTP = SMTPConfig{Addr: addr, TLS: Plain}
	cfg.AttemptTimeout = 5 * time.Second
	cfg.RetryBase = time.Second
	cfg.RetryMax = 10 * time.Second
	cfg.ReconnectMax = 20 * time.Millisecond
	cfg.PollInterval = 20 * time.Millisecond
	cfg.MaxPerHour = 1000
	return cfg
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "intake.db")
	}
	st, err := store.Open(path, store.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newWorker(t testing.TB, cfg Config, st *store.Store, clk *testClock) *Worker {
	t.Helper()
	w, err := NewWorker(cfg, st, WithWorkerClock(clk.Now), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	return w
}

// enqueue composes n receipts to the sender `to` (Cc cc when given) and
// writes them to the outbox.
func enqueue(t testing.TB, st *store.Store, n int, to string, cc ...string) []store.OutboxRow {
	t.Helper()
	c, err := NewComposer(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var rows []store.OutboxRow
	for i := 0; i < n; i++ {
		o := original
		o.From = to
		o.MessageID = fmt.Sprintf("orig-%d@kommun.se", i)
		row, err := c.Receipt(Receipt{Original: o, Forms: []ReceivedForm{{FileName: "a.pdf",
			Form: singleForm(singleFields()), Requests: []string{fmt.Sprintf("R-%06d", i)}}}})
		if err != nil {
			t.Fatal(err)
		}
		row.Cc = cc
		rows = append(rows, row)
	}
	out, err := st.EnqueueOutbox(rows...)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return out
}

func getRow(t testing.TB, st *store.Store, id uint64) store.OutboxRow {
	t.Helper()
	r, err := st.OutboxGet("test", id)
	if err != nil {
		t.Fatalf("get row %d: %v", id, err)
	}
	return r
}

func wantState(t testing.TB, st *store.Store, id uint64, state store.OutboxState, attempts int, errPart string) store.OutboxRow {
	t.Helper()
	r := getRow(t, st, id)
	if r.State != state || r.Attempts != attempts || !strings.Contains(r.LastError, errPart) {
		t.Errorf("row %d: got %s, %d attempts, error %q; want %s, %d attempts, error containing %q",
			id, r.State, r.Attempts, r.LastError, state, attempts, errPart)
	}
	return r
}

// TestDeliver: rows go out in order with their stored bytes, To and Cc as
// envelope recipients, and are marked sent.
func TestDeliver(t *testing.T) {
	sk := startSink(t)
	st := openStore(t, "")
	rows := enqueue(t, st, 3, "karin@kommun.se", "chef@region.se")
	w := newWorker(t, workerConfig(sk.addr), st, &testClock{})
	if err := w.DrainOnce(context.Background()); err != nil {
		t.Fatalf("DrainOnce: %v", err)
	}
	got := sk.received()
	if len(got) != len(rows) {
		t.Fatalf("sink got %d mails, want %d", len(got), len(rows))
	}
	for i, r := range rows {
		if !bytes.Equal(got[i].data, r.Raw) {
			t.Errorf("mail %d: the bytes sent differ from the row's", i)
		}
		if got[i].messageID != r.MessageID {
			t.Errorf("mail %d: Message-ID %q, want %q", i, got[i].messageID, r.MessageID)
		}
		if got[i].from != "info.hmc@region.se" || strings.Join(got[i].to, ",") != "karin@kommun.se,chef@region.se" {
			t.Errorf("mail %d: envelope %s -> %v", i, got[i].from, got[i].to)
		}
		wantState(t, st, r.ID, store.OutboxSent, 0, "")
	}
	// Nothing is due any more: a second pass sends nothing.
	drain(t, w)
	if n := len(sk.received()); n != len(rows) {
		t.Errorf("a second pass sent again: %d mails", n)
	}
}

// TestTemporaryThenSuccess: a 4xx is retried after the backoff and exactly
// one copy arrives.
func TestTemporaryThenSuccess(t *testing.T) {
	for _, stage := range []string{"RCPT", "DATA"} {
		t.Run(stage, func(t *testing.T) {
			sk := startSink(t)
			refusals := 1
			tempfail := func() error {
				if refusals > 0 {
					refusals--
					return mailtest.Reply(451, smtp.EnhancedCode{4, 3, 0}, "try again later")
				}
				return nil
			}
			if stage == "RCPT" {
				sk.RefuseRcpt(func(string) error { return tempfail() })
			} else {
				sk.RefuseData(func(mailtest.Mail) error { return tempfail() })
			}
			st := openStore(t, "")
			rows := enqueue(t, st, 1, "karin@kommun.se")
			w, clk := clockedWorker(t, workerConfig(sk.addr), st)
			drain(t, w)
			r := wantState(t, st, rows[0].ID, store.OutboxPending, 1, "4.3.0 try again later")
			if !r.NextTry.After(clk.Now()) {
				t.Errorf("next try %v is not in the future", r.NextTry)
			}
			if n := len(sk.received()); n != 0 {
				t.Fatalf("sink accepted %d mails during the refusal", n)
			}
			sentOnRetry(t, w, st, sk, clk, rows[0])
		})
	}
}

// TestPermanentFailure: a 5xx fails the row with the server's answer, a
// 5.1.x answer is remembered as a bounce, and later rows to that address
// fail without contacting the server.
func TestPermanentFailure(t *testing.T) {
	sk := startSink(t)
	sk.RefuseRcpt(func(to string) error {
		if to == "gone@kommun.se" {
			return mailtest.Reply(550, smtp.EnhancedCode{5, 1, 1}, "no such user here")
		}
		return nil
	})
	st := openStore(t, "")
	rows := enqueue(t, st, 1, "gone@kommun.se")
	w, clk := clockedWorker(t, workerConfig(sk.addr), st)
	drain(t, w)
	wantState(t, st, rows[0].ID, store.OutboxFailed, 1, "RCPT: 550 gone@kommun.se: 5.1.1 no such user here")
	bounced, err := st.BouncedSince("gone@kommun.se", clk.Now().Add(-time.Minute))
	if err != nil || !bounced {
		t.Errorf("bounce not recorded: %v, %v", bounced, err)
	}

	sk.RefuseRcpt(func(string) error { t.Error("the server was asked about a bounced address"); return nil })
	more := enqueue(t, st, 1, "gone@kommun.se")
	drain(t, w)
	wantState(t, st, more[0].ID, store.OutboxFailed, 1, "every recipient bounced within 30 days: gone@kommun.se")

	t.Run("policy refusal is no bounce", func(t *testing.T) {
		sk.RefuseRcpt(func(string) error { return mailtest.Reply(554, smtp.EnhancedCode{5, 7, 1}, "relay access denied") })
		rows := enqueue(t, st, 1, "anna@kommun.se")
		drain(t, w)
		wantState(t, st, rows[0].ID, store.OutboxFailed, 1, "554 anna@kommun.se: 5.7.1 relay access denied")
		if b, _ := st.BouncedSince("anna@kommun.se", time.Time{}); b {
			t.Error("a relay refusal was recorded as a bounce")
		}
	})
	t.Run("one of two refused", func(t *testing.T) {
		sk.RefuseRcpt(func(to string) error {
			if to == "old@kommun.se" {
				return mailtest.Reply(550, smtp.EnhancedCode{5, 1, 1}, "unknown")
			}
			return nil
		})
		rows := enqueue(t, st, 1, "chef@kommun.se", "old@kommun.se")
		drain(t, w)
		wantState(t, st, rows[0].ID, store.OutboxSent, 0, "")
		got := sk.received()
		if len(got) == 0 {
			t.Fatal("nothing delivered")
		}
		if last := got[len(got)-1]; strings.Join(last.to, ",") != "chef@kommun.se" || last.messageID != rows[0].MessageID {
			t.Errorf("delivered to %v (%s), want chef@kommun.se only", last.to, last.messageID)
		}
		if b, _ := st.BouncedSince("old@kommun.se", time.Time{}); !b {
			t.Error("the refused Cc was not recorded as a bounce")
		}
	})
	t.Run("5xx after DATA", func(t *testing.T) {
		sk.RefuseRcpt(nil)
		sk.RefuseData(func(mailtest.Mail) error { return mailtest.Reply(552, smtp.EnhancedCode{5, 3, 4}, "message too big") })
		rows := enqueue(t, st, 1, "lena@kommun.se")
		drain(t, w)
		wantState(t, st, rows[0].ID, store.OutboxFailed, 1, "end of DATA: 552 5.3.4 message too big")
	})
}

// TestOutage: while the relay is down rows stay pending in order; once it
// is back everything arrives, in order, once.
func TestOutage(t *testing.T) {
	sk := startSink(t)
	sk.Stop()
	st := openStore(t, "")
	rows := enqueue(t, st, 5, "karin@kommun.se")
	w := newWorker(t, workerConfig(sk.addr), st, &testClock{})

	var ce *ConnError
	if err := w.DrainOnce(context.Background()); !errors.As(err, &ce) {
		t.Fatalf("DrainOnce with the relay down: %v, want *ConnError", err)
	}
	wantState(t, st, rows[0].ID, store.OutboxPending, 1, "connection refused")
	for _, r := range rows[1:] {
		wantState(t, st, r.ID, store.OutboxPending, 0, "")
	}

	// Run keeps trying through the outage (hours in production, a few
	// reconnect rounds here) and delivers once the relay is back.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	mailtest.Wait(t, "three attempts", 30*time.Second, func() bool { return getRow(t, st, rows[0].ID).Attempts >= 3 })
	if err := sk.Restart(); err != nil {
		t.Fatal(err)
	}
	sk.WaitCount(t, len(rows), 30*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	got := sk.received()
	for i, r := range rows {
		if got[i].messageID != r.MessageID {
			t.Errorf("mail %d is %s, want %s: out of order", i, got[i].messageID, r.MessageID)
		}
		if s := getRow(t, st, r.ID).State; s != store.OutboxSent {
			t.Errorf("row %d is %s", r.ID, s)
		}
	}
}

// TestSlowSink: a server that does not answer DATA hits the attempt's
// deadline; the row is retried and then delivered once.
func TestSlowSink(t *testing.T) {
	sk := startSink(t)
	release := sk.Stall()
	st := openStore(t, "")
	rows := enqueue(t, st, 1, "karin@kommun.se")
	cfg := workerConfig(sk.addr)
	cfg.AttemptTimeout = 300 * time.Millisecond
	w, clk := clockedWorker(t, cfg, st)
	drain(t, w)
	wantState(t, st, rows[0].ID, store.OutboxPending, 1, "i/o timeout")
	release()
	sentOnRetry(t, w, st, sk, clk, rows[0])
}

// TestMaxAge: a temporary failure older than MaxAge becomes permanent, and
// so does a row that waited out an outage that long.
func TestMaxAge(t *testing.T) {
	sk := startSink(t)
	sk.RefuseRcpt(func(string) error { return mailtest.Reply(452, smtp.EnhancedCode{4, 2, 2}, "mailbox full") })
	st := openStore(t, "")
	rows := enqueue(t, st, 2, "karin@kommun.se")
	w, clk := clockedWorker(t, workerConfig(sk.addr), st)
	drain(t, w)
	wantState(t, st, rows[0].ID, store.OutboxPending, 1, "452")
	clk.Advance(DefaultMaxAge + time.Hour)
	drain(t, w)
	wantState(t, st, rows[0].ID, store.OutboxFailed, 2, "gave up after 3 days: RCPT: 452 karin@kommun.se: 4.2.2 mailbox full")
	wantState(t, st, rows[1].ID, store.OutboxFailed, 2, "gave up after 3 days")

	t.Run("during an outage", func(t *testing.T) {
		rows := enqueue(t, st, 1, "karin@kommun.se")
		sk.Stop()
		clk.Advance(DefaultMaxAge + time.Hour)
		var ce *ConnError
		if err := w.DrainOnce(context.Background()); !errors.As(err, &ce) {
			t.Fatalf("got %v, want *ConnError", err)
		}
		wantState(t, st, rows[0].ID, store.OutboxFailed, 1, "gave up after 3 days: connect to smtp server")
	})
}

// TestRateLimit: at most MaxPerHour mails per recipient per hour; the next
// row waits until the oldest send leaves the window, then goes.
func TestRateLimit(t *testing.T) {
	sk := startSink(t)
	st := openStore(t, "")
	cfg := workerConfig(sk.addr)
	cfg.MaxPerHour = 2
	w, clk := clockedWorker(t, cfg, st)
	rows := enqueue(t, st, 3, "karin@kommun.se")
	other := enqueue(t, st, 1, "anna@kommun.se")
	drain(t, w)
	first := wantState(t, st, rows[0].ID, store.OutboxSent, 0, "")
	wantState(t, st, rows[1].ID, store.OutboxSent, 0, "")
	waiting := wantState(t, st, rows[2].ID, store.OutboxPending, 1, "waiting: 2 mails per hour reached for karin@kommun.se")
	wantState(t, st, other[0].ID, store.OutboxSent, 0, "")
	// The window frees one hour after the first send (to the second).
	if lo, hi := first.SentAt.Add(time.Hour-time.Second), first.SentAt.Add(time.Hour+2*time.Second); waiting.NextTry.Before(lo) || waiting.NextTry.After(hi) {
		t.Errorf("next try %v, want one hour after the first send %v", waiting.NextTry, first.SentAt)
	}
	if n := len(sk.received()); n != 3 {
		t.Errorf("sink got %d mails, want 3", n)
	}
	clk.Advance(time.Hour + 5*time.Second)
	drain(t, w)
	wantState(t, st, rows[2].ID, store.OutboxSent, 1, "")
}

// TestDomainPolicy: a recipient outside the allowed domains is left out and
// the notice goes to the others, with the dropped domain (never the address)
// told to the hook once the row is sent; a row with no recipient inside them
// fails for good with the reason and nothing reaches the server for it.
func TestDomainPolicy(t *testing.T) {
	sk := startSink(t)
	st := openStore(t, "")
	// The first attempt is refused for a while: the drop is told once, when
	// the row is sent, not on every attempt.
	refusals := 1
	sk.RefuseData(func(mailtest.Mail) error {
		if refusals > 0 {
			refusals--
			return mailtest.Reply(451, smtp.EnhancedCode{4, 3, 0}, "try again later")
		}
		return nil
	})
	var dropped []string
	clk := &testClock{}
	w, err := NewWorker(workerConfig(sk.addr), st, WithWorkerClock(clk.Now),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithRecipientDropped(func(d string) { dropped = append(dropped, d) }))
	if err != nil {
		t.Fatal(err)
	}
	rows := enqueue(t, st, 1, "karin@kommun.se", "someone@gmail.com")
	kelvin := enqueue(t, st, 1, "karin@\u212Aommun.se", "chef@Region.se")
	sub := enqueue(t, st, 1, "karin@sub.kommun.se")
	drain(t, w)
	wantState(t, st, rows[0].ID, store.OutboxPending, 1, "try again later")
	clk.Advance(time.Minute)
	drain(t, w)
	wantState(t, st, rows[0].ID, store.OutboxSent, 1, "")
	wantState(t, st, kelvin[0].ID, store.OutboxSent, 0, "")
	wantState(t, st, sub[0].ID, store.OutboxFailed, 1, "recipient outside the allowed domains (region.se, kommun.se): karin@sub.kommun.se")
	got := sk.received()
	if len(got) != 2 {
		t.Fatalf("sink got %d mails, want 2", len(got))
	}
	for i, want := range []string{"chef@Region.se", "karin@kommun.se"} { // the refused row went last
		if strings.Join(got[i].to, ",") != want {
			t.Errorf("mail %d: envelope recipients %v, want %s", i, got[i].to, want)
		}
	}
	if got, want := strings.Join(dropped, ","), "\u212Aommun.se,gmail.com"; got != want {
		t.Errorf("dropped domains: got %q, want %q", got, want)
	}
}

// TestRejectionReachesManager: the rejection notice copies the user; a user
// address outside the allowed domains no longer keeps the manager from
// hearing of the rejection (issue: the whole notice failed).
func TestRejectionReachesManager(t *testing.T) {
	sk := startSink(t)
	st := openStore(t, "")
	c := newTestComposer(t, testConfig())
	row, err := c.Rejection(Rejection{Request: "R-1", Form: formparse.Single,
		Fields: with(singleFields(), "epost", "asa.oberg@gmail.com"), Reason: "nej"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(append(row.To, row.Cc...), ","), "goran.arlig@kommun.se,asa.oberg@gmail.com"; got != want {
		t.Fatalf("composed recipients: got %s, want %s", got, want)
	}
	stored, err := st.EnqueueOutbox(row)
	if err != nil {
		t.Fatal(err)
	}
	if err := newWorker(t, workerConfig(sk.addr), st, &testClock{}).DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantState(t, st, stored[0].ID, store.OutboxSent, 0, "")
	got := sk.received()
	if len(got) != 1 || strings.Join(got[0].to, ",") != "goran.arlig@kommun.se" {
		t.Fatalf("sink got %d mails (%v), want one to the manager only", len(got), got)
	}
	if !bytes.Equal(got[0].data, stored[0].Raw) {
		t.Errorf("the bytes sent differ from the row's")
	}
}

// TestTLSAndAuth: STARTTLS (mandatory) and implicit TLS against a private
// CA, AUTH PLAIN and LOGIN with a password, XOAUTH2 and OAUTHBEARER with a
// token; a renewable token the relay refuses is renewed once and the login
// tried again; a wrong CA or a relay without STARTTLS is a connection error
// and the row stays pending.
func TestTLSAndAuth(t *testing.T) {
	ca := mailtest.StartCA(t, t.TempDir())
	serverTLS, trust, other := ca.ServerTLS(), ca.ClientTLS(), mailtest.StartCA(t, t.TempDir()).ClientTLS()
	pw := &testSecret{secrets: []string{"s3cret"}}

	cases := []struct {
		name     string
		sinkTLS  bool
		implicit bool
		auth     map[string]string
		smtp     SMTPConfig
		wantErr  string // empty: delivered
		asked    []bool // the renew argument of each Secret call
	}{
		{name: "starttls", sinkTLS: true, smtp: SMTPConfig{TLS: StartTLS, TLSConfig: trust}},
		{name: "implicit tls", sinkTLS: true, implicit: true, smtp: SMTPConfig{TLS: TLSImplicit, TLSConfig: trust}},
		{name: "auth plain", sinkTLS: true, auth: map[string]string{"PLAIN": "s3cret"},
			smtp: SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthPlain, Username: "intake", Credentials: pw}},
		{name: "auth login", sinkTLS: true, auth: map[string]string{"LOGIN": "s3cret"},
			smtp: SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthLogin, Username: "intake", Credentials: pw}},
		{name: "xoauth2", sinkTLS: true, auth: map[string]string{"XOAUTH2": "ya29.token"},
			smtp:  SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthXOAUTH2, Username: "intake", Credentials: &testSecret{secrets: []string{"ya29.token"}}},
			asked: []bool{false}},
		{name: "oauthbearer", sinkTLS: true, auth: map[string]string{"OAUTHBEARER": "ya29.token"},
			smtp:  SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthOAuthBearer, Username: "intake", Credentials: &testSecret{secrets: []string{"ya29.token"}}},
			asked: []bool{false}},
		{name: "xoauth2 refused, renewed", sinkTLS: true, auth: map[string]string{"XOAUTH2": "ya29.new"},
			smtp: SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthXOAUTH2, Username: "intake",
				Credentials: &testSecret{secrets: []string{"ya29.revoked", "ya29.new"}, renewable: true}},
			asked: []bool{false, true}},
		{name: "oauthbearer refused, renewed", sinkTLS: true, auth: map[string]string{"OAUTHBEARER": "ya29.new"},
			smtp: SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthOAuthBearer, Username: "intake",
				Credentials: &testSecret{secrets: []string{"ya29.revoked", "ya29.new"}, renewable: true}},
			asked: []bool{false, true}},
		{name: "xoauth2 refused, not renewable", sinkTLS: true, auth: map[string]string{"XOAUTH2": "ya29.new"},
			smtp: SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthXOAUTH2, Username: "intake",
				Credentials: &testSecret{secrets: []string{"ya29.revoked", "ya29.new"}}},
			wantErr: "smtp login refused", asked: []bool{false}},
		{name: "wrong password", sinkTLS: true, auth: map[string]string{"PLAIN": "other"},
			smtp:    SMTPConfig{TLS: StartTLS, TLSConfig: trust, Auth: AuthPlain, Username: "intake", Credentials: pw},
			wantErr: "535"},
		{name: "unknown CA", sinkTLS: true, smtp: SMTPConfig{TLS: StartTLS, TLSConfig: other},
			wantErr: "certificate signed by unknown authority"},
		{name: "no CA given", sinkTLS: true, smtp: SMTPConfig{TLS: StartTLS},
			wantErr: "certificate signed by unknown authority"},
		{name: "no STARTTLS offered", smtp: SMTPConfig{TLS: StartTLS, TLSConfig: trust},
			wantErr: "does not support STARTTLS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := mailtest.SinkOptions{Auth: tc.auth, User: "intake", ImplicitTLS: tc.implicit}
			if tc.sinkTLS {
				opts.TLS = serverTLS
			}
			sk := newSink(t, opts)
			cfg := workerConfig(sk.addr)
			tc.smtp.Addr = sk.addr
			cfg.SMTP = tc.smtp
			st := openStore(t, "")
			rows := enqueue(t, st, 1, "karin@kommun.se")
			w := newWorker(t, cfg, st, &testClock{})
			err := w.DrainOnce(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("DrainOnce: %v", err)
				}
				wantState(t, st, rows[0].ID, store.OutboxSent, 0, "")
				if len(tc.auth) > 0 && sk.Logins() != 1 {
					t.Errorf("%d logins, want 1", sk.Logins())
				}
				if ts, ok := tc.smtp.Credentials.(*testSecret); ok && tc.asked != nil && !slices.Equal(ts.asked, tc.asked) {
					t.Errorf("Secret calls (renew): got %v, want %v", ts.asked, tc.asked)
				}
				return
			}
			if ts, ok := tc.smtp.Credentials.(*testSecret); ok && tc.asked != nil && !slices.Equal(ts.asked, tc.asked) {
				t.Errorf("Secret calls (renew): got %v, want %v", ts.asked, tc.asked)
			}
			var ce *ConnError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want a *ConnError with %q", err, tc.wantErr)
			}
			wantState(t, st, rows[0].ID, store.OutboxPending, 1, tc.wantErr)
			if n := len(sk.received()); n != 0 {
				t.Errorf("sink got %d mails", n)
			}
		})
	}
}

// testSecret hands out its secrets in turn, the last one for ever, and
// records the renew argument of each call.
type testSecret struct {
	mu        sync.Mutex
	secrets   []string
	renewable bool
	asked     []bool
}

func (s *testSecret) Secret(_ context.Context, renew bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(len(s.asked), len(s.secrets)-1)
	s.asked = append(s.asked, renew)
	return s.secrets[i], nil
}

func (s *testSecret) Renewable() bool { return s.renewable }

// TestComposedNoticesDeliver: every kind of notice goes through the real
// relay unchanged (an end-to-end check of composer, store and worker).
func TestComposedNoticesDeliver(t *testing.T) {
	sk := startSink(t)
	st := openStore(t, "")
	var rows []store.OutboxRow
	for _, tc := range composeCases() {
		rs, err := tc.compose(newTestComposer(t, testConfig()))
		if err != nil {
			t.Fatal(err)
		}
		// Distinct Message-IDs: every case used the same seed.
		for i := range rs {
			rs[i].MessageID = fmt.Sprintf("%s-%d", tc.name, i)
		}
		rows = append(rows, rs...)
	}
	stored, err := st.EnqueueOutbox(rows...)
	if err != nil {
		t.Fatal(err)
	}
	if err := newWorker(t, workerConfig(sk.addr), st, &testClock{}).DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sk.received()
	if len(got) != len(stored) {
		t.Fatalf("sink got %d, want %d", len(got), len(stored))
	}
	for i, r := range stored {
		if !bytes.Equal(got[i].data, r.Raw) {
			t.Errorf("%s: bytes differ", r.Kind)
		}
	}
}

// TestNotify: a poke makes a waiting Run deliver new rows without waiting
// for the poll interval.
func TestNotify(t *testing.T) {
	sk := startSink(t)
	st := openStore(t, "")
	cfg := workerConfig(sk.addr)
	cfg.PollInterval = time.Hour
	w := newWorker(t, cfg, st, &testClock{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	probe := enqueue(t, st, 1, "karin@kommun.se")
	go func() { done <- w.Run(ctx) }()
	// The first pass sends the probe; Run then waits for the hour.
	mailtest.Wait(t, "the probe sent", 30*time.Second, func() bool { return getRow(t, st, probe[0].ID).State == store.OutboxSent })
	// The poke may come as the pass ends or while Run waits: either way it
	// is kept, and the rows go now, not after the hour.
	rows := enqueue(t, st, 2, "karin@kommun.se")
	w.Notify()
	sk.WaitCount(t, 1+len(rows), 30*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestShutdownFinishesRowInHand: when Run's context ends during a
// delivery, that delivery completes and is recorded before Run returns;
// the rows behind it wait for the next start.
func TestShutdownFinishesRowInHand(t *testing.T) {
	sk := startSink(t)
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	sk.NotifyData(started)
	sk.RefuseData(func(mailtest.Mail) error { <-release; return nil })
	st := openStore(t, "")
	rows := enqueue(t, st, 3, "karin@kommun.se")
	w := newWorker(t, workerConfig(sk.addr), st, &testClock{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-started
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantState(t, st, rows[0].ID, store.OutboxSent, 0, "")
	for _, r := range rows[1:] {
		wantState(t, st, r.ID, store.OutboxPending, 0, "")
	}
	if n := len(sk.received()); n != 1 {
		t.Errorf("sink got %d mails, want the one in hand", n)
	}
}
