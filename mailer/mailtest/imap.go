package mailtest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// DefaultCaps are the capabilities the daemon relies on a real server for:
// IDLE, MOVE and UIDPLUS. The in-memory server always answers IDLE.
func DefaultCaps() imap.CapSet {
	return imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapMove: {}, imap.CapUIDPlus: {}}
}

// IMAPOptions say what an IMAP server is like. User and Password are
// required.
type IMAPOptions struct {
	User, Password string
	// Folders are created besides INBOX, which always is.
	Folders []string
	// Caps are advertised; nil means DefaultCaps. Leaving MOVE out makes a
	// client fall back to COPY.
	Caps imap.CapSet
	// TLS, when set, is the server's TLS configuration: from the first
	// byte with ImplicitTLS, else offered through STARTTLS (and logins
	// need it). Without it the server speaks plain TCP and takes logins.
	TLS         *tls.Config
	ImplicitTLS bool
	// ClientTLS is how Client trusts a TLS server (e.g. CA.ClientTLS).
	ClientTLS *tls.Config
	// Session, when set, wraps each connection's session: to refuse a
	// command or offer more SASL mechanisms. A wrapper that embeds the
	// session hides MOVE (an optional interface): leave MOVE out of Caps.
	Session func(imapserver.Session) imapserver.Session
	// Tokens, when set, makes the server offer what Microsoft 365 and
	// Google offer: PLAIN with the password, and XOAUTH2 and OAUTHBEARER
	// with a bearer token that Tokens accepts. Such a session hides MOVE.
	Tokens func(token string) bool
}

// IMAP is go-imap's in-memory server on 127.0.0.1. Its mailboxes outlive
// Stop and Start, as a real server's disk does.
//
// Its IDLE differs from imapmemserver's in one way, on purpose: that
// server registers a session for news only once IDLE has begun, so a
// message delivered between a client's last command and its IDLE waited
// for the next change or poll, which no real server does. Here IDLE looks
// at the mailbox, then sleeps until anything changes (an Append, or a
// command of any session that changes a mailbox), and looks again.
type IMAP struct {
	// User is the one account: tests may reach into its mailboxes. A
	// change made through it directly wakes no client in IDLE: deliver
	// with Append.
	User    *imapmemserver.User
	opts    IMAPOptions
	changed Signal
	server
}

// NewIMAP starts the server on a free port of 127.0.0.1.
func NewIMAP(opts IMAPOptions) (*IMAP, error) {
	if opts.Caps == nil {
		opts.Caps = DefaultCaps()
	}
	s := &IMAP{opts: opts, User: imapmemserver.NewUser(opts.User, opts.Password)}
	for _, f := range append([]string{"INBOX"}, opts.Folders...) {
		if err := s.User.Create(f, nil); err != nil {
			return nil, fmt.Errorf("create folder %s: %w", f, err)
		}
	}
	return listenFresh(s, &s.server, s.serverOn)
}

// StartIMAP is NewIMAP for a test; the server closes with it.
func StartIMAP(t TB, opts IMAPOptions) *IMAP {
	t.Helper()
	return started(t, "start the IMAP server", NewIMAP, opts)
}

func (s *IMAP) serverOn(addr string) (protocolServer, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for IMAP: %w", err)
	}
	o := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			var sess imapserver.Session = &session{box: s}
			if s.opts.Tokens != nil {
				sess = &tokenSession{Session: sess, tokens: s.opts.Tokens, password: s.opts.Password}
			}
			if s.opts.Session != nil {
				sess = s.opts.Session(sess)
			}
			return sess, nil, nil
		},
		Caps:         s.opts.Caps,
		InsecureAuth: s.opts.TLS == nil,
		Logger:       log.New(io.Discard, "", 0),
	}
	if s.opts.TLS != nil {
		if s.opts.ImplicitTLS {
			ln = tls.NewListener(ln, s.opts.TLS)
		} else {
			o.TLSConfig = s.opts.TLS
		}
	}
	return imapserver.New(o), ln, nil
}

// Start brings a stopped server back on the same address.
func (s *IMAP) Start() error { return s.relisten() }

// Append puts raw into folder as an MTA delivers it: straight into the
// mailbox, whether or not the server is up, unread unless opts say so.
func (s *IMAP) Append(folder string, raw []byte, opts *imap.AppendOptions) error {
	if opts == nil {
		opts = &imap.AppendOptions{}
	}
	_, err := s.User.Append(folder, literal{bytes.NewReader(raw)}, opts)
	s.changed.Fire()
	if err != nil {
		return fmt.Errorf("append to %s: %w", folder, err)
	}
	return nil
}

