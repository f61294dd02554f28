package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/formtest"
)

// runCLI runs the program in-process and returns its output and exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

// fillPDF and fillXLSX make filled forms from the published blanks.
var (
	fillPDF  = formtest.FillPDF
	fillXLSX = formtest.FillXLSX
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// singleValues is a complete single-user form (ny) as a manager types it:
// formtest's Åsa Öberg with values the parser normalises (a date with dots,
// a lower-case HSA-id, a spaced customer number, a list with semicolons).
func singleValues(box string) map[string]string {
	v := formtest.Person("Åsa", "Öberg")
	maps.Copy(v, map[string]string{
		"galler_fran":       "1.12.2026",
		"hsa_id":            "se2321000131-e000000000001",
		"telefon":           "010-473 80 80",
		"enhet":             "Rehab Väst",
		"kundnummer":        "602 154",
		"ovriga_kundnummer": "602155; 602156",
		"roll_forskrivare":  box,
		"chef_telefon":      "010-473 80 81",
		"datum":             "2026-11-30",
	})
	return v
}

const singleFieldsJSON = `"fields":{"blankett":"websesam-behorighet/1","arende":"ny","galler_fran":"2026-12-01",` +
	`"fornamn":"Åsa","efternamn":"Öberg","hsa_id":"SE2321000131-E000000000001","yrke":"Arbetsterapeut",` +
	`"epost":"asa.oberg@region.example.se","telefon":"010-473 80 80","verksamhet":"Hälso- och sjukvårdsförvaltningen",` +
	`"enhet":"Rehab Väst","kundnummer":"602154","ovriga_kundnummer":"602155, 602156","buffertforrad":"",` +
	`"roll_forskrivare":true,"roll_bestallare":false,"andring_tjanstledighet":false,"tjanstledig_fran":"",` +
	`"tjanstledig_till":"","andring_namnbyte":false,"tidigare_namn":"","andring_arbetsplats":false,` +
	`"tidigare_kundnummer":"","andring_roll":false,"chef_namn":"René Lindén","chef_epost":"rene.linden@region.example.se",` +
	`"chef_telefon":"010-473 80 81","datum":"2026-11-30"}`

// multiFiles writes the same multi-user form (avslut; user 2 partly filled)
// as a PDF and as a workbook.
func multiFiles(t *testing.T, dir string) (pdf, xlsx string) {
	shared := map[string]string{
		"arende":       "avslut",
		"galler_fran":  "2026-12-31",
		"kundnummer":   "602154",
		"chef_namn":    "René Lindén",
		"chef_epost":   "rene.linden@region",
		"chef_telefon": "010-473 80 81",
		"datum":        "2026-11-30",
	}
	pdfValues := map[string]string{
		"anvandare_1_fornamn": "Björn", "anvandare_1_efternamn": "Ekström", "anvandare_1_epost": "bjorn.ekstrom@region.example.se",
		"anvandare_3_fornamn": "Karin", "anvandare_3_epost": "karin.aberg@region.example.se",
	}
	for k, v := range shared {
		pdfValues[k] = v
	}
	pdf = writeFile(t, dir, "flera.pdf", fillPDF(t, formparse.Multi, pdfValues))
	xlsx = writeFile(t, dir, "flera.xlsx", fillXLSX(t, formparse.Multi, shared, [][]string{
		{"Björn", "Ekström", "", "", "bjorn.ekstrom@region.example.se", ""},
		{},
		{"Karin", "", "", "", "karin.aberg@region.example.se", ""},
	}))
	return pdf, xlsx
}

const multiJSONTail = `"form":"websesam-behorighet-flera","version":1,"fields":{"blankett":"websesam-behorighet-flera/1",` +
	`"arende":"avslut","galler_fran":"2026-12-31","verksamhet":"","enhet":"","kundnummer":"602154","ovriga_kundnummer":"",` +
	`"buffertforrad":"","roll_forskrivare":false,"roll_bestallare":false,"chef_namn":"René Lindén",` +
	`"chef_epost":"rene.linden@region","chef_telefon":"010-473 80 81","datum":"2026-11-30"},` +
	`"users":[{"fornamn":"Björn","efternamn":"Ekström","hsa_id":"","yrke":"","epost":"bjorn.ekstrom@region.example.se","telefon":""},` +
	`{"fornamn":"Karin","efternamn":"","hsa_id":"","yrke":"","epost":"karin.aberg@region.example.se","telefon":""}],` +
	`"problems":[{"field":"anvandare_3_efternamn","label":"Användare 3 – Efternamn","reason":"saknas"},` +
	`{"field":"chef_epost","label":"Ansvarig chef – e-post","reason":"ska vara en e-postadress, t.ex. namn@region.se"}],"complete":false}`

func TestParseJSON(t *testing.T) {
	dir := t.TempDir()
	singlePDF := writeFile(t, dir, "ansokan.pdf", fillPDF(t, formparse.Single, singleValues("Yes")))
	singleXLSX := writeFile(t, dir, "ansokan.xlsx", fillXLSX(t, formparse.Single, singleValues("Ja"), nil))
	multiPDF, multiXLSX := multiFiles(t, dir)
	text := writeFile(t, dir, "brev.txt", []byte("Hej! Här kommer ansökan.\n"))
	missing := filepath.Join(dir, "finns-inte.pdf")
	folder := filepath.Join(dir, "mapp.pdf")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	huge := writeFile(t, dir, "stor.pdf", []byte("%PDF-1.7\n"))
	if err := os.Truncate(huge, formparse.DefaultMaxSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		files    []string
		want     []string // one line per file
		wantCode int
	}{
		{
			name:     "complete single-user forms",
			files:    []string{singlePDF, singleXLSX},
			want:     []string{`{"file":"` + singlePDF + `","form":"websesam-behorighet","version":1,` + singleFieldsJSON + `,"users":[],"problems":[],"complete":true}`, `{"file":"` + singleXLSX + `","form":"websesam-behorighet","version":1,` + singleFieldsJSON + `,"users":[],"problems":[],"complete":true}`},
			wantCode: 0,
		},
		{
			name:     "incomplete multi-user forms still exit 0",
			files:    []string{multiPDF, multiXLSX},
			want:     []string{`{"file":"` + multiPDF + `",` + multiJSONTail, `{"file":"` + multiXLSX + `",` + multiJSONTail},
			wantCode: 0,
		},
		{
			name:  "a file that is not a form, and one that is missing, after a good one",
			files: []string{text, singleXLSX, missing},
			want: []string{
				`{"file":"` + text + `","error":"not a webSesam form: neither a PDF nor an Excel workbook"}`,
				`{"file":"` + singleXLSX + `","form":"websesam-behorighet","version":1,` + singleFieldsJSON + `,"users":[],"problems":[],"complete":true}`,
				`{"file":"` + missing + `","error":"open ` + missing + `: no such file or directory"}`,
			},
			wantCode: 1,
		},
		{
			name:  "a directory and a file over the size limit",
			files: []string{folder, huge},
			want: []string{
				`{"file":"` + folder + `","error":"read ` + folder + `: is a directory"}`,
				`{"file":"` + huge + `","error":"file too large: 10485761 bytes, the limit is 10485760"}`,
			},
			wantCode: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, append([]string{"parse", "--json"}, tt.files...)...)
			if code != tt.wantCode {
				t.Errorf("exit status = %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(got), len(tt.want), stdout)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], tt.want[i])
				}
				if !json.Valid([]byte(got[i])) {
					t.Errorf("line %d is not JSON", i+1)
				}
			}
		})
	}
}

