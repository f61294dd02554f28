package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/ops"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

func newServeCommand() *cobra.Command {
	var configPath string
	var once, dryRun bool
	cmd := &cobra.Command{
		Use:   "serve --config FILE [--once] [--dry-run]",
		Short: "Run the daemon: watch the mailbox, answer and queue forms",
		Long: `serve watches the intake mailbox over IMAP. Every message whose subject holds
the keyword gets exactly one outcome (queued, returned, no-form, ignored,
quarantined), recorded in the store before the message is moved to the
outcome's folder; replies go out through the outbox over SMTP. Other mail is
never touched, not even marked read.

--once handles what is in the mailbox now, delivers the due replies and exits
(for cron and tests). --dry-run examines the mailbox read-only, writes nothing
to the store or the server and prints what would happen to each message.

Exit status: 0 success, 1 runtime failure, 2 bad usage or configuration.`,
		Example: `  websesam-intake serve --config /etc/websesam-intake/config.toml
  websesam-intake serve --config config.toml --dry-run`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usagef("serve needs --config FILE (see '%s --help')", cmd.CommandPath())
			}
			cfg, err := intake.LoadConfig(configPath)
			if err != nil {
				return usageError{err}
			}
			setMemoryLimit()
			log, err := ops.NewLogger(cmd.ErrOrStderr(), cfg.Log)
			if err != nil {
				return usageError{err}
			}
			notify, err := ops.NewNotifierFromEnv()
			if err != nil {
				log.Warn("systemd notification is off", "err", err)
			}
			defer notify.Close()
			_ = notify.Status("opening the store")
			st, err := openStore(cfg, dryRun)
			if dryRun && errors.Is(err, store.ErrLocked) {
				// The daemon runs: what is still in the mailbox is what it
				// has not handled, so the dry run goes on without the store.
				fmt.Fprintln(cmd.ErrOrStderr(), "note: the daemon holds the store; the dry run goes on without it")
				st, err = nil, nil
			}
			if err != nil {
				return err
			}
			if st != nil {
				defer st.Close()
			}
			metrics := ops.NewMetrics(st)
			metrics.WatchTokens(cfg.Tokens())
			// A step of the loop may take a command timeout for a fetch and
			// one for a move, and a parse; silence beyond that is a stuck loop.
			hb := ops.NewHeartbeat(2*cfg.Mailbox.CommandTimeout + cfg.Policy.ParseTimeout + time.Minute)
			d, err := intake.New(cfg, st, intake.Options{Logger: log, DryRun: dryRun, Out: cmd.OutOrStdout(),
				Notifier: notify, Heartbeat: hb, Metrics: metrics})
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if once || dryRun {
				return d.Once(ctx)
			}
			// The staff socket: listened on before serving, so that a bad
			// group or path is a configuration error (exit 2) at start.
			staffCtx, stopStaff := context.WithCancel(ctx)
			staffDone, err := startStaff(staffCtx, st, cfg.Mailer, cfg.Staff, metrics, log.With("component", "staff"),
				staffapi.ServerOptions{Promise: cfg.Queue.Promise, Retain: d.Retain})
			if err != nil {
				stopStaff()
				return err
			}
			// Staff calls in flight finish before the store closes.
			defer func() {
				stopStaff()
				if err := staffDone(); err != nil {
					log.Error("staff socket", "err", err)
				}
			}()
			stopRuntime := startRuntime(ctx, cfg, log, notify, hb, metrics)
			defer stopRuntime()
			log.Info("serving", "mailbox", cfg.Mailbox.Addr, "folder", cfg.Mailbox.Folder, "staff_socket", cfg.Staff.Socket, "metrics", cfg.Metrics.Addr)
			return d.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "the configuration file (TOML)")
	cmd.Flags().BoolVar(&once, "once", false, "handle what is in the mailbox now, then exit")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "write nothing; print what would happen to each message")
	return cmd
}

// openStore opens the database; a dry run opens it read-only when it exists
// and runs without it when it does not (everything then looks new).
func openStore(cfg intake.Config, dryRun bool) (*store.Store, error) {
	if !dryRun {
		return store.Open(cfg.Store.Path, store.Options{Timeout: cfg.Store.LockTimeout})
	}
	if _, err := os.Stat(cfg.Store.Path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	st, err := store.Open(cfg.Store.Path, store.Options{Timeout: store.DefaultTimeout, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open the store read-only for the dry run: %w", err)
	}
	return st, nil
}

// startStaff listens on the staff socket and serves the staff API on it
// until ctx ends (the one way the API is started: serve and demo). The
// returned wait gives Serve's result. A group that does not exist, or a
// [mailer] section the composer refuses, is bad configuration (exit 2).
// opts carry the daemon's promise and retention pass (report, purge).
func startStaff(ctx context.Context, st *store.Store, mailerCfg mailer.Config, cfg staffapi.Config, m *ops.Metrics, log *slog.Logger, opts staffapi.ServerOptions) (wait func() error, err error) {
	ln, err := staffapi.ListenUnix(cfg.Socket, staffapi.SocketMode, cfg.Group)
	if err != nil {
		if errors.Is(err, staffapi.ErrGroup) {
			return nil, usageError{err}
		}
		return nil, err
	}
	comp, err := mailer.NewComposer(mailerCfg)
	if err != nil {
		ln.Close()
		return nil, usageError{err}
	}
	opts.Logger, opts.Samples = log, metricsSamples(m)
	api, err := staffapi.NewServer(st, comp, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln) }()
	return func() error { return <-done }, nil
}

// startRuntime starts what the daemon needs beside it under systemd:
// STOPPING=1 as soon as ctx ends (the first SIGTERM: the message in hand is
// being finished), an immediate exit on a second signal, the watchdog fed
// by the main loop's heartbeat, and /metrics when configured. The returned
// stop ends them and waits.
func startRuntime(ctx context.Context, cfg intake.Config, log *slog.Logger, notify *ops.Notifier, hb *ops.Heartbeat, m *ops.Metrics) (stop func()) {
	untilSecond := ops.ExitOnSecondSignal(log, os.Exit)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		if err := notify.Stopping("stopping: finishing the message in hand"); err != nil {
			log.Warn("tell systemd the daemon is stopping", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		ops.RunWatchdog(ctx, notify, hb, log)
	}()
	if cfg.Metrics.Addr != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ops.ServeMetrics(ctx, cfg.Metrics.Addr, m); err != nil {
				log.Error("metrics are not served", "err", err)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		untilSecond()
	}
}

// metricsSamples reads the daemon's figures as `status` shows them: the
// series of its /metrics page by name.
func metricsSamples(m *ops.Metrics) func() (map[string]float64, error) {
	if m == nil {
		return nil
	}
	return func() (map[string]float64, error) {
		var b bytes.Buffer
		if _, err := m.WriteTo(&b); err != nil {
			return nil, err
		}
		return promSamples(&b)
	}
}

// daemonMemoryLimit is the daemon's own soft memory limit (forms are read in
// worker processes, so the daemon holds only mail in transit: chunks of a
// few MiB). Near it the collector works harder instead of letting the heap
// grow to twice what is live.
const daemonMemoryLimit = 128 << 20

// setMemoryLimit sets daemonMemoryLimit unless GOMEMLIMIT is set, which
// the operator's choice then stays. It is soft: a daemon that truly needs
// more goes on (the unit's MemoryMax= is the hard bound).
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(daemonMemoryLimit)
	}
}
