package formparse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// The lazy source reads a well-formed PDF the way a viewer opens it: the
// cross-reference sections from the end of the file (tables, streams, or
// both), then only the objects the field walk asks for, each parsed with
// pdfcpu's object parser where the table says it starts. A form of 30
// fields needs some 40 of its few hundred objects and none of its page
// content. Anything it does not expect — an encrypted file, an offset that
// does not point at its object, a broken table — makes it step aside for
// pdfcpu's full read, which repairs what can be repaired.

// errLazyUnsupported sends a file to pdfcpu's full read.
var errLazyUnsupported = errors.New("the lazy reader does not read this file")

// Bounds of the lazy source: cross-reference sections followed through
// /Prev, and the longest object (other than a stream's content) it parses.
const (
	lazyMaxSections  = 64
	lazyMaxObjectLen = 1 << 20
)

// lazyEntry is where an object is: at an offset (kind 1), or inside an
// object stream (kind 2), or nowhere (kind 0: free).
type lazyEntry struct {
	kind   byte
	offset int // kind 1: byte offset; kind 2: object stream number
	index  int // kind 1: generation; kind 2: index in the object stream
}

// pdfLazy is a PDF read lazily from its bytes.
type pdfLazy struct {
	data    []byte
	xref    map[int]lazyEntry
	trailer types.Dict // the newest trailer (or cross-reference stream dictionary)
	root    *types.IndirectRef
	cache   map[int]types.Object
	parsing map[int]bool // objects being parsed (a /Length that refers back)
	budget  *int64       // decoded bytes left, shared with the reader
}

// openLazy reads the cross-reference sections of data. budget bounds the
// bytes decoded from cross-reference streams.
func openLazy(data []byte, budget *int64) (*pdfLazy, error) {
	l := &pdfLazy{data: data, xref: map[int]lazyEntry{}, cache: map[int]types.Object{}, parsing: map[int]bool{}, budget: budget}
	tail := data[max(0, len(data)-1024):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return nil, errLazyUnsupported
	}
	off, ok := lazyInt(tail[i+len("startxref"):])
	if !ok {
		return nil, errLazyUnsupported
	}
	seen := map[int]bool{}
	for n := 0; ; n++ {
		if n >= lazyMaxSections || seen[off] || off <= 0 || off >= len(data) {
			return nil, errLazyUnsupported
		}
		seen[off] = true
		trailer, err := l.section(off)
		if err != nil {
			return nil, err
		}
		if l.trailer == nil {
			l.trailer = trailer
		}
		if l.root == nil {
			l.root = trailer.IndirectRefEntry("Root")
		}
		prev, ok := trailer["Prev"].(types.Integer)
		if !ok {
			break
		}
		off = prev.Value()
	}
	if _, encrypted := l.trailer.Find("Encrypt"); encrypted || l.root == nil {
		return nil, errLazyUnsupported
	}
	return l, nil
}

// section reads the cross-reference section at off, a table or a stream,
// and returns its trailer. Entries already known come from newer sections
// and win.
func (l *pdfLazy) section(off int) (types.Dict, error) {
	rest := l.data[off:]
	if bytes.HasPrefix(bytes.TrimLeft(rest, " \t\r\n\f\x00"), []byte("xref")) {
		return l.table(off)
	}
	return l.xrefStreamAt(off)
}

// xrefStreamAt reads the cross-reference stream object at off and returns
// its dictionary (a stream section's trailer).
func (l *pdfLazy) xrefStreamAt(off int) (types.Dict, error) {
	o, err := l.parseAt(off, -1)
	if err != nil {
		return nil, err
	}
	sd, ok := o.(types.StreamDict)
	if !ok || sd.Type() == nil || *sd.Type() != "XRef" {
		return nil, errLazyUnsupported
	}
	if err := l.xrefStream(sd); err != nil {
		return nil, err
	}
	return sd.Dict, nil
}

