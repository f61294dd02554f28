package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
)

func newRegisterCommand() *cobra.Command {
	return commandGroup("register", "Who may order for which kundnummer: the Kund- och förskrivarregister",
		`The register holds one row per person and kundnummer: the roles
(förskrivare, beställare), buffer storage and manager, as the done requests
left them. A ny adds the person, an andring updates the row, an avslut
removes it. Every look and every export is written to the audit log.
`+staffHelp,
		newRegisterListCommand(), newRegisterExportCommand())
}

// kundnummerFlag checks --kundnummer: six digits (spaces allowed, as on the form).
func kundnummerFlag(s string) (string, error) {
	k := strings.ReplaceAll(s, " ", "")
	if k == "" {
		return "", nil
	}
	if len(k) != 6 || strings.Trim(k, "0123456789") != "" {
		return "", usagef("--kundnummer must be six digits, like 602154, not %q", s)
	}
	return k, nil
}

func roleNames(e staffapi.RegisterEntry) string {
	var r []string
	if e.Forskrivare {
		r = append(r, "förskrivare")
	}
	if e.Bestallare {
		r = append(r, "beställare")
	}
	return dash(strings.Join(r, ", "))
}

func newRegisterListCommand() *cobra.Command {
	var kundnummer, person string
	var asJSON bool
	cmd := staffCommand(&cobra.Command{
		Use:   "list [--kundnummer K] [--person TEXT]",
		Short: "List register rows by kundnummer, then person",
		Long: `List who holds which roles for which kundnummer. --person takes an HSA-id
or an e-mail address and shows that person's rows under every kundnummer.`,
		Example: `  websesam-intake register list --kundnummer 602154
  websesam-intake register list --person SE2321000131-E000000000001
  websesam-intake register list --person anna.svensson@region.example.se --json`,
		Args: exactArgs(0),
	}, func(cmd *cobra.Command, sf staffFlags, _ []string) error {
		k, err := kundnummerFlag(kundnummer)
		if err != nil {
			return err
		}
		rows, err := staffCall(cmd, sf, staffapi.RegisterList, staffapi.RegisterFilter{Kundnummer: k, Person: strings.TrimSpace(person)}, seeList("register list"))
		if err != nil {
			return err
		}
		return writeRows(cmd.OutOrStdout(), rows, asJSON, "No register rows match.",
			[]string{"KUNDNUMMER", "STANDARDKUND", "NAME", "HSA-ID", "E-POST", "ROLES", "BUFFERTFÖRRÅD", "CHEF", "CHANGED", "REQUEST"}, func(e staffapi.RegisterEntry) []string {
				return []string{e.Kundnummer, e.Standardkund, shorten(e.Fornamn+" "+e.Efternamn, 30), dash(e.HSAID), e.Epost,
					roleNames(e), shorten(dash(e.Buffertforrad), 25), shorten(dash(e.ChefNamn), 25), localTime(e.UpdatedAt), e.Request}
			})
	})
	cmd.Flags().StringVar(&kundnummer, string(formparse.FieldKundnummer), "", "only rows of this kundnummer")
	cmd.Flags().StringVar(&person, "person", "", "only rows of the person with this HSA-id or e-mail address")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func newRegisterExportCommand() *cobra.Command {
	return staffCommand(&cobra.Command{
		Use:   "export FILE.xlsx",
		Short: "Write the Kund- och förskrivarregister as an Excel workbook",
		Long: `Write the whole register as an Excel workbook: one row per person and
kundnummer on the first sheet, the number of people and roles per
kundnummer on the second. Dates are real dates; text from the forms is
always text (a name starting with = is never a formula). The file holds
personal data: it is written readable by you alone (mode 0600), and the
export is written to the audit log.`,
		Example: `  websesam-intake register export ~/register-2026-11-30.xlsx`,
		Args:    exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		path := args[0]
		if !strings.EqualFold(strings.TrimSpace(pathExt(path)), ".xlsx") {
			return usagef("export writes an Excel workbook: give a file name ending in .xlsx, not %q", path)
		}
		rows, err := staffCall(cmd, sf, staffapi.RegisterExport, staffapi.Nothing{}, seeList("register list"))
		if err != nil {
			return err
		}
		if err := writeRegisterWorkbook(path, rows); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Wrote %d register rows to %s.\n", len(rows), path)
		return nil
	})
}
