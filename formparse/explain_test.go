package formparse

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Every file in testdata/forms that is not a readable form gets a specific
// explanation, not a fallback: the table in explain.go follows the details
// the readers actually write.
func TestExplainFixtures(t *testing.T) {
	want := map[string]string{
		"other-docx":          "filen är ett Word-dokument, inte blanketten",
		"other-garbage":       "filen är inte en ifylld webSesam-blankett (PDF eller Excel)",
		"other-jpeg":          "filen är en bild (till exempel en inskannad eller fotograferad blankett); fyll i blanketten på datorn och skicka själva filen",
		"other-xls":           "filen är i det gamla Excel-formatet (.xls); spara den som Excel-arbetsbok (.xlsx) och skicka den igen",
		"other-xlsm":          "Excel-filen innehåller makron (.xlsm); använd blanketten i formatet .xlsx",
		"other-zip":           "filen är ett zip-arkiv; skicka blanketten som den är, utan att packa den",
		"pdf-encrypted":       "filen är lösenordsskyddad och kan inte läsas; spara den utan lösenord och skicka den igen",
		"xlsx-encrypted":      "filen är lösenordsskyddad och kan inte läsas; spara den utan lösenord och skicka den igen",
		"pdf-no-form":         "PDF-filen har inga ifyllbara fält (en utskriven och inskannad blankett?); fyll i blanketten på datorn och skicka den sparade filen",
		"pdf-pdftk-flattened": "PDF-filen har inga ifyllbara fält (en utskriven och inskannad blankett?); fyll i blanketten på datorn och skicka den sparade filen",
		"pdf-other-form":      "filen är en annan blankett än ansökan om behörighet till webSesam",
		"pdf-truncated":       "filen är skadad och kan inte öppnas; spara blanketten igen och skicka den på nytt",
	}
	cases, _ := filepath.Glob("../testdata/forms/*/input.*")
	seen := 0
	for _, path := range cases {
		name := filepath.Base(filepath.Dir(path))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Read(data, Options{})
		if err == nil {
			continue
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: not a form (%v) but has no expected explanation here", name, err)
			continue
		}
		seen++
		if got := Explain(err); got != w {
			t.Errorf("%s: Explain(%q)\n got %q\nwant %q", name, err, got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("explained %d fixtures, want %d (a fixture named above is missing or now reads as a form)", seen, len(want))
	}
}

func TestExplainSentinels(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("%w: gave up after 10s", ErrTimeout), "filen tog för lång tid att läsa och har lagts åt sidan för kontroll"},
		{fmt.Errorf("%w: index out of range", ErrCrashed), "filen kunde inte läsas och har lagts åt sidan för kontroll"},
		{fmt.Errorf("%w: 20000000 bytes, the limit is 10485760", ErrTooLarge), "filen är för stor"},
		{fmt.Errorf("%w: the workbook unpacks to 300000000 bytes, the limit is 52428800", ErrTooLarge), "Excel-filen är för stor när den packas upp; använd den tomma blanketten och fyll i den på nytt"},
		{fmt.Errorf("%w: the workbook defines more than 1000 names (xl/workbook.xml)", ErrTooLarge), "Excel-filen innehåller mycket mer än blanketten (texter, namn eller format); använd den tomma blanketten och fyll i den på nytt"},
		{fmt.Errorf("%w: the form reader exceeded its memory limit", ErrMemoryLimit), "filen krävde för mycket minne för att läsas och har lagts åt sidan för kontroll"},
		{fmt.Errorf("%w: form %q is version %q; only version 1 is read", ErrNotAForm, Single, "2"), "blanketten är av en annan version än den som gäller nu; hämta den aktuella blanketten och fyll i den"},
		{fmt.Errorf("%w: the file is empty", ErrNotAForm), "filen är tom"},
		{errors.New("something else"), "filen kunde inte läsas som en webSesam-blankett"},
	} {
		if got := Explain(tc.err); got != tc.want {
			t.Errorf("Explain(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
