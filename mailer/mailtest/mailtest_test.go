package mailtest

import (
	"net/smtp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

func send(t *testing.T, addr, id string) error {
	t.Helper()
	msg := "From: a@example.test\r\nTo: b@example.test\r\nMessage-ID: <" + id + ">\r\nSubject: x\r\n\r\nhej\r\n"
	return smtp.SendMail(addr, nil, "a@example.test", []string{"b@example.test"}, []byte(msg))
}

// TestSink: what is accepted is recorded with its envelope and Message-ID,
// a refusal reaches the client with its code and is not recorded, a
// stopped sink refuses connections and a restarted one takes mail again
// on the same address; the waits end on deliveries.
func TestSink(t *testing.T) {
	sk := StartSink(t, SinkOptions{})
	if err := send(t, sk.Addr(), "one@example.test"); err != nil {
		t.Fatal(err)
	}
	sk.WaitCount(t, 1, 10*time.Second)
	got := sk.Received()
	if len(got) != 1 || got[0].From != "a@example.test" || strings.Join(got[0].To, ",") != "b@example.test" || got[0].MessageID != "one@example.test" {
		t.Fatalf("got %+v, want the one message with its envelope", got)
	}
	if got, want := got[0].Header().Get("Subject"), "x"; got != want {
		t.Errorf("subject: got %q, want %q", got, want)
	}

	sk.RefuseRcpt(func(string) error { return Reply(550, gosmtp.EnhancedCode{5, 1, 1}, "no such user") })
	if err := send(t, sk.Addr(), "two@example.test"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("refused recipient: got %v, want a 550", err)
	}
	sk.RefuseRcpt(nil)
	sk.RefuseData(func(Mail) error { return Reply(552, gosmtp.EnhancedCode{5, 3, 4}, "too big") })
	if err := send(t, sk.Addr(), "three@example.test"); err == nil || !strings.Contains(err.Error(), "552") {
		t.Errorf("refused message: got %v, want a 552", err)
	}
	sk.RefuseData(nil)
	if n := sk.Count(); n != 1 {
		t.Errorf("count after refusals: got %d, want 1", n)
	}

	started := make(chan struct{}, 1)
	sk.NotifyData(started)
	release := sk.Stall()
	errc := make(chan error, 1)
	go func() { errc <- send(t, sk.Addr(), "four@example.test") }()
	Recv(t, "the stalled DATA", 10*time.Second, started)
	release()
	if err := Recv(t, "the stalled send", 10*time.Second, errc); err == nil || !strings.Contains(err.Error(), "451") {
		t.Errorf("stalled message: got %v, want a 451", err)
	}
	sk.NotifyData(nil)

	sk.Stop()
	if err := send(t, sk.Addr(), "five@example.test"); err == nil {
		t.Error("a stopped sink took mail")
	}
	if err := sk.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := send(t, sk.Addr(), "six@example.test"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	sk.WaitFor(t, "the message after the restart", 10*time.Second, func(ms []Mail) bool {
		return len(ms) == 2 && ms[1].MessageID == "six@example.test"
	})
	if sk.Reached(3, 10*time.Millisecond) {
		t.Error("Reached 3 with two messages")
	}
}

// TestIMAP: delivered mail is where Where says, a second folder included,
// and the mailboxes outlive a stop and start on the same address; a
// session hook sees every command it wraps.
func TestIMAP(t *testing.T) {
	srv := StartIMAP(t, IMAPOptions{User: "u@example.test", Password: "p", Folders: []string{"Arkiv"}})
	srv.Deliver(t, []byte("Message-ID: <a@example.test>\r\nSubject: a\r\n\r\na\r\n"))
	if err := srv.Append("Arkiv", []byte("Message-ID: <b@example.test>\r\nSubject: b\r\n\r\nb\r\n"),
		&imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := srv.Dial(); err == nil {
		t.Error("dialled a stopped server")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	where := srv.Where(t)
	if got, want := len(where), 2; got != want {
		t.Fatalf("messages: got %d, want %d: %v", got, want, where)
	}
	if p := where["a@example.test"]; len(p) != 1 || p[0].Folder != "INBOX" || len(p[0].Flags) != 0 {
		t.Errorf("a: got %v, want unread in INBOX", p)
	}
	if p := where["b@example.test"]; len(p) != 1 || p[0].Folder != "Arkiv" || len(p[0].Flags) != 1 || p[0].Flags[0] != imap.FlagSeen {
		t.Errorf("b: got %v, want seen in Arkiv", p)
	}
	if got := srv.Count(t, "INBOX"); got != 1 {
		t.Errorf("INBOX count: got %d, want 1", got)
	}
}

// TestIMAPTokens: over implicit TLS with a private CA, a password login
// works and OAUTHBEARER takes the accepted token and refuses another.
func TestIMAPTokens(t *testing.T) {
	ca := StartCA(t, t.TempDir())
	srv := StartIMAP(t, IMAPOptions{User: "u@example.test", Password: "p", TLS: ca.ServerTLS(), ImplicitTLS: true,
		ClientTLS: ca.ClientTLS(), Caps: imap.CapSet{imap.CapIMAP4rev1: {}}, Tokens: func(tok string) bool { return tok == "rätt" }})
	c := srv.Client(t)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select after a password login over TLS: %v", err)
	}
	c.Close()
	for tok, ok := range map[string]bool{"rätt": true, "fel": false} {
		c, err := imapclient.DialTLS(srv.Addr(), &imapclient.Options{TLSConfig: ca.ClientTLS()})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "u@example.test", Token: tok}))
		c.Close()
		if (err == nil) != ok {
			t.Errorf("token %q: got %v, want accepted %v", tok, err, ok)
		}
	}
}

