package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

// backupCLI runs the program in-process and returns its outputs, exit
// status and error.
func backupCLI(args ...string) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code, err
}

// testDB makes a database with one outbox row and returns its path.
func testDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "intake.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.EnqueueOutbox(store.OutboxRow{MessageID: "m1@intake.test", Kind: "kvittens", From: "intake@region.test",
		To: []string{"anna@region.test"}, Subject: "Re: webSesam", Raw: []byte("Subject: Re: webSesam\r\n\r\nTack\r\n")}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBackupCommand(t *testing.T) {
	noDaemon(t)
	db := testDB(t)
	file := filepath.Join(t.TempDir(), "copy.db")
	stdout, stderr, code, err := backupCLI("backup", "--db", db, file)
	if code != 0 || err != nil || stderr != "" {
		t.Fatalf("exit status %d, err %v, stderr %q; want 0", code, err, stderr)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode(), os.FileMode(0o600); got != want {
		t.Errorf("mode: got %v, want %v", got, want)
	}
	if got, want := stdout, "wrote "+file+" ("+strconv.FormatInt(fi.Size(), 10)+" bytes)\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("files next to the backup: got %d, want only the backup", len(entries))
	}
	c, err := store.Open(file, store.Options{})
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer c.Close()
	if err := c.Check(); err != nil {
		t.Errorf("check backup: %v", err)
	}
	row, err := c.OutboxGet("test", 1)
	if err != nil {
		t.Fatal(err)
	}
	if row.MessageID != "m1@intake.test" || string(row.Raw) != "Subject: Re: webSesam\r\n\r\nTack\r\n" {
		t.Errorf("row in backup: got %+v", row)
	}
}

func TestBackupCommandRefuses(t *testing.T) {
	noDaemon(t)
	db := testDB(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "copy.db")
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no file", []string{"backup", "--db", db}, 2, "backup takes 1 argument(s), got 0 (see 'websesam-intake backup --help')"},
		{"unknown flag", []string{"backup", "--dbx", db, file}, 2, "unknown flag: --dbx (see 'websesam-intake backup --help')"},
		{"onto the database", []string{"backup", "--db", db, db}, 2, "backup: " + db + " is the database itself"},
		{"missing database", []string{"backup", "--db", filepath.Join(dir, "none.db"), file}, 1,
			"back up database: stat " + filepath.Join(dir, "none.db") + ": no such file or directory"},
		{"missing directory", []string{"backup", "--db", db, filepath.Join(dir, "no", "copy.db")}, 1,
			"create backup file: open " + filepath.Join(dir, "no") + "/.copy.db.tmp-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code, err := backupCLI(tc.args...)
			if code != tc.wantCode || err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("got status %d, err %v; want %d, %s", code, err, tc.wantCode, tc.wantErr)
			}
			if !strings.HasPrefix(stderr, "websesam-intake: "+tc.wantErr) {
				t.Errorf("stderr: got %q", stderr)
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("backup file written despite the error")
			}
		})
	}

	t.Run("database held by the daemon", func(t *testing.T) {
		s, err := store.Open(db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, stderr, code, err := backupCLI("backup", "--timeout", "100ms", "--db", db, file)
		if code != 1 || !errors.Is(err, store.ErrLocked) {
			t.Fatalf("got status %d, err %v; want 1 and ErrLocked", code, err)
		}
		want := "websesam-intake: back up database: the database " + db + " is in use by another process (is the daemon running?)\n"
		if stderr != want {
			t.Errorf("stderr: got %q, want %q", stderr, want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files left behind: %d", len(entries))
		}
	})
}

// TestBackupHot takes a backup while a daemon holds the store: the copy comes
// over the staff socket, holds every request, and the daemon's audit log
// names who took it. Without a daemon the file itself is copied.
func TestBackupHot(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		file := filepath.Join(t.TempDir(), "hot.db")
		stdout, stderr, code, err := backupCLI("backup", file)
		if code != 0 {
			t.Fatalf("exit %d, err %v, stderr %q", code, err, stderr)
		}
		if !strings.HasPrefix(stdout, "wrote "+file+" (") {
			t.Errorf("stdout = %q", stdout)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("mode: got %v, want %v", got, want)
		}
		copied, err := store.Open(file, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range f.ids {
			if _, err := copied.ShowRequest("check", id); err != nil {
				t.Errorf("request %s in the copy: %v", id, err)
			}
		}
		copied.Close()
		if env.st == nil {
			return
		}
		entries, err := env.st.AuditList(me(t), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		wantAudited(t, entries, store.AuditBackup, me(t), 1)
	})
}
