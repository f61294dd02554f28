package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/doctor"
)

func newDoctorCommand() *cobra.Command {
	var configPath, sendTest string
	var asJSON, fix bool
	cmd := &cobra.Command{
		Use:   "doctor [--config FILE] [--json] [--fix] [--send-test ADDRESS]",
		Short: "Check everything the daemon needs and say what to do about each failure",
		Long: `doctor checks, one line each (✓ holds, ! works but look, ✗ fails, with what to
do): the configuration; that the secret files are readable by the user running
it (run it as the daemon's user); for the mailbox and the relay DNS, TCP and
TLS (chain, name, days until the certificate expires); the OAuth2 token; the
IMAP greeting, the capabilities the daemon uses (IDLE, MOVE, UIDPLUS) and the
login; the watched folder and every outcome folder; the SMTP greeting,
STARTTLS and login; the store, and whether a daemon holds it; the staff socket
directory and group; the metrics address.

It changes nothing: --fix creates missing outcome folders, and --send-test
sends one test mail to ADDRESS (an allowed recipient domain only).

Exit status: 0 every check holds, 1 any fails, 2 bad usage.`,
		Example: `  sudo -u websesam-intake env CREDENTIALS_DIRECTORY=/etc/websesam-intake websesam-intake doctor
  websesam-intake doctor --config config.toml --fix --send-test anna@region.example.se
  websesam-intake doctor --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			var results []doctor.Result
			report := func(r doctor.Result) { printResult(out, r) }
			if asJSON {
				report = func(r doctor.Result) { results = append(results, r) }
			}
			failed := doctor.Run(cmd.Context(), doctor.Options{ConfigPath: configPath, Fix: fix, SendTest: sendTest, Report: report})
			if asJSON {
				if results == nil {
					results = []doctor.Result{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			}
			if failed {
				return silentError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", defaultConfigPath, "the configuration file (TOML)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as one JSON array")
	cmd.Flags().BoolVar(&fix, "fix", false, "create missing outcome folders")
	cmd.Flags().StringVar(&sendTest, "send-test", "", "send one test mail to this address (an allowed domain only)")
	return cmd
}

// printResult writes one check as a line, and its advice below a failure
// or a warning.
func printResult(w io.Writer, r doctor.Result) {
	mark := map[doctor.Status]string{doctor.OK: "✓", doctor.Warn: "!", doctor.Fail: "✗"}[r.Status]
	fmt.Fprintf(w, "%s %s: %s\n", mark, r.Check, r.Detail)
	if r.Advice != "" && r.Status != doctor.OK {
		fmt.Fprintf(w, "    → %s\n", r.Advice)
	}
}
