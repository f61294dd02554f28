package formparse

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/unicode/norm"
)

// Excel serial numbers taken for dates in an unformatted date field: 1950-01-01
// to 2100-12-31. Anything else (20261201, 2026) is left as written for the
// checker to parse or reject.
const (
	xlsxMinSerial  = 18264
	xlsxMaxSerial  = 73415
	xlsxLastSerial = 2958465 // 9999-12-31, the last date Excel shows
)

// readXLSX extracts the fields of a workbook: every workbook-level defined
// name that is a field of either form, then, for each field of the form whose
// name was lost, the value beside its label; and, for the multi-user form, the
// rows under the header of the Användare sheet.
//
// It opens the workbook with excelize under opts.MaxUnzippedSize (excelize's
// defaults let a small zip bomb take gigabytes), and reads only the cells it
// needs: the named cells, and whole sheets only for the user rows or when a
// name is missing.
func readXLSX(data []byte, opts Options) (*Raw, error) {
	opts = opts.withDefaults()
	switch {
	case bytes.HasPrefix(data, oleMagic):
		return nil, inspectOLE(data)
	case !bytes.HasPrefix(data, zipMagic):
		return nil, fmt.Errorf("%w: %s", ErrNotAForm, describeContent(data))
	}
	// The same checks as Detect, under this call's limit: a declared
	// unpacked size over it, a macro-enabled workbook, another zip.
	// archive/zip refuses an entry that unpacks to more than it declares, so
	// the declared sizes bound the real work.
	if err := inspectZip(data, opts.MaxUnzippedSize); err != nil {
		return nil, err
	}
	// excelize parses the workbook part and the styles when it opens the
	// file, the shared strings at the first cell, and a worksheet when it is
	// read: everything they could cost is bounded first.
	if err := xlsxPrescan(data); err != nil {
		return nil, err
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    opts.MaxUnzippedSize,
		UnzipXMLSizeLimit: opts.MaxUnzippedSize, // keep parts in memory, never in temp files
	})
	if err != nil {
		return nil, xlsxOpenError(data, err)
	}
	defer f.Close()
	r := &xlsxReader{f: f, sheets: f.GetSheetList(), styles: map[int]bool{}}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		r.date1904 = *props.Date1904
	}
	return r.read()
}

// xlsxOpenError maps what excelize says about a file it cannot open to our
// sentinels.
func xlsxOpenError(data []byte, err error) error {
	switch {
	case strings.Contains(err.Error(), "unzip size exceeds"):
		return fmt.Errorf("%w: the workbook unpacks to more than the limit (%v)", ErrTooLarge, err)
	case errors.Is(err, excelize.ErrWorkbookFileFormat) && bytes.HasPrefix(data, oleMagic):
		return inspectOLE(data)
	case errors.Is(err, excelize.ErrWorkbookFileFormat), errors.Is(err, excelize.ErrWorkbookPassword):
		return fmt.Errorf("%w: an unsupported or password-protected workbook (%v)", ErrNotAForm, err)
	}
	return fmt.Errorf("%w: a damaged workbook (%v)", ErrNotAForm, err)
}

// Bounds on a worksheet's extent. When excelize parses a sheet it makes
// every row up to the last one and, in each row, every cell up to the last
// one: a 6 KB file with one cell at XFD1048576 cost 700 MB, and a cell
// r="A1048576" in a row without a number 80 MB. No form comes near these.
const (
	xlsxMaxRows  = 50000
	xlsxMaxCells = 250000 // summed over rows, each up to its last column
)

// Bounds of the other parts excelize parses whole when it opens a workbook
// or reads its first cell, each far above what the forms hold. Found
// otherwise: a 129 KB file whose 44 MB of shared strings took 1.1 GB,
// 800,000 defined names 620 MB, a styles part 500 MB.
const (
	xlsxMaxSharedStrings = 50000   // <si> entries; the multi-user form at 500 rows has about 3,100
	xlsxMaxNames         = 1000    // <definedName>; the forms have about 30
	xlsxMaxStyles        = 20000   // elements of the styles part (xf, font, numFmt, …)
	xlsxMaxText          = 8 << 20 // bytes of text (character data and attribute values) in any one part
)

