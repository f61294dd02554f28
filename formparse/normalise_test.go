package formparse

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFoldText(t *testing.T) {
	testFunc(t, "foldText", foldText, []funcCase[string]{
		{"", ""},
		{"Åsa", "Åsa"},
		{"  Åsa  ", "Åsa"},
		{"Åsa\u00a0\u00a0Öberg", "Åsa Öberg"},
		{"Åsa\u202fÖberg", "Åsa Öberg"},
		{"Björn\t\tEkström\r\nLindén", "Björn Ekström Lindén"},
		{"\n\t \u00a0", ""},
		{"A\u030asa", "Åsa"},           // decomposed å from a Mac becomes NFC
		{"Rene\u0301", "René"},         // combining acute
		{"Bj\u200börn\ufeff", "Björn"}, // zero-width marks dropped
		{"a\x00b", "ab"},               // control characters dropped
		{"a  b", "a b"},
		{"plain text", "plain text"},
		{"bad \xff byte", "bad \ufffd byte"},
	})
}

func TestParseDate(t *testing.T) {
	testParser(t, "parseDate", parseDate, []parseCase[string]{
		{"2026-12-01", "2026-12-01", ""},
		{"20261201", "2026-12-01", ""},
		{"2026-12-1", "2026-12-01", ""},
		{"2026-1-9", "2026-01-09", ""},
		{"1/12/2026", "2026-12-01", ""},
		{"01/12/2026", "2026-12-01", ""},
		{"1.12.2026", "2026-12-01", ""},
		{"29.2.2028", "2028-02-29", ""},
		{"2026-02-30", "", "datumet finns inte: 2026-02-30"},
		{"31.4.2026", "", "datumet finns inte: 31.4.2026"},
		{"20261301", "", "datumet finns inte: 20261301"},
		{"29/2/2026", "", "datumet finns inte: 29/2/2026"},
		{"2026-00-10", "", "datumet finns inte: 2026-00-10"},
		{"2026-12-00", "", "datumet finns inte: 2026-12-00"},
		{"1 december 2026", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"2026/12/01", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"1.12/2026", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"1.12.26", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"26-12-01", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"2026-12-001", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"202612011", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"0026-12-01", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"igår", "", "ska vara ett datum, t.ex. 2026-12-01"},
		{"2026-12-01 10:00", "", "ska vara ett datum, t.ex. 2026-12-01"},
	})
}

func TestParseChoice(t *testing.T) {
	single, _ := singleDef.Field("arende")
	multi, _ := multiDef.Field("arende")
	t.Run("single", func(t *testing.T) {
		testParser(t, "parseChoice", func(in string) (string, bool) { return parseChoice(single, in) }, []parseCase[bool]{
			{"ny", "ny", true},
			{"Ny registrering", "ny", true},
			{"NY REGISTRERING", "ny", true},
			{"andring", "andring", true},
			{"Ändring", "andring", true},
			{"ändring", "andring", true},
			{"ÄNDRING", "andring", true},
			{"avslut", "avslut", true},
			{"Avslut", "avslut", true},
			{"registrering", "", false},
			{"Ny registrering!", "", false},
			{"Off", "", false},
		})
	})
	t.Run("multi", func(t *testing.T) {
		testParser(t, "parseChoice", func(in string) (string, bool) { return parseChoice(multi, in) }, []parseCase[bool]{
			{"ny", "ny", true},
			{"Avslut", "avslut", true},
			{"andring", "", false},
			{"Ändring", "", false},
		})
	})
	if got, want := choiceReason(single), "ska vara Ny registrering, Ändring eller Avslut"; got != want {
		t.Errorf("choiceReason(single) = %q, want %q", got, want)
	}
	if got, want := choiceReason(multi), "ska vara Ny registrering eller Avslut"; got != want {
		t.Errorf("choiceReason(multi) = %q, want %q", got, want)
	}
}

