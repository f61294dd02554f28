package main

import (
	"fmt"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/regionhmc/websesam-intake/store"
)

// Sheets of the report workbook (Swedish: it goes into the centre's
// follow-up, Verksamhetsuppföljning).
const (
	sheetSummary    = "Översikt"
	sheetWeeks      = "Veckor"
	sheetTurnaround = "Handläggningstid"
	sheetReasons    = "Returorsaker"
	sheetOrgs       = "Verksamheter"
	sheetQueue      = "Kö"
	sheetLate       = "Över löftet"
)

// reportSheets are the workbook's sheets in order.
var reportSheets = []string{sheetSummary, sheetWeeks, sheetTurnaround, sheetReasons, sheetOrgs, sheetQueue, sheetLate}

// topReasons is how many return reasons the chart shows.
const topReasons = 10

// reportBook writes cells with the workbook's styles.
type reportBook struct {
	f                                 *excelize.File
	header, text, date, dateTime, num int
	percent, decimal                  int
}

func (b *reportBook) set(sheet string, col, row int, v any) error {
	ref, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		return err
	}
	style := b.num
	switch x := v.(type) {
	case string:
		// Always a string cell: verksamhet is form input and must never
		// become a formula.
		if err := b.f.SetCellStr(sheet, ref, x); err != nil {
			return err
		}
		return b.f.SetCellStyle(sheet, ref, ref, b.text)
	case time.Time:
		l := x.Local()
		v = time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
		style = b.date
		if l.Hour() != 0 || l.Minute() != 0 {
			style = b.dateTime
		}
	case float64:
		style = b.decimal
	case percent:
		v, style = float64(x), b.percent
	}
	if err := b.f.SetCellValue(sheet, ref, v); err != nil {
		return err
	}
	return b.f.SetCellStyle(sheet, ref, ref, style)
}

// percent is a share written with a percent format.
type percent float64

func (b *reportBook) headers(sheet string, row int, hs ...string) error {
	for i, h := range hs {
		ref, _ := excelize.CoordinatesToCellName(i+1, row)
		if err := b.f.SetCellStr(sheet, ref, h); err != nil {
			return err
		}
		if err := b.f.SetCellStyle(sheet, ref, ref, b.header); err != nil {
			return err
		}
		if err := b.f.SetColWidth(sheet, colName(i+1), colName(i+1), float64(max(len([]rune(h))+4, 12))); err != nil {
			return err
		}
	}
	return nil
}

func colName(c int) string { n, _ := excelize.ColumnNumberToName(c); return n }

func ref(sheet string, col1, row1, col2, row2 int) string {
	a, _ := excelize.CoordinatesToCellName(col1, row1, true)
	b, _ := excelize.CoordinatesToCellName(col2, row2, true)
	return fmt.Sprintf("'%s'!%s:%s", sheet, a, b)
}

func chartTitle(s string) excelize.ChartTitle {
	return excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: s}}}
}

// buildReportWorkbook makes the report's workbook: one sheet per table and
// native charts.
func buildReportWorkbook(r store.Report) (*excelize.File, error) {
	f := excelize.NewFile()
	if err := fillReportWorkbook(f, r); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func fillReportWorkbook(f *excelize.File, r store.Report) error {
	b := &reportBook{f: f}
	var err error
	if err := f.SetSheetName("Sheet1", reportSheets[0]); err != nil {
		return err
	}
	for _, s := range reportSheets[1:] {
		if _, err := f.NewSheet(s); err != nil {
			return err
		}
	}
	if b.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"1F4E78"}}}); err != nil {
		return err
	}
	dateFmt, dateTimeFmt := "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
	styles := []struct {
		p *int
		s excelize.Style
	}{
		{&b.text, excelize.Style{NumFmt: 49}},
		{&b.date, excelize.Style{CustomNumFmt: &dateFmt}},
		{&b.dateTime, excelize.Style{CustomNumFmt: &dateTimeFmt}},
		{&b.num, excelize.Style{NumFmt: 1}},
		{&b.percent, excelize.Style{NumFmt: 9}},
		{&b.decimal, excelize.Style{NumFmt: 2}},
	}
	for _, s := range styles {
		if *s.p, err = f.NewStyle(&s.s); err != nil {
			return err
		}
	}
	steps := []func(*reportBook, store.Report) error{
		summarySheet, weeksSheet, turnaroundSheet, reasonsSheet, orgsSheet, queueSheet, lateSheet,
	}
	for _, step := range steps {
		if err := step(b, r); err != nil {
			return fmt.Errorf("build the report workbook: %w", err)
		}
	}
	// Each sheet prints on one landscape page, its chart beside its table.
	landscape, one, fit := "landscape", 1, true
	for _, s := range reportSheets {
		if err := f.SetPageLayout(s, &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &one, FitToHeight: &one}); err != nil {
			return fmt.Errorf("build the report workbook: %w", err)
		}
		if err := f.SetSheetProps(s, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
			return fmt.Errorf("build the report workbook: %w", err)
		}
	}
	return nil
}

