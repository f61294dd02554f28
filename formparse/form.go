package formparse

import (
	"fmt"
	"strconv"
	"strings"
)

// FormID names one of the published forms. It is the part of the read-only
// field `blankett` before the slash.
type FormID string

// The two forms of version 1.
const (
	Single FormID = "websesam-behorighet"
	Multi  FormID = "websesam-behorighet-flera"
)

// Version is the only form version this package reads and writes.
const Version = 1

// SupportLine is the support contact every blank form and every reply
// carries (rule 7 of docs/form.md).
const SupportLine = "webSesam-support: 010-473 80 80, val 4"

// Kind says how a field's value is written and checked.
type Kind int

// The kinds of field on the form.
const (
	Text           Kind = iota // free text, folded
	Choice                     // one of Field.Choices (Ärende)
	Date                       // stored as YYYY-MM-DD
	Email                      // a bare address
	Phone                      // 7–15 digits with + ( ) - and spaces
	HSAID                      // SE + 10 digits + '-' + letters/digits, stored in capitals
	Kundnummer                 // exactly six digits, spaces allowed when written
	KundnummerList             // six-digit numbers, separated by , ; space or newline
	Checkbox                   // ticked or not; stored "true"/"false"
	Tag                        // the read-only `blankett` field
)

// Ärende values (export values of the radio group / drop-down).
const (
	ArendeNy      = "ny"
	ArendeAndring = "andring"
	ArendeAvslut  = "avslut"
)

// Option is one option of a Choice field: the export value stored and the
// label shown on the form.
type Option struct {
	Value string
	Label string
}

// Requirement says when a field (or a group) must be filled in. A field is
// mandatory when Always is set, when `arende` is one of Arende, or when the
// checkbox named Ticked is ticked. The zero value means optional.
type Requirement struct {
	Always bool
	Arende []string
	Ticked string
}

// Mandatory reports whether the requirement can ever apply, which is when the
// blank form marks the field with `*`.
func (r Requirement) Mandatory() bool {
	return r.Always || len(r.Arende) > 0 || r.Ticked != ""
}

// Applies reports whether the requirement applies for the given (normalised)
// arende value and the set of ticked checkboxes.
func (r Requirement) Applies(arende string, ticked func(name string) bool) bool {
	if r.Always {
		return true
	}
	for _, a := range r.Arende {
		if a == arende {
			return true
		}
	}
	return r.Ticked != "" && ticked(r.Ticked)
}

// Field is one field of a form: its name (the AcroForm field name and the
// workbook defined name), the label the form shows and replies quote, its
// kind, the section it stands in and when it is mandatory.
type Field struct {
	Name     string
	Label    string
	Kind     Kind
	Section  string
	Required Requirement
	Choices  []Option // Choice fields only
	Hint     string   // a short example shown beside the input, e.g. "ÅÅÅÅ-MM-DD"
	// NotBefore names a date field this date may not precede (tjanstledig_till).
	NotBefore string
	// MaxLen is the most characters (after folding) a value may have; a
	// longer one is a problem "för lång, högst N tecken". Every text, e-mail
	// and phone field has one, so that nothing a sender writes grows a
	// reply, a log or a key of the store without bound; the other kinds are
	// bounded by their own format.
	MaxLen int
	// MaxItems is the most numbers a KundnummerList may hold.
	MaxItems int
}

// Group is a rule over several fields, reported once under its own name:
// at least one of Members must be ticked (or, for the user group, one user
// row must exist) whenever Required applies.
type Group struct {
	Name     string
	Label    string
	Members  []string
	Required Requirement
}

// Sections of the form, in the order they appear.
const (
	SectionArende     = "Ärende"
	SectionPerson     = "Uppgifter om användaren"
	SectionKund       = "Verksamhet och kundnummer"
	SectionBehorighet = "Behörighet"
	SectionAndring    = "Vid ändring"
	SectionChef       = "Ansvarig chef"
	SectionUsers      = "Användare"
)

var arendeChoices = []Option{
	{ArendeNy, "Ny registrering"},
	{ArendeAndring, "Ändring"},
	{ArendeAvslut, "Avslut"},
}

var (
	always     = Requirement{Always: true}
	nyAndring  = Requirement{Arende: []string{ArendeNy, ArendeAndring}}
	optional   = Requirement{}
	ny         = Requirement{Arende: []string{ArendeNy}}
	whenTicked = func(box string) Requirement { return Requirement{Ticked: box} }
	dateHint   = "ÅÅÅÅ-MM-DD"
	kundnrHint = "sex siffror, t.ex. 602154"
)

// The maximum lengths of values, in characters.
const (
	MaxName   = 100 // a person's name
	MaxEmail  = 254 // an e-mail address (RFC 5321's path limit)
	MaxText   = 200 // other free text
	MaxPhone  = 30  // a phone number as written
	MaxKundnr = 20  // numbers in Övriga kundnummer
)

