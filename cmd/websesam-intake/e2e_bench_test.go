//go:build e2e

// The whole-system benchmark (make bench, through .ci/e2e bench): the real
// binary against real Dovecot and Postfix on loopback. Its name does not
// start with TestE2E, so the end-to-end suite never runs it; .ci/e2e bench
// runs it alone:
//
//	E2E_MAILSTACK=DIR E2E_BIN=/abs/websesam-intake E2E_BENCH_OUT=FILE \
//	  go test -tags e2e -run '^TestBenchWholeSystem$' ./cmd/websesam-intake
//
// It measures, and never asserts, speed: it fails only when the daemon does
// not do the work (a message not queued, a wrong count, a failed stop).

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// benchFigure is one line of the whole-system table.
type benchFigure struct {
	name  string
	value float64
	unit  string
	note  string
}

// String is the fixed line format .ci/benchtable reads:
// "E2EBENCH <name> <value> <unit> <note>".
func (f benchFigure) String() string {
	return fmt.Sprintf("E2EBENCH %s %.1f %s %s", f.name, f.value, f.unit, f.note)
}

// validForms makes n distinct messages, each with the filled single-user
// PDF of testdata/mail/outlook-pdf (made distinct by bytes after %%EOF),
// each of which must end queued with one request.
func validForms(t *testing.T, prefix string, n int) ([][]byte, map[string]kind) {
	t.Helper()
	valid := attachmentOf(t, readEML(t, "outlook-pdf"), ".pdf")
	var raws [][]byte
	want := map[string]kind{}
	for i := range n {
		id := fmt.Sprintf("%s-%05d@region.example.se", prefix, i)
		from := fmt.Sprintf("user%02d@region.example.se", i%20)
		pad := []byte(fmt.Sprintf("\n%% %s variant %d\n", prefix, i))
		raws = append(raws, message(from, id, "webSesam", "Hej, här är blanketten.", append(slices.Clone(valid), pad...)))
		want[id] = kind{store.OutcomeQueued, "webSesam/Queued", 1, 1}
	}
	return raws, want
}

