package formparse

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fullSingle is a complete single-user form (ny) as a PDF reader gives it.
func fullSingle() map[string]string {
	return map[string]string{
		"blankett":               "websesam-behorighet/1",
		"arende":                 "ny",
		"galler_fran":            "2026-12-01",
		"fornamn":                "Åsa",
		"efternamn":              "Öberg",
		"hsa_id":                 "se2321000131-e000000000001",
		"yrke":                   "Arbetsterapeut",
		"epost":                  "asa.oberg@region.example.se",
		"telefon":                "010-473 80 80",
		"verksamhet":             "Hälso- och sjukvårdsförvaltningen",
		"enhet":                  "Rehab  Väst",
		"kundnummer":             "602 154",
		"ovriga_kundnummer":      "602155;602156",
		"buffertforrad":          "",
		"roll_forskrivare":       "Yes",
		"roll_bestallare":        "Off",
		"andring_tjanstledighet": "Off",
		"tjanstledig_fran":       "",
		"tjanstledig_till":       "",
		"andring_namnbyte":       "Off",
		"tidigare_namn":          "",
		"andring_arbetsplats":    "Off",
		"tidigare_kundnummer":    "",
		"andring_roll":           "Off",
		"chef_namn":              "René Lindén",
		"chef_epost":             "rene.linden@region.example.se",
		"chef_telefon":           "+46 10 473 80 81",
		"datum":                  "1.12.2026",
	}
}

// fullMulti is a complete multi-user form (ny) with two users, as a
// workbook reader gives it.
func fullMulti() *Raw {
	return &Raw{
		Format: XLSX,
		Fields: map[string]string{
			"blankett":          "websesam-behorighet-flera/1",
			"arende":            "Ny registrering",
			"galler_fran":       "20261201",
			"verksamhet":        "Hälso- och sjukvårdsförvaltningen",
			"enhet":             "Rehab Väst",
			"kundnummer":        "602154",
			"ovriga_kundnummer": "",
			"buffertforrad":     "Förråd 3",
			"roll_forskrivare":  "Ja",
			"roll_bestallare":   "Nej",
			"chef_namn":         "René Lindén",
			"chef_epost":        "rene.linden@region.example.se",
			"chef_telefon":      "010-473 80 81",
			"datum":             "2026-11-30",
		},
		HasUserSheet: true,
		Users: []RawUser{
			{N: 1, Fields: map[string]string{"fornamn": "Åsa", "efternamn": "Öberg", "hsa_id": "", "yrke": "Arbetsterapeut", "epost": "asa.oberg@region.example.se", "telefon": "010-473 80 80"}},
			{N: 2, Fields: map[string]string{"fornamn": "Björn", "efternamn": "Ekström", "hsa_id": "SE2321000131-E000000000002", "yrke": "Fysioterapeut", "epost": "bjorn.ekstrom@region.example.se", "telefon": "010 473 80 82"}},
		},
	}
}

func single(format Format, change func(map[string]string)) *Raw {
	f := fullSingle()
	if change != nil {
		change(f)
	}
	return &Raw{Format: format, Fields: f}
}

// problems lists problems as "field: reason" for short, exact comparisons.
func problems(f *Form) []string {
	out := []string{}
	for _, p := range f.Problems {
		out = append(out, p.Field+": "+p.Reason)
	}
	return out
}

