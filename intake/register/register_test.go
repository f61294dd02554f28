package register_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/register"
	"github.com/regionhmc/websesam-intake/store"
	"github.com/regionhmc/websesam-intake/store/storetest"
)

// regStep is one form that goes through the whole life: recorded, claimed
// and completed.
type regStep struct {
	typ    string
	fields map[string]string // changes to a base form of that person
}

func runRegister(t *testing.T, s *store.Store, base map[string]string, steps []regStep) {
	t.Helper()
	for i, st := range steps {
		f := maps.Clone(base)
		f["arende"] = st.typ
		for k, v := range st.fields {
			f[k] = v
		}
		rec := record(t, s, testMessage(uint32(i+1), fmt.Sprintf("reg%d@mail.test", i)), fmt.Sprintf("h%d", i), f)
		id := rec.Requests[0].ID
		_, err := s.Claim(id, "eva", false)
		storetest.NoErr(t, err)
		_, err = s.Complete(id, "eva", "user"+id[len(id)-2:], "", nil)
		storetest.NoErr(t, err)
	}
}

// rows renders the register compactly: kundnummer/standardkund person name roles leave.
func rows(t *testing.T, s *store.Store, f store.RegisterFilter) []string {
	t.Helper()
	list, err := s.RegisterList("eva", f)
	storetest.NoErr(t, err)
	var out []string
	for _, e := range list {
		roles := ""
		if e.Forskrivare {
			roles += "F"
		}
		if e.Bestallare {
			roles += "B"
		}
		line := fmt.Sprintf("%s/%s %s %s %s %s", e.Kundnummer, e.Standardkund, e.Person, e.Fornamn+" "+e.Efternamn, roles, e.Username)
		if e.TjanstledigFran != "" {
			line += " ledig " + e.TjanstledigFran + ".." + e.TjanstledigTill
		}
		if e.TidigareNamn != "" {
			line += " f.d. " + e.TidigareNamn
		}
		out = append(out, line)
	}
	return out
}

