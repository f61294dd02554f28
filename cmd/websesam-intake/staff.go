package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/store"
)

// defaultDBPath is where the daemon keeps its store under systemd
// (StateDirectory=websesam-intake).
const defaultDBPath = "/var/lib/websesam-intake/intake.db"

// dbFlag adds --db to a staff command. Until the staff commands talk to the
// daemon over its socket, they open the store directly, which works only
// while the daemon is stopped (the store says so when it is not).
func dbFlag(cmd *cobra.Command, path *string) {
	def := os.Getenv("WEBSESAM_INTAKE_DB")
	if def == "" {
		def = defaultDBPath
	}
	cmd.Flags().StringVar(path, "db", def, "the database file (default from $WEBSESAM_INTAKE_DB)")
}

// openStaffStore opens the store for a staff command, with a message that
// says what to do when it cannot.
func openStaffStore(path string) (*store.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open database: %s does not exist (give the right file with --db)", path)
	}
	s, err := store.Open(path, store.Options{})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%w; stop the daemon or wait for it to finish and try again", err)
		}
		return nil, err
	}
	return s, nil
}

// staffActor is the name written into the audit log: the OS user running
// the command (the user who ran sudo, when run through sudo as root).
func staffActor() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("find out who is running this command: %w", err)
	}
	if u.Uid == "0" {
		if s := os.Getenv("SUDO_USER"); s != "" {
			return s, nil
		}
	}
	return u.Username, nil
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns for a person at a terminal.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(strings.ReplaceAll(c, "\t", " "), "\n", " ")
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// shorten cuts s to at most n characters, marking the cut with "…".
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
