package formparse

import (
	"fmt"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse/gendoc"
)

// TestDocsForm keeps docs/form.md's tables of fields, groups, user columns
// and reasons what the form's one definition and the checker say: a field,
// label, rule, length or reason changed in the code and not in the document
// fails here. `make docs` (WEBSESAM_UPDATE_DOCS=1) rewrites the block.
func TestDocsForm(t *testing.T) {
	gendoc.Check(t, "../docs/form.md", formDoc(t))
}

func formDoc(t *testing.T) string {
	var b strings.Builder
	for _, def := range Definitions() {
		fmt.Fprintf(&b, "### `%s`: %s\n\n", def.ID, def.Title)
		b.WriteString("| field | label on the form | kind | mandatory | at most |\n|---|---|---|---|---|\n")
		for _, f := range def.Fields {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, f.Label, kindDoc(f), requirementDoc(f.Required, f.Kind), limitDoc(f))
		}
		b.WriteString("\n")
		if len(def.UserColumns) > 0 {
			fmt.Fprintf(&b, "User rows: in the PDF the fields `anvandare_N_<column>` for N = 1…%d; in the workbook one row per user on the sheet `%s` under a header row of the labels, at most %d rows read. A problem in a row is named `anvandare_N_<column>` and labelled like \"%s\".\n\n",
				def.MaxPDFUsers, UserSheet, def.MaxUsers, UserLabel(3, "E-post"))
			b.WriteString("| column | label | kind | mandatory | at most |\n|---|---|---|---|---|\n")
			for _, f := range def.UserColumns {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, f.Label, kindDoc(f), requirementDoc(f.Required, f.Kind), limitDoc(f))
			}
			b.WriteString("\n")
		}
		b.WriteString("Rules over several fields, each reported once under its own name:\n\n")
		b.WriteString("| name | label | rule | applies |\n|---|---|---|---|\n")
		for _, g := range def.Groups {
			rule := "at least one user row"
			if len(g.Members) > 0 {
				var ms []string
				for _, m := range g.Members {
					ms = append(ms, "`"+m+"`")
				}
				rule = "at least one of " + strings.Join(ms, ", ") + " ticked"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", g.Name, g.Label, rule, requirementDoc(g.Required, Text))
		}
		b.WriteString("\n")
	}

	b.WriteString("### Reasons\n\nThe reason of each problem, exactly as a reply and `parse` give it (a value in `…` stands for what the sender wrote):\n\n")
	b.WriteString("| when | reason |\n|---|---|\n")
	field := func(name string) Field {
		f, ok := singleDef.Field(name)
		if !ok {
			t.Fatalf("no field %s", name)
		}
		return f
	}
	reasonOf := func(name, value string, format Format) string {
		t.Helper()
		_, r := normaliseValue(field(name), value, format)
		if r == "" {
			t.Fatalf("%s = %q gives no reason", name, value)
		}
		return r
	}
	rows := [][2]string{
		{"a mandatory value is empty", reasonMissing},
		{"a date that is no date (`galler_fran` = `nästa vecka`)", reasonOf("galler_fran", "nästa vecka", PDF)},
		{"an impossible date (`2026-02-30`)", reasonOf("galler_fran", "2026-02-30", PDF)},
		{"`tjanstledig_till` before `tjanstledig_fran`", reasonTjanstledig(t)},
		{"`arende` not one of its options", reasonOf("arende", "flytt", PDF)},
		{"an e-mail address that is not a bare address (`Åsa <asa@region.se>`)", reasonOf("epost", "Åsa <asa@region.se>", PDF)},
		{"an e-mail address with letters outside ASCII (`åsa@region.se`)", reasonOf("epost", "åsa@region.se", PDF)},
		{"a phone number (`12 34`)", reasonOf("telefon", "12 34", PDF)},
		{"an HSA-id (`SE123`)", reasonOf("hsa_id", "SE123", PDF)},
		{"a kundnummer (`60215`)", reasonOf("kundnummer", "60215", PDF)},
		{"a list of kundnummer (`602155, 6021`)", reasonOf("ovriga_kundnummer", "602155, 6021", PDF)},
		{fmt.Sprintf("more than %d numbers in `ovriga_kundnummer`", MaxKundnr), reasonOf("ovriga_kundnummer", strings.Repeat("602155 ", MaxKundnr+1), PDF)},
		{"a checkbox cell of a workbook that is not Ja/X/1/true or empty/Nej/0/false (`kanske`)", reasonOf("roll_bestallare", "kanske", XLSX)},
		{fmt.Sprintf("a value longer than its limit (`fornamn`, %d characters)", MaxName+1), reasonOf("fornamn", strings.Repeat("a", MaxName+1), PDF)},
	}
	for _, g := range []Group{rollGroup, andringGroup} {
		rows = append(rows, [2]string{fmt.Sprintf("group `%s` not satisfied", g.Name), groupReason(t, g)})
	}
	rows = append(rows,
		[2]string{"a multi-user form with no user row", reasonUsers},
		[2]string{fmt.Sprintf("a workbook with more than %d user rows (here 7 more)", multiDef.MaxUsers), extraUsersReason(t)},
	)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], strings.ReplaceAll(r[1], "|", "\\|"))
	}
	return b.String()
}