func TestCheckboxes(t *testing.T) {
	t.Run("pdf", func(t *testing.T) {
		for in, want := range map[string]bool{
			"": false, "Off": false, "off": false, "OFF": false,
			"Yes": true, "On": true, "Ja": true, "1": true, "X": true, "Nej": true, "0": true,
		} {
			if got := tickedPDF(in); got != want {
				t.Errorf("tickedPDF(%q) = %v, want %v", in, got, want)
			}
		}
	})
	t.Run("workbook", func(t *testing.T) {
		tests := []struct {
			in             string
			ticked, wantOK bool
		}{
			{"Ja", true, true}, {"ja", true, true}, {"JA", true, true},
			{"X", true, true}, {"x", true, true}, {"1", true, true},
			{"true", true, true}, {"TRUE", true, true},
			{"", false, true}, {"Nej", false, true}, {"nej", false, true},
			{"0", false, true}, {"false", false, true}, {"FALSE", false, true},
			{"kanske", false, false}, {"Yes", false, false}, {"Off", false, false},
			{"2", false, false}, {"☒", false, false},
		}
		for _, tt := range tests {
			ticked, ok := tickedWorkbook(tt.in)
			if ticked != tt.ticked || ok != tt.wantOK {
				t.Errorf("tickedWorkbook(%q) = %v, %v; want %v, %v", tt.in, ticked, ok, tt.ticked, tt.wantOK)
			}
		}
	})
}

func TestParseEmail(t *testing.T) {
	testParser(t, "parseEmail", parseEmail, []parseCase[string]{
		{"asa.oberg@region.example.se", "asa.oberg@region.example.se", ""},
		{"Asa.Oberg@Region.Example.SE", "Asa.Oberg@Region.Example.SE", ""},
		{"rene+intake@region.example.se", "rene+intake@region.example.se", ""},
		{"a_b%c-d@region-x.example.se", "a_b%c-d@region-x.example.se", ""},
		{"mailto:bjorn.ekstrom@region.example.se", "bjorn.ekstrom@region.example.se", ""},
		{"MAILTO:bjorn.ekstrom@region.example.se", "bjorn.ekstrom@region.example.se", ""},
		// Replies go without SMTPUTF8: only ASCII letters, digits and
		// . _ % + - are accepted, with a reason that says so.
		{"åsa.öberg@domän.se", "", reasonEmailASCII},
		{"asa.oberg@domän.se", "", reasonEmailASCII},
		{"o'brien@region.example.se", "", reasonEmailASCII},
		{"\u212aalle@region.example.se", "", reasonEmailASCII}, // KELVIN SIGN, not K
		{"Åsa Öberg <asa.oberg@region.example.se>", "", reasonEmail},
		{"<asa.oberg@region.example.se>", "", reasonEmail},
		{"asa.oberg@region", "", reasonEmail},
		{"asa.oberg", "", reasonEmail},
		{"asa@oberg@region.example.se", "", reasonEmail},
		{"asa oberg@region.example.se", "", reasonEmail},
		{"@region.example.se", "", reasonEmail},
		{"asa.@region.example.se", "", reasonEmail},
		{".asa@region.example.se", "", reasonEmail},
		{"asa..oberg@region.example.se", "", reasonEmail},
		{"asa@region..se", "", reasonEmail},
		{"asa@-region.se", "", reasonEmail},
		{"asa@region.s", "", reasonEmail},
		{"asa@1.2.3.4", "", reasonEmail},
		{"asa@[1.2.3.4]", "", reasonEmail},
		{`"asa oberg"@region.example.se`, "", reasonEmail},
		{"asa,oberg@region.example.se", "", reasonEmail},
		{"asa@region.example.se;", "", reasonEmail},
		{"mailto:", "", reasonEmail},
		{"", "", reasonEmail},
	})
}

// TestFoldTextIdempotent keeps the case FuzzNormaliseValue found: a control
// character between a letter and its combining mark, removed only after NFC,
// left the pair uncomposed, so folding twice changed the text.
func TestFoldTextIdempotent(t *testing.T) {
	for _, in := range []string{"A\x01\u030a", "a\u200b\u0308", "o\ufeff\u0308berg", "A\t\u030a", "\x00\u030a"} {
		once := foldText(in)
		if twice := foldText(once); twice != once {
			t.Errorf("foldText(%q) = %q, but folding that gives %q", in, once, twice)
		}
	}
	if got, want := foldText("A\x01\u030asa"), "Åsa"; got != want {
		t.Errorf("foldText = %q, want %q", got, want)
	}
}

