package formparse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// pdfcpu would otherwise create and read a configuration directory under the
// home directory on its first use, racing between concurrent first calls
// (NOTES.md). Set once, before any configuration is made; pdfcpu reads the
// variable without a lock, so it is never written again.
func init() { model.ConfigPath = "disable" }

// Limits of the PDF reader. A filled form is small: its fields take a few
// kilobytes, and the largest stream the reader ever decodes (an object stream
// of qpdf or Acrobat holding the fields) some tens of kilobytes. A hostile
// file packs gigabytes into a few megabytes of compressed streams, so every
// decode is bounded per stream and all decodes of one file together.
const (
	pdfMaxStreamDecoded = 4 << 20  // decoded bytes of any one stream
	pdfMaxDecodedTotal  = 16 << 20 // decoded bytes of the object streams of one file
	pdfMaxObjects       = 200_000  // objects in the cross-reference table
	pdfMaxFieldNodes    = 20_000   // nodes of the field tree (fields and widgets)
	pdfMaxFieldDepth    = 32       // nesting of the field tree
)

// pdfConf returns a fresh pdfcpu configuration (pdfcpu writes into it, so it
// is never shared) with tight resource limits.
func pdfConf() *model.Configuration {
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Limits.MaxDecodeBytes = pdfMaxStreamDecoded
	conf.Limits.MaxObjectStreamFirst = 1 << 20
	conf.Limits.MaxObjectCount = pdfMaxObjects
	conf.Limits.MaxXRefEntries = pdfMaxObjects
	conf.Limits.MaxObjectStreamCount = pdfMaxObjects
	return conf
}

// Checkbox values of the PDF reader: a ticked box reads as "Yes" and an
// unticked one as "Off" whatever export value the tool wrote ("Ja", "1", …),
// which the checker understands.
const (
	pdfExportTicked   = "Yes"
	pdfExportUnticked = "Off"
)

// readPDF extracts every AcroForm field of a PDF by its name. Fields named
// anvandare_N_<column> go to Raw.Users, sorted by N.
//
// A PDF with a user password is ErrEncrypted. A PDF encrypted with an owner
// password only opens in every viewer without a password, and is read like
// any other: its restrictions (no editing, no copying) concern what a viewer
// lets a person do, not whether the values can be read. A PDF whose streams
// decode to more than the reader's limits is ErrTooLarge.
//
// opts is not consulted: Read has already applied the size limit and runs
// this under its time budget.
func readPDF(data []byte, opts Options) (*Raw, error) {
	fields, err := pdfFormFields(data)
	if err != nil {
		return nil, err
	}
	raw := &Raw{Format: PDF, Fields: map[string]string{}}
	users := map[int]map[string]string{}
	extra := map[int]bool{}
	put := func(name, value string) {
		name = pdfFieldName(name)
		if name == "" {
			return
		}
		value = strings.ReplaceAll(strings.ReplaceAll(value, "\r\n", "\n"), "\r", "\n")
		if n, col, ok := SplitUserFieldName(name); ok {
			raw.HasUserSheet = true
			if n > multiDef.MaxUsers {
				if strings.TrimSpace(value) != "" {
					extra[n] = true
				}
				return
			}
			row := users[n]
			if row == nil {
				row = map[string]string{}
				users[n] = row
			}
			if row[col] == "" {
				row[col] = value
			}
			return
		}
		// The same name twice (a field with widgets on two pages, or two
		// tools' copies): keep the value that was filled in.
		if raw.Fields[name] == "" {
			raw.Fields[name] = value
		}
	}
	// Text and choices first, then checkboxes, as pdfcpu's typed export
	// used to come: a checkbox named like a text field does not hide it.
	for _, f := range fields {
		if !f.checkbox {
			put(f.name, f.value)
		}
	}
	for _, f := range fields {
		if !f.checkbox {
			continue
		}
		name := pdfFieldName(f.name)
		if old, seen := raw.Fields[name]; seen && old == pdfExportTicked {
			continue
		}
		raw.Fields[name] = f.value
	}
	delete(raw.Fields, "")
	for n, fields := range users {
		raw.Users = append(raw.Users, RawUser{N: n, Fields: fields})
	}
	sort.Slice(raw.Users, func(i, j int) bool { return raw.Users[i].N < raw.Users[j].N })
	raw.ExtraUsers = len(extra)
	return raw, nil
}

