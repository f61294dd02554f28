package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/endpoint"
)

func newConfigCommand() *cobra.Command {
	cmd := commandGroup("config", "Check a configuration file", "", newConfigCheckCommand())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return usagef("config needs a subcommand (see '%s --help')", cmd.CommandPath())
	}
	return cmd
}

func newConfigCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Load and validate a configuration exactly as serve does, touching nothing",
		Long: `check reads FILE as serve would: the defaults, then the file, then the
secret paths resolved against $CREDENTIALS_DIRECTORY (systemd LoadCredential=),
then validation. It prints every problem at once, one line each, with its key
(section.key), and opens no store, server or socket.

Exit status: 0 the file is good, 2 any problem (an unknown key included).`,
		Example: `  websesam-intake config check /etc/websesam-intake/config.toml
  CREDENTIALS_DIRECTORY=/run/credentials/websesam-intake.service websesam-intake config check config.toml`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return configCheck(args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

// configCheck prints one line per problem to stderr and fails with status 2,
// or prints a short summary of what the daemon would connect to.
func configCheck(path string, stdout, stderr io.Writer) error {
	cfg, err := intake.LoadConfig(path)
	if err != nil {
		problems := configProblems(err)
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", path, p)
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(problems))
		return silentError{code: 2}
	}
	fmt.Fprintf(stdout, "%s: ok (mailbox %s %s as %s, folder %s; smtp %s %s; store %s)\n",
		path, cfg.Mailbox.Addr, cfg.Mailbox.TLS, cfg.Mailbox.Username, cfg.Mailbox.Folder,
		cfg.Mailer.SMTP.Addr, cfg.Mailer.SMTP.TLS, cfg.Store.Path)
	return nil
}

// configProblems gives one line per problem of LoadConfig, "key: what is
// wrong", from the problems' own Key and Msg.
func configProblems(err error) []string {
	var out []string
	for _, p := range endpoint.Problems(err) {
		out = append(out, p.String())
	}
	return out
}