// table reads a cross-reference table and its trailer; a hybrid file's
// /XRefStm (the objects in object streams) is read first, so that its
// entries win over the table's entries for the same objects.
func (l *pdfLazy) table(off int) (types.Dict, error) {
	rest := l.data[off:]
	rest = rest[bytes.Index(rest, []byte("xref"))+len("xref"):]
	t := bytes.Index(rest, []byte("trailer"))
	if t < 0 {
		return nil, errLazyUnsupported
	}
	words := bytes.Fields(rest[:t])
	type row struct {
		n     int
		entry lazyEntry
	}
	var rows []row
	for len(words) >= 2 {
		start, err1 := strconv.Atoi(string(words[0]))
		count, err2 := strconv.Atoi(string(words[1]))
		words = words[2:]
		if err1 != nil || err2 != nil || start < 0 || count < 0 || count > pdfMaxObjects || len(words) < 3*count {
			return nil, errLazyUnsupported
		}
		for i := 0; i < count; i++ {
			offset, err1 := strconv.Atoi(string(words[3*i]))
			gen, err2 := strconv.Atoi(string(words[3*i+1]))
			if err1 != nil || err2 != nil {
				return nil, errLazyUnsupported
			}
			e := lazyEntry{}
			switch string(words[3*i+2]) {
			case "n":
				e = lazyEntry{kind: 1, offset: offset, index: gen}
			case "f":
			default:
				return nil, errLazyUnsupported
			}
			rows = append(rows, row{start + i, e})
		}
		words = words[3*count:]
	}
	if len(words) != 0 || len(rows) > pdfMaxObjects {
		return nil, errLazyUnsupported
	}
	trailerText := rest[t+len("trailer"):]
	if s := bytes.Index(trailerText, []byte("startxref")); s >= 0 {
		trailerText = trailerText[:s]
	}
	o, err := parseObject(string(trailerText[:min(len(trailerText), lazyMaxObjectLen)]))
	if err != nil {
		return nil, errLazyUnsupported
	}
	trailer, ok := o.(types.Dict)
	if !ok {
		return nil, errLazyUnsupported
	}
	if stm, ok := trailer["XRefStm"].(types.Integer); ok {
		if _, err := l.xrefStreamAt(stm.Value()); err != nil {
			return nil, err
		}
	}
	for _, r := range rows {
		if _, known := l.xref[r.n]; !known {
			l.xref[r.n] = r.entry
		}
	}
	return trailer, nil
}

// xrefStream reads the entries of a cross-reference stream.
func (l *pdfLazy) xrefStream(sd types.StreamDict) error {
	content, err := decodeWithin(&sd, l.budget)
	if err != nil {
		return err
	}
	w := sd.ArrayEntry("W")
	if len(w) != 3 {
		return errLazyUnsupported
	}
	var widths [3]int
	rowLen := 0
	for i, o := range w {
		n, ok := o.(types.Integer)
		if !ok || n.Value() < 0 || n.Value() > 8 {
			return errLazyUnsupported
		}
		widths[i] = n.Value()
		rowLen += n.Value()
	}
	if rowLen == 0 {
		return errLazyUnsupported
	}
	size := sd.IntEntry("Size")
	index := sd.ArrayEntry("Index")
	if index == nil {
		if size == nil {
			return errLazyUnsupported
		}
		index = types.Array{types.Integer(0), types.Integer(*size)}
	}
	if len(index)%2 != 0 {
		return errLazyUnsupported
	}
	field := func(row []byte, i int) int {
		v := 0
		for _, b := range row[:widths[i]] {
			v = v<<8 | int(b)
		}
		return v
	}
	pos := 0
	for i := 0; i < len(index); i += 2 {
		start, ok1 := index[i].(types.Integer)
		count, ok2 := index[i+1].(types.Integer)
		if !ok1 || !ok2 || start.Value() < 0 || count.Value() < 0 || count.Value() > pdfMaxObjects {
			return errLazyUnsupported
		}
		for j := 0; j < count.Value(); j++ {
			if pos+rowLen > len(content) {
				return errLazyUnsupported
			}
			row := content[pos : pos+rowLen]
			pos += rowLen
			typ := 1 // the type field's default when its width is 0
			if widths[0] > 0 {
				typ = field(row, 0)
			}
			row = row[widths[0]:]
			f2 := field(row, 1)
			f3 := 0
			if widths[2] > 0 {
				f3 = field(row[widths[1]:], 2)
			}
			n := start.Value() + j
			if _, known := l.xref[n]; known {
				continue
			}
			switch typ {
			case 0:
				l.xref[n] = lazyEntry{}
			case 1:
				l.xref[n] = lazyEntry{kind: 1, offset: f2, index: f3}
			case 2:
				l.xref[n] = lazyEntry{kind: 2, offset: f2, index: f3}
			}
			if len(l.xref) > pdfMaxObjects {
				return errLazyUnsupported
			}
		}
	}
	return nil
}

