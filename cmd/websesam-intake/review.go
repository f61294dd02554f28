package main

import (
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
)

// isTerminal reports whether both standard streams are a terminal: only
// then is the full-screen review usable.
func isTerminal(in, out any) bool {
	fi, ok1 := in.(*os.File)
	fo, ok2 := out.(*os.File)
	return ok1 && ok2 && term.IsTerminal(int(fi.Fd())) && term.IsTerminal(int(fo.Fd()))
}

func newReviewCommand() *cobra.Command {
	var promise int
	cmd := staffConfigCommand(&cobra.Command{
		Use:   "review",
		Short: "Work the queue on a full screen (Swedish): list, details, claim, done, reject",
		Long: `review opens the queue on the whole terminal, in Swedish, for the support
staff's day: a list with tabs (Att göra, Mina, Alla, Klara), search with /,
and each request's details grouped as on the form, its history and notices,
the mail it came in, the other requests of the same form and person, and
what the register holds for the person.

Keys: c claim, d done (asks for the webSesam user name and an optional
note), r reject (pick a common reason or write one), u release, / search,
tab next tab, enter open, esc back, ? help, q quit. The list refreshes by
itself; when someone else took or finished a request meanwhile the screen
says so. Works at 80×24, without colour (NO_COLOR) and without a mouse.

Every request shown is written to the audit log under your name, as with
'queue show'. Not on a terminal (a pipe, a script), use 'queue review'.` + staffHelp,
		Example: `  websesam-intake review
  NO_COLOR=1 websesam-intake review --socket /run/websesam-intake/staff.sock`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		if !isTerminal(cmd.InOrStdin(), cmd.OutOrStdout()) {
			return usagef("review needs a terminal; in a script or a pipe use 'websesam-intake queue review'")
		}
		return runReviewScreen(cmd, sf, promise)
	})
	cmd.Flags().IntVar(&promise, "promise", intake.DefaultPromise, "working days promised for a request; older waiting requests are marked with !")
	return cmd
}

// runReviewScreen runs the full-screen review until the person quits.
func runReviewScreen(cmd *cobra.Command, sf staffFlags, promise int) error {
	ctx := cmd.Context()
	return withStaff(cmd, sf, true, func(s *staffSession) error {
		who, err := staffapi.WhoAmI.Do(ctx, s.Staff, staffapi.Nothing{})
		if err != nil {
			return staffError(err, "queue list")
		}
		m := newReviewModel(ctx, s.Staff, who.Actor, time.Now)
		m.promise = promise
		p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(cmd.InOrStdin()), tea.WithOutput(cmd.OutOrStdout()))
		if _, err := p.Run(); err != nil && ctx.Err() == nil {
			return fmt.Errorf("run the review screen: %w", err)
		}
		return nil
	})
}