func TestCheckCompleteSingle(t *testing.T) {
	form := check(singleDef, single(PDF, nil), Options{})
	if got := problems(form); len(got) != 0 {
		t.Fatalf("problems = %q, want none", got)
	}
	if !form.Complete() {
		t.Error("Complete() = false, want true")
	}
	if form.ID != Single || form.Version != 1 || form.Format != PDF {
		t.Errorf("form = %s/%d/%s, want %s/1/pdf", form.ID, form.Version, form.Format, Single)
	}
	// Fields holds the form as given, normalised: these are the fields the
	// check rewrites.
	want := fullSingle()
	maps.Copy(want, map[string]string{
		"hsa_id":                 "SE2321000131-E000000000001",
		"enhet":                  "Rehab Väst",
		"kundnummer":             "602154",
		"ovriga_kundnummer":      "602155, 602156",
		"roll_forskrivare":       "true",
		"roll_bestallare":        "false",
		"andring_tjanstledighet": "false",
		"andring_namnbyte":       "false",
		"andring_arbetsplats":    "false",
		"andring_roll":           "false",
		"datum":                  "2026-12-01",
	})
	if !maps.Equal(form.Fields, want) {
		for k := range want {
			if form.Fields[k] != want[k] {
				t.Errorf("Fields[%s] = %q, want %q", k, form.Fields[k], want[k])
			}
		}
		t.Fatalf("Fields has %d keys, want %d", len(form.Fields), len(want))
	}
	if form.Users != nil {
		t.Errorf("Users = %v, want none on the single-user form", form.Users)
	}
}

// TestCheckEveryField makes sure Fields holds every field of the
// definition, even when the reader found none of them (missing means "").
func TestCheckEveryField(t *testing.T) {
	for _, def := range Definitions() {
		t.Run(string(def.ID), func(t *testing.T) {
			form := check(def, &Raw{Format: PDF, Fields: map[string]string{"unknown_extra": "x"}}, Options{})
			if got, want := len(form.Fields), len(def.Fields); got != want {
				t.Errorf("len(Fields) = %d, want %d", got, want)
			}
			for _, f := range def.Fields {
				v, ok := form.Fields[f.Name]
				want := ""
				if f.Kind == Checkbox {
					want = "false"
				}
				if !ok || v != want {
					t.Errorf("Fields[%s] = %q, %v; want %q", f.Name, v, ok, want)
				}
			}
			if _, ok := form.Fields["unknown_extra"]; ok {
				t.Error("an unknown raw field reached Fields")
			}
		})
	}
}

