package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Key parts made from text that came in a mail (a Message-ID, an address, a
// search term, a kundnummer) are bounded here. bbolt refuses a key over
// 32,768 bytes, and a refused key fails the whole transaction: one form with
// a 40,000-character surname would otherwise block the mailbox for good.
// Every such key part goes through keyText; none is taken from input as is.
const (
	// maxKeyText is the longest text kept in a key exactly as written.
	maxKeyText = 256
	// keyTextCut is how much of a longer text starts its bounded form, so
	// that prefix searches (names, kundnummer) still find it.
	keyTextCut = 192
	// maxSearchTerms bounds how many index keys one request writes (a
	// list of övriga kundnummer could otherwise write thousands).
	maxSearchTerms = 64
)

// keyText returns s as a key part. Text up to maxKeyText bytes without the
// bytes 0x00 (the separator of composite keys) and 0x01 is kept as it is:
// every key written before this rule stays valid. Anything else becomes its
// first keyTextCut bytes (cut at a rune boundary, and before any 0x00 or
// 0x01), the byte 0x01 and the hex SHA-256 of the whole text: at most 257
// bytes, distinct for distinct texts, and never equal to a kept text (which
// cannot contain 0x01). A text already in that bounded form is returned
// unchanged, so a part read back from a key can be used to build another.
func keyText(s string) []byte {
	if keepText(s) || isBoundedText(s) {
		return []byte(s)
	}
	sum := sha256.Sum256([]byte(s))
	p := keyPrefix(s)
	out := make([]byte, 0, len(p)+1+2*len(sum))
	out = append(out, p...)
	out = append(out, 1)
	return hex.AppendEncode(out, sum[:])
}

// keepText reports whether s may be a key part exactly as written.
func keepText(s string) bool {
	return len(s) <= maxKeyText && strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, 1) < 0
}

// isBoundedText reports whether s has the form keyText gives a long text.
func isBoundedText(s string) bool {
	i := strings.IndexByte(s, 1)
	if i < 0 || i > keyTextCut || len(s) != i+1+2*sha256.Size || strings.IndexByte(s[:i], 0) >= 0 {
		return false
	}
	for _, c := range []byte(s[i+1:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// keyPrefix is the start of s that a bounded key part keeps: at most
// keyTextCut bytes, cut at a rune boundary and before any 0x00 or 0x01. For
// a search text that does not keep as it is, a prefix search with it finds
// every key part whose text starts with the search text.
func keyPrefix(s string) string {
	if i := strings.IndexAny(s, "\x00\x01"); i >= 0 {
		s = s[:i]
	}
	if len(s) <= keyTextCut {
		return s
	}
	n := keyTextCut
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
