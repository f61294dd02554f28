package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

func newBackupCommand() *cobra.Command {
	var timeout time.Duration
	cmd := staffCommand(&cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the database to FILE, also while the daemon runs",
		Long: `backup copies the database into FILE from one read transaction, so the copy
is consistent. While the daemon runs, the copy is streamed from it over its
staff socket (a hot backup: the daemon keeps working) and the audit log
records who took it; otherwise the file given with --db is opened read-only.
FILE is written to a temporary file next to it, checked to open as a
database, and renamed into place, with mode 0600 (it holds personal data).` + staffHelp,
		Example: `  websesam-intake backup /srv/backup/intake-$(date +%F).db
  websesam-intake backup --db /var/lib/websesam-intake/intake.db copy.db`,
		Args: exactArgs(1),
	}, func(cmd *cobra.Command, sf staffFlags, args []string) error {
		return runBackup(cmd, sf, args[0], timeout)
	})
	cmd.Flags().DurationVar(&timeout, "timeout", store.DefaultTimeout, "how long to wait for the database lock when no daemon answers")
	return cmd
}

func runBackup(cmd *cobra.Command, f staffFlags, file string, timeout time.Duration) error {
	stdout := cmd.OutOrStdout()
	if same, _ := sameFile(f.db, file); same {
		return usagef("backup: %s is the database itself", file)
	}
	c, _, err := staffapi.Dial(cmd.Context(), f.socket)
	switch {
	case err == nil:
		defer c.Close()
		return writeBackup(file, stdout, func(w io.Writer) (int64, error) { return c.Backup(cmd.Context(), w) })
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("reach the daemon on %s: permission denied; ask an administrator to add you to the support staff's group", f.socket)
	case !errors.Is(err, staffapi.ErrNoDaemon):
		return fmt.Errorf("reach the daemon on %s: %w", f.socket, err)
	}
	if _, err := os.Stat(f.db); err != nil {
		return fmt.Errorf("back up database: %w", err)
	}
	s, err := store.Open(f.db, store.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return fmt.Errorf("back up database: %w", err)
	}
	defer s.Close()
	return writeBackup(file, stdout, s.Backup)
}

// writeBackup writes a copy through copyTo into a private temporary file
// next to file, checks that it opens as a sound database, and renames it
// into place.
func writeBackup(file string, stdout io.Writer, copyTo func(io.Writer) (int64, error)) (err error) {

	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create backup file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("create backup file: %w", err)
	}
	n, err := copyTo(tmp)
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write backup file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write backup file: %w", err)
	}
	copied, err := store.Open(tmp.Name(), store.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("check the backup: %w", err)
	}
	err = copied.Check()
	copied.Close()
	if err != nil {
		return fmt.Errorf("check the backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write backup file: %w", err)
	}
	// Make the rename itself durable.
	if dir, err := os.Open(filepath.Dir(file)); err == nil {
		dir.Sync()
		dir.Close()
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", file, n)
	return nil
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
