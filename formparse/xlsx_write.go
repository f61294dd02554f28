package formparse

import (
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxUserRows is the number of bordered, ready-made user rows on the
// Användare sheet; more can be typed below them (the columns stay unlocked).
const xlsxUserRows = 50

// Column layout of the form sheet: label, input, hint.
const (
	xlsxColLabel = "A"
	xlsxColInput = "B"
	xlsxColHint  = "C"
)

// xlsxStyles holds the style ids of one workbook under construction.
type xlsxStyles struct {
	title, instruction, section, label, hint, footer int
	inputText, inputDate, inputGeneral, tag          int
	userHeader, userCell, userColumn                 int
}

// writeXLSX writes the blank workbook of def. Everything on it — sections,
// labels, the `*` of mandatory fields, hints, drop-downs, the defined names of
// the input cells and the user columns — is generated from def, so a field
// added to form.go appears here without further work.
func writeXLSX(w io.Writer, def *Definition) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := buildXLSX(f, def); err != nil {
		return fmt.Errorf("write blank workbook %s: %w", def.ID, err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("write blank workbook %s: %w", def.ID, err)
	}
	return nil
}

func buildXLSX(f *excelize.File, def *Definition) error {
	if err := f.SetSheetName("Sheet1", FormSheet); err != nil {
		return err
	}
	st, err := newXLSXStyles(f)
	if err != nil {
		return err
	}
	if err := f.SetDocProps(&excelize.DocProperties{
		Title:   def.Title,
		Subject: def.Blankett(),
		Creator: "websesam-intake",
	}); err != nil {
		return err
	}
	if err := buildXLSXFormSheet(f, def, st); err != nil {
		return fmt.Errorf("sheet %s: %w", FormSheet, err)
	}
	if len(def.UserColumns) > 0 {
		if err := buildXLSXUserSheet(f, def, st); err != nil {
			return fmt.Errorf("sheet %s: %w", UserSheet, err)
		}
	}
	f.SetActiveSheet(0)
	return nil
}

func newXLSXStyles(f *excelize.File) (*xlsxStyles, error) {
	var (
		st  xlsxStyles
		err error
	)
	locked, unlocked := &excelize.Protection{Locked: true}, &excelize.Protection{Locked: false}
	grey := "7F7F7F"
	box := []excelize.Border{
		{Type: "left", Color: grey, Style: 1}, {Type: "right", Color: grey, Style: 1},
		{Type: "top", Color: grey, Style: 1}, {Type: "bottom", Color: grey, Style: 1},
	}
	inputFill := excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFF8D6"}}
	textFmt := "@"
	dateFmt := "yyyy-mm-dd"
	font := func(size float64, bold, italic bool, color string) *excelize.Font {
		return &excelize.Font{Family: "Calibri", Size: size, Bold: bold, Italic: italic, Color: color}
	}
	wrapTop := &excelize.Alignment{WrapText: true, Vertical: "top"}
	center := &excelize.Alignment{Vertical: "center"}
	defs := []struct {
		id *int
		s  *excelize.Style
	}{
		{&st.title, &excelize.Style{Font: font(14, true, false, "1F3864"), Alignment: &excelize.Alignment{WrapText: true, Vertical: "center"}, Protection: locked}},
		{&st.instruction, &excelize.Style{Font: font(10, false, false, ""), Alignment: wrapTop, Protection: locked}},
		{&st.section, &excelize.Style{Font: font(11, true, false, "1F3864"),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE6F2"}},
			Border:     []excelize.Border{{Type: "bottom", Color: "1F3864", Style: 1}},
			Alignment:  center,
			Protection: locked}},
		{&st.label, &excelize.Style{Font: font(11, false, false, ""), Alignment: &excelize.Alignment{Vertical: "center", WrapText: true}, Protection: locked}},
		{&st.hint, &excelize.Style{Font: font(9, false, true, "595959"), Alignment: &excelize.Alignment{Vertical: "center", WrapText: true}, Protection: locked}},
		{&st.footer, &excelize.Style{Font: font(10, true, false, "1F3864"), Alignment: center, Protection: locked}},
		{&st.inputText, &excelize.Style{Font: font(11, false, false, ""), Fill: inputFill, Border: box, Alignment: center, CustomNumFmt: &textFmt, Protection: unlocked}},
		{&st.inputDate, &excelize.Style{Font: font(11, false, false, ""), Fill: inputFill, Border: box, Alignment: &excelize.Alignment{Vertical: "center", Horizontal: "left"}, CustomNumFmt: &dateFmt, Protection: unlocked}},
		{&st.inputGeneral, &excelize.Style{Font: font(11, false, false, ""), Fill: inputFill, Border: box, Alignment: center, Protection: unlocked}},
		{&st.tag, &excelize.Style{Font: font(10, false, false, "595959"),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"EDEDED"}},
			Border:     box,
			Alignment:  center,
			Protection: locked}},
		{&st.userHeader, &excelize.Style{Font: font(11, true, false, "1F3864"),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE6F2"}},
			Border:     box,
			Alignment:  &excelize.Alignment{Vertical: "center", WrapText: true},
			Protection: locked}},
		{&st.userCell, &excelize.Style{Font: font(11, false, false, ""), Fill: inputFill, Border: box, CustomNumFmt: &textFmt, Protection: unlocked}},
		{&st.userColumn, &excelize.Style{CustomNumFmt: &textFmt, Protection: unlocked}},
	}
	for _, d := range defs {
		if *d.id, err = f.NewStyle(d.s); err != nil {
			return nil, err
		}
	}
	return &st, nil
}

