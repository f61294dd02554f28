package formparse

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Read reads a filled form from a file's bytes, detecting PDF or workbook from
// the content (never from a file name), and checks it. A readable form comes
// back with its problems (possibly none) and a nil error; anything else gives
// an error wrapping ErrNotAForm, ErrEncrypted, ErrTooLarge, ErrTimeout or
// ErrCrashed.
//
// Read runs the third-party parser on its own goroutine under opts.Timeout and
// recovers its panics. A parser that overruns the budget is abandoned: its
// goroutine finishes (or not) in the background while Read returns ErrTimeout,
// so callers must bound how many such files they accept (the size limits do).
func Read(data []byte, opts Options) (*Form, error) {
	opts = opts.withDefaults()
	if int64(len(data)) > opts.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), opts.MaxSize)
	}
	type result struct {
		form *Form
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("%w: %v\n%s", ErrCrashed, p, firstFrames(debug.Stack()))}
			}
		}()
		f, err := readUnguarded(data, opts)
		done <- result{f, err}
	}()
	timer := time.NewTimer(opts.Timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.form, r.err
	case <-timer.C:
		return nil, fmt.Errorf("%w: gave up after %s", ErrTimeout, opts.Timeout)
	}
}

// firstFrames keeps a panic's stack short enough for a log line.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 24 {
		lines = lines[:24]
	}
	return strings.Join(lines, "\n")
}

// readUnguarded is the work Read guards with its timeout and recover. It is a
// variable only so that a test can put a parser that panics or hangs in its
// place and see Read's guard work.
var readUnguarded = read

func read(data []byte, opts Options) (*Form, error) {
	format, err := detect(data, opts.MaxUnzippedSize)
	if err != nil {
		return nil, err
	}
	var raw *Raw
	switch format {
	case PDF:
		raw, err = readPDF(data, opts)
	case XLSX:
		raw, err = readXLSX(data, opts)
	}
	if err != nil {
		return nil, err
	}
	def, err := identify(raw)
	if err != nil {
		return nil, err
	}
	return check(def, raw, opts), nil
}

// Detect tells from the content whether data is a PDF or an OOXML workbook.
// Everything else — a macro-enabled workbook, an old binary .xls, a
// word-processor file, another zip, an image, text — is ErrNotAForm; an
// encrypted Office file is ErrEncrypted; a zip that unpacks to more than the
// default limit is ErrTooLarge.
func Detect(data []byte) (Format, error) {
	return detect(data, DefaultMaxUnzippedSize)
}

var (
	pdfMagic = []byte("%PDF-")
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

func detect(data []byte, maxUnzipped int64) (Format, error) {
	head := data
	if len(head) > 1024 {
		head = head[:1024]
	}
	switch {
	case len(data) == 0:
		return "", fmt.Errorf("%w: the file is empty", ErrNotAForm)
	case bytes.Contains(head, pdfMagic):
		return PDF, nil
	case bytes.HasPrefix(data, zipMagic):
		if err := inspectZip(data, maxUnzipped); err != nil {
			return "", err
		}
		return XLSX, nil
	case bytes.HasPrefix(data, oleMagic):
		return "", inspectOLE(data)
	}
	return "", fmt.Errorf("%w: %s", ErrNotAForm, describeContent(data))
}

// inspectZip accepts a zip only when it is a plain (macro-free) workbook and
// its declared unpacked size is within the limit.
func inspectZip(data []byte, maxUnzipped int64) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%w: a damaged zip file (%v)", ErrNotAForm, err)
	}
	var total uint64
	names := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		total += f.UncompressedSize64
		names[strings.ToLower(f.Name)] = true
	}
	if total > uint64(maxUnzipped) {
		return fmt.Errorf("%w: the workbook unpacks to %d bytes, the limit is %d", ErrTooLarge, total, maxUnzipped)
	}
	switch {
	case names["xl/vbaproject.bin"]:
		return fmt.Errorf("%w: a macro-enabled workbook (.xlsm)", ErrNotAForm)
	case names["word/document.xml"]:
		return fmt.Errorf("%w: a word-processor document (.docx)", ErrNotAForm)
	case names["ppt/presentation.xml"]:
		return fmt.Errorf("%w: a presentation (.pptx)", ErrNotAForm)
	case names["content.xml"] && names["mimetype"]:
		return fmt.Errorf("%w: an OpenDocument file (.ods/.odt)", ErrNotAForm)
	case !names["xl/workbook.xml"]:
		return fmt.Errorf("%w: a zip archive, not a workbook", ErrNotAForm)
	}
	for _, f := range zr.File {
		if strings.EqualFold(f.Name, "[Content_Types].xml") {
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("%w: a damaged workbook (%v)", ErrNotAForm, err)
			}
			var buf bytes.Buffer
			_, err = buf.ReadFrom(io.LimitReader(rc, 1<<20))
			rc.Close()
			if err != nil {
				return fmt.Errorf("%w: a damaged workbook (%v)", ErrNotAForm, err)
			}
			if bytes.Contains(buf.Bytes(), []byte("macroEnabled")) {
				return fmt.Errorf("%w: a macro-enabled workbook (.xlsm)", ErrNotAForm)
			}
		}
	}
	return nil
}

