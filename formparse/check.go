package formparse

// check normalises raw against def and lists every problem. (Stub: the check helper owns this file.)
func check(def *Definition, raw *Raw, opts Options) *Form {
	return &Form{ID: def.ID, Version: Version, Format: raw.Format, Fields: map[string]string{}}
}