func summarySheet(b *reportBook, r store.Report) error {
	s := sheetSummary
	mails, reqs := 0, 0
	for _, w := range r.Weeks {
		mails += w.Mails()
		reqs += w.Ny + w.Andring + w.Avslut
	}
	if err := b.headers(s, 1, "Uppgift", "Värde"); err != nil {
		return err
	}
	if err := b.f.SetColWidth(s, "A", "A", 40); err != nil {
		return err
	}
	if err := b.f.SetColWidth(s, "B", "B", 18); err != nil {
		return err
	}
	rows := []struct {
		k string
		v any
	}{
		{"Period från (mottaget)", r.From},
		{"Period till och med", r.To.AddDate(0, 0, -1)},
		{"Kön räknad", r.Now},
		{"Löfte (arbetsdagar)", r.Promise},
		{"Mejl mottagna", mails},
		{"Ärenden mottagna", reqs},
		{"Klara ärenden", r.Turnaround.Done},
		{"Handläggningstid, median (arbetsdagar)", r.Turnaround.Median},
		{"Handläggningstid, 90:e percentilen (arbetsdagar)", r.Turnaround.P90},
		{"Klara inom löftet", r.Turnaround.WithinPromise},
		{"Andel klara inom löftet", percent(r.Turnaround.Share)},
		{"Öppna ärenden nu", r.Queue.Open},
		{"Äldsta öppna (arbetsdagar)", r.Queue.Oldest},
		{"Öppna över löftet", len(r.Queue.Late)},
	}
	for i, row := range rows {
		if err := b.set(s, 1, i+2, row.k); err != nil {
			return err
		}
		if err := b.set(s, 2, i+2, row.v); err != nil {
			return err
		}
	}
	return nil
}

func weeksSheet(b *reportBook, r store.Report) error {
	s := sheetWeeks
	hs := []string{"Vecka", "Måndag", "Köade", "Returnerade", "Utan blankett", "Ignorerade", "Karantän", "Ny", "Ändring", "Avslut"}
	if err := b.headers(s, 1, hs...); err != nil {
		return err
	}
	for i, w := range r.Weeks {
		for c, v := range []any{w.Week, w.Start, w.Queued, w.Returned, w.NoForm, w.Ignored, w.Quarantined, w.Ny, w.Andring, w.Avslut} {
			if err := b.set(s, c+1, i+2, v); err != nil {
				return err
			}
		}
	}
	if len(r.Weeks) == 0 {
		return nil
	}
	last := len(r.Weeks) + 1
	var series []excelize.ChartSeries
	for c := 3; c <= 7; c++ {
		series = append(series, excelize.ChartSeries{
			Name: fmt.Sprintf("'%s'!$%s$1", s, colName(c)), Categories: ref(s, 1, 2, 1, last), Values: ref(s, c, 2, c, last),
		})
	}
	return b.f.AddChart(s, "L2", &excelize.Chart{
		Type: excelize.ColStacked, Series: series, Title: chartTitle("Mejl per vecka och utfall"),
		Legend: excelize.ChartLegend{Position: "bottom"},
		Format: excelize.GraphicOptions{ScaleX: 1.6, ScaleY: 1.3},
		YAxis:  excelize.ChartAxis{MajorGridLines: true},
	})
}

func turnaroundSheet(b *reportBook, r store.Report) error {
	s := sheetTurnaround
	if err := b.headers(s, 1, "Arbetsdagar", "Klara inom löftet", "Klara efter löftet"); err != nil {
		return err
	}
	days := r.Turnaround.Days
	for i, n := range days {
		label := any(i)
		if i == len(days)-1 {
			label = fmt.Sprintf("%d eller fler", i)
		}
		in, out := n, 0
		if i > r.Promise {
			in, out = 0, n
		}
		for c, v := range []any{label, in, out} {
			if err := b.set(s, c+1, i+2, v); err != nil {
				return err
			}
		}
	}
	last := len(days) + 1
	ok, late := "2E7D32", "C62828"
	return b.f.AddChart(s, "E2", &excelize.Chart{
		Type: excelize.ColStacked,
		Series: []excelize.ChartSeries{
			{Name: fmt.Sprintf("'%s'!$B$1", s), Categories: ref(s, 1, 2, 1, last), Values: ref(s, 2, 2, 2, last),
				Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{ok}}},
			{Name: fmt.Sprintf("'%s'!$C$1", s), Categories: ref(s, 1, 2, 1, last), Values: ref(s, 3, 2, 3, last),
				Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{late}}},
		},
		Title:  chartTitle(fmt.Sprintf("Handläggningstid mot löftet (%d arbetsdagar)", r.Promise)),
		Legend: excelize.ChartLegend{Position: "bottom"},
		Format: excelize.GraphicOptions{ScaleX: 1.6, ScaleY: 1.3},
		XAxis:  excelize.ChartAxis{Title: chartTitle("Arbetsdagar från mottaget till klart")},
		YAxis:  excelize.ChartAxis{MajorGridLines: true, Title: chartTitle("Ärenden")},
	})
}

