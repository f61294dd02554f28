package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorCLI: the exit statuses and the two output forms. The checks
// themselves are tested in package intake/doctor against real servers.
func TestDoctorCLI(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	stdout, _, code := runCLI(t, "doctor", "--config", missing)
	if code != 1 {
		t.Errorf("a missing file: exit status %d, want 1", code)
	}
	if !strings.HasPrefix(stdout, "✗ config: read "+missing) || !strings.Contains(stdout, "\n    → fix it in "+missing) {
		t.Errorf("stdout = %q, want the ✗ line and its advice", stdout)
	}
	stdout, _, code = runCLI(t, "doctor", "--json", "--config", missing)
	var got []map[string]string
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != 1 {
		t.Fatalf("--json: exit %d, %v in %q", code, err, stdout)
	}
	if len(got) != 1 || got[0]["check"] != "config" || got[0]["status"] != "fail" || got[0]["advice"] == "" {
		t.Errorf("--json: got %v", got)
	}
	if _, _, code := runCLI(t, "doctor", "extra"); code != 2 {
		t.Errorf("an argument: exit status %d, want 2", code)
	}
	if _, _, code := runCLI(t, "doctor", "--no-such-flag"); code != 2 {
		t.Errorf("an unknown flag: exit status %d, want 2", code)
	}
}
