package formparse

import (
	"context"
	"strconv"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// parseObject parses the first PDF object of s, exactly as pdfcpu's
// model.ParseObjectContext(ctx, &s, 0, 64) does. Objects written the plain
// way — dictionaries, arrays, names, numbers, references, strings, hex
// strings, booleans and null, with ASCII white space between them — are
// parsed here; anything else (comments, names with #xx escapes, bytes
// outside ASCII between tokens, malformed numbers, deep nesting) goes to
// pdfcpu's parser, which also repairs what it can. pdfcpu's parser costs
// most of a form read (it allocates for every token and tests every byte
// with unicode.IsSpace): this one makes a small form's read some three
// times cheaper, and FuzzParseObject holds it to pdfcpu's results.
func parseObject(s string) (types.Object, error) {
	p := objectParser{s: s}
	if o, ok := p.value(0); ok {
		return o, nil
	}
	return model.ParseObjectContext(context.Background(), &s, 0, 64)
}

// fastMaxDepth is the nesting the fast parser takes; deeper objects go to
// pdfcpu's parser (which refuses beyond 64).
const fastMaxDepth = 32

// objectParser is the fast path of parseObject; every method returns
// false where pdfcpu's parser would do anything other than what the
// method does, and the caller then falls back.
type objectParser struct {
	s   string
	pos int
}

// pdfSpace is the white space both parsers skip. pdfcpu also skips \v and
// Unicode spaces (encoded as UTF-8), which the fast path refuses.
func pdfSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

// skipSpace skips white space; it refuses a comment, a vertical tab and
// any byte outside ASCII, where the two parsers could differ.
func (p *objectParser) skipSpace() bool {
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case pdfSpace(c):
			p.pos++
		case c == '%' || c == '\v' || c >= 0x80:
			return false
		default:
			return true
		}
	}
	return true
}

// value parses the object at pos, after white space.
func (p *objectParser) value(depth int) (types.Object, bool) {
	if depth > fastMaxDepth || !p.skipSpace() || p.pos >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.pos]; {
	case c == '/':
		n, ok := p.name()
		return n, ok
	case c == '[':
		return p.array(depth)
	case c == '(':
		return p.stringLiteral()
	case c == '<':
		if p.pos+1 < len(p.s) && p.s[p.pos+1] == '<' {
			return p.dict(depth)
		}
		return p.hexLiteral()
	case c == 't' || c == 'f' || c == 'n':
		return p.keyword()
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, false
}

// nameEnd reports whether c ends a name or a number for pdfcpu.
func nameEnd(c byte) bool {
	switch c {
	case '/', '<', '>', '(', ')', '[', ']', '%', '{', '}':
		return true
	}
	return pdfSpace(c)
}

// name parses /Name. pdfcpu ends a name at white space or one of
// "/<>()[]%"; ')', '{' and '}' end it here too, so a name holding one of
// them (and any name with a #xx escape or a byte outside ASCII) falls back.
func (p *objectParser) name() (types.Name, bool) {
	start := p.pos + 1
	i := start
	for i < len(p.s) && !nameEnd(p.s[i]) {
		c := p.s[i]
		if c == '#' || c == '\v' || c >= 0x80 {
			return "", false
		}
		i++
	}
	if i < len(p.s) {
		switch p.s[i] {
		case ')', '{', '}':
			return "", false
		}
	}
	p.pos = i
	return types.Name(p.s[start:i]), true
}

func (p *objectParser) array(depth int) (types.Object, bool) {
	p.pos++ // '['
	a := types.Array{}
	for {
		if !p.skipSpace() || p.pos >= len(p.s) {
			return nil, false
		}
		if p.s[p.pos] == ']' {
			p.pos++
			return a, true
		}
		o, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		a = append(a, o) // null too, as pdfcpu keeps it: a nil entry
	}
}

func (p *objectParser) dict(depth int) (types.Object, bool) {
	p.pos += 2 // "<<"
	d := types.Dict{}
	for {
		if !p.skipSpace() || p.pos >= len(p.s) {
			return nil, false
		}
		switch {
		case p.s[p.pos] == '>':
			if p.pos+1 < len(p.s) && p.s[p.pos+1] == '>' {
				p.pos += 2
				return d, true
			}
			return nil, false
		case p.s[p.pos] != '/':
			return nil, false
		}
		key, ok := p.name()
		if !ok {
			return nil, false
		}
		o, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		// A null value is no entry (an earlier value of the key stays); a
		// repeated key keeps its last value.
		if o != nil {
			d[string(key)] = o
		}
	}
}

// stringLiteral keeps the string as written between its parentheses,
// escapes and all, as pdfcpu does (the reader decodes it).
func (p *objectParser) stringLiteral() (types.Object, bool) {
	depth := 0
	for i := p.pos; i < len(p.s); i++ {
		switch p.s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				o := types.StringLiteral(p.s[p.pos+1 : i])
				p.pos = i + 1
				return o, true
			}
		}
	}
	return nil, false
}

