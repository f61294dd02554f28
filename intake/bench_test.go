package intake

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

const backlog = 2000

// fillBacklog puts n matching messages, each with a distinct filled PDF,
// into the server's INBOX and returns the total bytes.
func fillBacklog(b *testing.B, srv *imapServer, pdf []byte, n int) int64 {
	b.Helper()
	var total int64
	for i := range n {
		pad := []byte(fmt.Sprintf("\n%% variant %d\n", i))
		raw := []byte(outlook(fmt.Sprintf("user%04d@region.example.se", i), "Test", fmt.Sprintf("bench-%d@region.example.se", i),
			"webSesam", "", attached{"ansokan.pdf", "application/pdf", append(bytes.Clone(pdf), pad...)}))
		total += int64(len(raw))
		srv.appendMailDirect(raw)
	}
	return total
}

// peakHeap samples the heap in use until stop is closed and returns the
// highest value seen (bytes).
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// rtts are the simulated round trips the drain benchmarks run with: none
// (in-process) and 10 ms (a server across a network, as Microsoft 365 or a
// regional Exchange is), with a backlog sized to keep the run short.
var rtts = []struct {
	name     string
	rtt      time.Duration
	messages int
}{
	{"rtt=0", 0, backlog},
	{"rtt=10ms", 10 * time.Millisecond, 500},
}

// readers are the ways a form is read in the drain benchmark: in a fenced
// worker process each (the daemon's way) and, for the figure before the
// fence, in the daemon's own process.
var readers = []struct {
	name   string
	reader FormReader
}{
	{"reader=fenced", nil},
	{"reader=in-process", inProcessReader{}},
}

// BenchmarkDrainBacklog drains a backlog of matching messages, each with a
// filled PDF, from the in-process server with the real store (fsync on):
// decide, record, move; with each form read in a fenced worker, and in
// process as before the fence (the difference is the fence's cost).
// BenchmarkBareFetchMove is the floor: the same client fetching and moving
// the same messages with no work between.
func BenchmarkDrainBacklog(b *testing.B) {
	pdf := fillPDF(b, formparse.Single, person("Åsa", "Öberg"))
	for _, r := range rtts {
		for _, rd := range readers {
			b.Run(r.name+"/"+rd.name, func(b *testing.B) {
				var msgs, secs float64
				var peak uint64
				for range b.N {
					b.StopTimer()
					srv := startIMAP(b, true)
					sk := startSink(b)
					cfg := testConfig(b, b.TempDir(), srv.addr, sk.addr)
					fillBacklog(b, srv, pdf, r.messages)
					srv.SetDelay(r.rtt)
					st, err := store.Open(cfg.Store.Path, store.Options{})
					if err != nil {
						b.Fatal(err)
					}
					d, err := New(cfg, st, Options{Logger: discardLogger(), FormReader: rd.reader})
					if err != nil {
						b.Fatal(err)
					}
					runtime.GC()
					stop := make(chan struct{})
					peakc := peakHeap(stop)
					b.StartTimer()
					start := time.Now()
					if err := d.session(context.Background(), true); err != nil {
						b.Fatal(err)
					}
					secs += time.Since(start).Seconds()
					b.StopTimer()
					close(stop)
					peak = max(peak, <-peakc)
					msgs += float64(r.messages)
					if n := len(recorded(b, st)); n != r.messages {
						b.Fatalf("recorded %d, want %d", n, r.messages)
					}
					st.Close()
					srv.close()
				}
				b.ReportMetric(msgs/secs, "msgs/s")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			})
		}
	}
}

