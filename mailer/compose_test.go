package mailer

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/emersion/go-message/charset"
	gomail "github.com/emersion/go-message/mail"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var testNow = time.Date(2026, 11, 30, 9, 15, 0, 0, time.FixedZone("CET", 3600))

func testConfig() Config {
	return Config{
		FromAddress:       "info.hmc@region.se",
		FromName:          "Hjälpmedelscentrum webSesam",
		LoginInstructions: "Logga in på https://websesam.example.se med ditt användarnamn.\nFörsta gången får du ett engångslösenord via SMS till ditt mobilnummer.",
		FormURL:           "https://www.region.se/hjalpmedel/websesam",
		AllowedDomains:    []string{"region.se", "kommun.se"},
		SMTP:              SMTPConfig{Addr: "127.0.0.1:25", TLS: Plain},
	}
}

// newTestComposer has a pinned clock and a seeded random source.
func newTestComposer(t testing.TB, cfg Config) *Composer {
	t.Helper()
	c, err := NewComposer(cfg, WithClock(func() time.Time { return testNow }),
		WithRandom(rand.NewChaCha8([32]byte{1, 2, 3})))
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	return c
}

var original = Original{
	MessageID:  "CAF=abc123@mail.kommun.se",
	Subject:    "SV: Re: webSesam ansökan för Åsa",
	From:       "karin.ostlund@kommun.se",
	FromName:   "Karin Östlund",
	References: []string{"first@mail.kommun.se", "<second@mail.kommun.se>"},
}

