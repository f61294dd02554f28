package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/store"
)

// mailCase is one row of testdata/mail/README.md.
type mailCase struct {
	Name     string
	Outcome  string // an outcome, or "untouched"
	Folder   string
	Requests int
	Replies  int
}

// readCases reads the table of testdata/mail/README.md, the one statement
// of what each fixture must become.
func readCases(t testing.TB) []mailCase {
	t.Helper()
	f, err := os.Open(filepath.Join(mailDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mailCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| case") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 5 {
			t.Fatalf("README row %q: want at least 5 cells", line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		reqs, err1 := strconv.Atoi(cells[3])
		replies, err2 := strconv.Atoi(cells[4])
		if err1 != nil || err2 != nil {
			t.Fatalf("README row %q: requests and replies must be numbers", line)
		}
		out = append(out, mailCase{Name: cells[0], Outcome: cells[1], Folder: cells[2], Requests: reqs, Replies: replies})
	}
	if len(out) < 20 {
		t.Fatalf("README table: got %d cases, want the whole table", len(out))
	}
	return out
}

// messageID reads the outer Message-ID of a fixture, without brackets.
func messageID(t testing.TB, raw []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(m.Header.Get("Message-Id"), "<> ")
}

// textOf returns the text/plain part of a reply, decoded.
func textOf(t testing.TB, raw []byte) string {
	t.Helper()
	e, err := gomessage.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	var out string
	err = e.Walk(func(_ []int, p *gomessage.Entity, err error) error {
		if err != nil {
			return err
		}
		if mt, _, _ := p.Header.ContentType(); mt == "text/plain" && out == "" {
			b, err := io.ReadAll(p.Body)
			out = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk reply: %v", err)
	}
	return out
}

func recorded(t testing.TB, st *store.Store) map[string]store.Message {
	t.Helper()
	msgs, err := st.ListMessages("test", store.MessageFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Message{}
	for _, m := range msgs {
		out[m.MessageID] = m
	}
	return out
}

func newRequests(m store.Message) int {
	n := 0
	for _, f := range m.Forms {
		if !f.Duplicate {
			n += len(f.Requests)
		}
	}
	return n
}

// TestMailCases runs every fixture through the daemon against real
// in-process IMAP and SMTP servers and a real store, and checks each
// case's outcome, folder, requests and replies against the README table.
func TestMailCases(t *testing.T) {
	for _, withMove := range []bool{true, false} {
		name := "move"
		if !withMove {
			name = "copy-expunge"
		}
		t.Run(name, func(t *testing.T) {
			cases := readCases(t)
			srv, sk, cfg := startMail(t, withMove)
			ids := map[string]string{}
			for _, c := range cases {
				raw := readMail(t, c.Name)
				ids[c.Name] = messageID(t, raw)
				srv.appendMail(raw)
			}
			d, st := openDaemon(t, cfg, Options{})
			if err := d.Once(withTimeout(t, 2*time.Minute)); err != nil {
				t.Fatalf("Once: %v", err)
			}
			where := srv.where()
			recs := recorded(t, st)
			replies := map[string][]sunk{}
			for _, m := range sk.received() {
				irt := strings.Trim(m.msg.Header.Get("In-Reply-To"), "<> ")
				replies[irt] = append(replies[irt], m)
			}
			totalReqs := 0
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					id := ids[c.Name]
					places := where[id]
					if len(places) != 1 {
						t.Fatalf("message in %d places (%v), want exactly 1", len(places), places)
					}
					if got, want := places[0].Folder, c.Folder; got != want {
						t.Errorf("folder: got %q, want %q", got, want)
					}
					seen := slices.Contains(places[0].Flags, imap.FlagSeen)
					if got, want := seen, c.Outcome != "untouched"; got != want {
						t.Errorf("\\Seen: got %v, want %v (flags %v)", got, want, places[0].Flags)
					}
					if slices.Contains(places[0].Flags, imap.FlagDeleted) {
						t.Errorf("flags: got %v, want no \\Deleted", places[0].Flags)
					}
					m, ok := recs[id]
					if c.Outcome == "untouched" {
						if ok {
							t.Errorf("recorded as %s, want never recorded", m.Outcome)
						}
					} else {
						if !ok {
							t.Fatalf("not recorded, want %s", c.Outcome)
						}
						if got, want := string(m.Outcome), c.Outcome; got != want {
							t.Errorf("outcome: got %s (%s), want %s", got, m.Reason, want)
						}
						if !m.Settled {
							t.Errorf("settled: got false, want true")
						}
					}
					if got, want := newRequests(m), c.Requests; got != want {
						t.Errorf("new requests: got %d, want %d", got, want)
					}
					totalReqs += c.Requests
					if got, want := len(replies[id]), c.Replies; got != want {
						t.Errorf("replies: got %d, want %d", got, want)
					}
				})
			}
			t.Run("details", func(t *testing.T) {
				page, err := st.ListRequests("test", store.ListFilter{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := len(page.Requests), totalReqs; got != want {
					t.Errorf("requests in the store: got %d, want %d", got, want)
				}
				dup := replies[ids["duplicate"]]
				if len(dup) == 1 && !strings.Contains(textOf(t, dup[0].raw), "redan tagit emot") {
					t.Errorf("duplicate receipt: want it to say the form was already received, got:\n%s", textOf(t, dup[0].raw))
				}
				ret := replies[ids["subject-windows-1252"]]
				if len(ret) == 1 {
					if got, want := ret[0].msg.Header.Get("To"), "rene.linden@region.example.se"; !strings.Contains(got, want) {
						t.Errorf("returned form: To %q, want the manager %s", got, want)
					}
					if got, want := ret[0].msg.Header.Get("Cc"), "fredrik.akesson@region.example.se"; !strings.Contains(got, want) {
						t.Errorf("returned form: Cc %q, want the sender %s", got, want)
					}
				}
				bounced, err := st.BouncedSince("slutat.har@region.example.se", time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				if !bounced {
					t.Errorf("bounce: the failed address was not recorded")
				}
				multi := recs[ids["sv-vb-websesam"]]
				if len(multi.Forms) == 1 && len(multi.Forms[0].Requests) == 2 {
					var batches []string
					for _, r := range page.Requests {
						if slices.Contains(multi.Forms[0].Requests, r.ID) {
							batches = append(batches, r.Batch)
						}
					}
					if len(batches) != 2 || batches[0] != batches[1] || batches[0] == "" {
						t.Errorf("multi-user form: batches %v, want one shared batch", batches)
					}
				}
			})
		})
	}
}

// TestDryRun examines the mailbox read-only: it prints one line per
// matching message and changes nothing on the server, with no store at all.
func TestDryRun(t *testing.T) {
	srv, sk, cfg := startMail(t, true)
	for _, name := range []string{"outlook-pdf", "not-matching", "subject-windows-1252", "bounce"} {
		srv.appendMail(readMail(t, name))
	}
	before := srv.where()
	var out bytes.Buffer
	d, err := New(cfg, nil, Options{DryRun: true, Out: &out, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatalf("Once: %v", err)
	}
	if got, want := fmt.Sprint(srv.where()), fmt.Sprint(before); got != want {
		t.Errorf("server changed by a dry run:\ngot  %s\nwant %s", got, want)
	}
	if _, err := os.Stat(cfg.Store.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store file: got %v, want none created", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"uid 1 message-id <AM0PR01MB1001@AM0PR01MB1001.eurprd01.prod.outlook.com>: queued (every form complete and valid), 1 request(s), receipt to the sender, to folder webSesam/Queued",
		"uid 3 message-id <VI1PR04MB4004@VI1PR04MB4004.eurprd04.prod.outlook.com>: returned (a form has problems), 0 request(s), returned to the manager, to folder webSesam/Returned",
		"uid 4 message-id <20261124060500.ABC1234@mx1.region.example.se>: ignored (automatic mail (Auto-Submitted)), 0 request(s), no reply, to folder webSesam/Ignored",
	}
	if got := lines; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dry run output:\ngot  %q\nwant %q", got, want)
	}
	if n := len(sk.received()); n != 0 {
		t.Errorf("mail sent by a dry run: %d", n)
	}
}

// TestDecideLimits: structure and size limits quarantine with the reason;
// nothing panics on hostile input.
func TestDecideLimits(t *testing.T) {
	pol := testConfig(t, t.TempDir(), "127.0.0.1:1", "127.0.0.1:2").Policy
	pol.MaxAttachments = 2
	d := decider{policy: pol, ownIDDom: testDomain, ownFrom: testUser}
	head := "From: a.b@region.example.se\r\nSubject: webSesam\r\nMessage-ID: <x@region.example.se>\r\nMIME-Version: 1.0\r\n"
	nested := head + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
	for i := 1; i <= 20; i++ {
		nested += fmt.Sprintf("--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	files := head + "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	for i := range 3 {
		files += fmt.Sprintf("--x\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"%d.png\"\r\n\r\nPNG\r\n", i)
	}
	files += "--x--\r\n"
	for _, c := range []struct {
		name    string
		raw     string
		outcome store.Outcome
		reason  string
	}{
		{"nested too deep", nested, store.OutcomeQuarantined, reasonMIME},
		{"too many attachments", files, store.OutcomeQuarantined, reasonTooMany},
		{"no sender", "Subject: webSesam\r\n\r\nhej\r\n", store.OutcomeQuarantined, reasonNoSender},
		{"null return path", "Return-Path: <>\r\n" + head + "\r\nhej\r\n", store.OutcomeIgnored, reasonNullSender},
		{"precedence list", "Precedence: list\r\n" + head + "\r\nhej\r\n", store.OutcomeIgnored, reasonPrecedence},
		{"postmaster", "From: postmaster@region.example.se\r\nSubject: webSesam\r\n\r\nhej\r\n", store.OutcomeIgnored, reasonDaemonSender},
		{"auto-submitted no is a person", "Auto-Submitted: no\r\n" + head + "\r\nhej\r\n", store.OutcomeNoForm, reasonNoFiles},
		{"garbage", "\x00\x01\x02", store.OutcomeQuarantined, reasonMIME},
	} {
		t.Run(c.name, func(t *testing.T) {
			dec := d.decide([]byte(c.raw))
			if dec.Outcome != c.outcome || dec.Reason != c.reason {
				t.Errorf("decide: got %s (%s), want %s (%s)", dec.Outcome, dec.Reason, c.outcome, c.reason)
			}
		})
	}
}

// TestSameFileTwice: one form attached twice to one message is one form and
// one request, not two.
func TestSameFileTwice(t *testing.T) {
	pdf := fillPDF(t, formparse.Single, person("Åsa", "Öberg"))
	raw := outlook("asa.oberg@region.example.se", "Åsa", "twice@region.example.se", "webSesam", "",
		attached{"a.pdf", "application/pdf", pdf}, attached{"a (kopia).pdf", "application/pdf", pdf})
	pol := testConfig(t, t.TempDir(), "127.0.0.1:1", "127.0.0.1:2").Policy
	dec := decider{policy: pol}.decide([]byte(raw))
	if dec.Outcome != store.OutcomeQueued {
		t.Fatalf("outcome: got %s (%s), want queued", dec.Outcome, dec.Reason)
	}
	if got := len(dec.requests()); got != 1 {
		t.Errorf("requests: got %d, want 1", got)
	}
}
