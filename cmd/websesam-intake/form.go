package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/formparse"
)

func newFormCommand() *cobra.Command {
	write := &cobra.Command{
		Use:     "write DIR",
		Short:   "Write the four blank forms (PDF and Excel, single and multi-user) into DIR",
		Example: `  websesam-intake form write ./blanketter`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths, err := formparse.WriteBlankForms(args[0])
			if err != nil {
				return err
			}
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return nil
		},
	}
	return commandGroup("form", "Work with the blank forms", "", write)
}
