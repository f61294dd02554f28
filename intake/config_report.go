package intake

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// QueueConfig is what the centre promises about the queue.
type QueueConfig struct {
	// Promise is how many working days (Monday to Friday, Swedish holidays
	// and the three "aftnar" off; package store/workdays) a request may
	// wait from the day it was received until it is done: "normally about
	// a week" is 5. Status, /metrics, the report and the digest measure
	// against it.
	Promise int `toml:"promise"`
}

// RetentionConfig says how long personal data is kept, in days. The daemon
// applies it at start and then daily; `websesam-intake purge` does the same
// by hand. Ids, dates, statuses, the register and the audit log are kept.
type RetentionConfig struct {
	// RequestsDays: the form contents of done and rejected requests (and
	// the sender and subject of the queued and returned mail that carried
	// them), counted from when the request was closed or the mail recorded.
	RequestsDays int `toml:"requests_days"`
	// MessagesDays: the sender and subject of no-form, ignored and
	// quarantined mail.
	MessagesDays int `toml:"messages_days"`
	// NoticesDays: the recipients, subject and body of sent, failed and
	// cancelled notices (the outbox).
	NoticesDays int `toml:"notices_days"`
	// Days mail stays in each outcome folder on the server.
	QueuedFolderDays      int `toml:"queued_folder_days"`
	ReturnedFolderDays    int `toml:"returned_folder_days"`
	NoFormFolderDays      int `toml:"no_form_folder_days"`
	IgnoredFolderDays     int `toml:"ignored_folder_days"`
	QuarantinedFolderDays int `toml:"quarantined_folder_days"`
	// MoveTo is where mail past its time goes: "" expunges it, a folder
	// name moves it there (for a mailbox whose own retention or backup
	// takes over).
	MoveTo string `toml:"move_to"`
}

// DigestConfig is the optional morning digest to the centre: the queue by
// status, the requests past the promise by id and age, yesterday's
// outcomes. It names no person, only request ids.
type DigestConfig struct {
	// Recipients, each in mailer.allowed_recipient_domains. Empty: no digest.
	Recipients []string `toml:"recipients"`
	// At is the local time of day (HH:MM) it is sent, on working days only.
	At string `toml:"at"`
}

// Defaults of [queue], [retention] and [digest].
const (
	DefaultPromise               = 5
	DefaultRequestsDays          = store.DefaultRetentionDays
	DefaultMessagesDays          = 90
	DefaultNoticesDays           = 90
	DefaultQueuedFolderDays      = 365
	DefaultReturnedFolderDays    = 90
	DefaultNoFormFolderDays      = 90
	DefaultIgnoredFolderDays     = 30
	DefaultQuarantinedFolderDays = 90
	DefaultDigestAt              = "07:30"
)

func (c *Config) reportDefaults() {
	c.Queue = endpoint.WithDefaults(c.Queue, QueueConfig{Promise: DefaultPromise})
	c.Retention = endpoint.WithDefaults(c.Retention, RetentionConfig{
		RequestsDays: DefaultRequestsDays, MessagesDays: DefaultMessagesDays, NoticesDays: DefaultNoticesDays,
		QueuedFolderDays: DefaultQueuedFolderDays, ReturnedFolderDays: DefaultReturnedFolderDays,
		NoFormFolderDays: DefaultNoFormFolderDays, IgnoredFolderDays: DefaultIgnoredFolderDays,
		QuarantinedFolderDays: DefaultQuarantinedFolderDays,
	})
	c.Digest = endpoint.WithDefaults(c.Digest, DigestConfig{At: DefaultDigestAt})
}

// FolderDays is how many days mail of an outcome stays in its folder.
func (r RetentionConfig) FolderDays(o store.Outcome) int {
	return byOutcome(o, r.QueuedFolderDays, r.ReturnedFolderDays, r.NoFormFolderDays, r.IgnoredFolderDays, r.QuarantinedFolderDays)
}

