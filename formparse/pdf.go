package formparse

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/form"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

var disableConfigDir sync.Once

// pdfConf returns a fresh pdfcpu configuration (pdfcpu writes into it, so it
// is never shared). The first call stops pdfcpu from creating and reading a
// configuration directory under the home directory, which it would otherwise
// do on first use, racing between concurrent first calls (NOTES.md).
func pdfConf() *model.Configuration {
	disableConfigDir.Do(api.DisableConfigDir)
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	return conf
}

// Checkbox values of the PDF reader: pdfcpu exports a checkbox as a bool, so
// the export value another tool wrote ("Ja", "1", …) is not seen; a ticked box
// reads as "Yes" and an unticked one as "Off", which the checker understands.
const (
	pdfExportTicked   = "Yes"
	pdfExportUnticked = "Off"
)

// readPDF extracts every AcroForm field of a PDF by its name. The typed lists
// of pdfcpu's export are merged by name (a text field whose value looks like a
// date comes back as a date field; ids differ between tools). Fields named
// anvandare_N_<column> go to Raw.Users, sorted by N.
//
// A PDF with a user password is ErrEncrypted. A PDF encrypted with an owner
// password only opens in every viewer without a password, and is read like
// any other: its restrictions (no editing, no copying) concern what a viewer
// lets a person do, not whether the values can be read.
//
// opts is not consulted: Read has already applied the size limit and runs
// this under its time budget.
func readPDF(data []byte, opts Options) (*Raw, error) {
	fg, err := exportForm(data)
	if err != nil {
		return nil, err
	}
	raw := &Raw{Format: PDF, Fields: map[string]string{}}
	users := map[int]map[string]string{}
	extra := map[int]bool{}
	put := func(name, value string) {
		name = pdfFieldName(name)
		if name == "" {
			return
		}
		value = strings.ReplaceAll(strings.ReplaceAll(value, "\r\n", "\n"), "\r", "\n")
		if n, col, ok := SplitUserFieldName(name); ok {
			raw.HasUserSheet = true
			if n > multiDef.MaxUsers {
				if strings.TrimSpace(value) != "" {
					extra[n] = true
				}
				return
			}
			row := users[n]
			if row == nil {
				row = map[string]string{}
				users[n] = row
			}
			if row[col] == "" {
				row[col] = value
			}
			return
		}
		// The same name twice (a field with widgets on two pages, or two
		// tools' copies): keep the value that was filled in.
		if raw.Fields[name] == "" {
			raw.Fields[name] = value
		}
	}
	for _, f := range fg.Forms {
		for _, tf := range f.TextFields {
			if tf != nil {
				put(tf.Name, tf.Value)
			}
		}
		for _, df := range f.DateFields {
			if df != nil {
				put(df.Name, df.Value)
			}
		}
		for _, cb := range f.CheckBoxes {
			if cb == nil {
				continue
			}
			v := pdfExportUnticked
			if cb.Value {
				v = pdfExportTicked
			}
			name := pdfFieldName(cb.Name)
			if old, seen := raw.Fields[name]; seen && old == pdfExportTicked {
				continue
			}
			raw.Fields[name] = v
		}
		for _, rb := range f.RadioButtonGroups {
			if rb != nil {
				put(rb.Name, rb.Value)
			}
		}
		for _, cb := range f.ComboBoxes {
			if cb != nil {
				put(cb.Name, cb.Value)
			}
		}
		for _, lb := range f.ListBoxes {
			if lb != nil {
				put(lb.Name, strings.Join(lb.Values, ", "))
			}
		}
	}
	delete(raw.Fields, "")
	for n, fields := range users {
		raw.Users = append(raw.Users, RawUser{N: n, Fields: fields})
	}
	sort.Slice(raw.Users, func(i, j int) bool { return raw.Users[i].N < raw.Users[j].N })
	raw.ExtraUsers = len(extra)
	return raw, nil
}

