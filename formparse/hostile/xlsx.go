package hostile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	return made("shared-strings", n, func() []byte {
		sheet := xmlHead + `<worksheet xmlns="` + nsMain + `"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`
		sst := repeated{
			head: fmt.Sprintf(xmlHead+`<sst xmlns="%s" count="%d" uniqueCount="%d">`, nsMain, n, n),
			unit: `<si><t>Lindqvist</t></si>`, n: n, tail: `</sst>`,
		}
		return workbook(parts{sheet: sheet, bigSharedStrings: &sst})
	})
}

// XLSXDefinedNames is a workbook that defines n names.
func XLSXDefinedNames(n int) []byte {
	return made("defined-names", n, func() []byte {
		b := make([]byte, 0, n*48)
		for i := 0; i < n; i++ {
			b = append(b, `<definedName name="n`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `">Blad1!$A$1</definedName>`...)
		}
		return workbook(parts{names: string(b)})
	})
}

// XLSXStyles is a workbook whose styles part holds n cell formats.
func XLSXStyles(n int) []byte {
	return made("styles", n, func() []byte {
		styles := repeated{
			head: fmt.Sprintf(xmlHead+`<styleSheet xmlns="%s"><fonts count="1"><font><sz val="11"/></font></fonts>`+
				`<fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders>`+
				`<cellXfs count="%d">`, nsMain, n),
			unit: `<xf numFmtId="0" fontId="0"/>`, n: n, tail: `</cellXfs></styleSheet>`,
		}
		return workbook(parts{bigStyles: &styles})
	})
}

// madeFiles keeps each bomb made in this process: the large ones take
// seconds to compress (many more under the race detector), and several
// tests use the same one.
var madeFiles sync.Map // "kind/n" -> []byte

// made returns the bomb of kind and size n, making it once per process;
// the caller gets a copy of its own to change.
func made(kind string, n int, make func() []byte) []byte {
	key := kind + "/" + strconv.Itoa(n)
	if b, ok := madeFiles.Load(key); ok {
		return bytes.Clone(b.([]byte))
	}
	b, _ := madeFiles.LoadOrStore(key, make())
	return bytes.Clone(b.([]byte))
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
	// Parts made of one unit repeated, deflated without compressing
	// every copy (see repeated.deflate).
	bigSharedStrings, bigStyles *repeated
}

// repeated is a part written as head, n copies of unit, and tail.
type repeated struct {
	head, unit string
	n          int
	tail       string
}

// deflate is the part as raw deflate data with its CRC-32 and size, made
// the way blankMiB is: a run of units compressed once on its own, flushed
// to a byte boundary, and copied, so that tens of megabytes of markup cost
// a few milliseconds (compressing them whole takes seconds, and many more
// under the race detector).
func (r repeated) deflate() (data []byte, crc uint32, size uint64) {
	const perRun = 1 << 15 // units in one compressed run
	var out bytes.Buffer
	piece := func(s string) {
		w, _ := flate.NewWriter(&out, flate.BestCompression)
		io.WriteString(w, s)
		w.Flush()
		crc = crc32.Update(crc, crc32.IEEETable, []byte(s))
		size += uint64(len(s))
	}
	piece(r.head)
	if full := r.n / perRun; full > 0 {
		run := strings.Repeat(r.unit, perRun)
		start := out.Len()
		piece(run)
		packed := bytes.Clone(out.Bytes()[start:])
		for range full - 1 {
			out.Write(packed)
			crc = crc32.Update(crc, crc32.IEEETable, []byte(run))
			size += uint64(len(run))
		}
	}
	piece(strings.Repeat(r.unit, r.n%perRun) + r.tail)
	out.Write([]byte{0x03, 0x00}) // a final, empty fixed-Huffman block
	return out.Bytes(), crc, size
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
	if p.sharedStrings != "" || p.bigSharedStrings != nil {
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
	if p.sharedStrings != "" || p.bigSharedStrings != nil {
		files = append(files, struct{ name, body string }{"xl/sharedStrings.xml", p.sharedStrings})
	}
	big := map[string]*repeated{"xl/sharedStrings.xml": p.bigSharedStrings, "xl/styles.xml": p.bigStyles}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// The fastest deflate still packs the repeated markup of the bombs
	// hundreds to one, in a fraction of the default level's time.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, f := range files {
		if r := big[f.name]; r != nil {
			data, crc, size := r.deflate()
			w, err := zw.CreateRaw(&zip.FileHeader{Name: f.name, Method: zip.Deflate, CRC32: crc,
				CompressedSize64: uint64(len(data)), UncompressedSize64: size})
			if err == nil {
				_, err = w.Write(data)
			}
			if err != nil {
				panic(fmt.Sprintf("hostile: zip %s: %v", f.name, err))
			}
			continue
		}
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
