package directory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/directory/slapdtest"
	"github.com/regionhmc/websesam-intake/intake/endpoint"
)

func config(s *slapdtest.Server) Config {
	return Config{
		URL: s.URL, CAFile: s.CAFile, BindDN: s.BindDN, PasswordFile: s.PasswordFile, BaseDN: s.BaseDN,
		ManagerAttribute: slapdtest.ManagerAttribute, ManagerValue: slapdtest.ManagerValue,
		HSAIDFilter: slapdtest.HSAIDFilter, Timeout: 5 * time.Second,
	}.WithDefaults()
}

// lookup is one key asked of the directory and the answer it must give.
type lookup[V comparable] struct {
	key  string
	want V
}

// wantLookups asks look (named name) each key and compares the answers
// exactly; an error fails the test.
func wantLookups[V comparable](t *testing.T, name string, look func(string) (V, error), cases []lookup[V]) {
	t.Helper()
	for _, tc := range cases {
		got, err := look(tc.key)
		if err != nil {
			t.Fatalf("%s(%q): %v", name, tc.key, err)
		}
		if got != tc.want {
			t.Errorf("%s(%q) = %+v, want %+v", name, tc.key, got, tc.want)
		}
	}
}

// TestLookups asks a real slapd over StartTLS: managers, people who are
// not managers, unknown addresses and HSA-ids, and values that would match
// everyone if they were not escaped.
func TestLookups(t *testing.T) {
	s := slapdtest.Start(t)
	cfg := config(s)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	d := New(cfg)
	defer d.Close()
	wantLookups(t, "Manager", d.Manager, []lookup[Person]{
		{slapdtest.Manager, Person{Found: true, Manager: true}},
		{"Rene.Linden@REGION.example.se", Person{Found: true, Manager: true}},
		{slapdtest.NotManager, Person{Found: true, Manager: false}},
		{"okand.person@region.example.se", Person{}},
		{"*", Person{}},
		{"*@region.example.se", Person{}},
		{"x)(mail=*", Person{}},
		{"rene.linden@region.example.se)(|(mail=*", Person{}},
		{"\\2a", Person{}},
		{"åsa.öberg@region.example.se", Person{}},
	})
	wantLookups(t, "HSAID", d.HSAID, []lookup[bool]{
		{slapdtest.ManagerHSAID, true},
		{strings.ToLower(slapdtest.NotManagerHSA), true},
		{"SE2321000131-E000000000999", false},
		{"*", false},
		{"SE2321000131-E*", false},
	})

	// A person who is no manager by the configured attribute and value
	// counts as one when the rule is looser.
	for _, tc := range []struct {
		name             string
		attribute, value string
	}{
		{"without a manager attribute every person counts", "", ""},
		{"an attribute present with any value (employeeType is set)", cfg.ManagerAttribute, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.ManagerAttribute, c.ManagerValue = tc.attribute, tc.value
			d := New(c)
			defer d.Close()
			got, err := d.Manager(slapdtest.NotManager)
			if err != nil || got != (Person{Found: true, Manager: true}) {
				t.Errorf("got %+v, %v; want a manager", got, err)
			}
		})
	}
	t.Run("ldaps", func(t *testing.T) {
		c := cfg
		c.URL, c.TLS = s.LDAPSURL, ""
		c = c.WithDefaults()
		if c.TLS != TLSImplicit {
			t.Fatalf("tls for ldaps:// = %q, want tls", c.TLS)
		}
		d := New(c)
		defer d.Close()
		got, err := d.Manager(slapdtest.Manager)
		if err != nil || !got.Manager {
			t.Errorf("got %+v, %v; want the manager", got, err)
		}
	})
	t.Run("many at once", func(t *testing.T) {
		d := New(cfg)
		defer d.Close()
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				mail := []string{slapdtest.Manager, slapdtest.NotManager, "x@region.example.se"}[i%3]
				if _, err := d.Manager(mail); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// TestUnavailable: whatever keeps the directory from answering is
// ErrUnavailable, never "not found".
func TestUnavailable(t *testing.T) {
	s := slapdtest.Start(t)
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("fel-lösenord\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"the bind refused", func(c *Config) { c.PasswordFile = wrong }, "bind as cn=intake"},
		{"a certificate from an unknown CA", func(c *Config) { c.CAFile = "" }, "starttls with"},
		{"the base DN missing", func(c *Config) { c.BaseDN = "ou=nobody,dc=region,dc=example,dc=se" }, "search ou=nobody"},
		{"nothing listening", func(c *Config) { c.URL = "ldap://127.0.0.1:1" }, "connect to ldap://127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config(s)
			tc.change(&c)
			d := New(c)
			defer d.Close()
			_, err := d.Manager(slapdtest.Manager)
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrUnavailable saying %q", err, tc.want)
			}
		})
	}
}

