package formparse

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// openXLSX opens workbook bytes for a test to inspect or fill.
func openXLSX(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: 10 << 20, UnzipXMLSizeLimit: 10 << 20})
	if err != nil {
		t.Fatalf("open workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// saveXLSX writes f to bytes.
func saveXLSX(t testing.TB, f *excelize.File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatalf("write workbook: %v", err)
	}
	return buf.Bytes()
}

// namedCell finds the cell a workbook-level defined name points at, parsing
// the writer's own form of reference ('Ansökan'!$B$8) independently of the
// reader's resolver.
func namedCell(t testing.TB, f *excelize.File, name string) (sheet, cell string) {
	t.Helper()
	for _, dn := range f.GetDefinedName() {
		if dn.Name != name || dn.Scope != "Workbook" {
			continue
		}
		s, c, ok := strings.Cut(dn.RefersTo, "!")
		if !ok {
			t.Fatalf("name %s refers to %q", name, dn.RefersTo)
		}
		return strings.Trim(s, "'"), strings.ReplaceAll(c, "$", "")
	}
	t.Fatalf("no workbook-level name %q", name)
	return "", ""
}

// fillByName sets each named cell: strings as text, time.Time as a real
// date cell, ints as numbers.
func fillByName(t testing.TB, f *excelize.File, values map[string]any) {
	t.Helper()
	for name, v := range values {
		sheet, cell := namedCell(t, f, name)
		var err error
		switch v := v.(type) {
		case string:
			err = f.SetCellStr(sheet, cell, v)
		default:
			err = f.SetCellValue(sheet, cell, v)
		}
		if err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
}

// emptyFields is every field of def with an empty value, blankett set.
func emptyFields(def *Definition) map[string]string {
	m := map[string]string{}
	for _, fl := range def.Fields {
		m[fl.Name] = ""
	}
	m["blankett"] = def.Blankett()
	return m
}

func diffMaps(t *testing.T, got, want map[string]string) {
	t.Helper()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		g, gok := got[k]
		w, wok := want[k]
		if g != w || gok != wok {
			t.Errorf("field %s: got %q (present %v), want %q (present %v)", k, g, gok, w, wok)
		}
	}
}

var singleFill = map[string]any{
	"arende":                 "Ändring",
	"galler_fran":            time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	"fornamn":                "Åsa",
	"efternamn":              "Öberg-Lindén",
	"hsa_id":                 "SE2321000131-E000000000001",
	"yrke":                   "Arbetsterapeut",
	"epost":                  "asa.oberg@region.example.se",
	"telefon":                "010-473 12 34",
	"verksamhet":             "Hälso- och sjukvården",
	"enhet":                  "Rehab Väst, Höör",
	"kundnummer":             602154,
	"ovriga_kundnummer":      "602155, 602156",
	"buffertforrad":          "Förråd Ängelholm",
	"roll_forskrivare":       "Ja",
	"roll_bestallare":        "X",
	"andring_tjanstledighet": "Nej",
	"andring_namnbyte":       "Ja",
	"tidigare_namn":          "René Ekström",
	"andring_arbetsplats":    "Nej",
	"andring_roll":           "Nej",
	"chef_namn":              "Björn Ekström",
	"chef_epost":             "bjorn.ekstrom@region.example.se",
	"chef_telefon":           "+46 10 473 12 00",
	"datum":                  "2026-11-28",
}

// written is every field of def as readXLSX must give it back after
// fillByName put in fill.
func written(def *Definition, fill map[string]any) map[string]string {
	want := emptyFields(def)
	for k, v := range fill {
		want[k] = asWritten(v)
	}
	return want
}

// readSaved reads a saved workbook or fails the test.
func readSaved(t testing.TB, data []byte) *Raw {
	t.Helper()
	raw, err := readXLSX(data, Options{})
	if err != nil {
		t.Fatalf("readXLSX: %v", err)
	}
	return raw
}

// asWritten is what readXLSX must give back for a value put in by
// fillByName.
func asWritten(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.Format("2006-01-02")
	default:
		return fmt.Sprint(v)
	}
}

func TestXLSXRoundTripSingle(t *testing.T) {
	f := openXLSX(t, blank(t, Single, XLSX))
	fillByName(t, f, singleFill)
	data := saveXLSX(t, f)

	raw := readSaved(t, data)
	want := written(singleDef, singleFill)
	diffMaps(t, raw.Fields, want)
	if raw.HasUserSheet || len(raw.Users) != 0 || raw.Format != XLSX {
		t.Errorf("got HasUserSheet %v, %d users, format %q; want false, 0, xlsx", raw.HasUserSheet, len(raw.Users), raw.Format)
	}

	form := readAs(t, data, Single)
	for name, want := range map[string]string{
		"arende": ArendeAndring, "galler_fran": "2026-12-01", "fornamn": "Åsa", "efternamn": "Öberg-Lindén",
		"kundnummer": "602154", "roll_forskrivare": "true", "roll_bestallare": "true",
		"andring_tjanstledighet": "false", "tidigare_namn": "René Ekström", "datum": "2026-11-28",
	} {
		if got := form.Fields[name]; got != want {
			t.Errorf("Read field %s: got %q, want %q", name, got, want)
		}
	}
	if !form.Complete() {
		t.Errorf("got problems %v, want a complete form", form.Problems)
	}
}

