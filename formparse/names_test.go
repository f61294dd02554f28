package formparse

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The constants name exactly the fields, groups and user columns of the
// definitions: a field added to form.go without its constant fails here.
func TestNamesMatchDefinitions(t *testing.T) {
	var defined []string
	add := func(n string) {
		if !slices.Contains(defined, n) {
			defined = append(defined, n)
		}
	}
	var groups []string
	for _, d := range Definitions() {
		for _, f := range d.Fields {
			add(f.Name)
		}
		for _, f := range d.UserColumns {
			add(f.Name)
		}
		for _, g := range d.Groups {
			if !slices.Contains(groups, g.Name) {
				groups = append(groups, g.Name)
			}
			for _, m := range g.Members {
				if !slices.Contains(defined, m) {
					t.Errorf("group %s: member %s is not a field", g.Name, m)
				}
			}
		}
	}
	sameNames(t, "field", FieldNames, defined)
	sameNames(t, "group", GroupNames, groups)
}

// sameNames compares the constants of one kind with the names the
// definitions use, in any order.
func sameNames[N ~string](t *testing.T, kind string, consts []N, defined []string) {
	t.Helper()
	var got []string
	for _, n := range consts {
		got = append(got, string(n))
	}
	want := slices.Clone(defined)
	slices.Sort(got)
	slices.Sort(want)
	if got, want := strings.Join(got, " "), strings.Join(want, " "); got != want {
		t.Errorf("%s constants:\n got %s\nwant %s", kind, got, want)
	}
}

// namesCovered are the packages (folders of the repository) in which no
// field or group name may be written as a string literal: they use the
// constants.
var namesCovered = []string{"store", "mailer", "cmd", "intake"}

// No code outside formparse spells a field or group name as a string
// literal (struct tags and import paths aside): adding or renaming a field
// is then an edit of this package alone, and the compiler finds every use.
func TestNoFieldNameLiterals(t *testing.T) {
	names := map[string]bool{}
	for _, n := range FieldNames {
		names[string(n)] = true
	}
	for _, g := range GroupNames {
		names[string(g)] = true
	}
	var found []string
	fset := token.NewFileSet()
	for _, dir := range namesCovered {
		root := filepath.Join("..", dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			skip := map[*ast.BasicLit]bool{}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ImportSpec:
					skip[n.Path] = true
				case *ast.Field:
					if n.Tag != nil {
						skip[n.Tag] = true
					}
				case *ast.BasicLit:
					if n.Kind != token.STRING || skip[n] {
						return true
					}
					if v, err := strconv.Unquote(n.Value); err == nil && names[v] {
						found = append(found, fset.Position(n.Pos()).String()+": "+n.Value)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatalf("read %s: %v", root, err)
		}
	}
	if len(found) > 0 {
		t.Errorf("%d field names written as string literals outside formparse (use the constants of names.go):\n%s",
			len(found), strings.Join(found, "\n"))
	}
}