func kindDoc(f Field) string {
	switch f.Kind {
	case Text:
		return "text"
	case Choice:
		var opts []string
		for _, o := range f.Choices {
			opts = append(opts, fmt.Sprintf("`%s` (%s)", o.Value, o.Label))
		}
		return "choice: " + strings.Join(opts, ", ")
	case Date:
		if f.NotBefore != "" {
			return fmt.Sprintf("date, not before `%s`", f.NotBefore)
		}
		return "date"
	case Email:
		return "e-mail address"
	case Phone:
		return "phone number"
	case HSAID:
		return "HSA-id"
	case Kundnummer:
		return "kundnummer (6 digits)"
	case KundnummerList:
		return "list of kundnummer"
	case Checkbox:
		return "checkbox"
	case Tag:
		return "read-only, `<form id>/1`"
	}
	return fmt.Sprintf("kind %d", f.Kind)
}

func requirementDoc(r Requirement, k Kind) string {
	var parts []string
	if r.Always {
		return "always"
	}
	if len(r.Arende) > 0 {
		var as []string
		for _, a := range r.Arende {
			as = append(as, "`"+a+"`")
		}
		parts = append(parts, "when `arende` is "+strings.Join(as, " or "))
	}
	if r.Ticked != "" {
		parts = append(parts, "when `"+r.Ticked+"` is ticked")
	}
	if len(parts) == 0 {
		if k == Tag {
			return "no; names the form when present"
		}
		if k == Checkbox {
			return "no (see the rules below)"
		}
		return "no; checked when given"
	}
	return strings.Join(parts, "; ")
}

func limitDoc(f Field) string {
	switch {
	case f.MaxLen > 0:
		return fmt.Sprintf("%d characters", f.MaxLen)
	case f.MaxItems > 0:
		return fmt.Sprintf("%d numbers", f.MaxItems)
	}
	return "its format"
}

// reasonTjanstledig is the checker's reason for a leave that ends before
// it starts.
func reasonTjanstledig(t *testing.T) string {
	t.Helper()
	f := check(singleDef, &Raw{Format: PDF, Fields: map[string]string{
		"arende": "andring", "andring_tjanstledighet": "Yes",
		"tjanstledig_fran": "2026-12-10", "tjanstledig_till": "2026-12-01",
	}}, Options{})
	return problemOf(t, f, "tjanstledig_till")
}

// groupReason is the checker's reason for a group none of whose members is
// ticked.
func groupReason(t *testing.T, g Group) string {
	t.Helper()
	arende := ArendeNy
	if len(g.Required.Arende) > 0 {
		arende = g.Required.Arende[0]
	}
	return problemOf(t, check(singleDef, &Raw{Format: PDF, Fields: map[string]string{"arende": arende}}, Options{}), g.Name)
}

func extraUsersReason(t *testing.T) string {
	t.Helper()
	f := check(multiDef, &Raw{Format: XLSX, Fields: map[string]string{"arende": "ny"},
		Users: []RawUser{{N: 1, Fields: map[string]string{"fornamn": "Åsa"}}}, ExtraUsers: 7}, Options{})
	for _, p := range f.Problems {
		if p.Field == userGroup.Name && p.Reason != reasonUsers {
			return p.Reason
		}
	}
	t.Fatalf("no problem for the extra user rows: %+v", f.Problems)
	return ""
}

func problemOf(t *testing.T, f *Form, name string) string {
	t.Helper()
	for _, p := range f.Problems {
		if p.Field == name {
			return p.Reason
		}
	}
	t.Fatalf("no problem for %s: %+v", name, f.Problems)
	return ""
}
