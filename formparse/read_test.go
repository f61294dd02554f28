package formparse

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// zipOf builds a zip archive holding the named files (contents are short
// placeholders: Detect looks only at the names and declared sizes).
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// excelizeWorkbook is a real workbook written by excelize, saved under name
// (the extension decides its content type: .xlsm makes it macro-enabled).
func excelizeWorkbook(t *testing.T, name string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetCellValue("Sheet1", "A1", "Åsa Öberg"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// oleFile is the start of a compound file (the container of .xls, .doc and
// encrypted OOXML) with the given directory entry names, in UTF-16LE as they
// are stored.
func oleFile(names ...string) []byte {
	data := append([]byte{}, oleMagic...)
	data = append(data, make([]byte, 504)...)
	for _, n := range names {
		entry := utf16le(n)
		data = append(data, entry...)
		data = append(data, make([]byte, 128-len(entry))...)
	}
	return data
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "detect", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDetect(t *testing.T) {
	xlsx := excelizeWorkbook(t, "book.xlsx")
	tests := []struct {
		name       string
		data       []byte
		wantFormat Format
		wantErr    error
		wantMsg    string
	}{
		{"pdf", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj\n"), PDF, nil, ""},
		{"pdf after junk", append([]byte("\r\n\r\nsome mailer junk\n"), []byte("%PDF-1.4\n")...), PDF, nil, ""},
		{"xlsx by excelize", xlsx, XLSX, nil, ""},
		{"xlsx by libreoffice", readTestdata(t, "people.xlsx"), XLSX, nil, ""},
		{"xlsm by content type", excelizeWorkbook(t, "book.xlsm"), "", ErrNotAForm,
			"not a webSesam form: a macro-enabled workbook (.xlsm)"},
		{"xlsm by vba project", zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>", "xl/vbaProject.bin": "vba"}), "", ErrNotAForm,
			"not a webSesam form: a macro-enabled workbook (.xlsm)"},
		{"docx", zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>", "word/document.xml": "<document/>"}), "", ErrNotAForm,
			"not a webSesam form: a word-processor document (.docx)"},
		{"pptx", zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p/>"}), "", ErrNotAForm,
			"not a webSesam form: a presentation (.pptx)"},
		{"ods by libreoffice", readTestdata(t, "people.ods"), "", ErrNotAForm,
			"not a webSesam form: an OpenDocument file (.ods/.odt)"},
		{"plain zip", zipOf(t, map[string]string{"blankett.pdf": "%PDF-1.7"}), "", ErrNotAForm,
			"not a webSesam form: a zip archive, not a workbook"},
		{"damaged zip", []byte("PK\x03\x04 this is not really a zip"), "", ErrNotAForm,
			"not a webSesam form: a damaged zip file (zip: not a valid zip file)"},
		{"xls by libreoffice", readTestdata(t, "people.xls"), "", ErrNotAForm,
			"not a webSesam form: an old Excel 97-2003 workbook (.xls); save it as .xlsx"},
		{"xls", oleFile("Root Entry", "Workbook"), "", ErrNotAForm,
			"not a webSesam form: an old Excel 97-2003 workbook (.xls); save it as .xlsx"},
		{"encrypted ooxml", oleFile("Root Entry", "EncryptionInfo", "EncryptedPackage"), "", ErrEncrypted,
			"encrypted file: a password-protected Office file"},
		{"doc", oleFile("Root Entry", "WordDocument"), "", ErrNotAForm,
			"not a webSesam form: an old Word document (.doc)"},
		{"other ole", oleFile("Root Entry", "Something"), "", ErrNotAForm,
			"not a webSesam form: an old Office file"},
		{"jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), "", ErrNotAForm,
			"not a webSesam form: a JPEG image (a scan or photo), not the fillable form"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "", ErrNotAForm,
			"not a webSesam form: a PNG image, not the fillable form"},
		{"tiff", []byte("II*\x00\x08\x00\x00\x00"), "", ErrNotAForm,
			"not a webSesam form: a TIFF image (a scan), not the fillable form"},
		{"rtf", []byte("{\\rtf1\\ansi Åsa}"), "", ErrNotAForm, "not a webSesam form: an RTF document"},
		{"empty", nil, "", ErrNotAForm, "not a webSesam form: the file is empty"},
		{"text", readTestdata(t, "people.csv"), "", ErrNotAForm, "not a webSesam form: neither a PDF nor an Excel workbook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(tt.data)
			if got != tt.wantFormat {
				t.Errorf("Detect format = %q, want %q", got, tt.wantFormat)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Detect error = %v, want none", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Detect error = %v, want %v", err, tt.wantErr)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Detect error = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestDetectUnzippedLimit(t *testing.T) {
	data := zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>", "xl/workbook.xml": strings.Repeat("x", 2000)})
	if _, err := detect(data, 2100); err != nil {
		t.Fatalf("detect under the limit = %v, want nil", err)
	}
	_, err := detect(data, 1000)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("detect = %v, want ErrTooLarge", err)
	}
	if got, want := err.Error(), "file too large: the workbook unpacks to 2008 bytes, the limit is 1000"; got != want {
		t.Errorf("detect error = %q, want %q", got, want)
	}
	// Read passes its own option down to the check.
	_, err = Read(data, Options{MaxUnzippedSize: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read with MaxUnzippedSize = %v, want ErrTooLarge", err)
	}
}

func TestIdentify(t *testing.T) {
	singleNames := func() map[string]string {
		m := map[string]string{}
		for _, f := range singleDef.Fields {
			if f.Kind != Tag {
				m[f.Name] = ""
			}
		}
		return m
	}
	multiNames := map[string]string{}
	for _, f := range multiDef.Fields {
		if f.Kind != Tag {
			multiNames[f.Name] = ""
		}
	}
	tests := []struct {
		name    string
		raw     *Raw
		wantID  FormID
		wantMsg string
	}{
		{"blankett single", &Raw{Fields: map[string]string{"blankett": "websesam-behorighet/1"}}, Single, ""},
		{"blankett multi", &Raw{Fields: map[string]string{"blankett": "websesam-behorighet-flera/1"}}, Multi, ""},
		{"blankett with spaces", &Raw{Fields: map[string]string{"blankett": " websesam-behorighet / 1 "}}, Single, ""},
		{"blankett wins over names", &Raw{Fields: map[string]string{"blankett": "websesam-behorighet/1"}, HasUserSheet: true}, Single, ""},
		{"unknown id", &Raw{Fields: map[string]string{"blankett": "websesam-kund/1"}}, "",
			`not a webSesam form: unknown form "websesam-kund/1"`},
		{"version 2", &Raw{Fields: map[string]string{"blankett": "websesam-behorighet/2"}}, "",
			`not a webSesam form: form "websesam-behorighet" is version "2"; only version 1 is read`},
		{"no version", &Raw{Fields: map[string]string{"blankett": "websesam-behorighet"}}, "",
			`not a webSesam form: form "websesam-behorighet" is version ""; only version 1 is read`},
		{"single by names", &Raw{Fields: singleNames()}, Single, ""},
		{"single by half the names", &Raw{Fields: func() map[string]string {
			m := map[string]string{}
			for _, f := range singleDef.Fields[1:15] {
				m[f.Name] = ""
			}
			return m
		}()}, Single, ""},
		{"multi by names and user sheet", &Raw{Fields: multiNames, HasUserSheet: true}, Multi, ""},
		{"multi by names and user rows", &Raw{Fields: multiNames, Users: []RawUser{{N: 1}}}, Multi, ""},
		{"too few names", &Raw{Fields: map[string]string{"fornamn": "Åsa", "efternamn": "Öberg", "epost": "x", "namn": "y"}}, "",
			"not a webSesam form: a form of another kind (3 of the 27 webSesam fields found)"},
		{"too few names multi", &Raw{Fields: map[string]string{"kundnummer": "602154"}, HasUserSheet: true}, "",
			"not a webSesam form: a form of another kind (1 of the 13 webSesam fields found)"},
		{"no fields", &Raw{Fields: map[string]string{}}, "", "not a webSesam form: the file has no form fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := identify(tt.raw)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("identify = %v, want %s", err, tt.wantID)
				}
				if def.ID != tt.wantID {
					t.Errorf("identify = %s, want %s", def.ID, tt.wantID)
				}
				return
			}
			if !errors.Is(err, ErrNotAForm) {
				t.Fatalf("identify = %v, %v; want ErrNotAForm", def, err)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("identify error = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestReadTooLarge(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 101)
	_, err := Read(data, Options{MaxSize: 100})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read = %v, want ErrTooLarge", err)
	}
	if got, want := err.Error(), "file too large: 101 bytes, the limit is 100"; got != want {
		t.Errorf("Read error = %q, want %q", got, want)
	}
	// At the limit the size is fine and the content decides.
	_, err = Read(data[:100], Options{MaxSize: 100})
	if !errors.Is(err, ErrNotAForm) {
		t.Errorf("Read at the limit = %v, want ErrNotAForm", err)
	}
}

// swapRead puts fn in place of the unguarded reader for one test.
func swapRead(t *testing.T, fn func([]byte, Options) (*Form, error)) {
	t.Helper()
	old := readUnguarded
	readUnguarded = fn
	t.Cleanup(func() { readUnguarded = old })
}

func TestReadGuard(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		swapRead(t, func([]byte, Options) (*Form, error) { panic("index out of range in a parser") })
		form, err := Read([]byte("%PDF-1.7"), Options{})
		if !errors.Is(err, ErrCrashed) {
			t.Fatalf("Read = %v, %v; want ErrCrashed", form, err)
		}
		if want := "parser crashed: index out of range in a parser\n"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Read error = %q, want it to start with %q", err.Error(), want)
		}
		if form != nil {
			t.Errorf("Read form = %v, want nil", form)
		}
	})
	t.Run("hang", func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{})
		t.Cleanup(func() { close(release) })
		swapRead(t, func([]byte, Options) (*Form, error) {
			close(started)
			<-release
			return nil, nil
		})
		form, err := Read([]byte("%PDF-1.7"), Options{Timeout: 20 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("Read = %v, %v; want ErrTimeout", form, err)
		}
		if got, want := err.Error(), "reading the form took too long: gave up after 20ms"; got != want {
			t.Errorf("Read error = %q, want %q", got, want)
		}
		<-started // the parser did run
	})
	t.Run("result passes through", func(t *testing.T) {
		want := &Form{ID: Single}
		swapRead(t, func(data []byte, opts Options) (*Form, error) {
			if string(data) != "%PDF-1.7" || opts.Timeout != DefaultTimeout || opts.MaxSize != DefaultMaxSize {
				t.Errorf("inner read got %q, %+v; want the data and the defaults", data, opts)
			}
			return want, nil
		})
		got, err := Read([]byte("%PDF-1.7"), Options{})
		if err != nil || got != want {
			t.Errorf("Read = %v, %v; want %v, nil", got, err, want)
		}
	})
}

// TestReadBlankForms reads each blank form the product publishes: it must be
// recognised by its `blankett` value as the right form, in the right format.
func TestReadBlankForms(t *testing.T) {
	for _, def := range Definitions() {
		for _, format := range []Format{PDF, XLSX} {
			t.Run(BlankFileName(def.ID, format), func(t *testing.T) {
				data, err := WriteBlank(def.ID, format)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := Detect(data); got != format || err != nil {
					t.Errorf("Detect = %q, %v; want %q", got, err, format)
				}
				form, err := Read(data, Options{})
				if err != nil {
					t.Fatalf("Read = %v", err)
				}
				if form.ID != def.ID || form.Format != format || form.Version != Version {
					t.Errorf("Read = %s/%d as %s, want %s/%d as %s", form.ID, form.Version, form.Format, def.ID, Version, format)
				}
				if got, want := form.Fields["blankett"], def.Blankett(); got != want {
					t.Errorf("blankett = %q, want %q", got, want)
				}
				if got, want := len(form.Fields), len(def.Fields); got != want {
					t.Errorf("len(Fields) = %d, want %d", got, want)
				}
				if len(form.Users) != 0 {
					t.Errorf("Users = %v, want none", form.Users)
				}
			})
		}
	}
}
