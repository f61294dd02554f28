// Package formtest makes filled forms from the published blanks for the
// tests of the daemon and the CLI: a PDF filled as a PDF program saves it,
// a workbook filled as a person types into its cells. formparse's own
// tests cannot use it (it imports formparse); they fill with formfill.
package formtest

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/formfill"
)

// blanks memoises formparse.WriteBlank: writing a blank PDF costs more
// than filling it (about a second under the race detector on a busy
// machine), and every fill starts from the same blank.
var blanks sync.Map // blankKey -> []byte

type blankKey struct {
	id     formparse.FormID
	format formparse.Format
}

// Blank is a copy of the blank form id in format, written once per process.
func Blank(id formparse.FormID, format formparse.Format) ([]byte, error) {
	if b, ok := blanks.Load(blankKey{id, format}); ok {
		return bytes.Clone(b.([]byte)), nil
	}
	b, err := formparse.WriteBlank(id, format)
	if err != nil {
		return nil, err
	}
	blanks.Store(blankKey{id, format}, b)
	return bytes.Clone(b), nil
}

// Person is a complete single-user "ny" application of first last, as a
// manager types it; the name makes each form distinct (the same bytes twice
// are a duplicate).
func Person(first, last string) map[string]string {
	return map[string]string{
		"arende": "ny", "galler_fran": "2026-12-01", "fornamn": first, "efternamn": last,
		"hsa_id": "SE2321000131-E000000000101", "yrke": "Arbetsterapeut",
		"epost": ASCIIUser(first, last) + "@region.example.se", "telefon": "010-123 45 67",
		"verksamhet": "Hälso- och sjukvårdsförvaltningen", "enhet": "Rehabenheten Väst",
		"kundnummer": "602154", "roll_forskrivare": "Yes",
		"chef_namn": "René Lindén", "chef_epost": "rene.linden@region.example.se",
		"chef_telefon": "010-987 65 43", "datum": "2026-11-28",
	}
}

// ASCIIUser is the mail user name of first last: "åsa.öberg" is not an
// address a form accepts.
func ASCIIUser(first, last string) string {
	return strings.NewReplacer("å", "a", "ä", "a", "ö", "o", "é", "e").Replace(strings.ToLower(first + "." + last))
}

// FillPDF fills the blank PDF form id with values by field name, with
// pdfcpu's form filling, as a PDF program saves typed values: checkboxes
// ticked for "Yes", the Ärende radio group by its export value.
func FillPDF(t testing.TB, id formparse.FormID, values map[string]string) []byte {
	t.Helper()
	blank, err := Blank(id, formparse.PDF)
	if err != nil {
		t.Fatalf("write blank %s: %v", id, err)
	}
	out, err := formfill.PDF(blank, values)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return out
}

// FillXLSX fills the blank workbook id as a person types into it: each
// value into the cell its defined name refers to ("Yes", a ticked box in
// the PDF, as "Ja"), and users into the rows under the header row of the
// user sheet.
func FillXLSX(t testing.TB, id formparse.FormID, values map[string]string, users [][]string) []byte {
	t.Helper()
	blank, err := Blank(id, formparse.XLSX)
	if err != nil {
		t.Fatalf("write blank workbook %s: %v", id, err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(blank), excelize.Options{UnzipSizeLimit: 50 << 20, UnzipXMLSizeLimit: 50 << 20})
	if err != nil {
		t.Fatalf("open blank workbook %s: %v", id, err)
	}
	defer f.Close()
	refs := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		refs[dn.Name] = dn.RefersTo
	}
	for name, v := range values {
		if v == "Yes" {
			v = "Ja"
		}
		ref, ok := refs[name]
		if !ok {
			t.Fatalf("the blank workbook of %s has no defined name %q", id, name)
		}
		sheet, cell, ok := strings.Cut(ref, "!")
		if !ok {
			t.Fatalf("defined name %s refers to %q", name, ref)
		}
		sheet = strings.ReplaceAll(strings.Trim(sheet, "'"), "''", "'")
		if err := f.SetCellStr(sheet, strings.ReplaceAll(cell, "$", ""), v); err != nil {
			t.Fatalf("fill workbook %s: %v", name, err)
		}
	}
	if len(users) > 0 {
		fillUsers(t, f, users)
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatalf("write workbook: %v", err)
	}
	return buf.Bytes()
}

func fillUsers(t testing.TB, f *excelize.File, users [][]string) {
	t.Helper()
	rows, err := f.GetRows(formparse.UserSheet)
	if err != nil {
		t.Fatal(err)
	}
	header := -1
	for i, r := range rows {
		if len(r) > 0 && strings.HasPrefix(r[0], "Förnamn") {
			header = i + 1
			break
		}
	}
	if header < 0 {
		t.Fatal("no header row on the user sheet")
	}
	for i, u := range users {
		cell, err := excelize.CoordinatesToCellName(1, header+1+i)
		if err != nil {
			t.Fatal(err)
		}
		row := make([]any, len(u))
		for j, v := range u {
			row[j] = v
		}
		if err := f.SetSheetRow(formparse.UserSheet, cell, &row); err != nil {
			t.Fatal(err)
		}
	}
}
