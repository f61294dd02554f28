//go:build e2e

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse/hostile"
	"github.com/regionhmc/websesam-intake/store"
)

// TestE2EHostile mails each hostile file of issue 10 through Postfix to the
// real daemon (serve, reading every attachment in its fenced worker), then a
// valid form: each hostile mail gets its outcome with its specific reason,
// the valid one is queued and answered after them, and the daemon's own
// peak resident memory (VmHWM) stays at most 150 MB.
func TestE2EHostile(t *testing.T) {
	s := loadStack(t)
	s.reset(t)
	dir := t.TempDir()
	cfg := s.writeConfig(t, dir, s.defaults())
	// Files up to the daemon's default attachment limit (10 MiB), so that
	// the bombs reach the form reader instead of the size check.
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte("max_attachment_size = 262144"), []byte("max_attachment_size = 10485760"), 1)
	if err := os.WriteFile(cfg, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	longName := longSurname()
	const tooLarge = "attachment over the size limit once unpacked"
	cases := []struct {
		name    string
		file    string
		data    []byte
		outcome store.Outcome
		reason  string
		folder  string
		replies int
	}{
		// Three of the bomb's 512 MiB object streams: the whole bomb (10 MB)
		// base64-encoded is over Postfix's message size limit here.
		{"pdf-objstm-bomb", "ansokan.pdf", hostile.PDFObjectStreamBombSized(3, hostile.BombInflated), store.OutcomeQuarantined, tooLarge, "webSesam/Quarantine", 0},
		{"xlsx-extent-blanks", "ansokan.xlsx", hostile.XLSXExtentSpaces(hostile.ExtentRows), store.OutcomeQuarantined, tooLarge, "webSesam/Quarantine", 0},
		{"xlsx-extent-charrefs", "ansokan.xlsx", hostile.XLSXExtentCharRefs(hostile.ExtentRows), store.OutcomeQuarantined, tooLarge, "webSesam/Quarantine", 0},
		{"xlsx-shared-strings", "ansokan.xlsx", hostile.XLSXSharedStrings(hostile.SharedStrings), store.OutcomeQuarantined, tooLarge, "webSesam/Quarantine", 0},
		{"xlsx-defined-names", "ansokan.xlsx", hostile.XLSXDefinedNames(hostile.DefinedNames), store.OutcomeQuarantined, tooLarge, "webSesam/Quarantine", 0},
		{"xlsx-styles", "ansokan.xlsx", hostile.XLSXStyles(hostile.StyleFormats), store.OutcomeQuarantined, tooLarge, "webSesam/Quarantine", 0},
		// A form complete but for its 40,000-character surname: returned to
		// the manager with the problem, never a request (its value once
		// became a key the store refused, which stopped the mailbox).
		{"long-surname", "ansokan.xlsx", hostile.XLSXForm(longName), store.OutcomeReturned, "a form has problems", "webSesam/Returned", 1},
	}
	var raws [][]byte
	for _, c := range cases {
		raws = append(raws, attachmentMail("anna.berg@region.example.se", "hostile-"+c.name+"@region.example.se", c.file, c.data))
	}
	valid := attachmentOf(t, readEML(t, "outlook-pdf"), ".pdf")
	const validID = "hostile-then-valid@region.example.se"
	raws = append(raws, message("bo.ek@region.example.se", validID, "webSesam", "Hej, här är blanketten.", valid))

	// All in the mailbox first, in order, the valid mail last: the daemon
	// then meets every hostile mail before it.
	s.submit(t, raws, true)
	d := s.start(t, dir, "serve", "--config", cfg)
	c := s.login(t, s.intake)
	defer c.Close()
	waitFor(t, "every message settled", 3*time.Minute, func() bool { return s.settledCount(c) >= len(raws) })
	waitFor(t, "the replies delivered", 2*time.Minute, func() bool { return s.repliesIn(t) >= 2 })
	hwm := vmHWM(t, d.cmd.Process.Pid)
	t.Logf("the daemon's peak resident memory (VmHWM) after %d hostile mails and one valid: %d MB", len(cases), hwm>>20)
	if hwm > 150<<20 {
		t.Errorf("VmHWM %d MB, want at most 150 MB", hwm>>20)
	}
	if !d.running() {
		t.Fatalf("the daemon stopped")
	}
	d.term(t)

	msgs, reqs := records(t, filepath.Join(dir, "intake.db"))
	for _, c := range cases {
		m, ok := msgs["hostile-"+c.name+"@region.example.se"]
		switch {
		case !ok:
			t.Errorf("%s: not recorded", c.name)
		case m.Outcome != c.outcome || m.Reason != c.reason || !m.Settled:
			t.Errorf("%s: %s (%s), settled %v; want %s (%s), settled", c.name, m.Outcome, m.Reason, m.Settled, c.outcome, c.reason)
		}
	}
	if m := msgs[validID]; m.Outcome != store.OutcomeQueued || newRequests(m) != 1 {
		t.Errorf("the valid form after the hostile ones: %s (%s), %d new request(s); want queued, 1", m.Outcome, m.Reason, newRequests(m))
	}
	if len(reqs) != 1 {
		t.Errorf("%d requests in the queue, want 1 (the valid form's)", len(reqs))
	}
	for _, folder := range []string{"webSesam/Quarantine", "webSesam/Returned", "webSesam/Queued"} {
		want := 0
		for _, c := range cases {
			if c.folder == folder {
				want++
			}
		}
		if folder == "webSesam/Queued" {
			want = 1
		}
		if got := count(c, folder); got != want {
			t.Errorf("%s holds %d messages, want %d", folder, got, want)
		}
	}
	// One receipt for the valid form, one return notice for the long name.
	if got := s.repliesIn(t); got != 2 {
		t.Errorf("%d distinct replies, want 2", got)
	}
}

// attachmentMail is a plain mail with one attached file.
func attachmentMail(from, id, name string, data []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: info.hmc@region.example.se\r\nSubject: webSesam\r\nMessage-ID: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\n",
		from, id, time.Now().Format(time.RFC1123Z))
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBlanketten bifogas.\r\n")
	fmt.Fprintf(&b, "--b1\r\nContent-Type: application/octet-stream; name=%q\r\nContent-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n", name, name)
	writeBase64(&b, data)
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

// vmHWM reads a process's peak resident set size from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