// pdfField is one terminal field of an AcroForm: its fully qualified name
// and its value as text.
type pdfField struct {
	name     string
	value    string
	checkbox bool // value is pdfExportTicked or pdfExportUnticked
}

// pdfFormFields reads the fields of a PDF's AcroForm. It follows only the
// catalog, the AcroForm and its field tree, and decodes only the object
// streams that hold those objects, within pdfMaxDecodedTotal: pages, content
// streams, fonts and images are never decoded, and the document is not
// validated. A well-formed file is read lazily (pdf_lazy.go): only the
// objects the walk needs are parsed. Any other file (encrypted, damaged,
// with a broken cross-reference table) is read by pdfcpu, which parses every
// object and repairs what it can, but still decodes no stream.
func pdfFormFields(data []byte) ([]pdfField, error) {
	budget := int64(pdfMaxDecodedTotal)
	fields, err := lazyFormFields(data, &budget)
	if err == nil || errors.Is(err, ErrTooLarge) {
		return fields, err
	}
	return pdfcpuFormFields(data, &budget)
}

// lazyFormFields reads the fields through the lazy source. Any error but
// ErrTooLarge sends the file to pdfcpu's full read, which may repair it.
func lazyFormFields(data []byte, budget *int64) ([]pdfField, error) {
	l, err := openLazy(data, budget)
	if err != nil {
		return nil, pdfReadError(err)
	}
	return walkFormFields(l, *l.root, budget)
}

// pdfcpuFormFields reads the fields after pdfcpu has read every object.
func pdfcpuFormFields(data []byte, budget *int64) ([]pdfField, error) {
	conf := pdfConf()
	conf.Cmd = model.EXPORTFORMFIELDS
	ctx, err := pdfcpuRead(data, conf)
	if err != nil {
		return nil, pdfError(err)
	}
	if ctx.XRefTable.Root == nil {
		return nil, pdfError(errors.New("missing root dict"))
	}
	fields, err := walkFormFields(xrefSource{ctx.XRefTable}, *ctx.XRefTable.Root, budget)
	if errors.Is(err, errLazyUnsupported) {
		return nil, pdfError(err)
	}
	return fields, err
}

// walkFormFields walks the field tree of the document with catalog root.
func walkFormFields(src pdfSource, root types.IndirectRef, budget *int64) ([]pdfField, error) {
	r := &pdfReader{src: src, budget: budget, seen: map[int]bool{}, cache: map[int]types.Object{}}
	fields, err := r.formFields(root)
	if err != nil {
		return nil, pdfReadError(err)
	}
	if len(fields) == 0 {
		return nil, errPDFNoFields
	}
	return fields, nil
}

// pdfReadError maps an error of the walk: a limit is ErrTooLarge, the lazy
// reader stepping aside stays errLazyUnsupported, anything else is pdfcpu's
// or the walk's complaint about the file.
func pdfReadError(err error) error {
	var tooLarge *pdfTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: %s", ErrTooLarge, tooLarge.what)
	case errors.Is(err, errLazyUnsupported):
		return err
	}
	return pdfError(err)
}

// pdfcpuRead reads the cross-reference table and objects of data. pdfcpu
// signals some internal failures by panicking with its own type, which the
// read turns into an error as pdfcpu's api does.
func pdfcpuRead(data []byte, conf *model.Configuration) (ctx *model.Context, err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("%v", p)
		}
	}()
	return pdfcpu.ReadWithContext(context.Background(), bytes.NewReader(data), conf)
}

