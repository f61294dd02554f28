package endpoint

import "reflect"

// WithDefaults returns c with each unset (zero) field set to the same field
// of defaults, as cmp.Or would do field by field. A configuration section
// thus declares its defaults once, as a value of its own type, rather than
// naming every field twice in a line of its own. Only exported fields are
// filled, and only at the top level: a nested section has its own defaults.
// C must be a struct type.
func WithDefaults[C any](c, defaults C) C {
	v := reflect.ValueOf(&c).Elem()
	d := reflect.ValueOf(defaults)
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() && f.IsZero() {
			f.Set(d.Field(i))
		}
	}
	return c
}
