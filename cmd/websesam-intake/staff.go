package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

// defaultDBPath is where the daemon keeps its store under systemd
// (StateDirectory=websesam-intake).
const defaultDBPath = "/var/lib/websesam-intake/intake.db"

// defaultConfigPath is the daemon's configuration under systemd; staff
// commands read its [mailer] section to compose notices when the daemon is
// not running.
const defaultConfigPath = "/etc/websesam-intake/config.toml"

// staffHelp is the part of every staff command's help that says how it
// reaches the data.
const staffHelp = `
While the daemon runs, the command asks it over its socket (--socket) and
the daemon logs the call under your user name, taken from the socket
itself. When no daemon answers, the command opens the database (--db)
directly, as your user; it says so when the file is held.`

// staffFlags are the flags every staff command has: where the daemon
// listens, and what to open when it does not.
type staffFlags struct {
	socket, db, config string
	// flags tells a flag given on the command line from its default.
	flags *pflag.FlagSet
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func addStaffFlags(cmd *cobra.Command, f *staffFlags) {
	f.flags = cmd.Flags()
	cmd.Flags().StringVar(&f.socket, "socket", envOr("WEBSESAM_INTAKE_SOCKET", staffapi.DefaultSocket),
		"the daemon's staff socket; $WEBSESAM_INTAKE_SOCKET sets the default")
	cmd.Flags().StringVar(&f.db, "db", envOr("WEBSESAM_INTAKE_DB", defaultDBPath),
		"the database file, opened when no daemon answers; $WEBSESAM_INTAKE_DB sets the default")
}

// addConfigFlag adds --config to the commands that write notices.
func addConfigFlag(cmd *cobra.Command, f *staffFlags) {
	cmd.Flags().StringVar(&f.config, "config", envOr("WEBSESAM_INTAKE_CONFIG", defaultConfigPath),
		"the daemon's configuration: its [staff] socket and [store] path unless --socket or --db are given, and its [mailer] section when no daemon answers; $WEBSESAM_INTAKE_CONFIG sets the default")
}

// withConfigPaths takes the socket and the database from the daemon's
// configuration when one was named (--config or $WEBSESAM_INTAKE_CONFIG)
// and --socket and --db were not given: a command run with the daemon's
// configuration reaches the daemon's socket, or opens its store, and not
// the defaults.
func (f staffFlags) withConfigPaths() (staffFlags, error) {
	given := func(name, env string) bool {
		return f.flags != nil && f.flags.Changed(name) || os.Getenv(env) != ""
	}
	if f.config == "" || !given("config", "WEBSESAM_INTAKE_CONFIG") {
		return f, nil
	}
	sock, db := given("socket", "WEBSESAM_INTAKE_SOCKET"), given("db", "WEBSESAM_INTAKE_DB")
	if sock && db {
		return f, nil
	}
	socket, path, err := intake.StaffPaths(f.config)
	if err != nil {
		return f, usagef("%w; the daemon's socket and database are taken from it (fix it, or give --socket and --db)", err)
	}
	if !sock {
		f.socket = socket
	}
	if !db {
		f.db = path
	}
	return f, nil
}

// staffRun is what a staff command does, given the flags that say how it
// reaches the data.
type staffRun func(cmd *cobra.Command, sf staffFlags, args []string) error

// staffCommand makes c a staff command: it takes the flags every staff
// command has (--socket, --db) and runs run with them. c says only what is
// its own: its use, help, arguments and further flags.
func staffCommand(c *cobra.Command, run staffRun) *cobra.Command {
	return declareStaff(c, false, run)
}

// staffConfigCommand is staffCommand with --config as well, for the
// commands that write notices or need the daemon's configuration when no
// daemon answers.
func staffConfigCommand(c *cobra.Command, run staffRun) *cobra.Command {
	return declareStaff(c, true, run)
}

func declareStaff(c *cobra.Command, withConfig bool, run staffRun) *cobra.Command {
	var sf staffFlags
	addStaffFlags(c, &sf)
	if withConfig {
		addConfigFlag(c, &sf)
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return run(cmd, sf, args) }
	return c
}

// staffSession is an open way to the data: the daemon's socket, or the
// store itself.
type staffSession struct {
	staffapi.Staff
	// Direct is true when the store was opened here (no daemon answered).
	Direct bool
	close  func()
}

func (s *staffSession) Close() { s.close() }

// openStaff reaches the daemon over its socket when one answers, and opens
// the store directly otherwise. withComposer is set by the commands that
// write notices: in direct mode they need the mailer configuration.
func openStaff(ctx context.Context, f staffFlags, withComposer bool) (*staffSession, error) {
	f, err := f.withConfigPaths()
	if err != nil {
		return nil, err
	}
	c, _, err := staffapi.Dial(ctx, f.socket)
	if err == nil {
		return &staffSession{Staff: c, close: c.Close}, nil
	}
	if !errors.Is(err, staffapi.ErrNoDaemon) {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("reach the daemon on %s: permission denied; ask an administrator to add you to the support staff's group", f.socket)
		}
		return nil, fmt.Errorf("reach the daemon on %s: %w", f.socket, err)
	}
	actor, err := staffActor()
	if err != nil {
		return nil, err
	}
	l := &staffapi.Local{Actor: actor}
	if withComposer {
		comp, err := intake.StaffComposer(f.config)
		if err != nil {
			return nil, usagef("no daemon answers on %s, so the notices must be composed here from the daemon's configuration: %v (give it with --config FILE)", f.socket, err)
		}
		l.Composer = comp
	}
	st, err := openStaffStore(f.db)
	if err != nil {
		return nil, err
	}
	l.Store = st
	return &staffSession{Staff: l, Direct: true, close: func() { st.Close() }}, nil
}