func reasonsSheet(b *reportBook, r store.Report) error {
	s := sheetReasons
	if err := b.headers(s, 1, "Fält (etikett)", "Fältnamn", "Blanketter"); err != nil {
		return err
	}
	if err := b.f.SetColWidth(s, "A", "A", 40); err != nil {
		return err
	}
	if err := b.f.SetColWidth(s, "B", "B", 24); err != nil {
		return err
	}
	for i, c := range r.Reasons {
		for col, v := range []any{c.Label, c.Field, c.Count} {
			if err := b.set(s, col+1, i+2, v); err != nil {
				return err
			}
		}
	}
	if len(r.Reasons) == 0 {
		return nil
	}
	last := min(len(r.Reasons), topReasons) + 1
	return b.f.AddChart(s, "E2", &excelize.Chart{
		Type: excelize.Bar,
		Series: []excelize.ChartSeries{{Name: fmt.Sprintf("'%s'!$C$1", s),
			Categories: ref(s, 1, 2, 1, last), Values: ref(s, 3, 2, 3, last)}},
		Title:      chartTitle(fmt.Sprintf("De %d vanligaste returorsakerna", last-1)),
		VaryColors: new(bool),
		Legend:     excelize.ChartLegend{Position: "none"},
		Format:     excelize.GraphicOptions{ScaleX: 1.6, ScaleY: 1.3},
		// Most frequent at the top.
		XAxis: excelize.ChartAxis{ReverseOrder: true},
		YAxis: excelize.ChartAxis{MajorGridLines: true},
	})
}

func orgsSheet(b *reportBook, r store.Report) error {
	s := sheetOrgs
	if err := b.headers(s, 1, "Verksamhet", "Kundnummer", "Ärenden", "Returer"); err != nil {
		return err
	}
	if err := b.f.SetColWidth(s, "A", "A", 40); err != nil {
		return err
	}
	for i, o := range r.Organisations {
		for c, v := range []any{o.Verksamhet, o.Kundnummer, o.Requests, o.Returns} {
			if err := b.set(s, c+1, i+2, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func queueSheet(b *reportBook, r store.Report) error {
	s := sheetQueue
	if err := b.headers(s, 1, "Ålder (arbetsdagar)", "Öppna ärenden"); err != nil {
		return err
	}
	for i, band := range store.AgeBands {
		if err := b.set(s, 1, i+2, band.Label); err != nil {
			return err
		}
		if err := b.set(s, 2, i+2, r.Queue.Bands[i]); err != nil {
			return err
		}
	}
	last := len(store.AgeBands) + 1
	return b.f.AddChart(s, "D2", &excelize.Chart{
		Type:   excelize.Col,
		Series: []excelize.ChartSeries{{Name: fmt.Sprintf("'%s'!$B$1", s), Categories: ref(s, 1, 2, 1, last), Values: ref(s, 2, 2, 2, last)}},
		Title:  chartTitle("Öppna ärenden efter ålder"),
		Legend: excelize.ChartLegend{Position: "none"},
		YAxis:  excelize.ChartAxis{MajorGridLines: true},
	})
}

func lateSheet(b *reportBook, r store.Report) error {
	s := sheetLate
	if err := b.headers(s, 1, "Ärende-id", "Status", "Mottaget", "Arbetsdagar"); err != nil {
		return err
	}
	for i, l := range r.Queue.Late {
		for c, v := range []any{l.ID, string(l.Status), l.Since, l.Age} {
			if err := b.set(s, c+1, i+2, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeReportWorkbook writes the workbook to path atomically with mode 0600.
func writeReportWorkbook(path string, r store.Report) error {
	f, err := buildReportWorkbook(r)
	if err != nil {
		return err
	}
	defer f.Close()
	return saveWorkbook(path, f)
}
