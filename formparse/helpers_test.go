package formparse

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// parseCase is one input to a parser that answers the stored value and a
// second result: whether the input is valid (a bool) or why not (a reason).
type parseCase[R comparable] struct {
	in, want string
	second   R
}

// testParser runs parse over cases, one subtest per input, and compares
// both results exactly.
func testParser[R comparable](t *testing.T, name string, parse func(string) (string, R), tests []parseCase[R]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, second := parse(tt.in)
			if got != tt.want || second != tt.second {
				t.Errorf("%s(%q) = %q, %#v; want %q, %#v", name, tt.in, got, second, tt.want, tt.second)
			}
		})
	}
}

// funcCase is one input to a function of one result.
type funcCase[W comparable] struct {
	in   string
	want W
}

// testFunc runs f over cases, one subtest per input.
func testFunc[W comparable](t *testing.T, name string, f func(string) W, tests []funcCase[W]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := f(tt.in); got != tt.want {
				t.Errorf("%s(%q) = %#v, want %#v", name, tt.in, got, tt.want)
			}
		})
	}
}

// blank writes the blank form of id in format or fails the test.
func blank(t testing.TB, id FormID, format Format) []byte {
	t.Helper()
	data, err := WriteBlank(id, format)
	if err != nil {
		t.Fatalf("WriteBlank(%s, %s): %v", id, format, err)
	}
	return data
}

// fixtureInputs reads the input file named file of every fixture whose
// folder matches dirs, keyed by the folder's name.
func fixtureInputs(t testing.TB, dirs, file string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(fixturesDir, dirs, file))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(filepath.Dir(p))] = data
	}
	return inputs
}

// readPart reads the whole of one part of a zip opened by open.
func readPart(t testing.TB, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// readAs reads data with Read, as the daemon does, and checks that it is a
// form of id.
func readAs(t *testing.T, data []byte, id FormID) *Form {
	t.Helper()
	f, err := Read(data, Options{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got, want := f.ID, id; got != want {
		t.Errorf("ID = %q, want %q", got, want)
	}
	return f
}

// userRows are the row numbers of a form's users, in order.
func userRows(f *Form) []int {
	var ns []int
	for _, u := range f.Users {
		ns = append(ns, u.N)
	}
	return ns
}

// problemFields are the fields a form's problems name, in order.
func problemFields(f *Form) []string {
	var fields []string
	for _, p := range f.Problems {
		fields = append(fields, p.Field)
	}
	return fields
}

// wrapsSentinel says whether err wraps one of the package's sentinels, as
// every error a reader returns must.
func wrapsSentinel(err error) bool {
	for _, s := range []error{ErrNotAForm, ErrEncrypted, ErrTooLarge, ErrTimeout, ErrCrashed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// byKind maps every field of def to the value its kind has in kinds, or to
// other for a kind kinds does not name.
func byKind(def *Definition, kinds map[Kind]string, other string) map[string]string {
	m := map[string]string{}
	for _, f := range def.Fields {
		v, ok := kinds[f.Kind]
		if !ok {
			v = other
		}
		m[f.Name] = v
	}
	return m
}

// blankPDFFile writes the blank PDF of id to a file for an outside tool.
func blankPDFFile(t *testing.T, id FormID) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blank.pdf")
	if err := os.WriteFile(path, blank(t, id, PDF), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readersFail reads data with the format's own reader (named reader), then
// with Read: each must return nothing and an error that wraps sentinel and
// whose text text accepts.
func readersFail(t *testing.T, reader string, read func([]byte, Options) (*Raw, error), data []byte, opts Options, sentinel error, text func(who, got string)) {
	t.Helper()
	check := func(who string, err error) {
		t.Helper()
		if !errors.Is(err, sentinel) {
			t.Fatalf("%s error = %v, want %v", who, err, sentinel)
		}
		text(who, err.Error())
	}
	raw, err := read(data, opts)
	if raw != nil {
		t.Errorf("%s gave a Raw %+v with the error, want nil", reader, raw)
	}
	check(reader, err)
	form, err := Read(data, opts)
	if form != nil {
		t.Errorf("Read gave a form %+v with the error, want nil", form)
	}
	check("Read", err)
}
