package formparse

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/regionhmc/websesam-intake/formparse/formfill"
)

// fillPDF fills a PDF's fields by name the way a PDF tool does, with pdfcpu's
// own form filling: strings for text and radio groups, "Yes"/"Off" for
// checkboxes. Every name must exist in the PDF.
func fillPDF(t testing.TB, pdf []byte, values map[string]string) []byte {
	t.Helper()
	out, err := formfill.PDF(pdf, values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pdfSingleValues fill every field of the single-user form: an andring with
// leave of absence and a change of name, Swedish letters, dates, ticked and
// unticked boxes, and a list of customer numbers on two lines.
var pdfSingleValues = map[string]string{
	"arende":                 "andring",
	"galler_fran":            "2026-12-01",
	"fornamn":                "Åsa",
	"efternamn":              "Öberg",
	"hsa_id":                 "SE2321000131-E000000000001",
	"yrke":                   "Arbetsterapeut",
	"epost":                  "asa.oberg@region.example.se",
	"telefon":                "010-123 45 67",
	"verksamhet":             "Hälso- och sjukvårdsförvaltningen",
	"enhet":                  "Rehabenheten Väst, Ängelholm",
	"kundnummer":             "602154",
	"ovriga_kundnummer":      "602155\n602156",
	"buffertforrad":          "Förråd 3, plan 2",
	"roll_forskrivare":       "Yes",
	"roll_bestallare":        "Off",
	"andring_tjanstledighet": "Yes",
	"tjanstledig_fran":       "2026-12-01",
	"tjanstledig_till":       "2027-06-30",
	"andring_namnbyte":       "Yes",
	"tidigare_namn":          "Åsa Ekström",
	"andring_arbetsplats":    "Off",
	"tidigare_kundnummer":    "",
	"andring_roll":           "Off",
	"chef_namn":              "René Lindén",
	"chef_epost":             "rene.linden@region.example.se",
	"chef_telefon":           "+46 10 987 65 43",
	"datum":                  "2026-11-28",
}

// pdfMultiValues fill the shared part of the multi-user form; pdfMultiUsers fill
// rows 1, 2 and 4 (row 3 left empty, row 2 without a phone number).
var (
	pdfMultiValues = map[string]string{
		"arende":            "ny",
		"galler_fran":       "2027-01-01",
		"verksamhet":        "Vård- och omsorgsförvaltningen",
		"enhet":             "Hemsjukvården Öst",
		"kundnummer":        "602154",
		"ovriga_kundnummer": "",
		"buffertforrad":     "Sjöbo förråd",
		"roll_forskrivare":  "Yes",
		"roll_bestallare":   "Yes",
		"chef_namn":         "Björn Ekström",
		"chef_epost":        "bjorn.ekstrom@region.example.se",
		"chef_telefon":      "010-473 12 34",
		"datum":             "2026-11-30",
	}
	pdfMultiUsers = map[int]map[string]string{
		1: {"fornamn": "Åsa", "efternamn": "Öberg", "hsa_id": "SE2321000131-E000000000001", "yrke": "Sjuksköterska",
			"epost": "asa.oberg@region.example.se", "telefon": "010-111 11 11"},
		2: {"fornamn": "René", "efternamn": "Lindén", "hsa_id": "", "yrke": "Fysioterapeut",
			"epost": "rene.linden@region.example.se", "telefon": ""},
		4: {"fornamn": "Märta", "efternamn": "Åkesson", "hsa_id": "se2321000131-e000000000077", "yrke": "Arbetsterapeut",
			"epost": "marta.akesson@region.example.se", "telefon": "+46 10 222 22 22"},
	}
)

// pdfMultiFill is pdfMultiValues plus the user rows as PDF field names.
func pdfMultiFill() map[string]string {
	values := maps.Clone(pdfMultiValues)
	for n, row := range pdfMultiUsers {
		for col, v := range row {
			values[UserFieldName(n, col)] = v
		}
	}
	return values
}

// pdfWantUsers is every user row of the PDF as the reader gives it: all
// MaxPDFUsers rows, the unfilled ones with empty values.
func pdfWantUsers(def *Definition, filled map[int]map[string]string) []RawUser {
	var users []RawUser
	for n := 1; n <= def.MaxPDFUsers; n++ {
		row := map[string]string{}
		for _, c := range def.UserColumns {
			row[c.Name] = filled[n][c.Name]
		}
		users = append(users, RawUser{N: n, Fields: row})
	}
	return users
}

func pdfWithBlankett(def *Definition, values map[string]string) map[string]string {
	want := maps.Clone(values)
	want["blankett"] = def.Blankett()
	return want
}

// TestPDFRoundTrip writes each blank form, fills it with pdfcpu and reads it
// back: the reader must give exactly the values put in.
func TestPDFRoundTrip(t *testing.T) {
	tests := []struct {
		name         string
		def          *Definition
		values       map[string]string
		pdfWantUsers []RawUser
	}{
		{"single", singleDef, pdfSingleValues, nil},
		{"multi", multiDef, pdfMultiFill(), pdfWantUsers(multiDef, pdfMultiUsers)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			filled := fillPDF(t, blank(t, tt.def.ID, PDF), tt.values)
			raw, err := readPDF(filled, Options{})
			if err != nil {
				t.Fatalf("readPDF: %v", err)
			}
			wantFields := map[string]string{}
			for name, v := range pdfWithBlankett(tt.def, tt.values) {
				if _, _, ok := SplitUserFieldName(name); !ok {
					wantFields[name] = v
				}
			}
			if got, want := raw.Format, PDF; got != want {
				t.Errorf("Format = %q, want %q", got, want)
			}
			pdfDiffMaps(t, "Fields", raw.Fields, wantFields)
			if got, want := raw.HasUserSheet, tt.pdfWantUsers != nil; got != want {
				t.Errorf("HasUserSheet = %v, want %v", got, want)
			}
			if !reflect.DeepEqual(raw.Users, tt.pdfWantUsers) {
				t.Errorf("Users =\n%v\nwant\n%v", raw.Users, tt.pdfWantUsers)
			}
		})
	}
}

// pdfDiffMaps reports every key whose value differs.
func pdfDiffMaps(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(want))
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s[%q] missing, want %q", what, k, want[k])
		} else if g != want[k] {
			t.Errorf("%s[%q] = %q, want %q", what, k, g, want[k])
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s[%q] = %q, not wanted", what, k, g)
		}
	}
}

