// Command websesam-intake is the one binary of the product: the daemon
// (serve), the offline form tools (form write, parse) and the staff commands.
// main only builds a signal context, calls run and maps its error to an exit
// status: 0 success, 1 runtime failure, 2 bad usage or bad configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/formparse/fence"
)

// version is stamped by the Makefile (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	// A form-reading worker started by this binary (serve, parse) serves
	// and exits here, before anything of the daemon runs.
	fence.MaybeServeWorker()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError marks bad usage or bad configuration: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns an error that exits with status 2.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// silentError carries an exit status whose explanation was already printed
// (parse prints one JSON object or line per file, then fails as a whole).
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var silent silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	fmt.Fprintf(stderr, "websesam-intake: %v\n", err)
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}

// run is the whole program for a given argument list and standard streams, so
// that tests drive every subcommand in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "websesam-intake",
		Short: "Intake of webSesam access forms from a mailbox",
		Long: `websesam-intake watches the intake mailbox for webSesam access forms, checks
them, returns incomplete forms to the responsible manager and queues valid
requests for support staff.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
	})
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	strictGroups(root)
	return root
}

// strictGroups makes every command that only groups others (root, queue,
// messages, …) refuse a word it does not know with "unknown command", the
// nearest suggestion and exit status 2; by default cobra prints the group's
// help and exits 0 for `queue lsit` below the root, which a script cannot
// tell from success. A group given no word at all does what it did before
// (config: a usage error; the others print their help).
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if !c.HasSubCommands() {
		return
	}
	c.SuggestionsMinimumDistance = 2
	c.Args = cobra.ArbitraryArgs
	bare := c.RunE // what the group does without a word, if it says
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			if bare != nil {
				return bare(cmd, args)
			}
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usagef("%s (see '%s --help')", msg, cmd.CommandPath())
	}
}

// subcommands is filled in commands.go with the one-file-per-command
// sources of this directory.
var subcommands []func() *cobra.Command

// exactArgs is cobra.ExactArgs with exit status 2.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d (see '%s --help')", cmd.Name(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs with exit status 2.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s needs at least %d argument(s) (see '%s --help')", cmd.Name(), n, cmd.CommandPath())
		}
		return nil
	}
}
