// Package formparse knows the webSesam access form inside out: its one
// definition (every field, label, kind and mandatory rule of both the
// single-user and the multi-user form, in form.go), writing the blank PDF and
// workbook forms, reading filled ones from bytes, and checking them.
//
// The definition in form.go is the single source the writer, the readers, the
// checker and the replies all use: adding a field means editing that one place.
//
// formparse imports nothing else of this module.
package formparse