func singleFields() map[string]string {
	return map[string]string{
		"blankett": "websesam-behorighet/1", "arende": "ny", "galler_fran": "2026-12-01",
		"fornamn": "Åsa", "efternamn": "Öberg", "hsa_id": "", "yrke": "Arbetsterapeut",
		"epost": "asa.oberg@kommun.se", "telefon": "070-123 45 67", "verksamhet": "Vård och omsorg",
		"enhet": "Hemrehab Väst", "kundnummer": "602154", "ovriga_kundnummer": "602155, 602156",
		"buffertforrad": "", "roll_forskrivare": "true", "roll_bestallare": "true",
		"andring_tjanstledighet": "false", "tjanstledig_fran": "", "tjanstledig_till": "",
		"andring_namnbyte": "false", "tidigare_namn": "", "andring_arbetsplats": "false",
		"tidigare_kundnummer": "", "andring_roll": "false",
		"chef_namn": "Göran Ärlig", "chef_epost": "goran.arlig@kommun.se", "chef_telefon": "0651-123 45",
		"datum": "2026-11-28",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func singleForm(fields map[string]string, problems ...formparse.FieldProblem) *formparse.Form {
	return &formparse.Form{ID: formparse.Single, Version: 1, Format: formparse.PDF, Fields: fields, Problems: problems}
}

func multiForm() *formparse.Form {
	f := with(singleFields())
	for _, k := range []string{"fornamn", "efternamn", "hsa_id", "yrke", "epost", "telefon"} {
		delete(f, k)
	}
	f["blankett"] = "websesam-behorighet-flera/1"
	return &formparse.Form{ID: formparse.Multi, Version: 1, Format: formparse.XLSX, Fields: f, Users: []formparse.User{
		{N: 1, Fields: map[string]string{"fornamn": "Åke", "efternamn": "Ström", "epost": "ake.strom@kommun.se"}},
		{N: 2, Fields: map[string]string{"fornamn": "Lena", "efternamn": "Ek", "epost": "lena.ek@kommun.se"}},
	}}
}

// pdfBytes stands for a received form: any bytes, some not valid UTF-8, CR
// LF and a line starting with a dot, so a change on the way would show.
var pdfBytes = []byte("%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n.\r\n1 0 obj\n<< /Type /Catalog >>\nendobj\n\x00\xff\xfe" + strings.Repeat("ÅÄÖ stream ", 40))

type composeCase struct {
	name    string
	compose func(c *Composer) ([]store.OutboxRow, error)
}

func one(r store.OutboxRow, err error) ([]store.OutboxRow, error) { return []store.OutboxRow{r}, err }

func composeCases() []composeCase {
	missing := func(field string) formparse.FieldProblem {
		return formparse.FieldProblem{Field: field, Reason: "saknas"}
	}
	return []composeCase{
		{"kvittens", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.Receipt(Receipt{Original: original, Forms: []ReceivedForm{
				{FileName: "ansökan Åsa.pdf", Form: singleForm(singleFields()), Requests: []string{"R-000123"}},
			}}))
		}},
		{"kvittens-redan-mottagen", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.Receipt(Receipt{Original: original, Forms: []ReceivedForm{
				{FileName: "ansökan Åsa.pdf", Form: singleForm(singleFields()), Requests: []string{"R-000123"}, Duplicate: true},
			}}))
		}},
		{"kvittens-flera", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.Receipt(Receipt{Original: original, Forms: []ReceivedForm{
				{FileName: "flera.xlsx", Form: multiForm(), Requests: []string{"R-000124", "R-000125"}},
				{FileName: "ansökan Åsa.pdf", Form: singleForm(singleFields()), Requests: []string{"R-000123"}, Duplicate: true},
			}}))
		}},
		{"komplettering", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.Return(Return{Original: original, Forms: []ReturnedForm{{
				FileName: "ansökan Åsa Öberg.pdf", Data: pdfBytes,
				Form: singleForm(with(singleFields(), "telefon", "", "kundnummer", "60215"), missing("telefon"),
					formparse.FieldProblem{Field: "kundnummer", Reason: "ska vara sex siffror, t.ex. 602154"},
					formparse.FieldProblem{Field: "roll", Reason: "kryssa i minst en behörighet (Förskrivare eller Beställare)"}),
			}}}))
		}},
		{"komplettering-till-avsandaren", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.Return(Return{Original: original, Forms: []ReturnedForm{{
				FileName: "blankett.pdf", Data: pdfBytes,
				Form: singleForm(with(singleFields(), "chef_epost", "goran.arlig(at)kommun"),
					formparse.FieldProblem{Field: "chef_epost", Reason: "ska vara en e-postadress, t.ex. namn@region.se"}),
			}}}))
		}},
		{"komplettering-tva-blanketter", func(c *Composer) ([]store.OutboxRow, error) {
			m := multiForm()
			m.Problems = []formparse.FieldProblem{missing("anvandare_2_telefon"), missing("chef_telefon")}
			return one(c.Return(Return{Original: original, Forms: []ReturnedForm{
				{FileName: "flera användare.xlsx", Data: []byte("PK\x03\x04 not really a workbook"), Form: m},
				{FileName: "ok.pdf", Data: pdfBytes, Form: singleForm(singleFields())},
			}}))
		}},
		{"ingen-blankett", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.NoForm(NoForm{Original: original, Found: []FoundFile{
				{Name: "skanning.jpg", Why: Describe(formparse.ErrNotAForm)},
				{Name: "ansökan.pdf", Why: Describe(formparse.ErrEncrypted)},
			}}))
		}},
		{"ingen-blankett-utan-bilaga", func(c *Composer) ([]store.OutboxRow, error) {
			o := original
			o.Subject = "webSesam"
			o.References = nil
			return one(c.NoForm(NoForm{Original: o}))
		}},
		{"klar-ny", func(c *Composer) ([]store.OutboxRow, error) {
			return c.Done(Done{Request: "R-000123", Form: formparse.Single, Fields: singleFields(), UserName: "asaobe01"})
		}},
		{"klar-andring", func(c *Composer) ([]store.OutboxRow, error) {
			return c.Done(Done{Request: "R-000130", Form: formparse.Single, UserName: "asaobe01", Fields: with(singleFields(),
				"arende", "andring", "andring_namnbyte", "true", "tidigare_namn", "Åsa Lind",
				"andring_tjanstledighet", "true", "tjanstledig_fran", "2027-01-01", "tjanstledig_till", "2027-06-30",
				"roll_bestallare", "false")})
		}},
		{"klar-avslut", func(c *Composer) ([]store.OutboxRow, error) {
			return c.Done(Done{Request: "R-000140", Form: formparse.Single, UserName: "asaobe01",
				Fields: with(singleFields(), "arende", "avslut", "galler_fran", "2027-03-31")})
		}},
		{"avslag", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.Rejection(Rejection{Request: "R-000150", Form: formparse.Single, Fields: singleFields(),
				Reason: "Kundnummer 602154 tillhör en annan verksamhet.\nKontrollera kundnumret med er beställare."}))
		}},
		{"avslag-till-anvandaren", func(c *Composer) ([]store.OutboxRow, error) {
			return one(c.Rejection(Rejection{Request: "R-000151", Form: formparse.Single,
				Fields: with(singleFields(), "chef_epost", "goran.arlig@gmail.com"), Reason: "Chefen finns inte i vår verksamhet."}))
		}},
		{"morgonrapport", func(c *Composer) ([]store.OutboxRow, error) {
			mon := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
			return one(c.Digest(Digest{To: []string{"hmc.websesam@region.se"}, Date: mon, Promise: 5, Queued: 7, Claimed: 2,
				Late:  []store.LateRequest{{ID: "WS-2026-000101", Status: store.StatusQueued, Age: 9}, {ID: "WS-2026-000112", Status: store.StatusClaimed, Age: 6}},
				Since: mon.AddDate(0, 0, -3), Yesterday: store.DayCounts{Mails: map[store.Outcome]int{store.OutcomeQueued: 4, store.OutcomeReturned: 2, store.OutcomeIgnored: 1}, Done: 5, Rejected: 1}}))
		}},
		{"morgonrapport-ingen-over-loftet", func(c *Composer) ([]store.OutboxRow, error) {
			tue := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
			return one(c.Digest(Digest{To: []string{"hmc.websesam@region.se"}, Date: tue, Promise: 5,
				Since: tue.AddDate(0, 0, -1), Yesterday: store.DayCounts{Mails: map[store.Outcome]int{}}}))
		}},
	}
}

