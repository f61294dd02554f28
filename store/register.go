package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RegisterEntry is one row of the Kund- och förskrivarregister: one person's
// authorisation for one kundnummer.
//
// Identity: a person is their HSA-id when the form gives one, otherwise their
// e-mail address (lower case); Person holds "hsa:SE…" or "epost:…". Both are
// indexed, so a person first registered by e-mail and later with an HSA-id is
// found and moved to the HSA-id key. Names are not identities (two Anna
// Svenssons exist); tidigare_namn is used only as a last resort, for a name
// change whose new e-mail and missing HSA-id match nothing, and only when
// exactly one row under the kundnummer carries that previous name.
//
// ovriga_kundnummer: the export is one row per person and kundnummer, so
// every övrigt kundnummer gets its own row with Standardkund set to the main
// kundnummer of the form. Those rows follow the main row: an andring
// rewrites them (keeping them when the form lists none), a workplace change
// drops the old workplace's rows, an avslut removes them.
type RegisterEntry struct {
	V               int       `json:"v"`
	Kundnummer      string    `json:"kundnummer"`
	Standardkund    string    `json:"standardkund"` // the form's main kundnummer
	Person          string    `json:"person"`       // identity key, see above
	HSAID           string    `json:"hsa_id,omitempty"`
	Fornamn         string    `json:"fornamn"`
	Efternamn       string    `json:"efternamn"`
	TidigareNamn    string    `json:"tidigare_namn,omitempty"`
	Yrke            string    `json:"yrke,omitempty"`
	Epost           string    `json:"epost"`
	Telefon         string    `json:"telefon,omitempty"`
	Verksamhet      string    `json:"verksamhet,omitempty"`
	Enhet           string    `json:"enhet,omitempty"`
	Buffertforrad   string    `json:"buffertforrad,omitempty"`
	Forskrivare     bool      `json:"forskrivare"`
	Bestallare      bool      `json:"bestallare"`
	ChefNamn        string    `json:"chef_namn,omitempty"`
	ChefEpost       string    `json:"chef_epost,omitempty"`
	ChefTelefon     string    `json:"chef_telefon,omitempty"`
	GallerFran      string    `json:"galler_fran,omitempty"` // valid from, YYYY-MM-DD
	TjanstledigFran string    `json:"tjanstledig_fran,omitempty"`
	TjanstledigTill string    `json:"tjanstledig_till,omitempty"`
	Username        string    `json:"username,omitempty"` // webSesam user name
	Request         string    `json:"request"`            // the request that last changed the row
	UpdatedAt       time.Time `json:"updated_at"`
}

func personKey(hsa, epost string) string {
	if hsa = strings.ToUpper(strings.TrimSpace(hsa)); hsa != "" {
		return "hsa:" + hsa
	}
	return "epost:" + normAddr(epost)
}

// aliases are the keys a person is found by in the person index.
func aliases(hsa, epost string) []string {
	var out []string
	if hsa = strings.ToUpper(strings.TrimSpace(hsa)); hsa != "" {
		out = append(out, "hsa:"+hsa)
	}
	if epost = normAddr(epost); epost != "" {
		out = append(out, "epost:"+epost)
	}
	return out
}

func (e RegisterEntry) key() []byte { return registerKey(e.Kundnummer, e.Person) }

// registerKey and personIndexKey bound both parts (keyText): kundnummer and
// e-mail address come from the form. The person index's value is the
// person key as written, and a part read back from a key is already bounded.
func registerKey(kundnummer, person string) []byte {
	return join(keyText(kundnummer), keyText(person))
}

func personIndexKey(alias, kundnummer string) []byte {
	return join(keyText(alias), keyText(kundnummer))
}

func putEntry(tx *bolt.Tx, e RegisterEntry) error {
	e.V = recordVersion
	v, err := encode(e)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketRegister).Put(e.key(), v); err != nil {
		return fmt.Errorf("write register row: %w", err)
	}
	for _, a := range aliases(e.HSAID, e.Epost) {
		if err := tx.Bucket(bucketRegisterPerson).Put(personIndexKey(a, e.Kundnummer), []byte(e.Person)); err != nil {
			return fmt.Errorf("index register row: %w", err)
		}
	}
	return nil
}