func TestCheckSingleRules(t *testing.T) {
	// Each case sets some fields of the complete form (set) and, for the
	// one case that empties the whole form, runs change afterwards.
	tests := []struct {
		name   string
		format Format
		set    map[string]string
		change func(map[string]string)
		want   []string
	}{
		{
			name:   "empty form: only always-mandatory fields when arende is missing",
			format: PDF,
			change: func(f map[string]string) {
				for k := range f {
					if k != "blankett" {
						f[k] = ""
					}
				}
			},
			want: []string{
				"arende: saknas", "galler_fran: saknas", "fornamn: saknas", "efternamn: saknas",
				"epost: saknas", "kundnummer: saknas", "chef_namn: saknas", "chef_epost: saknas",
				"chef_telefon: saknas", "datum: saknas",
			},
		},
		{
			name:   "ny without yrke, telefon, verksamhet, enhet and role",
			format: PDF,
			set:    map[string]string{"yrke": "", "telefon": " ", "verksamhet": "\u00a0", "enhet": "", "roll_forskrivare": "Off"},
			want: []string{
				"yrke: saknas", "telefon: saknas", "verksamhet: saknas", "enhet: saknas",
				"roll: kryssa i minst en behörighet (Förskrivare eller Beställare)",
			},
		},
		{
			name:   "avslut needs neither role nor work details",
			format: PDF,
			set:    map[string]string{"arende": "Avslut", "yrke": "", "telefon": "", "verksamhet": "", "enhet": "", "roll_forskrivare": "Off"},
			want:   []string{},
		},
		{
			name:   "andring without a change box",
			format: PDF,
			set:    map[string]string{"arende": "Ändring"},
			want:   []string{"andring_typ: kryssa i minst en typ av ändring (Tjänstledighet, Namnbyte, Byte av arbetsplats eller Byte av roll)"},
		},
		{
			name:   "andring with every box and nothing it needs",
			format: PDF,
			set: map[string]string{
				"arende": "andring", "roll_forskrivare": "Off",
				"andring_tjanstledighet": "Yes", "andring_namnbyte": "On", "andring_arbetsplats": "1", "andring_roll": "X",
			},
			want: []string{
				"roll: kryssa i minst en behörighet (Förskrivare eller Beställare)",
				"tjanstledig_fran: saknas", "tjanstledig_till: saknas", "tidigare_namn: saknas", "tidigare_kundnummer: saknas",
			},
		},
		{
			name:   "andring with every box, all given",
			format: PDF,
			set: map[string]string{
				"arende":                 "andring",
				"andring_tjanstledighet": "Yes", "andring_namnbyte": "Yes", "andring_arbetsplats": "Yes", "andring_roll": "Yes",
				"tjanstledig_fran": "1/1/2027", "tjanstledig_till": "2027-06-30",
				"tidigare_namn": "Åsa Svensson", "tidigare_kundnummer": "602 150",
			},
			want: []string{},
		},
		{
			name:   "optional fields checked when given",
			format: PDF,
			set:    map[string]string{"hsa_id": "SE123", "ovriga_kundnummer": "602155, 12345", "tidigare_kundnummer": "12"},
			want: []string{
				"hsa_id: ska vara ett HSA-id, t.ex. SE2321000131-E000000000001",
				"ovriga_kundnummer: ska vara kundnummer med sex siffror, åtskilda med komma, t.ex. 602155, 602156",
				"tidigare_kundnummer: ska vara sex siffror, t.ex. 602154",
			},
		},
		{
			name:   "every kind wrong at once, in form order",
			format: XLSX,
			set: map[string]string{
				"arende":           "Ny anställning",
				"galler_fran":      "2026-02-30",
				"epost":            "Åsa Öberg <asa.oberg@region.example.se>",
				"telefon":          "473",
				"kundnummer":       "60215",
				"roll_forskrivare": "Ja",
				"roll_bestallare":  "kanske",
				"chef_epost":       "rene.linden",
				"chef_telefon":     "ring mig",
				"datum":            "igår",
			},
			want: []string{
				"arende: ska vara Ny registrering, Ändring eller Avslut",
				"galler_fran: datumet finns inte: 2026-02-30",
				"epost: ska vara en e-postadress, t.ex. namn@region.se",
				"telefon: ska vara ett telefonnummer med 7–15 siffror",
				"kundnummer: ska vara sex siffror, t.ex. 602154",
				"roll_bestallare: ska vara Ja eller Nej (ifyllt: kanske)",
				"chef_epost: ska vara en e-postadress, t.ex. namn@region.se",
				"chef_telefon: ska vara ett telefonnummer med 7–15 siffror",
				"datum: ska vara ett datum, t.ex. 2026-12-01",
			},
		},
		{
			name:   "invalid arende: conditional rules do not apply, ticked-box rules do",
			format: PDF,
			set:    map[string]string{"arende": "byte", "yrke": "", "telefon": "", "roll_forskrivare": "Off", "andring_namnbyte": "Yes"},
			want: []string{
				"arende: ska vara Ny registrering, Ändring eller Avslut",
				"tidigare_namn: saknas",
			},
		},
		{
			name:   "missing arende with andring_roll ticked still wants a role",
			format: PDF,
			set:    map[string]string{"arende": "Off", "roll_forskrivare": "Off", "andring_roll": "Yes"},
			want: []string{
				"arende: saknas",
				"roll: kryssa i minst en behörighet (Förskrivare eller Beställare)",
			},
		},
		{
			name:   "workbook boxes: an invalid value counts as not ticked",
			format: XLSX,
			set:    map[string]string{"roll_forskrivare": "jo", "roll_bestallare": "Nej"},
			want: []string{
				"roll: kryssa i minst en behörighet (Förskrivare eller Beställare)",
				"roll_forskrivare: ska vara Ja eller Nej (ifyllt: jo)",
			},
		},
		{
			name:   "workbook Off is not a PDF box",
			format: XLSX,
			set: map[string]string{
				"roll_forskrivare": "Ja", "roll_bestallare": "Nej",
				"andring_tjanstledighet": "0", "andring_namnbyte": "false", "andring_arbetsplats": "FALSE", "andring_roll": "nej",
			},
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := check(singleDef, single(tt.format, func(f map[string]string) {
				if tt.format == XLSX {
					// A workbook has no PDF "Off": its change boxes start empty.
					f["andring_tjanstledighet"], f["andring_namnbyte"], f["andring_arbetsplats"], f["andring_roll"] = "", "", "", ""
				}
				maps.Copy(f, tt.set)
				if tt.change != nil {
					tt.change(f)
				}
			}), Options{})
			if got := problems(form); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
			if got, want := form.Complete(), len(tt.want) == 0; got != want {
				t.Errorf("Complete() = %v, want %v", got, want)
			}
			assertLabels(t, singleDef, form)
		})
	}
}

