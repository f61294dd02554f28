package formparse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	pdffont "github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/create"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// The blank PDF is described in pdfcpu's "create" JSON (textfield,
// checkbox, radiobuttongroup, text and box primitives on pages with the origin
// in the upper left corner) and laid out here from the definition, so that a
// field added to form.go appears on the form without touching this file.

// Page geometry in points (A4 portrait).
const (
	pageWidth    = 595.0
	pageHeight   = 842.0
	marginLeft   = 40.0
	marginRight  = pageWidth - 40.0
	contentWidth = marginRight - marginLeft
	pageTop      = 34.0
	pageBottom   = pageHeight - 42.0 // above the footer band

	labelX     = marginLeft + 4
	fieldX     = marginLeft + 150 // left edge of the inputs of a plain row
	rowHeight  = 19.0
	fieldH     = 15.0
	labelSize  = 9.0
	inputSize  = 10.0
	hintSize   = 7.0
	headSize   = 10.5
	headHeight = 17.0
	boxSize    = 11.0 // checkboxes and radio buttons

	dependentX = fieldX + 112 // input column of the fields a checkbox makes mandatory

	tableRowHeight = 16.5
	tableFieldH    = 13.0
	tableInputSize = 7.0
)

// Colours of the form: a muted public-sector blue for headings, light fills
// for inputs so that they stand out on paper and on screen.
const (
	colHeadFill  = "#D9E2EC"
	colHeadText  = "#1F3A5A"
	colRule      = "#8A9BB0"
	colFieldFill = "#F3F6FA"
	colBorder    = "#7F8C99"
	colHint      = "#5F6B77"
)

// instructions are the short how-to at the top of a form.
func instructions(def *Definition) []string {
	out := []string{
		"Fyll i blanketten på datorn och spara filen. Skicka den sparade filen som bifogad fil i ett " +
			"e-postmeddelande till hjälpmedelscentrum med ordet webSesam i ämnesraden.",
		"Fält markerade med * är obligatoriska. Ansvarig chef ska anges med namn, e-post och telefon. " +
			"En ofullständig blankett skickas tillbaka till ansvarig chef för komplettering.",
	}
	if len(def.UserColumns) > 0 {
		return append(out, "Alla användare på blanketten får samma behörighet och samma kundnummer. "+
			"Ange en användare per rad; varje användare får användarnamn och inloggningsinstruktioner per e-post.")
	}
	return append(out, "Ändringar (tjänstledighet, namnbyte, byte av arbetsplats eller roll) och avslut anmäls på samma blankett. "+
		"Efter registreringen får användaren användarnamn och inloggningsinstruktioner per e-post.")
}

// JSON model: the subset of pdfcpu's create schema the form needs.

type pdfLayout struct {
	Paper  string              `json:"paper"`
	Origin string              `json:"origin"`
	Fonts  map[string]pdfFont  `json:"fonts"`
	Footer *pdfBand            `json:"footer,omitempty"`
	Pages  map[string]*pdfPage `json:"pages"`
}

type pdfFont struct {
	Name  string  `json:"name,omitempty"`
	Size  float64 `json:"size,omitempty"`
	Color string  `json:"col,omitempty"`
}

type pdfBand struct {
	Font   pdfFont `json:"font"`
	Left   string  `json:"left,omitempty"`
	Center string  `json:"center,omitempty"`
	Right  string  `json:"right,omitempty"`
	Height float64 `json:"height"`
	Dx     int     `json:"dx"`
	Dy     int     `json:"dy"`
}

type pdfPage struct {
	Content pdfContent `json:"content"`
}

type pdfContent struct {
	Boxes  []pdfBox        `json:"box,omitempty"`
	Texts  []pdfText       `json:"text,omitempty"`
	Fields []pdfTextField  `json:"textfield,omitempty"`
	Checks []pdfCheckBox   `json:"checkbox,omitempty"`
	Radios []pdfRadioGroup `json:"radiobuttongroup,omitempty"`
}

type pdfBox struct {
	Pos    [2]float64 `json:"pos"`
	Width  float64    `json:"width"`
	Height float64    `json:"height"`
	Fill   string     `json:"fillCol,omitempty"`
}

type pdfText struct {
	Value string     `json:"value"`
	Pos   [2]float64 `json:"pos"`
	Font  pdfFont    `json:"font"`
}

