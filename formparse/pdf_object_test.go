package formparse

import (
	"bytes"
	"context"
	"reflect"
	"regexp"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// pdfcpuObject is what parseObject must give: pdfcpu's own parse.
func pdfcpuObject(s string) (types.Object, error) {
	return model.ParseObjectContext(context.Background(), &s, 0, 64)
}

// fastObject is the fast path alone; ok is false where it leaves the
// object to pdfcpu.
func fastObject(s string) (types.Object, bool) {
	p := objectParser{s: s}
	return p.value(0)
}

// checkFastAgrees fails when the fast path reads s and pdfcpu reads it
// otherwise (or not at all).
func checkFastAgrees(t *testing.T, s string) bool {
	t.Helper()
	got, ok := fastObject(s)
	if !ok {
		return false
	}
	want, err := pdfcpuObject(s)
	if err != nil {
		t.Fatalf("fast path read %q as %#v; pdfcpu: %v", s, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path read %q as %#v; pdfcpu as %#v", s, got, want)
	}
	return true
}

// objectBodies are the texts of the uncompressed objects of a PDF, each as
// parseAt hands it to the parser (up to "stream" or "endobj").
func objectBodies(data []byte) []string {
	var out []string
	for _, loc := range objHeader.FindAllIndex(data, -1) {
		body := data[loc[1]:]
		end := len(body)
		if i := bytes.Index(body, []byte("endobj")); i >= 0 {
			end = i
		}
		if i := bytes.Index(body[:end], []byte("stream")); i >= 0 {
			end = i
		}
		out = append(out, string(body[:end]))
	}
	return out
}

var objHeader = regexp.MustCompile(`(?m)^\d+ \d+ obj`)

// pdfSeeds are every PDF fixture, the blank forms and a filled one.
func pdfSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, data := range fixtureInputs(t, "*", "input.pdf") {
		out = append(out, data)
	}
	for _, def := range Definitions() {
		out = append(out, blank(t, def.ID, PDF))
	}
	return append(out, fillPDF(t, blank(t, Single, PDF), pdfSingleValues))
}

// objectCases are hand-written objects: ones the fast path reads (true)
// and ones it must leave to pdfcpu (false), where pdfcpu reads them its
// own way (comments, escapes in names, junk numbers) or fails.
var objectCases = []struct {
	s    string
	fast bool
}{
	{"<</T (name) /V (Åsa \\(x\\) \\\\) /FT /Tx /Ff 4096 /Kids [1 0 R 2 0 R] /Rect [0 0 12.5 -.5]>>", true},
	{"  \r\n<</A 1 0 R/B[1 2 3]/C<</D true/E false/F null>>/G<0aF>>>", true},
	{"[1 0 R 2 0 3 R 4 /N (s) <> <abc> null 5 0]", true},
	{"<</A 1 0 R>>trailing junk", true},
	{"<</A 1 /A 2>>", true},
	{"<</A 1 /A null>>", true},
	{"<<>>", true},
	{"[]", true},
	{"[ ]", true},
	{"5 0 R", true},
	{"5 0 Rx", true},
	{"5 0", true},
	{"5 0 ", true},
	{"5 0/N", true},
	{"5 x R", true},
	{"5 0.0 R", true},
	{"5 1.5 2.5]", true},
	{"5 - R", true},
	{"5 +0 R", false},
	{"5 -0 R", false},
	{"-17", true},
	{"+17", true},
	{"007", true},
	{"5.", true},
	{".5", true},
	{"-.5", true},
	{"1.5.5", false},
	{"1-2", false},
	{"0-5", false},
	{"0.0-5", false},
	{".-5", false},
	{"1,5", false},
	{"1e5", false},
	{"99999999999999999999", false},
	{"5)", false},
	{"-", false},
	{".", false},
	{"/N#20x", false},
	{"/N{x}", false},
	{"/N)", false},
	{"/", true},
	{"/A/B", true},
	{"%comment\n/N", false},
	{"<</A 1 %c\n>>", false},
	{"<</A\v1>>", false},
	{"<</A 1>", false},
	{"<</A 1", false},
	{"<<1 2>>", false},
	{"[1 2", false},
	{"(unbalanced", false},
	{"(a\\)b)", true},
	{"((nested) more)", true},
	{"<12 34>", false},
	{"<xyz>", false},
	{"True", false},
	{"nullx", false},
	{"null", true},
	{"<</N /\xc3\xa5>>", false},
	{"<</N (\xc3\xa5)>>", true},
	{"", false},
	{"   ", false},
	{"R", false},
	{"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", false},
}

// TestParseObjectAgreesWithPdfcpu: the fast path reads exactly what pdfcpu
// reads, for every object of every PDF fixture and for the hand-written
// cases; and it does read every object of the filled forms (else it saves
// nothing).
func TestParseObjectAgreesWithPdfcpu(t *testing.T) {
	for _, c := range objectCases {
		if got := checkFastAgrees(t, c.s); got != c.fast {
			t.Errorf("fast path took %q: %v, want %v", c.s, got, c.fast)
		}
		// parseObject gives pdfcpu's answer either way.
		got, gotErr := parseObject(c.s)
		want, wantErr := pdfcpuObject(c.s)
		if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parseObject(%q) = %#v, %v; pdfcpu %#v, %v", c.s, got, gotErr, want, wantErr)
		}
	}
	for _, name := range []string{"pdf-pdftk-xfdf", "pdf-pdftk-fdf", "pdf-multi-half-row"} {
		bodies := objectBodies(readFixture(t, name))
		if len(bodies) == 0 {
			t.Fatalf("%s: no objects found", name)
		}
		for _, b := range bodies {
			if !checkFastAgrees(t, b) {
				t.Errorf("%s: the fast path left an object to pdfcpu: %q", name, b)
			}
		}
	}
	for _, data := range pdfSeeds(t) {
		for _, b := range objectBodies(data) {
			checkFastAgrees(t, b)
		}
	}
}

// FuzzParseObject: wherever the fast path reads an object, pdfcpu reads
// the same.
func FuzzParseObject(f *testing.F) {
	for _, c := range objectCases {
		f.Add(c.s)
	}
	for _, data := range pdfSeeds(f) {
		for _, b := range objectBodies(data) {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkFastAgrees(t, s)
	})
}
