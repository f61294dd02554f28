package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse"
)

func TestFormWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blanketter") // created by the command
	stdout, stderr, code := runCLI(t, "form", "write", dir)
	if code != 0 || stderr != "" {
		t.Fatalf("exit status = %d, stderr %q; want 0 and nothing", code, stderr)
	}
	want := []struct {
		name   string
		id     formparse.FormID
		format formparse.Format
	}{
		{"websesam-behorighet.pdf", formparse.Single, formparse.PDF},
		{"websesam-behorighet.xlsx", formparse.Single, formparse.XLSX},
		{"websesam-behorighet-flera.pdf", formparse.Multi, formparse.PDF},
		{"websesam-behorighet-flera.xlsx", formparse.Multi, formparse.XLSX},
	}
	var wantOut []string
	for _, w := range want {
		wantOut = append(wantOut, filepath.Join(dir, w.name))
	}
	if got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); !slices.Equal(got, wantOut) {
		t.Errorf("stdout = %q, want %q", got, wantOut)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("%d files written, want %d", len(entries), len(want))
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, w.name))
			if err != nil {
				t.Fatal(err)
			}
			form, err := formparse.Read(data, formparse.Options{})
			if err != nil {
				t.Fatalf("Read = %v, want the blank form", err)
			}
			if form.ID != w.id || form.Format != w.format {
				t.Errorf("Read = %s as %s, want %s as %s", form.ID, form.Format, w.id, w.format)
			}
			if got, want := form.Fields["blankett"], string(w.id)+"/1"; got != want {
				t.Errorf("blankett = %q, want %q", got, want)
			}
			if form.Complete() {
				t.Error("a blank form reads as complete")
			}
		})
	}
}

func TestFormWriteUsage(t *testing.T) {
	for _, args := range [][]string{{"form", "write"}, {"form", "write", "a", "b"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, args...)
			if code != 2 {
				t.Errorf("exit status = %d, want 2", code)
			}
			if want := "websesam-intake: write takes 1 argument(s), got " + strconv.Itoa(len(args)-2) + " (see 'websesam-intake form write --help')\n"; stderr != want {
				t.Errorf("stderr = %q, want %q", stderr, want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}