// TestMaxLength: every value is bounded by its field in the one definition;
// one character more is a problem that says the limit, in Swedish, and the
// value is kept as written.
func TestMaxLength(t *testing.T) {
	tests := []struct {
		field string
		max   int
		value func(n int) string
	}{
		{"fornamn", 100, func(n int) string { return strings.Repeat("å", n) }},
		{"efternamn", 100, func(n int) string { return strings.Repeat("Ö", n) }},
		{"tidigare_namn", 100, func(n int) string { return strings.Repeat("x", n) }},
		{"chef_namn", 100, func(n int) string { return strings.Repeat("x", n) }},
		{"yrke", 200, func(n int) string { return strings.Repeat("x", n) }},
		{"verksamhet", 200, func(n int) string { return strings.Repeat("x", n) }},
		{"enhet", 200, func(n int) string { return strings.Repeat("x", n) }},
		{"buffertforrad", 200, func(n int) string { return strings.Repeat("x", n) }},
		{"epost", 254, func(n int) string {
			return strings.Repeat("a", 64) + "@" + strings.Repeat("b.", (n-65-2)/2) + "se" + strings.Repeat("e", (n-65)%2)
		}},
		{"chef_epost", 254, func(n int) string {
			return strings.Repeat("a", 64) + "@" + strings.Repeat("b.", (n-65-2)/2) + "se" + strings.Repeat("e", (n-65)%2)
		}},
		{"telefon", 30, func(n int) string { return "+46" + strings.Repeat("-", n-3-1) + "4" }},
		{"chef_telefon", 30, func(n int) string { return "010" + strings.Repeat("-", n-3-1) + "4" }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			fd, ok := singleDef.Field(tt.field)
			if !ok {
				t.Fatalf("no field %s", tt.field)
			}
			if fd.MaxLen != tt.max {
				t.Errorf("MaxLen = %d, want %d", fd.MaxLen, tt.max)
			}
			long := tt.value(tt.max + 1)
			if got := utf8.RuneCountInString(long); got != tt.max+1 {
				t.Fatalf("test value has %d characters, want %d", got, tt.max+1)
			}
			v, reason := normaliseValue(fd, long, PDF)
			if want := fmt.Sprintf("för lång, högst %d tecken", tt.max); v != long || reason != want {
				t.Errorf("normaliseValue(%d characters) = %d characters, %q; want the value, %q", tt.max+1, utf8.RuneCountInString(v), reason, want)
			}
		})
	}
	// 40,000 characters: the case that once became a key bbolt refused.
	fd, _ := singleDef.Field("efternamn")
	if _, reason := normaliseValue(fd, strings.Repeat("Lindqvist", 40000/9+1), XLSX); reason != "för lång, högst 100 tecken" {
		t.Errorf("reason = %q, want för lång, högst 100 tecken", reason)
	}
	// The user rows of the multi-user form share the bounds.
	for _, c := range multiDef.UserColumns {
		p, _ := singleDef.Field(c.Name)
		if c.MaxLen != p.MaxLen {
			t.Errorf("column %s MaxLen = %d, want %d", c.Name, c.MaxLen, p.MaxLen)
		}
	}
}

func TestMaxKundnummer(t *testing.T) {
	fd, _ := singleDef.Field("ovriga_kundnummer")
	nums := make([]string, 21)
	for i := range nums {
		nums[i] = fmt.Sprintf("%06d", 602100+i)
	}
	if v, reason := normaliseValue(fd, strings.Join(nums[:20], ";"), PDF); reason != "" || strings.Count(v, ", ") != 19 {
		t.Errorf("20 numbers = %q, %q; want them joined, no problem", v, reason)
	}
	in := strings.Join(nums, ",")
	if v, reason := normaliseValue(fd, in, PDF); v != in || reason != "för många, högst 20 kundnummer" {
		t.Errorf("21 numbers = %q, %q; want as written, för många, högst 20 kundnummer", v, reason)
	}
}

func TestValidPhone(t *testing.T) {
	testFunc(t, "validPhone", validPhone, []funcCase[bool]{
		{"010-473 80 80", true},
		{"0104738080", true},
		{"+46 10 473 80 80", true},
		{"+46 (0)10-473 80 80", true},
		{"(010) 473 80 80", true},
		{"1234567", true},                // 7 digits
		{"+123 456 789 012 345", true},   // 15 digits
		{"123456", false},                // 6 digits
		{"1234 5678 9012 3456", false},   // 16 digits
		{"010/473 80 80", false},         // slash
		{"010.473.80.80", false},         // dots
		{"46+10 473 80 80", false},       // plus not first
		{"++46 10 473 80 80", false},     // two pluses
		{"(010 473 80 80", false},        // unbalanced
		{"010) 473 80 80", false},        // unbalanced
		{"((010)) 473 80 80", false},     // nested
		{"010-473 80 80 ankn. 4", false}, // words
		{"tel 010-473 80 80", false},     // words
		{"", false},
	})
}

