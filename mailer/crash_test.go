package mailer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/store"
)

// Environment of the crash helper: the test binary re-executed runs the
// worker instead of the tests.
const (
	crashHelperEnv = "MAILER_CRASH_HELPER"
	crashStoreEnv  = "MAILER_CRASH_STORE"
	crashSMTPEnv   = "MAILER_CRASH_SMTP"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashHelperEnv) != "" {
		os.Exit(crashHelper())
	}
	os.Exit(m.Run())
}

// crashHelper is the worker process of TestCrashRecovery: it drains the
// outbox until no row is pending and exits 0, unless it is killed first.
func crashHelper() int {
	st, err := store.Open(os.Getenv(crashStoreEnv), store.Options{Timeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer st.Close()
	w, err := NewWorker(workerConfig(os.Getenv(crashSMTPEnv)), st,
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	for {
		if err := w.DrainOnce(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		left, err := st.DueOutbox(time.Now().Add(24*time.Hour), 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if len(left) == 0 {
			return 0
		}
		time.Sleep(10 * time.Millisecond) // pacing the child's drain loop until rows come due
	}
}

// BenchmarkDeliver measures outbox throughput: composed rows in a real
// store (fsync on) delivered over one SMTP session to the in-process relay.
func BenchmarkDeliver(b *testing.B) {
	sk := startSink(b)
	sk.discard = true
	st := openStore(b, "")
	c, err := NewComposer(testConfig())
	if err != nil {
		b.Fatal(err)
	}
	var batch []store.OutboxRow
	flush := func() {
		if _, err := st.EnqueueOutbox(batch...); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := 0; i < b.N; i++ {
		o := original
		o.From = fmt.Sprintf("user%d@kommun.se", i)
		row, err := c.Receipt(Receipt{Original: o, Forms: []ReceivedForm{{FileName: "a.pdf",
			Form: singleForm(singleFields()), Requests: []string{fmt.Sprintf("R-%06d", i)}}}})
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, row)
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
	w := newWorker(b, workerConfig(sk.addr), st, &testClock{})
	b.ResetTimer()
	begin := time.Now()
	if err := w.DrainOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	sk.mu.Lock()
	got := sk.count
	sk.mu.Unlock()
	if got != b.N {
		b.Fatalf("relay got %d, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "mails/s")
}
