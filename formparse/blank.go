package formparse

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// WriteBlank writes the blank form id in the given format.
func WriteBlank(id FormID, format Format) ([]byte, error) {
	def := Lookup(id)
	if def == nil {
		return nil, fmt.Errorf("write blank form: unknown form %q", id)
	}
	var buf bytes.Buffer
	var err error
	switch format {
	case PDF:
		err = writePDF(&buf, def)
	case XLSX:
		err = writeXLSX(&buf, def)
	default:
		err = fmt.Errorf("write blank form: unknown format %q", format)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// BlankFileName is the file name the blank form is published under:
// websesam-behorighet.pdf, websesam-behorighet-flera.xlsx, ….
func BlankFileName(id FormID, format Format) string { return string(id) + "." + string(format) }

// WriteBlankForms writes the four blank forms into dir (created if missing)
// and returns their paths.
func WriteBlankForms(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write blank forms: %w", err)
	}
	var paths []string
	for _, def := range Definitions() {
		for _, format := range []Format{PDF, XLSX} {
			data, err := WriteBlank(def.ID, format)
			if err != nil {
				return paths, err
			}
			p := filepath.Join(dir, BlankFileName(def.ID, format))
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return paths, fmt.Errorf("write blank forms: %w", err)
			}
			paths = append(paths, p)
		}
	}
	return paths, nil
}
