package intake

import (
	"errors"
	"testing"
	"time"
)

// TestValidateReportSections: [queue], [retention] and [digest] problems,
// each exactly as config check prints it.
func TestValidateReportSections(t *testing.T) {
	base := testConfig(t, t.TempDir(), "127.0.0.1:1143", "127.0.0.1:1025")
	if err := base.Validate(); err != nil {
		t.Fatalf("the base config: %v", err)
	}
	if got, want := base.Queue.Promise, DefaultPromise; got != want {
		t.Fatalf("default promise: got %d, want %d", got, want)
	}
	for _, c := range []struct {
		name   string
		change func(c *Config)
		want   string // the whole error, "" for valid
	}{
		{"digest to an allowed domain", func(c *Config) {
			c.Digest.Recipients = []string{"hmc@" + c.Mailer.AllowedDomains[0]}
			c.Digest.At = "06:45"
		}, ""},
		{"move to a folder of its own", func(c *Config) { c.Retention.MoveTo = "webSesam/Gallrat" }, ""},
		{"promise zero", func(c *Config) { c.Queue.Promise = -1 }, "bad configuration: queue.promise: want working days from 1 to 100, got -1"},
		{"negative days", func(c *Config) { c.Retention.IgnoredFolderDays = -3 }, "bad configuration: retention.ignored_folder_days: want days from 1 to 3650, got -3"},
		{"move to an outcome folder", func(c *Config) { c.Retention.MoveTo = c.Folders.Returned },
			"bad configuration: retention.move_to: must differ from the outcome folders (it is the returned folder)"},
		{"move to the inbox", func(c *Config) { c.Retention.MoveTo = "inbox" }, "bad configuration: retention.move_to: must differ from mailbox.folder"},
		{"digest outside the domains", func(c *Config) { c.Digest.Recipients = []string{"boss@gmail.com"} },
			`bad configuration: digest.recipients: "boss@gmail.com" is outside mailer.allowed_recipient_domains`},
		{"digest with a name", func(c *Config) { c.Digest.Recipients = []string{"Boss <boss@x.se>"} },
			`bad configuration: digest.recipients: want a bare address, got "Boss <boss@x.se>"`},
		{"digest time", func(c *Config) { c.Digest.At = "7.30" }, `bad configuration: digest.at: want a time of day HH:MM, got "7.30"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			cfg.Digest.Recipients = nil
			c.change(&cfg)
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate: got %v, want nil", err)
			case c.want != "" && (!errors.Is(err, ErrConfig) || err.Error() != c.want):
				t.Fatalf("Validate: got %v, want %q", err, c.want)
			}
		})
	}
	if d, _ := (DigestConfig{At: "06:45"}).DigestTime(); d != 6*time.Hour+45*time.Minute {
		t.Errorf("DigestTime(06:45): got %s", d)
	}
}
