package main

import (
	"archive/zip"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

// completeAll claims and completes the fixture's five requests in order:
// Åsa ny, Anna ny, Åsa andring (both roles, new phone, later date), Per ny,
// Per avslut. The register then holds Åsa under 602154 and 602155 and Anna
// under 602154; Per is gone.
func completeAll(t *testing.T, f staffFixture) {
	t.Helper()
	for i, user := range []string{"asaobe01", "annsve01", "asaobe01", "perper01", ""} {
		mustRun(t, "queue", "claim", f.ids[i])
		args := []string{"queue", "done", f.ids[i]}
		if user != "" {
			args = append(args, "--username", user)
		}
		mustRun(t, args...)
	}
}

func TestRegisterList(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		if got, want := strings.TrimSpace(mustRun(t, "register", "list")), "No register rows match."; got != want {
			t.Errorf("empty register: %q, want %q", got, want)
		}
		completeAll(t, f)
		out := mustRun(t, "register", "list", "--kundnummer", "602 154")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got, want := len(lines), 3; got != want {
			t.Fatalf("got %d lines, want %d:\n%s", got, want, out)
		}
		if !strings.Contains(lines[1], "annsve") && !strings.Contains(lines[1], "anna.svensson@region.example.se") {
			t.Errorf("first row should be Anna (person keys sort epost: before hsa:): %q", lines[1])
		}
		if !strings.Contains(lines[2], asaHSA) || !strings.Contains(lines[2], "förskrivare, beställare") || !strings.Contains(lines[2], f.ids[2]) {
			t.Errorf("Åsa's row after the andring: %q", lines[2])
		}
		out = mustRun(t, "register", "list", "--person", strings.ToLower(asaHSA), "--json")
		var rows []store.RegisterEntry
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Kundnummer+"/"+r.Standardkund+"/"+r.Telefon)
		}
		if want := "602154/602154/010-999 99 99 602155/602154/010-999 99 99"; strings.Join(got, " ") != want {
			t.Errorf("Åsa's rows = %q, want %q", strings.Join(got, " "), want)
		}
		if got := strings.TrimSpace(mustRun(t, "register", "list", "--kundnummer", "602160")); got != "No register rows match." {
			t.Errorf("after Per's avslut, 602160 lists %q", got)
		}
		for _, tc := range []struct {
			args    []string
			wantErr string
		}{
			{[]string{"register", "list", "--kundnummer", "60215"}, `--kundnummer must be six digits, like 602154, not "60215"`},
			{[]string{"register", "export", filepath.Join(t.TempDir(), "register.csv")}, "export writes an Excel workbook: give a file name ending in .xlsx"},
			{[]string{"register", "export"}, "export takes 1 argument(s), got 0"},
		} {
			_, errOut, code := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("%v: exit %d %q, want 2 and %q", tc.args, code, errOut, tc.wantErr)
			}
		}
	})
}