type pdfBorder struct {
	Width int    `json:"width"`
	Color string `json:"col"`
}

type pdfLabel struct {
	Value string   `json:"value"`
	Width int      `json:"width"`
	Gap   int      `json:"gap"`
	Pos   string   `json:"pos"`
	Align string   `json:"align,omitempty"`
	Font  *pdfFont `json:"font,omitempty"`
}

// pdfWidget is what every kind of form field in pdfcpu's JSON has: its
// name, its tooltip, where it stands, how wide it is, and a label beside it
// when there is one.
type pdfWidget struct {
	ID    string     `json:"id"`
	Tip   string     `json:"tip,omitempty"`
	Pos   [2]float64 `json:"pos"`
	Width float64    `json:"width"`
	Label *pdfLabel  `json:"label,omitempty"`
}

// pdfTextField is a text input (dates included, see input).
type pdfTextField struct {
	pdfWidget
	Value  string     `json:"value,omitempty"`
	Height float64    `json:"height,omitempty"`
	Font   *pdfFont   `json:"font,omitempty"`
	Border *pdfBorder `json:"border,omitempty"`
	Fill   string     `json:"bgCol,omitempty"`
	Locked bool       `json:"locked,omitempty"`
}

// pdfCheckBox is a checkbox: a widget and nothing more.
type pdfCheckBox struct {
	pdfWidget
}

type pdfRadioGroup struct {
	pdfWidget
	Orientation string     `json:"orientation"`
	Buttons     pdfButtons `json:"buttons"`
}

type pdfButtons struct {
	Values []string `json:"values"`
	Label  pdfLabel `json:"label"`
}

// pager places primitives top-down, starting a new page when a block does
// not fit on the current one.
type pager struct {
	layout *pdfLayout
	page   *pdfPage
	n      int
	y      float64 // top of the next row
}

func newPager(def *Definition) *pager {
	p := &pager{layout: &pdfLayout{
		Paper:  "A4P",
		Origin: "UpperLeft",
		Fonts: map[string]pdfFont{
			"label": {Name: "Helvetica", Size: labelSize},
			"input": {Name: "Helvetica", Size: inputSize},
		},
		Footer: &pdfBand{
			Font:   pdfFont{Name: "Helvetica", Size: 7.5, Color: colHint},
			Left:   def.Blankett(),
			Center: SupportLine,
			Right:  "Sida %p av %P",
			Height: 20, Dx: int(marginLeft), Dy: 18,
		},
		Pages: map[string]*pdfPage{},
	}}
	p.newPage()
	return p
}

func (p *pager) newPage() {
	p.n++
	p.page = &pdfPage{}
	p.layout.Pages[strconv.Itoa(p.n)] = p.page
	p.y = pageTop
}

// need starts a new page unless h points still fit on this one.
func (p *pager) need(h float64) {
	if p.y+h > pageBottom {
		p.newPage()
	}
}

// text writes one line whose baseline is at y. (pdfcpu places a text box by
// its lower edge, below the baseline by about 0.38 of the font size.)
func (p *pager) text(s string, x, baseline float64, f pdfFont) {
	y := baseline + 0.38*f.Size
	p.page.Content.Texts = append(p.page.Content.Texts, pdfText{Value: s, Pos: [2]float64{x, y}, Font: f})
}

func (p *pager) box(x, y, w, h float64, fill string) {
	p.page.Content.Boxes = append(p.page.Content.Boxes, pdfBox{Pos: [2]float64{x, y}, Width: w, Height: h, Fill: fill})
}

// textWidth measures s in a core font; an unknown font measures nothing.
func textWidth(s, fontName string, size float64) float64 {
	w, err := pdffont.TextWidthFloat(s, fontName, size)
	if err != nil {
		return 0
	}
	return w
}

// wrap breaks s into lines no wider than width. pdfcpu's own wrapping
// mangles non-ASCII letters, so the form breaks its lines itself.
func wrap(s, fontName string, size, width float64) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		try := word
		if line != "" {
			try = line + " " + word
		}
		if line != "" && textWidth(try, fontName, size) > width {
			lines = append(lines, line)
			line = word
			continue
		}
		line = try
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// paragraph writes wrapped text and advances the cursor past it.
func (p *pager) paragraph(s string, f pdfFont, width, leading float64) {
	for _, line := range wrap(s, f.Name, f.Size, width) {
		p.y += leading
		p.text(line, marginLeft, p.y, f)
	}
}

