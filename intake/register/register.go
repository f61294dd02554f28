// Package register holds the rules of the Kund- och förskrivarregister and
// of searching requests, which need the form's field names and so cannot
// live in the store: who the person of a form is, what an ny, ändring or
// avslut does to their rows, what staff search a request by and what a
// purged request keeps. The store applies what these rules compute, in the
// transaction that completes a request. Importing this package (intake
// does) hands the rules to the store (store.SetFieldRules).
package register

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/store"
)

func init() { store.SetFieldRules(Rules) }

// Rules are the field rules of the program's form.
var Rules = store.FieldRules{
	SearchTerms: SearchTerms,
	SearchNames: SearchNames,
	KeptFields:  KeptFields,
	Register:    Change,
}

// KeptFields are the fields a purged request keeps: they name the ordering
// organisation (verksamhet, kundnummer), never a person, and the report
// counts requests by them over any period.
var KeptFields = []string{string(formparse.FieldVerksamhet), string(formparse.FieldKundnummer)}

// SearchTerms are what staff search a request by: first name, last name,
// the previous name, e-mail, HSA-id and every kundnummer.
func SearchTerms(f map[string]string) []string {
	out := []string{
		formparse.FieldFornamn.Value(f), formparse.FieldEfternamn.Value(f), formparse.FieldTidigareNamn.Value(f),
		formparse.FieldEpost.Value(f), formparse.FieldHSAID.Value(f),
		formparse.FieldKundnummer.Value(f), formparse.FieldTidigareKundnummer.Value(f),
	}
	return append(out, splitKundnummer(formparse.FieldOvrigaKundnummer.Value(f))...)
}

// SearchNames are the full names a search of several words is matched
// against: the name in either order, and the previous name.
func SearchNames(f map[string]string) []string {
	fn, en := formparse.FieldFornamn.Value(f), formparse.FieldEfternamn.Value(f)
	return []string{fn + " " + en, en + " " + fn, formparse.FieldTidigareNamn.Value(f)}
}

// splitKundnummer reads ovriga_kundnummer ("602155, 602156") into numbers.
func splitKundnummer(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\t' })
}

// personKey is who a form is about. Identity: a person is their HSA-id when
// the form gives one, otherwise their e-mail address. Names are not
// identities (two Anna Svenssons exist); tidigare_namn is used only as a
// last resort, for a name change whose new e-mail and missing HSA-id match
// nothing (findPerson).
func personKey(hsa, epost string) string {
	if strings.TrimSpace(hsa) != "" {
		return store.HSAAlias(hsa)
	}
	return store.EpostAlias(epost)
}

// findPerson returns every register row of the person a form is about: by
// HSA-id and e-mail, or, for a name change that matches neither, by the
// previous name when exactly one person under the form's kundnummer (or the
// previous one) carries it.
func findPerson(rows store.RegisterRows, f map[string]string) ([]store.RegisterEntry, error) {
	var out []store.RegisterEntry
	add := func(list []store.RegisterEntry) {
		for _, e := range list {
			if !slices.ContainsFunc(out, func(o store.RegisterEntry) bool { return sameRow(o, e) }) {
				out = append(out, e)
			}
		}
	}
	var keys []string
	if h := formparse.FieldHSAID.Value(f); strings.TrimSpace(h) != "" {
		keys = append(keys, store.HSAAlias(h))
	}
	if e := formparse.FieldEpost.Value(f); strings.TrimSpace(e) != "" {
		keys = append(keys, store.EpostAlias(e))
	}
	for _, a := range keys {
		list, err := rows.ByAlias(a)
		if err != nil {
			return nil, err
		}
		add(list)
	}
	prevName := formparse.FieldTidigareNamn.Value(f)
	if len(out) > 0 || !formparse.FieldAndringNamnbyte.Ticked(f) || strings.TrimSpace(prevName) == "" {
		return out, nil
	}
	prev := strings.ToLower(strings.Join(strings.Fields(prevName), " "))
	var match []store.RegisterEntry
	for _, k := range []string{formparse.FieldKundnummer.Value(f), formparse.FieldTidigareKundnummer.Value(f)} {
		if k == "" {
			continue
		}
		list, err := rows.OfKundnummer(k)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			full := strings.ToLower(e.Fornamn + " " + e.Efternamn)
			if full == prev || strings.ToLower(e.Efternamn) == prev && strings.EqualFold(e.Fornamn, formparse.FieldFornamn.Value(f)) {
				match = append(match, e)
			}
		}
	}
	persons := map[string]bool{}
	for _, e := range match {
		persons[e.Person] = true
	}
	if len(persons) != 1 {
		return nil, nil // none, or ambiguous: treat as a new person
	}
	for p := range persons {
		// A person key has the form of an alias.
		list, err := rows.ByAlias(p)
		if err != nil {
			return nil, err
		}
		add(list)
	}
	return out, nil
}

func sameRow(a, b store.RegisterEntry) bool {
	return a.Kundnummer == b.Kundnummer && a.Person == b.Person
}

