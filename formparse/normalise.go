package formparse

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The reasons given for a value that breaks its field's rule. They end up in
// the reply to a manager, so they are plain, polite Swedish and show an
// example of what is wanted.
const (
	reasonMissing    = "saknas"
	reasonDate       = "ska vara ett datum, t.ex. 2026-12-01"
	reasonNoSuchDate = "datumet finns inte: "
	reasonEmail      = "ska vara en e-postadress, t.ex. namn@region.se"
	reasonEmailASCII = "får bara innehålla a–z, 0–9 och . _ % + -"
	reasonTooLong    = "för lång, högst %d tecken"
	reasonTooMany    = "för många, högst %d kundnummer"
	reasonPhone      = "ska vara ett telefonnummer med 7–15 siffror"
	reasonHSAID      = "ska vara ett HSA-id, t.ex. SE2321000131-E000000000001"
	reasonKundnummer = "ska vara sex siffror, t.ex. 602154"
	reasonKundList   = "ska vara kundnummer med sex siffror, åtskilda med komma, t.ex. 602155, 602156"
	reasonCheckbox   = "ska vara Ja eller Nej"
	reasonUsers      = "minst en användare ska fyllas i"
)

// foldText normalises free text as the SPEC says: Unicode NFC (a decomposed
// "å" from a Mac becomes the one code point), trimmed, and every inner run of
// white space — tabs, newlines, non-breaking and narrow no-break spaces
// included — folded to one space.
//
// Invisible characters are dropped and spaces folded before NFC, not after:
// dropping a control character that stood between a letter and its combining
// mark would otherwise leave the pair uncomposed, and folding the result
// again would change it (FuzzNormaliseValue found "A\x01\u030a"). NFC maps
// no character to a space or an invisible one, so its output is folded.
func foldText(s string) string {
	if isPlainASCII(s) {
		return s
	}
	// Bytes that are not UTF-8 become U+FFFD, which otherwise would leave
	// what follows them unnormalised.
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if invisible(r) {
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// invisible reports control characters and zero-width marks, which a copy
// from another program may leave in a field and which nobody means to write.
func invisible(r rune) bool {
	return unicode.IsControl(r) || r == '\u200B' || r == '\u2060' || r == '\uFEFF'
}

// isPlainASCII reports whether s is printable ASCII with no leading, trailing
// or doubled space, so that folding would not change it (the common case).
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' {
			return false
		}
		if c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ') {
			return false
		}
	}
	return true
}

