package formparse

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse/hostile"
)

// TestPDFLazyReadsLikePdfcpu reads every PDF fixture, both blank forms, a
// filled one and a PDF of object and cross-reference streams twice: through
// the lazy source (only the objects the fields need) and through pdfcpu's
// full read. Well-formed files must be read lazily, and exactly as pdfcpu's
// read gives them; the others must step aside (or say they have no fields)
// rather than guess.
func TestPDFLazyReadsLikePdfcpu(t *testing.T) {
	type outcome int
	const (
		lazy      outcome = iota // read lazily, the same fields as pdfcpu's read
		noFields                 // no fields either way
		stepAside                // the lazy source leaves it to pdfcpu
	)
	want := map[string]outcome{
		"pdf-checkbox-string-state": lazy,
		"pdf-encrypted":             stepAside,
		"pdf-encrypted-owner-only":  stepAside,
		"pdf-multi-half-row":        lazy,
		"pdf-no-blankett":           lazy,
		"pdf-no-default-appearance": lazy,
		"pdf-no-form":               noFields,
		"pdf-other-form":            lazy,
		"pdf-pdftk-fdf":             lazy,
		"pdf-pdftk-flattened":       noFields,
		"pdf-pdftk-xfdf":            lazy,
		"pdf-qpdf-objstreams":       lazy,
		"pdf-truncated":             stepAside,
	}
	inputs := fixtureInputs(t, "pdf-*", "input.pdf")
	if len(inputs) != len(want) {
		t.Errorf("%d PDF fixtures, the test knows %d: add the new ones to want", len(inputs), len(want))
	}
	for _, def := range Definitions() {
		name := "blank " + string(def.ID)
		inputs[name], want[name] = blank(t, def.ID, PDF), lazy
	}
	inputs["filled single"], want["filled single"] = fillPDF(t, blank(t, Single, PDF), pdfSingleValues), lazy
	inputs["object streams"], want["object streams"] = hostile.PDFObjectStreamBombSized(4, 1<<10), lazy

	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			b1, b2 := int64(pdfMaxDecodedTotal), int64(pdfMaxDecodedTotal)
			got, lerr := lazyFormFields(data, &b1)
			full, ferr := pdfcpuFormFields(data, &b2)
			switch want[name] {
			case lazy:
				if lerr != nil || ferr != nil {
					t.Fatalf("lazy read: %v; pdfcpu's read: %v; want both to read the form", lerr, ferr)
				}
				if !reflect.DeepEqual(got, full) {
					t.Errorf("lazy read = %+v\npdfcpu's read = %+v", got, full)
				}
			case noFields:
				if lerr != errPDFNoFields || ferr != errPDFNoFields {
					t.Errorf("lazy read: %v; pdfcpu's read: %v; want both %v", lerr, ferr, errPDFNoFields)
				}
			case stepAside:
				if !errors.Is(lerr, errLazyUnsupported) {
					t.Errorf("lazy read: %v, %d fields; want it to step aside", lerr, len(got))
				}
			}
		})
	}
}

// pdfWithObjects writes a PDF of the given object bodies (object i+1 is
// objects[i]) with a correct cross-reference table and the trailer entries
// given.
func pdfWithObjects(trailer string, objects ...string) []byte {
	var b []byte
	b = append(b, "%PDF-1.7\n"...)
	offsets := make([]int, len(objects))
	for i, body := range objects {
		offsets[i] = len(b)
		b = append(b, strconv.Itoa(i+1)+" 0 obj\n"+body+"\nendobj\n"...)
	}
	xref := len(b)
	b = append(b, "xref\n0 "+strconv.Itoa(len(objects)+1)+"\n0000000000 65535 f \n"...)
	for _, off := range offsets {
		b = append(b, fmt.Sprintf("%010d 00000 n \n", off)...)
	}
	b = append(b, "trailer\n<< /Size "+strconv.Itoa(len(objects)+1)+" "+trailer+" >>\nstartxref\n"+strconv.Itoa(xref)+"\n%%EOF\n"...)
	return b
}

// selfReferringXref is pdfWithObjects with the trailer entry key pointing
// at the file's own cross-reference table.
func selfReferringXref(key string, objects ...string) []byte {
	data := pdfWithObjects("/Root 1 0 R", objects...)
	i := bytes.LastIndex(data, []byte("startxref\n"))
	off, _ := lazyInt(data[i+len("startxref"):])
	return pdfWithObjects("/Root 1 0 R "+key+" "+strconv.Itoa(off), objects...)
}

// TestReadPDFLazyHostile feeds the lazy source files made to loop or to
// overrun it: each must end in the exact outcome, never a panic or a hang.
func TestReadPDFLazyHostile(t *testing.T) {
	const form = "<< /Type /Catalog /AcroForm << /Fields [ 2 0 R ] >> >>"
	tests := []struct {
		name string
		data []byte
		want string // readPDF's error, or "" and the field fornamn reads "Åsa"
	}{
		{"plain form", pdfWithObjects("/Root 1 0 R", form, "<< /FT /Tx /T (fornamn) /V <FEFF00C500730061> >>"), ""},
		{"stream length refers to itself", pdfWithObjects("/Root 1 0 R", form,
			"<< /Length 2 0 R >>\nstream\nxxxx\nendstream"),
			"not a webSesam form: a damaged PDF: "},
		{"stream length past the end", pdfWithObjects("/Root 1 0 R", form,
			"<< /Length 9223372036854775807 >>\nstream\nxxxx\nendstream"),
			"not a webSesam form: a damaged PDF: "},
		{"field tree that loops", pdfWithObjects("/Root 1 0 R", form,
			"<< /T (a) /Kids [ 3 0 R ] >>", "<< /T (b) /Kids [ 2 0 R 3 0 R ] >>"),
			"not a webSesam form: the PDF has no fillable form fields (a scan or a printed form?)"},
		{"trailer whose previous section is itself", selfReferringXref("/Prev",
			form, "<< /FT /Tx /T (fornamn) /V (Åsa) >>"), "not a webSesam form: a damaged PDF: "},
		{"cross-reference stream that is the table", selfReferringXref("/XRefStm",
			form, "<< /FT /Tx /T (fornamn) /V (Åsa) >>"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := readPDF(tt.data, Options{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("readPDF: %v", err)
				}
				if got := raw.Fields["fornamn"]; got != "Åsa" {
					t.Errorf("fornamn = %q, want %q", got, "Åsa")
				}
				return
			}
			if err == nil {
				t.Fatalf("readPDF read %v, want the error %q", raw.Fields, tt.want)
			}
			if got := err.Error(); got != tt.want && !(strings.HasSuffix(tt.want, ": ") && strings.HasPrefix(got, tt.want)) {
				t.Errorf("readPDF error = %q, want %q", got, tt.want)
			}
		})
	}
}
