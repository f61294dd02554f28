package staffapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

// staffComposer composes real notices for the staff tests.
func staffComposer(t testing.TB) *mailer.Composer {
	t.Helper()
	c, err := mailer.NewComposer(mailer.Config{
		FromAddress:       "intake@hmc.example.se",
		LoginInstructions: "Logga in på https://websesam.example.se med ditt användarnamn.",
		FormURL:           "https://hmc.example.se/websesam",
		AllowedDomains:    []string{"region.example.se"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// staffFields is one user's checked fields of a single-user ny form.
func staffFields(fornamn, efternamn, epost, kundnummer string) map[string]string {
	return map[string]string{
		"blankett": "websesam-behorighet/1", "arende": "ny", "galler_fran": "2026-12-01",
		"fornamn": fornamn, "efternamn": efternamn, "hsa_id": "", "yrke": "Arbetsterapeut",
		"epost": epost, "telefon": "010-123 45 67", "verksamhet": "Rehab", "enhet": "Rehab Syd",
		"kundnummer": kundnummer, "ovriga_kundnummer": "", "buffertforrad": "",
		"roll_forskrivare": "true", "roll_bestallare": "false",
		"chef_namn": "Karin Chef", "chef_epost": "karin.chef@region.example.se", "chef_telefon": "010-765 43 21",
		"datum": "2026-11-28",
	}
}

// staffStore opens a real store in a temporary directory holding one queued
// request, and returns it with the request's id.
func staffStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "intake.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec, err := st.RecordOutcome(store.Message{
		Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: 1}, MessageID: "m1@region.example.se",
		From: "asa.oberg@region.example.se", Subject: "webSesam", ReceivedAt: time.Now(), Size: 1000,
		Outcome: store.OutcomeQueued,
	}, []store.NewRequest{{FormHash: "aa", Form: "websesam-behorighet", Type: "ny",
		Fields: staffFields("Åsa", "Öberg", "asa.oberg@region.example.se", "602154")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, rec.Requests[0].ID
}

// serveStaff serves the API on a Unix socket in a temporary directory until
// the test ends, and returns the socket's path.
func serveStaff(t testing.TB, st *store.Store, opts ServerOptions) string {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	api, err := NewServer(st, staffComposer(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "staff.sock")
	ln, err := ListenUnix(path, SocketMode, "")
	if err != nil {
		t.Fatal(err)
	}
	mailtest.Serve(t, ln, api.Serve)
	return path
}

func dialStaff(t *testing.T, path string) (*Client, string) {
	t.Helper()
	c, who, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, who
}

// The caller is the uid the kernel reports for the socket's other end, named
// by the user database; audit entries and history carry that name.
func TestStaffAPIPeerCredentials(t *testing.T) {
	st, id := staffStore(t)
	var mu sync.Mutex
	var uids []uint32
	path := serveStaff(t, st, ServerOptions{LookupUser: func(uid uint32) string {
		mu.Lock()
		uids = append(uids, uid)
		mu.Unlock()
		return lookupUser(uid)
	}})
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}

	c, who := dialStaff(t, path)
	if got, want := who, me.Username; got != want {
		t.Errorf("whoami = %q, want %q", got, want)
	}
	mu.Lock()
	if len(uids) == 0 || strconv.FormatUint(uint64(uids[0]), 10) != me.Uid {
		t.Errorf("peer uids seen = %v, want [%s …]", uids, me.Uid)
	}
	mu.Unlock()

	r, err := Claim.Do(context.Background(), c, ClaimArgs{ID: id, Force: false})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.ClaimedBy, me.Username; got != want {
		t.Errorf("claimed by %q, want %q", got, want)
	}
	if got, want := r.History[len(r.History)-1].Actor, me.Username; got != want {
		t.Errorf("history actor = %q, want %q", got, want)
	}
	if _, err := ShowRequest.Do(context.Background(), c, RequestID{ID: id}); err != nil {
		t.Fatal(err)
	}
	entries, err := st.AuditList("test", store.AuditFilter{Subject: id})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		if e.Actor != me.Username {
			t.Errorf("audit entry %d (%s) actor = %q, want %q", e.Seq, e.Action, e.Actor, me.Username)
		}
	}
	if got, want := strings.Join(actions, " "), store.AuditShowRequestDetail+" "+store.AuditClaim; got != want {
		t.Errorf("audit actions for %s = %q, want %q", id, got, want)
	}
}

// A body cannot name the actor (unknown fields are refused), and a
// connection without peer credentials (TCP) is refused outright.
func TestStaffAPIActorNotFromRequest(t *testing.T) {
	st, id := staffStore(t)
	path := serveStaff(t, st, ServerOptions{})
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("http://daemon/v1/requests/claim", "application/json",
		strings.NewReader(`{"id":"`+id+`","actor":"mallory"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body apiErrorBody
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || body.Error != kindBadCall || !strings.Contains(body.Message, `unknown field "actor"`) {
		t.Errorf("claim naming an actor: %d %+v, want 400 bad_call about the unknown field", resp.StatusCode, body)
	}
	d, err := st.ShowRequestDetail("test", id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Request.Status != store.StatusQueued {
		t.Errorf("status after the refused call = %s, want queued", d.Request.Status)
	}

	api, err := NewServer(st, staffComposer(t), ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mailtest.Serve(t, ln, api.Serve)
	resp, err = http.Post("http://"+ln.Addr().String()+"/v1/whoami", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body = apiErrorBody{}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || body.Error != kindForbidden {
		t.Errorf("call over TCP: %d %+v, want 403 forbidden", resp.StatusCode, body)
	}
}

// Refusals come back as errors that match the store's sentinels, with the
// store's own words.
func TestStaffAPIRefusals(t *testing.T) {
	st, id := staffStore(t)
	c, _ := dialStaff(t, serveStaff(t, st, ServerOptions{}))
	ctx := context.Background()

	_, err := ShowRequest.Do(ctx, c, RequestID{ID: "WS-2026-999999"})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "request WS-2026-999999: not found") {
		t.Errorf("show unknown: %v, want ErrNotFound naming the id", err)
	}
	_, err = Complete.Do(ctx, c, CompleteArgs{ID: id, Username: "asaobe01", Note: ""})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "is queued; claim it before it can be completed") {
		t.Errorf("done without claim: %v, want ErrConflict saying to claim first", err)
	}
	if _, err := Claim.Do(ctx, c, ClaimArgs{ID: id, Force: false}); err != nil {
		t.Fatal(err)
	}
	_, err = Reject.Do(ctx, c, RejectArgs{ID: id, Reason: "  "})
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "the reason is empty") {
		t.Errorf("reject without reason: %v, want ErrInvalid about the reason", err)
	}
	if _, err := Reject.Do(ctx, c, RejectArgs{ID: id, Reason: "Fel kundnummer"}); err != nil {
		t.Fatal(err)
	}
	_, err = Reject.Do(ctx, c, RejectArgs{ID: id, Reason: "Fel kundnummer"})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "is rejected; it cannot be rejected") {
		t.Errorf("reject twice: %v, want ErrConflict", err)
	}
	_, err = Reprocess.Do(ctx, c, ReprocessArgs{Key: MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: 1}, Note: ""})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "only quarantined and no-form messages can be reprocessed") {
		t.Errorf("reprocess a queued message: %v, want ErrConflict", err)
	}
}

// done over the socket writes the Klar notices in the same step, and the
// request's detail lists them with the receipt-less message.
func TestStaffAPIDoneComposesNotices(t *testing.T) {
	st, id := staffStore(t)
	c, _ := dialStaff(t, serveStaff(t, st, ServerOptions{}))
	ctx := context.Background()
	if _, err := Claim.Do(ctx, c, ClaimArgs{ID: id, Force: false}); err != nil {
		t.Fatal(err)
	}
	r, err := Complete.Do(ctx, c, CompleteArgs{ID: id, Username: "asaobe01", Note: "konto skapat"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusDone || r.Username != "asaobe01" {
		t.Errorf("after done: status %s user %q, want done asaobe01", r.Status, r.Username)
	}
	d, err := ShowRequest.Do(ctx, c, RequestID{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range d.Replies {
		kinds = append(kinds, o.Kind+" "+strings.Join(o.To, ","))
	}
	if got, want := strings.Join(kinds, "; "), mailer.KindDoneUser+" asa.oberg@region.example.se; "+mailer.KindDoneChef+" karin.chef@region.example.se"; got != want {
		t.Errorf("replies = %q, want %q", got, want)
	}
	if d.Message == nil || d.Message.Key.String() != "INBOX/7/1" {
		t.Errorf("message = %+v, want INBOX/7/1", d.Message)
	}
	row, err := OutboxShow.Do(ctx, c, OutboxID{ID: d.Replies[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(row.Raw), "asaobe01") {
		t.Errorf("the user's notice does not carry the user name:\n%s", row.Raw)
	}
}

func TestStaffAPIListenUnix(t *testing.T) {
	dir := t.TempDir()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("mode and group", func(t *testing.T) {
		path := filepath.Join(dir, "a.sock")
		ln, err := ListenUnix(path, SocketMode, g.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode(), os.ModeSocket|0o660; got != want {
			t.Errorf("mode = %v, want %v", got, want)
		}
		if got, want := strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Gid), 10), g.Gid; got != want {
			t.Errorf("gid = %s, want %s", got, want)
		}
	})
	t.Run("stale socket replaced", func(t *testing.T) {
		path := filepath.Join(dir, "b.sock")
		old, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		old.(*net.UnixListener).SetUnlinkOnClose(false)
		old.Close()
		if _, _, err := Dial(context.Background(), path); !errors.Is(err, ErrNoDaemon) {
			t.Errorf("dial a stale socket: %v, want ErrNoDaemon", err)
		}
		ln, err := ListenUnix(path, SocketMode, "")
		if err != nil {
			t.Fatalf("listen over a stale socket: %v", err)
		}
		ln.Close()
	})
	t.Run("live socket refused", func(t *testing.T) {
		path := filepath.Join(dir, "c.sock")
		live, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		_, err = ListenUnix(path, SocketMode, "")
		if err == nil || !strings.Contains(err.Error(), "another process answers on it") {
			t.Errorf("listen over a live socket: %v, want a refusal", err)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		path := filepath.Join(dir, "d.sock")
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ListenUnix(path, SocketMode, "")
		if err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
			t.Errorf("listen over a file: %v, want a refusal", err)
		}
	})
	t.Run("unknown group", func(t *testing.T) {
		_, err := ListenUnix(filepath.Join(dir, "e.sock"), SocketMode, "no-such-group-xyz")
		if !errors.Is(err, ErrGroup) || !strings.Contains(err.Error(), `group "no-such-group-xyz"`) {
			t.Errorf("unknown group: %v, want ErrGroup naming the group", err)
		}
	})
	t.Run("no socket file", func(t *testing.T) {
		_, _, err := Dial(context.Background(), filepath.Join(dir, "none.sock"))
		if !errors.Is(err, ErrNoDaemon) {
			t.Errorf("dial nothing: %v, want ErrNoDaemon", err)
		}
	})
}

// Serve answers on the socket ListenUnix made until the context ends, then
// removes the socket file: what serve runs.
func TestStaffAPIServeUntilCancelled(t *testing.T) {
	st, id := staffStore(t)
	sock := filepath.Join(t.TempDir(), "run", "staff.sock")
	ln, err := ListenUnix(sock, SocketMode, "")
	if err != nil {
		t.Fatal(err)
	}
	api, err := NewServer(st, staffComposer(t), ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln) }()
	c, _, err := Dial(context.Background(), sock)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, err := Claim.Do(context.Background(), c, ClaimArgs{ID: id, Force: false}); err != nil {
		t.Fatal(err)
	}
	if _, err := Complete.Do(context.Background(), c, CompleteArgs{ID: id, Username: "asaobe01", Note: ""}); err != nil {
		t.Fatalf("done through the server's composer: %v", err)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v, want nil on cancel", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after shutdown: %v, want it removed", err)
	}
}
