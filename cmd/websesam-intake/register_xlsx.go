package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
)

// Sheet names of the exported register.
const (
	registerSheet = "Kund- och förskrivarregister"
	countsSheet   = "Per kundnummer"
)

// registerColumns are the export's columns, in order, as the centre's
// register has always had them.
var registerColumns = []string{
	"Kundnummer", "Standardkund", "Förnamn", "Efternamn", "HSA-id", "Titel/yrke", "E-post", "Telefon",
	"Förskrivare", "Beställare", "Buffertförråd", "Ansvarig chef", "Chefens e-post", "Gäller från",
	"Senast ändrad", "Ärende-id",
}

// cellKind is how a cell is written: text is always text (form input is
// attacker-controlled, so "=HYPERLINK(…)" must stay a string and never
// become a formula), dates are date serials with a date format.
type cellKind int

const (
	cellText cellKind = iota
	cellDate
	cellDateTime
	cellInt
)

type cell struct {
	kind cellKind
	text string
	at   time.Time // wall clock, in UTC (Excel dates have no zone)
	n    int
}

func textCell(s string) cell { return cell{kind: cellText, text: s} }

func jaNej(b bool) cell {
	if b {
		return textCell("Ja")
	}
	return textCell("Nej")
}

// dateCell is a YYYY-MM-DD value as a real date; anything else stays text.
func dateCell(s string) cell {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return textCell(s)
	}
	return cell{kind: cellDate, at: t}
}

// dateTimeCell shows t as the local time staff read it, to the minute.
func dateTimeCell(t time.Time) cell {
	if t.IsZero() {
		return textCell("")
	}
	l := t.Local()
	return cell{kind: cellDateTime, at: time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)}
}

func registerRow(e staffapi.RegisterEntry) []cell {
	return []cell{
		textCell(e.Kundnummer), textCell(e.Standardkund), textCell(e.Fornamn), textCell(e.Efternamn),
		textCell(e.HSAID), textCell(e.Yrke), textCell(e.Epost), textCell(e.Telefon),
		jaNej(e.Forskrivare), jaNej(e.Bestallare), textCell(e.Buffertforrad), textCell(e.ChefNamn),
		textCell(e.ChefEpost), dateCell(e.GallerFran), dateTimeCell(e.UpdatedAt), textCell(e.Request),
	}
}

// kundCount is one row of the second sheet.
type kundCount struct {
	kundnummer                   string
	persons, forskrivare, bestal int
}

func countByKundnummer(rows []staffapi.RegisterEntry) []kundCount {
	var out []kundCount
	for _, e := range rows {
		i := slices.IndexFunc(out, func(k kundCount) bool { return k.kundnummer == e.Kundnummer })
		if i < 0 {
			out = append(out, kundCount{kundnummer: e.Kundnummer})
			i = len(out) - 1
		}
		out[i].persons++
		if e.Forskrivare {
			out[i].forskrivare++
		}
		if e.Bestallare {
			out[i].bestal++
		}
	}
	slices.SortFunc(out, func(a, b kundCount) int { return cmp.Compare(a.kundnummer, b.kundnummer) })
	return out
}

// workbookStyles are the style ids of one workbook.
type workbookStyles struct {
	header, text, date, dateTime, number int
}

func newWorkbookStyles(f *excelize.File) (workbookStyles, error) {
	var s workbookStyles
	var err error
	border := []excelize.Border{{Type: "bottom", Color: "000000", Style: 1}}
	if s.header, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"1F4E78"}},
		Border:    border,
		Alignment: &excelize.Alignment{Vertical: "center"},
		NumFmt:    49,
	}); err != nil {
		return s, err
	}
	// Number format 49 is "@", Text: what is typed into the cell later
	// stays text too.
	if s.text, err = f.NewStyle(&excelize.Style{NumFmt: 49}); err != nil {
		return s, err
	}
	dateFmt, dateTimeFmt := "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
	if s.date, err = f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt}); err != nil {
		return s, err
	}
	if s.dateTime, err = f.NewStyle(&excelize.Style{CustomNumFmt: &dateTimeFmt}); err != nil {
		return s, err
	}
	if s.number, err = f.NewStyle(&excelize.Style{NumFmt: 1}); err != nil {
		return s, err
	}
	return s, nil
}

