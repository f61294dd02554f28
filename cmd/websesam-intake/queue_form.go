package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
)

func newQueueFormCommand() *cobra.Command {
	var out string
	cmd := staffCommand(&cobra.Command{
		Use:   "form ID [--out PATH]",
		Short: "Save the original form file a request came from",
		Long: `Save the form file exactly as the sender attached it (PDF or workbook). --out
is a directory (the file is named after the request and the original file
name) or a file name; the default is the current directory. The file is
written readable by you only, and the read is written to the audit log.` + staffHelp,
		Example: `  websesam-intake queue form WS-2026-000042
  websesam-intake queue form WS-2026-000042 --out ~/ansokningar/`,
		Args: exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		return withStaff(cmd, sf, false, func(s *staffSession) error {
			path, err := saveRequestForm(cmd.Context(), s.Staff, args[0], out)
			if err != nil {
				return staffError(err, "queue list")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Saved the form of %s as %s\n", args[0], path)
			return nil
		})
	})
	cmd.Flags().StringVar(&out, "out", ".", "a directory to save in, or the file to write")
	return cmd
}

// saveRequestForm fetches the original form of request id and writes it
// to path: into it when it is a directory, as "<id>-<original name>". An
// existing file is never overwritten. It returns the path written.
func saveRequestForm(ctx context.Context, s staffapi.Staff, id, path string) (string, error) {
	f, err := staffapi.RequestForm.Do(ctx, s, staffapi.RequestID{ID: id})
	if err != nil {
		return "", err
	}
	if path == "" {
		path = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, id+"-"+safeFileName(f.Name))
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("save the form: %s already exists; give another name with --out: %w", path, os.ErrExist)
	}
	if err != nil {
		return "", fmt.Errorf("save the form: %w", err)
	}
	if _, err := w.Write(f.Data); err != nil {
		w.Close()
		os.Remove(path)
		return "", fmt.Errorf("save the form: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("save the form: %w", err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path, nil
}

// safeFileName keeps a sender's file name to one harmless path element.
func safeFileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		name = "form" + strings.TrimLeft(name, ".")
	}
	if len(name) > 120 {
		name = name[len(name)-120:]
	}
	return name
}
