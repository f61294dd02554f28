//go:build e2e

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The service's user and group and the staff group, as make install and
// the README's install steps name them.
const (
	serviceUser = "websesam-intake"
	staffGroup  = "websesam-staff"
)

// TestE2EInstall follows the README's install steps into a scratch root
// (DESTDIR) and then runs the installed binary exactly as the unit does,
// as the service user and not as root: `config check` and `serve --once`
// against the installed configuration and credentials, with the mail stack
// as the real IMAP and SMTP servers. A configuration or credential the
// service cannot read fails here as it would fail under systemd (exit 2,
// permission denied).
//
// The users are created for real (make users, as make install does on a
// machine); they are left in place, as after a real install, because
// another run of the suite on the same machine may be using them.
func TestE2EInstall(t *testing.T) {
	s := loadStack(t)
	for _, tool := range []string{"setpriv", "useradd", "groupadd", "getent"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to install and run as the service user: %v", tool, err)
		}
	}
	root := scratchRoot(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	makeIn := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-s", "-C", repo}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	// README step 1: the users and groups, before any file is given to them.
	makeIn(t, "users")
	u, err := user.Lookup(serviceUser)
	if err != nil {
		t.Fatalf("make users did not create %s: %v", serviceUser, err)
	}
	g, err := user.LookupGroup(serviceUser)
	if err != nil {
		t.Fatalf("make users did not create the group %s: %v", serviceUser, err)
	}
	if _, err := user.LookupGroup(staffGroup); err != nil {
		t.Fatalf("make users did not create the group %s: %v", staffGroup, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)

	// README step 2: make install (here into DESTDIR, PREFIX=/usr).
	makeIn(t, "install", "DESTDIR="+root, "PREFIX=/usr")
	etc := filepath.Join(root, "etc/websesam-intake")
	bin := filepath.Join(root, "usr/bin/websesam-intake")
	t.Run("installed files", func(t *testing.T) {
		for _, f := range []string{"usr/bin/websesam-intake", "usr/lib/systemd/system/websesam-intake.service",
			"usr/share/doc/websesam-intake/config.example.toml", "usr/share/doc/websesam-intake/README.md"} {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("make install did not install %s: %v", f, err)
			}
		}
		unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/websesam-intake.service"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^ExecStart=/usr/bin/websesam-intake serve --config /etc/websesam-intake/config.toml$`).Match(unit) {
			t.Errorf("the installed unit does not start /usr/bin/websesam-intake with /etc/websesam-intake/config.toml")
		}
		if !regexp.MustCompile(`(?m)^User=` + serviceUser + `$`).Match(unit) {
			t.Errorf("the installed unit does not run as %s", serviceUser)
		}
		wantOwner(t, etc, 0, gid, 0o750|os.ModeDir)
		wantOwner(t, filepath.Join(etc, "config.toml"), 0, gid, 0o640)
	})

	// README step 3: the credentials, root's and readable by the service's
	// group, written from standard input as an operator pastes them.
	for _, name := range []string{"imap-password", "smtp-password"} {
		cmd := exec.Command("install", "-m", "0640", "-o", "root", "-g", serviceUser, "/dev/stdin", filepath.Join(etc, name))
		cmd.Stdin = strings.NewReader(s.password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("install %s: %v\n%s", name, err, out)
		}
	}

	// README step 4: the operator edits the installed example. Only what
	// points at this machine changes; everything else is the example's.
	state := filepath.Join(root, "var/lib/websesam-intake")
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(state, 0o750); err != nil { // StateDirectory=
		t.Fatal(err)
	}
	if err := os.Chown(state, uid, gid); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(etc, "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	for _, e := range []struct{ section, key, value string }{
		{"mailbox", "addr", strconv.Quote(s.imap)},
		{"mailbox", "tls", `"starttls"`},
		{"mailbox", "ca_file", strconv.Quote(s.ca)},
		{"mailbox", "username", strconv.Quote(s.intake)},
		{"store", "path", strconv.Quote(filepath.Join(state, "intake.db"))},
		{"staff", "socket", strconv.Quote(filepath.Join(root, "run/websesam-intake/staff.sock"))},
		{"mailer", "from_address", strconv.Quote(s.alias)},
		{"mailer.smtp", "addr", strconv.Quote(s.smtp)},
		{"mailer.smtp", "ca_file", strconv.Quote(s.ca)},
		{"mailer.smtp", "username", strconv.Quote(s.intake)},
	} {
		text = setTOML(t, text, e.section, e.key, e.value)
	}
	if err := os.WriteFile(cfgPath, []byte(text), 0o640); err != nil { // keeps owner and mode
		t.Fatal(err)
	}
	wantOwner(t, cfgPath, 0, gid, 0o640)

	asService := func(t *testing.T, limit time.Duration, args ...string) (string, int) {
		t.Helper()
		// As the unit: the service's user and group, the staff group as a
		// supplementary one, a clean environment, the credentials where
		// LoadCredential= puts them.
		argv := append([]string{"--reuid=" + serviceUser, "--regid=" + serviceUser, "--init-groups", "--",
			"env", "-i", "PATH=/usr/bin:/bin", "CREDENTIALS_DIRECTORY=" + etc, bin}, args...)
		cmd := exec.Command("setpriv", argv...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(limit):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v did not end within %s:\n%s", args, limit, out.String())
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	}

	t.Run("config check as the service user", func(t *testing.T) {
		if out, code := asService(t, time.Minute, "config", "check", cfgPath); code != 0 {
			t.Fatalf("config check as %s: status %d, want 0\n%s", serviceUser, code, out)
		}
	})

	t.Run("serve --once as the service user", func(t *testing.T) {
		s.reset(t)
		s.submit(t, [][]byte{readEML(t, "outlook-pdf")}, true)
		out, code := asService(t, 3*time.Minute, "serve", "--once", "--config", cfgPath)
		if code != 0 {
			t.Fatalf("serve --once as %s: status %d, want 0\n%s", serviceUser, code, out)
		}
		ic := s.login(t, s.intake)
		defer ic.Close()
		if got := count(ic, "webSesam/Queued"); got != 1 {
			t.Errorf("webSesam/Queued holds %d messages, want 1 (the filled form)", got)
		}
		if got := count(ic, "INBOX"); got != 0 {
			t.Errorf("INBOX holds %d messages, want 0", got)
		}
		waitFor(t, "the receipt delivered", time.Minute, func() bool { return s.repliesIn(t) >= 1 })
		db := filepath.Join(state, "intake.db")
		wantOwner(t, db, uid, gid, 0o600)
		recs, reqs := records(t, db)
		if len(recs) != 1 || len(reqs) != 1 {
			t.Errorf("store: %d messages and %d requests, want 1 and 1", len(recs), len(reqs))
		}
	})

	t.Run("an existing configuration is kept", func(t *testing.T) {
		before, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		out := makeIn(t, "install", "DESTDIR="+root, "PREFIX=/usr")
		after, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("make install overwrote the existing configuration")
		}
		if !strings.Contains(out, "kept the existing") {
			t.Errorf("make install did not say it kept the configuration:\n%s", out)
		}
	})

	t.Run("a configuration left root's only is given to the service", func(t *testing.T) {
		// What make install wrote before it knew the service's group.
		if err := os.Chown(cfgPath, 0, 0); err != nil {
			t.Fatal(err)
		}
		if out, code := asService(t, time.Minute, "config", "check", cfgPath); code != 2 || !strings.Contains(out, "permission denied") {
			t.Fatalf("config check of a root-only file: status %d, want 2 with permission denied\n%s", code, out)
		}
		makeIn(t, "install", "DESTDIR="+root, "PREFIX=/usr")
		wantOwner(t, cfgPath, 0, gid, 0o640)
		if out, code := asService(t, time.Minute, "config", "check", cfgPath); code != 0 {
			t.Fatalf("config check after make install: status %d, want 0\n%s", code, out)
		}
	})
}

// scratchRoot is a DESTDIR the service user can reach: t.TempDir is 0700
// root's, and the service must traverse it to the installed files as it
// traverses / on a real machine.
func scratchRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// wantOwner checks a file's owner, group and mode.
func wantOwner(t *testing.T, path string, uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if got, want := fmt.Sprintf("%d:%d %v", st.Uid, st.Gid, fi.Mode()), fmt.Sprintf("%d:%d %v", uid, gid, mode); got != want {
		t.Errorf("%s: owner and mode %s, want %s", path, got, want)
	}
}

// setTOML sets key = value in [section] of a TOML text, as an operator
// editing the file would; the key must be there already.
func setTOML(t *testing.T, text, section, key, value string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	in := false
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			in = trimmed == "["+section+"]"
			continue
		}
		if in && strings.HasPrefix(trimmed, key+" ") {
			lines[i] = key + " = " + value
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("no key %s in [%s] of the example configuration", key, section)
	return text
}