// xlsxLabel is the label as the form shows it: with " *" when the field can be
// mandatory.
func xlsxLabel(fl Field) string {
	if fl.Required.Mandatory() {
		return fl.Label + " *"
	}
	return fl.Label
}

// xlsxHint is the text beside an input cell.
func xlsxHint(fl Field) string {
	switch {
	case fl.Hint != "":
		return fl.Hint
	case fl.Kind == Checkbox:
		return "Ja eller Nej"
	case fl.Kind == Choice:
		return "Välj i listan"
	case fl.Kind == Tag:
		return "Fylls i av blanketten, ändra inte"
	}
	return ""
}

func xlsxChoiceLabels(fl Field) []string {
	out := make([]string, len(fl.Choices))
	for i, c := range fl.Choices {
		out[i] = c.Label
	}
	return out
}

// mergedLine writes text in row of sheet sh across the columns from first
// to last, merged into one cell, in style; a height above zero sets the
// row's height.
func mergedLine(f *excelize.File, sh string, row int, first, last, text string, style int, height float64) error {
	a, c := fmt.Sprintf("%s%d", first, row), fmt.Sprintf("%s%d", last, row)
	if err := f.MergeCell(sh, a, c); err != nil {
		return err
	}
	if err := f.SetCellStr(sh, a, text); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, a, c, style); err != nil {
		return err
	}
	if height > 0 {
		if err := f.SetRowHeight(sh, row, height); err != nil {
			return err
		}
	}
	return nil
}