var errPDFNoFields = fmt.Errorf("%w: the PDF has no fillable form fields (a scan or a printed form?)", ErrNotAForm)

// pdfTooLargeError says which limit a PDF went over.
type pdfTooLargeError struct{ what string }

func (e *pdfTooLargeError) Error() string { return e.what }

// isDecodeLimit tells pdfcpu's decode limit error.
func isDecodeLimit(err error) bool { return errors.Is(err, filter.ErrDecodeLimitExceeded) }

// pdfSource gives the field walk the objects of a PDF.
type pdfSource interface {
	// entry resolves object n of generation gen: the object itself; or,
	// for an object inside an object stream, the stream's object number
	// (else -1) and the object's index in it; nil and -1 for an object
	// that does not exist (null, as the standard says).
	entry(n, gen int) (o types.Object, stm, index int, err error)
	// objectStream returns object stream stm (its encoded content and
	// filters) and the offset of its first object.
	objectStream(stm int) (types.StreamDict, int, error)
}

// xrefSource is a pdfcpu cross-reference table read in full. pdfcpu leaves
// objects inside object streams as lazy objects, which the walk decodes
// itself: pdfcpu's own lazy decoding (a limit per stream, none in total) is
// never reached.
type xrefSource struct{ xt *model.XRefTable }

func (x xrefSource) entry(n, gen int) (types.Object, int, int, error) {
	e, found := x.xt.FindTableEntry(n, gen)
	if !found || e.Free {
		return nil, -1, 0, nil
	}
	if _, lazy := e.Object.(types.LazyObjectStreamObject); lazy {
		if e.ObjectStream == nil || e.ObjectStreamInd == nil {
			return nil, -1, 0, fmt.Errorf("object %d: no object stream", n)
		}
		return nil, *e.ObjectStream, *e.ObjectStreamInd, nil
	}
	return e.Object, -1, 0, nil
}

func (x xrefSource) objectStream(stm int) (types.StreamDict, int, error) {
	e, found := x.xt.Find(stm)
	if !found {
		return types.StreamDict{}, 0, fmt.Errorf("object stream %d is missing", stm)
	}
	osd, ok := e.Object.(types.ObjectStreamDict)
	if !ok {
		return types.StreamDict{}, 0, fmt.Errorf("object %d is no object stream", stm)
	}
	return osd.StreamDict, osd.FirstObjOffset, nil
}

// pdfReader walks the field tree, resolving the objects it references and
// decoding each object stream it needs once, within its budget.
type pdfReader struct {
	src     pdfSource
	budget  *int64                   // decoded bytes left for streams
	streams map[int]*pdfObjectStream // decoded object streams by object number
	cache   map[int]types.Object     // objects parsed from object streams
	seen    map[int]bool             // field tree nodes visited (cycles)
	nodes   int
	fields  []pdfField
}

// pdfObjectStream is a decoded object stream: its content and where each of
// its objects starts.
type pdfObjectStream struct {
	content []byte
	offsets []int
}

// Field flags (PDF 32000-1:2008, tables 226 and 228).
const (
	pdfFlagRadio      = 1 << 15
	pdfFlagPushbutton = 1 << 16
)

// pdfInherited are the inheritable entries of the field tree: a field's
// type, flags, value and options may sit on an ancestor.
type pdfInherited struct {
	name string
	ft   string
	ff   int
	v    types.Object
	opt  types.Object
}

// formFields walks the AcroForm's field tree.
func (r *pdfReader) formFields(rootRef types.IndirectRef) ([]pdfField, error) {
	root, err := r.dict(rootRef)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if root == nil {
		return nil, errors.New("missing root dict")
	}
	acro, err := r.dict(root["AcroForm"])
	if err != nil {
		return nil, fmt.Errorf("AcroForm: %w", err)
	}
	if acro == nil {
		return nil, nil
	}
	top, err := r.array(acro["Fields"])
	if err != nil {
		return nil, fmt.Errorf("AcroForm fields: %w", err)
	}
	if err := r.walk(top, pdfInherited{}, 0); err != nil {
		return nil, err
	}
	return r.fields, nil
}

