package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RegisterEntry is one row of the Kund- och förskrivarregister: one person's
// authorisation for one kundnummer. Which rows a done request writes, moves
// or removes, and who a form's person is, are the register's rules
// (FieldRules.Register, kept with the form in intake/register); the store
// keeps the rows and finds them by kundnummer and by person.
//
// Person is the row's identity key, "hsa:SE…" or "epost:…" (HSAAlias,
// EpostAlias). Each row is also indexed under both its HSA-id and its
// e-mail address, so a person first registered by e-mail and later with
// an HSA-id is found under either.
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

// HSAAlias is the key a person is found by through an HSA-id (any case).
func HSAAlias(hsa string) string { return "hsa:" + strings.ToUpper(strings.TrimSpace(hsa)) }

// EpostAlias is the key a person is found by through an e-mail address
// (any case).
func EpostAlias(epost string) string { return "epost:" + normAddr(epost) }

// aliases are the keys a row is found by in the person index.
func aliases(hsa, epost string) []string {
	var out []string
	if strings.TrimSpace(hsa) != "" {
		out = append(out, HSAAlias(hsa))
	}
	if normAddr(epost) != "" {
		out = append(out, EpostAlias(epost))
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
	return findRecord[RegisterEntry](tx.Bucket(bucketRegister), registerKey(kundnummer, person), "register row")
}

// rowsByAlias returns every row of the person known by alias.
func rowsByAlias(tx *bolt.Tx, alias string) ([]RegisterEntry, error) {
	var out []RegisterEntry
	err := eachFiledUnder(tx.Bucket(bucketRegisterPerson), alias, func(kundnummer, person []byte) error {
		e, ok, err := getEntry(tx, string(kundnummer), string(person))
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
	err := eachRecordUnder(tx.Bucket(bucketRegister), prefix, func(e RegisterEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// txRows reads the register for FieldRules.Register inside tx.
type txRows struct{ tx *bolt.Tx }

func (r txRows) ByAlias(alias string) ([]RegisterEntry, error) { return rowsByAlias(r.tx, alias) }

func (r txRows) OfKundnummer(kundnummer string) ([]RegisterEntry, error) {
	if kundnummer == "" {
		return nil, nil
	}
	return rowsOfKundnummer(r.tx, kundnummer)
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
	return audited(s, actor, "list register", func(tx *bolt.Tx) ([]RegisterEntry, auditNote, error) {
		var out []RegisterEntry
		var err error
		switch {
		case f.Person != "":
			p := strings.TrimSpace(f.Person)
			for _, a := range dedupe([]string{HSAAlias(p), EpostAlias(p)}) {
				rows, err := rowsByAlias(tx, a)
				if err != nil {
					return nil, auditNote{}, err
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
			return nil, auditNote{}, err
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
		return out, auditNote{action: AuditRegisterList, subjects: ids, count: len(out), detail: strings.TrimSpace(detail)}, nil
	})
}
