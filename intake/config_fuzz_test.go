package intake

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig: no configuration file makes LoadConfig panic, and every
// refusal wraps ErrConfig (serve maps that to exit status 2).
func FuzzLoadConfig(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "deploy", "config.example.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("[mailbox]\naddr = \"imap.example.se:993\"\n[policy]\nparse_timeout = \"-1s\"\nmax_attachment_size = -5\n"))
	f.Add([]byte("[mailer]\nallowed_recipient_domains = [\"\u212aelvin.se\", \"xn--dmn-qla.se\"]\n"))
	dir := f.TempDir()
	path := filepath.Join(dir, "config.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(path); err != nil && !errors.Is(err, ErrConfig) {
			t.Fatalf("LoadConfig: %v, want an error wrapping ErrConfig", err)
		}
	})
}