func TestXLSXRoundTripMulti(t *testing.T) {
	f := openXLSX(t, blank(t, Multi, XLSX))
	shared := map[string]any{
		"arende":            "Ny registrering",
		"galler_fran":       "2027-02-01",
		"verksamhet":        "Kommunal hälso- och sjukvård",
		"enhet":             "Hemsjukvården Örkelljunga",
		"kundnummer":        "602154",
		"ovriga_kundnummer": "602155; 602156",
		"roll_forskrivare":  "ja",
		"roll_bestallare":   "Nej",
		"chef_namn":         "Märta Sjöström",
		"chef_epost":        "marta.sjostrom@region.example.se",
		"chef_telefon":      "0435-55 10 00",
		"datum":             time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
	}
	fillByName(t, f, shared)
	users := [][]string{
		{"Åsa", "Öberg", "SE2321000131-E000000000001", "Sjuksköterska", "asa.oberg@region.example.se", "010-473 10 01"},
		{"René", "Lindén", "", "Arbetsterapeut", "rene.linden@region.example.se", "010-473 10 02"},
		nil, // an empty row between users keeps the row numbers
		{"Björn", "Ekström", "", "", "bjorn.ekstrom@region", ""},
	}
	const header = 3 // the header row of the blank Användare sheet
	for i, u := range users {
		for c, v := range u {
			cell, _ := excelize.CoordinatesToCellName(c+1, header+1+i)
			if err := f.SetCellStr(UserSheet, cell, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	data := saveXLSX(t, f)

	raw := readSaved(t, data)
	want := written(multiDef, shared)
	diffMaps(t, raw.Fields, want)
	if !raw.HasUserSheet {
		t.Error("got HasUserSheet false, want true")
	}
	var wantUsers []RawUser
	for i, u := range users {
		if u == nil {
			continue
		}
		ru := RawUser{N: i + 1, Fields: map[string]string{}}
		for c, col := range multiDef.UserColumns {
			ru.Fields[col.Name] = u[c]
		}
		wantUsers = append(wantUsers, ru)
	}
	if !reflect.DeepEqual(raw.Users, wantUsers) {
		t.Errorf("got users\n%v\nwant\n%v", raw.Users, wantUsers)
	}

	form := readAs(t, data, Multi)
	if got, want := userRows(form), []int{1, 2, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("got user rows %v, want %v", got, want)
	}
	if got, want := form.Users[0].Fields["fornamn"], "Åsa"; got != want {
		t.Errorf("got user 1 fornamn %q, want %q", got, want)
	}
	// Row 4 lacks yrke and telefon (mandatory for ny) and has a bad e-mail.
	if got, want := problemFields(form), []string{"anvandare_4_yrke", "anvandare_4_epost", "anvandare_4_telefon"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got problems %v, want %v", form.Problems, want)
	}
}

// TestXLSXBlankReadsBack: the blank workbook is a readable, incomplete form
// of its kind, every field present and empty but blankett.
func TestXLSXBlankReadsBack(t *testing.T) {
	for _, def := range Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			data := blank(t, def.ID, XLSX)
			raw := readSaved(t, data)
			diffMaps(t, raw.Fields, emptyFields(def))
			if got, want := raw.HasUserSheet, len(def.UserColumns) > 0; got != want {
				t.Errorf("got HasUserSheet %v, want %v", got, want)
			}
			if len(raw.Users) != 0 {
				t.Errorf("got users %v, want none", raw.Users)
			}
			form := readAs(t, data, def.ID)
			if form.Complete() {
				t.Errorf("got form %q complete, want it incomplete", form.ID)
			}
		})
	}
}

