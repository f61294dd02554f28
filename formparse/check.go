package formparse

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// check normalises raw against def and lists every problem at once, in form
// order, so that one reply can tell the manager everything to put right.
//
// Everything it knows about fields comes from def: kinds, labels,
// requirements, groups, NotBefore and the user columns. When the choice that
// the requirements depend on (Ärende) is missing or not one of its options,
// only the rules that do not depend on it apply (always-mandatory fields,
// fields required by a ticked box): guessing the case would list problems
// the manager may not have.
//
// opts is not used yet: it is there for rules that depend on the day of the
// check (Options.Today), which version 1 of the form does not have.
func check(def *Definition, raw *Raw, opts Options) *Form {
	c := checker{def: def, format: raw.Format}
	form := &Form{
		ID:      def.ID,
		Version: Version,
		Format:  raw.Format,
		Fields:  make(map[string]string, len(def.Fields)),
	}
	reasons := make(map[string]string)
	for _, f := range def.Fields {
		v, reason := normaliseValue(f, raw.Fields[f.Name], raw.Format)
		form.Fields[f.Name] = v
		if reason != "" {
			reasons[f.Name] = reason
		}
	}
	c.values = form.Fields
	c.arende = c.choice(def.Fields, form.Fields, reasons)

	// Groups are reported where their first member stands on the form; a
	// group without members (the user rows) with the user rows.
	groupAt := make(map[string][]Group)
	var userGroups []Group
	for _, g := range def.Groups {
		if len(g.Members) == 0 {
			userGroups = append(userGroups, g)
			continue
		}
		groupAt[g.Members[0]] = append(groupAt[g.Members[0]], g)
	}

	// The user rows stand before the manager's section, who signs off the
	// list (as the PDF shows them); without that section, at the end.
	usersDone := len(def.UserColumns) == 0
	checkUsers := func() {
		usersDone = true
		form.Users = c.users(raw.Users)
		for _, g := range userGroups {
			if g.Required.Applies(c.arende, c.ticked) && len(form.Users) == 0 {
				c.problem(g.Name, g.Label, reasonUsers)
			}
			if raw.ExtraUsers > 0 {
				c.problem(g.Name, g.Label, fmt.Sprintf(
					"högst %d användare per blankett; %d rader till fanns och lästes inte, skicka dem på en ny blankett",
					def.MaxUsers, raw.ExtraUsers))
			}
		}
	}

	for _, f := range def.Fields {
		if !usersDone && f.Section == SectionChef {
			checkUsers()
		}
		for _, g := range groupAt[f.Name] {
			if g.Required.Applies(c.arende, c.ticked) && !c.anyTicked(g.Members) {
				c.problem(g.Name, g.Label, "kryssa i minst en "+lowerFirst(g.Label)+" ("+joinOr(c.labels(g.Members))+")")
			}
		}
		if r := c.reason(f, form.Fields, reasons); r != "" {
			c.problem(f.Name, f.Label, r)
		}
	}

	if !usersDone {
		checkUsers()
	}
	form.Problems = c.problems
	return form
}

// checker carries what the rules of one form need while it is checked.
type checker struct {
	def      *Definition
	format   Format
	values   map[string]string // the shared fields, normalised
	arende   string            // the valid choice the requirements follow, or ""
	problems []FieldProblem
}

func (c *checker) problem(name, label, reason string) {
	c.problems = append(c.problems, FieldProblem{Field: name, Label: label, Reason: reason})
}

// choice returns the valid value of the form's choice field (Ärende), or ""
// when it is empty or wrong.
func (c *checker) choice(fields []Field, values, reasons map[string]string) string {
	for _, f := range fields {
		if f.Kind == Choice {
			if reasons[f.Name] != "" {
				return ""
			}
			return values[f.Name]
		}
	}
	return ""
}

func (c *checker) ticked(name string) bool { return c.values[name] == "true" }

func (c *checker) anyTicked(names []string) bool {
	for _, n := range names {
		if c.ticked(n) {
			return true
		}
	}
	return false
}

func (c *checker) labels(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = c.def.Label(n)
	}
	return out
}

// reason gives the problem of one field (or one user cell) or "": its
// value's reason, a missing mandatory value, or a date before the date it may
// not precede.
func (c *checker) reason(f Field, values, reasons map[string]string) string {
	switch {
	case reasons[f.Name] != "":
		return reasons[f.Name]
	case values[f.Name] == "" && f.Required.Applies(c.arende, c.ticked):
		return reasonMissing
	case f.NotBefore != "" && values[f.Name] != "" && reasons[f.NotBefore] == "":
		// Both dates are good YYYY-MM-DD strings here, which sort as dates.
		if before := values[f.NotBefore]; before != "" && values[f.Name] < before {
			return f.Label + " är före " + c.def.Label(f.NotBefore)
		}
	}
	return ""
}

// users normalises the user rows: empty rows are skipped, every other row is
// kept with N as on the form and checked cell by cell.
func (c *checker) users(rows []RawUser) []User {
	var users []User
	for _, row := range rows {
		u := User{N: row.N, Fields: make(map[string]string, len(c.def.UserColumns))}
		var reasons map[string]string // made only for a row with a wrong value
		empty := true
		for _, col := range c.def.UserColumns {
			v, reason := normaliseValue(col, row.Fields[col.Name], c.format)
			u.Fields[col.Name] = v
			if reason != "" {
				if reasons == nil {
					reasons = make(map[string]string)
				}
				reasons[col.Name] = reason
			}
			if v != "" && !(col.Kind == Checkbox && v == "false") {
				empty = false
			}
		}
		if empty {
			continue
		}
		for _, col := range c.def.UserColumns {
			if r := c.reason(col, u.Fields, reasons); r != "" {
				c.problem(UserFieldName(row.N, col.Name), UserLabel(row.N, col.Label), r)
			}
		}
		users = append(users, u)
	}
	return users
}

// lowerFirst turns a label into the middle of a sentence: "Typ av ändring"
// becomes "typ av ändring".
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[size:]
}
