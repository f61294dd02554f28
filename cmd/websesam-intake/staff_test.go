package main

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
	"github.com/regionhmc/websesam-intake/store/storetest"
)

// noDaemon points the staff commands at a socket nobody listens on and
// clears SUDO_USER, so they open the store directly as this OS user.
func noDaemon(t *testing.T) {
	t.Helper()
	t.Setenv("WEBSESAM_INTAKE_SOCKET", filepath.Join(t.TempDir(), "no-daemon.sock"))
	t.Setenv("SUDO_USER", "")
}

// staffMailerConfig is the daemon's configuration as far as staff commands
// read it: the [mailer] section that composes the notices.
const staffMailerConfig = `[mailer]
from_address = "intake@hmc.example.se"
from_name = "Hjälpmedelscentrum"
login_instructions = "Logga in på https://websesam.example.se med ditt användarnamn."
form_url = "https://hmc.example.se/websesam"
allowed_recipient_domains = ["region.example.se"]
`

// staffEnv is one way the staff commands reach the data: through a daemon's
// socket served in the test process over the store it holds open, or
// directly, with no daemon.
type staffEnv struct {
	name   string
	db     string
	config string
	st     *store.Store // the daemon's open store; nil without a daemon
}

// inspect runs fn on the store: the daemon's, or one opened for the call.
func (e staffEnv) inspect(t *testing.T, fn func(st *store.Store)) {
	t.Helper()
	if e.st != nil {
		fn(e.st)
		return
	}
	st, err := store.Open(e.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

// me is the name both paths must write as the actor: the daemon's from the
// socket's peer uid, the direct path's from the OS user.
func me(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// newStaffEnv sets the environment up for mode "daemon" or "direct" over
// the database at db (closed). With a daemon the test holds the file, so a
// command that fell back to opening it would fail: success proves the
// socket was used.
func newStaffEnv(t *testing.T, mode, db string) staffEnv {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte(staffMailerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEBSESAM_INTAKE_DB", db)
	t.Setenv("WEBSESAM_INTAKE_CONFIG", cfg)
	t.Setenv("SUDO_USER", "")
	env := staffEnv{name: mode, db: db, config: cfg}
	if mode == "direct" {
		noDaemon(t)
		return env
	}
	st, err := store.Open(db, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	comp, err := intake.StaffComposer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api, err := staffapi.NewServer(st, comp, staffapi.ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Promise: intake.DefaultPromise,
		// The store's part of the pass: the folders need a mailbox, proven in purge_test.go.
		Retain: func(_ context.Context, actor string, dry bool) (store.RetentionResult, error) {
			return st.Retain(actor, time.Now(), store.RetentionPolicy{}, dry, nil)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the server stops
	t.Setenv("WEBSESAM_INTAKE_SOCKET", serveSocket(t, api))
	env.st = st
	return env
}

// serveSocket serves api on a staff socket in a temporary directory until
// the test ends, and returns the socket's path.
func serveSocket(t *testing.T, api *staffapi.Server) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "staff.sock")
	ln, err := staffapi.ListenUnix(sock, staffapi.SocketMode, "")
	if err != nil {
		t.Fatal(err)
	}
	mailtest.Serve(t, ln, api.Serve)
	return sock
}

// personFields is one user's checked fields of a single-user form.
func personFields(arende, fornamn, efternamn, epost, kundnummer string) map[string]string {
	f := storetest.UserFields(fornamn, efternamn, epost, kundnummer)
	maps.Copy(f, map[string]string{"arende": arende, "galler_fran": "2026-12-01", "enhet": "Rehab Syd",
		"chef_epost": "karin.chef@region.example.se", "chef_telefon": "010-765 43 21", "datum": "2026-11-28"})
	return f
}

// Names used across the staff tests.
const (
	asaHSA      = "SE2321000131-E000000000001"
	formulaName = `=HYPERLINK("http://evil.example.com","klick")`
)

// staffFixture is what staffDB wrote: the request ids in order (Åsa ny,
// Anna with a formula-looking name ny, Åsa andring, Per ny, Per avslut) and
// the keys of a quarantined and a no-form message.
type staffFixture struct {
	db                  string
	ids                 []string
	quarantined, noForm store.MessageKey
}

// staffDB makes a real store with five requests from five messages (each
// with its receipt in the outbox) and two messages that made none.
func staffDB(t *testing.T) staffFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	asa := personFields("ny", "Åsa", "Öberg", "asa.oberg@region.example.se", "602154")
	asa["hsa_id"], asa["ovriga_kundnummer"] = asaHSA, "602155"
	anna := personFields("ny", formulaName, "-Svensson", "anna.svensson@region.example.se", "602154")
	anna["buffertforrad"] = "@lager 3"
	asaAndring := personFields("andring", "Åsa", "Öberg", "asa.oberg@region.example.se", "602154")
	asaAndring["hsa_id"], asaAndring["galler_fran"] = asaHSA, "2027-01-15"
	asaAndring["andring_roll"], asaAndring["roll_bestallare"] = "true", "true"
	asaAndring["telefon"], asaAndring["yrke"] = "010-999 99 99", "Fysioterapeut"
	per := personFields("ny", "Per", "Persson", "per.persson@region.example.se", "602160")
	perAvslut := personFields("avslut", "Per", "Persson", "per.persson@region.example.se", "602160")

	var f staffFixture
	f.db = path
	received := time.Now().Add(-3 * time.Hour)
	for i, fields := range []map[string]string{asa, anna, asaAndring, per, perAvslut} {
		uid := uint32(i + 1)
		rec, err := st.RecordOutcome(store.Message{
			Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: uid}, MessageID: "m" + string(rune('0'+uid)) + "@region.example.se",
			From: fields["epost"], Subject: "webSesam ansökan", ReceivedAt: received.Add(time.Duration(i) * time.Minute), Size: 2000,
			Outcome: store.OutcomeQueued,
		}, []store.NewRequest{{FormHash: "hash" + string(rune('0'+uid)), Form: "websesam-behorighet", Type: fields["arende"], Fields: fields}},
			func(rec store.Recorded) ([]store.OutboxRow, error) {
				return []store.OutboxRow{{MessageID: "r" + rec.Requests[0].ID + "@hmc.example.se", Kind: "kvittens",
					Request: rec.Requests[0].ID, From: "intake@hmc.example.se", To: []string{rec.Message.From},
					Subject: "SV: webSesam ansökan", Raw: []byte("Subject: SV\r\n\r\nTack\r\n")}}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, rec.Requests[0].ID)
	}
	f.quarantined = store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: 6}
	f.noForm = store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: 7}
	for _, m := range []store.Message{
		{Key: f.quarantined, MessageID: "q6@outside.example.com", From: "nagon@outside.example.com", Subject: "webSesam",
			ReceivedAt: received, Size: 500, Outcome: store.OutcomeQuarantined, Reason: "sender domain not allowed",
			Verdict: "dmarc-fail: dmarc=fail dkim=none spf=fail (1 header by mx.region.example.se)"},
		{Key: f.noForm, MessageID: "n7@region.example.se", From: "bo.ek@region.example.se", Subject: "webSesam?",
			ReceivedAt: received, Size: 500, Outcome: store.OutcomeNoForm, Reason: "no attachment"},
	} {
		if _, err := st.RecordOutcome(m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// staffModes runs fn once with a daemon and once without.
func staffModes(t *testing.T, fn func(t *testing.T, env staffEnv, f staffFixture)) {
	for _, mode := range []string{"daemon", "direct"} {
		t.Run(mode, func(t *testing.T) {
			f := staffDB(t)
			fn(t, newStaffEnv(t, mode, f.db), f)
		})
	}
}

// mustRun runs a command that must succeed and returns its output.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}