// TestPDFRoundTripRead sends the filled forms through Read, the way the
// daemon does, and checks the normalised result.
func TestPDFRoundTripRead(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		f := readAs(t, fillPDF(t, blank(t, Single, PDF), pdfSingleValues), Single)
		if got, want := f.Format, PDF; got != want {
			t.Errorf("Format = %q, want %q", got, want)
		}
		for name, want := range map[string]string{
			"arende": "andring", "fornamn": "Åsa", "efternamn": "Öberg", "chef_namn": "René Lindén",
			"enhet": "Rehabenheten Väst, Ängelholm", "ovriga_kundnummer": "602155, 602156",
			"roll_forskrivare": "true", "roll_bestallare": "false", "andring_tjanstledighet": "true",
			"tjanstledig_till": "2027-06-30", "blankett": "websesam-behorighet/1",
		} {
			if got := f.Fields[name]; got != want {
				t.Errorf("Fields[%q] = %q, want %q", name, got, want)
			}
		}
		if len(f.Problems) != 0 {
			t.Errorf("Problems = %v, want none (every mandatory field was filled)", f.Problems)
		}
	})
	t.Run("multi", func(t *testing.T) {
		f := readAs(t, fillPDF(t, blank(t, Multi, PDF), pdfMultiFill()), Multi)
		if got, want := userRows(f), []int{1, 2, 4}; !slices.Equal(got, want) {
			t.Errorf("user rows = %v, want %v", got, want)
		}
		if len(f.Users) == 3 {
			if got, want := f.Users[2].Fields["hsa_id"], "SE2321000131-E000000000077"; got != want {
				t.Errorf("user 4 hsa_id = %q, want %q", got, want)
			}
		}
		// Row 2 has no phone number, which a ny form needs.
		if got, want := problemFields(f), []string{"anvandare_2_telefon"}; !slices.Equal(got, want) {
			t.Errorf("problems = %v, want %v", got, want)
		}
	})
}