// TestWait: Wait polls until the condition holds; WaitSignal looks again
// when the signal fires; Until gives up at its limit and says so.
func TestWait(t *testing.T) {
	n := 0
	Wait(t, "the third look", 10*time.Second, func() bool { n++; return n == 3 })
	var s Signal
	var set atomic.Bool
	go func() { set.Store(true); s.Fire() }()
	WaitSignal(t, "the flag", 10*time.Second, &s, set.Load)
	if Until(10*time.Millisecond, &Signal{}, func() bool { return false }) {
		t.Error("Until: got true for a condition that never holds")
	}
	ch := make(chan int, 1)
	ch <- 7
	if got := Recv(t, "a value", time.Second, ch); got != 7 {
		t.Errorf("Recv: got %d, want 7", got)
	}
}

// TestProxy: a command cut before the server sees it is not done; one cut
// after it is done with its answer lost; a stalled one is neither done nor
// answered until the connection is dropped; a connection while the server
// is down is refused; the counts say so.
func TestProxy(t *testing.T) {
	srv := StartIMAP(t, IMAPOptions{User: "u@example.test", Password: "p"})
	p := StartProxy(t, srv.Addr())
	dial := func() *imapclient.Client {
		t.Helper()
		c, err := imapclient.DialInsecure(p.Addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("u@example.test", "p").Wait(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	exists := func(name string) bool {
		_, err := srv.User.Status(name, &imap.StatusOptions{NumMessages: true})
		return err == nil
	}
	for _, tc := range []struct {
		folder string
		after  bool
	}{{"Före", false}, {"Efter", true}} {
		c := dial()
		p.CutWhen("CREATE", tc.after)
		if err := c.Create(tc.folder, nil).Wait(); err == nil {
			t.Errorf("%s: the cut CREATE succeeded", tc.folder)
		}
		c.Close()
		if got := exists(tc.folder); got != tc.after {
			t.Errorf("%s: folder made %v, want %v", tc.folder, got, tc.after)
		}
	}
	c := dial()
	p.StallWhen("CREATE")
	errc := make(chan error, 1)
	go func() { errc <- c.Create("Hängd", nil).Wait() }()
	p.WaitFor(t, "the stall", 10*time.Second, func(n ProxyCounts) bool { return n.Cuts == 3 })
	p.DropAll()
	if err := Recv(t, "the stalled command", 10*time.Second, errc); err == nil || exists("Hängd") {
		t.Errorf("stalled CREATE: got %v, folder made %v; want an error and no folder", err, exists("Hängd"))
	}
	c.Close()
	srv.Stop()
	if c, err := imapclient.DialInsecure(p.Addr(), nil); err == nil {
		if err := c.Login("u@example.test", "p").Wait(); err == nil {
			t.Error("logged in through the proxy with the server down")
		}
		c.Close()
	}
	p.WaitFor(t, "the refusal", 10*time.Second, func(n ProxyCounts) bool { return n.Refused == 1 })
	if got, want := p.Counts(), (ProxyCounts{Accepted: 3, Refused: 1, Cuts: 3}); got != want {
		t.Errorf("counts: got %+v, want %+v", got, want)
	}
}