// TestCheckLeaveOrder: on an andring with leave of absence, the leave
// must not end before it starts; an impossible date is its own problem.
func TestCheckLeaveOrder(t *testing.T) {
	tests := []struct{ fran, till, want string }{
		{"2027-06-30", "1.1.2027", "tjanstledig_till: Tjänstledig till är före Tjänstledig från"},
		{"2027-06-30", "30.6.2027", ""}, // the same day is fine
		{"2027-02-30", "2027-01-01", "tjanstledig_fran: datumet finns inte: 2027-02-30"}, // no order rule on top
	}
	for _, tt := range tests {
		t.Run(tt.fran+"_"+tt.till, func(t *testing.T) {
			form := check(singleDef, single(PDF, func(f map[string]string) {
				f["arende"], f["andring_tjanstledighet"] = "andring", "Yes"
				f["tjanstledig_fran"], f["tjanstledig_till"] = tt.fran, tt.till
			}), Options{})
			want := []string{}
			if tt.want != "" {
				want = []string{tt.want}
			}
			if got := problems(form); !slices.Equal(got, want) {
				t.Errorf("problems:\n got %q\nwant %q", got, want)
			}
			if got, want := form.Complete(), tt.want == ""; got != want {
				t.Errorf("Complete() = %v, want %v", got, want)
			}
			assertLabels(t, singleDef, form)
		})
	}
}

// assertLabels checks that every problem carries the definition's label for
// its name, never a copy that could drift.
func assertLabels(t *testing.T, def *Definition, form *Form) {
	t.Helper()
	for _, p := range form.Problems {
		if want := def.Label(p.Field); p.Label != want || want == p.Field {
			t.Errorf("problem %s has label %q, want %q from the definition", p.Field, p.Label, want)
		}
	}
}

func TestCheckKeepsWrongValuesAsWritten(t *testing.T) {
	form := check(singleDef, single(XLSX, func(f map[string]string) {
		f["galler_fran"] = " 31.4.2026 "
		f["epost"] = "Åsa\u00a0Öberg <asa@x.se>"
		f["kundnummer"] = "60 215"
		f["arende"] = "Ny  anställning"
	}), Options{})
	for name, want := range map[string]string{
		"galler_fran": "31.4.2026",
		"epost":       "Åsa Öberg <asa@x.se>",
		"kundnummer":  "60 215",
		"arende":      "Ny anställning",
	} {
		if got := form.Fields[name]; got != want {
			t.Errorf("Fields[%s] = %q, want %q", name, got, want)
		}
	}
}