// TestPDFBlankReadsBack reads each blank form: a readable, incomplete form
// with its `blankett` tag and every field present and empty.
func TestPDFBlankReadsBack(t *testing.T) {
	for _, def := range Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			data := blank(t, def.ID, PDF)
			raw, err := readPDF(data, Options{})
			if err != nil {
				t.Fatalf("readPDF: %v", err)
			}
			want := byKind(def, map[Kind]string{Checkbox: "Off", Tag: def.Blankett()}, "")
			pdfDiffMaps(t, "Fields", raw.Fields, want)
			var wantU []RawUser
			if len(def.UserColumns) > 0 {
				wantU = pdfWantUsers(def, nil)
			}
			if !reflect.DeepEqual(raw.Users, wantU) {
				t.Errorf("Users = %v, want %v", raw.Users, wantU)
			}

			f := readAs(t, data, def.ID)
			if f.Complete() {
				t.Errorf("the blank form reads as complete")
			}
			if got, want := f.Fields["blankett"], def.Blankett(); got != want {
				t.Errorf("blankett = %q, want %q", got, want)
			}
		})
	}
}

// readFixture reads testdata/forms/<name>/input.pdf.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir, name, "input.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestReadPDFFixtureRaw checks raw values of PDFs made by other tools that
// the normalised fixture results cannot show: the exported checkbox value,
// the radio's export value, and a newline kept inside a value.
func TestReadPDFFixtureRaw(t *testing.T) {
	tests := []struct {
		fixture string
		want    map[string]string // a subset of Raw.Fields
		users   []int             // user rows with any value
	}{
		{"pdf-pdftk-xfdf", map[string]string{"arende": "ny", "roll_forskrivare": "Yes", "andring_roll": "Off",
			"fornamn": "Åsa", "chef_namn": "René Lindén", "blankett": "websesam-behorighet/1"}, nil},
		{"pdf-pdftk-fdf", map[string]string{"arende": "andring", "andring_tjanstledighet": "Yes", "kundnummer": "60215",
			"enhet": "Korttidsboendet Solgläntan", "tjanstledig_till": "2027-08-31"}, nil},
		{"pdf-qpdf-objstreams", map[string]string{"arende": "avslut", "ovriga_kundnummer": "602155\n602156",
			"efternamn": "Sandén"}, nil},
		{"pdf-no-blankett", map[string]string{"fornamn": "Elin", "roll_bestallare": "Yes"}, nil},
		{"pdf-multi-half-row", map[string]string{"arende": "ny", "blankett": "websesam-behorighet-flera/1"}, []int{1, 2, 3}},
		{"pdf-encrypted-owner-only", map[string]string{"fornamn": "Åsa", "arende": "ny"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			raw, err := readPDF(readFixture(t, tt.fixture), Options{})
			if err != nil {
				t.Fatalf("readPDF: %v", err)
			}
			for name, want := range tt.want {
				if got := raw.Fields[name]; got != want {
					t.Errorf("Fields[%q] = %q, want %q", name, got, want)
				}
			}
			if _, ok := raw.Fields["blankett"]; tt.fixture == "pdf-no-blankett" && ok {
				t.Errorf("Fields has blankett, but the field was removed")
			}
			var filled []int
			for _, u := range raw.Users {
				for _, v := range u.Fields {
					if v != "" {
						filled = append(filled, u.N)
						break
					}
				}
			}
			if !slices.Equal(filled, tt.users) {
				t.Errorf("filled user rows = %v, want %v", filled, tt.users)
			}
			for name := range raw.Fields {
				if _, _, ok := SplitUserFieldName(name); ok {
					t.Errorf("user field %q in Fields, want it in Users only", name)
				}
			}
		})
	}
}