func BenchmarkBareFetchMove(b *testing.B) {
	pdf := fillPDF(b, formparse.Single, person("Åsa", "Öberg"))
	for _, r := range rtts {
		b.Run(r.name, func(b *testing.B) {
			var msgs, secs float64
			for range b.N {
				b.StopTimer()
				srv := startIMAP(b, true)
				fillBacklog(b, srv, pdf, r.messages)
				srv.SetDelay(r.rtt)
				c, err := imapclient.DialInsecure(srv.addr, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Login(testUser, testPassword).Wait(); err != nil {
					b.Fatal(err)
				}
				if err := c.Create("Done", nil).Wait(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					b.Fatal(err)
				}
				data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
				if err != nil {
					b.Fatal(err)
				}
				section := &imap.FetchItemBodySection{Peek: true}
				for _, uid := range data.AllUIDs() {
					set := imap.UIDSetNum(uid)
					if _, err := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect(); err != nil {
						b.Fatal(err)
					}
					if _, err := c.Move(set, "Done").Wait(); err != nil {
						b.Fatal(err)
					}
				}
				secs += time.Since(start).Seconds()
				msgs += float64(len(data.AllUIDs()))
				b.StopTimer()
				c.Close()
				srv.close()
			}
			b.ReportMetric(msgs/secs, "msgs/s")
		})
	}
}

// BenchmarkMailToQueueIdle measures the time from a message's delivery to
// its record in the store while the daemon waits in IDLE (the poll interval
// is a minute, so only IDLE can bring it in time). Each message is
// delivered once the daemon is back in IDLE, and the time ends when the
// daemon says it decided and recorded the message.
func BenchmarkMailToQueueIdle(b *testing.B) {
	pdf := fillPDF(b, formparse.Single, person("Åsa", "Öberg"))
	srv := startIMAP(b, true)
	sk := startSink(b)
	cfg := testConfig(b, b.TempDir(), srv.addr, sk.addr)
	cfg.Mailbox.PollInterval = time.Minute
	cfg.Mailbox.IdleRestart = 5 * time.Minute
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	decided := make(chan string, 1)
	d, err := New(cfg, st, Options{Logger: discardLogger(), Decided: func(dec Decided) { decided <- dec.MessageID }})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	var worst atomic.Int64
	idles := 0
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("latency-%d@region.example.se", i)
		raw := []byte(outlook(fmt.Sprintf("user%04d@region.example.se", i), "Test", id, "webSesam", "",
			attached{"ansokan.pdf", "application/pdf", append(bytes.Clone(pdf), fmt.Sprintf("\n%% %d\n", i)...)}))
		srv.WaitFor(b, "the daemon in IDLE", 30*time.Second, func(n mailtest.ProxyCounts) bool { return n.Idles > idles })
		idles = srv.Counts().Idles
		start := time.Now()
		srv.appendMail(raw)
		if got := mailtest.Recv(b, fmt.Sprintf("message %d recorded", i), 30*time.Second, decided); got != id {
			b.Fatalf("decided %s, want %s", got, id)
		}
		d := time.Since(start)
		total += d
		if int64(d) > worst.Load() {
			worst.Store(int64(d))
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "avg-ms")
	b.ReportMetric(float64(worst.Load())/1e6, "worst-ms")
}

// BenchmarkDrainLargeAttachments drains 20 messages each carrying a 5 MB
// PDF form with a child serve process (--once) against the in-process
// server, and reports the child's peak RSS: the daemon's own memory, apart
// from the test's server.
func BenchmarkDrainLargeAttachments(b *testing.B) {
	const n, size = 20, 5 << 20
	pdf := fillPDF(b, formparse.Single, person("Åsa", "Öberg"))
	var peakKB int64
	var msgs, secs float64
	for range b.N {
		b.StopTimer()
		srv := startIMAP(b, true)
		sk := startSink(b)
		dir := b.TempDir()
		cfg := testConfig(b, dir, srv.addr, sk.addr)
		cfg.Policy.MaxAttachmentSize = 10 << 20
		path := writeConfig(b, dir, cfg)
		big := append(bytes.Clone(pdf), '\n', '%')
		big = append(big, bytes.Repeat([]byte("0123456789abcdef"), (size-len(big))/16)...)
		fillBacklog(b, srv, big, n)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "INTAKE_TEST_CHILD="+path, "INTAKE_TEST_ONCE=1", "INTAKE_TEST_RSS=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		b.StartTimer()
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("child: %v\n%s", err, stderr.String())
		}
		secs += time.Since(start).Seconds()
		b.StopTimer()
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(stdout.String()), "VmHWM: %d kB", &kb); err != nil {
			b.Fatalf("child peak RSS: %v in %q", err, stdout.String())
		}
		peakKB = max(peakKB, kb)
		msgs += n
		st, err := store.Open(cfg.Store.Path, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		recs := recorded(b, st)
		st.Close()
		for _, m := range recs {
			if m.Outcome != store.OutcomeQueued {
				b.Fatalf("a 5 MB form became %s (%s), want queued", m.Outcome, m.Reason)
			}
		}
		if len(recs) != n {
			b.Fatalf("recorded %d, want %d", len(recs), n)
		}
		srv.close()
	}
	b.ReportMetric(msgs/secs, "msgs/s")
	b.ReportMetric(float64(peakKB)/1024, "peak-RSS-MB")
}
