package store

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// FieldRules is what the store needs to know about a request's fields,
// which it otherwise keeps as opaque data: what staff search by, what a
// purged request keeps, and how a done request changes the register. The
// field names and the register's rules belong to the form, not to the
// store (which imports nothing of this module): the package that holds them
// (intake/register) hands them over with SetFieldRules when the program
// starts.
type FieldRules struct {
	// SearchTerms are the values staff find a request by, as typed (the
	// store folds them to lower case and single spaces, bounds them with
	// keyText and keeps at most maxSearchTerms).
	SearchTerms func(fields map[string]string) []string
	// SearchNames are the full names a search of several words must start
	// ("anna sv" finds Anna Svensson); folded like SearchTerms.
	SearchNames func(fields map[string]string) []string
	// KeptFields are the fields a purged request keeps: they name the
	// ordering organisation, never a person.
	KeptFields []string
	// Register returns the change a done request makes to the register,
	// reading the rows it needs through rows; Complete applies it in the
	// same transaction. Nil: Complete refuses, since a done request must
	// reach the register.
	Register func(rows RegisterRows, r Request, now time.Time) (RegisterChange, error)
}

// RegisterRows reads the register inside the transaction completing a
// request.
type RegisterRows interface {
	// ByAlias returns every row of the person known by alias (HSAAlias
	// or EpostAlias).
	ByAlias(alias string) ([]RegisterEntry, error)
	// OfKundnummer returns every row under one kundnummer.
	OfKundnummer(kundnummer string) ([]RegisterEntry, error)
}

// RegisterChange is what completing a request does to the register: the
// rows in Delete go first, then the rows in Put are written (a row is
// known by its Kundnummer and Person).
type RegisterChange struct {
	Delete []RegisterEntry
	Put    []RegisterEntry
}

var fieldRules atomic.Pointer[FieldRules]

// SetFieldRules sets the rules every Store of the program uses. The form is
// one for the whole program, so the rules are too; set them before the
// first store is opened.
func SetFieldRules(r FieldRules) { fieldRules.Store(&r) }

func rules() FieldRules {
	if r := fieldRules.Load(); r != nil {
		return *r
	}
	return FieldRules{}
}

// foldTerm folds a search term or name: lower case, single spaces.
func foldTerm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// searchTerms are the folded, distinct, bounded terms a request is indexed
// under. Full names are not indexed (each term is a leaf page written with
// fsync on every request); a search of several words is answered from its
// first word and filtered on the full names. At most maxSearchTerms terms
// are kept, and each becomes a key through keyText, so no value, however
// long, makes a key bbolt refuses.
func searchTerms(f map[string]string) []string {
	fn := rules().SearchTerms
	if fn == nil || len(f) == 0 {
		return nil
	}
	var out []string
	for _, s := range fn(f) {
		s = foldTerm(s)
		if s != "" && len(out) < maxSearchTerms && !containsString(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// nameMatches reports whether term (folded) starts one of the request's
// full names.
func nameMatches(f map[string]string, term string) bool {
	fn := rules().SearchNames
	if fn == nil {
		return false
	}
	for _, name := range fn(f) {
		if strings.HasPrefix(foldTerm(name), term) {
			return true
		}
	}
	return false
}

// applyRegister changes the register for a request that is done, in the
// transaction that completes it, as the program's register rules say.
func applyRegister(rows txRows, r Request, now time.Time) error {
	fn := rules().Register
	if fn == nil {
		return fmt.Errorf("update register for %s: this program set no register rules (store.SetFieldRules): %w", r.ID, ErrInvalid)
	}
	ch, err := fn(rows, r, now)
	if err != nil {
		return fmt.Errorf("update register for %s: %w", r.ID, err)
	}
	for _, e := range ch.Delete {
		if err := deleteEntry(rows.tx, e); err != nil {
			return err
		}
	}
	for _, e := range ch.Put {
		if e.Kundnummer == "" || e.Person == "" {
			return fmt.Errorf("update register for %s: a row without kundnummer or person: %w", r.ID, ErrInvalid)
		}
		if err := putEntry(rows.tx, e); err != nil {
			return err
		}
	}
	return nil
}