// TestWriteXLSXLayout checks what a person filling the form relies on:
// starred labels beside unlocked, bordered input cells named after the
// fields, the locked blankett cell, drop-downs, date formats, protection,
// the user sheet's header and frozen rows.
func TestWriteXLSXLayout(t *testing.T) {
	for _, def := range Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			data := blank(t, def.ID, XLSX)
			f := openXLSX(t, data)
			if got, want := f.GetSheetList()[0], FormSheet; got != want {
				t.Errorf("got first sheet %q, want %q", got, want)
			}
			title, _ := f.GetCellValue(FormSheet, "A1")
			if title != def.Title {
				t.Errorf("got title %q, want %q", title, def.Title)
			}
			dvs, err := f.GetDataValidations(FormSheet)
			if err != nil {
				t.Fatal(err)
			}
			lists := map[string]string{}
			for _, dv := range dvs {
				lists[dv.Sqref] = strings.Trim(dv.Formula1, `"`)
			}
			for _, fl := range def.Fields {
				sheet, cell := namedCell(t, f, fl.Name)
				if sheet != FormSheet {
					t.Errorf("%s: on sheet %q, want %q", fl.Name, sheet, FormSheet)
				}
				col, row, _ := excelize.CellNameToCoordinates(cell)
				labelCell, _ := excelize.CoordinatesToCellName(col-1, row)
				label, _ := f.GetCellValue(sheet, labelCell)
				wantLabel := fl.Label
				if fl.Required.Mandatory() {
					wantLabel += " *"
				}
				if label != wantLabel {
					t.Errorf("%s: got label %q, want %q", fl.Name, label, wantLabel)
				}
				if got, want := styleOf(t, f, sheet, labelCell).Protection.Locked, true; got != want {
					t.Errorf("%s: label cell locked %v, want %v", fl.Name, got, want)
				}
				st := styleOf(t, f, sheet, cell)
				if got, want := st.Protection.Locked, fl.Kind == Tag; got != want {
					t.Errorf("%s: input cell locked %v, want %v", fl.Name, got, want)
				}
				if len(st.Border) != 4 {
					t.Errorf("%s: input cell has %d borders, want 4", fl.Name, len(st.Border))
				}
				v, _ := f.GetCellValue(sheet, cell)
				if fl.Kind == Tag && v != def.Blankett() || fl.Kind != Tag && v != "" {
					t.Errorf("%s: got value %q in the blank", fl.Name, v)
				}
				if fl.Kind == Date && (st.CustomNumFmt == nil || *st.CustomNumFmt != "yyyy-mm-dd") {
					t.Errorf("%s: date cell format %v, want yyyy-mm-dd", fl.Name, st.CustomNumFmt)
				}
				var wantList string
				switch fl.Kind {
				case Checkbox:
					wantList = "Ja,Nej"
				case Choice:
					wantList = strings.Join(xlsxChoiceLabels(fl), ",")
				}
				if got := lists[cell]; got != wantList {
					t.Errorf("%s: got drop-down %q, want %q", fl.Name, got, wantList)
				}
			}
			if got, want := lists[mustNamedCell(t, f, "arende")], map[FormID]string{Single: "Ny registrering,Ändring,Avslut", Multi: "Ny registrering,Avslut"}[def.ID]; got != want {
				t.Errorf("got arende list %q, want %q", got, want)
			}
			rows, _ := f.GetRows(FormSheet)
			last := rows[len(rows)-1]
			if len(last) == 0 || last[0] != "webSesam-support: 010-473 80 80, val 4" {
				t.Errorf("got last row %q, want the support line", last)
			}
			assertProtected(t, data, "xl/worksheets/sheet1.xml")

			if def.UserColumns == nil {
				if _, err := f.GetSheetIndex(UserSheet); err != nil || len(f.GetSheetList()) != 1 {
					t.Errorf("got sheets %v, want only %s", f.GetSheetList(), FormSheet)
				}
				return
			}
			header, _ := f.GetRows(UserSheet)
			var want []string
			for _, c := range def.UserColumns {
				l := c.Label
				if c.Required.Mandatory() {
					l += " *"
				}
				want = append(want, l)
			}
			if len(header) < 3 || !reflect.DeepEqual(header[2], want) {
				t.Errorf("got user sheet rows %q, want header %q in row 3", header, want)
			}
			panes, err := f.GetPanes(UserSheet)
			if err != nil || !panes.Freeze || panes.YSplit != 3 {
				t.Errorf("got panes %+v (%v), want frozen below row 3", panes, err)
			}
			for _, cell := range []string{"A4", "F53", "C200"} {
				if styleOf(t, f, UserSheet, cell).Protection.Locked {
					t.Errorf("user cell %s is locked, want unlocked", cell)
				}
			}
			if !styleOf(t, f, UserSheet, "A3").Protection.Locked {
				t.Error("user header is unlocked, want locked")
			}
			assertProtected(t, data, "xl/worksheets/sheet2.xml")
		})
	}
}

func mustNamedCell(t *testing.T, f *excelize.File, name string) string {
	_, cell := namedCell(t, f, name)
	return cell
}

