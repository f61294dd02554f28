package main

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// walk calls fn for every command below (and including) c.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// words is a command's path without the binary's name.
func words(c *cobra.Command) []string {
	return strings.Fields(c.CommandPath())[1:]
}

// TestUnknownSubcommands walks every command that groups others: a word it
// does not know exits 2 with "unknown command", and a typo of one of its
// subcommands names the subcommand meant.
func TestUnknownSubcommands(t *testing.T) {
	groups := 0
	walk(newRootCommand(nil, io.Discard, io.Discard), func(c *cobra.Command) {
		if !c.HasSubCommands() {
			return
		}
		groups++
		path := words(c)
		t.Run(strings.Join(append([]string{"root"}, path...), "_"), func(t *testing.T) {
			_, stderr, code := runCLI(t, append(slices.Clone(path), "nosuchcommand")...)
			if code != 2 || !strings.Contains(stderr, `unknown command "nosuchcommand" for "`+c.CommandPath()+`"`) {
				t.Errorf("%v nosuchcommand: exit %d, stderr %q; want 2 and unknown command", path, code, stderr)
			}
			for _, sub := range c.Commands() {
				name := sub.Name()
				if sub.Hidden || len(name) < 4 || name == "help" || name == "completion" {
					continue
				}
				typo := name[:1] + name[2:3] + name[1:2] + name[3:] // swap the 2nd and 3rd letters
				_, stderr, code := runCLI(t, append(slices.Clone(path), typo)...)
				if code != 2 || !strings.Contains(stderr, `did you mean "`+name+`"?`) {
					t.Errorf("%v %s: exit %d, stderr %q; want 2 and a suggestion of %q", path, typo, code, stderr, name)
				}
			}
		})
	})
	if groups < 5 {
		t.Errorf("walked %d command groups; the tree has at least root, queue, messages, outbox, register, config", groups)
	}
}

// TestReadCommandsJSON walks every command with a --json flag and runs it
// against a real store, with and without a daemon: the output must be JSON,
// and a request's check boxes must be booleans as in `parse --json`. A new
// command with --json fails the test until it is listed here.
func TestReadCommandsJSON(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		args := map[string][]string{
			"queue list":    {},
			"queue search":  {"åsa"},
			"queue show":    {f.ids[0]},
			"messages list": {},
			"messages show": {f.quarantined.String()},
			"outbox list":   {},
			"outbox show":   {"1"},
			"register list": {},
			"audit list":    {},
			"report":        {},
			"purge":         {"--dry-run"},
			"parse":         {"../../testdata/forms/pdf-pdftk-xfdf/input.pdf"},
			"status":        {},
		}
		seen := map[string]bool{}
		walk(newRootCommand(nil, io.Discard, io.Discard), func(c *cobra.Command) {
			if c.Flags().Lookup("json") == nil {
				return
			}
			name := strings.Join(words(c), " ")
			if name == "doctor" {
				return // checks servers, not the store: TestDoctorCLI covers its --json
			}
			seen[name] = true
			a, ok := args[name]
			if !ok {
				t.Errorf("%s has --json but no case in this test: add one", name)
				return
			}
			if name == "purge" && env.name == "direct" {
				// Without a daemon the pass runs here and needs the whole
				// configuration (the folders' login): refused plainly.
				_, errOut, code := runCLI(t, append(append(words(c), a...), "--json")...)
				if code != 2 || !strings.Contains(errOut, "needs the daemon's whole configuration") {
					t.Errorf("purge without a daemon and its configuration: exit %d, %s", code, errOut)
				}
				return
			}
			out := mustRun(t, append(append(words(c), a...), "--json")...)
			dec := json.NewDecoder(strings.NewReader(out))
			for dec.More() {
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Errorf("%s --json: not JSON: %v\n%s", name, err, out)
					return
				}
			}
		})
		for name := range args {
			if !seen[name] {
				t.Errorf("%s is listed here but has no --json flag", name)
			}
		}
		var items []map[string]any
		if err := json.Unmarshal([]byte(mustRun(t, "queue", "list", "--json")), &items); err != nil {
			t.Fatal(err)
		}
		boxes := 0
		for _, it := range items {
			fields := it["fields"].(map[string]any)
			for _, box := range []string{"roll_forskrivare", "roll_bestallare", "andring_roll"} {
				if v, ok := fields[box]; ok {
					boxes++
					if _, isBool := v.(bool); !isBool {
						t.Errorf("queue list --json: %s %s = %#v, want a boolean", it["id"], box, v)
					}
				}
			}
		}
		if boxes == 0 {
			t.Error("queue list --json: no check box among the requests' fields")
		}
	})
}