// mark is a label with the `*` of a field that can be mandatory.
func mark(label string, r Requirement) string {
	if r.Mandatory() {
		return label + " *"
	}
	return label
}

// tip is the tooltip (the field's /TU) a screen reader or a hovering mouse
// shows: the label and the hint.
func tip(f Field) string {
	if f.Hint != "" {
		return f.Label + " (" + f.Hint + ")"
	}
	return f.Label
}

// inputWidth is how wide a field of a kind is drawn on a plain row.
func inputWidth(k Kind) float64 {
	switch k {
	case Date:
		return 74
	case Kundnummer:
		return 70
	case Phone:
		return 130
	case HSAID:
		return 190
	default:
		return 250
	}
}

var (
	fontHint   = pdfFont{Name: "Helvetica", Size: hintSize, Color: colHint}
	fontLabel  = pdfFont{Name: "Helvetica", Size: labelSize}
	fontHead   = pdfFont{Name: "Helvetica-Bold", Size: headSize, Color: colHeadText}
	fontTitle  = pdfFont{Name: "Helvetica-Bold", Size: 14, Color: colHeadText}
	fontInstr  = pdfFont{Name: "Helvetica", Size: 8.5}
	fontTable  = pdfFont{Name: "Helvetica", Size: tableInputSize}
	fontTHead  = pdfFont{Name: "Helvetica-Bold", Size: 7.5}
	borderGray = &pdfBorder{Width: 1, Color: colBorder}
)

// input adds a text field whose box has its top-left corner at (x, top).
// Dates are plain text fields too: pdfcpu's date field paints its format
// ("yyyy-mm-dd") into the blank box, and the reader accepts several ways of
// writing a date anyway; the hint beside the box says ÅÅÅÅ-MM-DD.
func (p *pager) input(f Field, x, top, w float64) {
	tf := pdfTextField{
		pdfWidget: pdfWidget{ID: f.Name, Tip: tip(f), Pos: [2]float64{x, top + fieldH}, Width: w},
		Height:    fieldH,
		Border:    borderGray, Fill: colFieldFill,
	}
	p.page.Content.Fields = append(p.page.Content.Fields, tf)
}

// checkbox adds a checkbox with its label on the right; it returns the x
// after the label.
func (p *pager) checkbox(f Field, x, top float64) float64 {
	lw := math.Ceil(textWidth(f.Label, fontLabel.Name, labelSize) + 2)
	p.page.Content.Checks = append(p.page.Content.Checks, pdfCheckBox{pdfWidget{
		ID: f.Name, Tip: f.Label,
		Pos:   [2]float64{x, top + (fieldH+boxSize)/2 + 1},
		Width: boxSize,
		Label: &pdfLabel{Value: f.Label, Width: int(math.Ceil(lw)), Gap: 5, Pos: "right", Align: "left"},
	}})
	return x + boxSize + 5 + lw
}

func (p *pager) rowLabel(s string, top float64) {
	p.text(s, labelX, top+fieldH-4, fontLabel)
}

func (p *pager) hint(s string, x, top float64) {
	if s == "" || x+textWidth(s, fontHint.Name, hintSize) > marginRight {
		return
	}
	p.text(s, x, top+fieldH-4, fontHint)
}

// heading draws a section bar; note is shown on its right (group rules).
func (p *pager) heading(title, note string) {
	p.y += 8
	p.box(marginLeft, p.y+headHeight, contentWidth, headHeight, colHeadFill)
	p.text(title, labelX, p.y+headHeight-5, fontHead)
	if note != "" {
		w := textWidth(note, fontHint.Name, 8)
		p.text(note, marginRight-4-w, p.y+headHeight-5, pdfFont{Name: "Helvetica", Size: 8, Color: colHeadText})
	}
	p.y += headHeight + 5
}

