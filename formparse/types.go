package formparse

import (
	"errors"
	"time"
)

// Format is the container a form came in.
type Format string

// The formats this package reads. Anything else is not a readable form.
const (
	PDF  Format = "pdf"
	XLSX Format = "xlsx"
)

// Errors that callers branch on. Every error returned by Read wraps exactly
// one of them, with a detail after the colon that says what was found.
var (
	// ErrNotAForm: the file is not a readable webSesam form (no form in the
	// PDF, a form of another kind, a scan, .xls/.xlsm/.docx, garbage, an
	// unknown form id or version). The message gets the `no-form` outcome.
	ErrNotAForm = errors.New("not a webSesam form")
	// ErrEncrypted: the file is password protected or encrypted.
	ErrEncrypted = errors.New("encrypted file")
	// ErrTooLarge: the file, or a workbook's unpacked size, is over the limit
	// (a zip bomb ends here).
	ErrTooLarge = errors.New("file too large")
	// ErrTimeout: reading took longer than Options.Timeout.
	ErrTimeout = errors.New("reading the form took too long")
	// ErrCrashed: a third-party parser panicked; the panic was recovered.
	ErrCrashed = errors.New("parser crashed")
	// ErrMemoryLimit: the fenced worker that read the file (package
	// formparse/fence) died at its memory limit. Read itself never returns
	// it; it is here so that every caller branches on one set of errors.
	ErrMemoryLimit = errors.New("the form reader exceeded its memory limit")
)

// Options bound the work done on one file. The zero value means the defaults.
type Options struct {
	MaxSize         int64         // bytes of the file itself; default 10 MiB
	MaxUnzippedSize int64         // unpacked size of a workbook; default 50 MiB
	Timeout         time.Duration // wall-clock budget; default 10 s
	// Today is the date used for nothing but tests of date rules that depend
	// on "now"; zero means time.Now().
	Today time.Time
}

// Defaults for Options.
const (
	DefaultMaxSize         = 10 << 20
	DefaultMaxUnzippedSize = 50 << 20
	DefaultTimeout         = 10 * time.Second
)

func (o Options) withDefaults() Options {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxUnzippedSize <= 0 {
		o.MaxUnzippedSize = DefaultMaxUnzippedSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Raw is what a reader extracted from a file, before any checking: values as
// written, by field name.
type Raw struct {
	Format Format
	// Fields holds every field found by its name (AcroForm field name or
	// workbook defined name), `blankett` included when present. PDF
	// checkboxes hold their value as exported ("Off", "", "Yes", "Ja", …);
	// workbook cells hold their text; a real date cell in a workbook is given
	// as YYYY-MM-DD. PDF user-row fields anvandare_N_col are NOT here but in
	// Users.
	Fields map[string]string
	// Users holds the user rows of the multi-user form in form order,
	// including empty ones is allowed (they are skipped by the checker). N is
	// the row's number as it stands on the form, from 1.
	Users []RawUser
	// HasUserSheet is set when a workbook has a sheet named Användare; a
	// PDF sets it when any anvandare_N_* field exists. It identifies the
	// multi-user form when `blankett` is missing.
	HasUserSheet bool
	// ExtraUsers counts non-empty user rows beyond Definition.MaxUsers that
	// were not read; the checker reports them as a problem of `anvandare`.
	ExtraUsers int
}

// RawUser is one user row as written.
type RawUser struct {
	N      int
	Fields map[string]string
}

// Form is a read and checked form.
type Form struct {
	ID      FormID
	Version int
	Format  Format
	// Fields holds every field of the form by name, normalised: text folded,
	// dates YYYY-MM-DD, checkboxes "true"/"false", empty string when empty. A
	// value that breaks a rule is kept as written (folded).
	Fields map[string]string
	// Users lists every non-empty user row of the multi-user form, in order.
	Users []User
	// Problems lists everything missing or wrong, in form order.
	Problems []FieldProblem
}

// User is one user row of the multi-user form, normalised like Form.Fields.
type User struct {
	N      int
	Fields map[string]string
}

// Complete reports whether the form has no problems.
func (f *Form) Complete() bool { return len(f.Problems) == 0 }

// Definition returns the form's definition.
func (f *Form) Definition() *Definition { return Lookup(f.ID) }

// FieldProblem is one thing missing or wrong on a form, named by the field (or
// group) and the label the form shows, with the reason in plain Swedish.
type FieldProblem struct {
	Field  string `json:"field"`
	Label  string `json:"label"`
	Reason string `json:"reason"`
}

func (p FieldProblem) Error() string { return p.Label + ": " + p.Reason }
