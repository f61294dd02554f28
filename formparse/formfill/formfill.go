// Package formfill fills a fillable PDF form by field name, the way a PDF
// program saves what a person typed, using pdfcpu's own form filling. Tests
// and fixture generators use it to make filled forms from the published
// blanks; the product itself never fills a form. It imports nothing of this
// module, so formparse's own tests can use it too.
package formfill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/form"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

var disableConfigDir sync.Once

func conf() *model.Configuration {
	disableConfigDir.Do(api.DisableConfigDir)
	c := model.NewDefaultConfiguration()
	c.ValidationMode = model.ValidationRelaxed
	return c
}

// PDF returns pdf with the named fields filled: text and date fields and
// radio groups take the value as given (a radio group its export value),
// a checkbox is ticked for "Yes" and cleared for anything else. Every name
// in values must be a field of the PDF.
func PDF(pdf []byte, values map[string]string) ([]byte, error) {
	fg, err := api.ExportForm(bytes.NewReader(pdf), "form", conf())
	if err != nil {
		return nil, fmt.Errorf("fill PDF: export its fields: %w", err)
	}
	f := fg.Forms[0]
	used := map[string]bool{}
	var out form.Form
	for _, tf := range f.TextFields {
		if v, ok := values[tf.Name]; ok {
			tf.Value, used[tf.Name] = v, true
			out.TextFields = append(out.TextFields, tf)
		}
	}
	for _, df := range f.DateFields {
		if v, ok := values[df.Name]; ok {
			df.Value, used[df.Name] = v, true
			out.DateFields = append(out.DateFields, df)
		}
	}
	for _, cb := range f.CheckBoxes {
		if v, ok := values[cb.Name]; ok {
			cb.Value, used[cb.Name] = v == "Yes", true
			out.CheckBoxes = append(out.CheckBoxes, cb)
		}
	}
	for _, rb := range f.RadioButtonGroups {
		if v, ok := values[rb.Name]; ok {
			rb.Value, used[rb.Name] = v, true
			out.RadioButtonGroups = append(out.RadioButtonGroups, rb)
		}
	}
	for name := range values {
		if !used[name] {
			return nil, fmt.Errorf("fill PDF: the PDF has no field %q", name)
		}
	}
	js, err := json.Marshal(form.FormGroup{Forms: []form.Form{out}})
	if err != nil {
		return nil, fmt.Errorf("fill PDF: %w", err)
	}
	var buf bytes.Buffer
	if err := api.FillForm(bytes.NewReader(pdf), bytes.NewReader(js), &buf, conf()); err != nil {
		return nil, fmt.Errorf("fill PDF: %w", err)
	}
	return buf.Bytes(), nil
}