// The exported workbook, read back with excelize: the right rows, text that
// looks like a formula kept as text, dates as dates, a styled frozen header
// with an autofilter, fitted widths, and the counts sheet.
func TestRegisterExport(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		completeAll(t, f)
		path := filepath.Join(t.TempDir(), "register.xlsx")
		if got, want := mustRun(t, "register", "export", path), "Wrote 3 register rows to "+path+".\n"; got != want {
			t.Errorf("export: %q, want %q", got, want)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("mode = %v, want %v", got, want)
		}
		x, err := excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: 10 << 20, UnzipXMLSizeLimit: 10 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if got, want := strings.Join(x.GetSheetList(), "|"), registerSheet+"|"+countsSheet; got != want {
			t.Fatalf("sheets = %q, want %q", got, want)
		}
		rows, err := x.GetRows(registerSheet)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(rows[0], "|"), strings.Join(registerColumns, "|"); got != want {
			t.Errorf("header = %q, want %q", got, want)
		}
		if got, want := len(rows), 4; got != want {
			t.Fatalf("got %d rows, want %d: %q", got, want, rows)
		}
		want := [][]string{
			{"602154", "602154", formulaName, "-Svensson", "", "Arbetsterapeut", "anna.svensson@region.example.se", "010-123 45 67",
				"Ja", "Nej", "@lager 3", "Karin Chef", "karin.chef@region.example.se", "2026-12-01", "", f.ids[1]},
			{"602154", "602154", "Åsa", "Öberg", asaHSA, "Fysioterapeut", "asa.oberg@region.example.se", "010-999 99 99",
				"Ja", "Ja", "", "Karin Chef", "karin.chef@region.example.se", "2027-01-15", "", f.ids[2]},
			{"602155", "602154", "Åsa", "Öberg", asaHSA, "Fysioterapeut", "asa.oberg@region.example.se", "010-999 99 99",
				"Ja", "Ja", "", "Karin Chef", "karin.chef@region.example.se", "2027-01-15", "", f.ids[2]},
		}
		for i, w := range want {
			got := rows[i+1]
			for len(got) < len(w) {
				got = append(got, "")
			}
			got[14] = "" // Senast ändrad: checked below as a date
			if strings.Join(got, "|") != strings.Join(w, "|") {
				t.Errorf("row %d =\n  %q\nwant\n  %q", i+2, got, w)
			}
		}

		// Form text stays text: no formula, a string cell, the Text format.
		for _, ref := range []string{"C2", "D2", "K2"} {
			if fm, err := x.GetCellFormula(registerSheet, ref); err != nil || fm != "" {
				t.Errorf("%s has formula %q (%v), want none", ref, fm, err)
			}
			if typ, _ := x.GetCellType(registerSheet, ref); typ != excelize.CellTypeSharedString && typ != excelize.CellTypeInlineString {
				t.Errorf("%s has type %v, want a string", ref, typ)
			}
			if got := numFmtOf(t, x, registerSheet, ref); got != "49" {
				t.Errorf("%s number format %s, want 49 (Text)", ref, got)
			}
		}
		// Dates are date serials with a date format.
		for _, tc := range []struct {
			ref, format string
			want        time.Time
		}{
			{"N3", "yyyy-mm-dd", time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)},
			{"N2", "yyyy-mm-dd", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		} {
			raw, err := x.GetCellValue(registerSheet, tc.ref, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			serial, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				t.Errorf("%s raw value %q is not a date serial", tc.ref, raw)
				continue
			}
			if got, _ := excelize.ExcelDateToTime(serial, false); !got.Equal(tc.want) {
				t.Errorf("%s = %v, want %v", tc.ref, got, tc.want)
			}
			if got := numFmtOf(t, x, registerSheet, tc.ref); got != tc.format {
				t.Errorf("%s format %q, want %q", tc.ref, got, tc.format)
			}
		}
		changed, _ := x.GetCellValue(registerSheet, "O3", excelize.Options{RawCellValue: true})
		serial, err := strconv.ParseFloat(changed, 64)
		if err != nil {
			t.Fatalf("Senast ändrad %q is not a date serial", changed)
		}
		now := time.Now().Local()
		wall := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), now.Minute(), 0, 0, time.UTC)
		if got, _ := excelize.ExcelDateToTime(serial, false); got.Sub(wall).Abs() > 5*time.Minute {
			t.Errorf("Senast ändrad = %v, want about %v (local wall clock)", got, wall)
		}
		if got := numFmtOf(t, x, registerSheet, "O3"); got != "yyyy-mm-dd hh:mm" {
			t.Errorf("Senast ändrad format %q", got)
		}

		// Header: styled, frozen, filtered; widths fitted to the content.
		st, _ := x.GetCellStyle(registerSheet, "A1")
		hs, err := x.GetStyle(st)
		if err != nil {
			t.Fatal(err)
		}
		if hs.Font == nil || !hs.Font.Bold || len(hs.Fill.Color) == 0 {
			t.Errorf("header style = %+v, want bold on a fill", hs)
		}
		panes, err := x.GetPanes(registerSheet)
		if err != nil {
			t.Fatal(err)
		}
		if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
			t.Errorf("panes = %+v, want the first row frozen", panes)
		}
		var filter string
		for _, dn := range x.GetDefinedName() {
			if dn.Name == "_xlnm._FilterDatabase" && dn.Scope == registerSheet {
				filter = dn.RefersTo
			}
		}
		if !strings.HasSuffix(filter, "$A$1:$P$4") {
			t.Errorf("autofilter range = %q, want the header and every row (A1:P4)", filter)
		}
		// The worksheet itself must carry the filter, not only the name
		// (excelize writes the range with $ signs).
		if xml := sheetXML(t, path, "xl/worksheets/sheet1.xml"); !strings.Contains(strings.ReplaceAll(xml, "$", ""), `<autoFilter ref="A1:P4"`) {
			t.Errorf("sheet1.xml has no autoFilter over A1:P4")
		}
		if got := x.GetActiveSheetIndex(); got != 0 {
			t.Errorf("active sheet %d, want the register (0)", got)
		}
		for col, want := range map[string]float64{"A": 13, "G": float64(len("anna.svensson@region.example.se") + 3), "N": 14} {
			if got, _ := x.GetColWidth(registerSheet, col); got != want {
				t.Errorf("width of column %s = %v, want %v", col, got, want)
			}
		}

		counts, err := x.GetRows(countsSheet)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(flatten(counts), "|"), "Kundnummer,Personer,Förskrivare,Beställare|602154,2,2,1|602155,1,1,1"; got != want {
			t.Errorf("counts = %q, want %q", got, want)
		}
		if typ, _ := x.GetCellType(countsSheet, "B2"); typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
			t.Errorf("count B2 is a string, want a number")
		}
		if panes, _ := x.GetPanes(countsSheet); !panes.Freeze {
			t.Errorf("counts header not frozen")
		}

		// The export is one audit entry with the count and the actor.
		env.inspect(t, func(s *store.Store) {
			entries, err := s.AuditList("test", store.AuditFilter{Actor: me(t)})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 || entries[0].Action != store.AuditRegisterExport || entries[0].Count != 3 {
				t.Errorf("newest audit entry = %+v, want register-export of 3 rows", entries[0])
			}
		})
	})
}

