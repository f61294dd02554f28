package main

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// TestQueuePeerIsAnotherUser runs the real binary as another user (nobody)
// against a daemon socket served here as root: the daemon names the caller
// from the kernel's peer credentials, so the claim is nobody's, whatever
// the process could say about itself. A socket whose group the user is not
// in is refused with a message that says what to do. Needs root to switch
// users; without it the test fails rather than skip, so it is never counted
// as passed without running.
func TestQueuePeerIsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test switches users and needs root: run make test as root (CI does)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("no user nobody to run as: %v", err)
	}
	group, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	// A directory the other user can traverse, holding the sockets; the
	// database stays in a private one.
	dir, err := os.MkdirTemp("", "websesam-peer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := testBinary(t)

	f := staffDB(t)
	st, err := store.Open(f.db, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	comp := mustComposer(t)
	api, err := staffapi.NewServer(st, comp, staffapi.ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(name, grp string) string {
		path := filepath.Join(dir, name)
		ln, err := staffapi.ListenUnix(path, staffapi.SocketMode, grp)
		if err != nil {
			t.Fatal(err)
		}
		mailtest.Serve(t, ln, api.Serve)
		return path
	}
	theirs := serve("staff.sock", group.Name) // 0660, nobody's group
	rootOnly := serve("root.sock", "")        // 0660, root's group

	runAs := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/", "WEBSESAM_INTAKE_DB=" + f.db}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		return runCmd(t, cmd)
	}

	out, errOut, code := runAs("queue", "claim", f.ids[0], "--socket", theirs)
	if code != 0 {
		t.Fatalf("claim as nobody: exit %d: %s", code, errOut)
	}
	if got, want := out, "Request "+f.ids[0]+" is claimed by "+nobody.Username+".\n"; got != want {
		t.Errorf("claim as nobody: %q, want %q", got, want)
	}
	d, err := st.ShowRequestDetail("test", f.ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Request.History[len(d.Request.History)-1].Actor; got != nobody.Username {
		t.Errorf("history actor = %q, want %q", got, nobody.Username)
	}

	_, errOut, code = runAs("queue", "list", "--socket", rootOnly)
	if code != 1 || !strings.Contains(errOut, "permission denied; ask an administrator to add you to the support staff's group") {
		t.Errorf("socket of another group: exit %d %q, want 1 and what to do", code, errOut)
	}
}

// mustComposer builds the composer from the test configuration, the way
// the daemon builds its own.
func mustComposer(t *testing.T) *mailer.Composer {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte(staffMailerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := intake.StaffComposer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
