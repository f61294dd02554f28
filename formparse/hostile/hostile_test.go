package hostile

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestPDFObjectStreamBombInflates inflates every object stream of a small
// bomb with the standard library: each is a valid zlib stream (the Adler-32
// checksum included) of the field's object followed by exactly the asked
// number of blanks.
func TestPDFObjectStreamBombInflates(t *testing.T) {
	const streams, inflated = 3, 2 << 20
	data := PDFObjectStreamBombSized(streams, inflated)
	re := regexp.MustCompile(`/ObjStm /N 1 /First (\d+) /Filter /FlateDecode /Length (\d+) >>\nstream\n`)
	found := re.FindAllSubmatchIndex(data, -1)
	if len(found) != streams {
		t.Fatalf("found %d object streams, want %d", len(found), streams)
	}
	for i, m := range found {
		first, _ := strconv.Atoi(string(data[m[2]:m[3]]))
		length, _ := strconv.Atoi(string(data[m[4]:m[5]]))
		zr, err := zlib.NewReader(bytes.NewReader(data[m[1] : m[1]+length]))
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		content, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("stream %d: inflate: %v", i, err)
		}
		head, blanks, ok := bytes.Cut(content[first:], []byte(">>\n"))
		if !ok || !bytes.HasPrefix(head, []byte("<< /Type /Annot /Subtype /Widget /FT /Tx /T (")) {
			t.Fatalf("stream %d: object %q…, want a text field", i, content[:min(len(content), 120)])
		}
		if got, want := len(blanks), inflated; got != want || len(bytes.Trim(blanks, " ")) != 0 {
			t.Errorf("stream %d: %d bytes after the field (%d of them not blank), want %d blanks",
				i, got, len(bytes.Trim(blanks, " ")), want)
		}
	}
	if !bytes.HasSuffix(data, []byte("%%EOF\n")) {
		t.Errorf("the PDF does not end in %%%%EOF")
	}
}

// TestPDFObjectStreamBombSize keeps the default bomb what the issue
// describes: about 10 MB that claims 19 × 512 MiB.
func TestPDFObjectStreamBombSize(t *testing.T) {
	data := PDFObjectStreamBomb()
	if n := len(data); n < 8<<20 || n > 12<<20 {
		t.Errorf("the bomb is %d bytes, want about 10 MB", n)
	}
}

// The repeated parts of the workbook bombs, deflated by copying one
// compressed run, unpack (CRC checked by archive/zip) to exactly head, n
// units and tail, for n below, at and across a run's length.
func TestRepeatedPartsUnpack(t *testing.T) {
	for _, n := range []int{0, 1, 1<<15 - 1, 1 << 15, 3<<15 + 5} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			parts := map[string][]byte{}
			for name, file := range map[string][]byte{"shared strings": XLSXSharedStrings(n), "styles": XLSXStyles(n)} {
				zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, f := range zr.File {
					rc, err := f.Open()
					if err != nil {
						t.Fatalf("%s: open %s: %v", name, f.Name, err)
					}
					data, err := io.ReadAll(rc)
					if err != nil {
						t.Fatalf("%s: read %s: %v", name, f.Name, err)
					}
					parts[name+" "+f.Name] = data
				}
			}
			want := fmt.Sprintf(xmlHead+`<sst xmlns="%s" count="%d" uniqueCount="%d">`, nsMain, n, n) +
				strings.Repeat(`<si><t>Lindqvist</t></si>`, n) + `</sst>`
			if got := string(parts["shared strings xl/sharedStrings.xml"]); got != want {
				t.Errorf("shared strings: %d bytes, want %d", len(got), len(want))
			}
			if got, want := bytes.Count(parts["styles xl/styles.xml"], []byte(`<xf numFmtId="0" fontId="0"/>`)), n; got != want {
				t.Errorf("styles: %d cell formats, want %d", got, want)
			}
		})
	}
}
