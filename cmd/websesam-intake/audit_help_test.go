package main

import (
	"io"
	"strings"
	"testing"
)

// Every staff command has examples in its help; every read command has
// --json; every staff command has --socket and --db.
func TestAuditStaffCommandsHelp(t *testing.T) {
	root := newRootCommand(strings.NewReader(""), io.Discard, io.Discard)
	reads := map[string]bool{
		"queue list": true, "queue show": true, "queue search": true, "messages list": true, "messages show": true,
		"register list": true, "audit list": true, "outbox list": true, "outbox show": true,
	}
	var seen int
	for _, group := range []string{"queue", "messages", "register", "audit", "outbox"} {
		g, _, err := root.Find([]string{group})
		if err != nil || g.Name() != group {
			t.Fatalf("no %s command: %v", group, err)
		}
		for _, c := range g.Commands() {
			name := group + " " + c.Name()
			t.Run(name, func(t *testing.T) {
				if strings.TrimSpace(c.Example) == "" {
					t.Errorf("%s has no examples", name)
				}
				for _, flag := range []string{"socket", "db"} {
					if c.Flags().Lookup(flag) == nil {
						t.Errorf("%s has no --%s", name, flag)
					}
				}
				if reads[name] && c.Flags().Lookup("json") == nil {
					t.Errorf("%s is a read command without --json", name)
				}
			})
			seen++
		}
	}
	if got, want := seen, 9+3+2+1+4; got != want { // queue: list search show claim release done reject review form
		t.Errorf("found %d staff commands, want %d", got, want)
	}
}