// inspectOLE tells an encrypted OOXML file (which Office wraps in a compound
// file) from the old binary formats.
func inspectOLE(data []byte) error {
	// The stream names are stored as UTF-16LE in the directory entries.
	if bytes.Contains(data, utf16le("EncryptedPackage")) || bytes.Contains(data, utf16le("EncryptionInfo")) {
		return fmt.Errorf("%w: a password-protected Office file", ErrEncrypted)
	}
	switch {
	case bytes.Contains(data, utf16le("Workbook")) || bytes.Contains(data, utf16le("Book")):
		return fmt.Errorf("%w: an old Excel 97-2003 workbook (.xls); save it as .xlsx", ErrNotAForm)
	case bytes.Contains(data, utf16le("WordDocument")):
		return fmt.Errorf("%w: an old Word document (.doc)", ErrNotAForm)
	}
	return fmt.Errorf("%w: an old Office file", ErrNotAForm)
}

func utf16le(s string) []byte {
	out := make([]byte, 0, 2*len(s))
	for _, r := range s {
		out = append(out, byte(r), 0)
	}
	return out
}

// describeContent names the most common kinds of file people attach instead
// of the form, so that the message says what was found.
func describeContent(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\xFF\xD8\xFF")):
		return "a JPEG image (a scan or photo), not the fillable form"
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		return "a PNG image, not the fillable form"
	case bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")):
		return "a TIFF image (a scan), not the fillable form"
	case bytes.HasPrefix(data, []byte("{\\rtf")):
		return "an RTF document"
	}
	return "neither a PDF nor an Excel workbook"
}

// identify finds which form raw is: by its `blankett` value, or, when that
// field was lost, by its field names.
func identify(raw *Raw) (*Definition, error) {
	if tag := strings.TrimSpace(raw.Fields["blankett"]); tag != "" {
		idPart, verPart, _ := strings.Cut(tag, "/")
		def := Lookup(FormID(strings.TrimSpace(idPart)))
		if def == nil {
			return nil, fmt.Errorf("%w: unknown form %q", ErrNotAForm, tag)
		}
		v, err := strconv.Atoi(strings.TrimSpace(verPart))
		if err != nil || v != Version {
			return nil, fmt.Errorf("%w: form %q is version %q; only version %d is read", ErrNotAForm, def.ID, verPart, Version)
		}
		return def, nil
	}
	def := singleDef
	if raw.HasUserSheet || len(raw.Users) > 0 {
		def = multiDef
	}
	want, found := 0, 0
	for _, f := range def.Fields {
		if f.Kind == Tag {
			continue
		}
		want++
		if _, ok := raw.Fields[f.Name]; ok {
			found++
		}
	}
	if found*2 < want {
		if len(raw.Fields) == 0 && !raw.HasUserSheet {
			return nil, fmt.Errorf("%w: the file has no form fields", ErrNotAForm)
		}
		return nil, fmt.Errorf("%w: a form of another kind (%d of the %d webSesam fields found)", ErrNotAForm, found, want)
	}
	return def, nil
}
