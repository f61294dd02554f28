// Package storetest holds what the tests of the store and of the code over
// it share: a valid request's fields as formparse gives them, and a check
// for errors that end the test. It imports nothing of this module, so the
// store's own tests can use it.
package storetest

import "testing"

// UserFields are a valid single-user ny form's fields, as formparse gives
// them.
func UserFields(fornamn, efternamn, epost, kundnummer string) map[string]string {
	return map[string]string{
		"blankett": "websesam-behorighet/1", "arende": "ny", "galler_fran": "2026-03-01",
		"fornamn": fornamn, "efternamn": efternamn, "hsa_id": "", "yrke": "Arbetsterapeut",
		"epost": epost, "telefon": "010-123 45 67", "verksamhet": "Rehab", "enhet": "Rehab Norr",
		"kundnummer": kundnummer, "ovriga_kundnummer": "", "buffertforrad": "",
		"roll_forskrivare": "true", "roll_bestallare": "false",
		"andring_tjanstledighet": "false", "tjanstledig_fran": "", "tjanstledig_till": "",
		"andring_namnbyte": "false", "tidigare_namn": "", "andring_arbetsplats": "false",
		"tidigare_kundnummer": "", "andring_roll": "false",
		"chef_namn": "Karin Chef", "chef_epost": "karin.chef@region.test", "chef_telefon": "010-111 11 11",
		"datum": "2026-03-01",
	}
}

// NoErr ends the test when err is not nil.
func NoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