// walk visits the fields in kids. A field whose kids have no name of their
// own (/T) is terminal: the kids are its widgets (a radio group's buttons,
// or one text field shown on two pages).
func (r *pdfReader) walk(kids types.Array, parent pdfInherited, depth int) error {
	if depth > pdfMaxFieldDepth {
		return nil
	}
	for _, o := range kids {
		if ref, ok := o.(types.IndirectRef); ok {
			if r.seen[ref.ObjectNumber.Value()] {
				continue
			}
			r.seen[ref.ObjectNumber.Value()] = true
		}
		if r.nodes++; r.nodes > pdfMaxFieldNodes {
			return &pdfTooLargeError{fmt.Sprintf("the PDF form has more than %d fields", pdfMaxFieldNodes)}
		}
		d, err := r.dict(o)
		if err != nil {
			return fmt.Errorf("form field: %w", err)
		}
		if d == nil {
			continue
		}
		in := parent
		if t, ok := r.text(d["T"]); ok && t != "" {
			if in.name != "" {
				in.name += "." + t
			} else {
				in.name = t
			}
		}
		if ft, err := r.object(d["FT"]); err == nil {
			if n, ok := ft.(types.Name); ok {
				in.ft = string(n)
			}
		}
		if ff, err := r.object(d["Ff"]); err == nil {
			if i, ok := ff.(types.Integer); ok {
				in.ff = i.Value()
			}
		}
		if v, ok := d.Find("V"); ok {
			in.v = v
		}
		if opt, ok := d.Find("Opt"); ok {
			in.opt = opt
		}
		sub, err := r.array(d["Kids"])
		if err != nil {
			return fmt.Errorf("form field kids: %w", err)
		}
		terminal := true
		for _, k := range sub {
			kd, err := r.dict(k)
			if err != nil {
				return fmt.Errorf("form field kid: %w", err)
			}
			if _, named := kd.Find("T"); named {
				terminal = false
				break
			}
		}
		if !terminal {
			if err := r.walk(sub, in, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := r.field(in, len(sub)); err != nil {
			return err
		}
	}
	return nil
}

// field records one terminal field. A button field with several widgets, or
// with the radio flag, is a radio group whose value is the chosen button's
// export value ("" when none is); any other button is a checkbox, ticked
// when its value is anything but Off, whatever export value the tool wrote,
// and whether the tool wrote it as a name or (as some fillers do) a string.
// Fields of other types (signatures) have no value a form needs.
func (r *pdfReader) field(in pdfInherited, widgets int) error {
	v, err := r.object(in.v)
	if err != nil {
		return fmt.Errorf("form field value: %w", err)
	}
	f := pdfField{name: in.name}
	switch in.ft {
	case "Tx":
		f.value, _ = r.text(v)
	case "Ch":
		f.value = r.choice(v)
	case "Btn":
		state := r.state(v)
		if in.ff&pdfFlagRadio != 0 || (widgets > 1 && in.ff&pdfFlagPushbutton == 0) {
			if state == "Off" {
				state = ""
			}
			f.value = r.option(state, in.opt)
			break
		}
		f.checkbox = true
		f.value = pdfExportUnticked
		if state != "" && state != "Off" {
			f.value = pdfExportTicked
		}
	default:
		return nil
	}
	r.fields = append(r.fields, f)
	return nil
}

// text is the text of a string object (PDFDocEncoding or UTF-16).
func (r *pdfReader) text(o types.Object) (string, bool) {
	o, err := r.object(o)
	if err != nil {
		return "", false
	}
	switch o.(type) {
	case types.StringLiteral, types.HexLiteral:
		s, err := types.StringOrHexLiteral(o)
		if err != nil || s == nil {
			return "", false
		}
		return *s, true
	}
	return "", false
}

// state is the state of a button: a name, or a string as some fillers write
// it, decoded and trimmed.
func (r *pdfReader) state(o types.Object) string {
	switch o := o.(type) {
	case types.Name:
		s, err := types.DecodeName(string(o))
		if err != nil {
			return string(o)
		}
		return strings.TrimSpace(s)
	case types.StringLiteral, types.HexLiteral:
		s, _ := r.text(o)
		return strings.TrimSpace(s)
	}
	return ""
}

// option maps a radio group's state to its export value: where the group
// lists its export values in /Opt, the state is an index into that list.
func (r *pdfReader) option(state string, opt types.Object) string {
	if state == "" || opt == nil {
		return state
	}
	j, err := strconv.Atoi(state)
	if err != nil {
		return state
	}
	opts := r.strings(opt)
	if j < 0 || j >= len(opts) {
		return state
	}
	return opts[j]
}

// choice is the value of a combo or list box: one string, or several (a
// multiple-choice list) joined with ", ".
func (r *pdfReader) choice(o types.Object) string {
	if s, ok := r.text(o); ok {
		return strings.TrimSpace(s)
	}
	return strings.Join(r.strings(o), ", ")
}

// strings are the non-empty strings of an array of strings or of [export
// value, text] pairs, trimmed.
func (r *pdfReader) strings(o types.Object) []string {
	a, err := r.array(o)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range a {
		s, ok := r.text(e)
		if !ok {
			pair, err := r.array(e)
			if err != nil || len(pair) != 2 {
				continue
			}
			if s, ok = r.text(pair[0]); !ok {
				continue
			}
		}
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// dict resolves o to a dictionary; a missing object or null is nil.
func (r *pdfReader) dict(o types.Object) (types.Dict, error) {
	o, err := r.object(o)
	if err != nil || o == nil {
		return nil, err
	}
	switch d := o.(type) {
	case types.Dict:
		return d, nil
	case types.StreamDict:
		return d.Dict, nil
	}
	return nil, fmt.Errorf("expected a dictionary, got %T", o)
}

// array resolves o to an array; a missing object or null is nil.
func (r *pdfReader) array(o types.Object) (types.Array, error) {
	o, err := r.object(o)
	if err != nil || o == nil {
		return nil, err
	}
	a, ok := o.(types.Array)
	if !ok {
		return nil, fmt.Errorf("expected an array, got %T", o)
	}
	return a, nil
}

// object resolves an indirect reference. An object inside an object stream
// is parsed from the stream's content, decoded on first use within the
// budget.
func (r *pdfReader) object(o types.Object) (types.Object, error) {
	ref, ok := o.(types.IndirectRef)
	if !ok {
		return o, nil
	}
	n := ref.ObjectNumber.Value()
	if obj, ok := r.cache[n]; ok {
		return obj, nil
	}
	obj, stm, index, err := r.src.entry(n, ref.GenerationNumber.Value())
	if err != nil {
		return nil, fmt.Errorf("object %d: %w", n, err)
	}
	if stm < 0 {
		return obj, nil
	}
	obj, err = r.compressed(stm, index)
	if err != nil {
		return nil, fmt.Errorf("object %d: %w", n, err)
	}
	r.cache[n] = obj
	return obj, nil
}

// compressed parses the index-th object of object stream stm.
func (r *pdfReader) compressed(stm, index int) (types.Object, error) {
	os, err := r.objectStream(stm)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(os.offsets) {
		return nil, fmt.Errorf("object stream %d has no object %d", stm, index)
	}
	end := len(os.content)
	if index+1 < len(os.offsets) {
		end = os.offsets[index+1]
	}
	o, err := parseObject(string(os.content[os.offsets[index]:end]))
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", stm, err)
	}
	if d, ok := o.(types.Dict); ok {
		if n, ref := d.Length(); n != nil || ref != nil {
			return nil, fmt.Errorf("object stream %d holds a stream", stm)
		}
	}
	return o, nil
}

// objectStream decodes object stream stm once and reads its table of
// object offsets.
func (r *pdfReader) objectStream(stm int) (*pdfObjectStream, error) {
	if os, ok := r.streams[stm]; ok {
		if os == nil {
			return nil, fmt.Errorf("object stream %d is damaged", stm)
		}
		return os, nil
	}
	if r.streams == nil {
		r.streams = map[int]*pdfObjectStream{}
	}
	r.streams[stm] = nil
	sd, first, err := r.src.objectStream(stm)
	if err != nil {
		return nil, err
	}
	content, err := decodeWithin(&sd, r.budget)
	if err != nil {
		return nil, fmt.Errorf("object stream %d: %w", stm, err)
	}
	if first < 0 || first > len(content) {
		return nil, fmt.Errorf("object stream %d: corrupt /First", stm)
	}
	prolog := bytes.ReplaceAll(content[:first], []byte{0}, []byte{' '})
	if i := bytes.IndexByte(prolog, '%'); i >= 0 {
		prolog = prolog[:i]
	}
	words := strings.Fields(string(prolog))
	if len(words)%2 != 0 {
		return nil, fmt.Errorf("object stream %d: corrupt offsets", stm)
	}
	os := &pdfObjectStream{content: content}
	for i := 1; i < len(words); i += 2 {
		off, err := strconv.Atoi(words[i])
		if err != nil || off < 0 || first+off > len(content) || (len(os.offsets) > 0 && first+off < os.offsets[len(os.offsets)-1]) {
			return nil, fmt.Errorf("object stream %d: corrupt offsets", stm)
		}
		os.offsets = append(os.offsets, first+off)
	}
	r.streams[stm] = os
	return os, nil
}

// pdfError maps what pdfcpu says about a PDF it cannot read to one of the
// package's sentinels. pdfcpu's errors are mostly plain strings, so apart
// from the wrong password and the decode limit they are told apart by their
// text.
func pdfError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, pdfcpu.ErrWrongPassword):
		return fmt.Errorf("%w: a password-protected PDF", ErrEncrypted)
	case isDecodeLimit(err):
		return fmt.Errorf("%w: a compressed stream of the PDF inflates to more than %d MiB", ErrTooLarge, pdfMaxStreamDecoded>>20)
	case strings.Contains(msg, "encrypt"):
		return fmt.Errorf("%w: an encrypted PDF pdfcpu cannot open (%s)", ErrEncrypted, shortCause(msg))
	}
	return fmt.Errorf("%w: a damaged PDF: %s", ErrNotAForm, shortCause(msg))
}