func buildXLSXFormSheet(f *excelize.File, def *Definition, st *xlsxStyles) error {
	sh := FormSheet
	row := 1
	cell := func(col string, r int) string { return fmt.Sprintf("%s%d", col, r) }
	// line writes one text line across the three columns.
	line := func(text string, style int, height float64) error {
		if err := mergedLine(f, sh, row, xlsxColLabel, xlsxColHint, text, style, height); err != nil {
			return err
		}
		row++
		return nil
	}
	instructions := []string{
		"Fyll i de gula fälten, spara filen och skicka den som bifogad fil i ett e-postmeddelande till hjälpmedelscentralen med ordet \"webSesam\" i ämnesraden.",
		"Fält markerade med * är obligatoriska (vissa bara för det ärende eller den ändring som anges). Skriv datum som ÅÅÅÅ-MM-DD. Kryssrutor fylls i med Ja eller Nej.",
	}
	if len(def.UserColumns) > 0 {
		instructions = append(instructions, "Skriv användarna på bladet \""+UserSheet+"\", en användare per rad. Alla får samma behörighet.")
	}
	if err := line(def.Title, st.title, 40); err != nil {
		return err
	}
	for _, text := range instructions {
		if err := line(text, st.instruction, 30); err != nil {
			return err
		}
	}
	row++ // a blank row before the fields

	section := ""
	var printLast int
	for _, fl := range def.Fields {
		if fl.Section != "" && fl.Section != section {
			section = fl.Section
			if section != SectionArende || row > 1 {
				row++ // air above each heading
			}
			if err := line(section, st.section, 20); err != nil {
				return err
			}
		}
		label, input, hint := cell(xlsxColLabel, row), cell(xlsxColInput, row), cell(xlsxColHint, row)
		if err := f.SetCellStr(sh, label, xlsxLabel(fl)); err != nil {
			return err
		}
		if err := f.SetCellStyle(sh, label, label, st.label); err != nil {
			return err
		}
		if h := xlsxHint(fl); h != "" {
			if err := f.SetCellStr(sh, hint, h); err != nil {
				return err
			}
		}
		if err := f.SetCellStyle(sh, hint, hint, st.hint); err != nil {
			return err
		}
		style := st.inputText
		switch fl.Kind {
		case Tag:
			style = st.tag
			if err := f.SetCellStr(sh, input, def.Blankett()); err != nil {
				return err
			}
		case Date:
			style = st.inputDate
		case Checkbox, Choice:
			style = st.inputGeneral
		}
		if err := f.SetCellStyle(sh, input, input, style); err != nil {
			return err
		}
		var list []string
		switch fl.Kind {
		case Checkbox:
			list = []string{"Ja", "Nej"}
		case Choice:
			list = xlsxChoiceLabels(fl)
		}
		if list != nil {
			dv := excelize.NewDataValidation(true)
			dv.Sqref = input
			if err := dv.SetDropList(list); err != nil {
				return err
			}
			dv.SetError(excelize.DataValidationErrorStyleStop, fl.Label, "Välj ett av: "+strings.Join(list, ", "))
			if err := f.AddDataValidation(sh, dv); err != nil {
				return err
			}
		}
		if err := f.SetDefinedName(&excelize.DefinedName{
			Name:     fl.Name,
			RefersTo: xlsxAbsRef(sh, xlsxColInput, row),
			Comment:  fl.Label,
		}); err != nil {
			return fmt.Errorf("name %s: %w", fl.Name, err)
		}
		if err := f.SetRowHeight(sh, row, 20); err != nil {
			return err
		}
		row++
	}
	row++
	if err := line(SupportLine, st.footer, 20); err != nil {
		return err
	}
	printLast = row - 1

	for _, c := range []struct {
		col   string
		width float64
	}{{xlsxColLabel, 34}, {xlsxColInput, 40}, {xlsxColHint, 32}} {
		if err := f.SetColWidth(sh, c.col, c.col, c.width); err != nil {
			return err
		}
	}
	if err := xlsxPageSetup(f, sh, "portrait", fmt.Sprintf("$A$1:$C$%d", printLast)); err != nil {
		return err
	}
	if err := f.SetSheetView(sh, 0, &excelize.ViewOptions{ShowGridLines: xlsxPtr(false)}); err != nil {
		return err
	}
	return f.ProtectSheet(sh, &excelize.SheetProtectionOptions{
		SelectLockedCells: true, SelectUnlockedCells: true,
		FormatColumns: true, FormatRows: true,
	})
}