// update copies what a form says into e. Roles are taken from a ny, or from
// an andring that ticks andring_roll; leave dates only when
// andring_tjanstledighet is ticked; other values when given.
func update(e *store.RegisterEntry, r store.Request, fresh bool, now time.Time) {
	f := r.Fields
	set := func(dst *string, name formparse.FieldName) {
		if v := strings.TrimSpace(name.Value(f)); v != "" {
			*dst = v
		}
	}
	set(&e.Fornamn, formparse.FieldFornamn)
	set(&e.Efternamn, formparse.FieldEfternamn)
	set(&e.HSAID, formparse.FieldHSAID)
	e.HSAID = strings.ToUpper(e.HSAID)
	set(&e.Epost, formparse.FieldEpost)
	set(&e.Yrke, formparse.FieldYrke)
	set(&e.Telefon, formparse.FieldTelefon)
	set(&e.Verksamhet, formparse.FieldVerksamhet)
	set(&e.Enhet, formparse.FieldEnhet)
	set(&e.Buffertforrad, formparse.FieldBuffertforrad)
	set(&e.ChefNamn, formparse.FieldChefNamn)
	set(&e.ChefEpost, formparse.FieldChefEpost)
	set(&e.ChefTelefon, formparse.FieldChefTelefon)
	set(&e.GallerFran, formparse.FieldGallerFran)
	if fresh || formparse.FieldAndringRoll.Ticked(f) {
		e.Forskrivare = formparse.FieldRollForskrivare.Ticked(f)
		e.Bestallare = formparse.FieldRollBestallare.Ticked(f)
	}
	if formparse.FieldAndringTjanstledighet.Ticked(f) {
		e.TjanstledigFran, e.TjanstledigTill = formparse.FieldTjanstledigFran.Value(f), formparse.FieldTjanstledigTill.Value(f)
	}
	if formparse.FieldAndringNamnbyte.Ticked(f) {
		set(&e.TidigareNamn, formparse.FieldTidigareNamn)
	}
	if r.Username != "" {
		e.Username = r.Username
	}
	e.Person = personKey(e.HSAID, e.Epost)
	e.Request = r.ID
	e.UpdatedAt = now
}

// Change is the register change of a request that is done.
//
// ovriga_kundnummer: the export is one row per person and kundnummer, so
// every övrigt kundnummer gets its own row with Standardkund set to the main
// kundnummer of the form. Those rows follow the main row: an andring
// rewrites them (keeping them when the form lists none), a workplace change
// drops the old workplace's rows, an avslut removes them.
func Change(rows store.RegisterRows, r store.Request, now time.Time) (store.RegisterChange, error) {
	var ch store.RegisterChange
	f := r.Fields
	main := formparse.FieldKundnummer.Value(f)
	if main == "" {
		return ch, fmt.Errorf("no kundnummer: %w", store.ErrInvalid)
	}
	ovriga := splitKundnummer(formparse.FieldOvrigaKundnummer.Value(f))
	existing, err := findPerson(rows, f)
	if err != nil {
		return ch, err
	}
	// write puts base's row at each kundnummer of targets, once each (a
	// kundnummer listed twice, or the main one among the others, is one row).
	write := func(base store.RegisterEntry, targets []string) {
		var written []string
		for _, k := range targets {
			if k == "" || slices.Contains(written, k) {
				continue
			}
			written = append(written, k)
			e := base
			e.Kundnummer, e.Standardkund = k, main
			ch.Put = append(ch.Put, e)
		}
	}
	targets := append([]string{main}, ovriga...)
	switch r.Type {
	case store.TypeNy:
		// A new registration replaces whatever the person had at these numbers.
		for _, e := range existing {
			if slices.Contains(targets, e.Kundnummer) {
				ch.Delete = append(ch.Delete, e)
			}
		}
		var e store.RegisterEntry
		update(&e, r, true, now)
		write(e, targets)
		return ch, nil
	case store.TypeAndring:
		from := main
		prevKund := formparse.FieldTidigareKundnummer.Value(f)
		moved := formparse.FieldAndringArbetsplats.Ticked(f) && prevKund != ""
		if moved {
			from = prevKund
		}
		var prev store.RegisterEntry
		found := false
		var prevOvriga []string
		for _, e := range existing {
			if e.Kundnummer != from && e.Standardkund != from {
				continue
			}
			if e.Kundnummer == from || !found {
				prev, found = e, true
			}
			if e.Kundnummer != from {
				prevOvriga = append(prevOvriga, e.Kundnummer)
			}
			ch.Delete = append(ch.Delete, e)
		}
		update(&prev, r, !found, now)
		if len(ovriga) == 0 && !moved {
			targets = append(targets, prevOvriga...)
		}
		write(prev, targets)
		return ch, nil
	case store.TypeAvslut:
		for _, e := range existing {
			if slices.Contains(targets, e.Kundnummer) || e.Standardkund == main {
				ch.Delete = append(ch.Delete, e)
			}
		}
		return ch, nil
	}
	return ch, fmt.Errorf("unknown type %q: %w", r.Type, store.ErrInvalid)
}
