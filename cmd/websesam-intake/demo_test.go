package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/mailer/mailtest"
)

// TestDemo runs the demo as make run does, uses the staff commands it
// prints against its socket while it runs, then stops it as Ctrl-C would.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut mailtest.Buffer
	var queue []map[string]any
	var queueErr string
	sockets := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, "../../testdata/mail", &out, &errOut, func(socket string) { sockets <- socket })
	}()
	var socket string
	select {
	case socket = <-sockets:
	case err := <-done:
		t.Fatalf("the demo ended before it was ready: %v\n%s%s", err, out.String(), errOut.String())
	case <-ctx.Done():
		t.Fatalf("the demo was not ready within 2 minutes:\n%s", out.String())
	}
	stdout, stderr, code := runCLI(t, "queue", "list", "--json", "--socket", socket)
	if code != 0 {
		queueErr = stderr
	} else if err := json.Unmarshal([]byte(stdout), &queue); err != nil {
		queueErr = err.Error()
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop within 30s of the cancel")
	}
	if err != nil {
		t.Fatalf("the demo: %v", err)
	}
	got := out.String()

	t.Run("outcomes", func(t *testing.T) {
		wantContains(t, "output", got,
			"● outlook-pdf (a complete PDF form)\n    → queued: every form complete and valid, 1 request(s) queued",
			"● subject-windows-1252 (an incomplete PDF form)\n    → returned: ",
			"● sv-vb-websesam (a PDF form for two users)\n    → queued: every form complete and valid, 2 request(s) queued",
			"● subject-iso-8859-1 (a filled workbook)\n    → queued: every form complete and valid, 1 request(s) queued",
			"● no-attachment (a question without a form)\n    → no-form: ",
			"● out-of-office (an out-of-office reply)\n    → ignored: ",
		)
		if strings.Contains(got, "not-matching") {
			t.Errorf("the unrelated mail was decided; it must be left alone")
		}
	})
	t.Run("replies", func(t *testing.T) {
		if got, want := strings.Count(got, "  ✉ reply "), 5; got != want {
			t.Errorf("replies shown: got %d, want %d", got, want)
		}
		wantContains(t, "output", got,
			"  ✉ reply \"SV: webSesam\" to asa.oberg@region.example.se\n    | Hej!",
			"to rene.linden@region.example.se, fredrik.akesson@region.example.se\n",
			"  ✉ reply \"SV: Fråga om webSesam\" to ida.berg@region.example.se\n",
		)
	})
	t.Run("staff commands against the running demo", func(t *testing.T) {
		if !strings.Contains(got, "export WEBSESAM_INTAKE_SOCKET="+socket+"\n  websesam-intake queue list\n") {
			t.Errorf("the hints do not name the socket %s", socket)
		}
		if queueErr != "" {
			t.Fatalf("queue list over the socket: %s", queueErr)
		}
		if got, want := len(queue), 4; got != want {
			t.Errorf("queue list over the socket: %d requests, want %d", got, want)
		}
	})
	t.Run("clean stop", func(t *testing.T) {
		if !strings.Contains(got, "\nStopped. The demo directory ") {
			t.Errorf("no stop line in the output")
		}
		if _, err := os.Stat(socket); !os.IsNotExist(err) {
			t.Errorf("the demo directory (socket %s) is still there: %v", socket, err)
		}
		if s := errOut.String(); s != "" {
			t.Errorf("warnings or errors on stderr:\n%s", s)
		}
	})
}

func TestDemoWithoutSamples(t *testing.T) {
	_, stderr, code := runCLI(t, "demo", "--samples", t.TempDir())
	if got, want := code, 2; got != want {
		t.Errorf("exit status = %d, want %d", got, want)
	}
	if !strings.Contains(stderr, "read the demo's sample mail:") || !strings.Contains(stderr, "outlook-pdf.eml: no such file or directory") {
		t.Errorf("stderr = %q", stderr)
	}
}
