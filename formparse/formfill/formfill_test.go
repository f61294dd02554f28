package formfill_test

import (
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/formfill"
)

func TestPDF(t *testing.T) {
	blank, err := formparse.WriteBlank(formparse.Single, formparse.PDF)
	if err != nil {
		t.Fatal(err)
	}
	filled, err := formfill.PDF(blank, map[string]string{
		"fornamn": "Åsa", "arende": "andring", "roll_bestallare": "Yes", "roll_forskrivare": "Off",
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := formparse.Read(filled, formparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"fornamn": "Åsa", "arende": "andring", "roll_bestallare": "true", "roll_forskrivare": "false",
	} {
		if got := f.Fields[name]; got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}

	_, err = formfill.PDF(blank, map[string]string{"skostorlek": "42"})
	if err == nil || !strings.Contains(err.Error(), `the PDF has no field "skostorlek"`) {
		t.Errorf("unknown field: got %v", err)
	}
}