func TestParseHSAID(t *testing.T) {
	testParser(t, "parseHSAID", parseHSAID, []parseCase[bool]{
		{"SE2321000131-E000000000001", "SE2321000131-E000000000001", true},
		{"se2321000131-e000000000001", "SE2321000131-E000000000001", true},
		{"Se2321000131-s1", "SE2321000131-S1", true},
		{"SE2321000131-", "", false},
		{"SE232100013-E000000000001", "", false},   // 9 digits
		{"SE23210001311-E000000000001", "", false}, // 11 digits
		{"DK2321000131-E000000000001", "", false},
		{"SE2321000131E000000000001", "", false},
		{"SE2321000131-E0000 00001", "", false},
		{"SE2321000131-E00000000000Ö", "", false},
		{"SE2321000131-E-1", "", false},
		{"", "", false},
	})
}

func TestParseKundnummer(t *testing.T) {
	testParser(t, "parseKundnummer", parseKundnummer, []parseCase[bool]{
		{"602154", "602154", true},
		{"602 154", "602154", true},
		{"6 0 2 1 5 4", "602154", true},
		{"60215", "", false},
		{"6021544", "", false},
		{"602-154", "", false},
		{"60215a", "", false},
		{"６０２１５４", "", false}, // full-width digits are not what the system stores
		{"", "", false},
	})
}

func TestParseKundnummerList(t *testing.T) {
	testParser(t, "parseKundnummerList", parseKundnummerList, []parseCase[bool]{
		{"602155", "602155", true},
		{"602155, 602156", "602155, 602156", true},
		{"602155,602156;602157", "602155, 602156, 602157", true},
		{"602155 602156", "602155, 602156", true},
		{"602155\n602156\r\n602157", "602155, 602156, 602157", true},
		{"602155 ; ,602156,", "602155, 602156", true},
		{"602155, 60215", "", false},
		{"602 155", "", false}, // a space separates numbers in a list
		{"602155/602156", "", false},
		{"602155 och 602156", "", false},
	})
}