// xlsxPrescan refuses a workbook, before excelize opens it, whose parts
// would make excelize allocate past the bounds: a worksheet's extent, the
// shared strings, the defined names, the styles, or the text of any part.
//
// It reads every part through encoding/xml, the parser excelize itself
// uses, so it sees what excelize sees: r = "XFD5" with spaces, character
// references (r="&#88;FD5"), any namespace prefix. Every part is counted
// whatever its name or root element, since excelize finds parts through
// relationships, not names. A part that is not well-formed XML is counted up
// to where the parser stops, which is where excelize stops too; a part
// declaring an encoding other than UTF-8 is refused (Excel never writes one,
// and excelize would transcode it). Parts are read as a stream: the scan
// itself holds no part in memory.
func xlsxPrescan(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%w: a damaged zip file (%v)", ErrNotAForm, err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			continue // excelize cannot read it either
		}
		e, err := scanPart(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%w: a damaged workbook (part %s: %v)", ErrNotAForm, f.Name, err)
		}
		if err := e.check(f.Name); err != nil {
			return err
		}
	}
	return nil
}

// partCounts is what scanPart found in one part: the worksheet extent (the
// number of row elements, the largest row number, the cells the rows span,
// each row up to its last column) and the counts of the other bounds.
type partCounts struct {
	rows, maxRow, cells int
	strings, names      int
	styles, text        int
}

func (e partCounts) check(name string) error {
	switch rows := max(e.maxRow, e.rows); {
	case rows > xlsxMaxRows:
		return fmt.Errorf("%w: worksheet %s reaches row %d, the limit is %d", ErrTooLarge, name, rows, xlsxMaxRows)
	case e.cells > xlsxMaxCells:
		return fmt.Errorf("%w: worksheet %s spans more than %d cells", ErrTooLarge, name, xlsxMaxCells)
	case e.strings > xlsxMaxSharedStrings:
		return fmt.Errorf("%w: the workbook's shared strings (%s) hold more than %d entries", ErrTooLarge, name, xlsxMaxSharedStrings)
	case e.names > xlsxMaxNames:
		return fmt.Errorf("%w: the workbook defines more than %d names (%s)", ErrTooLarge, xlsxMaxNames, name)
	case e.styles > xlsxMaxStyles:
		return fmt.Errorf("%w: the workbook's styles (%s) hold more than %d elements", ErrTooLarge, name, xlsxMaxStyles)
	case e.text > xlsxMaxText:
		return fmt.Errorf("%w: part %s of the workbook holds more than %d bytes of text", ErrTooLarge, name, xlsxMaxText)
	}
	return nil
}

// over reports whether counting can stop: a bound is already passed.
func (e partCounts) over() bool {
	return e.rows > xlsxMaxRows || e.maxRow > xlsxMaxRows || e.cells > xlsxMaxCells || e.strings > xlsxMaxSharedStrings ||
		e.names > xlsxMaxNames || e.styles > xlsxMaxStyles || e.text > xlsxMaxText
}

// xlsxStyleElements are the elements of a styles part that excelize keeps
// one structure each for.
var xlsxStyleElements = map[string]bool{
	"xf": true, "font": true, "fill": true, "border": true, "numFmt": true, "dxf": true, "cellStyle": true,
	"tableStyle": true, "tableStyleElement": true, "color": true, "rgbColor": true, "mruColors": true,
	"patternFill": true, "gradientFill": true, "stop": true,
}

var errCharset = errors.New("declares an encoding other than UTF-8")

// scanPart counts one part's elements with the XML tokenizer. A syntax
// error (or a part that is no XML at all, an image) ends the count without
// error; only a declared foreign encoding is an error.
func scanPart(r io.Reader) (partCounts, error) {
	var (
		e                 partCounts
		rowCells, lastCol int
	)
	endRow := func() {
		e.cells += max(rowCells, lastCol)
		rowCells, lastCol = 0, 0
	}
	d := xml.NewDecoder(r)
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
			return input, nil
		}
		return nil, errCharset
	}
	for !e.over() {
		tok, err := d.RawToken()
		if errors.Is(err, errCharset) {
			return e, err
		}
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.CharData:
			e.text += len(t)
		case xml.StartElement:
			for _, a := range t.Attr {
				e.text += len(a.Value)
			}
			switch t.Name.Local {
			case "row":
				endRow()
				e.rows++
				for _, a := range t.Attr {
					if a.Name.Local == "r" {
						_, row := cellRef(a.Value)
						e.maxRow = max(e.maxRow, row)
					}
				}
			case "c":
				rowCells++
				for _, a := range t.Attr {
					if a.Name.Local == "r" {
						col, row := cellRef(a.Value)
						lastCol, e.maxRow = max(lastCol, col), max(e.maxRow, row)
					}
				}
			case "si":
				e.strings++
			case "definedName":
				e.names++
			default:
				if xlsxStyleElements[t.Name.Local] {
					e.styles++
				}
			}
		}
	}
	endRow()
	return e, nil
}