// openStaffStore opens the store for a staff command, with a message that
// says what to do when it cannot.
func openStaffStore(path string) (*store.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open database: %s does not exist and no daemon answers (give the right file with --db, or the daemon's socket with --socket)", path)
	}
	s, err := store.Open(path, store.Options{})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%w; no daemon answers on its socket, so stop the process holding it or give the daemon's socket with --socket", err)
		}
		return nil, err
	}
	return s, nil
}

// staffActor is the name written into the audit log when the store is
// opened directly: the OS user running the command (the user who ran sudo,
// when run through sudo as root).
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

// staffError adds what to do to a refusal and picks the exit status: a
// request for something that is not there or not allowed now is a runtime
// failure (1); an argument the store finds invalid, or a missing mailer
// configuration, is bad usage (2).
func staffError(err error, listCmd string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w (see 'websesam-intake %s')", err, listCmd)
	case errors.Is(err, store.ErrInvalid):
		return usageError{err}
	case errors.Is(err, staffapi.ErrNoComposer):
		return usageError{fmt.Errorf("%w: give the daemon's configuration with --config FILE", err)}
	}
	return err
}

// withStaff opens the way to the data (see openStaff), hands it to use and
// closes it again: the frame every staff command runs in.
func withStaff(cmd *cobra.Command, sf staffFlags, withComposer bool, use func(*staffSession) error) error {
	s, err := openStaff(cmd.Context(), sf, withComposer)
	if err != nil {
		return err
	}
	defer s.Close()
	return use(s)
}

// staffCall makes one staff call in a session of its own. refused turns a
// refusal into what the command reports (nil: the error as it is).
func staffCall[Args, Result any](cmd *cobra.Command, sf staffFlags, call staffapi.Call[Args, Result], args Args, refused func(error) error) (Result, error) {
	var res Result
	err := withStaff(cmd, sf, false, func(s *staffSession) error {
		var err error
		res, err = call.Do(cmd.Context(), s.Staff, args)
		if err != nil && refused != nil {
			return refused(err)
		}
		return err
	})
	return res, err
}

// seeList is staffError for a command whose not-found points to listCmd.
func seeList(listCmd string) func(error) error {
	return func(err error) error { return staffError(err, listCmd) }
}

// checkLimit refuses a --limit below one.
func checkLimit(limit int) error {
	if limit < 1 {
		return usagef("--limit must be at least 1")
	}
	return nil
}

// oneOf refuses a value of an enumerated flag (--status, --state, …) that
// is none of choices, naming them all; empty means no filter and passes.
func oneOf[T ~string](flag string, v T, choices ...T) error {
	if v == "" || slices.Contains(choices, v) {
		return nil
	}
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = string(c)
	}
	last := len(names) - 1
	return usagef("--%s must be %s or %s, not %q", flag, strings.Join(names[:last], ", "), names[last], v)
}

// writeJSONOr prints v as JSON for a script, or with text for a person.
func writeJSONOr[T any](w io.Writer, asJSON bool, v T, text func(io.Writer, T) error) error {
	if asJSON {
		return writeJSON(w, v)
	}
	return text(w, v)
}

// writeRows prints what a list command found: for a script a JSON array
// (empty, never null), for a person a table, or the sentence none when
// nothing matched.
func writeRows[T any](w io.Writer, rows []T, asJSON bool, none string, headers []string, cells func(T) []string) error {
	if asJSON {
		if rows == nil {
			rows = []T{}
		}
		return writeJSON(w, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, none)
		return nil
	}
	t := newTable(w, headers...)
	for _, r := range rows {
		t.row(cells(r)...)
	}
	return t.flush()
}

// commandGroup is a command that only holds others, like queue or outbox.
func commandGroup(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short, Long: long}
	g.AddCommand(subs...)
	return g
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

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// localTime is how staff read a time: local, to the minute.
func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// parseSince reads --since: a date (YYYY-MM-DD, from local midnight) or a
// span back from now (90m, 36h, 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--since %q: want a date (2026-11-01) or a span back from now (36h, 7d)", s)
}

// parseNow reads the hidden --now of the commands a test or a rerun for a
// given morning runs at a fixed moment: RFC 3339, or empty for now.
func parseNow(at string) (time.Time, error) {
	if at == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return time.Time{}, usagef("--now: want an RFC 3339 time, got %q", at)
	}
	return t, nil
}

// age is how long ago t was, in the largest whole unit.
func age(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