// The fields shared by both forms, in form order. Person fields of the
// single-user form are listed separately because the multi-user form has them
// per user row.
var (
	blankettField = Field{Name: "blankett", Label: "Blankett", Kind: Tag}

	headFields = []Field{
		{Name: "arende", Label: "Ärende", Kind: Choice, Section: SectionArende, Required: always, Choices: arendeChoices},
		{Name: "galler_fran", Label: "Gäller från (datum)", Kind: Date, Section: SectionArende, Required: always, Hint: dateHint},
	}

	// personFields are the single-user person fields; the multi-user form has
	// the same columns (UserColumns) per user row.
	personFields = []Field{
		{Name: "fornamn", Label: "Förnamn", Kind: Text, Section: SectionPerson, Required: always, MaxLen: MaxName},
		{Name: "efternamn", Label: "Efternamn", Kind: Text, Section: SectionPerson, Required: always, MaxLen: MaxName},
		{Name: "hsa_id", Label: "HSA-id", Kind: HSAID, Section: SectionPerson, Required: optional, Hint: "t.ex. SE2321000131-E000000000001"},
		{Name: "yrke", Label: "Titel/yrke", Kind: Text, Section: SectionPerson, Required: nyAndring, MaxLen: MaxText},
		{Name: "epost", Label: "E-post", Kind: Email, Section: SectionPerson, Required: always, MaxLen: MaxEmail},
		{Name: "telefon", Label: "Telefon", Kind: Phone, Section: SectionPerson, Required: nyAndring, MaxLen: MaxPhone},
	}

	kundFields = []Field{
		{Name: "verksamhet", Label: "Verksamhet/förvaltning", Kind: Text, Section: SectionKund, Required: nyAndring, MaxLen: MaxText},
		{Name: "enhet", Label: "Enhet/arbetsplats", Kind: Text, Section: SectionKund, Required: nyAndring, MaxLen: MaxText},
		{Name: "kundnummer", Label: "Kundnummer (standardkund)", Kind: Kundnummer, Section: SectionKund, Required: always, Hint: kundnrHint},
		{Name: "ovriga_kundnummer", Label: "Övriga kundnummer", Kind: KundnummerList, Section: SectionKund, Required: optional, Hint: "åtskilda med komma", MaxItems: MaxKundnr},
		{Name: "buffertforrad", Label: "Buffertförråd", Kind: Text, Section: SectionKund, Required: optional, MaxLen: MaxText},
	}

	rollFields = []Field{
		{Name: "roll_forskrivare", Label: "Förskrivare", Kind: Checkbox, Section: SectionBehorighet},
		{Name: "roll_bestallare", Label: "Beställare", Kind: Checkbox, Section: SectionBehorighet},
	}

	andringFields = []Field{
		{Name: "andring_tjanstledighet", Label: "Tjänstledighet", Kind: Checkbox, Section: SectionAndring},
		{Name: "tjanstledig_fran", Label: "Tjänstledig från", Kind: Date, Section: SectionAndring, Required: whenTicked("andring_tjanstledighet"), Hint: dateHint},
		{Name: "tjanstledig_till", Label: "Tjänstledig till", Kind: Date, Section: SectionAndring, Required: whenTicked("andring_tjanstledighet"), Hint: dateHint, NotBefore: "tjanstledig_fran"},
		{Name: "andring_namnbyte", Label: "Namnbyte", Kind: Checkbox, Section: SectionAndring},
		{Name: "tidigare_namn", Label: "Tidigare namn", Kind: Text, Section: SectionAndring, Required: whenTicked("andring_namnbyte"), MaxLen: MaxName},
		{Name: "andring_arbetsplats", Label: "Byte av arbetsplats", Kind: Checkbox, Section: SectionAndring},
		{Name: "tidigare_kundnummer", Label: "Tidigare kundnummer", Kind: Kundnummer, Section: SectionAndring, Required: whenTicked("andring_arbetsplats"), Hint: kundnrHint},
		{Name: "andring_roll", Label: "Byte av roll", Kind: Checkbox, Section: SectionAndring},
	}

	chefFields = []Field{
		{Name: "chef_namn", Label: "Ansvarig chef – namn", Kind: Text, Section: SectionChef, Required: always, MaxLen: MaxName},
		{Name: "chef_epost", Label: "Ansvarig chef – e-post", Kind: Email, Section: SectionChef, Required: always, MaxLen: MaxEmail},
		{Name: "chef_telefon", Label: "Ansvarig chef – telefon", Kind: Phone, Section: SectionChef, Required: always, MaxLen: MaxPhone},
		{Name: "datum", Label: "Datum", Kind: Date, Section: SectionChef, Required: always, Hint: dateHint},
	}

	rollGroup = Group{
		Name: "roll", Label: "Behörighet",
		Members:  []string{"roll_forskrivare", "roll_bestallare"},
		Required: Requirement{Arende: []string{ArendeNy}, Ticked: "andring_roll"},
	}
	andringGroup = Group{
		Name: "andring_typ", Label: "Typ av ändring",
		Members:  []string{"andring_tjanstledighet", "andring_namnbyte", "andring_arbetsplats", "andring_roll"},
		Required: Requirement{Arende: []string{ArendeAndring}},
	}
	userGroup = Group{Name: "anvandare", Label: "Användare", Required: always}
)

