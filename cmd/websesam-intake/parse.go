package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/fence"
)

func newParseCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "parse [--json] FILE...",
		Short: "Read and check filled-in forms offline, as the worker would",
		Long: `parse reads each FILE (a filled-in webSesam form, PDF or Excel) exactly as the
worker reads an attachment, and shows its fields and every problem found.

With --json it prints one JSON object per file and line:
  {"file": …, "form": …, "version": 1, "fields": {…}, "users": […], "problems": […], "complete": …}
or {"file": …, "error": "…"} for a file that is not a readable form.

The exit status is 0 when every file is a readable form (complete or not) and
1 when any is not; every file is reported either way.`,
		Example: `  websesam-intake parse ansokan.pdf
  websesam-intake parse --json *.pdf *.xlsx | jq .problems`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for i, path := range args {
				form, err := parseFile(cmd.Context(), path)
				if err != nil {
					failed++
				}
				if asJSON {
					err = writeParseJSON(cmd.OutOrStdout(), path, form, err)
				} else {
					if i > 0 {
						fmt.Fprintln(cmd.OutOrStdout())
					}
					err = writeParseText(cmd.OutOrStdout(), path, form, err)
				}
				if err != nil {
					return fmt.Errorf("write result: %w", err)
				}
			}
			if failed > 0 {
				return silentError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per file and line")
	return cmd
}

// parseFile reads one file as the daemon reads an attachment: in a fenced
// worker process (formparse/fence), so staff see the daemon's answer for a
// hostile file too ("the form reader exceeded its memory limit") and the
// command survives it. Reading stops just past the size limit, so a huge
// file is refused without loading it whole.
func parseFile(ctx context.Context, path string) (*formparse.Form, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > formparse.DefaultMaxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", formparse.ErrTooLarge, st.Size(), formparse.DefaultMaxSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, formparse.DefaultMaxSize+1))
	if err != nil {
		return nil, err // an *os.PathError: "read DIR: is a directory"
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var r fence.Reader
	return r.Read(ctx, data, formparse.Options{})
}

// writeParseJSON writes the line of one file: the form's object with "file"
// first, or {"file", "error"}.
func writeParseJSON(w io.Writer, path string, form *formparse.Form, readErr error) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(path); err != nil {
		return err
	}
	file := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	line := append([]byte(`{"file":`), file...)
	b.Reset()
	if readErr != nil {
		if err := enc.Encode(map[string]string{"error": errorLine(readErr)}); err != nil {
			return err
		}
	} else if err := enc.Encode(form); err != nil {
		return err
	}
	// Both objects start with '{': put "file" in front of their keys.
	line = append(line, ',')
	line = append(line, b.Bytes()[1:]...)
	_, err := w.Write(line)
	return err
}

// errorLine keeps an error on one line: a recovered panic carries its stack
// after the first line, which belongs in a log, not in this output.
func errorLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// writeParseText writes a summary of one file for a person at a terminal:
// the form's fields by label and section, the users as a table, then the
// problems or "Komplett".
func writeParseText(w io.Writer, path string, form *formparse.Form, readErr error) error {
	var b strings.Builder
	b.WriteString(path + "\n")
	if readErr != nil {
		b.WriteString("  Inte en läsbar blankett: " + errorLine(readErr) + "\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	def := form.Definition()
	fmt.Fprintf(&b, "  %s\n  (%s, %s)\n", def.Title, def.Blankett(), strings.ToUpper(string(form.Format)))

	// Labels are padded to the longest so that the values of every section
	// line up; the user rows stand before the manager's section, as on the
	// PDF, where the manager signs off the list.
	width := 0
	for _, f := range def.Fields {
		width = max(width, utf8.RuneCountInString(f.Label))
	}
	section := ""
	usersDone := len(def.UserColumns) == 0
	for _, f := range def.Fields {
		if f.Kind == formparse.Tag {
			continue
		}
		if !usersDone && f.Section == formparse.SectionChef {
			writeUsers(&b, def, form.Users)
			usersDone = true
		}
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(&b, "\n  %s\n", section)
		}
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(f.Label))
		fmt.Fprintf(&b, "    %s%s  %s\n", f.Label, pad, displayValue(f, form.Fields[f.Name]))
	}
	if !usersDone {
		writeUsers(&b, def, form.Users)
	}

	if form.Complete() {
		b.WriteString("\n  Komplett\n")
	} else {
		b.WriteString("\n  Problem:\n")
		for _, p := range form.Problems {
			fmt.Fprintf(&b, "    %s: %s\n", p.Label, p.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayValue shows a value as the form shows it: a box as ☒ or ☐, a choice
// by its label, nothing as "–".
func displayValue(f formparse.Field, v string) string { return formValue(f, v, "☒", "☐", "–") }

// formValue is a value as the form shows it: a box as ticked or not, a
// choice by its label, nothing as none; parse and queue show say these in
// their own words.
func formValue(f formparse.Field, v, ticked, unticked, none string) string {
	switch f.Kind {
	case formparse.Checkbox:
		if v == "true" {
			return ticked
		}
		return unticked
	case formparse.Choice:
		if l, ok := f.ChoiceLabel(v); ok {
			return l
		}
	}
	if v == "" {
		return none
	}
	return v
}

// writeUsers writes the user rows as a table under the heading
// "Användare (N)".
func writeUsers(b *strings.Builder, def *formparse.Definition, users []formparse.User) {
	fmt.Fprintf(b, "\n  %s (%d)\n", formparse.SectionUsers, len(users))
	if len(users) == 0 {
		return
	}
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	head := []string{"Nr"}
	for _, c := range def.UserColumns {
		head = append(head, c.Label)
	}
	fmt.Fprintf(tw, "    %s\n", strings.Join(head, "\t"))
	for _, u := range users {
		row := []string{strconv.Itoa(u.N)}
		for _, c := range def.UserColumns {
			row = append(row, displayValue(c, u.Fields[c.Name]))
		}
		fmt.Fprintf(tw, "    %s\n", strings.Join(row, "\t"))
	}
	tw.Flush()
	writeTrimmed(b, table.String())
}

// writeTrimmed copies text without the spaces tabwriter pads at line ends.
func writeTrimmed(b *strings.Builder, text string) {
	for line := range strings.Lines(text) {
		b.WriteString(strings.TrimRight(line, " \n"))
		b.WriteByte('\n')
	}
}