func TestParseText(t *testing.T) {
	dir := t.TempDir()
	_, multiXLSX := multiFiles(t, dir)
	missing := filepath.Join(dir, "finns-inte.xlsx")
	stdout, stderr, code := runCLI(t, "parse", multiXLSX, missing)
	if code != 1 || stderr != "" {
		t.Errorf("exit status = %d, stderr %q; want 1 and nothing", code, stderr)
	}
	want := multiXLSX + `
  Ansökan/ändring av behörighet för flera användare som önskar samma behörighet
  (websesam-behorighet-flera/1, XLSX)

  Ärende
    Ärende                     Avslut
    Gäller från (datum)        2026-12-31

  Verksamhet och kundnummer
    Verksamhet/förvaltning     –
    Enhet/arbetsplats          –
    Kundnummer (standardkund)  602154
    Övriga kundnummer          –
    Buffertförråd              –

  Behörighet
    Förskrivare                ☐
    Beställare                 ☐

  Användare (2)
    Nr  Förnamn  Efternamn  HSA-id  Titel/yrke  E-post                           Telefon
    1   Björn    Ekström    –       –           bjorn.ekstrom@region.example.se  –
    3   Karin    –          –       –           karin.aberg@region.example.se    –

  Ansvarig chef
    Ansvarig chef – namn       René Lindén
    Ansvarig chef – e-post     rene.linden@region
    Ansvarig chef – telefon    010-473 80 81
    Datum                      2026-11-30

  Problem:
    Användare 3 – Efternamn: saknas
    Ansvarig chef – e-post: ska vara en e-postadress, t.ex. namn@region.se

` + missing + `
  Inte en läsbar blankett: open ` + missing + `: no such file or directory
`
	if stdout != want {
		t.Errorf("output:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestParseTextComplete(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "ansokan.pdf", fillPDF(t, formparse.Single, singleValues("Yes")))
	stdout, _, code := runCLI(t, "parse", p)
	if code != 0 {
		t.Errorf("exit status = %d, want 0", code)
	}
	wantContains(t, "output", stdout,
		"\n    Förnamn                    Åsa\n",
		"\n    HSA-id                     SE2321000131-E000000000001\n",
		"\n    Förskrivare                ☒\n",
		"\n    Beställare                 ☐\n",
		"\n    Ärende                     Ny registrering\n",
		"\n  Komplett\n",
	)
	if strings.Contains(stdout, "Problem:") || regexp.MustCompile(`(?m) +$`).MatchString(stdout) {
		t.Errorf("output has problems or trailing spaces:\n%s", stdout)
	}
}

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"no files", []string{"parse"}, "websesam-intake: parse needs at least 1 argument(s) (see 'websesam-intake parse --help')\n"},
		{"no files with json", []string{"parse", "--json"}, "websesam-intake: parse needs at least 1 argument(s) (see 'websesam-intake parse --help')\n"},
		{"unknown flag", []string{"parse", "--yaml", "x.pdf"}, "websesam-intake: unknown flag: --yaml (see 'websesam-intake parse --help')\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.args...)
			if code != 2 {
				t.Errorf("exit status = %d, want 2", code)
			}
			if stderr != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr, tt.wantStderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}