// Definition is everything about one form: its id, title, fields in form
// order, group rules and, for the multi-user form, the user-row columns.
type Definition struct {
	ID     FormID
	Title  string
	Fields []Field // every field, in form order, `blankett` first
	Groups []Group
	// UserColumns is set on the multi-user form: the columns of a user row.
	UserColumns []Field
	// MaxPDFUsers is the number of user rows in the PDF (anvandare_1_… to
	// anvandare_N_…); MaxUsers caps the rows read from a workbook.
	MaxPDFUsers int
	MaxUsers    int
}

// UserSheet is the name of the workbook sheet holding the user rows of the
// multi-user form; FormSheet holds the rest of either form.
const (
	FormSheet = "Ansökan"
	UserSheet = "Användare"
)

func concat(lists ...[]Field) []Field {
	var out []Field
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

var singleDef = &Definition{
	ID:     Single,
	Title:  "Ansökan om tillgång till webSesam samt ändring/avslut av behörighet",
	Fields: concat([]Field{blankettField}, headFields, personFields, kundFields, rollFields, andringFields, chefFields),
	Groups: []Group{rollGroup, andringGroup},
}

var multiDef = &Definition{
	ID:    Multi,
	Title: "Ansökan/ändring av behörighet för flera användare som önskar samma behörighet",
	Fields: concat([]Field{blankettField},
		[]Field{{Name: "arende", Label: "Ärende", Kind: Choice, Section: SectionArende, Required: always,
			Choices: []Option{arendeChoices[0], arendeChoices[2]}}},
		headFields[1:], kundFields[:], rollFields, chefFields),
	Groups:      []Group{rollGroup, userGroup},
	UserColumns: userColumns(),
	MaxPDFUsers: 15,
	MaxUsers:    500,
}

// userColumns are the person fields as columns of a user row; in the
// multi-user form `yrke` and `telefon` are mandatory for `ny` only.
func userColumns() []Field {
	cols := make([]Field, len(personFields))
	copy(cols, personFields)
	for i := range cols {
		cols[i].Section = SectionUsers
		if cols[i].Required.Equal(nyAndring) {
			cols[i].Required = ny
		}
	}
	return cols
}

// Equal reports whether two requirements are the same rule.
func (r Requirement) Equal(o Requirement) bool {
	if r.Always != o.Always || r.Ticked != o.Ticked || len(r.Arende) != len(o.Arende) {
		return false
	}
	for i := range r.Arende {
		if r.Arende[i] != o.Arende[i] {
			return false
		}
	}
	return true
}

// Definitions returns both form definitions, single-user first.
func Definitions() []*Definition { return []*Definition{singleDef, multiDef} }

// Lookup returns the definition of a form id, or nil.
func Lookup(id FormID) *Definition {
	for _, d := range Definitions() {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// Field returns the field with the given name, or false.
func (d *Definition) Field(name string) (Field, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// ChoiceLabel is the label the form shows for value, one of a choice
// field's export values; false when value is none of them.
func (f Field) ChoiceLabel(value string) (string, bool) {
	for _, o := range f.Choices {
		if o.Value == value {
			return o.Label, true
		}
	}
	return "", false
}

// UserColumn returns the user-row column with the given name, or false.
func (d *Definition) UserColumn(name string) (Field, bool) {
	for _, f := range d.UserColumns {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Blankett is the value of the read-only `blankett` field: "<form id>/1".
func (d *Definition) Blankett() string { return fmt.Sprintf("%s/%d", d.ID, Version) }

// UserFieldName is the PDF field name of column col of user row n (from 1):
// anvandare_3_epost.
func UserFieldName(n int, col string) string {
	return "anvandare_" + strconv.Itoa(n) + "_" + col
}

// UserLabel is how a problem in a user row is labelled: "Användare 3 – E-post".
func UserLabel(n int, colLabel string) string {
	return fmt.Sprintf("Användare %d – %s", n, colLabel)
}

// SplitUserFieldName splits a PDF field name anvandare_N_<column> into N and
// the column; ok is false for any other name.
func SplitUserFieldName(name string) (n int, col string, ok bool) {
	rest, found := strings.CutPrefix(name, "anvandare_")
	if !found {
		return 0, "", false
	}
	num, col, found := strings.Cut(rest, "_")
	if !found || col == "" {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0, "", false
	}
	return n, col, true
}

// Label returns the label of any field, group or user-row field name of this
// form (anvandare_3_epost gives "Användare 3 – E-post"); the name itself when
// it is unknown.
func (d *Definition) Label(name string) string {
	if f, ok := d.Field(name); ok {
		return f.Label
	}
	for _, g := range d.Groups {
		if g.Name == name {
			return g.Label
		}
	}
	if n, col, ok := SplitUserFieldName(name); ok {
		if c, ok := d.UserColumn(col); ok {
			return UserLabel(n, c.Label)
		}
	}
	return name
}