// cellRef reads the column and row of a reference such as XFD5 (a row
// number alone, as on <row r="5">, gives column 0), in any letter case, with
// the surrounding space excelize trims. Numbers past the sheet's limits stop
// growing there, so they fail the bounds without overflowing.
func cellRef(s string) (col, row int) {
	s = strings.TrimSpace(s)
	i := 0
	for ; i < len(s) && (s[i]|0x20) >= 'a' && (s[i]|0x20) <= 'z'; i++ {
		if col <= excelize.MaxColumns {
			col = col*26 + int(s[i]|0x20-'a'+1)
		}
	}
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if row <= excelize.TotalRows {
			row = row*10 + int(s[i]-'0')
		}
	}
	return col, row
}

type xlsxReader struct {
	f        *excelize.File
	sheets   []string
	date1904 bool
	styles   map[int]bool // style index → has a date number format
	rows     map[string][][]string
	raw      *Raw
}

// xlsxCell is one cell, 0-based.
type xlsxCell struct {
	sheet    string
	row, col int
}

func (r *xlsxReader) read() (*Raw, error) {
	r.raw = &Raw{Format: XLSX, Fields: map[string]string{}}
	if err := r.readNames(); err != nil {
		return nil, err
	}
	users, _ := r.sheetName(UserSheet)
	r.raw.HasUserSheet = users != ""
	if _, ok := r.raw.Fields["blankett"]; !ok {
		if err := r.readByLabel([]Field{blankettField}, ""); err != nil {
			return nil, err
		}
	}
	// Which form this is decides where the users are and which labels to
	// look for when names are lost: the `blankett` value first, then the
	// user sheet or a user header anywhere.
	id, _, _ := strings.Cut(r.raw.Fields["blankett"], "/")
	def := Lookup(FormID(strings.TrimSpace(id)))
	var (
		headerSheet string
		headerRow   int
		cols        map[int]Field
	)
	if def != singleDef {
		var err error
		if headerSheet, headerRow, cols, err = r.findUserHeader(users); err != nil {
			return nil, err
		}
		if def == nil {
			def = singleDef
			if users != "" || headerSheet != "" {
				def = multiDef
			}
		}
	}
	var lost []Field
	for _, fl := range def.Fields {
		if _, ok := r.raw.Fields[fl.Name]; !ok {
			lost = append(lost, fl)
		}
	}
	if len(lost) > 0 {
		skip := ""
		if def == multiDef {
			skip = headerSheet
		}
		if err := r.readByLabel(lost, skip); err != nil {
			return nil, err
		}
	}
	if def == multiDef && headerSheet != "" {
		if err := r.readUsers(def, headerSheet, headerRow, cols); err != nil {
			return nil, err
		}
	}
	return r.raw, nil
}

// xlsxFieldNames are the names read from defined names: every field of
// either form. Built on first use, not at start: every start of the binary
// (a form-reading worker per attachment) would pay for it.
var xlsxFieldNames = sync.OnceValue(func() map[string]Field {
	m := map[string]Field{}
	for _, def := range Definitions() {
		for _, fl := range def.Fields {
			if _, ok := m[fl.Name]; !ok {
				m[fl.Name] = fl
			}
		}
	}
	return m
})

// readNames reads every defined name that is a field name. A workbook-level
// name wins over a sheet-level one of the same name; a name whose reference
// is broken counts as lost.
func (r *xlsxReader) readNames() error {
	type target struct {
		pos      xlsxCell
		workbook bool
	}
	found := map[string]target{}
	for _, dn := range r.f.GetDefinedName() {
		name := strings.ToLower(strings.TrimSpace(dn.Name))
		if _, ok := xlsxFieldNames()[name]; !ok {
			continue
		}
		pos, ok := r.resolveRef(dn.RefersTo)
		if !ok {
			continue
		}
		wb := dn.Scope == "Workbook"
		if prev, ok := found[name]; ok && (prev.workbook || !wb) {
			continue
		}
		found[name] = target{pos, wb}
	}
	for name, t := range found {
		v, err := r.value(t.pos, xlsxFieldNames()[name].Kind)
		if err != nil {
			return err
		}
		r.raw.Fields[name] = v
	}
	return nil
}

