package ops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a real pseudo-terminal and returns its terminal side.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return slave
}

func fileStream(t *testing.T, f *os.File) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func TestIsJournal(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other, err := os.Create(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tests := []struct {
		name   string
		stream string
		w      io.Writer
		want   bool
	}{
		{"this very stream", fileStream(t, f), f, true},
		{"inherited from a parent whose stream this is not", fileStream(t, other), f, false},
		{"unset", "", f, false},
		{"garbage", "journal", f, false},
		{"not a number", "a:b", f, false},
		{"not a file", fileStream(t, f), &bytes.Buffer{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsJournal(tt.w, tt.stream); got != tt.want {
				t.Errorf("IsJournal = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	dir := t.TempDir()
	pty := openPTY(t)
	if !IsTerminal(pty) {
		t.Fatal("IsTerminal(a pty) = false")
	}
	tests := []struct {
		name     string
		cfg      LogConfig
		toPTY    bool
		wantJSON bool
	}{
		{"auto on a file is JSON", LogConfig{}, false, true},
		{"auto on a terminal is text", LogConfig{Format: "auto"}, true, false},
		{"json on a terminal", LogConfig{Format: "json"}, true, true},
		{"text on a file", LogConfig{Format: "text"}, false, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w *os.File
			if tt.toPTY {
				w = pty
				if got := IsTerminal(w); !got {
					t.Fatal("not a terminal")
				}
			} else {
				var err error
				w, err = os.Create(filepath.Join(dir, fmt.Sprintf("log%d", i)))
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
			}
			log, err := NewLogger(w, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%T", log.Handler())
			want := "*slog.TextHandler"
			if tt.wantJSON {
				want = "*slog.JSONHandler"
			}
			if got != want {
				t.Errorf("handler %s, want %s", got, want)
			}
		})
	}
	t.Run("auto on the journal is JSON even on a terminal", func(t *testing.T) {
		t.Setenv("JOURNAL_STREAM", fileStream(t, pty))
		log, err := NewLogger(pty, LogConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprintf("%T", log.Handler()), "*slog.JSONHandler"; got != want {
			t.Errorf("handler %s, want %s", got, want)
		}
	})
	t.Run("levels", func(t *testing.T) {
		for _, tt := range []struct {
			level string
			want  string // the messages that come out of debug, info, warn, error
		}{
			{"debug", "d i w e"}, {"", "i w e"}, {"INFO", "i w e"}, {"warn", "w e"}, {"error", "e"},
		} {
			f, err := os.Create(filepath.Join(dir, "level-"+tt.level))
			if err != nil {
				t.Fatal(err)
			}
			log, err := NewLogger(f, LogConfig{Level: tt.level, Format: "json"})
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			f.Close()
			raw, _ := os.ReadFile(f.Name())
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if i := strings.Index(line, `"msg":"`); i >= 0 {
					got = append(got, line[i+7:i+8])
				}
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("level %q: logged %v, want %s", tt.level, got, tt.want)
			}
		}
	})
	t.Run("bad settings", func(t *testing.T) {
		for _, tt := range []struct {
			cfg  LogConfig
			want string
		}{
			{LogConfig{Level: "loud"}, `log.level: want debug, info, warn or error, got "loud"`},
			{LogConfig{Format: "xml"}, `log.format: want auto, json or text, got "xml"`},
		} {
			_, err := NewLogger(os.Stderr, tt.cfg)
			if !errors.Is(err, ErrLogConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%+v: err = %v, want ErrLogConfig with %q", tt.cfg, err, tt.want)
			}
		}
	})
}

// TestLogDurations: durations read as "1.5s" in the JSON a journal keeps,
// not as nanoseconds.
func TestLogDurations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	log, err := NewLogger(w, LogConfig{Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("reconnecting", "backoff", 1500*time.Millisecond, slog.Group("poll", "interval", time.Minute))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"backoff":"1.5s"`, `"interval":"1m0s"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log line %s lacks %s", b, want)
		}
	}
}