// sheetXML returns one part of the workbook's zip as text.
func sheetXML(t *testing.T, path, part string) string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	b, err := fs.ReadFile(z, part)
	if err != nil {
		t.Fatalf("%s has no readable part %s: %v", path, part, err)
	}
	return string(b)
}

func numFmtOf(t *testing.T, x *excelize.File, sheet, ref string) string {
	t.Helper()
	id, err := x.GetCellStyle(sheet, ref)
	if err != nil {
		t.Fatal(err)
	}
	s, err := x.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	if s.CustomNumFmt != nil {
		return *s.CustomNumFmt
	}
	return strconv.Itoa(s.NumFmt)
}

func flatten(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, ",")
	}
	return out
}

// BenchmarkRegisterExport writes the workbook of a register of 5,000 rows
// (a large regional centre) to a file.
func BenchmarkRegisterExport(b *testing.B) {
	rows := make([]staffapi.RegisterEntry, 5000)
	for i := range rows {
		k := strconv.Itoa(602000 + i%300)
		rows[i] = staffapi.RegisterEntry{
			Kundnummer: k, Standardkund: k, Fornamn: "Anna", Efternamn: "Berg " + strconv.Itoa(i),
			HSAID: "SE2321000131-E" + strconv.Itoa(100000000000+i), Yrke: "Arbetsterapeut",
			Epost: "anna.berg" + strconv.Itoa(i) + "@region.example.se", Telefon: "010-123 45 67",
			Forskrivare: i%2 == 0, Bestallare: i%3 == 0, ChefNamn: "Karin Chef", ChefEpost: "karin.chef@region.example.se",
			GallerFran: "2026-12-01", UpdatedAt: time.Now(), Request: "WS-2026-" + strconv.Itoa(100000+i),
		}
	}
	path := filepath.Join(b.TempDir(), "register.xlsx")
	for b.Loop() {
		if err := writeRegisterWorkbook(path, rows); err != nil {
			b.Fatal(err)
		}
	}
}
