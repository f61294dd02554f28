package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

// changeRequest runs one transition and prints what became of the request.
func changeRequest(cmd *cobra.Command, sf staffFlags, withComposer bool, step func(context.Context, staffapi.Staff) (staffapi.Request, error), say func(staffapi.Request) string) error {
	return withStaff(cmd, sf, withComposer, func(s *staffSession) error {
		r, err := step(cmd.Context(), s.Staff)
		if err != nil {
			return transitionError(err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), say(r))
		return nil
	})
}

// transitionError says what to do about a refused transition. The store's
// refusals already name the obstacle and the way round it ("claim it
// before…", "use --force…"), over the socket too; not-found gets a pointer
// to the listing.
func transitionError(err error) error {
	return staffError(err, "queue list")
}

func newQueueClaimCommand() *cobra.Command {
	var force bool
	cmd := staffCommand(&cobra.Command{
		Use:   "claim ID [--force]",
		Short: "Take a request, so that others see you are on it",
		Long: `Take a queued request. A request claimed by someone else is taken over only
with --force (the history says from whom); a done or rejected request
cannot be claimed.`,
		Example: `  websesam-intake queue claim WS-2026-000123
  websesam-intake queue claim WS-2026-000123 --force`,
		Args: exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		return changeRequest(cmd, sf, false, func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
			return staffapi.Claim.Do(ctx, s, staffapi.ClaimArgs{ID: args[0], Force: force})
		}, func(r staffapi.Request) string {
			return fmt.Sprintf("Request %s is claimed by %s.", r.ID, r.ClaimedBy)
		})
	})
	cmd.Flags().BoolVar(&force, "force", false, "take over a request someone else has claimed")
	return cmd
}

func newQueueReleaseCommand() *cobra.Command {
	return staffCommand(&cobra.Command{
		Use:     "release ID",
		Short:   "Put a request you claimed back in the queue",
		Example: `  websesam-intake queue release WS-2026-000123`,
		Args:    exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		return changeRequest(cmd, sf, false, func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
			return staffapi.Release.Do(ctx, s, staffapi.RequestID{ID: args[0]})
		}, func(r staffapi.Request) string {
			return fmt.Sprintf("Request %s is back in the queue.", r.ID)
		})
	})
}

func newQueueDoneCommand() *cobra.Command {
	var username, note string
	cmd := staffConfigCommand(&cobra.Command{
		Use:   "done ID --username NAME [--note TEXT]",
		Short: "Record that the account is made or changed in webSesam",
		Long: `Record that you created or changed the account in webSesam: the request
becomes done with the webSesam user name, the register is updated, and the
user (user name and login instructions) and the manager are e-mailed — all
at once, or nothing. You must have claimed the request. An avslut needs no
user name.

Without a running daemon the notices are composed here, from the [mailer]
section of the daemon's configuration (--config).`,
		Example: `  websesam-intake queue done WS-2026-000123 --username annsve01
  websesam-intake queue done WS-2026-000124 --username perlar02 --note "role changed"
  websesam-intake queue done WS-2026-000125`,
		Args: exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		return changeRequest(cmd, sf, true, func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
			r, err := staffapi.Complete.Do(ctx, s, staffapi.CompleteArgs{ID: args[0], Username: username, Note: note})
			if errors.Is(err, store.ErrInvalid) && strings.TrimSpace(username) == "" {
				return r, usagef("%v: give it with --username NAME", err)
			}
			return r, err
		}, func(r staffapi.Request) string {
			return fmt.Sprintf("Request %s is done; the notices are in the outbox.", r.ID)
		})
	})
	cmd.Flags().StringVar(&username, "username", "", "the webSesam user name given to the user (not needed for an avslut)")
	cmd.Flags().StringVar(&note, "note", "", "a note for the request's history")
	return cmd
}

func newQueueRejectCommand() *cobra.Command {
	var reason string
	cmd := staffConfigCommand(&cobra.Command{
		Use:   "reject ID --reason TEXT",
		Short: "Refuse a request, telling the manager why",
		Long: `Close a request you claimed as rejected. The reason is e-mailed to the
manager (copy to the user) exactly as you write it, in the same step.`,
		Example: `  websesam-intake queue reject WS-2026-000123 --reason "Kundnummer 602154 tillhör inte er enhet."`,
		Args:    exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		if strings.TrimSpace(reason) == "" {
			return usagef("reject needs --reason TEXT: the manager is told why")
		}
		return changeRequest(cmd, sf, true, func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
			return staffapi.Reject.Do(ctx, s, staffapi.RejectArgs{ID: args[0], Reason: reason})
		}, func(r staffapi.Request) string {
			return fmt.Sprintf("Request %s is rejected; the notice is in the outbox.", r.ID)
		})
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why, in words the manager understands (sent as written)")
	return cmd
}