// entry resolves object n.
func (l *pdfLazy) entry(n, gen int) (types.Object, int, int, error) {
	e, ok := l.xref[n]
	switch {
	case !ok || e.kind == 0:
		return nil, -1, 0, nil
	case e.kind == 2:
		return nil, e.offset, e.index, nil
	}
	if o, ok := l.cache[n]; ok {
		return o, -1, 0, nil
	}
	if l.parsing[n] {
		// A stream whose /Length refers to itself.
		return nil, -1, 0, errLazyUnsupported
	}
	l.parsing[n] = true
	defer delete(l.parsing, n)
	o, err := l.parseAt(e.offset, n)
	if err != nil {
		return nil, -1, 0, err
	}
	l.cache[n] = o
	return o, -1, 0, nil
}

// objectStream returns object stream stm and the offset of its first object.
func (l *pdfLazy) objectStream(stm int) (types.StreamDict, int, error) {
	o, _, _, err := l.entry(stm, 0)
	if err != nil {
		return types.StreamDict{}, 0, err
	}
	sd, ok := o.(types.StreamDict)
	if !ok || sd.Type() == nil || *sd.Type() != "ObjStm" {
		return types.StreamDict{}, 0, errLazyUnsupported
	}
	first := sd.IntEntry("First")
	if first == nil {
		return types.StreamDict{}, 0, errLazyUnsupported
	}
	return sd, *first, nil
}

// parseAt parses the object whose header ("n g obj") starts at off; want is
// its number, or -1 for a cross-reference stream found through startxref.
// A stream's dictionary gets its encoded content and filters.
func (l *pdfLazy) parseAt(off, want int) (types.Object, error) {
	if off <= 0 || off >= len(l.data) {
		return nil, errLazyUnsupported
	}
	rest := l.data[off:]
	n, rest, ok1 := lazyNumber(rest)
	_, rest, ok2 := lazyNumber(rest)
	rest = bytes.TrimLeft(rest, " \t\r\n\f\x00")
	if !ok1 || !ok2 || !bytes.HasPrefix(rest, []byte("obj")) || (want >= 0 && n != want) {
		return nil, errLazyUnsupported
	}
	rest = rest[len("obj"):]
	body := rest[:min(len(rest), lazyMaxObjectLen)]
	// The object ends at the first "endobj" or "stream" keyword outside
	// its strings: start looking just past the first occurrence of either.
	window := len(body)
	if i := bytes.Index(body, []byte("endobj")); i >= 0 {
		window = i + 16
	}
	if i := bytes.Index(body, []byte("stream")); i >= 0 && i+16 < window {
		window = i + 16
	}
	var endInd, streamInd int
	for ; ; window *= 2 {
		s := string(body[:min(len(body), window)])
		var err error
		endInd, streamInd, err = model.DetectKeywordsWithContext(context.Background(), s)
		if err != nil {
			return nil, errLazyUnsupported
		}
		if endInd > 0 || streamInd > 0 {
			break
		}
		if window >= len(body) {
			return nil, errLazyUnsupported
		}
	}
	isStream := streamInd > 0 && (endInd <= 0 || streamInd < endInd)
	var text []byte
	if isStream {
		text = body[:streamInd]
	} else {
		text = body[:endInd]
	}
	o, err := parseObject(string(text))
	if err != nil {
		return nil, errLazyUnsupported
	}
	if !isStream {
		return o, nil
	}
	d, ok := o.(types.Dict)
	if !ok {
		return nil, errLazyUnsupported
	}
	start := off + (len(l.data[off:]) - len(rest)) + streamInd + len("stream")
	switch {
	case bytes.HasPrefix(l.data[start:], []byte("\r\n")):
		start += 2
	case bytes.HasPrefix(l.data[start:], []byte("\n")), bytes.HasPrefix(l.data[start:], []byte("\r")):
		start++
	}
	length, err := l.length(d["Length"])
	if err != nil {
		return nil, err
	}
	if length < 0 || length > len(l.data)-start {
		return nil, errLazyUnsupported
	}
	pipeline, err := l.pipeline(d)
	if err != nil {
		return nil, err
	}
	n64 := int64(length)
	return types.StreamDict{Dict: d, StreamOffset: int64(start), StreamLength: &n64,
		FilterPipeline: pipeline, Raw: l.data[start : start+length]}, nil
}

