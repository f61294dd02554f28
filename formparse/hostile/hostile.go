// Package hostile makes the files an attacker would mail the intake, at test
// time and in a few milliseconds, so that tests of every layer (the form
// reader, the worker fence, the daemon end to end) can feed them without
// megabyte fixtures in the repository. It imports only the standard library.
package hostile

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"strconv"
	"sync"
)

// Defaults of PDFObjectStreamBomb: 19 object streams of 512 MiB each, the
// file as issue reports saw it (about 10 MB on the wire).
const (
	BombStreams  = 19
	BombInflated = 512 << 20
)

// bombFields are webSesam field names, so that a reader that got past the
// streams would see what looks like the single-user form.
var bombFields = []string{
	"blankett", "arende", "galler_fran", "fornamn", "efternamn", "hsa_id", "yrke", "epost",
	"telefon", "verksamhet", "enhet", "kundnummer", "buffertforrad", "roll_forskrivare",
	"chef_namn", "chef_epost", "chef_telefon", "datum", "ovriga_kundnummer",
}

// PDFObjectStreamBomb returns a valid PDF whose AcroForm fields sit in
// BombStreams compressed object streams that each inflate to BombInflated
// bytes: about 10 MB that a reader decoding whole object streams turns
// into 10 GB.
func PDFObjectStreamBomb() []byte {
	return made("pdf-objstm-bomb", BombStreams, func() []byte { return PDFObjectStreamBombSized(BombStreams, BombInflated) })
}

// PDFObjectStreamBombSized is PDFObjectStreamBomb with streams object
// streams of at least inflated bytes each (rounded up to a whole MiB). Each
// stream holds one form field (a text field with a value) followed by
// inflated bytes of blanks, flate-compressed about 1000:1; the cross-reference
// stream is uncompressed. The result is a valid PDF: a viewer shows a page
// with the fields.
func PDFObjectStreamBombSized(streams int, inflated int64) []byte {
	if streams < 1 {
		streams = 1
	}
	chunks := int((inflated + (1 << 20) - 1) >> 20)
	if chunks < 1 {
		chunks = 1
	}
	padding := blankMiB()

	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// Objects: 1 catalog, 2 pages, 3 page, 4 font, 5.. fields (compressed,
	// field i in object stream 5+streams+i), then the xref stream.
	firstField := 5
	firstStream := firstField + streams
	xrefObj := firstStream + streams
	offsets := make([]int, xrefObj+1)
	var fieldRefs bytes.Buffer
	for i := 0; i < streams; i++ {
		fmt.Fprintf(&fieldRefs, "%d 0 R ", firstField+i)
	}
	obj := func(n int, body string) {
		offsets[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [ "+fieldRefs.String()+
		"] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 4 0 R >> >> >> >>")
	obj(2, "<< /Type /Pages /Kids [ 3 0 R ] /Count 1 >>")
	obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [ 0 0 595 842 ] /Annots [ "+fieldRefs.String()+"] >>")
	obj(4, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for i := 0; i < streams; i++ {
		name := bombFields[i%len(bombFields)]
		if i >= len(bombFields) {
			name += "_" + strconv.Itoa(i)
		}
		field := fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Tx /T (%s) /V (x) /DA (/Helv 10 Tf 0 g) "+
			"/Rect [ 40 %d 300 %d ] /P 3 0 R /F 4 >>\n", name, 800-20*(i%38), 815-20*(i%38))
		prolog := fmt.Sprintf("%d 0\n", firstField+i)
		head := []byte(prolog + field)
		data := compressWithPadding(head, padding, chunks)
		offsets[firstStream+i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n",
			firstStream+i, len(prolog), len(data))
		b.Write(data)
		b.WriteString("\nendstream\nendobj\n")
	}
	// The cross-reference stream: type 1 (offset) or 2 (object stream,
	// index) per object, fields 1, 4 and 2 bytes wide.
	offsets[xrefObj] = b.Len()
	var entries bytes.Buffer
	entry := func(typ byte, f2 uint32, f3 uint16) {
		entries.WriteByte(typ)
		binary.Write(&entries, binary.BigEndian, f2)
		binary.Write(&entries, binary.BigEndian, f3)
	}
	entry(0, 0, 65535)
	for n := 1; n <= xrefObj; n++ {
		if n >= firstField && n < firstStream {
			entry(2, uint32(firstStream+n-firstField), 0)
			continue
		}
		entry(1, uint32(offsets[n]), 0)
	}
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [ 1 4 2 ] /Root 1 0 R /Length %d >>\nstream\n",
		xrefObj, xrefObj+1, entries.Len())
	b.Write(entries.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", offsets[xrefObj])
	return b.Bytes()
}

// blankMiB is one MiB of blanks, flate-compressed on its own and flushed to a
// byte boundary: as it refers back only into itself, copies of it can follow
// any flushed deflate data, and each inflates to the same MiB.
var blankMiB = sync.OnceValue(func() []byte {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	w.Write(bytes.Repeat([]byte{' '}, 1<<20))
	w.Flush()
	return out.Bytes()
})

// compressWithPadding is a zlib stream of head followed by chunks MiB of
// blanks, built from flushed deflate pieces without inflating anything.
func compressWithPadding(head, padding []byte, chunks int) []byte {
	var out bytes.Buffer
	out.Write([]byte{0x78, 0xDA}) // zlib header: deflate, 32 KiB window, best compression
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	w.Write(head)
	w.Flush()
	for i := 0; i < chunks; i++ {
		out.Write(padding)
	}
	// A final, empty fixed-Huffman block ends the deflate stream.
	out.Write([]byte{0x03, 0x00})
	sum := adler32.Checksum(head)
	sum = adler32Blanks(sum, int64(chunks)<<20)
	binary.Write(&out, binary.BigEndian, sum)
	return out.Bytes()
}

// adler32Blanks continues an Adler-32 checksum over n blanks without
// touching n bytes: each blank adds 32 to a, and b grows by the running a.
func adler32Blanks(sum uint32, n int64) uint32 {
	const mod = 65521
	a, b := int64(sum&0xffff), int64(sum>>16)
	nm := n % mod
	// b += n*a + 32*n*(n+1)/2, a += 32*n, all modulo 65521.
	tri := (n % (2 * mod)) * ((n + 1) % (2 * mod)) / 2 % mod
	b = (b + nm*a + 32*tri) % mod
	a = (a + 32*nm) % mod
	return uint32(b<<16 | a)
}
