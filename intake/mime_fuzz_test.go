package intake

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseMail: no message makes parseMail panic or hang, and what it
// returns keeps its limits: at most maxFiles files, none over maxFile bytes,
// a file marked too large carries no data.
func FuzzParseMail(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "mail", "*.eml"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed mails: %v", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n--x--\r\n"))
	const maxFile, maxFiles = 64 << 10, 4
	f.Fuzz(func(t *testing.T, raw []byte) {
		pm, err := parseMail(raw, maxFile, maxFiles)
		if err != nil {
			return
		}
		if len(pm.Files) > maxFiles {
			t.Fatalf("%d files, the limit is %d", len(pm.Files), maxFiles)
		}
		for _, fl := range pm.Files {
			if int64(len(fl.Data)) > maxFile {
				t.Fatalf("file %q of %d bytes, the limit is %d", fl.Name, len(fl.Data), maxFile)
			}
			if fl.TooLarge && len(fl.Data) > 0 {
				t.Fatalf("file %q marked too large carries %d bytes", fl.Name, len(fl.Data))
			}
		}
	})
}
