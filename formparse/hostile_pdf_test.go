package formparse

import (
	"errors"
	"runtime"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse/hostile"
)

// TestReadPDFObjectStreamBomb reads the object-stream bomb of the hostile
// package (19 object streams of 512 MiB each, about 10 MB of file): the
// reader refuses it at its per-stream decode limit, with ErrTooLarge and a
// message that names the limit, having allocated a few megabytes.
func TestReadPDFObjectStreamBomb(t *testing.T) {
	data := hostile.PDFObjectStreamBomb()
	const want = "file too large: a compressed stream of the PDF inflates to more than 4 MiB"
	for _, who := range []string{"readPDF", "Read"} {
		t.Run(who, func(t *testing.T) {
			allocated := allocatedBy(func() {
				var err error
				if who == "readPDF" {
					var raw *Raw
					raw, err = readPDF(data, Options{})
					if raw != nil {
						t.Errorf("readPDF gave a Raw, want nil")
					}
				} else {
					var f *Form
					f, err = Read(data, Options{})
					if f != nil {
						t.Errorf("Read gave a form, want nil")
					}
				}
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("error = %v, want ErrTooLarge", err)
				}
				if got := err.Error(); got != want {
					t.Errorf("error = %q, want %q", got, want)
				}
			})
			// The file itself, pdfcpu's copy of its raw streams, and one
			// stream decoded up to the limit.
			if limit := uint64(3*len(data) + 4*pdfMaxStreamDecoded); allocated > limit {
				t.Errorf("reading the bomb allocated %d MiB, want at most %d MiB", allocated>>20, limit>>20)
			}
			t.Logf("file %d KiB, allocated %d KiB", len(data)>>10, allocated>>10)
		})
	}
}

// TestReadPDFDecodeBudget reads object streams that each stay under the
// per-stream limit but together inflate past the file's budget.
func TestReadPDFDecodeBudget(t *testing.T) {
	data := hostile.PDFObjectStreamBombSized(8, 3<<20)
	_, err := readPDF(data, Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("readPDF error = %v, want ErrTooLarge", err)
	}
	if got, want := err.Error(), "file too large: the PDF's compressed objects inflate to more than 16 MiB in all"; got != want {
		t.Errorf("readPDF error = %q, want %q", got, want)
	}
}

// TestReadPDFSmallObjectStreams reads the bomb's layout at a harmless size:
// fields in compressed object streams and a cross-reference stream, each
// stream within the limits. Every field reads, so the generator makes a
// valid PDF and the reader's refusal of the big one is the limit's doing.
func TestReadPDFSmallObjectStreams(t *testing.T) {
	raw, err := readPDF(hostile.PDFObjectStreamBombSized(3, 1<<20), Options{})
	if err != nil {
		t.Fatalf("readPDF: %v", err)
	}
	pdfDiffMaps(t, "Fields", raw.Fields, map[string]string{"blankett": "x", "arende": "x", "galler_fran": "x"})
}

// allocatedBy is how many bytes of heap fn allocated in all: an upper bound
// of how far it made the heap grow, however short-lived the allocations.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// BenchmarkReadPDFObjectStreamBomb is what refusing the object-stream bomb
// costs in process: one stream inflated to the per-stream limit.
func BenchmarkReadPDFObjectStreamBomb(b *testing.B) {
	data := hostile.PDFObjectStreamBomb()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readPDF(data, Options{}); !errors.Is(err, ErrTooLarge) {
			b.Fatalf("readPDF error = %v, want ErrTooLarge", err)
		}
	}
}

// BenchmarkReadPDFObjectStreams reads a filled form whose objects qpdf put
// in object streams behind a cross-reference stream.
func BenchmarkReadPDFObjectStreams(b *testing.B) {
	data := readFixture(b, "pdf-qpdf-objstreams")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readPDF(data, Options{}); err != nil {
			b.Fatalf("readPDF: %v", err)
		}
	}
}