// parsed is a composed message read back with go-message.
type parsed struct {
	header      gomail.Header
	text, html  string
	attachments []parsedFile
}

type parsedFile struct {
	name, contentType string
	data              []byte
}

func parseMail(t testing.TB, raw []byte) parsed {
	t.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read composed mail: %v", err)
	}
	p := parsed{header: r.Header}
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatalf("read part body: %v", err)
		}
		switch h := part.Header.(type) {
		case *gomail.InlineHeader:
			ct, _, _ := h.ContentType()
			switch ct {
			case "text/plain":
				p.text = strings.ReplaceAll(string(body), "\r\n", "\n")
			case "text/html":
				p.html = strings.ReplaceAll(string(body), "\r\n", "\n")
			default:
				t.Fatalf("unexpected inline part %s", ct)
			}
		case *gomail.AttachmentHeader:
			name, err := h.Filename()
			if err != nil {
				t.Fatalf("attachment file name: %v", err)
			}
			ct, _, _ := h.ContentType()
			p.attachments = append(p.attachments, parsedFile{name, ct, body})
		}
	}
	return p
}

// headerBlock is the raw top-level header of a message.
func headerBlock(raw []byte) string {
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		return string(raw)
	}
	return strings.ReplaceAll(string(raw[:i+2]), "\r\n", "\n")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestComposeGolden renders every notice and compares the header, the text