// Policy is the store's view of the retention days.
func (r RetentionConfig) Policy() store.RetentionPolicy {
	return store.RetentionPolicy{RequestsDays: r.RequestsDays, MessagesDays: r.MessagesDays, NoticesDays: r.NoticesDays}
}

// DigestTime parses At as hours and minutes after midnight.
func (d DigestConfig) DigestTime() (time.Duration, error) {
	t, err := time.Parse("15:04", d.At)
	if err != nil {
		return 0, fmt.Errorf("parse digest time %q: want HH:MM", d.At)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// reportProblems validates [queue], [retention] and [digest].
func (c Config) reportProblems(add func(key, format string, args ...any)) {
	if c.Queue.Promise < 1 || c.Queue.Promise > 100 {
		add("queue.promise", "want working days from 1 to 100, got %d", c.Queue.Promise)
	}
	r := c.Retention
	for _, d := range []struct {
		key string
		v   int
	}{
		{"retention.requests_days", r.RequestsDays}, {"retention.messages_days", r.MessagesDays},
		{"retention.notices_days", r.NoticesDays}, {"retention.queued_folder_days", r.QueuedFolderDays},
		{"retention.returned_folder_days", r.ReturnedFolderDays}, {"retention.no_form_folder_days", r.NoFormFolderDays},
		{"retention.ignored_folder_days", r.IgnoredFolderDays}, {"retention.quarantined_folder_days", r.QuarantinedFolderDays},
	} {
		if d.v < 1 || d.v > 3650 {
			add(d.key, "want days from 1 to 3650, got %d", d.v)
		}
	}
	if r.MoveTo != "" {
		switch {
		case strings.Trim(r.MoveTo, "/ ") == "" || strings.Contains(r.MoveTo, "//"):
			add("retention.move_to", "not a folder name: %q", r.MoveTo)
		case strings.EqualFold(r.MoveTo, c.Mailbox.Folder):
			add("retention.move_to", "must differ from mailbox.folder")
		default:
			for _, o := range allOutcomes {
				if r.MoveTo == c.Folders.For(o) {
					add("retention.move_to", "must differ from the outcome folders (it is the %s folder)", o)
				}
			}
		}
	}
	if _, err := c.Digest.DigestTime(); err != nil {
		add("digest.at", "want a time of day HH:MM, got %q", c.Digest.At)
	}
	for _, a := range c.Digest.Recipients {
		addr, err := mail.ParseAddress(a)
		if err != nil || addr.Name != "" || addr.Address != a {
			add("digest.recipients", "want a bare address, got %q", a)
			continue
		}
		if !mailer.DomainAllowed(a, c.Mailer.AllowedDomains) {
			add("digest.recipients", "%q is outside mailer.allowed_recipient_domains", a)
		}
	}
}

// allOutcomes are the outcomes a message can have, each with its folder.
var allOutcomes = []store.Outcome{store.OutcomeQueued, store.OutcomeReturned, store.OutcomeNoForm, store.OutcomeIgnored, store.OutcomeQuarantined}

// ReadPromise reads [queue] promise from the configuration at path without
// validating the rest (a staff member cannot read the secrets it names);
// the default when the file does not set it.
func ReadPromise(path string) (int, error) {
	var c struct {
		Queue QueueConfig `toml:"queue"`
	}
	if _, err := toml.DecodeFile(path, &c); err != nil {
		return 0, fmt.Errorf("read [queue] of %s: %w", path, err)
	}
	if c.Queue.Promise == 0 {
		return DefaultPromise, nil
	}
	if c.Queue.Promise < 1 || c.Queue.Promise > 100 {
		return 0, fmt.Errorf("read [queue] of %s: %w", path, problem("queue.promise", "want working days from 1 to 100, got %d", c.Queue.Promise))
	}
	return c.Queue.Promise, nil
}