// parseDate reads a (folded) date written as 2026-12-01, 20261201, 2026-12-1,
// 1/12/2026 or 1.12.2026 (day first) and returns it as YYYY-MM-DD. reason is
// "" for a good date, "datumet finns inte: …" for one that looks like a date
// but does not exist (never a guess at what was meant), and a request for a
// date otherwise.
func parseDate(s string) (date, reason string) {
	y, m, d, ok := splitDate(s)
	if !ok {
		return "", reasonDate
	}
	if y < 1900 || y > 2199 {
		return "", reasonDate
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || d < 1 || t.Day() != d || int(t.Month()) != m {
		return "", reasonNoSuchDate + s
	}
	return t.Format(time.DateOnly), ""
}

// splitDate recognises the accepted layouts without judging whether the date
// exists.
func splitDate(s string) (y, m, d int, ok bool) {
	if len(s) == 8 && isDigits(s) {
		return digitsToInt(s[:4]), digitsToInt(s[4:6]), digitsToInt(s[6:]), true
	}
	if parts := strings.Split(s, "-"); len(parts) == 3 {
		if digitsLen(parts[0], 4, 4) && digitsLen(parts[1], 1, 2) && digitsLen(parts[2], 1, 2) {
			return digitsToInt(parts[0]), digitsToInt(parts[1]), digitsToInt(parts[2]), true
		}
		return 0, 0, 0, false
	}
	for _, sep := range []string{"/", "."} {
		if parts := strings.Split(s, sep); len(parts) == 3 {
			if digitsLen(parts[0], 1, 2) && digitsLen(parts[1], 1, 2) && digitsLen(parts[2], 4, 4) {
				return digitsToInt(parts[2]), digitsToInt(parts[1]), digitsToInt(parts[0]), true
			}
			return 0, 0, 0, false
		}
	}
	return 0, 0, 0, false
}

func digitsLen(s string, minLen, maxLen int) bool {
	return len(s) >= minLen && len(s) <= maxLen && isDigits(s)
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func digitsToInt(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// parseChoice matches a (folded) value against the field's options by export
// value or by label, in any letter case ("ny", "Ny registrering", "ÄNDRING"),
// and returns the export value. A PDF radio group with nothing chosen
// exports "Off"; the caller treats that as empty.
func parseChoice(f Field, s string) (value string, ok bool) {
	for _, o := range f.Choices {
		if strings.EqualFold(s, o.Value) || strings.EqualFold(s, o.Label) {
			return o.Value, true
		}
	}
	return "", false
}

// choiceReason lists the labels of the field's options: "ska vara Ny
// registrering, Ändring eller Avslut".
func choiceReason(f Field) string {
	labels := make([]string, len(f.Choices))
	for i, o := range f.Choices {
		labels[i] = o.Label
	}
	return "ska vara " + joinOr(labels)
}

// joinOr joins words the Swedish way: "a, b eller c".
func joinOr(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " eller " + words[len(words)-1]
}

// tickedPDF tells whether a PDF checkbox value means ticked: anything but
// empty or "Off", since export values vary (Yes, On, Ja, 1, X).
func tickedPDF(s string) bool {
	return s != "" && !strings.EqualFold(s, "Off")
}

// tickedWorkbook reads a workbook's Ja/Nej cell: Ja, X, 1 and true (any case)
// are ticked; empty, Nej, 0 and false are not; ok is false for anything else.
func tickedWorkbook(s string) (ticked, ok bool) {
	for _, yes := range []string{"Ja", "X", "1", "true"} {
		if strings.EqualFold(s, yes) {
			return true, true
		}
	}
	for _, no := range []string{"", "Nej", "0", "false"} {
		if strings.EqualFold(s, no) {
			return false, true
		}
	}
	return false, false
}

// parseEmail accepts a bare address and returns it as written, or the reason
// it is refused. A leading "mailto:" (left by copying a link from a mail
// program) is dropped, since it cannot be meant as part of the address.
// Refused: a display name, angle brackets, quotes, spaces, anything but
// exactly one @, and a domain without a dot (reasonEmail); and an address of
// that shape with a character outside ASCII letters, digits and . _ % + - in
// its local part or outside ASCII letters, digits and - in its domain
// (reasonEmailASCII), because replies go out without SMTPUTF8 and a relay
// refuses "åsa.öberg@…". Letter case is kept as written: the local part may
// in principle be case-sensitive, and the manager's own spelling is what the
// reply quotes.
func parseEmail(s string) (addr, reason string) {
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	local, domain, found := strings.Cut(s, "@")
	if !found || !validLocalPart(local) || !validDomain(domain) {
		return "", reasonEmail
	}
	// A second opinion from the standard parser, which must read it as the
	// same bare address.
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", reasonEmail
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; !asciiAlnum(c) && !strings.ContainsRune("._%+-", rune(c)) {
			return "", reasonEmailASCII
		}
	}
	for i := 0; i < len(domain); i++ {
		if c := domain[i]; !asciiAlnum(c) && c != '.' && c != '-' {
			return "", reasonEmailASCII
		}
	}
	return s, ""
}

func asciiAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validLocalPart allows the dot-atom of RFC 5322 (letters of any script,
// digits and !#$%&'*+/=?^_`{|}~-), without a leading, trailing or doubled dot.
func validLocalPart(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r):
		case strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", r):
		default:
			return false
		}
	}
	return true
}

// validDomain wants at least two labels of letters (any script, so
// "domän.se" passes), digits and inner hyphens, the last not all digits.
func validDomain(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 || len(s) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return utf8.RuneCountInString(tld) >= 2 && !isDigits(tld)
}

