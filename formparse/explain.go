package formparse

import (
	"errors"
	"strings"
)

// Explain says in plain Swedish, for the person who sent the file, why a file
// is not a readable form and what to do about it. It reads the detail that
// this package's readers put after the sentinel (so the wording of those
// details and this table change together; explain_test.go holds them to
// it) and falls back to one sentence per sentinel.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, e := range explanations {
		if errors.Is(err, e.sentinel) && (e.detail == "" || strings.Contains(msg, e.detail)) {
			return e.text
		}
	}
	return "filen kunde inte läsas som en webSesam-blankett"
}

// explanations are tried in order; the first whose sentinel matches and
// whose detail occurs in the error's text wins. A row with no detail is the
// sentinel's fallback and comes after the specific rows.
var explanations = []struct {
	sentinel error
	detail   string
	text     string
}{
	{ErrEncrypted, "", "filen är lösenordsskyddad och kan inte läsas; spara den utan lösenord och skicka den igen"},
	{ErrTooLarge, "unpacks", "Excel-filen är för stor när den packas upp; använd den tomma blanketten och fyll i den på nytt"},
	{ErrTooLarge, "worksheet", "Excel-filen har för många rader eller celler för att vara blanketten"},
	{ErrTooLarge, "sheet", "Excel-filen har för många rader eller celler för att vara blanketten"},
	{ErrTooLarge, "the workbook", "Excel-filen innehåller mycket mer än blanketten (texter, namn eller format); använd den tomma blanketten och fyll i den på nytt"},
	{ErrTooLarge, "part", "Excel-filen innehåller mycket mer än blanketten (texter, namn eller format); använd den tomma blanketten och fyll i den på nytt"},
	{ErrTooLarge, "", "filen är för stor"},
	{ErrTimeout, "", "filen tog för lång tid att läsa och har lagts åt sidan för kontroll"},
	{ErrCrashed, "", "filen kunde inte läsas och har lagts åt sidan för kontroll"},
	{ErrMemoryLimit, "", "filen krävde för mycket minne för att läsas och har lagts åt sidan för kontroll"},
	{ErrNotAForm, "damaged", "filen är skadad och kan inte öppnas; spara blanketten igen och skicka den på nytt"},
	{ErrNotAForm, "image", "filen är en bild (till exempel en inskannad eller fotograferad blankett); fyll i blanketten på datorn och skicka själva filen"},
	{ErrNotAForm, "no fillable form fields", "PDF-filen har inga ifyllbara fält (en utskriven och inskannad blankett?); fyll i blanketten på datorn och skicka den sparade filen"},
	{ErrNotAForm, "macro-enabled", "Excel-filen innehåller makron (.xlsm); använd blanketten i formatet .xlsx"},
	{ErrNotAForm, "97-2003", "filen är i det gamla Excel-formatet (.xls); spara den som Excel-arbetsbok (.xlsx) och skicka den igen"},
	{ErrNotAForm, "Word document", "filen är ett Word-dokument, inte blanketten"},
	{ErrNotAForm, "word-processor", "filen är ett Word-dokument, inte blanketten"},
	{ErrNotAForm, "presentation", "filen är en presentation, inte blanketten"},
	{ErrNotAForm, "OpenDocument", "filen är sparad i OpenDocument-format; spara den som PDF eller Excel-arbetsbok (.xlsx)"},
	{ErrNotAForm, "zip archive", "filen är ett zip-arkiv; skicka blanketten som den är, utan att packa den"},
	{ErrNotAForm, "RTF", "filen är ett textdokument, inte blanketten"},
	{ErrNotAForm, "is version", "blanketten är av en annan version än den som gäller nu; hämta den aktuella blanketten och fyll i den"},
	{ErrNotAForm, "unknown form", "filen är en annan blankett än ansökan om behörighet till webSesam"},
	{ErrNotAForm, "another kind", "filen är en annan blankett än ansökan om behörighet till webSesam"},
	{ErrNotAForm, "has no form fields", "filen är inte blanketten för webSesam (den har inga av blankettens fält)"},
	{ErrNotAForm, "empty", "filen är tom"},
	{ErrNotAForm, "", "filen är inte en ifylld webSesam-blankett (PDF eller Excel)"},
}
