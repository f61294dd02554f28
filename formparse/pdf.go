package formparse

import (
	"fmt"
	"io"
)

// readPDF extracts the AcroForm fields of a PDF. (Stub: the PDF helper owns this file.)
func readPDF(data []byte, opts Options) (*Raw, error) {
	return nil, fmt.Errorf("%w: PDF reading is not written yet", ErrNotAForm)
}

// writePDF writes the blank PDF form of def. (Stub.)
func writePDF(w io.Writer, def *Definition) error {
	return fmt.Errorf("write blank PDF: not written yet")
}