// validPhone accepts digits with spaces, hyphens, balanced parentheses and
// one leading "+", 7 to 15 digits in all: 010-473 80 80, +46 (0)10 473 80 80.
func validPhone(s string) bool {
	digits, depth := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' || c == '-':
		case c == '+':
			if i != 0 {
				return false
			}
		case c == '(':
			if depth > 0 {
				return false
			}
			depth++
		case c == ')':
			if depth == 0 {
				return false
			}
			depth--
		default:
			return false
		}
	}
	return depth == 0 && digits >= 7 && digits <= 15
}

// parseHSAID accepts SE + 10 digits + "-" + letters/digits in any case and
// returns it in capitals.
func parseHSAID(s string) (id string, ok bool) {
	if len(s) < 14 || !strings.EqualFold(s[:2], "SE") || !isDigits(s[2:12]) || s[12] != '-' {
		return "", false
	}
	for i := 13; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", false
		}
	}
	return strings.ToUpper(s), true
}

// parseKundnummer accepts exactly six digits, spaces allowed in between when
// written ("602 154"), and returns the six digits.
func parseKundnummer(s string) (nr string, ok bool) {
	nr = strings.ReplaceAll(s, " ", "")
	if len(nr) != 6 || !isDigits(nr) {
		return "", false
	}
	return nr, true
}

// parseKundnummerList reads six-digit numbers separated by commas,
// semicolons, spaces or newlines and returns them joined by ", ".
func parseKundnummerList(s string) (list string, ok bool) {
	items := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || unicode.IsSpace(r)
	})
	for _, it := range items {
		if len(it) != 6 || !isDigits(it) {
			return "", false
		}
	}
	return strings.Join(items, ", "), true
}

// normaliseValue reads one field's raw value as the field's kind wants it.
// value is what Form.Fields stores: normalised when the value is good, the
// folded text as written when it is not (so the reply can quote it), ""
// when empty and "true"/"false" for checkboxes. reason is "" unless the value
// breaks the field's rule; emptiness is judged by the caller, who knows
// whether the field is required.
func normaliseValue(f Field, raw string, format Format) (value, reason string) {
	s := foldText(raw)
	switch f.Kind {
	case Checkbox:
		if format == XLSX {
			ticked, ok := tickedWorkbook(s)
			if !ok {
				return "false", fmt.Sprintf("%s (ifyllt: %s)", reasonCheckbox, s)
			}
			return strconv.FormatBool(ticked), ""
		}
		return strconv.FormatBool(tickedPDF(s)), ""
	case Choice:
		if format == PDF && strings.EqualFold(s, "Off") {
			return "", ""
		}
	}
	if s == "" {
		return "", ""
	}
	// The length comes first: nothing longer than the form allows is parsed
	// further, stored, or made into a key of the store.
	if f.MaxLen > 0 && utf8.RuneCountInString(s) > f.MaxLen {
		return s, fmt.Sprintf(reasonTooLong, f.MaxLen)
	}
	switch f.Kind {
	case Choice:
		if v, ok := parseChoice(f, s); ok {
			return v, ""
		}
		return s, choiceReason(f)
	case Date:
		d, reason := parseDate(s)
		if reason != "" {
			return s, reason
		}
		return d, ""
	case Email:
		a, reason := parseEmail(s)
		if reason != "" {
			return s, reason
		}
		return a, ""
	case Phone:
		if validPhone(s) {
			return s, ""
		}
		return s, reasonPhone
	case HSAID:
		if id, ok := parseHSAID(s); ok {
			return id, ""
		}
		return s, reasonHSAID
	case Kundnummer:
		if nr, ok := parseKundnummer(s); ok {
			return nr, ""
		}
		return s, reasonKundnummer
	case KundnummerList:
		list, ok := parseKundnummerList(s)
		if !ok {
			return s, reasonKundList
		}
		if n := strings.Count(list, ",") + 1; f.MaxItems > 0 && n > f.MaxItems {
			return s, fmt.Sprintf(reasonTooMany, f.MaxItems)
		}
		return list, ""
	}
	return s, ""
}