// shortCause keeps the last part of pdfcpu's chain of "step: step: cause"
// that says what was wrong, cut to a log-friendly length.
func shortCause(msg string) string {
	parts := strings.Split(msg, ": ")
	cause := parts[len(parts)-1]
	if len(parts) > 1 && len(cause) < 12 {
		cause = parts[len(parts)-2] + ": " + cause
	}
	if r := []rune(cause); len(r) > 80 {
		cause = string(r[:80]) + "…"
	}
	return cause
}

// pdfFieldName turns the fully qualified name of a field in a form that was
// re-made in another program back into the form's own field name: a parent
// field adds a prefix ("form1.fornamn"), and XFA-based designers add both a
// path and an index ("topmostSubform[0].Page1[0].fornamn[0]"). The last
// part is taken only when it is one of the form's field names, so a field of
// another kind of form keeps its name and the form is still not recognised.
func pdfFieldName(full string) string {
	name := full
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '['); i > 0 && strings.HasSuffix(name, "]") {
		name = name[:i]
	}
	if name == full || isFormFieldName(name) {
		return name
	}
	return full
}

// isFormFieldName reports whether name is a field of either form, or a
// user-row field of the multi-user form.
func isFormFieldName(name string) bool {
	for _, def := range Definitions() {
		if _, ok := def.Field(name); ok {
			return true
		}
	}
	if _, col, ok := SplitUserFieldName(name); ok {
		_, ok := multiDef.UserColumn(col)
		return ok
	}
	return false
}