// resolveRef turns a defined name's RefersTo (Ansökan!$C$8, 'Ansökan'!C8,
// =Ansökan!$C$8:$D$8) into the first cell it names.
func (r *xlsxReader) resolveRef(ref string) (xlsxCell, bool) {
	ref = strings.TrimPrefix(strings.TrimSpace(ref), "=")
	if strings.Contains(ref, "#REF") {
		return xlsxCell{}, false
	}
	var sheet, rest string
	if strings.HasPrefix(ref, "'") {
		// A quoted name: '' stands for one quote.
		i := 1
		var b strings.Builder
		for ; i < len(ref); i++ {
			if ref[i] == '\'' {
				if i+1 < len(ref) && ref[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			b.WriteByte(ref[i])
		}
		if i >= len(ref) || !strings.HasPrefix(ref[i+1:], "!") {
			return xlsxCell{}, false
		}
		sheet, rest = b.String(), ref[i+2:]
	} else {
		var ok bool
		if sheet, rest, ok = strings.Cut(ref, "!"); !ok {
			return xlsxCell{}, false
		}
	}
	rest, _, _ = strings.Cut(rest, ":")
	rest, _, _ = strings.Cut(rest, ",")
	col, row, err := excelize.CellNameToCoordinates(strings.ReplaceAll(strings.TrimSpace(rest), "$", ""))
	if err != nil {
		return xlsxCell{}, false
	}
	name, ok := r.sheetName(sheet)
	if !ok {
		return xlsxCell{}, false
	}
	return xlsxCell{name, row - 1, col - 1}, true
}

// sheetName finds a sheet by name the way Excel does: without regard to
// letter case.
func (r *xlsxReader) sheetName(name string) (string, bool) {
	name = norm.NFC.String(name)
	for _, s := range r.sheets {
		if s == name {
			return s, true
		}
	}
	for _, s := range r.sheets {
		if strings.EqualFold(norm.NFC.String(s), name) {
			return s, true
		}
	}
	return "", false
}

// value is the cell's text as shown, except that a date comes back as
// YYYY-MM-DD (a real date cell, or, for a date field, a plausible serial
// number typed into an unformatted cell) and a whole number as its digits.
// It parses the cell's whole sheet (once), which xlsxCheckExtent has made
// safe.
func (r *xlsxReader) value(p xlsxCell, kind Kind) (string, error) {
	cell, err := excelize.CoordinatesToCellName(p.col+1, p.row+1)
	if err != nil {
		return "", nil
	}
	raw, err := r.f.GetCellValue(p.sheet, cell, excelize.Options{RawCellValue: true})
	if err != nil {
		return "", fmt.Errorf("%w: a damaged worksheet (%v)", ErrNotAForm, err)
	}
	if raw == "" {
		return "", nil
	}
	typ, err := r.f.GetCellType(p.sheet, cell)
	if err != nil {
		return "", fmt.Errorf("%w: a damaged worksheet (%v)", ErrNotAForm, err)
	}
	switch typ {
	case excelize.CellTypeUnset, excelize.CellTypeNumber:
		num, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(num) || math.IsInf(num, 0) {
			return raw, nil
		}
		dateStyle, err := r.hasDateFormat(p.sheet, cell)
		if err != nil {
			return "", err
		}
		if dateStyle && num >= 1 && num <= xlsxLastSerial ||
			kind == Date && num >= xlsxMinSerial && num <= xlsxMaxSerial {
			if t, err := excelize.ExcelDateToTime(num, r.date1904); err == nil {
				return t.Format("2006-01-02"), nil
			}
		}
		if num == math.Trunc(num) && math.Abs(num) < 1e15 {
			return strconv.FormatInt(int64(num), 10), nil
		}
		return r.f.GetCellValue(p.sheet, cell)
	case excelize.CellTypeDate:
		// An ISO 8601 date cell (t="d"), as some writers store dates.
		if len(raw) >= 10 && raw[4] == '-' && raw[7] == '-' {
			return raw[:10], nil
		}
		return raw, nil
	case excelize.CellTypeBool:
		return r.f.GetCellValue(p.sheet, cell) // TRUE / FALSE as shown
	}
	return raw, nil
}

// rowValue is value for a cell whose raw text the streamed rows already
// gave: text that cannot be a number or an ISO date cell is returned as it
// is, which spares parsing a sheet of plain text (the user rows) a second
// time for cell types and styles.
func (r *xlsxReader) rowValue(p xlsxCell, kind Kind, raw string) (string, error) {
	if _, err := strconv.ParseFloat(strings.TrimSpace(raw), 64); err != nil &&
		!(len(raw) >= 10 && raw[4] == '-' && raw[7] == '-' && strings.Contains(raw, "T")) {
		return raw, nil
	}
	return r.value(p, kind)
}

// hasDateFormat reports whether the cell's number format shows a date.
func (r *xlsxReader) hasDateFormat(sheet, cell string) (bool, error) {
	idx, err := r.f.GetCellStyle(sheet, cell)
	if err != nil {
		return false, fmt.Errorf("%w: a damaged worksheet (%v)", ErrNotAForm, err)
	}
	if d, ok := r.styles[idx]; ok {
		return d, nil
	}
	d := false
	// A style index that does not exist is no format at all.
	if st, err := r.f.GetStyle(idx); err == nil && st != nil {
		if st.CustomNumFmt != nil {
			d = xlsxDateFormatCode(*st.CustomNumFmt)
		} else {
			d = xlsxDateFormatID(st.NumFmt)
		}
	}
	r.styles[idx] = d
	return d, nil
}

// xlsxDateFormatID reports whether a built-in number format shows a date (not
// only a time).
func xlsxDateFormatID(id int) bool {
	switch {
	case id >= 14 && id <= 17, id == 22, id >= 27 && id <= 36, id >= 50 && id <= 58:
		return true
	}
	return false
}

// xlsxDateFormatCode reports whether a custom number format code shows a date:
// it has a day or year part outside quoted text, escapes and [..] blocks.
func xlsxDateFormatCode(code string) bool {
	code, _, _ = strings.Cut(code, ";")
	inQuote, inBracket := false, false
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case inQuote:
			inQuote = c != '"'
		case inBracket:
			inBracket = c != ']'
		case c == '"':
			inQuote = true
		case c == '[':
			inBracket = true
		case c == '\\' || c == '_' || c == '*':
			i++ // the next character is literal (or padding)
		case c == 'y' || c == 'Y' || c == 'd' || c == 'D' || c == 'e' && strings.Contains(code, "m"):
			return true
		}
	}
	return false
}

