package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/store"
)

func init() { subcommands = append(subcommands, newBackupCommand) }

func newBackupCommand() *cobra.Command {
	var dbPath string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "backup --db PATH FILE",
		Short: "Write a consistent copy of the database to FILE",
		Long: `backup copies the database into FILE from one read transaction, so the copy
is consistent even while other readers use the file. FILE is written to a
temporary file next to it and renamed into place, with mode 0600 (it holds
personal data). The database must not be held by the daemon: bbolt lets one
process hold a file being written.`,
		Example: `  websesam-intake backup --db /var/lib/websesam-intake/intake.db /srv/backup/intake-$(date +%F).db`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dbPath == "" {
				return usagef("backup needs --db PATH (see '%s --help')", cmd.CommandPath())
			}
			return runBackup(dbPath, args[0], timeout, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dbPath, "db", "", "the database file to copy")
	cmd.Flags().DurationVar(&timeout, "timeout", store.DefaultTimeout, "how long to wait for the database lock")
	return cmd
}

func runBackup(dbPath, file string, timeout time.Duration, stdout io.Writer) (err error) {
	if same, _ := sameFile(dbPath, file); same {
		return usagef("backup: %s is the database itself", file)
	}
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("back up database: %w", err)
	}
	s, err := store.Open(dbPath, store.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return fmt.Errorf("back up database: %w", err)
	}
	defer s.Close()

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
	n, err := s.Backup(tmp)
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write backup file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write backup file: %w", err)
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