func TestCheckMulti(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		form := check(multiDef, fullMulti(), Options{})
		if got := problems(form); len(got) != 0 {
			t.Fatalf("problems = %q, want none", got)
		}
		if got, want := len(form.Fields), len(multiDef.Fields); got != want {
			t.Errorf("len(Fields) = %d, want %d", got, want)
		}
		for k := range form.Fields {
			if strings.HasPrefix(k, "anvandare") || k == "fornamn" || k == "epost" {
				t.Errorf("shared Fields holds user field %q", k)
			}
		}
		if got, want := form.Fields["arende"], "ny"; got != want {
			t.Errorf("arende = %q, want %q", got, want)
		}
		want := []User{
			{N: 1, Fields: map[string]string{"fornamn": "Åsa", "efternamn": "Öberg", "hsa_id": "", "yrke": "Arbetsterapeut", "epost": "asa.oberg@region.example.se", "telefon": "010-473 80 80"}},
			{N: 2, Fields: map[string]string{"fornamn": "Björn", "efternamn": "Ekström", "hsa_id": "SE2321000131-E000000000002", "yrke": "Fysioterapeut", "epost": "bjorn.ekstrom@region.example.se", "telefon": "010 473 80 82"}},
		}
		if !reflect.DeepEqual(form.Users, want) {
			t.Errorf("Users = %v, want %v", form.Users, want)
		}
	})

	tests := []struct {
		name      string
		change    func(*Raw)
		want      []string
		wantUsers []int // N of the users kept
	}{
		{
			name:      "no users",
			change:    func(r *Raw) { r.Users = nil },
			want:      []string{"anvandare: minst en användare ska fyllas i"},
			wantUsers: nil,
		},
		{
			name: "only empty rows",
			change: func(r *Raw) {
				r.Users = []RawUser{{N: 1, Fields: map[string]string{"fornamn": " ", "epost": "\u00a0"}}, {N: 2, Fields: map[string]string{}}}
			},
			want:      []string{"anvandare: minst en användare ska fyllas i"},
			wantUsers: nil,
		},
		{
			name: "empty rows skipped, numbers kept, partly filled rows checked",
			change: func(r *Raw) {
				r.Users = []RawUser{
					r.Users[0],
					{N: 2, Fields: map[string]string{}},
					{N: 3, Fields: map[string]string{"fornamn": "René", "epost": "rene@region"}},
					{N: 4, Fields: map[string]string{"fornamn": "Karin", "efternamn": "Åberg", "hsa_id": "SE2321000131", "yrke": "Sjuksköterska", "epost": "karin.aberg@region.example.se", "telefon": "12"}},
				}
			},
			want: []string{
				"anvandare_3_efternamn: saknas",
				"anvandare_3_yrke: saknas",
				"anvandare_3_epost: ska vara en e-postadress, t.ex. namn@region.se",
				"anvandare_3_telefon: saknas",
				"anvandare_4_hsa_id: ska vara ett HSA-id, t.ex. SE2321000131-E000000000001",
				"anvandare_4_telefon: ska vara ett telefonnummer med 7–15 siffror",
			},
			wantUsers: []int{1, 3, 4},
		},
		{
			name: "avslut needs no yrke or telefon per user, nor a role",
			change: func(r *Raw) {
				r.Fields["arende"] = "avslut"
				r.Fields["roll_forskrivare"] = "Nej"
				r.Users = []RawUser{{N: 1, Fields: map[string]string{"fornamn": "Åsa", "efternamn": "Öberg", "epost": "asa.oberg@region.example.se"}}}
			},
			want:      []string{},
			wantUsers: []int{1},
		},
		{
			name: "andring is not an option of the multi-user form",
			change: func(r *Raw) {
				r.Fields["arende"] = "andring"
				r.Users = []RawUser{{N: 1, Fields: map[string]string{"fornamn": "Åsa", "efternamn": "Öberg", "epost": "asa.oberg@region.example.se"}}}
			},
			want:      []string{"arende: ska vara Ny registrering eller Avslut"},
			wantUsers: []int{1},
		},
		{
			name: "no role for ny",
			change: func(r *Raw) {
				r.Fields["roll_forskrivare"] = ""
			},
			want:      []string{"roll: kryssa i minst en behörighet (Förskrivare eller Beställare)"},
			wantUsers: []int{1, 2},
		},
		{
			name:      "rows past the cap",
			change:    func(r *Raw) { r.ExtraUsers = 7 },
			want:      []string{"anvandare: högst 500 användare per blankett; 7 rader till fanns och lästes inte, skicka dem på en ny blankett"},
			wantUsers: []int{1, 2},
		},
		{
			name: "user problems stand before the manager's, as on the PDF",
			change: func(r *Raw) {
				r.Fields["roll_forskrivare"] = ""
				r.Fields["chef_epost"] = ""
				r.Fields["datum"] = "30.11.26"
				r.Users[1].Fields["epost"] = ""
			},
			want: []string{
				"roll: kryssa i minst en behörighet (Förskrivare eller Beställare)",
				"anvandare_2_epost: saknas",
				"chef_epost: saknas",
				"datum: ska vara ett datum, t.ex. 2026-12-01",
			},
			wantUsers: []int{1, 2},
		},
		{
			name: "no users before the manager's problems",
			change: func(r *Raw) {
				r.Users = nil
				r.Fields["chef_namn"] = ""
			},
			want:      []string{"anvandare: minst en användare ska fyllas i", "chef_namn: saknas"},
			wantUsers: nil,
		},
		{
			name: "user fields in the raw shared fields are ignored",
			change: func(r *Raw) {
				r.Fields["anvandare_1_fornamn"] = "Åsa"
				r.Fields["fornamn"] = "Åsa"
			},
			want:      []string{},
			wantUsers: []int{1, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := fullMulti()
			tt.change(raw)
			form := check(multiDef, raw, Options{})
			if got := problems(form); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
			var gotUsers []int
			for _, u := range form.Users {
				gotUsers = append(gotUsers, u.N)
				if got, want := len(u.Fields), len(multiDef.UserColumns); got != want {
					t.Errorf("user %d has %d fields, want %d", u.N, got, want)
				}
			}
			if !slices.Equal(gotUsers, tt.wantUsers) {
				t.Errorf("users = %v, want %v", gotUsers, tt.wantUsers)
			}
			for k := range form.Fields {
				if _, ok := multiDef.Field(k); !ok {
					t.Errorf("Fields holds %q, not a shared field", k)
				}
			}
			assertLabels(t, multiDef, form)
		})
	}
}