// writePDF writes the blank fillable PDF of def: every field of def.Fields
// in form order under its section heading, mandatory fields marked `*`, the
// read-only `blankett` tag, and for the multi-user form a table of
// def.MaxPDFUsers user rows.
func writePDF(w io.Writer, def *Definition) error {
	layout, err := layoutPDF(def)
	if err != nil {
		return fmt.Errorf("write blank PDF: %w", err)
	}
	js, err := json.Marshal(layout)
	if err != nil {
		return fmt.Errorf("write blank PDF: %w", err)
	}
	conf := pdfConf()
	conf.Cmd = model.CREATE
	ctx, err := pdfcpu.CreateContextWithXRefTable(conf, types.PaperSize["A4"])
	if err != nil {
		return fmt.Errorf("write blank PDF: %w", err)
	}
	if err := create.FromJSON(ctx, bytes.NewReader(js)); err != nil {
		return fmt.Errorf("write blank PDF: %w", err)
	}
	if err := finishFields(ctx, def); err != nil {
		return fmt.Errorf("write blank PDF: %w", err)
	}
	ctx.XRefTable.Title = def.Title
	ctx.XRefTable.Subject = def.Blankett()
	// pdfcpu's api.WriteContext does this; the api package is not used, as
	// importing it links pdfcpu's form package, whose dependency go-runewidth
	// spends milliseconds building tables at every start of the binary.
	bw := bufio.NewWriter(w)
	ctx.Write.Writer = bw
	if err := pdfcpu.WriteContext(ctx); err != nil {
		return fmt.Errorf("write blank PDF: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write blank PDF: %w", err)
	}
	return nil
}

// layoutPDF places the whole form.
func layoutPDF(def *Definition) (*pdfLayout, error) {
	p := newPager(def)

	// Header: the issuer on the left, the read-only form tag on the right.
	p.text("Hjälpmedelscentrum · webSesam", marginLeft, p.y, pdfFont{Name: "Helvetica", Size: 8, Color: colHint})
	tagW := 120.0
	p.text("Blankett:", marginRight-tagW-textWidth("Blankett:", "Helvetica", 7)-3, p.y, pdfFont{Name: "Helvetica", Size: 7, Color: colHint})
	for _, f := range def.Fields {
		if f.Kind == Tag {
			p.page.Content.Fields = append(p.page.Content.Fields, pdfTextField{
				pdfWidget: pdfWidget{ID: f.Name, Tip: f.Label, Pos: [2]float64{marginRight - tagW, p.y + 3}, Width: tagW},
				Value:     def.Blankett(), Locked: true, Height: 11,
				Font: &pdfFont{Name: "Helvetica", Size: 7, Color: colHint},
			})
		}
	}
	p.y += 8
	p.box(marginLeft, p.y, contentWidth, 0.75, colRule)

	p.y += 6
	// A long title gets a slightly smaller size before it wraps.
	title := fontTitle
	for title.Size > 11.5 && textWidth(def.Title, title.Name, title.Size) > contentWidth {
		title.Size -= 0.5
	}
	for _, line := range wrap(def.Title, title.Name, title.Size, contentWidth) {
		p.y += 18
		p.text(line, marginLeft, p.y, title)
	}
	p.y += 6
	for _, s := range instructions(def) {
		p.paragraph(s, fontInstr, contentWidth, 10.5)
		p.y += 3
	}

	fields := def.Fields
	section := ""
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f.Kind == Tag {
			continue
		}
		if len(def.UserColumns) > 0 && f.Section == SectionChef && section != SectionChef {
			// The user rows stand before the manager, who signs off the list.
			p.userTable(def)
		}
		if f.Section != section {
			section = f.Section
			p.need(8 + headHeight + 5 + rowHeight*2)
			p.heading(section, groupNote(def, fields, section))
		}
		i += p.row(def, fields, i) - 1
	}
	if len(def.UserColumns) > 0 && section != SectionChef {
		p.userTable(def)
	}
	return p.layout, nil
}

// groupNote is the heading note of a section holding the members of a group
// rule ("at least one of these").
func groupNote(def *Definition, fields []Field, section string) string {
	for _, g := range def.Groups {
		if len(g.Members) == 0 {
			continue
		}
		if f, ok := def.Field(g.Members[0]); ok && f.Section == section {
			return mark("Kryssa i minst ett alternativ", g.Required)
		}
	}
	return ""
}

