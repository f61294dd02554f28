package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/mailer"
)

const exampleConfig = "../../deploy/config.example.toml"

// exampleCredentials points $CREDENTIALS_DIRECTORY at a directory holding the
// two secret files the example names, as systemd's LoadCredential= would.
func exampleCredentials(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"imap-password", "smtp-password"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	return dir
}

// configKeys lists every key path of a TOML-tagged struct type
// ("mailer.smtp.addr"), recursing into sections, with the leaf's value.
func configKeys(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		key := prefix + tag
		if k := f.Tag.Get("key"); k != "" {
			// A field decoded apart from its struct (intake.Config.Relay:
			// the part of [mailer.smtp] package mailer does not read).
			key = k
		} else if tag == "" || tag == "-" {
			continue
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			configKeys(fv, key+".", out)
			continue
		}
		out[key] = fv
	}
}

func TestConfigExample(t *testing.T) {
	// The file's shape: [mailer.smtp] fills mailer's struct and intake's.
	var file struct {
		intake.Config
		Mailer struct {
			mailer.Config
			SMTP struct {
				mailer.SMTPConfig
				intake.RelayConfig
			} `toml:"smtp"`
		} `toml:"mailer"`
	}
	md, err := toml.DecodeFile(exampleConfig, &file)
	if err != nil {
		t.Fatalf("decode the example: %v", err)
	}
	example := file.Config
	example.Mailer = file.Mailer.Config
	example.Mailer.SMTP = file.Mailer.SMTP.SMTPConfig
	example.Relay = file.Mailer.SMTP.RelayConfig
	keys := map[string]reflect.Value{}
	configKeys(reflect.ValueOf(example), "", keys)
	// The walk itself must see the sections, or every check below is empty.
	for _, k := range []string{"mailbox.addr", "folders.queued", "policy.backlog", "store.path", "mailer.from_address", "mailer.smtp.token_command"} {
		if _, ok := keys[k]; !ok {
			t.Fatalf("the walk over intake.Config missed %s; it found %d keys", k, len(keys))
		}
	}

	t.Run("every key of Config is in the example", func(t *testing.T) {
		var missing []string
		for k := range keys {
			if !md.IsDefined(strings.Split(k, ".")...) {
				missing = append(missing, k)
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Errorf("deploy/config.example.toml lacks %d key(s) of intake.Config; document each with its default and a comment:\n%s",
				len(missing), strings.Join(missing, "\n"))
		}
	})

	t.Run("every key in the example is known", func(t *testing.T) {
		if u := md.Undecoded(); len(u) > 0 {
			t.Errorf("the example has keys the program does not know: %v", u)
		}
	})

	t.Run("a key with a default shows the default", func(t *testing.T) {
		defaults := map[string]reflect.Value{}
		configKeys(reflect.ValueOf(intake.Config{}.WithDefaults()), "", defaults)
		checked := 0
		for k, def := range defaults {
			if def.IsZero() {
				continue // no default: the example shows a real value
			}
			checked++
			if got, want := keys[k].Interface(), def.Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the example says %#v, the default is %#v", k, got, want)
			}
		}
		if checked < 30 {
			t.Errorf("only %d keys with a default were compared; the walk is broken", checked)
		}
	})

	t.Run("config check accepts it", func(t *testing.T) {
		exampleCredentials(t)
		stdout, stderr, code := runCLI(t, "config", "check", exampleConfig)
		if code != 0 {
			t.Fatalf("exit status %d, stderr:\n%s", code, stderr)
		}
		if !strings.Contains(stdout, ": ok (mailbox imap.region.example.se:993 tls") {
			t.Errorf("stdout = %q, want the ok summary", stdout)
		}
	})

	t.Run("LoadConfig resolves the credentials", func(t *testing.T) {
		dir := exampleCredentials(t)
		cfg, err := intake.LoadConfig(exampleConfig)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Mailbox.PasswordFile, filepath.Join(dir, "imap-password"); got != want {
			t.Errorf("mailbox.password_file = %q, want %q", got, want)
		}
		if got, want := cfg.Relay.PasswordFile, filepath.Join(dir, "smtp-password"); got != want {
			t.Errorf("mailer.smtp.password_file = %q, want %q", got, want)
		}
	})
}

