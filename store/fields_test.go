package store

import (
	"strings"
	"time"
)

// The store's own tests run with small field rules of their own: the real
// ones (intake/register) import the store, and their register behaviour is
// tested there against a real store. These index the same terms and keep a
// simple register: one row per kundnummer of the form, for the person of
// its HSA-id or e-mail; an avslut removes the person's rows.
func init() { SetFieldRules(testRules) }

var testRules = FieldRules{
	SearchTerms: func(f map[string]string) []string {
		out := []string{f["fornamn"], f["efternamn"], f["tidigare_namn"], f["epost"], f["hsa_id"], f["kundnummer"], f["tidigare_kundnummer"]}
		return append(out, testKundnummer(f)[1:]...)
	},
	SearchNames: func(f map[string]string) []string {
		return []string{f["fornamn"] + " " + f["efternamn"], f["efternamn"] + " " + f["fornamn"], f["tidigare_namn"]}
	},
	KeptFields: []string{"verksamhet", "kundnummer"},
	Register: func(rows RegisterRows, r Request, now time.Time) (RegisterChange, error) {
		var ch RegisterChange
		f := r.Fields
		person := EpostAlias(f["epost"])
		if strings.TrimSpace(f["hsa_id"]) != "" {
			person = HSAAlias(f["hsa_id"])
		}
		old, err := rows.ByAlias(person)
		if err != nil {
			return ch, err
		}
		ch.Delete = old
		if r.Type == TypeAvslut {
			return ch, nil
		}
		for _, k := range testKundnummer(f) {
			ch.Put = append(ch.Put, RegisterEntry{
				Kundnummer: k, Standardkund: f["kundnummer"], Person: person, HSAID: strings.ToUpper(f["hsa_id"]),
				Fornamn: f["fornamn"], Efternamn: f["efternamn"], Epost: f["epost"], Username: r.Username,
				Request: r.ID, UpdatedAt: now,
			})
		}
		return ch, nil
	},
}

// testKundnummer is the form's kundnummer, then its distinct övriga.
func testKundnummer(f map[string]string) []string {
	out := []string{f["kundnummer"]}
	for _, k := range strings.FieldsFunc(f["ovriga_kundnummer"], func(r rune) bool { return r == ',' || r == ' ' }) {
		if !containsString(out, k) {
			out = append(out, k)
		}
	}
	return out
}
