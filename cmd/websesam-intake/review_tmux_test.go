package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReviewInTmux drives the real binary's review screen in a real
// terminal (tmux) against a running daemon (the demo: the real daemon over
// an in-process IMAP server and SMTP sink): it claims a request and records
// it done from the screen, then checks over the staff socket that the Klar
// notices are in the outbox and that the audit log names the person.
func TestReviewInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed to drive the review screen in a real terminal: apt-get install tmux (.ci/run installs it)")
	}
	bin := testBinary(t)

	// The daemon: the demo, until it says where its staff socket is.
	demo := exec.Command(bin, "demo", "--samples", filepath.Join("..", "..", "testdata", "mail"))
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	demo.Stderr = os.Stderr
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-demo.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { demo.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	sockCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if s, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export WEBSESAM_INTAKE_SOCKET="); ok && !sent {
				sockCh <- s
				sent = true
			}
		}
	}()
	var sock string
	select {
	case sock = <-sockCh:
	case <-time.After(2 * time.Minute):
		t.Fatal("the demo never said where its staff socket is")
	}

	// The screen, in tmux on a server of its own.
	srv := "websesam-review-" + fmt.Sprint(os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", srv}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("-f", "/dev/null", "new-session", "-d", "-s", "review", "-x", "100", "-y", "30",
		"env", "TERM=xterm-256color", "NO_COLOR=1", bin, "review", "--socket", sock)
	t.Cleanup(func() { exec.Command("tmux", "-L", srv, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", "review") }
	waitFor := func(what string, re *regexp.Regexp) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			s := screen()
			if m := re.FindString(s); m != "" {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %s:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond) // polling the terminal: it has no events to wait on
		}
	}
	waitFor("the list", regexp.MustCompile(`Att göra \(\d+\)`))
	tmux("send-keys", "-t", "review", "c")
	id := strings.Fields(waitFor("the claim", regexp.MustCompile(`WS-\d{4}-\d{6} är nu din\.`)))[0]
	waitFor("the claimed request opened", regexp.MustCompile(`Uppgifter om användaren`))
	tmux("send-keys", "-t", "review", "d")
	waitFor("the user name question", regexp.MustCompile(`Användarnamn i webSesam för `+id))
	tmux("send-keys", "-t", "review", "-l", "tmuxtest01")
	tmux("send-keys", "-t", "review", "Enter")
	waitFor("the note question", regexp.MustCompile(`Anteckning \(frivillig`))
	tmux("send-keys", "-t", "review", "Enter")
	waitFor("the done message", regexp.MustCompile(id+` är klar \(tmuxtest01\)`))
	tmux("send-keys", "-t", "review", "q")

	// What the daemon now holds, asked over its socket.
	cli := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--socket", sock, "--json")...).Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	var rows []struct {
		Request string `json:"request"`
		Kind    string `json:"kind"`
	}
	if err := json.Unmarshal(cli("outbox", "list"), &rows); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range rows {
		if r.Request == id {
			kinds[r.Kind] = true
		}
	}
	if !kinds["klar-anvandare"] || !kinds["klar-chef"] {
		t.Errorf("the outbox holds %v for %s, want klar-anvandare and klar-chef", kinds, id)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	var audit []struct {
		Actor    string   `json:"actor"`
		Action   string   `json:"action"`
		Subjects []string `json:"subjects"`
	}
	if err := json.Unmarshal(cli("audit", "list"), &audit); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range audit {
		for _, s := range e.Subjects {
			if s == id && e.Actor == me.Username {
				seen[e.Action] = true
			}
		}
	}
	if len(seen) == 0 {
		t.Errorf("the audit log has no entry by %s about %s: %+v", me.Username, id, audit)
	}
	var shown struct {
		Request struct {
			Status   string `json:"status"`
			Username string `json:"username"`
		} `json:"request"`
	}
	if err := json.Unmarshal(cli("queue", "show", id), &shown); err != nil {
		t.Fatal(err)
	}
	if got := shown.Request; got.Status != "done" || got.Username != "tmuxtest01" {
		t.Errorf("%s is %q with user name %q, want done with tmuxtest01", id, got.Status, got.Username)
	}
}