// TestNormaliseValue checks the stored value and reason for each kind, both
// ways: a good value normalised, a bad one kept as written (folded).
func TestNormaliseValue(t *testing.T) {
	field := func(name string) Field {
		f, ok := singleDef.Field(name)
		if !ok {
			t.Fatalf("no field %q", name)
		}
		return f
	}
	tests := []struct {
		name, field string
		format      Format
		in          string
		want        string
		reason      string
	}{
		{"text folded", "fornamn", PDF, " Åsa\u00a0 Maria ", "Åsa Maria", ""},
		{"text empty", "fornamn", PDF, " \u00a0", "", ""},
		{"choice label", "arende", PDF, "Ny registrering", "ny", ""},
		{"choice pdf off is empty", "arende", PDF, "Off", "", ""},
		{"choice workbook off is wrong", "arende", XLSX, "Off", "Off", "ska vara Ny registrering, Ändring eller Avslut"},
		{"choice wrong", "arende", XLSX, "Ny  anställd", "Ny anställd", "ska vara Ny registrering, Ändring eller Avslut"},
		{"date", "datum", XLSX, "1.12.2026", "2026-12-01", ""},
		{"date impossible kept", "datum", XLSX, " 31.4.2026 ", "31.4.2026", "datumet finns inte: 31.4.2026"},
		{"date wrong kept", "datum", PDF, "snart", "snart", "ska vara ett datum, t.ex. 2026-12-01"},
		{"email", "epost", PDF, " asa.oberg@region.example.se ", "asa.oberg@region.example.se", ""},
		{"email wrong kept", "epost", PDF, "Åsa <asa@region.example.se>", "Åsa <asa@region.example.se>", "ska vara en e-postadress, t.ex. namn@region.se"},
		{"phone as written", "telefon", PDF, "010-473\u00a080 80", "010-473 80 80", ""},
		{"phone seven digits", "telefon", PDF, "4738080", "4738080", ""},
		{"phone short", "telefon", PDF, "473 80", "473 80", "ska vara ett telefonnummer med 7–15 siffror"},
		{"hsa capitals", "hsa_id", PDF, "se2321000131-e000000000001", "SE2321000131-E000000000001", ""},
		{"hsa wrong", "hsa_id", PDF, "2321000131", "2321000131", "ska vara ett HSA-id, t.ex. SE2321000131-E000000000001"},
		{"kundnummer spaces", "kundnummer", PDF, "602 154", "602154", ""},
		{"kundnummer wrong", "kundnummer", PDF, "60 21 5", "60 21 5", "ska vara sex siffror, t.ex. 602154"},
		{"list", "ovriga_kundnummer", PDF, "602155;602156", "602155, 602156", ""},
		{"list wrong", "ovriga_kundnummer", PDF, "602155;6021", "602155;6021", "ska vara kundnummer med sex siffror, åtskilda med komma, t.ex. 602155, 602156"},
		{"pdf box ticked", "roll_forskrivare", PDF, "Yes", "true", ""},
		{"pdf box off", "roll_forskrivare", PDF, "Off", "false", ""},
		{"pdf box empty", "roll_forskrivare", PDF, "", "false", ""},
		{"workbook box ja", "roll_forskrivare", XLSX, "Ja", "true", ""},
		{"workbook box nej", "roll_forskrivare", XLSX, "Nej", "false", ""},
		{"workbook box empty", "roll_forskrivare", XLSX, "", "false", ""},
		{"workbook box wrong", "roll_forskrivare", XLSX, "kanske", "false", "ska vara Ja eller Nej (ifyllt: kanske)"},
		{"tag", "blankett", PDF, " websesam-behorighet/1 ", "websesam-behorighet/1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := normaliseValue(field(tt.field), tt.in, tt.format)
			if got != tt.want || reason != tt.reason {
				t.Errorf("normaliseValue(%s, %q) = %q, %q; want %q, %q", tt.field, tt.in, got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestJoinOrAndLowerFirst(t *testing.T) {
	if got, want := joinOr([]string{"a", "b", "c"}), "a, b eller c"; got != want {
		t.Errorf("joinOr = %q, want %q", got, want)
	}
	if got, want := joinOr([]string{"a"}), "a"; got != want {
		t.Errorf("joinOr = %q, want %q", got, want)
	}
	if got, want := lowerFirst("Ärende"), "ärende"; got != want {
		t.Errorf("lowerFirst = %q, want %q", got, want)
	}
	if got := lowerFirst(""); got != "" {
		t.Errorf("lowerFirst(\"\") = %q, want \"\"", got)
	}
}

// FuzzNormaliseValue checks, for every field of both forms and any input,
// that normalising never panics, always gives valid UTF-8 that is already
// folded, and that a good value is a fixed point: reading what was stored
// gives it back unchanged (so a request re-checked later is not altered).
func FuzzNormaliseValue(f *testing.F) {
	for _, s := range []string{
		"", "Off", "Ja", "kanske", "ny", "Ändring", "1.12.2026", "20261301", "mailto:a@b.se",
		"Åsa <a@b.se>", "+46 (0)10-473 80 80", "se2321000131-e1", "602 154", "602155;602156\n602157",
		"A\u030asa\u00a0\u00a0Öberg", "\xff\xfe", "\u200b",
	} {
		f.Add(s)
	}
	fields := append(append([]Field{}, singleDef.Fields...), multiDef.Fields...)
	fields = append(fields, multiDef.UserColumns...)
	f.Fuzz(func(t *testing.T, in string) {
		for _, fd := range fields {
			for _, format := range []Format{PDF, XLSX} {
				v, reason := normaliseValue(fd, in, format)
				if !utf8.ValidString(v) {
					t.Fatalf("%s(%q) = %q, not UTF-8", fd.Name, in, v)
				}
				if fd.Kind == Checkbox {
					if v != "true" && v != "false" {
						t.Fatalf("%s(%q) = %q, want true or false", fd.Name, in, v)
					}
					continue
				}
				if foldText(v) != v {
					t.Fatalf("%s(%q) = %q, not folded", fd.Name, in, v)
				}
				if reason != "" || v == "" {
					continue
				}
				again, reason2 := normaliseValue(fd, v, format)
				if again != v || reason2 != "" {
					t.Fatalf("%s(%q) = %q, but reading that gives %q, %q", fd.Name, in, v, again, reason2)
				}
			}
		}
	})
}