// peakRSS is the process's VmHWM from /proc in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the daemon's status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				t.Fatalf("VmHWM line %q: want \"<n> kB\"", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				t.Fatalf("VmHWM line %q: %v", line, err)
			}
			return kb * 1024
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestBenchWholeSystem measures (a) the drain of a backlog of
// E2E_BENCH_MESSAGES (1,000) filled PDF forms that arrived over SMTP while
// the daemon was stopped, end to end in messages per second, and the
// daemon's peak RSS; (b) with the daemon idle on IDLE, the latency from
// SMTP submission to the message in webSesam/Queued for
// E2E_BENCH_LATENCY_MESSAGES (50) messages sent one at a time.
func TestBenchWholeSystem(t *testing.T) {
	s := loadStack(t)
	n := envInt(t, "E2E_BENCH_MESSAGES", 1000)
	m := envInt(t, "E2E_BENCH_LATENCY_MESSAGES", 50)
	var figs []benchFigure

	t.Run("backlog", func(t *testing.T) {
		s.reset(t)
		dir := t.TempDir()
		raws, want := validForms(t, "bench", n)
		t0 := time.Now()
		s.submit(t, raws, false)
		t.Logf("%d messages submitted and in INBOX in %s", n, time.Since(t0).Round(time.Millisecond))
		cfg := s.writeConfig(t, dir, s.defaults())
		ic := s.login(t, s.intake)
		defer ic.Close()
		start := time.Now()
		d := s.start(t, dir, "serve", "--config", cfg)
		var took time.Duration
		deadline := start.Add(10 * time.Minute)
		for {
			if got := count(ic, "webSesam/Queued"); got >= n {
				took = time.Since(start)
				break
			}
			if !d.running() {
				t.Fatalf("the daemon exited while draining: %v", d.err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages in webSesam/Queued after 10 minutes", count(ic, "webSesam/Queued"), n)
			}
			time.Sleep(20 * time.Millisecond) // polling the folder; it signals nothing
		}
		// Replies go out after the moves; wait for them so that the peak
		// RSS covers the whole work of the backlog.
		waitFor(t, fmt.Sprintf("%d replies delivered", n), 10*time.Minute, func() bool { return s.repliesIn(t) >= n })
		rss := peakRSS(t, d.cmd.Process.Pid)
		d.term(t)
		s.verifyLoad(t, filepath.Join(dir, "intake.db"), want, n)
		if t.Failed() {
			return
		}
		note := fmt.Sprintf("(%d PDF forms, serve start to all in webSesam/Queued, %s)", n, took.Round(time.Millisecond))
		figs = append(figs,
			benchFigure{"backlog_throughput", float64(n) / took.Seconds(), "msgs/s", note},
			benchFigure{"backlog_peak_rss", float64(rss) / (1 << 20), "MiB", fmt.Sprintf("(VmHWM of serve after the %d messages and their replies)", n)},
		)
	})

	t.Run("latency", func(t *testing.T) {
		s.reset(t)
		dir := t.TempDir()
		raws, want := validForms(t, "latency", m)
		cfg := s.writeConfig(t, dir, s.defaults())
		logins := func() int {
			b, _ := os.ReadFile(filepath.Join(s.dir, "log", "dovecot.log"))
			return strings.Count(string(b), "Login: user=<"+s.intake+">")
		}
		before := logins()
		d := s.start(t, dir, "serve", "--config", cfg)
		waitFor(t, "the daemon logged in to Dovecot", time.Minute, func() bool { return logins() > before })
		time.Sleep(2 * time.Second) // pacing, not a wait: Dovecot shows no event for a client entering IDLE; past the first poll
		ic := s.login(t, s.intake)
		defer ic.Close()
		sc := s.submission(t)
		var lat []time.Duration
		for i, raw := range raws {
			t0 := time.Now()
			if err := sc.SendMail(submitter, []string{s.alias}, strings.NewReader(string(raw))); err != nil {
				t.Fatalf("submit message %d: %v", i, err)
			}
			if !waitCount(ic, "webSesam/Queued", i+1, 30*time.Second) {
				t.Fatalf("message %d not in webSesam/Queued within 30s of its submission", i)
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(100 * time.Millisecond) // pacing, not a wait: one message at a time, the daemon back in IDLE
		}
		// The floor: the same mails to an address the daemon never reads,
		// SMTP submission to the mail in its folder on Dovecot, which is
		// Postfix and Dovecot alone.
		floorAddr := "bench-floor@example.org"
		cc := s.login(t, s.catchall)
		defer cc.Close()
		var floor []time.Duration
		for i, raw := range raws {
			t0 := time.Now()
			if err := sc.SendMail(submitter, []string{floorAddr}, strings.NewReader(string(raw))); err != nil {
				t.Fatalf("submit floor message %d: %v", i, err)
			}
			if !waitCount(cc, catchallFolder(floorAddr), i+1, 30*time.Second) {
				t.Fatalf("floor message %d not delivered within 30s of its submission", i)
			}
			floor = append(floor, time.Since(t0))
			time.Sleep(100 * time.Millisecond) // pacing, the same as the daemon's run above
		}
		sc.Quit()
		waitFor(t, fmt.Sprintf("%d replies delivered", m), 5*time.Minute, func() bool { return s.repliesIn(t) >= m })
		d.term(t)
		s.verifyLoad(t, filepath.Join(dir, "intake.db"), want, m)
		if t.Failed() {
			return
		}
		slices.Sort(lat)
		var sum time.Duration
		for _, l := range lat {
			sum += l
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		p95 := lat[(len(lat)*95+99)/100-1]
		note := fmt.Sprintf("(%d PDF forms one at a time, SMTP submission to webSesam/Queued, daemon in IDLE)", m)
		figs = append(figs,
			benchFigure{"latency_avg", ms(sum / time.Duration(len(lat))), "ms", note},
			benchFigure{"latency_p95", ms(p95), "ms", note},
			benchFigure{"latency_max", ms(lat[len(lat)-1]), "ms", note},
		)
		sum = 0
		for _, l := range floor {
			sum += l
		}
		figs = append(figs, benchFigure{"latency_floor_avg", ms(sum / time.Duration(len(floor))), "ms",
			fmt.Sprintf("(the same %d mails to an address the daemon does not read: Postfix and Dovecot alone)", m)})
	})

	var out strings.Builder
	for _, f := range figs {
		fmt.Fprintln(&out, f)
	}
	fmt.Print(out.String())
	if path := os.Getenv("E2E_BENCH_OUT"); path != "" {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}
}

// waitCount polls folder on c every 5 ms until it holds n messages; false
// after limit.
func waitCount(c *imapclient.Client, folder string, n int, limit time.Duration) bool {
	return mailtest.Poll(limit, 5*time.Millisecond, func() bool { return count(c, folder) >= n })
}