// TestReadPDFBadInput asserts the sentinel and the exact detail for every
// kind of PDF that is not a readable form, through readPDF and through Read.
func TestReadPDFBadInput(t *testing.T) {
	filled := readFixture(t, "pdf-pdftk-xfdf")
	noFields := func() []byte {
		// The blank form with every field removed by pdfcpu: an AcroForm
		// dictionary with nothing in it.
		var names []string
		for _, f := range singleDef.Fields {
			names = append(names, f.Name)
		}
		var buf bytes.Buffer
		if err := api.RemoveFormFields(bytes.NewReader(blank(t, Single, PDF)), &buf, names, pdfConf()); err != nil {
			t.Fatalf("remove form fields: %v", err)
		}
		return buf.Bytes()
	}()
	const (
		noForm  = "not a webSesam form: the PDF has no fillable form fields (a scan or a printed form?)"
		damaged = "not a webSesam form: a damaged PDF: "
	)
	tests := []struct {
		name       string
		data       []byte
		sentinel   error
		want       string // the whole message, or its prefix when it ends in ": "
		wantDetail string // and then a substring of the rest
	}{
		{"encrypted with a user password", readFixture(t, "pdf-encrypted"), ErrEncrypted, "encrypted file: a password-protected PDF", ""},
		{"plain PDF from LibreOffice", readFixture(t, "pdf-no-form"), ErrNotAForm, noForm, ""},
		{"flattened form", readFixture(t, "pdf-pdftk-flattened"), ErrNotAForm, noForm, ""},
		{"AcroForm without fields", noFields, ErrNotAForm, noForm, ""},
		{"first half of a form", readFixture(t, "pdf-truncated"), ErrNotAForm, damaged, "EOF"},
		{"first 2000 bytes of a form", filled[:2000], ErrNotAForm, damaged, ""},
		{"header only", []byte("%PDF-1.7\n"), ErrNotAForm, damaged, ""},
		{"header and garbage", append([]byte("%PDF-1.4\n%âãÏÓ\n"), bytes.Repeat([]byte("garbage "), 500)...), ErrNotAForm, damaged, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readersFail(t, "readPDF", readPDF, tt.data, Options{}, tt.sentinel, func(who, got string) {
				if strings.HasSuffix(tt.want, ": ") {
					rest, ok := strings.CutPrefix(got, tt.want)
					if !ok || rest == "" || !strings.Contains(rest, tt.wantDetail) {
						t.Errorf("%s error = %q, want %q followed by a detail containing %q", who, got, tt.want, tt.wantDetail)
					}
					if len(rest) > 90 {
						t.Errorf("%s detail is %d bytes long, want a short one: %q", who, len(rest), rest)
					}
				} else if got != tt.want {
					t.Errorf("%s error = %q, want %q", who, got, tt.want)
				}
			})
		})
	}
}

// TestReadPDFOtherForm reads an unrelated AcroForm: readPDF returns its
// fields (it does not judge), and Read says it is a form of another kind.
func TestReadPDFOtherForm(t *testing.T) {
	data := readFixture(t, "pdf-other-form")
	raw, err := readPDF(data, Options{})
	if err != nil {
		t.Fatalf("readPDF: %v", err)
	}
	if got, want := raw.Fields["patient_namn"], "Göran Sjöström"; got != want {
		t.Errorf("patient_namn = %q, want %q", got, want)
	}
	if got, want := raw.Fields["bradskande"], "Yes"; got != want {
		t.Errorf("bradskande = %q, want %q", got, want)
	}
	_, err = Read(data, Options{})
	if !errors.Is(err, ErrNotAForm) {
		t.Fatalf("Read error = %v, want ErrNotAForm", err)
	}
	if got, want := err.Error(), "not a webSesam form: a form of another kind (0 of the 27 webSesam fields found)"; got != want {
		t.Errorf("Read error = %q, want %q", got, want)
	}
}