func TestRegister(t *testing.T) {
	anna := storetest.UserFields("Anna", "Svensson", "anna@region.test", "602154")
	withHSA := maps.Clone(anna)
	withHSA["hsa_id"] = "SE2321000131-E000000000001"
	for _, tc := range []struct {
		name   string
		base   map[string]string
		steps  []regStep
		filter store.RegisterFilter
		want   []string
	}{
		{"ny", anna, []regStep{{"ny", nil}}, store.RegisterFilter{},
			[]string{"602154/602154 epost:anna@region.test Anna Svensson F user01"}},
		{"ny with övriga kundnummer makes one row each", anna,
			[]regStep{{"ny", map[string]string{"ovriga_kundnummer": "602155, 602156", "roll_bestallare": "true"}}}, store.RegisterFilter{},
			[]string{
				"602154/602154 epost:anna@region.test Anna Svensson FB user01",
				"602155/602154 epost:anna@region.test Anna Svensson FB user01",
				"602156/602154 epost:anna@region.test Anna Svensson FB user01",
			}},
		{"HSA-id is the identity when given", withHSA, []regStep{{"ny", nil}, {"andring", map[string]string{
			"epost": "anna.s@region.test", "andring_roll": "true", "roll_forskrivare": "false", "roll_bestallare": "true"}}},
			store.RegisterFilter{Person: "se2321000131-e000000000001"},
			[]string{"602154/602154 hsa:SE2321000131-E000000000001 Anna Svensson B user02"}},
		{"andring without andring_roll keeps roles", anna, []regStep{{"ny", nil}, {"andring", map[string]string{
			"andring_tjanstledighet": "true", "tjanstledig_fran": "2026-04-01", "tjanstledig_till": "2026-09-30",
			"roll_forskrivare": "false"}}}, store.RegisterFilter{Kundnummer: "602154"},
			[]string{"602154/602154 epost:anna@region.test Anna Svensson F user02 ledig 2026-04-01..2026-09-30"}},
		{"name change found by e-mail", anna, []regStep{{"ny", nil}, {"andring", map[string]string{
			"andring_namnbyte": "true", "tidigare_namn": "Anna Svensson", "efternamn": "Berg"}}}, store.RegisterFilter{},
			[]string{"602154/602154 epost:anna@region.test Anna Berg F user02 f.d. Anna Svensson"}},
		{"name change with new e-mail found by previous name", anna, []regStep{{"ny", nil}, {"andring", map[string]string{
			"andring_namnbyte": "true", "tidigare_namn": "anna svensson", "efternamn": "Berg", "epost": "anna.berg@region.test"}}},
			store.RegisterFilter{},
			[]string{"602154/602154 epost:anna.berg@region.test Anna Berg F user02 f.d. anna svensson"}},
		{"workplace change moves every row", anna, []regStep{
			{"ny", map[string]string{"ovriga_kundnummer": "602155"}},
			{"andring", map[string]string{"andring_arbetsplats": "true", "tidigare_kundnummer": "602154", "kundnummer": "603000"}}},
			store.RegisterFilter{Person: "ANNA@region.test"},
			[]string{"603000/603000 epost:anna@region.test Anna Svensson F user02"}},
		{"andring keeps övriga rows when none are listed", anna, []regStep{
			{"ny", map[string]string{"ovriga_kundnummer": "602155"}},
			{"andring", map[string]string{"andring_roll": "true", "roll_bestallare": "true"}}},
			store.RegisterFilter{},
			[]string{
				"602154/602154 epost:anna@region.test Anna Svensson FB user02",
				"602155/602154 epost:anna@region.test Anna Svensson FB user02",
			}},
		{"andring of someone unknown adds them", anna, []regStep{{"andring", map[string]string{"andring_roll": "true", "roll_bestallare": "true", "roll_forskrivare": "false"}}},
			store.RegisterFilter{}, []string{"602154/602154 epost:anna@region.test Anna Svensson B user01"}},
		{"avslut removes that kundnummer only", anna, []regStep{
			{"ny", nil},
			{"ny", map[string]string{"kundnummer": "609999", "roll_bestallare": "true"}},
			{"avslut", nil}},
			store.RegisterFilter{},
			[]string{"609999/609999 epost:anna@region.test Anna Svensson FB user02"}},
		{"avslut removes the övriga rows of that kundnummer", anna, []regStep{
			{"ny", map[string]string{"ovriga_kundnummer": "602155; 602156"}},
			{"avslut", nil}},
			store.RegisterFilter{}, nil},
		{"ny again replaces", anna, []regStep{{"ny", nil}, {"ny", map[string]string{"roll_forskrivare": "false", "roll_bestallare": "true"}}},
			store.RegisterFilter{}, []string{"602154/602154 epost:anna@region.test Anna Svensson B user02"}},
		{"ny with HSA-id replaces the row known by e-mail", anna, []regStep{{"ny", nil}, {"ny", map[string]string{"hsa_id": "SE2321000131-E000000000009"}}},
			store.RegisterFilter{Kundnummer: "602154"},
			[]string{"602154/602154 hsa:SE2321000131-E000000000009 Anna Svensson F user02"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			runRegister(t, s, tc.base, tc.steps)
			got := rows(t, s, tc.filter)
			if !slices.Equal(got, tc.want) {
				t.Errorf("register:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
		})
	}
}

func TestRegisterKeepsOtherPeople(t *testing.T) {
	s := openTest(t)
	runRegister(t, s, storetest.UserFields("Anna", "Svensson", "anna@region.test", "602154"), []regStep{{"ny", nil}})
	bo := storetest.UserFields("Bo", "Ek", "bo@region.test", "602154")
	bo["arende"] = "ny"
	rec := record(t, s, testMessage(50, "bo@mail.test"), "hb", bo)
	_, _ = s.Claim(rec.Requests[0].ID, "eva", false)
	_, err := s.Complete(rec.Requests[0].ID, "eva", "boek01", "", nil)
	storetest.NoErr(t, err)
	avslut := maps.Clone(bo)
	avslut["arende"] = "avslut"
	rec = record(t, s, testMessage(51, "bo2@mail.test"), "hb2", avslut)
	_, _ = s.Claim(rec.Requests[0].ID, "eva", false)
	_, err = s.Complete(rec.Requests[0].ID, "eva", "", "", nil)
	storetest.NoErr(t, err)
	got := rows(t, s, store.RegisterFilter{Kundnummer: "602154"})
	want := []string{"602154/602154 epost:anna@region.test Anna Svensson F user01"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := rows(t, s, store.RegisterFilter{Person: "bo@region.test"}); len(got) != 0 {
		t.Errorf("Bo after avslut: got %v", got)
	}
}

// The register's rules are the ones the store uses once this package is
// imported.
func TestRulesSet(t *testing.T) {
	s := openTest(t)
	f := storetest.UserFields("Anna", "Svensson", "anna@region.test", "602154")
	f["tidigare_namn"] = "Anna Berg"
	record(t, s, testMessage(1, "a@mail.test"), "h", f)
	for _, q := range []string{"svensson", "anna sv", "svensson an", "anna berg", "anna@region", "602154"} {
		got, err := s.SearchRequests("eva", q, 0)
		if err != nil || len(got) != 1 {
			t.Errorf("search %q: got %d requests (%v), want 1", q, len(got), err)
		}
	}
	for _, q := range []string{"anna ek", "chef", "rehab"} {
		if got, _ := s.SearchRequests("eva", q, 0); len(got) != 0 {
			t.Errorf("search %q: got %d requests, want none", q, len(got))
		}
	}
	if got, want := strings.Join(register.KeptFields, ","), "verksamhet,kundnummer"; got != want {
		t.Errorf("kept fields: got %s, want %s", got, want)
	}
}

func openTest(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "intake.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testMessage(uid uint32, messageID string) store.Message {
	return store.Message{
		Key:       store.MessageKey{Mailbox: "INBOX", UIDValidity: 1700, UID: uid},
		MessageID: messageID, From: "anna@region.test", Subject: "webSesam ansökan",
		ReceivedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), Size: 1234, Outcome: store.OutcomeQueued,
	}
}

// record stores a one-form message and fails the test on error.
func record(t testing.TB, s *store.Store, msg store.Message, hash string, users ...map[string]string) store.Recorded {
	t.Helper()
	var reqs []store.NewRequest
	for _, f := range users {
		reqs = append(reqs, store.NewRequest{FormHash: hash, Form: "websesam-behorighet", Type: f["arende"], Fields: f})
	}
	rec, err := s.RecordOutcome(msg, reqs, nil)
	if err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	return rec
}