// and the HTML part with the golden files (go test ./mailer -run
// TestComposeGolden -update rewrites them).
func TestComposeGolden(t *testing.T) {
	for _, tc := range composeCases() {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := tc.compose(newTestComposer(t, testConfig()))
			if err != nil {
				t.Fatalf("compose: %v", err)
			}
			for i, row := range rows {
				name := tc.name
				if len(rows) > 1 {
					name += "-" + row.Kind
				}
				p := parseMail(t, row.Raw)
				golden(t, name+".header", headerBlock(row.Raw))
				golden(t, name+".txt", p.text)
				golden(t, name+".html.golden", p.html)
				if got, want := "<"+row.MessageID+">", p.header.Get("Message-Id"); got != want {
					t.Errorf("row %d: MessageID %q, header %q", i, got, want)
				}
				if !strings.HasSuffix(row.MessageID, "@region.se") {
					t.Errorf("row %d: Message-ID %q is not on our domain", i, row.MessageID)
				}
				if !strings.Contains(p.text, DefaultSupportLine) || !strings.Contains(p.html, DefaultSupportLine) {
					t.Errorf("row %d: the support line is missing", i)
				}
				if strings.Contains(strings.ToLower(p.text), "lösenord:") {
					t.Errorf("row %d: a password line in a notice", i)
				}
			}
		})
	}
}

// TestComposeDeterministic: the same input, clock and random bytes give the
// same bytes; another random source gives another Message-ID.
func TestComposeDeterministic(t *testing.T) {
	for _, tc := range composeCases() {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.compose(newTestComposer(t, testConfig()))
			if err != nil {
				t.Fatal(err)
			}
			b, err := tc.compose(newTestComposer(t, testConfig()))
			if err != nil {
				t.Fatal(err)
			}
			for i := range a {
				if !bytes.Equal(a[i].Raw, b[i].Raw) {
					t.Errorf("row %d: two compositions differ", i)
				}
			}
			c, err := NewComposer(testConfig())
			if err != nil {
				t.Fatal(err)
			}
			d, err := tc.compose(c)
			if err != nil {
				t.Fatal(err)
			}
			if a[0].MessageID == d[0].MessageID {
				t.Errorf("crypto/rand gave the pinned Message-ID %q", a[0].MessageID)
			}
		})
	}
}