// sheetRows returns a sheet's cells as raw text, streamed once (the bounds
// are checked again on the way, though xlsxCheckExtent has done so).
func (r *xlsxReader) sheetRows(sheet string) ([][]string, error) {
	if rows, ok := r.rows[sheet]; ok {
		return rows, nil
	}
	it, err := r.f.Rows(sheet)
	if err != nil {
		return nil, fmt.Errorf("%w: a damaged worksheet (%v)", ErrNotAForm, err)
	}
	defer it.Close()
	var rows [][]string
	cells := 0
	for it.Next() {
		if len(rows) >= xlsxMaxRows {
			return nil, fmt.Errorf("%w: sheet %q has more than %d rows", ErrTooLarge, sheet, xlsxMaxRows)
		}
		cols, err := it.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("%w: a damaged worksheet (%v)", ErrNotAForm, err)
		}
		if cells += len(cols); cells > xlsxMaxCells {
			return nil, fmt.Errorf("%w: sheet %q spans more than %d cells", ErrTooLarge, sheet, xlsxMaxCells)
		}
		rows = append(rows, cols)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("%w: a damaged worksheet (%v)", ErrNotAForm, err)
	}
	if r.rows == nil {
		r.rows = map[string][][]string{}
	}
	r.rows[sheet] = rows
	return rows, nil
}

// xlsxLabelKey folds a label or header for matching: NFC, no trailing `*` or
// `:`, white space folded, lower case.
func xlsxLabelKey(s string) string {
	s = norm.NFC.String(s)
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u00a0' }), " ")
	for {
		t := strings.TrimSpace(strings.TrimRight(s, "*:"))
		if t == s {
			break
		}
		s = t
	}
	return strings.ToLower(s)
}

