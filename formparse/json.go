package formparse

import (
	"bytes"
	"encoding/json"
	"slices"
)

// MarshalJSON writes the form as the stable object of `parse --json` (without
// the "file" key that only the command knows):
//
//	{"form", "version", "fields", "users", "problems", "complete"}
//
// Fields and user columns are written in form order so that a person reading
// the output (or a golden file) finds them where the form shows them.
// Checkboxes are JSON booleans, every other value a string; `users` and
// `problems` are arrays, empty rather than null.
func (f *Form) MarshalJSON() ([]byte, error) {
	def := f.Definition()
	var b bytes.Buffer
	b.WriteString(`{"form":`)
	writeJSON(&b, string(f.ID))
	b.WriteString(`,"version":`)
	writeJSON(&b, f.Version)
	b.WriteString(`,"fields":`)
	var fields []Field
	if def != nil {
		fields = def.Fields
	}
	writeFieldsJSON(&b, fields, f.Fields)
	b.WriteString(`,"users":[`)
	var cols []Field
	if def != nil {
		cols = def.UserColumns
	}
	for i, u := range f.Users {
		if i > 0 {
			b.WriteByte(',')
		}
		writeFieldsJSON(&b, cols, u.Fields)
	}
	b.WriteString(`],"problems":`)
	problems := f.Problems
	if problems == nil {
		problems = []FieldProblem{}
	}
	if err := writeJSON(&b, problems); err != nil {
		return nil, err
	}
	b.WriteString(`,"complete":`)
	writeJSON(&b, f.Complete())
	b.WriteByte('}')
	return b.Bytes(), nil
}

// FieldValues returns values (a form's Fields, or one user row's) typed as
// they appear in JSON: checkboxes of def as booleans, everything else as
// strings. The queue's JSON uses it so that a request's fields look exactly
// like the fields of `parse --json`.
func (d *Definition) FieldValues(values map[string]string) map[string]any {
	out := make(map[string]any, len(values))
	for name, v := range values {
		out[name] = v
	}
	for _, list := range [][]Field{d.Fields, d.UserColumns} {
		for _, fd := range list {
			if v, ok := values[fd.Name]; ok && fd.Kind == Checkbox {
				out[fd.Name] = v == "true"
			}
		}
	}
	return out
}

// writeFieldsJSON writes values as one object: the names of fields first, in
// that order, then any other names sorted (there should be none).
func writeFieldsJSON(b *bytes.Buffer, fields []Field, values map[string]string) {
	b.WriteByte('{')
	n := 0
	key := func(name string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		writeJSON(b, name)
		b.WriteByte(':')
	}
	seen := make(map[string]bool, len(fields))
	for _, fd := range fields {
		seen[fd.Name] = true
		v, ok := values[fd.Name]
		if !ok {
			continue
		}
		key(fd.Name)
		if fd.Kind == Checkbox {
			writeJSON(b, v == "true")
		} else {
			writeJSON(b, v)
		}
	}
	var rest []string
	for name := range values {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		key(name)
		writeJSON(b, values[name])
	}
	b.WriteByte('}')
}

// writeJSON appends v encoded without HTML escaping (a reply may quote
// "<" or "&" as written) and without the encoder's trailing newline.
func writeJSON(b *bytes.Buffer, v any) error {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
	return nil
}