// TestReturnLabelsFromDefinition: a Komplettering names each problem by the
// label the form definition gives its field, whatever label the problem
// carries, for every field, group and user-row field of both forms.
func TestReturnLabelsFromDefinition(t *testing.T) {
	for _, def := range formparse.Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			var problems []formparse.FieldProblem
			var names []string
			for _, f := range def.Fields {
				names = append(names, f.Name)
			}
			for _, g := range def.Groups {
				names = append(names, g.Name)
			}
			for _, col := range def.UserColumns {
				names = append(names, formparse.UserFieldName(3, col.Name))
			}
			for _, n := range names {
				problems = append(problems, formparse.FieldProblem{Field: n, Label: "KOPIERAD ETIKETT", Reason: "orsak-" + n})
			}
			form := &formparse.Form{ID: def.ID, Version: 1, Format: formparse.PDF, Fields: singleFields(), Problems: problems}
			row, err := newTestComposer(t, testConfig()).Return(Return{Original: original,
				Forms: []ReturnedForm{{FileName: "f.pdf", Data: pdfBytes, Form: form}}})
			if err != nil {
				t.Fatal(err)
			}
			p := parseMail(t, row.Raw)
			for _, n := range names {
				want := "  - " + def.Label(n) + ": orsak-" + n + "\n"
				if def.Label(n) == n {
					t.Fatalf("the definition has no label for %q", n)
				}
				if !strings.Contains(p.text, want) {
					t.Errorf("text lacks %q", want)
				}
				if !strings.Contains(p.html, "<strong>"+htmlEscape(def.Label(n))+"</strong>: orsak-"+n) {
					t.Errorf("HTML lacks the label of %s", n)
				}
			}
			if strings.Contains(p.text, "KOPIERAD") || strings.Contains(p.html, "KOPIERAD") {
				t.Error("a label was taken from the problem, not from the definition")
			}
		})
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// TestReturnAttachmentUnchanged: the forms come back byte for byte with the
// names they were sent under, RFC 2231-encoded when not ASCII.
func TestReturnAttachmentUnchanged(t *testing.T) {
	xlsx := make([]byte, 70000)
	rand.NewChaCha8([32]byte{9}).Read(xlsx)
	row, err := newTestComposer(t, testConfig()).Return(Return{Original: original, Forms: []ReturnedForm{
		{FileName: "ansökan Åsa Öberg.pdf", Data: pdfBytes, Form: singleForm(singleFields(), formparse.FieldProblem{Field: "telefon", Reason: "saknas"})},
		{FileName: "flera användare (kopia).xlsx", Data: xlsx, Form: multiForm()},
		{FileName: "plain.pdf", ContentType: "application/x-pdf", Data: []byte{}, Form: singleForm(singleFields())},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, row.Raw)
	want := []parsedFile{
		{"ansökan Åsa Öberg.pdf", "application/pdf", pdfBytes},
		{"flera användare (kopia).xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx},
		{"plain.pdf", "application/x-pdf", []byte{}},
	}
	if got := len(p.attachments); got != len(want) {
		t.Fatalf("got %d attachments, want %d", got, len(want))
	}
	for i, w := range want {
		g := p.attachments[i]
		if g.name != w.name || g.contentType != w.contentType {
			t.Errorf("attachment %d: got %q %s, want %q %s", i, g.name, g.contentType, w.name, w.contentType)
		}
		if !bytes.Equal(g.data, w.data) {
			t.Errorf("attachment %d: %d bytes differ from the %d received", i, len(g.data), len(w.data))
		}
	}
	for _, enc := range []string{`filename*=utf-8''ans%C3%B6kan%20%C3%85sa%20%C3%96berg.pdf`, `name*=utf-8''ans%C3%B6kan`} {
		if !bytes.Contains(row.Raw, []byte(enc)) {
			t.Errorf("raw message lacks the RFC 2231 parameter %s", enc)
		}
	}
}

// TestHeadersEncoding: names and subjects with å ä ö go out as RFC 2047
// encoded words, no 8-bit byte in the header, and decode back.
func TestHeadersEncoding(t *testing.T) {
	rows, err := newTestComposer(t, testConfig()).Done(Done{Request: "R-1", Form: formparse.Single, Fields: singleFields(), UserName: "asaobe01"})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		h := headerBlock(row.Raw)
		for i := 0; i < len(h); i++ {
			if h[i] >= 0x80 {
				t.Fatalf("%s: 8-bit byte in the header at %d", row.Kind, i)
			}
		}
		if !strings.Contains(h, "=?utf-8?q?") {
			t.Errorf("%s: no RFC 2047 encoded word in\n%s", row.Kind, h)
		}
		p := parseMail(t, row.Raw)
		from, err := p.header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != "Hjälpmedelscentrum webSesam" {
			t.Errorf("%s: From decodes to %v, %v", row.Kind, from, err)
		}
		subj, err := p.header.Subject()
		if err != nil || subj != row.Subject {
			t.Errorf("%s: Subject decodes to %q (%v), want %q", row.Kind, subj, err, row.Subject)
		}
		to, err := p.header.AddressList("To")
		if err != nil || len(to) != 1 {
			t.Fatalf("%s: To %v, %v", row.Kind, to, err)
		}
		if want := map[string]string{KindDoneUser: "Åsa Öberg", KindDoneChef: "Göran Ärlig"}[row.Kind]; to[0].Name != want {
			t.Errorf("%s: To name %q, want %q", row.Kind, to[0].Name, want)
		}
	}
}

// TestReplyThreading: replies answer the original and keep one "SV:".
func TestReplyThreading(t *testing.T) {
	row, err := newTestComposer(t, testConfig()).NoForm(NoForm{Original: original})
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, row.Raw)
	for _, tc := range []struct{ key, want string }{
		{"In-Reply-To", "<CAF=abc123@mail.kommun.se>"},
		{"References", "<first@mail.kommun.se> <second@mail.kommun.se> <CAF=abc123@mail.kommun.se>"},
		{"Auto-Submitted", "auto-replied"},
		{"X-Auto-Response-Suppress", "All"},
		{LoopHeader, "region.se"},
	} {
		if got := p.header.Get(tc.key); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.key, got, tc.want)
		}
	}
	if got, want := row.InReplyTo, "CAF=abc123@mail.kommun.se"; got != want {
		t.Errorf("row InReplyTo %q, want %q", got, want)
	}
	if got := len(p.header.Values("References")); got != 1 {
		t.Errorf("%d References fields, want one", got)
	}
	for _, tc := range []struct{ in, want string }{
		{"webSesam", "SV: webSesam"},
		{"SV: webSesam", "SV: webSesam"},
		{"Sv: SV: RE: webSesam", "SV: webSesam"},
		{"AW: Re[2]: webSesam", "SV: webSesam"},
		{"VB: webSesam", "SV: VB: webSesam"},
		{"", "SV: webSesam"},
		{"webSesam\r\nBcc: x@evil.se", "SV: webSesam Bcc: x@evil.se"},
	} {
		if got := ReplySubject(tc.in); got != tc.want {
			t.Errorf("ReplySubject(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRecipients: who gets which notice when addresses are missing or bad.
func TestRecipients(t *testing.T) {
	c := newTestComposer(t, testConfig())
	type want struct {
		to, cc []string
	}
	check := func(t *testing.T, row store.OutboxRow, w want) {
		t.Helper()
		if strings.Join(row.To, ",") != strings.Join(w.to, ",") || strings.Join(row.Cc, ",") != strings.Join(w.cc, ",") {
			t.Errorf("%s: to %v cc %v, want to %v cc %v", row.Kind, row.To, row.Cc, w.to, w.cc)
		}
	}
	ret := func(chef string, problems ...formparse.FieldProblem) (store.OutboxRow, error) {
		return c.Return(Return{Original: original, Forms: []ReturnedForm{{FileName: "a.pdf", Data: pdfBytes,
			Form: singleForm(with(singleFields(), "chef_epost", chef), problems...)}}})
	}
	t.Run("return to manager, copy to sender", func(t *testing.T) {
		row, err := ret("goran.arlig@kommun.se", formparse.FieldProblem{Field: "telefon", Reason: "saknas"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, row, want{[]string{"goran.arlig@kommun.se"}, []string{"karin.ostlund@kommun.se"}})
	})
	t.Run("return to sender when the manager's address has a problem", func(t *testing.T) {
		row, err := ret("goran.arlig@kommun.se", formparse.FieldProblem{Field: "chef_epost", Reason: "ska vara en e-postadress"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, row, want{[]string{"karin.ostlund@kommun.se"}, nil})
	})
	t.Run("return to sender when the manager is outside the allowed domains", func(t *testing.T) {
		row, err := ret("boss@gmail.com")
		if err != nil {
			t.Fatal(err)
		}
		check(t, row, want{[]string{"karin.ostlund@kommun.se"}, nil})
	})
	t.Run("return with the sender as manager has no copy", func(t *testing.T) {
		row, err := ret("Karin.Ostlund@kommun.se")
		if err != nil {
			t.Fatal(err)
		}
		check(t, row, want{[]string{"Karin.Ostlund@kommun.se"}, nil})
	})
	t.Run("return without any address", func(t *testing.T) {
		o := original
		o.From = "not an address"
		_, err := c.Return(Return{Original: o, Forms: []ReturnedForm{{FileName: "a.pdf", Form: singleForm(with(singleFields(), "chef_epost", ""))}}})
		if !errors.Is(err, ErrNoRecipient) || !strings.Contains(err.Error(), "neither a manager's nor the sender's address") {
			t.Errorf("got %v, want ErrNoRecipient naming both", err)
		}
	})
	t.Run("receipt to a bad sender", func(t *testing.T) {
		o := original
		o.From = "Karin <karin@kommun.se>"
		_, err := c.Receipt(Receipt{Original: o, Forms: []ReceivedForm{{FileName: "a.pdf", Form: singleForm(singleFields())}}})
		if !errors.Is(err, ErrNoRecipient) || !strings.Contains(err.Error(), `"Karin <karin@kommun.se>"`) {
			t.Errorf("got %v, want ErrNoRecipient with the address", err)
		}
	})
	t.Run("receipt and return without a form", func(t *testing.T) {
		_, err := c.Receipt(Receipt{Original: original})
		if !errors.Is(err, errNoForm) || !strings.Contains(err.Error(), "compose kvittens") {
			t.Errorf("receipt: got %v, want errNoForm", err)
		}
		_, err = c.Return(Return{Original: original})
		if !errors.Is(err, errNoForm) || !strings.Contains(err.Error(), "compose komplettering") {
			t.Errorf("return: got %v, want errNoForm", err)
		}
	})
	t.Run("rejection to manager, copy to user", func(t *testing.T) {
		row, err := c.Rejection(Rejection{Request: "R-1", Form: formparse.Single, Fields: singleFields(), Reason: "nej"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, row, want{[]string{"goran.arlig@kommun.se"}, []string{"asa.oberg@kommun.se"}})
	})
	t.Run("done without the manager's address", func(t *testing.T) {
		rows, err := c.Done(Done{Request: "R-1", Form: formparse.Single, Fields: with(singleFields(), "chef_epost", ""), UserName: "u"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Kind != KindDoneUser {
			t.Fatalf("got %d rows, want only %s", len(rows), KindDoneUser)
		}
		check(t, rows[0], want{[]string{"asa.oberg@kommun.se"}, nil})
	})
	t.Run("done without any address", func(t *testing.T) {
		_, err := c.Done(Done{Request: "R-1", Form: formparse.Single, Fields: with(singleFields(), "chef_epost", "", "epost", "x")})
		if !errors.Is(err, ErrNoRecipient) {
			t.Errorf("got %v, want ErrNoRecipient", err)
		}
	})
}

// TestTemplatesOverride: a file in TemplatesDir replaces the embedded one of
// the same name; a broken one fails NewComposer naming the file.
func TestTemplatesOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kvittens.txt"), []byte("Tack! {{len .Forms}} blankett.\n{{template \"signatur\" .}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.TemplatesDir = dir
	row, err := newTestComposer(t, cfg).Receipt(Receipt{Original: original, Forms: []ReceivedForm{{FileName: "a.pdf", Form: singleForm(singleFields())}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := parseMail(t, row.Raw).text; !strings.HasPrefix(got, "Tack! 1 blankett.\n") {
		t.Errorf("override not used; text starts %q", got[:min(len(got), 40)])
	}
	if err := os.WriteFile(filepath.Join(dir, "avslag.html"), []byte("{{.Nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewComposer(cfg)
	if err == nil || !strings.Contains(err.Error(), "parse template avslag.html") {
		t.Errorf("got %v, want a parse error naming avslag.html", err)
	}
}

// TestConfigValidate: every problem is reported with its key, at once.
func TestConfigValidate(t *testing.T) {
	if err := testConfig().WithDefaults().Validate(); err != nil {
		t.Fatalf("the test configuration is invalid: %v", err)
	}
	bad := Config{
		FromAddress:    "Intake <info@region.se>",
		AllowedDomains: []string{"region .se"},
		MaxPerHour:     -1,
		RetryBase:      time.Hour, RetryMax: time.Minute,
	}.WithDefaults()
	err := bad.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want ErrConfig", err)
	}
	for _, key := range []string{
		"from_address:", "message_id_domain:", "login_instructions:", "form_url:", "allowed_recipient_domains:",
		"max_per_recipient_per_hour:", "retry_max:",
	} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("the error lacks %q:\n%v", key, err)
		}
	}
}

// TestStoreCallbacks: Completed and Rejected compose from a store.Request
// as store.Complete and store.Reject hand it over, the type standing in
// for a missing `arende`.
func TestStoreCallbacks(t *testing.T) {
	c := newTestComposer(t, testConfig())
	fields := singleFields()
	delete(fields, "arende")
	rows, err := c.Completed(store.Request{ID: "WS-2026-000001", Form: string(formparse.Single), Type: "avslut", Fields: fields, Username: "asaobe01"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Subject != "webSesam: din behörighet är avslutad" || rows[0].Request != "WS-2026-000001" {
		t.Errorf("got %d rows, first %q for %q", len(rows), rows[0].Subject, rows[0].Request)
	}
	rows, err = c.Rejected(store.Request{ID: "WS-2026-000002", Form: string(formparse.Single), Type: "ny", Fields: fields, Reason: "Fel kundnummer."})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Kind != KindRejection || !strings.Contains(parseMail(t, rows[0].Raw).text, "Ärende: Ny registrering\n") {
		t.Errorf("rejection: %d rows, kind %s", len(rows), rows[0].Kind)
	}
}

// FuzzReplyHeaders: whatever the original's subject, the sender's name and
// the file name hold (CR LF, control bytes, invalid UTF-8, encoded-word
// look-alikes), the reply parses back with exactly our header fields, the
// subject and file name decode to their cleaned form, and nothing panics.
func FuzzReplyHeaders(f *testing.F) {
	f.Add("SV: webSesam ansökan för Åsa", "Karin Östlund", "ansökan Åsa.pdf")
	f.Add("webSesam\r\nBcc: x@evil.se", "Eve\r\nTo: y@evil.se", "a\r\nContent-Type: text/html.pdf")
	f.Add("=?utf-8?q?fake?= \x00\xff", "\"quoted\" <x@y>", "")
	f.Add(strings.Repeat("ååå ", 40), strings.Repeat("Ö", 100), strings.Repeat("é", 200)+".xlsx")
	c := newTestComposer(f, testConfig())
	want := []string{"Auto-Submitted", "Cc", "Content-Type", "Date", "From", "In-Reply-To", "Message-Id",
		"Mime-Version", "References", "Subject", "To", "X-Auto-Response-Suppress", LoopHeader}
	f.Fuzz(func(t *testing.T, subject, name, file string) {
		o := original
		o.Subject, o.FromName = subject, name
		row, err := c.Return(Return{Original: o, Forms: []ReturnedForm{{FileName: file, Data: pdfBytes,
			Form: singleForm(singleFields(), formparse.FieldProblem{Field: "telefon", Reason: "saknas"})}}})
		if err != nil {
			t.Fatalf("compose: %v", err)
		}
		p := parseMail(t, row.Raw)
		var keys []string
		fields := p.header.Fields()
		for fields.Next() {
			keys = append(keys, fields.Key())
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("header fields %v, want %v", keys, want)
		}
		if got, err := p.header.Subject(); err != nil || got != ReplySubject(subject) {
			t.Errorf("subject decodes to %q (%v), want %q", got, err, ReplySubject(subject))
		}
		wantFile := fileName(file)
		if wantFile == "" {
			wantFile = "blankett"
		}
		if len(p.attachments) != 1 || p.attachments[0].name != wantFile || !bytes.Equal(p.attachments[0].data, pdfBytes) {
			t.Errorf("attachment %+v, want %q", p.attachments, wantFile)
		}
	})
}