// hexLiteral takes hex digits only (no white space), as pdfcpu keeps
// them: upper case, an odd count padded with 0.
func (p *objectParser) hexLiteral() (types.Object, bool) {
	i := p.pos + 1
	b := make([]byte, 0, 32)
	for ; i < len(p.s) && p.s[i] != '>'; i++ {
		c := p.s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
			b = append(b, c)
		case c >= 'a' && c <= 'f':
			b = append(b, c-'a'+'A')
		default:
			return nil, false
		}
	}
	if i >= len(p.s) {
		return nil, false
	}
	if len(b)%2 == 1 {
		b = append(b, '0')
	}
	p.pos = i + 1
	return types.HexLiteral(b), true
}

// keyword parses true, false and null (nil), followed by a delimiter or
// white space.
func (p *objectParser) keyword() (types.Object, bool) {
	for _, k := range []struct {
		word string
		o    types.Object
	}{{"null", nil}, {"true", types.Boolean(true)}, {"false", types.Boolean(false)}} {
		end := p.pos + len(k.word)
		if end <= len(p.s) && p.s[p.pos:end] == k.word && (end == len(p.s) || nameEnd(p.s[end])) {
			p.pos = end
			return k.o, true
		}
	}
	return nil, false
}

// token is the run of number characters at i and its end.
func (p *objectParser) token(i int) (string, int) {
	j := i
	for j < len(p.s) {
		c := p.s[j]
		if c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9') {
			j++
			continue
		}
		break
	}
	return p.s[i:j], j
}

// number parses an integer, a real or a reference "n g R", as pdfcpu
// reads them; a token pdfcpu would read otherwise (signs inside, commas,
// too many digits) falls back.
func (p *objectParser) number() (types.Object, bool) {
	tok, end := p.token(p.pos)
	if end < len(p.s) {
		// What ends the token must end it for pdfcpu too: white space or
		// one of "/<([]>".
		switch c := p.s[end]; {
		case pdfSpace(c), c == '/', c == '<', c == '(', c == '[', c == ']', c == '>':
		default:
			return nil, false
		}
	}
	n, isInt := smallInt(tok)
	if !isInt {
		f, ok := plainReal(tok)
		if !ok {
			return nil, false
		}
		p.pos = end
		return types.Float(f), true
	}
	p.pos = end
	// pdfcpu looks for "g R" only after white space.
	if end >= len(p.s) || !pdfSpace(p.s[end]) {
		return types.Integer(n), true
	}
	q := objectParser{s: p.s, pos: end}
	if !q.skipSpace() {
		return nil, false
	}
	if q.pos >= len(q.s) {
		return types.Integer(n), true
	}
	// The second token, up to white space or one of "/<([]>" (pdfcpu's
	// rule here, without '%' and ')').
	i2 := q.pos
	for i2 < len(q.s) && !pdfSpace(q.s[i2]) && !isOneOf(q.s[i2], "/<([]>") {
		c := q.s[i2]
		if c == '\v' || c >= 0x80 {
			return nil, false
		}
		i2++
	}
	if i2 == q.pos || i2 >= len(q.s) || !pdfSpace(q.s[i2]) {
		// No second token followed by white space: a lone integer.
		return types.Integer(n), true
	}
	second := q.s[q.pos:i2]
	g, ok := smallInt(second)
	if !ok || second[0] == '+' || second[0] == '-' {
		if atoiMight(second) {
			return nil, false // a sign or many digits: leave it to pdfcpu
		}
		return types.Integer(n), true // no generation number: n alone
	}
	q.pos = i2
	if !q.skipSpace() {
		return nil, false
	}
	if q.pos < len(q.s) && q.s[q.pos] == 'R' {
		p.pos = q.pos + 1
		return *types.NewIndirectRef(n, g), true
	}
	return types.Integer(n), true
}

func isOneOf(c byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// atoiMight reports whether strconv.Atoi could read s (a sign, then
// digits), for the second token of a possible reference.
func atoiMight(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return isDigits(s)
}

// smallInt reads [+-]digits of at most 15 digits (no overflow, and no
// leading-zero sign forms such as "0-5", which pdfcpu rewrites).
func smallInt(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 15 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// plainReal reads [+-]digits.digits (either side may be empty, not both)
// of at most 20 characters, with no other sign; pdfcpu reads it with
// strconv.ParseFloat, and so does this.
func plainReal(s string) (float64, bool) {
	t := s
	if t != "" && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
	}
	if len(s) > 20 || t == "" || t == "." {
		return 0, false
	}
	dots := 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return 0, false
		}
	}
	if dots != 1 {
		return 0, false
	}
	// A leading "0." followed by zeros and a sign is rewritten by pdfcpu;
	// no sign can follow here, so the token is read as written.
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