func styleOf(t *testing.T, f *excelize.File, sheet, cell string) *excelize.Style {
	t.Helper()
	idx, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(idx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Protection == nil {
		// No protection element means Excel's default: locked.
		st.Protection = &excelize.Protection{Locked: true}
	}
	return st
}

// assertProtected checks in the worksheet's XML that the sheet is protected
// and carries no password.
func assertProtected(t *testing.T, data []byte, part string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(part)
	if err != nil {
		t.Fatalf("open %s: %v", part, err)
	}
	defer rc.Close()
	xml, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	_, prot, found := bytes.Cut(xml, []byte("<sheetProtection"))
	prot, _, _ = bytes.Cut(prot, []byte(">"))
	if !found || !bytes.Contains(prot, []byte(`sheet="true"`)) && !bytes.Contains(prot, []byte(`sheet="1"`)) {
		t.Errorf("%s: got protection %q, want a protected sheet", part, prot)
	}
	if bytes.Contains(prot, []byte("password")) || bytes.Contains(prot, []byte("hashValue")) {
		t.Errorf("%s: got protection %q, want no password", part, prot)
	}
}

// TestReadXLSXCellValues covers how a cell's content becomes the raw value.
func TestReadXLSXCellValues(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sh := "Blad1"
	if err := f.SetSheetName("Sheet1", sh); err != nil {
		t.Fatal(err)
	}
	serial := func(y int, m time.Month, d int) int {
		return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	}
	style := func(fmtCode string) int {
		id, err := f.NewStyle(&excelize.Style{CustomNumFmt: &fmtCode})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	isoDate, dmy, oneDecimal := style("yyyy-mm-dd"), style("d/m/yyyy"), style("0.0")
	builtinDate, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string // a field name, so its kind applies
		ref    string // how the defined name refers to the cell
		set    func(cell string) error
		style  int
		want   string
		reason string
	}{
		{"galler_fran", "Blad1!$B$1", func(c string) error { return f.SetCellValue(sh, c, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) }, isoDate, "2026-12-01", "a real date cell"},
		{"tjanstledig_fran", "'Blad1'!$B$2", func(c string) error { return f.SetCellInt(sh, c, int64(serial(2027, 1, 1))) }, 0, "2027-01-01", "an unformatted serial in a date field"},
		{"tjanstledig_till", "Blad1!B3", func(c string) error { return f.SetCellInt(sh, c, 20261201) }, 0, "20261201", "digits as a number stay as written"},
		{"datum", "=Blad1!$B$4", func(c string) error { return f.SetCellStr(sh, c, "20261201") }, 0, "20261201", "digits as text stay as written"},
		{"kundnummer", "Blad1!$B$5", func(c string) error { return f.SetCellFloat(sh, c, 602154, 1, 64) }, oneDecimal, "602154", "a whole number shown with a decimal"},
		{"tidigare_kundnummer", "Blad1!$B$6", func(c string) error { return f.SetCellFloat(sh, c, 602154, -1, 64) }, 0, "602154", "a whole number as float"},
		{"chef_telefon", "Blad1!$B$7", func(c string) error { return f.SetCellFormula(sh, c, "A1&A2") }, 0, "", "a formula without a cached result"},
		{"roll_forskrivare", "Blad1!$B$8", func(c string) error { return f.SetCellBool(sh, c, true) }, 0, "TRUE", "a boolean cell"},
		{"buffertforrad", "Blad1!$XFD$9", func(c string) error { return f.SetCellStr(sh, c, "Förråd långt bort") }, 0, "Förråd långt bort", "the last column of a row"},
		{"fornamn", "Blad1!$B$10", func(c string) error { return f.SetCellStr(sh, c, "  Åsa  ") }, 0, "  Åsa  ", "text as written (the checker folds)"},
		{"enhet", "Blad1!$B$11:$C$11", func(c string) error { return f.SetCellStr(sh, c, "Vårdcentralen Höör") }, 0, "Vårdcentralen Höör", "a range: its first cell"},
		{"yrke", "Blad1!$B$12", func(c string) error { return f.SetCellInt(sh, c, 45811) }, 0, "45811", "a serial in a text field stays a number"},
		{"andring_roll", "Blad1!$B$13", func(c string) error { return f.SetCellInt(sh, c, 1) }, 0, "1", "a number in a checkbox"},
		{"tidigare_namn", "Blad1!$B$14", func(c string) error { return f.SetCellFloat(sh, c, 1.25, -1, 64) }, 0, "1.25", "a fraction as shown"},
		{"verksamhet", "Blad1!$B$15", func(c string) error { return f.SetCellInt(sh, c, 45992) }, builtinDate, "2025-12-01", "a built-in date format"},
		{"chef_namn", "Blad1!$B$16", func(c string) error { return f.SetCellValue(sh, c, time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) }, dmy, "2027-06-30", "a d/m/yyyy date cell"},
	}
	for _, c := range cases {
		_, cell, _ := strings.Cut(c.ref, "!")
		cell, _, _ = strings.Cut(strings.ReplaceAll(cell, "$", ""), ":")
		if err := c.set(cell); err != nil {
			t.Fatal(err)
		}
		if c.style != 0 {
			if err := f.SetCellStyle(sh, cell, cell, c.style); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.SetDefinedName(&excelize.DefinedName{Name: c.name, RefersTo: c.ref}); err != nil {
			t.Fatalf("name %s: %v", c.name, err)
		}
	}
	raw := readSaved(t, saveXLSX(t, f))
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			if got := raw.Fields[c.name]; got != c.want {
				t.Errorf("%s: got %q, want %q", c.name, got, c.want)
			}
		})
	}
}