// row lays out one row starting at fields[i] and returns how many fields it
// used: a run of independent checkboxes shares a row, a checkbox shares its
// row with the fields that it makes mandatory, anything else has a row of
// its own.
func (p *pager) row(def *Definition, fields []Field, i int) int {
	f := fields[i]
	p.need(rowHeight)
	top := p.y
	p.y += rowHeight
	switch f.Kind {
	case Checkbox:
		var deps []Field
		for _, d := range fields[i+1:] {
			if d.Required.Ticked != f.Name {
				break
			}
			deps = append(deps, d)
		}
		if len(deps) > 0 {
			p.checkbox(f, labelX, top)
			x := fieldX
			for j, d := range deps {
				lbl := mark(d.Label, d.Required)
				lw := textWidth(lbl, fontLabel.Name, labelSize)
				p.text(lbl, x, top+fieldH-4, fontLabel)
				x += lw + 6
				if j == 0 {
					// The first input of every such row starts in one column.
					x = max(x, dependentX)
				}
				w := inputWidth(d.Kind)
				if len(deps) > 1 {
					w = min(w, 74)
				} else {
					w = min(w, 170)
				}
				p.input(d, x, top, w)
				x += w + 12
				if j == len(deps)-1 {
					p.hint(d.Hint, x-6, top)
				}
			}
			return 1 + len(deps)
		}
		// Independent checkboxes share the row; the first starts in the
		// input column when a group note sits in the heading.
		n := 0
		x := labelX
		for _, c := range fields[i:] {
			if c.Kind != Checkbox || c.Section != f.Section || dependsOn(fields, c.Name) {
				break
			}
			x = p.checkbox(c, x, top) + 24
			n++
		}
		return n
	case Choice:
		p.rowLabel(mark(f.Label, f.Required), top)
		var values []string
		maxw := 0.0
		for _, o := range f.Choices {
			values = append(values, o.Label)
			maxw = max(maxw, textWidth(o.Label, fontLabel.Name, labelSize))
		}
		p.page.Content.Radios = append(p.page.Content.Radios, pdfRadioGroup{
			pdfWidget:   pdfWidget{ID: f.Name, Tip: f.Label, Pos: [2]float64{fieldX, top + (fieldH+boxSize)/2 + 1}, Width: boxSize},
			Orientation: "hor",
			Buttons: pdfButtons{Values: values, Label: pdfLabel{
				Value: "-", Width: int(math.Ceil(maxw + 22)), Gap: 5, Pos: "right",
			}},
		})
		return 1
	default:
		p.rowLabel(mark(f.Label, f.Required), top)
		w := inputWidth(f.Kind)
		p.input(f, fieldX, top, w)
		p.hint(f.Hint, fieldX+w+6, top)
		return 1
	}
}

// dependsOn reports whether some field is mandatory when box is ticked, which
// gives box a row of its own.
func dependsOn(fields []Field, box string) bool {
	for _, f := range fields {
		if f.Required.Ticked == box {
			return true
		}
	}
	return false
}

// userTable lays out the multi-user rows: a header with the column labels and
// def.MaxPDFUsers numbered rows of fields anvandare_N_<column>.
func (p *pager) userTable(def *Definition) {
	cols := def.UserColumns
	p.need(8 + headHeight + 5 + 16 + tableRowHeight*float64(def.MaxPDFUsers))
	p.heading(SectionUsers, "En rad per användare, högst "+strconv.Itoa(def.MaxPDFUsers))

	numW := 16.0
	weights := make([]float64, len(cols))
	total := 0.0
	for i, c := range cols {
		switch c.Kind {
		case HSAID:
			weights[i] = 1.5
		case Email:
			weights[i] = 1.6
		case Phone:
			weights[i] = 0.95
		default:
			weights[i] = 0.9
		}
		total += weights[i]
	}
	gap := 3.0
	avail := contentWidth - numW - gap*float64(len(cols)-1)
	xs := make([]float64, len(cols))
	ws := make([]float64, len(cols))
	x := marginLeft + numW
	for i := range cols {
		xs[i] = x
		ws[i] = avail * weights[i] / total
		x += ws[i] + gap
	}

	top := p.y
	for i, c := range cols {
		p.text(mark(c.Label, c.Required), xs[i]+1, top+9, fontTHead)
	}
	p.y += 14
	for n := 1; n <= def.MaxPDFUsers; n++ {
		top := p.y
		num := strconv.Itoa(n)
		p.text(num, marginLeft+numW-4-textWidth(num, fontTable.Name, 7.5), top+tableFieldH-4, pdfFont{Name: "Helvetica", Size: 7.5, Color: colHint})
		for i, c := range cols {
			p.page.Content.Fields = append(p.page.Content.Fields, pdfTextField{
				pdfWidget: pdfWidget{ID: UserFieldName(n, c.Name), Tip: UserLabel(n, c.Label), Pos: [2]float64{xs[i], top + tableFieldH}, Width: ws[i]},
				Height:    tableFieldH,
				Font:      &pdfFont{Name: "Helvetica", Size: tableInputSize},
				Border:    borderGray, Fill: colFieldFill,
			})
		}
		p.y += tableRowHeight
	}
	if hints := columnHints(cols); hints != "" {
		p.y += 2
		p.text(hints, marginLeft+numW, p.y+6, fontHint)
		p.y += 10
	}
}