func buildXLSXUserSheet(f *excelize.File, def *Definition, st *xlsxStyles) error {
	sh := UserSheet
	if _, err := f.NewSheet(sh); err != nil {
		return err
	}
	cols := def.UserColumns
	lastCol, err := excelize.ColumnNumberToName(len(cols))
	if err != nil {
		return err
	}
	const headerRow = 3
	top := "Skriv en användare per rad under rubrikraden. Fält markerade med * är obligatoriska. Fler rader går att skriva under de förberedda."
	if err := mergedLine(f, sh, 1, "A", lastCol, top, st.instruction, 30); err != nil {
		return err
	}
	if err := mergedLine(f, sh, 2, "A", lastCol, SupportLine, st.hint, 0); err != nil {
		return err
	}
	widths := map[Kind]float64{Email: 32, HSAID: 30, Phone: 18}
	for i, c := range cols {
		col, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return err
		}
		width := 20.0
		if w, ok := widths[c.Kind]; ok {
			width = w
		}
		if err := f.SetColWidth(sh, col, col, width); err != nil {
			return err
		}
		// The whole column is unlocked text so that rows beyond the prepared
		// ones can be typed too; the header row below is locked again.
		if err := f.SetColStyle(sh, col, st.userColumn); err != nil {
			return err
		}
		if err := f.SetCellStr(sh, fmt.Sprintf("%s%d", col, headerRow), xlsxLabel(c)); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(sh, "A1", lastCol+"1", st.instruction); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, "A2", lastCol+"2", st.hint); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, fmt.Sprintf("A%d", headerRow), fmt.Sprintf("%s%d", lastCol, headerRow), st.userHeader); err != nil {
		return err
	}
	if err := f.SetRowHeight(sh, headerRow, 22); err != nil {
		return err
	}
	first, last := headerRow+1, headerRow+xlsxUserRows
	if err := f.SetCellStyle(sh, fmt.Sprintf("A%d", first), fmt.Sprintf("%s%d", lastCol, last), st.userCell); err != nil {
		return err
	}
	if err := f.SetPanes(sh, &excelize.Panes{
		Freeze: true, YSplit: headerRow, TopLeftCell: fmt.Sprintf("A%d", first), ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: fmt.Sprintf("A%d", first), ActiveCell: fmt.Sprintf("A%d", first), Pane: "bottomLeft"}},
	}); err != nil {
		return err
	}
	// No print area here: users typed below the prepared rows must print too.
	if err := xlsxPageSetup(f, sh, "landscape", ""); err != nil {
		return err
	}
	if err := f.SetDefinedName(&excelize.DefinedName{
		Name: "_xlnm.Print_Titles", RefersTo: fmt.Sprintf("%s!$%d:$%d", xlsxQuoteSheet(sh), headerRow, headerRow), Scope: sh,
	}); err != nil {
		return err
	}
	return f.ProtectSheet(sh, &excelize.SheetProtectionOptions{
		SelectLockedCells: true, SelectUnlockedCells: true,
		FormatColumns: true, FormatRows: true, InsertRows: true, DeleteRows: true, Sort: true,
	})
}

// xlsxPageSetup prints the sheet on A4, one page wide, with the support line in
// the footer, limited to area when it is given.
func xlsxPageSetup(f *excelize.File, sh, orientation, area string) error {
	if err := f.SetPageLayout(sh, &excelize.PageLayoutOptions{
		Size: xlsxPtr(9), Orientation: xlsxPtr(orientation), FitToWidth: xlsxPtr(1), FitToHeight: xlsxPtr(0),
	}); err != nil {
		return err
	}
	if err := f.SetSheetProps(sh, &excelize.SheetPropsOptions{FitToPage: xlsxPtr(true)}); err != nil {
		return err
	}
	if err := f.SetPageMargins(sh, &excelize.PageLayoutMarginsOptions{
		Left: xlsxPtr(0.5), Right: xlsxPtr(0.5), Top: xlsxPtr(0.6), Bottom: xlsxPtr(0.7), Horizontally: xlsxPtr(true),
	}); err != nil {
		return err
	}
	if err := f.SetHeaderFooter(sh, &excelize.HeaderFooterOptions{
		OddFooter: "&L" + SupportLine + "&RSida &P av &N",
	}); err != nil {
		return err
	}
	if area == "" {
		return nil
	}
	return f.SetDefinedName(&excelize.DefinedName{
		Name: "_xlnm.Print_Area", RefersTo: xlsxQuoteSheet(sh) + "!" + area, Scope: sh,
	})
}

// xlsxQuoteSheet quotes a sheet name for a reference; the Swedish letters make
// quoting necessary in some readers.
func xlsxQuoteSheet(name string) string {
	return "'" + strings.ReplaceAll(name, "'", "''") + "'"
}

func xlsxAbsRef(sheet, col string, row int) string {
	return fmt.Sprintf("%s!$%s$%d", xlsxQuoteSheet(sheet), col, row)
}

func xlsxPtr[T any](v T) *T { return &v }
