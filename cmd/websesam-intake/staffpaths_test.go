package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

// A staff command given the daemon's configuration (--config or
// $WEBSESAM_INTAKE_CONFIG) opens the database the configuration names, not
// the default; --db still wins over it.
func TestStaffPathsFromConfig(t *testing.T) {
	t.Setenv("SUDO_USER", "")
	t.Setenv("WEBSESAM_INTAKE_SOCKET", "")
	t.Setenv("WEBSESAM_INTAKE_DB", "")
	t.Setenv("WEBSESAM_INTAKE_CONFIG", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "intake.db")
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := writeFile(t, dir, "config.toml", fmt.Appendf(nil, "[store]\npath = %q\n\n[staff]\nsocket = %q\n", db, filepath.Join(dir, "nobody.sock")))

	t.Run("--config", func(t *testing.T) {
		out, errOut, code := runCLI(t, "report", "--json", "--config", cfg)
		if code != 0 {
			t.Fatalf("report --config: exit %d: %s", code, errOut)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("report --json: not JSON: %.200s", out)
		}
	})
	t.Run("$WEBSESAM_INTAKE_CONFIG", func(t *testing.T) {
		t.Setenv("WEBSESAM_INTAKE_CONFIG", cfg)
		if _, errOut, code := runCLI(t, "report", "--json"); code != 0 {
			t.Fatalf("report with $WEBSESAM_INTAKE_CONFIG: exit %d: %s", code, errOut)
		}
	})
	t.Run("--db wins", func(t *testing.T) {
		other := filepath.Join(dir, "other.db")
		_, errOut, code := runCLI(t, "report", "--json", "--config", cfg, "--db", other)
		if code == 0 || !strings.Contains(errOut, other+" does not exist") {
			t.Errorf("report --config --db %s: exit %d, stderr %q; want the missing %s named", other, code, errOut, other)
		}
	})
	t.Run("a broken configuration", func(t *testing.T) {
		bad := writeFile(t, dir, "bad.toml", []byte("[store\n"))
		_, errOut, code := runCLI(t, "report", "--json", "--config", bad)
		if code != 2 || !strings.Contains(errOut, "read "+bad) || !strings.Contains(errOut, "give --socket and --db") {
			t.Errorf("report --config %s: exit %d, stderr %q; want exit 2 naming the file and what to do", bad, code, errOut)
		}
	})
}
