package ops

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LogConfig is how the daemon logs; it belongs in Config as [log].
type LogConfig struct {
	// Level is debug, info (default), warn or error.
	Level string `toml:"level"`
	// Format is auto (default: JSON when stderr is the journal or not a
	// terminal, text on a terminal), json or text.
	Format string `toml:"format"`
}

// ErrLogConfig wraps a bad [log] setting.
var ErrLogConfig = errors.New("bad log setting")

// NewLogger builds the daemon's logger on w (normally os.Stderr) from cfg.
// With format auto, JSON goes to the journal (JOURNAL_STREAM names w's
// device and inode, as systemd sets it for StandardError=journal) and to
// anything that is not a terminal (a file, a pipe to a collector); a person
// at a terminal gets text.
func NewLogger(w io.Writer, cfg LogConfig) (*slog.Logger, error) {
	if key, p := cfg.Problem(); p != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrLogConfig, key, p)
	}
	level := slog.LevelInfo
	switch strings.ToLower(cfg.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	switch strings.ToLower(cfg.Format) {
	case "", "auto":
		if IsJournal(w, os.Getenv("JOURNAL_STREAM")) || !IsTerminal(w) {
			return slog.New(slog.NewJSONHandler(w, opts)), nil
		}
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default: // text
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
}

// durationText writes every duration as Go's text ("1.5s", "200ms") in both
// formats: the JSON handler would write nanoseconds, which a person reading
// the journal has to divide in their head.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// Problem names the key of c that is wrong and why, for Config.Validate
// and NewLogger ("" for nothing).
func (c LogConfig) Problem() (key, problem string) {
	switch strings.ToLower(c.Level) {
	case "", "debug", "info", "warn", "warning", "error":
	default:
		return "log.level", fmt.Sprintf("want debug, info, warn or error, got %q", c.Level)
	}
	switch strings.ToLower(c.Format) {
	case "", "auto", "json", "text":
	default:
		return "log.format", fmt.Sprintf("want auto, json or text, got %q", c.Format)
	}
	return "", ""
}

// IsJournal reports whether w is the stream systemd connected to the
// journal: JOURNAL_STREAM is "device:inode" of that stream (systemd.exec(5)),
// and merely inheriting the variable from a parent does not count.
func IsJournal(w io.Writer, journalStream string) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok || journalStream == "" {
		return false
	}
	dev, ino, ok := strings.Cut(journalStream, ":")
	if !ok {
		return false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == d && uint64(st.Ino) == i
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
