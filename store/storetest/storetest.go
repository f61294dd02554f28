// Package storetest holds what the tests of the store and of the code over
// it share: a valid request's fields as formparse gives them, and a check
// for errors that end the test. It imports formparse alone (for the
// field names), which imports nothing of ours, so the store's own tests
// can use it.
package storetest

import (
	"testing"

	"github.com/regionhmc/websesam-intake/formparse"
)

// UserFields are a valid single-user ny form's fields, as formparse gives
// them.
func UserFields(fornamn, efternamn, epost, kundnummer string) map[string]string {
	f := map[formparse.FieldName]string{
		formparse.FieldBlankett: "websesam-behorighet/1", formparse.FieldArende: "ny", formparse.FieldGallerFran: "2026-03-01",
		formparse.FieldFornamn: fornamn, formparse.FieldEfternamn: efternamn, formparse.FieldHSAID: "", formparse.FieldYrke: "Arbetsterapeut",
		formparse.FieldEpost: epost, formparse.FieldTelefon: "010-123 45 67", formparse.FieldVerksamhet: "Rehab", formparse.FieldEnhet: "Rehab Norr",
		formparse.FieldKundnummer: kundnummer, formparse.FieldOvrigaKundnummer: "", formparse.FieldBuffertforrad: "",
		formparse.FieldRollForskrivare: "true", formparse.FieldRollBestallare: "false",
		formparse.FieldAndringTjanstledighet: "false", formparse.FieldTjanstledigFran: "", formparse.FieldTjanstledigTill: "",
		formparse.FieldAndringNamnbyte: "false", formparse.FieldTidigareNamn: "", formparse.FieldAndringArbetsplats: "false",
		formparse.FieldTidigareKundnummer: "", formparse.FieldAndringRoll: "false",
		formparse.FieldChefNamn: "Karin Chef", formparse.FieldChefEpost: "karin.chef@region.test", formparse.FieldChefTelefon: "010-111 11 11",
		formparse.FieldDatum: "2026-03-01",
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		out[string(k)] = v
	}
	return out
}

// NoErr ends the test when err is not nil.
func NoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
