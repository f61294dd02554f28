package formparse

// The names of the form's fields, groups and user-row columns, one typed
// constant each: the only place outside the form definition (form.go) where
// they are spelt. Code elsewhere reads a value with
// FieldFornamn.Value(fields) and compares with string(FieldFornamn); a test
// in this package checks that the constants and the definition name the
// same set, and another that no other package spells a name as a string
// literal.

// FieldName names a field of a form (the AcroForm field name and the
// workbook defined name), which is also the key of its value in
// Form.Fields and in a user's fields.
type FieldName string

// The fields, in form order. The person fields (FieldFornamn to
// FieldTelefon) are also the columns of a user row on the multi-user form.
const (
	FieldBlankett              FieldName = "blankett"
	FieldArende                FieldName = "arende"
	FieldGallerFran            FieldName = "galler_fran"
	FieldFornamn               FieldName = "fornamn"
	FieldEfternamn             FieldName = "efternamn"
	FieldHSAID                 FieldName = "hsa_id"
	FieldYrke                  FieldName = "yrke"
	FieldEpost                 FieldName = "epost"
	FieldTelefon               FieldName = "telefon"
	FieldVerksamhet            FieldName = "verksamhet"
	FieldEnhet                 FieldName = "enhet"
	FieldKundnummer            FieldName = "kundnummer"
	FieldOvrigaKundnummer      FieldName = "ovriga_kundnummer"
	FieldBuffertforrad         FieldName = "buffertforrad"
	FieldRollForskrivare       FieldName = "roll_forskrivare"
	FieldRollBestallare        FieldName = "roll_bestallare"
	FieldAndringTjanstledighet FieldName = "andring_tjanstledighet"
	FieldTjanstledigFran       FieldName = "tjanstledig_fran"
	FieldTjanstledigTill       FieldName = "tjanstledig_till"
	FieldAndringNamnbyte       FieldName = "andring_namnbyte"
	FieldTidigareNamn          FieldName = "tidigare_namn"
	FieldAndringArbetsplats    FieldName = "andring_arbetsplats"
	FieldTidigareKundnummer    FieldName = "tidigare_kundnummer"
	FieldAndringRoll           FieldName = "andring_roll"
	FieldChefNamn              FieldName = "chef_namn"
	FieldChefEpost             FieldName = "chef_epost"
	FieldChefTelefon           FieldName = "chef_telefon"
	FieldDatum                 FieldName = "datum"
)

// FieldNames lists every field name, in form order.
var FieldNames = []FieldName{
	FieldBlankett, FieldArende, FieldGallerFran, FieldFornamn, FieldEfternamn, FieldHSAID, FieldYrke, FieldEpost, FieldTelefon,
	FieldVerksamhet, FieldEnhet, FieldKundnummer, FieldOvrigaKundnummer, FieldBuffertforrad,
	FieldRollForskrivare, FieldRollBestallare,
	FieldAndringTjanstledighet, FieldTjanstledigFran, FieldTjanstledigTill, FieldAndringNamnbyte, FieldTidigareNamn,
	FieldAndringArbetsplats, FieldTidigareKundnummer, FieldAndringRoll,
	FieldChefNamn, FieldChefEpost, FieldChefTelefon, FieldDatum,
}

// Value is the field's value in fields ("" when absent).
func (n FieldName) Value(fields map[string]string) string { return fields[string(n)] }

// Ticked reports whether the checkbox n is ticked in fields.
func (n FieldName) Ticked(fields map[string]string) bool { return fields[string(n)] == CheckboxTicked }

// CheckboxTicked is the stored value of a ticked checkbox ("false" when not).
const CheckboxTicked = "true"

// UnnamedFile is the name a reply gives an attached form that came without
// a file name.
const UnnamedFile = "blankett"

// GroupName names a group rule of a form.
type GroupName string

// The groups.
const (
	// GroupRoll: at least one role (Förskrivare, Beställare).
	GroupRoll GroupName = "roll"
	// GroupAndringTyp: at least one kind of change on an ändring.
	GroupAndringTyp GroupName = "andring_typ"
	// GroupAnvandare: at least one user row on the multi-user form.
	GroupAnvandare GroupName = "anvandare"
)

// GroupNames lists every group name.
var GroupNames = []GroupName{GroupRoll, GroupAndringTyp, GroupAnvandare}

// Group returns the group with the given name, or false.
func (d *Definition) Group(name GroupName) (Group, bool) {
	for _, g := range d.Groups {
		if g.Name == string(name) {
			return g, true
		}
	}
	return Group{}, false
}