func deleteEntry(tx *bolt.Tx, e RegisterEntry) error {
	if err := tx.Bucket(bucketRegister).Delete(e.key()); err != nil {
		return fmt.Errorf("delete register row: %w", err)
	}
	idx := tx.Bucket(bucketRegisterPerson)
	for _, a := range aliases(e.HSAID, e.Epost) {
		k := personIndexKey(a, e.Kundnummer)
		// Only drop the alias if it still points at this row's person.
		if string(idx.Get(k)) == e.Person {
			if err := idx.Delete(k); err != nil {
				return fmt.Errorf("unindex register row: %w", err)
			}
		}
	}
	return nil
}

func getEntry(tx *bolt.Tx, kundnummer, person string) (RegisterEntry, bool, error) {
	v := tx.Bucket(bucketRegister).Get(registerKey(kundnummer, person))
	if v == nil {
		return RegisterEntry{}, false, nil
	}
	var e RegisterEntry
	if err := decode(v, &e); err != nil {
		return RegisterEntry{}, false, fmt.Errorf("read register row: %w", err)
	}
	return e, true, nil
}

// rowsByAlias returns every row of the person known by alias.
func rowsByAlias(tx *bolt.Tx, alias string) ([]RegisterEntry, error) {
	var out []RegisterEntry
	prefix := join(keyText(alias), nil)
	err := prefixed(tx.Bucket(bucketRegisterPerson), prefix, func(k, v []byte) error {
		e, ok, err := getEntry(tx, string(k[len(prefix):]), string(v))
		if err != nil || !ok {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// rowsOfKundnummer returns every row under one kundnummer.
func rowsOfKundnummer(tx *bolt.Tx, kundnummer string) ([]RegisterEntry, error) {
	var out []RegisterEntry
	var prefix []byte // nil: every row
	if kundnummer != "" {
		prefix = join(keyText(kundnummer), nil)
	}
	err := prefixed(tx.Bucket(bucketRegister), prefix, func(_, v []byte) error {
		var e RegisterEntry
		if err := decode(v, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// findPerson returns every register row of the person a form is about (see
// RegisterEntry for how identity is decided).
func findPerson(tx *bolt.Tx, f map[string]string) ([]RegisterEntry, error) {
	var out []RegisterEntry
	add := func(rows []RegisterEntry) {
		for _, e := range rows {
			if !slices.ContainsFunc(out, func(o RegisterEntry) bool { return string(o.key()) == string(e.key()) }) {
				out = append(out, e)
			}
		}
	}
	for _, a := range aliases(f["hsa_id"], f["epost"]) {
		rows, err := rowsByAlias(tx, a)
		if err != nil {
			return nil, err
		}
		add(rows)
	}
	if len(out) > 0 || !ticked(f["andring_namnbyte"]) || strings.TrimSpace(f["tidigare_namn"]) == "" {
		return out, nil
	}
	prev := strings.ToLower(strings.Join(strings.Fields(f["tidigare_namn"]), " "))
	var match []RegisterEntry
	for _, k := range []string{f["kundnummer"], f["tidigare_kundnummer"]} {
		if k == "" {
			continue
		}
		rows, err := rowsOfKundnummer(tx, k)
		if err != nil {
			return nil, err
		}
		for _, e := range rows {
			full := strings.ToLower(e.Fornamn + " " + e.Efternamn)
			if full == prev || strings.ToLower(e.Efternamn) == prev && strings.EqualFold(e.Fornamn, f["fornamn"]) {
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
		rows, err := rowsByAlias(tx, p)
		if err != nil {
			return nil, err
		}
		add(rows)
	}
	return out, nil
}

func ticked(v string) bool { return v == "true" }

// update copies what a form says into e. Roles are taken from a ny, or from
// an andring that ticks andring_roll; leave dates only when
// andring_tjanstledighet is ticked; other values when given.
func (e *RegisterEntry) update(r Request, fresh bool, now time.Time) {
	f := r.Fields
	set := func(dst *string, name string) {
		if v := strings.TrimSpace(f[name]); v != "" {
			*dst = v
		}
	}
	set(&e.Fornamn, "fornamn")
	set(&e.Efternamn, "efternamn")
	set(&e.HSAID, "hsa_id")
	e.HSAID = strings.ToUpper(e.HSAID)
	set(&e.Epost, "epost")
	set(&e.Yrke, "yrke")
	set(&e.Telefon, "telefon")
	set(&e.Verksamhet, "verksamhet")
	set(&e.Enhet, "enhet")
	set(&e.Buffertforrad, "buffertforrad")
	set(&e.ChefNamn, "chef_namn")
	set(&e.ChefEpost, "chef_epost")
	set(&e.ChefTelefon, "chef_telefon")
	set(&e.GallerFran, "galler_fran")
	if fresh || ticked(f["andring_roll"]) {
		e.Forskrivare = ticked(f["roll_forskrivare"])
		e.Bestallare = ticked(f["roll_bestallare"])
	}
	if ticked(f["andring_tjanstledighet"]) {
		e.TjanstledigFran, e.TjanstledigTill = f["tjanstledig_fran"], f["tjanstledig_till"]
	}
	if ticked(f["andring_namnbyte"]) {
		set(&e.TidigareNamn, "tidigare_namn")
	}
	if r.Username != "" {
		e.Username = r.Username
	}
	e.Person = personKey(e.HSAID, e.Epost)
	e.Request = r.ID
	e.UpdatedAt = now
}

// applyRegister changes the register for a request that is done, in the
// transaction that completes it.
func applyRegister(tx *bolt.Tx, r Request, now time.Time) error {
	f := r.Fields
	main := f["kundnummer"]
	if main == "" {
		return fmt.Errorf("update register for %s: no kundnummer: %w", r.ID, ErrInvalid)
	}
	ovriga := splitKundnummer(f["ovriga_kundnummer"])
	existing, err := findPerson(tx, f)
	if err != nil {
		return fmt.Errorf("update register for %s: %w", r.ID, err)
	}
	write := func(base RegisterEntry, targets []string) error {
		for _, k := range targets {
			e := base
			e.Kundnummer, e.Standardkund = k, main
			if err := putEntry(tx, e); err != nil {
				return err
			}
		}
		return nil
	}
	targets := append([]string{main}, ovriga...)
	switch r.Type {
	case TypeNy:
		// A new registration replaces whatever the person had at these numbers.
		for _, e := range existing {
			if slices.Contains(targets, e.Kundnummer) {
				if err := deleteEntry(tx, e); err != nil {
					return err
				}
			}
		}
		var e RegisterEntry
		e.update(r, true, now)
		return write(e, dedupe(targets))
	case TypeAndring:
		from := main
		moved := ticked(f["andring_arbetsplats"]) && f["tidigare_kundnummer"] != ""
		if moved {
			from = f["tidigare_kundnummer"]
		}
		var prev RegisterEntry
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
			if err := deleteEntry(tx, e); err != nil {
				return err
			}
		}
		prev.update(r, !found, now)
		if len(ovriga) == 0 && !moved {
			targets = append(targets, prevOvriga...)
		}
		return write(prev, dedupe(targets))
	case TypeAvslut:
		for _, e := range existing {
			if slices.Contains(targets, e.Kundnummer) || e.Standardkund == main {
				if err := deleteEntry(tx, e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return fmt.Errorf("update register for %s: unknown type %q: %w", r.ID, r.Type, ErrInvalid)
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// RegisterFilter selects register rows. Zero fields match everything.
type RegisterFilter struct {
	Kundnummer string
	Person     string // an HSA-id or an e-mail address
}

// RegisterList returns register rows ordered by kundnummer, then person
// (the export's order). Audited with the ids of the requests behind the
// rows, never the filter's values.
func (s *Store) RegisterList(actor string, f RegisterFilter) ([]RegisterEntry, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	var out []RegisterEntry
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		switch {
		case f.Person != "":
			p := strings.TrimSpace(f.Person)
			for _, a := range dedupe([]string{"hsa:" + strings.ToUpper(p), "epost:" + normAddr(p)}) {
				rows, err := rowsByAlias(tx, a)
				if err != nil {
					return err
				}
				for _, e := range rows {
					if f.Kundnummer != "" && e.Kundnummer != f.Kundnummer {
						continue
					}
					if !slices.ContainsFunc(out, func(o RegisterEntry) bool { return string(o.key()) == string(e.key()) }) {
						out = append(out, e)
					}
				}
			}
			slices.SortFunc(out, func(a, b RegisterEntry) int { return strings.Compare(string(a.key()), string(b.key())) })
		case f.Kundnummer != "":
			out, err = rowsOfKundnummer(tx, f.Kundnummer)
		default:
			out, err = rowsOfKundnummer(tx, "")
		}
		if err != nil {
			return err
		}
		var ids []string
		for _, e := range out {
			if !slices.Contains(ids, e.Request) {
				ids = append(ids, e.Request)
			}
		}
		detail := ""
		if f.Kundnummer != "" {
			detail += "by kundnummer "
		}
		if f.Person != "" {
			detail += "by person"
		}
		return s.appendAudit(tx, actor, AuditRegisterList, ids, len(out), strings.TrimSpace(detail))
	})
	if err != nil {
		return nil, fmt.Errorf("list register: %w", err)
	}
	return out, nil
}
