package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/regionhmc/websesam-intake/formparse/gendoc"
	"github.com/regionhmc/websesam-intake/store"
)

// The documents in docs/ hold the product's contract. Parts of them are
// written from the code or the example configuration by the tests here
// (`make docs` rewrites them); a change on one side only fails make test.

// TestDocsConfiguration: docs/configuration.md lists every section and key
// of deploy/config.example.toml with its value there and its comment.
func TestDocsConfiguration(t *testing.T) {
	example, err := os.ReadFile("../../deploy/config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	gendoc.Check(t, "../../docs/configuration.md", configDoc(t, string(example)))
}

// configDoc renders the example configuration as one table per section.
// A key's description is the comment block right above it; keys that follow
// one comment without their own share its row.
func configDoc(t *testing.T, example string) string {
	t.Helper()
	lines := strings.Split(example, "\n")
	var b strings.Builder
	var comment []string
	type row struct {
		keys, values []string
		text         string
	}
	var rows []row
	section := ""
	flush := func() {
		if section == "" {
			return
		}
		if len(rows) > 0 {
			b.WriteString("| key | in the example | what it is |\n|---|---|---|\n")
			for _, r := range rows {
				var ks, vs []string
				for i := range r.keys {
					ks = append(ks, "`"+r.keys[i]+"`")
					vs = append(vs, "`"+strings.ReplaceAll(r.values[i], "|", `\|`)+"`")
				}
				fmt.Fprintf(&b, "| %s | %s | %s |\n", strings.Join(ks, "<br>"), strings.Join(vs, "<br>"), strings.ReplaceAll(r.text, "|", `\|`))
			}
		}
		b.WriteString("\n")
		rows = nil
	}
	header := true
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case header:
			// The file's own header (up to the first blank line after
			// the first comment block) is the document's prose, not a key.
			if line == "" {
				header = false
			}
		case line == "":
			comment = nil
		case strings.HasPrefix(line, "#"):
			comment = append(comment, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		case strings.HasPrefix(line, "["):
			flush()
			section = strings.Trim(line, "[]")
			fmt.Fprintf(&b, "### `[%s]`\n\n", section)
			if len(comment) > 0 {
				b.WriteString(strings.Join(comment, " ") + "\n\n")
			}
			comment = nil
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("config.example.toml line %d: %q is neither a key, a comment nor a section", i+1, line)
			}
			key, value = strings.TrimSpace(key), strings.TrimSpace(value)
			if strings.HasPrefix(value, `"""`) && (len(value) < 6 || !strings.HasSuffix(value, `"""`)) {
				text := strings.TrimPrefix(value, `"""`)
				for i++; i < len(lines) && !strings.HasSuffix(lines[i], `"""`); i++ {
					text += "\n" + lines[i]
				}
				if i < len(lines) {
					text += "\n" + strings.TrimSuffix(lines[i], `"""`)
				}
				value = strconv.Quote(strings.TrimPrefix(text, "\n"))
			}
			inline := ""
			if v, c, ok := cutInlineComment(value); ok {
				value, inline = v, c
			}
			text := strings.Join(comment, " ")
			if inline != "" {
				text = strings.TrimSpace(text + " " + strings.ToUpper(inline[:1]) + inline[1:] + ".")
			}
			if len(comment) == 0 && inline == "" && len(rows) > 0 {
				r := &rows[len(rows)-1]
				r.keys, r.values = append(r.keys, key), append(r.values, value)
			} else {
				rows = append(rows, row{keys: []string{key}, values: []string{value}, text: text})
			}
			comment = nil
		}
	}
	flush()
	return b.String()
}

// cutInlineComment splits `"x"   # default "x"` into the value and the
// comment, minding quotes.
func cutInlineComment(v string) (value, comment string, ok bool) {
	inQuote := false
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && inQuote:
			i++
		case v[i] == '"':
			inQuote = !inQuote
		case v[i] == '#' && !inQuote:
			return strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:]), true
		}
	}
	return v, "", false
}

// TestDocsCLI: docs/cli.md lists every command with its usage, summary and
// flags, as the binary's own help says them.
func TestDocsCLI(t *testing.T) {
	// Defaults that the environment changes are documented as they are
	// without it.
	for _, v := range []string{"WEBSESAM_INTAKE_DB", "WEBSESAM_INTAKE_SOCKET", "WEBSESAM_INTAKE_CONFIG"} {
		t.Setenv(v, "")
	}
	var out bytes.Buffer
	root := newRootCommand(strings.NewReader(""), &out, &out)
	var b strings.Builder
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c != root && (c.Runnable() || !c.HasSubCommands()) {
			fmt.Fprintf(&b, "### `%s`\n\n%s.\n\n", c.CommandPath(), strings.TrimSuffix(c.Short, "."))
			fmt.Fprintf(&b, "```\n%s\n```\n\n", c.UseLine())
			var flags []string
			c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
				if f.Hidden || f.Name == "help" {
					return
				}
				name := "--" + f.Name
				if f.Shorthand != "" {
					name = "-" + f.Shorthand + ", " + name
				}
				if f.Value.Type() != "bool" {
					name += " " + f.Value.Type()
				}
				def := ""
				if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
					def = fmt.Sprintf(" (default %s)", f.DefValue)
				}
				flags = append(flags, fmt.Sprintf("| `%s` | %s%s |", name, strings.ReplaceAll(f.Usage, "|", `\|`), def))
			})
			if len(flags) > 0 {
				b.WriteString("| flag | meaning |\n|---|---|\n" + strings.Join(flags, "\n") + "\n\n")
			}
		}
		subs := c.Commands()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			walk(s)
		}
	}
	walk(root)
	gendoc.Check(t, "../../docs/cli.md", b.String())
}

// TestDocsOutcomes: docs/outcomes.md names every outcome the store knows.
func TestDocsOutcomes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/outcomes.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined} {
		if !bytes.Contains(doc, []byte("| `"+string(o)+"` |")) {
			t.Errorf("docs/outcomes.md has no row for the outcome %s", o)
		}
	}
}

// TestRepositoryIsSelfContained: no file of the repository cites a path
// outside it or a specification file that is not in it: the contract is
// docs/.
func TestRepositoryIsSelfContained(t *testing.T) {
	root := "../.."
	cite := regexp.MustCompile(`\.\./shared|SPEC` + `\.md`) // split so this file does not match itself
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > 4<<20 {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data, 0) >= 0 {
			return nil // binary
		}
		for n, line := range strings.Split(string(data), "\n") {
			if cite.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d cites what is not in the repository (cite docs/ instead): %s", rel, n+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