// TestWritePDFFields checks that the blank PDF holds exactly the fields of
// the definition, each of the right kind: text for values, checkboxes, one
// radio group per choice field with the option values as export values, no
// combo boxes (NOTES.md), a locked `blankett` with the form's tag, and a /DA
// on every text field.
func TestWritePDFFields(t *testing.T) {
	for _, def := range Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			data := blank(t, def.ID, PDF)
			fg, err := api.ExportForm(bytes.NewReader(data), "test", pdfConf())
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			f := fg.Forms[0]
			got := map[string]string{} // name → kind
			for _, x := range f.TextFields {
				got[x.Name] = "text"
				if x.Name == "blankett" {
					if !x.Locked || x.Value != def.Blankett() {
						t.Errorf("blankett: locked %v value %q, want locked with %q", x.Locked, x.Value, def.Blankett())
					}
				} else if x.Locked {
					t.Errorf("field %s is locked", x.Name)
				}
			}
			for _, x := range f.DateFields {
				got[x.Name] = "date"
			}
			for _, x := range f.CheckBoxes {
				got[x.Name] = "checkbox"
			}
			for _, x := range f.RadioButtonGroups {
				got[x.Name] = "radio"
				c, _ := def.Field(x.Name)
				var want []string
				for _, o := range c.Choices {
					want = append(want, o.Value)
				}
				if !slices.Equal(x.Options, want) {
					t.Errorf("radio %s options = %v, want %v", x.Name, x.Options, want)
				}
			}
			if n := len(f.ComboBoxes) + len(f.ListBoxes); n != 0 {
				t.Errorf("%d combo or list boxes, want none", n)
			}
			want := byKind(def, map[Kind]string{Checkbox: "checkbox", Choice: "radio"}, "text")
			for n := 1; n <= def.MaxPDFUsers; n++ {
				for _, c := range def.UserColumns {
					want[UserFieldName(n, c.Name)] = "text"
				}
			}
			pdfDiffMaps(t, "field kinds", got, want)

			ctx, err := api.ReadContext(bytes.NewReader(data), pdfConf())
			if err != nil {
				t.Fatal(err)
			}
			root, err := ctx.XRefTable.Catalog()
			if err != nil {
				t.Fatal(err)
			}
			acro, err := ctx.XRefTable.DereferenceDict(root["AcroForm"])
			if err != nil {
				t.Fatal(err)
			}
			fields, err := ctx.XRefTable.DereferenceArray(acro["Fields"])
			if err != nil {
				t.Fatal(err)
			}
			withDA := 0
			for _, o := range fields {
				d, err := ctx.XRefTable.DereferenceDict(o)
				if err != nil {
					t.Fatal(err)
				}
				if ft := d.NameEntry("FT"); ft != nil && *ft == "Tx" {
					if _, ok := d.Find("DA"); ok {
						withDA++
					} else {
						t.Errorf("text field %v has no /DA", d["T"])
					}
				}
			}
			if withDA == 0 {
				t.Errorf("no text field with /DA found")
			}
		})
	}
}

// TestWritePDFText checks what the blank form says, with pdftotext (poppler):
// the title, the instructions, every section heading, every label with its
// `*` exactly when the field can be mandatory, the choice labels, the user
// table's column headers and the support line. Swedish letters must come out
// as text, not as boxes.
func TestWritePDFText(t *testing.T) {
	needTool(t, "pdftotext")
	for _, def := range Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			path := blankPDFFile(t, def.ID)
			out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", path, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			// One space between words, so that wrapped lines and the layout
			// columns compare as plain text.
			text := strings.Join(strings.Fields(string(out)), " ")
			want := []string{def.Title, "webSesam i ämnesraden", "Fält markerade med * är obligatoriska", SupportLine}
			sections := map[string]bool{}
			for _, f := range def.Fields {
				switch {
				case f.Kind == Tag:
					continue
				case f.Kind == Choice:
					for _, o := range f.Choices {
						want = append(want, o.Label)
					}
				}
				sections[f.Section] = true
				want = append(want, mark(f.Label, f.Required))
				if !f.Required.Mandatory() && strings.Contains(text, f.Label+" *") {
					t.Errorf("optional field %s is marked * on the form", f.Name)
				}
			}
			for _, c := range def.UserColumns {
				sections[c.Section] = true
				want = append(want, mark(c.Label, c.Required))
			}
			for s := range sections {
				want = append(want, s)
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("the form does not say %q", w)
				}
			}
			if len(def.UserColumns) > 0 {
				for _, c := range def.Fields {
					if c.Kind == Choice {
						for _, o := range arendeChoices {
							if !slices.Contains(c.Choices, o) && strings.Contains(text, o.Label) {
								t.Errorf("the multi-user form offers %q", o.Label)
							}
						}
					}
				}
			}
		})
	}
}