// writeSheet streams a header and rows to sheet with the styles, the
// header frozen, the autofilter on and the column widths fitted to the
// content. Streaming keeps a large register's export to one pass
// (per-cell styling through the ordinary API costs ten times more).
func writeSheet(f *excelize.File, sheet string, st workbookStyles, headers []string, rows [][]cell) error {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range rows {
		for c, v := range row {
			w := utf8.RuneCountInString(v.text)
			switch v.kind {
			case cellDate:
				w = 10
			case cellDateTime:
				w = 16
			case cellInt:
				w = len(strconv.Itoa(v.n))
			}
			widths[c] = max(widths[c], w)
		}
	}
	// The autofilter is set on the still empty sheet: the stream writer
	// keeps it, and setting it afterwards would parse the whole sheet again.
	end, _ := excelize.CoordinatesToCellName(len(headers), len(rows)+1)
	if err := f.AutoFilter(sheet, "A1:"+end, nil); err != nil {
		return fmt.Errorf("add the autofilter to %s: %w", sheet, err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return fmt.Errorf("write sheet %s: %w", sheet, err)
	}
	for i, w := range widths {
		if err := sw.SetColWidth(i+1, i+1, float64(min(max(w, 6), 60)+3)); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("freeze the header of %s: %w", sheet, err)
	}
	values := make([]any, len(headers))
	for i, h := range headers {
		values[i] = excelize.Cell{StyleID: st.header, Value: h}
	}
	if err := sw.SetRow("A1", values); err != nil {
		return fmt.Errorf("write the header of %s: %w", sheet, err)
	}
	for r, row := range rows {
		values := make([]any, len(row))
		for c, v := range row {
			switch v.kind {
			case cellDate:
				values[c] = excelize.Cell{StyleID: st.date, Value: v.at}
			case cellDateTime:
				values[c] = excelize.Cell{StyleID: st.dateTime, Value: v.at}
			case cellInt:
				values[c] = excelize.Cell{StyleID: st.number, Value: v.n}
			default:
				// A string value is written as a string cell whatever it
				// looks like; excelize makes a formula only from
				// Cell.Formula, which is never set here.
				values[c] = excelize.Cell{StyleID: st.text, Value: v.text}
			}
		}
		ref, _ := excelize.CoordinatesToCellName(1, r+2)
		if err := sw.SetRow(ref, values); err != nil {
			return fmt.Errorf("write row %d of %s: %w", r+2, sheet, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("write sheet %s: %w", sheet, err)
	}
	return nil
}

// buildRegisterWorkbook makes the Kund- och förskrivarregister.
func buildRegisterWorkbook(rows []staffapi.RegisterEntry) (*excelize.File, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", registerSheet); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.NewSheet(countsSheet); err != nil {
		f.Close()
		return nil, err
	}
	st, err := newWorkbookStyles(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("make the workbook's styles: %w", err)
	}
	cells := make([][]cell, len(rows))
	for i, e := range rows {
		cells[i] = registerRow(e)
	}
	if err := writeSheet(f, registerSheet, st, registerColumns, cells); err != nil {
		f.Close()
		return nil, err
	}
	var counts [][]cell
	for _, k := range countByKundnummer(rows) {
		counts = append(counts, []cell{textCell(k.kundnummer), {kind: cellInt, n: k.persons},
			{kind: cellInt, n: k.forskrivare}, {kind: cellInt, n: k.bestal}})
	}
	if err := writeSheet(f, countsSheet, st, []string{"Kundnummer", "Personer", "Förskrivare", "Beställare"}, counts); err != nil {
		f.Close()
		return nil, err
	}
	// The register sheet (the first, renamed Sheet1) stays the active one;
	// SetActiveSheet would parse every streamed sheet again.
	return f, nil
}

// writeRegisterWorkbook writes the workbook to path atomically (a partly
// written export never replaces a good one) with mode 0600: it holds
// personal data.
func writeRegisterWorkbook(path string, rows []staffapi.RegisterEntry) error {
	f, err := buildRegisterWorkbook(rows)
	if err != nil {
		return fmt.Errorf("build the register workbook: %w", err)
	}
	defer f.Close()
	return saveWorkbook(path, f)
}

// saveWorkbook writes f to path atomically (a partly written file never
// replaces a good one: a temporary file beside it, synced, then renamed)
// with mode 0600, since a workbook of ours holds personal data or figures
// for staff alone.
func saveWorkbook(path string, f *excelize.File) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func pathExt(p string) string { return filepath.Ext(p) }
