package hostile

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// The workbook bombs' default sizes: each unpacks to under formparse's
// 50 MiB limit on a workbook's unpacked size, and each made a reader without
// pre-checks allocate gigabytes.
const (
	// ExtentRows rows with a cell at column XFD: excelize fills every
	// row up to its last column, 16,384 cells each (3,000 rows: 10 GB).
	ExtentRows = 3000
	// SharedStrings entries of about 22 bytes: 44 MB of shared strings in
	// a file of about 130 KB (1.1 GB when parsed).
	SharedStrings = 2_000_000
	// DefinedNames names (620 MB when parsed).
	DefinedNames = 800_000
	// StyleFormats cell formats in the styles part (500 MB when parsed).
	StyleFormats = 1_000_000
)

// XLSXExtentSpaces is a workbook whose worksheet hides its extent from a
// byte-pattern pre-check: rows rows, each with one cell written
// r = "XFD<n>", with blanks around the equals sign as XML allows.
func XLSXExtentSpaces(rows int) []byte {
	return workbook(parts{sheet: extentSheet(rows, func(n int) string { return fmt.Sprintf(`r = "XFD%d"`, n) })})
}

// XLSXExtentCharRefs is XLSXExtentSpaces with the references written with
// XML character references instead: r="&#88;FD<n>" (X is &#88;).
func XLSXExtentCharRefs(rows int) []byte {
	return workbook(parts{sheet: extentSheet(rows, func(n int) string { return fmt.Sprintf(`r="&#88;&#x46;D%d"`, n) })})
}

func extentSheet(rows int, ref func(n int) string) string {
	var b strings.Builder
	b.WriteString(xmlHead + `<worksheet xmlns="` + nsMain + `"><sheetData>`)
	for n := 1; n <= rows; n++ {
		fmt.Fprintf(&b, `<row r="%d"><c %s t="inlineStr"><is><t>x</t></is></c></row>`, n, ref(n))
	}
	b.WriteString(`</sheetData></worksheet>`)
	return b.String()
}

// XLSXSharedStrings is a workbook whose shared-strings part holds n short
// entries, one of them used by a cell.
func XLSXSharedStrings(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, xmlHead+`<sst xmlns="%s" count="%d" uniqueCount="%d">`, nsMain, n, n)
	for i := 0; i < n; i++ {
		b.WriteString(`<si><t>Lindqvist</t></si>`)
	}
	b.WriteString(`</sst>`)
	sheet := xmlHead + `<worksheet xmlns="` + nsMain + `"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`
	return workbook(parts{sheet: sheet, sharedStrings: b.String()})
}

// XLSXDefinedNames is a workbook that defines n names.
func XLSXDefinedNames(n int) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<definedName name="n%d">Blad1!$A$1</definedName>`, i)
	}
	return workbook(parts{names: b.String()})
}

// XLSXStyles is a workbook whose styles part holds n cell formats.
func XLSXStyles(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, xmlHead+`<styleSheet xmlns="%s"><fonts count="1"><font><sz val="11"/></font></fonts>`+
		`<fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders>`+
		`<cellXfs count="%d">`, nsMain, n)
	for i := 0; i < n; i++ {
		b.WriteString(`<xf numFmtId="0" fontId="0"/>`)
	}
	b.WriteString(`</cellXfs></styleSheet>`)
	return workbook(parts{styles: b.String()})
}

// XLSXForm is a small workbook holding values as the form's workbook does:
// each name a workbook-level defined name of a cell on the sheet Ansökan,
// the value an inline string in that cell. It lets tests make a form with
// any value, however long, without a spreadsheet library.
func XLSXForm(values map[string]string) []byte {
	var sheet, names strings.Builder
	sheet.WriteString(xmlHead + `<worksheet xmlns="` + nsMain + `"><sheetData>`)
	row := 0
	for _, name := range sortedKeys(values) {
		row++
		fmt.Fprintf(&sheet, `<row r="%d"><c r="B%d" t="inlineStr"><is><t xml:space="preserve">%s</t></is></c></row>`, row, row, escape(values[name]))
		fmt.Fprintf(&names, `<definedName name="%s">'Ansökan'!$B$%d</definedName>`, escape(name), row)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	return workbook(parts{sheetName: "Ansökan", sheet: sheet.String(), names: names.String()})
}

const (
	xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
	nsMain  = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	nsRel   = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
)

// parts are the parts of a one-sheet workbook that differ between bombs;
// empty ones get a minimal valid part.
type parts struct {
	sheetName, sheet, sharedStrings, names, styles string
}

// workbook zips a minimal one-sheet workbook that Excel and excelize open.
func workbook(p parts) []byte {
	if p.sheetName == "" {
		p.sheetName = "Blad1"
	}
	if p.sheet == "" {
		p.sheet = xmlHead + `<worksheet xmlns="` + nsMain + `"><sheetData/></worksheet>`
	}
	if p.styles == "" {
		p.styles = xmlHead + `<styleSheet xmlns="` + nsMain + `"><fonts count="1"><font><sz val="11"/></font></fonts>` +
			`<fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders>` +
			`<cellXfs count="1"><xf numFmtId="0" fontId="0"/></cellXfs></styleSheet>`
	}
	types := `<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
		`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
		`<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>`
	rels := `<Relationship Id="rId1" Type="` + nsRel + `/worksheet" Target="worksheets/sheet1.xml"/>` +
		`<Relationship Id="rId2" Type="` + nsRel + `/styles" Target="styles.xml"/>`
	if p.sharedStrings != "" {
		types += `<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`
		rels += `<Relationship Id="rId3" Type="` + nsRel + `/sharedStrings" Target="sharedStrings.xml"/>`
	}
	names := ""
	if p.names != "" {
		names = "<definedNames>" + p.names + "</definedNames>"
	}
	files := []struct{ name, body string }{
		{"[Content_Types].xml", xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` + types + `</Types>`},
		{"_rels/.rels", xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="` + nsRel + `/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", xmlHead + `<workbook xmlns="` + nsMain + `" xmlns:r="` + nsRel + `"><sheets>` +
			`<sheet name="` + escape(p.sheetName) + `" sheetId="1" r:id="rId1"/></sheets>` + names + `</workbook>`},
		{"xl/_rels/workbook.xml.rels", xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + rels + `</Relationships>`},
		{"xl/worksheets/sheet1.xml", p.sheet},
		{"xl/styles.xml", p.styles},
	}
	if p.sharedStrings != "" {
		files = append(files, struct{ name, body string }{"xl/sharedStrings.xml", p.sharedStrings})
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err == nil {
			_, err = io.WriteString(w, f.body)
		}
		if err != nil {
			panic(fmt.Sprintf("hostile: zip %s: %v", f.name, err)) // writes to memory cannot fail
		}
	}
	if err := zw.Close(); err != nil {
		panic(fmt.Sprintf("hostile: zip: %v", err))
	}
	return buf.Bytes()
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