// TestWritePDFTools opens the blank forms with qpdf and pdftk: the file is
// sound and pdftk lists every field by name.
func TestWritePDFTools(t *testing.T) {
	needTool(t, "qpdf")
	needTool(t, "pdftk")
	for _, def := range Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			path := blankPDFFile(t, def.ID)
			if out, err := exec.Command("qpdf", "--check", path).CombinedOutput(); err != nil {
				t.Errorf("qpdf --check: %v\n%s", err, out)
			}
			out, err := exec.Command("pdftk", path, "dump_data_fields_utf8").Output()
			if err != nil {
				t.Fatalf("pdftk dump_data_fields_utf8: %v", err)
			}
			got := map[string]bool{}
			for _, line := range strings.Split(string(out), "\n") {
				if name, ok := strings.CutPrefix(line, "FieldName: "); ok {
					got[name] = true
				}
			}
			want := map[string]bool{}
			for _, f := range def.Fields {
				want[f.Name] = true
			}
			for n := 1; n <= def.MaxPDFUsers; n++ {
				for _, c := range def.UserColumns {
					want[UserFieldName(n, c.Name)] = true
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("pdftk lists %d fields, want %d: missing %v, extra %v",
					len(got), len(want), missingKeys(want, got), missingKeys(got, want))
			}
		})
	}
}

// missingKeys lists the keys of a that b lacks, sorted.
func missingKeys(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// FuzzReadPDF feeds readPDF every PDF fixture, the blank forms and a filled
// one, mutated: it must never panic, and must return either a Raw or an
// error wrapping one of the package's sentinels.
func FuzzReadPDF(f *testing.F) {
	for _, data := range pdfSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := readPDF(data, Options{})
		if err == nil {
			if raw == nil || raw.Format != PDF || raw.Fields == nil {
				t.Fatalf("readPDF = %+v, nil error; want a Raw of format pdf", raw)
			}
			for i := 1; i < len(raw.Users); i++ {
				if raw.Users[i-1].N >= raw.Users[i].N {
					t.Fatalf("user rows out of order: %d before %d", raw.Users[i-1].N, raw.Users[i].N)
				}
			}
			return
		}
		if raw != nil {
			t.Fatalf("readPDF returned a Raw and the error %v", err)
		}
		if !wrapsSentinel(err) {
			t.Fatalf("readPDF error %q wraps no sentinel", err)
		}
	})
}

// BenchmarkReadPDF reads a filled single-user form through Read, as the
// daemon does (parse, identify, check). Compare with `qpdf --json` on the
// same file (see the report in the commit that added it).
func BenchmarkReadPDF(b *testing.B) {
	data := readFixture(b, "pdf-pdftk-xfdf")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := Read(data, Options{})
		if err != nil || !f.Complete() {
			b.Fatalf("Read: %v (complete %v)", err, f != nil && f.Complete())
		}
	}
}

