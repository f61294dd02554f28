// Package slapdtest starts a real OpenLDAP server (Debian's slapd) on
// loopback for tests, in a temporary directory, with the small catalogue of
// people and managers that .ci/ldapstack writes: the same script the
// end-to-end suite uses, so that both test against one catalogue.
//
// slapd must be installed (as root: .ci/ldapstack install, which CI runs);
// a test without it fails, it does not skip.
package slapdtest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The catalogue, as .ci/ldapstack writes it.
const (
	Manager        = "rene.linden@region.example.se" // employeeType Chef
	ManagerHSAID   = "SE2321000131-E000000000201"
	OtherManager   = "goran.arlig@region.example.se" // employeeType Chef
	NotManager     = "asa.oberg@region.example.se"   // employeeType Arbetsterapeut
	NotManagerHSA  = "SE2321000131-E000000000101"
	SecondStaffHSA = "SE2321000131-E000000000102"
	// ManagerAttribute and ManagerValue mark the managers.
	ManagerAttribute = "employeeType"
	ManagerValue     = "Chef"
	// HSAIDFilter finds a person by HSA-id in this catalogue.
	HSAIDFilter = "(hsaIdentity={hsa_id})"
)

// Server is one running slapd.
type Server struct {
	t      testing.TB
	script string
	ports  [2]string
	// Dir holds its configuration, database, TLS files and log.
	Dir string
	// URL (ldap://, StartTLS offered) and LDAPSURL (ldaps://).
	URL, LDAPSURL string
	// CAFile verifies the server's certificate; BindDN and PasswordFile
	// are the intake's read account; BaseDN holds the people.
	CAFile, BindDN, PasswordFile, BaseDN string
}

// Start starts slapd on two free loopback ports and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/slapd"); err != nil {
		t.Fatalf("slapd is not installed (%v): as root, run .ci/ldapstack install (Debian's slapd)", err)
	}
	s := &Server{t: t, script: script(t), Dir: t.TempDir()}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.ports = [2]string{freePort(t), freePort(t)}
	s.Start()
	t.Cleanup(s.Stop)
	env, err := os.Open(filepath.Join(s.Dir, "env"))
	if err != nil {
		t.Fatalf("read the ldapstack env: %v", err)
	}
	defer env.Close()
	fields := map[string]*string{"LDAP_URL": &s.URL, "LDAPS_URL": &s.LDAPSURL, "LDAP_CA_FILE": &s.CAFile,
		"LDAP_BIND_DN": &s.BindDN, "LDAP_PASSWORD_FILE": &s.PasswordFile, "LDAP_BASE_DN": &s.BaseDN}
	sc := bufio.NewScanner(env)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		if f, ok := fields[k]; ok {
			*f = v
		}
	}
	if s.URL == "" || s.BaseDN == "" {
		t.Fatalf("the ldapstack env lacks LDAP_URL or LDAP_BASE_DN")
	}
	return s
}

// Start starts the server again after Stop, on the same ports and with the
// same catalogue.
func (s *Server) Start() {
	s.t.Helper()
	cmd := exec.Command(s.script, "start", s.Dir)
	cmd.Env = append(os.Environ(), "LDAP_PORT="+s.ports[0], "LDAPS_PORT="+s.ports[1])
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("start slapd: %v\n%s", err, out)
	}
}

// Stop stops the server (by its pid); the directory stays.
func (s *Server) Stop() {
	s.t.Helper()
	if out, err := exec.Command(s.script, "stop", s.Dir).CombinedOutput(); err != nil {
		s.t.Errorf("stop slapd: %v\n%s", err, out)
	}
}

// script finds .ci/ldapstack above the test's directory.
func script(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, ".ci", "ldapstack")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatalf("no .ci/ldapstack above %s", dir)
		}
		dir = up
	}
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