// exportForm does what api.ExportForm does (read, validate, export) minus
// its optimisation pass, which reading fields does not need, plus one repair:
// a form whose AcroForm has no default appearance (/DA) and a text field
// without one fails pdfcpu's validation as a whole (NOTES.md), although the
// values are all there; such a form gets a default /DA before validation.
func exportForm(data []byte) (*form.FormGroup, error) {
	conf := pdfConf()
	conf.Cmd = model.EXPORTFORMFIELDS
	ctx, err := api.ReadContext(bytes.NewReader(data), conf)
	if err != nil {
		return nil, pdfError(err)
	}
	if root, err := ctx.XRefTable.Catalog(); err == nil {
		if acro, err := ctx.XRefTable.DereferenceDict(root["AcroForm"]); err == nil && acro != nil {
			if _, ok := acro.Find("DA"); !ok {
				acro["DA"] = types.StringLiteral("/Helv 0 Tf 0 g")
			}
		}
	}
	if err := api.ValidateContext(ctx); err != nil {
		return nil, pdfError(err)
	}
	if ctx.XRefTable.Form != nil {
		fields, _ := ctx.XRefTable.DereferenceArray(ctx.XRefTable.Form["Fields"])
		repairButtonStates(ctx.XRefTable, fields, false, map[int]bool{}, 0)
	}
	fg, ok, err := form.ExportForm(ctx.XRefTable, "")
	if err != nil {
		return nil, pdfError(err)
	}
	if !ok || fg == nil || len(fg.Forms) == 0 {
		return nil, pdfError(api.ErrNoFormFieldsAffected)
	}
	return fg, nil
}

// repairButtonStates turns the state of checkboxes and radio buttons (/V,
// /DV, /AS) into a name where a tool wrote it as a string, as some form
// fillers do; pdfcpu's export fails the whole form on such a field. The walk
// follows /Kids, inheriting /FT, and stops at cycles and at a depth no real
// form reaches.
func repairButtonStates(xt *model.XRefTable, kids types.Array, button bool, seen map[int]bool, depth int) {
	if depth > 16 {
		return
	}
	for _, o := range kids {
		if ref, ok := o.(types.IndirectRef); ok {
			if seen[ref.ObjectNumber.Value()] {
				continue
			}
			seen[ref.ObjectNumber.Value()] = true
		}
		d, err := xt.DereferenceDict(o)
		if err != nil || d == nil {
			continue
		}
		isButton := button
		if ft := d.NameEntry("FT"); ft != nil {
			isButton = *ft == "Btn"
		}
		if isButton {
			for _, key := range []string{"V", "DV", "AS"} {
				if s, err := types.StringOrHexLiteral(d[key]); err == nil && s != nil {
					d[key] = types.Name(types.EncodeName(strings.TrimSpace(*s)))
				}
			}
		}
		if sub, err := xt.DereferenceArray(d["Kids"]); err == nil && len(sub) > 0 {
			repairButtonStates(xt, sub, isButton, seen, depth+1)
		}
	}
}

// pdfError maps what pdfcpu says about a PDF it cannot export to one of the
// package's sentinels. pdfcpu's errors are mostly plain strings, so apart
// from the wrong password they are told apart by their text.
func pdfError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, pdfcpu.ErrWrongPassword):
		return fmt.Errorf("%w: a password-protected PDF", ErrEncrypted)
	case errors.Is(err, api.ErrNoFormFieldsAffected),
		strings.Contains(msg, "no form available"):
		return fmt.Errorf("%w: the PDF has no fillable form fields (a scan or a printed form?)", ErrNotAForm)
	case strings.Contains(msg, "encrypt"):
		return fmt.Errorf("%w: an encrypted PDF pdfcpu cannot open (%s)", ErrEncrypted, shortCause(msg))
	}
	return fmt.Errorf("%w: a damaged PDF: %s", ErrNotAForm, shortCause(msg))
}

// shortCause keeps the last part of pdfcpu's chain of "step: step: cause"
// that says what was wrong, cut to a log-friendly length.
func shortCause(msg string) string {
	parts := strings.Split(msg, ": ")
	cause := parts[len(parts)-1]
	if len(parts) > 1 && len(cause) < 12 {
		cause = parts[len(parts)-2] + ": " + cause
	}
	if r := []rune(cause); len(r) > 80 {
		cause = string(r[:80]) + "…"
	}
	return cause
}

// pdfFieldName turns the fully qualified name of a field in a form that was
// re-made in another program back into the form's own field name: a parent
// field adds a prefix ("form1.fornamn"), and XFA-based designers add both a
// path and an index ("topmostSubform[0].Page1[0].fornamn[0]"). The last
// part is taken only when it is one of the form's field names, so a field of
// another kind of form keeps its name and the form is still not recognised.
func pdfFieldName(full string) string {
	name := full
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '['); i > 0 && strings.HasSuffix(name, "]") {
		name = name[:i]
	}
	if name == full || isFormFieldName(name) {
		return name
	}
	return full
}

// isFormFieldName reports whether name is a field of either form, or a
// user-row field of the multi-user form.
func isFormFieldName(name string) bool {
	for _, def := range Definitions() {
		if _, ok := def.Field(name); ok {
			return true
		}
	}
	if _, col, ok := SplitUserFieldName(name); ok {
		_, ok := multiDef.UserColumn(col)
		return ok
	}
	return false
}
