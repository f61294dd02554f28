package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

func newQueueReviewCommand() *cobra.Command {
	var plain bool
	cmd := staffConfigCommand(&cobra.Command{
		Use:   "review [--plain]",
		Short: "Go through the queued requests one by one, oldest first",
		Long: `On a terminal this opens the full-screen review ('websesam-intake review').
With --plain, or when the standard streams are not a terminal (a pipe, a
script), it shows each queued request, oldest first, and asks what to do:
claim it and record it done (with the webSesam user name) or rejected (with
a reason), leave it claimed for later, or go on to the next. Every request
shown is written to the audit log, as with 'queue show'. Answers are read
line by line, so the same steps can be piped in.`,
		Example: `  websesam-intake queue review
  printf 'c\nd\nasaobe01\n\nq\n' | websesam-intake queue review --plain`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		if !plain && isTerminal(cmd.InOrStdin(), cmd.OutOrStdout()) {
			return runReviewScreen(cmd, sf, intake.DefaultPromise)
		}
		return withStaff(cmd, sf, true, func(s *staffSession) error {
			r := &reviewer{ctx: cmd.Context(), s: s.Staff, in: bufio.NewScanner(cmd.InOrStdin()), out: cmd.OutOrStdout()}
			return r.run()
		})
	})
	cmd.Flags().BoolVar(&plain, "plain", false, "line by line, even on a terminal (for scripts; the default when not on a terminal)")
	return cmd
}

// reviewer is one review session.
type reviewer struct {
	ctx context.Context
	s   staffapi.Staff
	in  *bufio.Scanner
	out io.Writer
}

// errQuit ends the session at the person's wish.
var errQuit = errors.New("quit")

// ask prints a prompt and returns the next non-empty answer, trimmed;
// errQuit at the end of the input.
func (r *reviewer) ask(prompt string) (string, error) {
	for {
		fmt.Fprint(r.out, prompt)
		if !r.in.Scan() {
			fmt.Fprintln(r.out)
			if err := r.in.Err(); err != nil {
				return "", fmt.Errorf("read answer: %w", err)
			}
			return "", errQuit
		}
		if a := strings.TrimSpace(r.in.Text()); a != "" {
			return a, nil
		}
	}
}

func (r *reviewer) run() error {
	page, err := staffapi.ListRequests.Do(r.ctx, r.s, staffapi.ListFilter{Status: staffapi.StatusQueued, Limit: 200})
	if err != nil {
		return staffError(err, "queue list")
	}
	reqs := page.Requests
	slices.Reverse(reqs) // oldest first
	if len(reqs) == 0 {
		fmt.Fprintln(r.out, "The queue is empty.")
		return nil
	}
	handled := 0
	for i, q := range reqs {
		fmt.Fprintf(r.out, "\n— %d of %d —\n", i+1, len(reqs))
		d, err := staffapi.ShowRequest.Do(r.ctx, r.s, staffapi.RequestID{ID: q.ID})
		if err != nil {
			return staffError(err, "queue list")
		}
		if d.Request.Status != staffapi.StatusQueued {
			fmt.Fprintf(r.out, "Request %s is %s now; skipped.\n", q.ID, statusLine(d.Request))
			continue
		}
		if err := writeRequestDetail(r.out, d); err != nil {
			return err
		}
		err = r.one(d.Request)
		if errors.Is(err, errQuit) {
			break
		}
		if err != nil {
			return err
		}
		handled++
	}
	fmt.Fprintf(r.out, "Reviewed %d of %d queued requests.\n", handled, len(reqs))
	return nil
}

// one asks what to do with one queued request. A refusal (someone else
// claimed it meanwhile) is shown and the review goes on.
func (r *reviewer) one(q staffapi.Request) error {
	a, err := r.ask("\n[c]laim, [n]ext, [q]uit? ")
	if err != nil {
		return err
	}
	switch strings.ToLower(a[:1]) {
	case "n":
		return nil
	case "q":
		return errQuit
	case "c":
	default:
		fmt.Fprintf(r.out, "%q is not one of c, n, q; going on to the next.\n", a)
		return nil
	}
	if _, err := staffapi.Claim.Do(r.ctx, r.s, staffapi.ClaimArgs{ID: q.ID, Force: false}); err != nil {
		return r.refused(err)
	}
	fmt.Fprintf(r.out, "Claimed %s.\n", q.ID)
	for {
		a, err := r.ask("[d]one, [r]eject, [l]eave claimed, [u]nclaim? ")
		if errors.Is(err, errQuit) {
			fmt.Fprintf(r.out, "%s stays claimed by you.\n", q.ID)
			return errQuit
		}
		if err != nil {
			return err
		}
		switch strings.ToLower(a[:1]) {
		case "d":
			name := ""
			if q.Type != store.TypeAvslut {
				if name, err = r.ask("webSesam user name: "); err != nil {
					return err
				}
			}
			_, err = staffapi.Complete.Do(r.ctx, r.s, staffapi.CompleteArgs{ID: q.ID, Username: name, Note: ""})
			if closed, err := r.closed(err, fmt.Sprintf("Request %s is done; the notices are in the outbox.", q.ID)); closed || err != nil {
				return err
			}
		case "r":
			reason, err := r.ask("Reason (sent to the manager as written): ")
			if err != nil {
				return err
			}
			_, err = staffapi.Reject.Do(r.ctx, r.s, staffapi.RejectArgs{ID: q.ID, Reason: reason})
			if closed, err := r.closed(err, fmt.Sprintf("Request %s is rejected; the notice is in the outbox.", q.ID)); closed || err != nil {
				return err
			}
		case "l":
			fmt.Fprintf(r.out, "%s stays claimed by you.\n", q.ID)
			return nil
		case "u":
			if _, err := staffapi.Release.Do(r.ctx, r.s, staffapi.RequestID{ID: q.ID}); err != nil {
				return r.refused(err)
			}
			fmt.Fprintf(r.out, "%s is back in the queue.\n", q.ID)
			return nil
		default:
			fmt.Fprintf(r.out, "%q is not one of d, r, l, u.\n", a)
		}
	}
}

// closed tells how closing a request (done, rejected) went: closed, with
// said printed, when err is nil; not closed when the store refused (the
// refusal is shown and the person is asked again); or the error that ends
// the review.
func (r *reviewer) closed(err error, said string) (bool, error) {
	if err != nil {
		return false, r.refused(err)
	}
	fmt.Fprintln(r.out, said)
	return true, nil
}

// refused prints a refusal the person can act on and lets the review go
// on; other errors end it.
func (r *reviewer) refused(err error) error {
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(r.out, "Refused: %v\n", err)
		return nil
	}
	return staffError(err, "queue list")
}