// columnHints joins the hints of the table columns into one line under it.
func columnHints(cols []Field) string {
	var parts []string
	for _, c := range cols {
		if c.Hint != "" {
			parts = append(parts, c.Label+": "+c.Hint)
		}
	}
	return strings.Join(parts, "   ")
}

// finishFields fixes up what pdfcpu's generator cannot express: the radio
// buttons of a Choice field get the option values (ny, andring, avslut) as
// their export values while showing the labels, and text fields may scroll,
// so that a long e-mail address fits in a narrow table cell.
func finishFields(ctx *model.Context, def *Definition) error {
	root, err := ctx.XRefTable.Catalog()
	if err != nil {
		return err
	}
	acro, err := ctx.XRefTable.DereferenceDict(root["AcroForm"])
	if err != nil || acro == nil {
		return fmt.Errorf("no AcroForm in the generated PDF")
	}
	fields, err := ctx.XRefTable.DereferenceArray(acro["Fields"])
	if err != nil {
		return err
	}
	renamed := 0
	for _, o := range fields {
		d, err := ctx.XRefTable.DereferenceDict(o)
		if err != nil || d == nil {
			return fmt.Errorf("generated field: %v", err)
		}
		name := ""
		if s, err := types.StringOrHexLiteral(d["T"]); err == nil && s != nil {
			name = *s
		}
		if ft := d.NameEntry("FT"); ft != nil && *ft == "Tx" {
			if ff := d.IntEntry("Ff"); ff != nil {
				d["Ff"] = types.Integer(*ff &^ (1 << 23)) // clear DoNotScroll
			}
		}
		f, ok := def.Field(name)
		if !ok || f.Kind != Choice {
			continue
		}
		if err := renameRadioStates(ctx, d, f.Choices); err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
		renamed++
	}
	for _, f := range def.Fields {
		if f.Kind == Choice {
			renamed--
		}
	}
	if renamed != 0 {
		return fmt.Errorf("a choice field is missing from the generated PDF")
	}
	return nil
}

// renameRadioStates renames the appearance states of a radio group's kids
// from the option labels to the option values.
func renameRadioStates(ctx *model.Context, field types.Dict, choices []Option) error {
	kids, err := ctx.XRefTable.DereferenceArray(field["Kids"])
	if err != nil {
		return err
	}
	if len(kids) != len(choices) {
		return fmt.Errorf("%d buttons for %d options", len(kids), len(choices))
	}
	rename := map[string]string{}
	for _, c := range choices {
		rename[c.Label] = c.Value
		rename[types.EncodeName(c.Label)] = c.Value
	}
	for _, k := range kids {
		kd, err := ctx.XRefTable.DereferenceDict(k)
		if err != nil || kd == nil {
			return fmt.Errorf("radio button: %v", err)
		}
		ap, err := ctx.XRefTable.DereferenceDict(kd["AP"])
		if err != nil || ap == nil {
			return fmt.Errorf("radio button without appearance: %v", err)
		}
		found := false
		for _, key := range []string{"N", "D"} {
			states, err := ctx.XRefTable.DereferenceDict(ap[key])
			if err != nil || states == nil {
				continue
			}
			for state, obj := range states {
				if v, ok := rename[state]; ok {
					delete(states, state)
					states[v] = obj
					found = true
				}
			}
		}
		if !found {
			return fmt.Errorf("radio button with an unknown state")
		}
		if as := kd.NameEntry("AS"); as != nil {
			if v, ok := rename[*as]; ok {
				kd["AS"] = types.Name(v)
			}
		}
	}
	return nil
}
