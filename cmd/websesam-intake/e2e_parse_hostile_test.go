//go:build e2e

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/hostile"
)

// TestE2EParseHostile runs each hostile file of issue 10 through the built
// binary's parse, which reads it in its fenced worker as the daemon would:
// each is refused with a non-zero exit and its own reason. It lives in the
// end-to-end suite because under make test's race detector the worker takes
// tens of seconds over the bombs; the in-process reading of each is
// formparse's TestHostileWorkbooks and TestReadPDFObjectStreamBomb, the
// worker's limits formparse/fence's tests.
func TestE2EParseHostile(t *testing.T) {
	s := loadStack(t)
	dir := t.TempDir()
	cases := []struct {
		file string
		data []byte
		want string
	}{
		{"objstm-bomb.pdf", hostile.PDFObjectStreamBomb(), "file too large: a compressed stream of the PDF inflates to more than 4 MiB"},
		{"extent-blanks.xlsx", hostile.XLSXExtentSpaces(hostile.ExtentRows), "file too large: worksheet xl/worksheets/sheet1.xml spans more than 250000 cells"},
		{"extent-charrefs.xlsx", hostile.XLSXExtentCharRefs(hostile.ExtentRows), "file too large: worksheet xl/worksheets/sheet1.xml spans more than 250000 cells"},
		{"shared-strings.xlsx", hostile.XLSXSharedStrings(hostile.SharedStrings), "file too large: the workbook's shared strings (xl/sharedStrings.xml) hold more than 50000 entries"},
		{"defined-names.xlsx", hostile.XLSXDefinedNames(hostile.DefinedNames), "file too large: the workbook defines more than 1000 names (xl/workbook.xml)"},
		{"styles.xlsx", hostile.XLSXStyles(hostile.StyleFormats), "file too large: the workbook's styles (xl/styles.xml) hold more than 20000 elements"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join(dir, c.file)
			if err := os.WriteFile(path, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := s.cli(t, "parse", "--json", path)
			if code != 1 {
				t.Errorf("exit status %d, want 1 (stderr %q)", code, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("output %q: %v", stdout, err)
			}
			if got["error"] != c.want {
				t.Errorf("error = %q, want %q", got["error"], c.want)
			}
			// The text output names the reason as well.
			stdout, _, code = s.cli(t, "parse", path)
			if want := "Inte en läsbar blankett: " + c.want; code != 1 || !strings.Contains(stdout, want) {
				t.Errorf("text output (exit %d) %q lacks %q", code, stdout, want)
			}
		})
	}

	// A 40,000-character surname on an otherwise complete form: a readable
	// form (exit 0, as for every readable form) whose problem says the limit.
	t.Run("long surname", func(t *testing.T) {
		values := longSurname()
		path := filepath.Join(dir, "long-surname.xlsx")
		if err := os.WriteFile(path, hostile.XLSXForm(values), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := s.cli(t, "parse", "--json", path)
		if code != 0 {
			t.Fatalf("exit status %d, want 0 (stderr %q)", code, stderr)
		}
		var got struct {
			Complete bool                     `json:"complete"`
			Problems []formparse.FieldProblem `json:"problems"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		want := formparse.FieldProblem{Field: "efternamn", Label: "Efternamn", Reason: "för lång, högst 100 tecken"}
		if got.Complete || len(got.Problems) != 1 || got.Problems[0] != want {
			t.Errorf("complete %v, problems %+v; want only %+v", got.Complete, got.Problems, want)
		}
	})
}

// longSurname is a workbook's values of an otherwise complete form whose
// surname is 40,000 characters long.
func longSurname() map[string]string {
	return map[string]string{
		"blankett": "websesam-behorighet/1", "arende": "ny", "galler_fran": "2026-12-01",
		"fornamn": "Åsa", "efternamn": strings.Repeat("Lindqvist", 40000/9+1)[:40000], "yrke": "Arbetsterapeut",
		"epost": "asa.oberg@region.example.se", "telefon": "010-123 45 67", "verksamhet": "Hälso- och sjukvård",
		"enhet": "Rehab Väst", "kundnummer": "602154", "roll_forskrivare": "Ja", "chef_namn": "René Lindén",
		"chef_epost": "rene.linden@region.example.se", "chef_telefon": "010-987 65 43", "datum": "2026-11-28",
	}
}
