package intake

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/fence"
	"github.com/regionhmc/websesam-intake/store"
)

// TestMain lets the test binary be the child daemon of the crash test: the
// in-memory servers live only in the test process, so the child is pointed
// at them by a real configuration file and runs the same code as serve.
func TestMain(m *testing.M) {
	// Every attachment is read by a worker: this test binary, started again.
	fence.MaybeServeWorker()
	if path := os.Getenv("INTAKE_TEST_CHILD"); path != "" {
		os.Exit(runChild(path, os.Getenv("INTAKE_TEST_ONCE") != ""))
	}
	os.Exit(m.Run())
}

func runChild(path string, once bool) int {
	cfg, err := LoadConfig(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	st, err := store.Open(cfg.Store.Path, store.Options{Timeout: cfg.Store.LockTimeout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The child reads forms in process: this test proves the store's
	// crash safety under SIGKILL at random moments, and a worker process
	// per form (race-instrumented here) would make its 30 restarts take
	// many minutes. The fence has its own tests (formparse/fence) and every
	// other daemon test here reads through it.
	d, err := New(cfg, st, Options{Logger: log, FormReader: inProcessReader{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if once {
		err = d.Once(ctx)
	} else {
		err = d.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("INTAKE_TEST_RSS") != "" {
		// VmHWM of this process after exec: the rusage the parent sees
		// would count the parent's pages shared before the exec.
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				fmt.Fprintln(os.Stdout, line)
			}
		}
	}
	return 0
}

// writeConfig writes cfg's essentials as the TOML an operator would.
func writeConfig(t testing.TB, dir string, cfg Config) string {
	t.Helper()
	toml := fmt.Sprintf(`# crash test
[mailbox]
addr = %q
tls = "plain"
username = %q
password_file = %q
command_timeout = "10s"
poll_interval = "1s"
idle_restart = "5s"
reconnect_min = "10ms"
reconnect_max = "200ms"

[policy]
allowed_sender_domains = [%q]
max_attachment_size = %d

[store]
path = %q

[mailer]
from_address = %q
login_instructions = "Logga in på https://websesam.example.se."
form_url = "https://region.example.se/websesam"
allowed_recipient_domains = [%q]
max_per_recipient_per_hour = 100000
retry_base = "50ms"
retry_max = "1s"
poll_interval = "100ms"
reconnect_max = "1s"

[mailer.smtp]
addr = %q
tls = "plain"
`, cfg.Mailbox.Addr, cfg.Mailbox.Username, cfg.Mailbox.PasswordFile, testDomain, cfg.Policy.MaxAttachmentSize, cfg.Store.Path,
		cfg.Mailer.FromAddress, testDomain, cfg.Mailer.SMTP.Addr)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// inProcessReader reads a form in this process, without a worker.
type inProcessReader struct{}

func (inProcessReader) Read(_ context.Context, data []byte, opts formparse.Options) (*formparse.Form, error) {
	return formparse.Read(data, opts)
}
