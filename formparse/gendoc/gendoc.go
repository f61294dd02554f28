// Package gendoc keeps the generated parts of the documents in docs/ what
// the code says: each such document holds one block between Begin and
// End that a test writes from the code (the form's definition, the CLI,
// the example configuration). It imports nothing of this module, so
// formparse's own tests can use it as well as cmd's.
package gendoc

import (
	"bytes"
	"os"
	"testing"
)

// The markers around a document's generated block.
const (
	Begin = "<!-- BEGIN GENERATED: make docs; edits here are overwritten -->\n"
	End   = "<!-- END GENERATED -->\n"
)

// UpdateEnv, when set in the environment (make docs), makes Check rewrite
// the block instead of comparing it.
const UpdateEnv = "WEBSESAM_UPDATE_DOCS"

// Check compares the generated block of path with want, or rewrites it
// when UpdateEnv is set.
func Check(t testing.TB, path, want string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := bytes.Cut(doc, []byte(Begin))
	got, after, ok2 := bytes.Cut(rest, []byte(End))
	if !ok1 || !ok2 {
		t.Fatalf("%s has no block between %q and %q", path, Begin, End)
	}
	if os.Getenv(UpdateEnv) != "" {
		out := append(append(append(append(before, Begin...), want...), End...), after...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(got) != want {
		t.Errorf("%s is not what the code says; run make docs and review the diff.\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
