package formparse

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse/hostile"
)

// completeValues is a complete single-user application as workbook cells.
func completeValues() map[string]string {
	return map[string]string{
		"blankett": singleDef.Blankett(), "arende": "ny", "galler_fran": "2026-12-01",
		"fornamn": "Åsa", "efternamn": "Öberg", "yrke": "Arbetsterapeut", "epost": "asa.oberg@region.example.se",
		"telefon": "010-123 45 67", "verksamhet": "Hälso- och sjukvårdsförvaltningen", "enhet": "Rehab Väst",
		"kundnummer": "602154", "roll_forskrivare": "Ja", "chef_namn": "René Lindén",
		"chef_epost": "rene.linden@region.example.se", "chef_telefon": "010-987 65 43", "datum": "2026-11-28",
	}
}

// TestHostileWorkbooks: each workbook bomb of issue 10 is refused by the
// pre-scan with its own reason, before excelize parses anything, and the
// refusal allocates little (a bound on bytes allocated, not on time).
func TestHostileWorkbooks(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"extent hidden by blanks", hostile.XLSXExtentSpaces(hostile.ExtentRows),
			"file too large: worksheet xl/worksheets/sheet1.xml spans more than 250000 cells"},
		{"extent hidden by character references", hostile.XLSXExtentCharRefs(hostile.ExtentRows),
			"file too large: worksheet xl/worksheets/sheet1.xml spans more than 250000 cells"},
		{"shared strings", hostile.XLSXSharedStrings(hostile.SharedStrings),
			"file too large: the workbook's shared strings (xl/sharedStrings.xml) hold more than 50000 entries"},
		{"defined names", hostile.XLSXDefinedNames(hostile.DefinedNames),
			"file too large: the workbook defines more than 1000 names (xl/workbook.xml)"},
		{"styles", hostile.XLSXStyles(hostile.StyleFormats),
			"file too large: the workbook's styles (xl/styles.xml) hold more than 20000 elements"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.data) > DefaultMaxSize {
				t.Errorf("the bomb is %d bytes, over the attachment limit that would refuse it anyway", len(c.data))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(c.data, Options{})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) || err.Error() != c.want {
				t.Fatalf("Read = %v, want %q", err, c.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("refusing it allocated %d MB, want at most 64", alloc>>20)
			}
		})
	}
}

// TestHostileExtentOneCell: one cell written either hidden way at the
// sheet's last row is seen too.
func TestHostileExtentOneCell(t *testing.T) {
	for _, ref := range []string{`r = "A1048576"`, `r="&#65;1048576"`, "r\n=\t'A1048576'", `x:r="A1048576"`} {
		sheet := `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row><c ` + ref + `><v>1</v></c></row></sheetData></worksheet>`
		e, err := scanPart(strings.NewReader(sheet))
		if err != nil || e.maxRow != 1048576 {
			t.Errorf("scanPart(%s) = row %d, %v; want 1048576", ref, e.maxRow, err)
		}
	}
	// A part in another encoding would be read by excelize through a
	// transcoder, and not by the pre-scan: it is refused.
	_, err := scanPart(strings.NewReader(`<?xml version="1.0" encoding="UTF-16"?><worksheet/>`))
	if !errors.Is(err, errCharset) {
		t.Errorf("UTF-16 part: %v, want errCharset", err)
	}
}

// TestHostileLongSurname: a complete form whose surname is 40,000
// characters is returned with the problem, never queued (its value once
// became a key the store refused, which stopped the mailbox).
func TestHostileLongSurname(t *testing.T) {
	ok, err := Read(hostile.XLSXForm(completeValues()), Options{})
	if err != nil || !ok.Complete() {
		t.Fatalf("the complete form: %v, %+v", err, ok)
	}
	v := completeValues()
	v["efternamn"] = strings.Repeat("Lindqvist", 40000/9+1)[:40000]
	form, err := Read(hostile.XLSXForm(v), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []FieldProblem{{Field: "efternamn", Label: "Efternamn", Reason: "för lång, högst 100 tecken"}}
	if len(form.Problems) != 1 || form.Problems[0] != want[0] {
		t.Errorf("problems = %+v, want %+v", form.Problems, want)
	}
}