func TestConfigCheckProblems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		file  string
		lines []string // every problem line, in order, after "FILE: "
	}{
		{
			name:  "missing credentials",
			file:  write("nocred.toml", string(example)),
			lines: []string{"mailbox.password_file: cannot read: stat imap-password: no such file or directory", "mailer.smtp.password_file: cannot read: stat smtp-password: no such file or directory"},
		},
		{
			name: "everything wrong at once",
			file: write("bad.toml", "[mailbox]\naddr = \"x\"\npassword = \"p\"\ntls = \"none\"\n[mailer.smtp]\ntls = \"plain\"\naddr = \"10.1.1.1:25\"\n"),
			lines: []string{
				"mailbox.password: unknown key",
				`mailbox.addr: want host:port, got "x"`,
				`mailbox.tls: want tls, starttls or plain, got "none"`,
				"mailbox.username: required with auth login",
				"mailbox.password_file: required with auth login",
				`mailer.from_address: want a bare e-mail address, got ""`,
				`mailer.message_id_domain: want a domain name, got ""`,
				"mailer.login_instructions: must not be empty: the new user needs them",
				"mailer.form_url: must not be empty: the no-form reply says where the form is",
				"mailer.allowed_recipient_domains: must list at least one domain",
				`mailer.smtp.tls: plain is allowed only for a loopback host, not "10.1.1.1"`,
			},
		},
		{
			name:  "not TOML",
			file:  write("garbage.toml", "x\n"),
			lines: []string{"read " + filepath.Join(dir, "garbage.toml") + ": toml: line 1: expected '.' or '=', but got '\\n' instead"},
		},
		{
			name:  "no file",
			file:  filepath.Join(dir, "absent.toml"),
			lines: []string{"read " + filepath.Join(dir, "absent.toml") + ": open " + filepath.Join(dir, "absent.toml") + ": no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", "")
			stdout, stderr, code := runCLI(t, "config", "check", tt.file)
			if got, want := code, 2; got != want {
				t.Errorf("exit status = %d, want %d", got, want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			var want []string
			for _, l := range tt.lines {
				want = append(want, tt.file+": "+l)
			}
			want = append(want, fmt.Sprintf("%s: %d problem(s)", tt.file, len(tt.lines)))
			got := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if !slices.Equal(got, want) {
				t.Errorf("stderr lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"config", "check"}, {"config", "check", "a", "b"}, {"config"}} {
			_, stderr, code := runCLI(t, args...)
			if got, want := code, 2; got != want {
				t.Errorf("%v: exit status = %d, want %d (stderr %q)", args, got, want, stderr)
			}
		}
	})
}

// TestUnitMatchesExample keeps the systemd unit and the example
// configuration in step: what the unit provides (credentials, state and
// runtime directories) is what the configuration expects to find.
func TestUnitMatchesExample(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/websesam-intake.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line without '=': %q", line)
		}
		unit[k] = append(unit[k], v)
	}
	var cfg intake.Config
	if _, err := toml.DecodeFile(exampleConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	t.Run("directives the issue asks for", func(t *testing.T) {
		for k, want := range map[string]string{
			"Type": "notify", "RestartPreventExitStatus": "2", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
			"ProtectHome": "yes", "PrivateTmp": "yes", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
			"StateDirectory": "websesam-intake", "RuntimeDirectory": "websesam-intake", "User": "websesam-intake",
		} {
			if got := unit[k]; !slices.Contains(got, want) {
				t.Errorf("%s = %q, want %q among them", k, got, want)
			}
		}
		if !slices.Contains(unit["SystemCallFilter"], "@system-service") {
			t.Errorf("SystemCallFilter = %q, want @system-service", unit["SystemCallFilter"])
		}
		if len(unit["WatchdogSec"]) != 1 {
			t.Errorf("WatchdogSec = %q, want one value", unit["WatchdogSec"])
		}
	})
	t.Run("every relative secret is a credential", func(t *testing.T) {
		creds := map[string]bool{}
		for _, v := range unit["LoadCredential"] {
			name, _, _ := strings.Cut(v, ":")
			creds[name] = true
		}
		for key, p := range map[string]string{
			"mailbox.password_file": cfg.Mailbox.PasswordFile, "mailbox.token_file": cfg.Mailbox.TokenFile,
			"mailer.smtp.password_file": cfg.Relay.PasswordFile, "mailer.smtp.token_file": cfg.Relay.TokenFile,
		} {
			if p != "" && !filepath.IsAbs(p) && !creds[p] {
				t.Errorf("%s = %q but the unit has no LoadCredential=%s:…", key, p, p)
			}
		}
	})
	t.Run("the store is in the state directory", func(t *testing.T) {
		if got, want := filepath.Dir(cfg.Store.Path), "/var/lib/"+unit["StateDirectory"][0]; got != want {
			t.Errorf("store.path is in %s, StateDirectory= gives %s", got, want)
		}
	})
	t.Run("the staff socket is in the runtime directory", func(t *testing.T) {
		for _, sock := range []string{staffapi.DefaultSocket, cfg.Staff.Socket} {
			if got, want := filepath.Dir(sock), "/run/"+unit["RuntimeDirectory"][0]; got != want {
				t.Errorf("the staff socket %s is in %s, RuntimeDirectory= gives %s", sock, got, want)
			}
		}
		if got := unit["Environment"]; !slices.Contains(got, "WEBSESAM_INTAKE_SOCKET="+cfg.Staff.Socket) {
			t.Errorf("Environment = %q, want WEBSESAM_INTAKE_SOCKET=%s", got, cfg.Staff.Socket)
		}
	})
	t.Run("the daemon is in the staff group", func(t *testing.T) {
		if !slices.Contains(unit["SupplementaryGroups"], cfg.Staff.Group) {
			t.Errorf("staff.group = %q but SupplementaryGroups = %q: the daemon could not give the socket to that group", cfg.Staff.Group, unit["SupplementaryGroups"])
		}
	})
}