func TestCheckUserLabels(t *testing.T) {
	raw := fullMulti()
	raw.Users = []RawUser{{N: 3, Fields: map[string]string{"fornamn": "Åsa"}}}
	form := check(multiDef, raw, Options{})
	want := []FieldProblem{
		{"anvandare_3_efternamn", "Användare 3 – Efternamn", "saknas"},
		{"anvandare_3_yrke", "Användare 3 – Titel/yrke", "saknas"},
		{"anvandare_3_epost", "Användare 3 – E-post", "saknas"},
		{"anvandare_3_telefon", "Användare 3 – Telefon", "saknas"},
	}
	if !reflect.DeepEqual(form.Problems, want) {
		t.Errorf("Problems = %+v, want %+v", form.Problems, want)
	}
}

func TestFormJSON(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		form := check(singleDef, single(PDF, func(f map[string]string) { f["chef_epost"] = "rene.linden@region" }), Options{})
		got, err := json.Marshal(form)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"form":"websesam-behorighet","version":1,"fields":{"blankett":"websesam-behorighet/1","arende":"ny",` +
			`"galler_fran":"2026-12-01","fornamn":"Åsa","efternamn":"Öberg","hsa_id":"SE2321000131-E000000000001",` +
			`"yrke":"Arbetsterapeut","epost":"asa.oberg@region.example.se","telefon":"010-473 80 80",` +
			`"verksamhet":"Hälso- och sjukvårdsförvaltningen","enhet":"Rehab Väst","kundnummer":"602154",` +
			`"ovriga_kundnummer":"602155, 602156","buffertforrad":"","roll_forskrivare":true,"roll_bestallare":false,` +
			`"andring_tjanstledighet":false,"tjanstledig_fran":"","tjanstledig_till":"","andring_namnbyte":false,` +
			`"tidigare_namn":"","andring_arbetsplats":false,"tidigare_kundnummer":"","andring_roll":false,` +
			`"chef_namn":"René Lindén","chef_epost":"rene.linden@region","chef_telefon":"+46 10 473 80 81","datum":"2026-12-01"},` +
			`"users":[],"problems":[{"field":"chef_epost","label":"Ansvarig chef – e-post","reason":"ska vara en e-postadress, t.ex. namn@region.se"}],` +
			`"complete":false}`
		if string(got) != want {
			t.Errorf("JSON:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("multi", func(t *testing.T) {
		raw := fullMulti()
		raw.Users = raw.Users[1:]
		form := check(multiDef, raw, Options{})
		got, err := json.Marshal(form)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"form":"websesam-behorighet-flera","version":1,"fields":{"blankett":"websesam-behorighet-flera/1","arende":"ny",` +
			`"galler_fran":"2026-12-01","verksamhet":"Hälso- och sjukvårdsförvaltningen","enhet":"Rehab Väst",` +
			`"kundnummer":"602154","ovriga_kundnummer":"","buffertforrad":"Förråd 3","roll_forskrivare":true,` +
			`"roll_bestallare":false,"chef_namn":"René Lindén","chef_epost":"rene.linden@region.example.se",` +
			`"chef_telefon":"010-473 80 81","datum":"2026-11-30"},` +
			`"users":[{"fornamn":"Björn","efternamn":"Ekström","hsa_id":"SE2321000131-E000000000002","yrke":"Fysioterapeut",` +
			`"epost":"bjorn.ekstrom@region.example.se","telefon":"010 473 80 82"}],"problems":[],"complete":true}`
		if string(got) != want {
			t.Errorf("JSON:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("no html escaping", func(t *testing.T) {
		// json.Marshal escapes < > & again after MarshalJSON; an Encoder
		// with SetEscapeHTML(false), as parse --json uses, keeps them.
		form := &Form{ID: Single, Version: 1, Fields: map[string]string{"epost": "Åsa <a&b@x.se>"}}
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(form); err != nil {
			t.Fatal(err)
		}
		got := buf.String()
		if want := `"epost":"Åsa <a&b@x.se>"`; !strings.Contains(got, want) {
			t.Errorf("JSON = %s, want it to contain %s", got, want)
		}
	})
}