// length is a stream's /Length, given directly or as an indirect integer.
func (l *pdfLazy) length(o types.Object) (int, error) {
	if ref, ok := o.(types.IndirectRef); ok {
		obj, stm, _, err := l.entry(ref.ObjectNumber.Value(), ref.GenerationNumber.Value())
		if err != nil || stm >= 0 {
			return 0, errLazyUnsupported
		}
		o = obj
	}
	n, ok := o.(types.Integer)
	if !ok {
		return 0, errLazyUnsupported
	}
	return n.Value(), nil
}

// pipeline is a stream's /Filter with its /DecodeParms.
func (l *pdfLazy) pipeline(d types.Dict) ([]types.PDFFilter, error) {
	f, ok := d.Find("Filter")
	if !ok || f == nil {
		return nil, nil
	}
	parms, _ := d.Find("DecodeParms")
	switch f := f.(type) {
	case types.Name:
		p, _ := parms.(types.Dict)
		return []types.PDFFilter{{Name: string(f), DecodeParms: p}}, nil
	case types.Array:
		pa, _ := parms.(types.Array)
		var out []types.PDFFilter
		for i, o := range f {
			name, ok := o.(types.Name)
			if !ok {
				return nil, errLazyUnsupported
			}
			var p types.Dict
			if i < len(pa) {
				p, _ = pa[i].(types.Dict)
			}
			out = append(out, types.PDFFilter{Name: string(name), DecodeParms: p})
		}
		return out, nil
	}
	return nil, errLazyUnsupported
}

// lazyNumber reads a non-negative integer after optional white space.
func lazyNumber(b []byte) (int, []byte, bool) {
	b = bytes.TrimLeft(b, " \t\r\n\f\x00")
	i := 0
	for i < len(b) && i < 12 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, b, false
	}
	n, err := strconv.Atoi(string(b[:i]))
	return n, b[i:], err == nil
}

// lazyInt reads the integer at the start of b (after white space).
func lazyInt(b []byte) (int, bool) {
	n, _, ok := lazyNumber(b)
	return n, ok
}

// decodeWithin decodes a stream within the per-stream limit and what is left
// of budget, and takes what it decoded from the budget.
func decodeWithin(sd *types.StreamDict, budget *int64) ([]byte, error) {
	limit := min(int64(pdfMaxStreamDecoded), *budget)
	sd.Content = nil
	content, err := sd.DecodeLengthWithLimit(-1, limit)
	if isDecodeLimit(err) || (err == nil && int64(len(content)) > limit) {
		if limit < pdfMaxStreamDecoded {
			return nil, &pdfTooLargeError{fmt.Sprintf("the PDF's compressed objects inflate to more than %d MiB in all", pdfMaxDecodedTotal>>20)}
		}
		return nil, &pdfTooLargeError{fmt.Sprintf("a compressed stream of the PDF inflates to more than %d MiB", pdfMaxStreamDecoded>>20)}
	}
	if err != nil {
		return nil, err
	}
	*budget -= int64(len(content))
	return content, nil
}
