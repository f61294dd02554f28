package formparse

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// update rewrites the golden want.json of every fixture case:
//
//	go test ./formparse -run TestFixtures -update
//
// Read every file it wrote before committing it: a golden file is only as
// honest as the look it was given.
var update = flag.Bool("update", false, "rewrite testdata/forms/*/want.json from what Read returns")

// fixturesDir holds one directory per case: exactly one input.* file, a
// README.md saying how it was made, and the golden want.json.
const fixturesDir = "../testdata/forms"

// TestFixtures reads every case under testdata/forms and compares what Read
// gives, as the JSON of `parse --json` without "file" (or {"error": …} for a
// file that is not a readable form), with the case's want.json.
func TestFixtures(t *testing.T) {
	entries, err := os.ReadDir(fixturesDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read fixtures: %v", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(fixturesDir, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			if err := checkFixture(dir, *update); err != nil {
				t.Error(err)
			} else if *update {
				t.Logf("wrote %s: read it and check every value", filepath.Join(dir, "want.json"))
			}
		})
	}
}

// checkFixture runs one case: it reads the single input.* file, and compares
// the result with want.json, or (update) rewrites want.json.
func checkFixture(dir string, update bool) error {
	matches, err := filepath.Glob(filepath.Join(dir, "input.*"))
	if err != nil {
		return fmt.Errorf("glob inputs: %w", err)
	}
	if len(matches) != 1 {
		return fmt.Errorf("got %d input.* files in %s, want exactly 1: %v", len(matches), dir, matches)
	}
	input := matches[0]
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		return fmt.Errorf("case has no README.md saying how %s was made: %w", filepath.Base(input), err)
	}
	data, err := os.ReadFile(input)
	if err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	got, err := fixtureJSON(data)
	if err != nil {
		return err
	}
	wantPath := filepath.Join(dir, "want.json")
	if update {
		if err := os.WriteFile(wantPath, got, 0o644); err != nil {
			return fmt.Errorf("write golden: %w", err)
		}
		return nil
	}
	want, err := os.ReadFile(wantPath)
	if err != nil {
		return fmt.Errorf("no golden file (run with -update, then read it): %w", err)
	}
	if diff := jsonDiff(got, want); diff != "" {
		return fmt.Errorf("Read(%s) differs from want.json:\n%s\ngot:\n%s", filepath.Base(input), diff, got)
	}
	return nil
}

// fixtureJSON is the golden form of Read's result: the form's JSON or
// {"error": …}, indented, with a final newline.
func fixtureJSON(data []byte) ([]byte, error) {
	// An Encoder without HTML escaping, so that a golden file shows "<" as
	// the form had it, like parse --json.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	var v any
	form, err := Read(data, Options{})
	if err != nil {
		v = map[string]string{"error": err.Error()}
	} else {
		v = form
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marshal result: %w", err)
	}
	return out.Bytes(), nil
}

// jsonDiff compares two JSON documents by value (key order and white space
// do not matter) and names the first keys that differ; "" when equal.
func jsonDiff(got, want []byte) string {
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return "got is not JSON: " + err.Error()
	}
	if err := json.Unmarshal(want, &w); err != nil {
		return "want.json is not JSON: " + err.Error()
	}
	var diffs []string
	diffValues("", g, w, &diffs)
	return strings.Join(diffs, "\n")
}

func diffValues(path string, got, want any, diffs *[]string) {
	if len(*diffs) >= 20 {
		return
	}
	gm, gok := got.(map[string]any)
	wm, wok := want.(map[string]any)
	if gok && wok {
		for k, wv := range wm {
			gv, ok := gm[k]
			if !ok {
				*diffs = append(*diffs, path+"."+k+": missing, want "+show(wv))
				continue
			}
			diffValues(path+"."+k, gv, wv, diffs)
		}
		for k, gv := range gm {
			if _, ok := wm[k]; !ok {
				*diffs = append(*diffs, path+"."+k+": got "+show(gv)+", not in want")
			}
		}
		return
	}
	ga, gok := got.([]any)
	wa, wok := want.([]any)
	if gok && wok && len(ga) == len(wa) {
		for i := range ga {
			diffValues(path+"["+itoa(i)+"]", ga[i], wa[i], diffs)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		*diffs = append(*diffs, path+": got "+show(got)+", want "+show(want))
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestFixtureHarness checks the harness itself on cases made in a temporary
// directory, so that a broken case can never pass unnoticed.
func TestFixtureHarness(t *testing.T) {
	notAForm := []byte("just some text\n")
	wantErr, err := fixtureJSON(notAForm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(wantErr, []byte(`"error": "not a webSesam form: neither a PDF nor an Excel workbook"`)) {
		t.Fatalf("fixtureJSON(text) = %s, want the not-a-form error", wantErr)
	}
	type file struct{ name, content string }
	tests := []struct {
		name    string
		files   []file
		update  bool
		wantErr string // substring; "" means success
	}{
		{"golden matches", []file{{"input.bin", string(notAForm)}, {"README.md", "x"}, {"want.json", string(wantErr)}}, false, ""},
		{"golden matches in another layout", []file{{"input.bin", string(notAForm)}, {"README.md", "x"},
			{"want.json", `{"error":"not a webSesam form: neither a PDF nor an Excel workbook"}`}}, false, ""},
		{"golden differs", []file{{"input.bin", string(notAForm)}, {"README.md", "x"}, {"want.json", `{"error":"something else"}`}}, false,
			`.error: got "not a webSesam form: neither a PDF nor an Excel workbook", want "something else"`},
		{"no golden", []file{{"input.bin", string(notAForm)}, {"README.md", "x"}}, false, "no golden file"},
		{"no golden with update", []file{{"input.bin", string(notAForm)}, {"README.md", "x"}}, true, ""},
		{"no input", []file{{"README.md", "x"}, {"want.json", string(wantErr)}}, false, "got 0 input.* files"},
		{"two inputs", []file{{"input.pdf", "x"}, {"input.xlsx", "y"}, {"README.md", "x"}}, false, "got 2 input.* files"},
		{"no readme", []file{{"input.bin", string(notAForm)}, {"want.json", string(wantErr)}}, false, "no README.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := checkFixture(dir, tt.update)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("checkFixture = %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("checkFixture = %v, want an error containing %q", err, tt.wantErr)
			}
			if tt.update {
				got, err := os.ReadFile(filepath.Join(dir, "want.json"))
				if err != nil {
					t.Fatalf("update wrote no want.json: %v", err)
				}
				if !bytes.Equal(got, wantErr) {
					t.Errorf("update wrote %s, want %s", got, wantErr)
				}
				if err := checkFixture(dir, false); err != nil {
					t.Errorf("after update, checkFixture = %v, want success", err)
				}
			}
		})
	}
}