// setRow writes texts into a row from the given column (1-based); a
// time.Time becomes a real date cell and an int a number.
func setRow(t *testing.T, f *excelize.File, sheet string, row, col int, values ...any) {
	t.Helper()
	for i, v := range values {
		cell, err := excelize.CoordinatesToCellName(col+i, row)
		if err != nil {
			t.Fatal(err)
		}
		switch v := v.(type) {
		case nil:
			continue
		case time.Time:
			err = f.SetCellValue(sheet, cell, v)
			if err == nil {
				var id int
				fmtCode := "yyyy-mm-dd"
				if id, err = f.NewStyle(&excelize.Style{CustomNumFmt: &fmtCode}); err == nil {
					err = f.SetCellStyle(sheet, cell, cell, id)
				}
			}
		default:
			err = f.SetCellValue(sheet, cell, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadXLSXByLabel: a workbook whose defined names were lost is read by
// its labels, per field, on any sheet.
func TestReadXLSXByLabel(t *testing.T) {
	t.Run("no names, renamed sheet, shifted layout", func(t *testing.T) {
		f := excelize.NewFile()
		defer f.Close()
		sh := "Blad1"
		if err := f.SetSheetName("Sheet1", sh); err != nil {
			t.Fatal(err)
		}
		setRow(t, f, sh, 1, 1, singleDef.Title)
		setRow(t, f, sh, 3, 2, "Förnamn *", nil, "Åsa")                                              // a gap before the value
		setRow(t, f, sh, 4, 2, "efternamn", "Öberg")                                                 // case and no star
		setRow(t, f, sh, 5, 2, "Gäller från (datum)*", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) // a real date cell
		setRow(t, f, sh, 6, 2, "Kundnummer (standardkund) *", 602154)
		setRow(t, f, sh, 7, 2, "Tjänstledig från *", nil, "ÅÅÅÅ-MM-DD") // only the hint: empty
		setRow(t, f, sh, 8, 2, "Ärende")                                // the section heading, nothing beside
		setRow(t, f, sh, 9, 2, "Ärende *", "Ny registrering")
		setRow(t, f, sh, 10, 2, "Förskrivare", "Ja", "Ja eller Nej")
		setRow(t, f, sh, 11, 2, "Tidigare namn *", "Beställare", "Nej")   // a label beside: empty
		setRow(t, f, sh, 12, 2, "Datum\u00a0 *", "2026-11-28")            // a no-break space
		setRow(t, f, sh, 13, 2, "Buffertfo\u0308rra\u030ad:", "Förråd 2") // decomposed letters, a colon
		if _, err := f.NewSheet("Övrigt"); err != nil {
			t.Fatal(err)
		}
		setRow(t, f, "Övrigt", 2, 1, "Ansvarig chef – namn", "Märta Sjöström")
		raw := readSaved(t, saveXLSX(t, f))
		diffMaps(t, raw.Fields, map[string]string{
			"fornamn": "Åsa", "efternamn": "Öberg", "galler_fran": "2026-12-01", "kundnummer": "602154",
			"tjanstledig_fran": "", "arende": "Ny registrering", "roll_forskrivare": "Ja",
			"tidigare_namn": "", "roll_bestallare": "Nej", "datum": "2026-11-28", "chef_namn": "Märta Sjöström",
			"buffertforrad": "Förråd 2",
		})
		if raw.HasUserSheet {
			t.Error("got HasUserSheet true, want false")
		}
	})

	t.Run("some names lost", func(t *testing.T) {
		f := openXLSX(t, blank(t, Single, XLSX))
		fillByName(t, f, singleFill)
		for _, name := range []string{"fornamn", "kundnummer", "blankett", "galler_fran"} {
			if err := f.DeleteDefinedName(&excelize.DefinedName{Name: name}); err != nil {
				t.Fatalf("delete name %s: %v", name, err)
			}
		}
		raw := readSaved(t, saveXLSX(t, f))
		want := written(singleDef, singleFill)
		diffMaps(t, raw.Fields, want)
	})

	t.Run("multi-user, no names, header on another sheet", func(t *testing.T) {
		f := excelize.NewFile()
		defer f.Close()
		if err := f.SetSheetName("Sheet1", "Blad1"); err != nil {
			t.Fatal(err)
		}
		setRow(t, f, "Blad1", 2, 1, "Blankett", "websesam-behorighet-flera/1")
		setRow(t, f, "Blad1", 3, 1, "Kundnummer (standardkund) *", "602154")
		if _, err := f.NewSheet("Lista"); err != nil {
			t.Fatal(err)
		}
		setRow(t, f, "Lista", 1, 1, "Användare som ska få behörighet")
		// Columns in another order, starting in column B, header in row 5.
		setRow(t, f, "Lista", 5, 2, "Förnamn*", "Efternamn", "E-post *", "Telefon", "Titel/yrke", "HSA-id")
		setRow(t, f, "Lista", 6, 2, "Åsa", "Öberg", "asa.oberg@region.example.se", "010-473 10 01", "Sjuksköterska", "")
		setRow(t, f, "Lista", 7, 2, "René", "Lindén", "rene.linden@region.example.se", 104731002, "Arbetsterapeut", "SE2321000131-E000000000002")
		setRow(t, f, "Lista", 9, 2, "Björn")
		raw := readSaved(t, saveXLSX(t, f))
		if got, want := raw.Fields["blankett"], "websesam-behorighet-flera/1"; got != want {
			t.Errorf("got blankett %q, want %q", got, want)
		}
		if got, want := raw.Fields["kundnummer"], "602154"; got != want {
			t.Errorf("got kundnummer %q, want %q", got, want)
		}
		if !raw.HasUserSheet {
			t.Error("got HasUserSheet false, want true")
		}
		user := func(n int, v ...string) RawUser {
			return RawUser{N: n, Fields: map[string]string{
				"fornamn": v[0], "efternamn": v[1], "epost": v[2], "telefon": v[3], "yrke": v[4], "hsa_id": v[5],
			}}
		}
		want := []RawUser{
			user(1, "Åsa", "Öberg", "asa.oberg@region.example.se", "010-473 10 01", "Sjuksköterska", ""),
			user(2, "René", "Lindén", "rene.linden@region.example.se", "104731002", "Arbetsterapeut", "SE2321000131-E000000000002"),
			user(4, "Björn", "", "", "", "", ""),
		}
		if !reflect.DeepEqual(raw.Users, want) {
			t.Errorf("got users\n%v\nwant\n%v", raw.Users, want)
		}
	})

	t.Run("user header below row 20 is not a header", func(t *testing.T) {
		f := openXLSX(t, blank(t, Multi, XLSX))
		if err := f.InsertRows(UserSheet, 1, 20); err != nil {
			t.Fatal(err)
		}
		setRow(t, f, UserSheet, 24, 1, "Åsa", "Öberg")
		raw := readSaved(t, saveXLSX(t, f))
		if !raw.HasUserSheet || len(raw.Users) != 0 {
			t.Errorf("got HasUserSheet %v and users %v, want true and none", raw.HasUserSheet, raw.Users)
		}
	})
}

// TestReadXLSXUserCap: rows past MaxUsers are counted, not read.
func TestReadXLSXUserCap(t *testing.T) {
	f := openXLSX(t, blank(t, Multi, XLSX))
	const header, extra = 3, 3
	for n := 1; n <= multiDef.MaxUsers+extra; n++ {
		setRow(t, f, UserSheet, header+n, 1, "Åsa", fmt.Sprintf("Öberg %d", n))
	}
	// An empty row, then one more user: still counted.
	setRow(t, f, UserSheet, header+multiDef.MaxUsers+extra+2, 1, "René")
	raw := readSaved(t, saveXLSX(t, f))
	if got, want := len(raw.Users), multiDef.MaxUsers; got != want {
		t.Errorf("got %d users, want %d", got, want)
	}
	if got, want := raw.ExtraUsers, extra+1; got != want {
		t.Errorf("got ExtraUsers %d, want %d", got, want)
	}
	if last := raw.Users[len(raw.Users)-1]; last.N != multiDef.MaxUsers || last.Fields["efternamn"] != fmt.Sprintf("Öberg %d", multiDef.MaxUsers) {
		t.Errorf("got last user %+v, want row %d", last, multiDef.MaxUsers)
	}
}

// rezip copies a zip, letting edit change or drop entries (by returning nil)
// and add adds more; a nil compressor level keeps Deflate's default.
func rezip(t testing.TB, data []byte, edit func(name string, body []byte) []byte, add func(zw *zip.Writer)) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	for _, zf := range zr.File {
		body := readPart(t, zf.Open)
		if edit != nil {
			if body = edit(zf.Name, body); body == nil {
				continue
			}
		}
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if add != nil {
		add(zw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombSize is the unpacked size of the zip-bomb sheet: 200 MB of one row
// repeated, which deflates to well under a megabyte.
const bombSize = 200 << 20

// bombPart is the deflated zip-bomb sheet and its CRC-32, made without
// compressing 200 MB (seconds under the race detector): one chunk of rows is
// compressed once and flushed to a byte boundary, and that block, which
// refers only to itself, is repeated; a final empty block ends the stream.
func bombPart(t testing.TB) (deflated []byte, crc uint32, size uint64) {
	t.Helper()
	chunk := bytes.Repeat([]byte(`<row r="1"><c r="A1"><v>1</v></c></row>`), 1<<14)
	var block, end bytes.Buffer
	fw, _ := flate.NewWriter(&block, flate.BestSpeed)
	if _, err := fw.Write(chunk); err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	blockLen := block.Len()
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	end.Write(block.Bytes()[blockLen:])
	var out bytes.Buffer
	for written := 0; written < bombSize; written += len(chunk) {
		out.Write(block.Bytes()[:blockLen])
		crc = crc32.Update(crc, crc32.IEEETable, chunk)
		size += uint64(len(chunk))
	}
	out.Write(end.Bytes())
	return out.Bytes(), crc, size
}

// withBomb is a valid blank workbook plus the 200 MB sheet part, whose zip
// directory says it unpacks to claim bytes (0: its true size).
func withBomb(t testing.TB, claim uint64) []byte {
	deflated, crc, size := bombPart(t)
	if claim == 0 {
		claim = size
	}
	return rezip(t, blank(t, Single, XLSX), nil, func(zw *zip.Writer) {
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: "xl/worksheets/sheet2.xml", Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(len(deflated)), UncompressedSize64: claim,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(deflated); err != nil {
			t.Fatal(err)
		}
	})
}

// zipBomb is a valid blank workbook plus a 200 MB sheet part, honest about
// its size in the zip directory.
func zipBomb(t testing.TB) []byte { return withBomb(t, 0) }

// lyingBomb is the same, but the directory claims the big part unpacks to
// 1,000 bytes: archive/zip must stop at the declared size.
func lyingBomb(t testing.TB) []byte { return withBomb(t, 1000) }

// withRows is a new excelize workbook (one sheet, Sheet1) whose sheet data
// is rows, written as XML: excelize itself would build every cell before
// the last of a row and every row before the last (seconds, or a million
// rows, for what is a few bytes on disk).
func withRows(t testing.TB, edit func(f *excelize.File), rows string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if edit != nil {
		edit(f)
	}
	return rezip(t, saveXLSX(t, f), func(name string, body []byte) []byte {
		if name == "xl/worksheets/sheet1.xml" {
			if !bytes.Contains(body, []byte("<sheetData></sheetData>")) {
				t.Fatalf("excelize wrote an empty sheet without <sheetData></sheetData>: %s", body)
			}
			return bytes.Replace(body, []byte("<sheetData></sheetData>"), []byte("<sheetData>"+rows+"</sheetData>"), 1)
		}
		return body
	}, nil)
}

func fixtureInput(t testing.TB, name string) []byte {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(fixturesDir, name, "input.*"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("fixture %s: %v %v", name, matches, err)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestReadXLSXBadInput: what is not a readable workbook gives the exact
// sentinel and detail, from readXLSX itself and through Read.
func TestReadXLSXBadInput(t *testing.T) {
	blank := blank(t, Single, XLSX)
	bomb := zipBomb(t)
	var bombTotal uint64
	zr, err := zip.NewReader(bytes.NewReader(bomb), int64(len(bomb)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		bombTotal += zf.UncompressedSize64
	}
	// A workbook whose workbook part is not XML.
	brokenXML := rezip(t, blank, func(name string, body []byte) []byte {
		if name == "xl/workbook.xml" {
			return []byte("<workbook><sheets><sheet name=")
		}
		return body
	}, nil)
	// A workbook that lost its only sheet part.
	noSheet := rezip(t, blank, func(name string, body []byte) []byte {
		if name == "xl/worksheets/sheet1.xml" {
			return nil
		}
		return body
	}, nil)

	// Six kilobytes whose one named cell is the sheet's last: parsing the
	// sheet would fill a million rows.
	farCell := withRows(t, func(f *excelize.File) {
		if err := f.SetDefinedName(&excelize.DefinedName{Name: "fornamn", RefersTo: "Sheet1!$XFD$1048576"}); err != nil {
			t.Fatal(err)
		}
	}, `<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>Åsa</t></is></c></row>`)
	// A row without a number whose cell says A1048576: excelize places the
	// row by its cell.
	unnumbered := rezip(t, blank, func(name string, body []byte) []byte {
		if name == "xl/worksheets/sheet1.xml" {
			return bytes.Replace(body, []byte("</sheetData>"), []byte(`<row><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>`), 1)
		}
		return body
	}, nil)
	var wideRows strings.Builder
	for row := 1; row <= 20; row++ {
		fmt.Fprintf(&wideRows, `<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>`, row, row)
	}
	wide := withRows(t, nil, wideRows.String())

	cases := []struct {
		name string
		data []byte
		opts Options
		want error
		// detail is the whole error text, or, ending in "…", its beginning.
		detail string
	}{
		{"garbage", fixtureInput(t, "other-garbage"), Options{}, ErrNotAForm, "not a webSesam form: neither a PDF nor an Excel workbook"},
		{"jpeg", fixtureInput(t, "other-jpeg"), Options{}, ErrNotAForm, "not a webSesam form: a JPEG image (a scan or photo), not the fillable form"},
		{"xls", fixtureInput(t, "other-xls"), Options{}, ErrNotAForm, "not a webSesam form: an old Excel 97-2003 workbook (.xls); save it as .xlsx"},
		{"xlsm", fixtureInput(t, "other-xlsm"), Options{}, ErrNotAForm, "not a webSesam form: a macro-enabled workbook (.xlsm)"},
		{"docx", fixtureInput(t, "other-docx"), Options{}, ErrNotAForm, "not a webSesam form: a word-processor document (.docx)"},
		{"plain zip", fixtureInput(t, "other-zip"), Options{}, ErrNotAForm, "not a webSesam form: a zip archive, not a workbook"},
		{"encrypted", fixtureInput(t, "xlsx-encrypted"), Options{}, ErrEncrypted, "encrypted file: a password-protected Office file"},
		{"truncated zip", blank[:len(blank)/2], Options{}, ErrNotAForm, "not a webSesam form: a damaged zip file (zip: not a valid zip file)"},
		{"broken workbook XML", brokenXML, Options{}, ErrNotAForm, "not a webSesam form: a damaged workbook (…"},
		{"zip bomb", bomb, Options{}, ErrTooLarge, fmt.Sprintf("file too large: the workbook unpacks to %d bytes, the limit is %d", bombTotal, DefaultMaxUnzippedSize)},
		{"sheet part missing", noSheet, Options{}, ErrNotAForm, "not a webSesam form: a damaged worksheet (sheet Ansökan does not exist)"},
		{"a cell at XFD1048576", farCell, Options{}, ErrTooLarge, "file too large: worksheet xl/worksheets/sheet1.xml reaches row 1048576, the limit is 50000"},
		{"a far cell in a row without a number", unnumbered, Options{}, ErrTooLarge, "file too large: worksheet xl/worksheets/sheet1.xml reaches row 1048576, the limit is 50000"},
		{"twenty rows to column XFD", wide, Options{}, ErrTooLarge, "file too large: worksheet xl/worksheets/sheet1.xml spans more than 250000 cells"},
		{"over a small limit", blank, Options{MaxUnzippedSize: 1000}, ErrTooLarge, "file too large: the workbook unpacks to …"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			readersFail(t, "readXLSX", readXLSX, c.data, c.opts, c.want, func(who, got string) {
				if prefix, ok := strings.CutSuffix(c.detail, "…"); ok {
					if !strings.HasPrefix(got, prefix) {
						t.Errorf("%s: got %q, want it to begin %q", who, got, prefix)
					}
				} else if got != c.detail {
					t.Errorf("%s: got %q, want %q", who, got, c.detail)
				}
			})
		})
	}

	// A zip that understates a part's size: archive/zip stops reading it at
	// the declared size (excelize ignores that error), so the 200 MB never
	// unpack and the rest of the workbook reads as it is.
	t.Run("lying zip bomb", func(t *testing.T) {
		data := lyingBomb(t)
		raw := readSaved(t, data)
		if got, want := raw.Fields["blankett"], singleDef.Blankett(); got != want {
			t.Errorf("got blankett %q, want %q", got, want)
		}
		form, err := Read(data, Options{})
		if err != nil || form.ID != Single {
			t.Errorf("Read: got %v, %v; want the blank single-user form", form, err)
		}
	})
	// A workbook of another kind opens: its Raw has only the fields whose
	// labels it happens to share, and Read calls it a form of another kind.
	t.Run("another workbook", func(t *testing.T) {
		f := excelize.NewFile()
		defer f.Close()
		setRow(t, f, "Sheet1", 1, 1, "Beställning", "Rollator")
		setRow(t, f, "Sheet1", 2, 1, "Datum", "2026-11-28")
		setRow(t, f, "Sheet1", 3, 1, "Förnamn", "Åsa")
		data := saveXLSX(t, f)
		raw := readSaved(t, data)
		diffMaps(t, raw.Fields, map[string]string{"datum": "2026-11-28", "fornamn": "Åsa"})
		_, err = Read(data, Options{})
		if want := "not a webSesam form: a form of another kind (2 of the 27 webSesam fields found)"; !errors.Is(err, ErrNotAForm) || err.Error() != want {
			t.Errorf("Read: got %v, want %q", err, want)
		}
	})
}

// FuzzReadXLSX: no input makes readXLSX panic; it returns a Raw or an error
// wrapping one of the package's sentinels.
func FuzzReadXLSX(f *testing.F) {
	for _, data := range fixtureInputs(f, "*", "input.xlsx") {
		f.Add(data)
	}
	for _, def := range Definitions() {
		f.Add(blank(f, def.ID, XLSX))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := readXLSX(data, Options{MaxUnzippedSize: 4 << 20})
		if err != nil {
			if raw != nil {
				t.Errorf("got a Raw and the error %v", err)
			}
			if !wrapsSentinel(err) {
				t.Fatalf("got error %v wrapping no sentinel", err)
			}
			return
		}
		if raw == nil || raw.Format != XLSX || raw.Fields == nil {
			t.Fatalf("got Raw %+v, want an xlsx Raw", raw)
		}
	})
}

// filledSingle is a filled single-user workbook as a benchmark reads it.
func filledSingle(b testing.TB) []byte {
	f := openXLSX(b, blank(b, Single, XLSX))
	fillByName(b, f, singleFill)
	return saveXLSX(b, f)
}

// BenchmarkReadXLSX reads and checks one filled single-user workbook.
func BenchmarkReadXLSX(b *testing.B) {
	data := filledSingle(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadXLSXMultiUser60 reads and checks the 60-user fixture.
func BenchmarkReadXLSXMultiUser60(b *testing.B) {
	data := fixtureInput(b, "xlsx-multi-60-users")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// xlsxFuzzParts are the parts FuzzReadXLSXParts replaces.
var xlsxFuzzParts = []string{"xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/sharedStrings.xml", "xl/styles.xml"}

// FuzzReadXLSXParts mutates the XML inside a valid workbook (random bytes
// rarely get past the zip's checksums): one of the main parts of a filled
// form is replaced by the fuzzer's bytes.
func FuzzReadXLSXParts(f *testing.F) {
	base := filledSingle(f)
	zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	if err != nil {
		f.Fatal(err)
	}
	for i, name := range xlsxFuzzParts {
		f.Add(uint8(i), readPart(f, func() (io.ReadCloser, error) { return zr.Open(name) }))
	}
	f.Fuzz(func(t *testing.T, part uint8, body []byte) {
		name := xlsxFuzzParts[int(part)%len(xlsxFuzzParts)]
		data := rezip(t, base, func(n string, b []byte) []byte {
			if n == name {
				return body
			}
			return b
		}, nil)
		raw, err := readXLSX(data, Options{MaxUnzippedSize: 4 << 20})
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("got error %v wrapping no sentinel", err)
			}
			return
		}
		if raw == nil || raw.Fields == nil {
			t.Fatalf("got Raw %+v, want an xlsx Raw", raw)
		}
	})
}

// TestXLSXFixtureNames: the fixtures test what they claim to. Files filled or
// re-saved by other tools keep every field's defined name (so they test
// reading by name), and the copied workbook has none (so it tests the labels).
func TestXLSXFixtureNames(t *testing.T) {
	cases := []struct {
		fixture string
		def     *Definition
		named   bool
	}{
		{"xlsx-libreoffice-resaved", singleDef, true},
		{"xlsx-date-serials", singleDef, true},
		{"xlsx-multi-60-users", multiDef, true},
		{"xlsx-no-defined-names", singleDef, false},
		{"xlsx-multi-no-defined-names", multiDef, false},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			f := openXLSX(t, fixtureInput(t, c.fixture))
			names := map[string]bool{}
			for _, dn := range f.GetDefinedName() {
				if dn.Scope == "Workbook" {
					names[dn.Name] = true
				}
			}
			for _, fl := range c.def.Fields {
				if names[fl.Name] != c.named {
					t.Errorf("name %s present %v, want %v", fl.Name, names[fl.Name], c.named)
				}
			}
		})
	}
}

func TestXLSXResolveRef(t *testing.T) {
	r := &xlsxReader{sheets: []string{"Ansökan", "It's", "Användare"}}
	cases := []struct {
		ref  string
		want xlsxCell
		ok   bool
	}{
		{"Ansökan!$C$8", xlsxCell{"Ansökan", 7, 2}, true},
		{"'Ansökan'!$C$8", xlsxCell{"Ansökan", 7, 2}, true},
		{"=Ansökan!C8", xlsxCell{"Ansökan", 7, 2}, true},
		{"ANSÖKAN!$c$8", xlsxCell{"Ansökan", 7, 2}, true},
		{"'It''s'!$A$1", xlsxCell{"It's", 0, 0}, true},
		{"Ansökan!$C$8:$D$9", xlsxCell{"Ansökan", 7, 2}, true},
		{"Anva\u0308ndare!B2", xlsxCell{"Användare", 1, 1}, true},
		{"Ansökan!#REF!", xlsxCell{}, false},
		{"#REF!", xlsxCell{}, false},
		{"[1]Ansökan!$A$1", xlsxCell{}, false},
		{"Saknas!A1", xlsxCell{}, false},
		{"Ansökan!$C", xlsxCell{}, false},
		{"'Ansökan!A1", xlsxCell{}, false},
		{"42", xlsxCell{}, false},
		{"", xlsxCell{}, false},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			got, ok := r.resolveRef(c.ref)
			if got != c.want || ok != c.ok {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}