// TestCacheAndOutage: answers are kept for cache_ttl, so a directory that
// goes down does not stop mail about people just asked about; a new
// question waits; after the directory returns, the next question reconnects.
func TestCacheAndOutage(t *testing.T) {
	s := slapdtest.Start(t)
	d := New(config(s))
	defer d.Close()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	d.SetClock(func() time.Time { return now })
	if p, err := d.Manager(slapdtest.Manager); err != nil || !p.Manager {
		t.Fatalf("before the outage: %+v, %v", p, err)
	}
	if p, err := d.Manager("okand@region.example.se"); err != nil || p.Found {
		t.Fatalf("before the outage: %+v, %v", p, err)
	}
	s.Stop()
	now = now.Add(DefaultCacheTTL - time.Second)
	if p, err := d.Manager(slapdtest.Manager); err != nil || !p.Manager {
		t.Errorf("cached manager during the outage: %+v, %v", p, err)
	}
	if p, err := d.Manager("OKAND@region.example.se"); err != nil || p.Found {
		t.Errorf("cached unknown address during the outage: %+v, %v", p, err)
	}
	if _, err := d.Manager(slapdtest.OtherManager); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a new address during the outage: got %v, want ErrUnavailable", err)
	}
	now = now.Add(time.Second)
	if _, err := d.Manager(slapdtest.Manager); !errors.Is(err, ErrUnavailable) {
		t.Errorf("an expired answer during the outage: got %v, want ErrUnavailable", err)
	}
	s.Start()
	// Right after a failure the answer is the failure, without asking: a
	// directory that hangs costs one timeout per pass, not one per message.
	if _, err := d.Manager(slapdtest.OtherManager); !errors.Is(err, ErrUnavailable) {
		t.Errorf("just after a failure: got %v, want the failure again", err)
	}
	now = now.Add(DefaultRetryInterval / 2)
	if p, err := d.Manager(slapdtest.OtherManager); err != nil || !p.Manager {
		t.Errorf("after the outage: %+v, %v", p, err)
	}
	if p, err := d.Check(slapdtest.Manager); err != nil || !p.Manager {
		t.Errorf("check after the outage: %+v, %v", p, err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "ldap-password")
	if err := os.WriteFile(pw, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := Config{URL: "ldaps://ldap.region.example.se", BindDN: "cn=intake,ou=system,dc=region,dc=se", PasswordFile: pw,
		BaseDN: "ou=people,dc=region,dc=se", HSAIDFilter: "(hsaIdentity={hsa_id})"}.WithDefaults()
	if err := good.Validate(); err != nil {
		t.Errorf("good: %v", err)
	}
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Errorf("off: %v", err)
	}
	if got := (Config{PasswordFile: "ldap-password"}).ResolvePaths(dir).PasswordFile; got != pw {
		t.Errorf("resolve: got %q, want %q", got, pw)
	}
	bad := Config{URL: "ldap://ldap.region.example.se", TLS: "plain", BindDN: "intake", BaseDN: "",
		PersonFilter: "(mail=x)", HSAIDFilter: "(hsaIdentity={hsa_id}", ManagerValue: "Chef", Timeout: -1}.WithDefaults()
	var keys []string
	for _, p := range endpoint.Problems(bad.Validate()) {
		keys = append(keys, p.Key)
	}
	want := "directory.timeout directory.tls directory.bind_dn directory.password_file directory.base_dn directory.person_filter directory.hsa_id_filter directory.manager_value"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("problems: got %s\nwant %s", got, want)
	}
	if err := bad.Validate(); !errors.Is(err, endpoint.ErrConfig) {
		t.Errorf("problems do not match ErrConfig: %v", err)
	}
}