// WaitFor returns once cond holds, looking again at each change to a
// mailbox, and fails the test when limit passes first.
func (s *IMAP) WaitFor(t TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	WaitSignal(t, what, limit, &s.changed, cond)
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

// Deliver appends each raw message to INBOX, failing the test on error.
func (s *IMAP) Deliver(t TB, raws ...[]byte) {
	t.Helper()
	for _, raw := range raws {
		if err := s.Append("INBOX", raw, nil); err != nil {
			t.Fatalf("%v", err)
		}
	}
}

// Dial is a new logged-in client connection; the caller closes it.
func (s *IMAP) Dial() (*imapclient.Client, error) {
	var (
		c   *imapclient.Client
		err error
	)
	opts := &imapclient.Options{TLSConfig: s.opts.ClientTLS}
	switch {
	case s.opts.TLS == nil:
		c, err = imapclient.DialInsecure(s.Addr(), nil)
	case s.opts.ImplicitTLS:
		c, err = imapclient.DialTLS(s.Addr(), opts)
	default:
		c, err = imapclient.DialStartTLS(s.Addr(), opts)
	}
	if err != nil {
		return nil, fmt.Errorf("dial imap: %w", err)
	}
	if err := c.Login(s.opts.User, s.opts.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap login: %w", err)
	}
	return c, nil
}

// Client is Dial for a test.
func (s *IMAP) Client(t TB) *imapclient.Client {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return c
}

// Placed is where one message lies and with which flags (sorted: the
// server lists them in map order).
type Placed struct {
	Folder string
	Flags  []imap.Flag
}

// Locate lists, per Message-ID (without angle brackets), every folder that
// holds the message.
func (s *IMAP) Locate() (map[string][]Placed, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	out := map[string][]Placed{}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return nil, fmt.Errorf("examine %s: %w", l.Mailbox, err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		var set imap.SeqSet
		set.AddRange(1, sel.NumMessages)
		bufs, err := c.Fetch(set, &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", l.Mailbox, err)
		}
		for _, b := range bufs {
			slices.Sort(b.Flags)
			out[b.Envelope.MessageID] = append(out[b.Envelope.MessageID], Placed{Folder: l.Mailbox, Flags: b.Flags})
		}
	}
	return out, nil
}

// Where is Locate for a test.
func (s *IMAP) Where(t TB) map[string][]Placed {
	t.Helper()
	out, err := s.Locate()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// Count is the folder's message count, for a test.
func (s *IMAP) Count(t TB, folder string) uint32 {
	t.Helper()
	st, err := s.User.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatalf("status %s: %v", folder, err)
	}
	if st.NumMessages == nil {
		t.Fatalf("status %s: no message count", folder)
	}
	return *st.NumMessages
}

// session is one connection's session: imapmemserver's, with the IDLE
// described at IMAP and every change signalled.
type session struct {
	*imapmemserver.UserSession // nil until login
	box                        *IMAP
}

func (s *session) Login(user, password string) error {
	if user != s.box.opts.User {
		return imapserver.ErrAuthFailed
	}
	if err := s.box.User.Login(user, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.box.User)
	return nil
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for {
		changed := s.box.changed.C()
		if err := s.UserSession.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-stop:
			return nil
		}
	}
}

func (s *session) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	defer s.box.changed.Fire()
	return s.UserSession.Append(mailbox, r, options)
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	defer s.box.changed.Fire()
	return s.UserSession.Copy(numSet, dest)
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	defer s.box.changed.Fire()
	return s.UserSession.Move(w, numSet, dest)
}

func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	defer s.box.changed.Fire()
	return s.UserSession.Expunge(w, uids)
}

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	defer s.box.changed.Fire()
	return s.UserSession.Store(w, numSet, flags, options)
}

func (s *session) Create(mailbox string, options *imap.CreateOptions) error {
	defer s.box.changed.Fire()
	return s.UserSession.Create(mailbox, options)
}

func (s *session) Delete(mailbox string) error {
	defer s.box.changed.Fire()
	return s.UserSession.Delete(mailbox)
}

// tokenSession adds the SASL mechanisms of Microsoft 365 and Google.
type tokenSession struct {
	imapserver.Session
	tokens   func(string) bool
	password string
}

func (s *tokenSession) AuthenticateMechanisms() []string {
	return []string{sasl.Plain, "XOAUTH2", sasl.OAuthBearer}
}

func (s *tokenSession) Authenticate(mech string) (sasl.Server, error) {
	if mech == sasl.Plain {
		return SASLServer(mech, s.Login)
	}
	return SASLServer(mech, func(user, token string) error {
		if !s.tokens(token) {
			return imapserver.ErrAuthFailed
		}
		return s.Login(user, s.password)
	})
}