// xlsxNotValues are the texts a blank form has beside an input cell (hints)
// or elsewhere in a row (labels): found to the right of a label, they mean the
// input was left empty. Built on first use, not at every start of the binary.
var xlsxNotValues = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, def := range Definitions() {
		for _, fl := range def.Fields {
			m[xlsxLabelKey(fl.Label)] = true
			if h := xlsxHint(fl); h != "" {
				m[xlsxLabelKey(h)] = true
			}
		}
	}
	return m
})

// readByLabel reads fields whose defined names were lost: the value is the
// first non-empty cell right of a cell holding the label (with or without its
// `*`), on any sheet but skip. A label found with nothing beside it gives an
// empty field; a label not found leaves the field out.
func (r *xlsxReader) readByLabel(fields []Field, skip string) error {
	want := map[string][]Field{}
	for _, fl := range fields {
		k := xlsxLabelKey(fl.Label)
		want[k] = append(want[k], fl)
	}
	done := map[string]bool{}
	for _, sheet := range r.sheets {
		if sheet == skip {
			continue
		}
		rows, err := r.sheetRows(sheet)
		if err != nil {
			return err
		}
		for ri, row := range rows {
			for ci, text := range row {
				if text == "" {
					continue
				}
				fls, ok := want[xlsxLabelKey(text)]
				if !ok {
					continue
				}
				for _, fl := range fls {
					if done[fl.Name] {
						continue
					}
					if _, seen := r.raw.Fields[fl.Name]; !seen {
						r.raw.Fields[fl.Name] = ""
					}
					for vc := ci + 1; vc < len(row); vc++ {
						v := strings.TrimSpace(row[vc])
						if v == "" {
							continue
						}
						if !xlsxNotValues()[xlsxLabelKey(v)] {
							val, err := r.rowValue(xlsxCell{sheet, ri, vc}, fl.Kind, row[vc])
							if err != nil {
								return err
							}
							r.raw.Fields[fl.Name] = val
							done[fl.Name] = true
						}
						break
					}
				}
			}
		}
	}
	return nil
}

// findUserHeader finds the user rows' header: on the sheet users (named
// Användare) when it exists, or else on any sheet, the first row among the
// first 20 holding at least half of the column labels.
func (r *xlsxReader) findUserHeader(users string) (sheet string, header int, cols map[int]Field, err error) {
	candidates := r.sheets
	if users != "" {
		candidates = []string{users}
	}
	keys := map[string]Field{}
	for _, c := range multiDef.UserColumns {
		keys[xlsxLabelKey(c.Label)] = c
	}
	for _, s := range candidates {
		rows, err := r.sheetRows(s)
		if err != nil {
			return "", 0, nil, err
		}
		for ri := 0; ri < len(rows) && ri < 20; ri++ {
			cols = map[int]Field{}
			taken := map[string]bool{}
			for ci, text := range rows[ri] {
				if c, ok := keys[xlsxLabelKey(text)]; ok && !taken[c.Name] {
					cols[ci] = c
					taken[c.Name] = true
				}
			}
			if 2*len(cols) >= len(keys) {
				return s, ri, cols, nil
			}
		}
	}
	return "", 0, nil, nil
}

// readUsers reads the rows below the header: N is the row's position below
// the header from 1; empty rows are skipped; rows past def.MaxUsers are only
// counted.
func (r *xlsxReader) readUsers(def *Definition, sheet string, header int, cols map[int]Field) error {
	rows, err := r.sheetRows(sheet)
	if err != nil {
		return err
	}
	r.raw.HasUserSheet = true // a user header on another sheet counts too
	for ri := header + 1; ri < len(rows); ri++ {
		n := ri - header
		row := rows[ri]
		empty := true
		for ci := range cols {
			if ci < len(row) && strings.TrimSpace(row[ci]) != "" {
				empty = false
				break
			}
		}
		if empty {
			continue
		}
		if n > def.MaxUsers {
			r.raw.ExtraUsers++
			continue
		}
		u := RawUser{N: n, Fields: make(map[string]string, len(cols))}
		for ci, c := range cols {
			v := ""
			if ci < len(row) && row[ci] != "" {
				if v, err = r.rowValue(xlsxCell{sheet, ri, ci}, c.Kind, row[ci]); err != nil {
					return err
				}
			}
			u.Fields[c.Name] = v
		}
		r.raw.Users = append(r.raw.Users, u)
	}
	return nil
}
