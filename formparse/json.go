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
	b := newJSONWriter()
	b.WriteString(`{"form":`)
	b.value(string(f.ID))
	b.WriteString(`,"version":`)
	b.value(f.Version)
	b.WriteString(`,"fields":`)
	var fields []Field
	if def != nil {
		fields = def.Fields
	}
	b.fields(fields, f.Fields)
	b.WriteString(`,"users":[`)
	var cols []Field
	if def != nil {
		cols = def.UserColumns
	}
	for i, u := range f.Users {
		if i > 0 {
			b.WriteByte(',')
		}
		b.fields(cols, u.Fields)
	}
	b.WriteString(`],"problems":`)
	problems := f.Problems
	if problems == nil {
		problems = []FieldProblem{}
	}
	b.value(problems)
	b.WriteString(`,"complete":`)
	b.value(f.Complete())
	b.WriteByte('}')
	if b.err != nil {
		return nil, b.err
	}
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

// jsonWriter builds one JSON document, encoding each value with one reused
// encoder that does not escape HTML (a reply may quote "<" or "&" as
// written). The first encoding error is kept in err.
type jsonWriter struct {
	bytes.Buffer
	tmp bytes.Buffer
	enc *json.Encoder
	err error
}

func newJSONWriter() *jsonWriter {
	w := &jsonWriter{}
	w.enc = json.NewEncoder(&w.tmp)
	w.enc.SetEscapeHTML(false)
	return w
}

// value appends v without the encoder's trailing newline.
func (w *jsonWriter) value(v any) {
	w.tmp.Reset()
	if err := w.enc.Encode(v); err != nil {
		if w.err == nil {
			w.err = err
		}
		w.WriteString("null")
		return
	}
	w.Write(bytes.TrimSuffix(w.tmp.Bytes(), []byte("\n")))
}

// fields writes values as one object: the names of fields first, in that
// order, then any other names sorted (there should be none).
func (w *jsonWriter) fields(fields []Field, values map[string]string) {
	w.WriteByte('{')
	n := 0
	key := func(name string) {
		if n > 0 {
			w.WriteByte(',')
		}
		n++
		w.value(name)
		w.WriteByte(':')
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
			w.value(v == "true")
		} else {
			w.value(v)
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
		w.value(values[name])
	}
	w.WriteByte('}')
}