// TestReadPDFConcurrent reads different PDFs from several goroutines at once,
// as the daemon may: every result must equal the one read alone (run with
// -race to see pdfcpu's shared state).
func TestReadPDFConcurrent(t *testing.T) {
	names := []string{"pdf-pdftk-xfdf", "pdf-pdftk-fdf", "pdf-qpdf-objstreams", "pdf-multi-half-row", "pdf-encrypted", "pdf-no-form"}
	type result struct {
		raw *Raw
		err string
	}
	inputs := make([][]byte, len(names))
	want := make([]result, len(names))
	for i, name := range names {
		inputs[i] = readFixture(t, name)
		raw, err := readPDF(inputs[i], Options{})
		want[i] = result{raw, fmt.Sprint(err)}
	}
	const rounds = 4
	got := make([]result, len(names)*rounds)
	done := make(chan struct{})
	for j := range got {
		go func() {
			defer func() { done <- struct{}{} }()
			raw, err := readPDF(inputs[j%len(names)], Options{})
			got[j] = result{raw, fmt.Sprint(err)}
		}()
	}
	for range got {
		<-done
	}
	for j, g := range got {
		w := want[j%len(names)]
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s read concurrently = %+v, %s; alone = %+v, %s", names[j%len(names)], g.raw, g.err, w.raw, w.err)
		}
	}
}

// TestReadPDFUserRowsPastTheCap reads a PDF (made by pdfcpu's create, as a
// re-made form might be) with user rows numbered past Definition.MaxUsers:
// they are counted in ExtraUsers, not read, and only when they hold a value.
func TestReadPDFUserRowsPastTheCap(t *testing.T) {
	over := strconv.Itoa(multiDef.MaxUsers + 1)
	far := strconv.Itoa(multiDef.MaxUsers + 7)
	js := `{"paper": "A4P", "origin": "UpperLeft",
		"fonts": {"input": {"name": "Helvetica", "size": 10}, "label": {"name": "Helvetica", "size": 10}},
		"pages": {"1": {"content": {"textfield": [
			{"id": "anvandare_1_fornamn", "value": "Åsa", "pos": [100, 100], "width": 150},
			{"id": "anvandare_` + over + `_fornamn", "value": "René", "pos": [100, 130], "width": 150},
			{"id": "anvandare_` + over + `_epost", "value": "rene.linden@region.example.se", "pos": [100, 160], "width": 150},
			{"id": "anvandare_` + far + `_fornamn", "pos": [100, 190], "width": 150},
			{"id": "kundnummer", "value": "602154", "pos": [100, 220], "width": 150}
		]}}}}`
	var buf bytes.Buffer
	if err := api.Create(nil, strings.NewReader(js), &buf, pdfConf()); err != nil {
		t.Fatalf("create: %v", err)
	}
	raw, err := readPDF(buf.Bytes(), Options{})
	if err != nil {
		t.Fatalf("readPDF: %v", err)
	}
	wantUsers := []RawUser{{N: 1, Fields: map[string]string{"fornamn": "Åsa"}}}
	if !reflect.DeepEqual(raw.Users, wantUsers) {
		t.Errorf("Users = %v, want %v", raw.Users, wantUsers)
	}
	if got, want := raw.ExtraUsers, 1; got != want {
		t.Errorf("ExtraUsers = %d, want %d", got, want)
	}
	if !raw.HasUserSheet {
		t.Errorf("HasUserSheet = false, want true")
	}
	pdfDiffMaps(t, "Fields", raw.Fields, map[string]string{"kundnummer": "602154"})
}

// needTool fails a test whose outside tool is missing, saying what to
// install: a check that did not run must never count as passed.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is not installed: apt-get install qpdf pdftk-java poppler-utils (.ci/run does)", tool)
	}
}

func TestPDFFieldName(t *testing.T) {
	testFunc(t, "pdfFieldName", pdfFieldName, []funcCase[string]{
		{"fornamn", "fornamn"},
		{"form1.fornamn", "fornamn"},
		{"topmostSubform[0].Page1[0].fornamn[0]", "fornamn"},
		{"form1.anvandare_3_epost", "anvandare_3_epost"},
		{"form1.anvandare_3_shoesize", "form1.anvandare_3_shoesize"},
		{"Page1.Name", "Page1.Name"},
		{"other.kundnummer[2]", "kundnummer"},
		{"Check Box1[0]", "Check Box1[0]"},
		{"", ""},
	})
}