func TestFieldValues(t *testing.T) {
	got := singleDef.FieldValues(map[string]string{"fornamn": "Åsa", "roll_forskrivare": "true", "roll_bestallare": "false"})
	want := map[string]any{"fornamn": "Åsa", "roll_forskrivare": true, "roll_bestallare": false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FieldValues = %v, want %v", got, want)
	}
}

func BenchmarkCheck(b *testing.B) {
	raw := single(PDF, func(f map[string]string) {
		f["arende"] = "andring"
		f["andring_tjanstledighet"], f["andring_namnbyte"] = "Yes", "Yes"
		f["tjanstledig_fran"], f["tjanstledig_till"] = "1/1/2027", "2027-06-30"
		f["tidigare_namn"] = "Åsa Svensson"
	})
	b.ReportAllocs()
	for b.Loop() {
		form := check(singleDef, raw, Options{})
		if !form.Complete() {
			b.Fatalf("problems: %v", form.Problems)
		}
	}
}

// BenchmarkCheckMulti500 checks a multi-user form at the cap of 500 rows.
func BenchmarkCheckMulti500(b *testing.B) {
	raw := fullMulti()
	raw.Users = nil
	for n := 1; n <= multiDef.MaxUsers; n++ {
		raw.Users = append(raw.Users, RawUser{N: n, Fields: map[string]string{
			"fornamn": "Åsa", "efternamn": "Öberg", "hsa_id": "SE2321000131-E000000000001", "yrke": "Arbetsterapeut",
			"epost": "asa.oberg@region.example.se", "telefon": "010-473 80 80",
		}})
	}
	b.ReportAllocs()
	for b.Loop() {
		form := check(multiDef, raw, Options{})
		if !form.Complete() || len(form.Users) != multiDef.MaxUsers {
			b.Fatalf("problems: %v, users %d", form.Problems, len(form.Users))
		}
	}
}

func BenchmarkFormJSON(b *testing.B) {
	form := check(singleDef, single(PDF, nil), Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(form); err != nil {
			b.Fatal(err)
		}
	}
}
