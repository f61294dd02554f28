package intake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it,
// and writes the CA's PEM to a file.
func testCA(t *testing.T, dir string) (serverCert tls.Certificate, caFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "imap.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := writeFile(caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

// authSession adds the SASL mechanisms of Microsoft 365 and Google to the
// in-memory server's session: XOAUTH2 and OAUTHBEARER accept token, PLAIN
// the password.
type authSession struct {
	imapserver.Session
	token  string
	accept func(token string) bool // when set, decides instead of token
}

func (s *authSession) tokenOK(tok string) bool {
	if s.accept != nil {
		return s.accept(tok)
	}
	return tok == s.token
}

func (s *authSession) AuthenticateMechanisms() []string {
	return []string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}
}

func (s *authSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, user, pass string) error { return s.Login(user, pass) }), nil
	case "OAUTHBEARER":
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if !s.tokenOK(o.Token) || s.Login(o.Username, testPassword) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token"}
			}
			return nil
		}), nil
	case "XOAUTH2":
		return xoauth2Server{s}, nil
	}
	return nil, fmt.Errorf("mechanism %s not supported", mech)
}

type xoauth2Server struct{ s *authSession }

func (x xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	var user, token string
	for _, kv := range strings.Split(string(resp), "\x01") {
		switch {
		case strings.HasPrefix(kv, "user="):
			user = kv[len("user="):]
		case strings.HasPrefix(kv, "auth=Bearer "):
			token = kv[len("auth=Bearer "):]
		}
	}
	if !x.s.tokenOK(token) || x.s.Login(user, testPassword) != nil {
		return nil, true, imapserver.ErrAuthFailed
	}
	return nil, true, nil
}

// startAuthIMAP serves the in-memory server over implicit TLS (cert set)
// or plain TCP with STARTTLS offered, with the OAuth2 mechanisms.
func startAuthIMAP(t *testing.T, cert *tls.Certificate, implicit bool, token string) string {
	t.Helper()
	return startTokenIMAP(t, cert, implicit, func(tok string) bool { return tok == token })
}

// startTokenIMAP is startAuthIMAP with the tokens accept says are valid.
func startTokenIMAP(t *testing.T, cert *tls.Certificate, implicit bool, accept func(string) bool) string {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(testUser, testPassword)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &authSession{Session: mem.NewSession(), accept: accept}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}},
		InsecureAuth: cert == nil,
		Logger:       log.New(io.Discard, "", 0),
	}
	var tlsConf *tls.Config
	if cert != nil {
		tlsConf = &tls.Config{Certificates: []tls.Certificate{*cert}}
		if !implicit {
			opts.TLSConfig = tlsConf
		}
	}
	srv := imapserver.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		ln = tls.NewListener(ln, tlsConf)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestDialModes logs in over implicit TLS and STARTTLS with a private CA,
// and with every mechanism; a certificate not trusted and a wrong token
// fail, the latter as ErrAuth.
func TestDialModes(t *testing.T) {
	dir := t.TempDir()
	cert, caFile := testCA(t, dir)
	tokenFile := filepath.Join(dir, "token")
	if err := writeFile(tokenFile, "ya29.rätt-token\n"); err != nil {
		t.Fatal(err)
	}
	wrongToken := filepath.Join(dir, "wrong-token")
	if err := writeFile(wrongToken, "ya29.fel\n"); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "password")
	if err := writeFile(pw, testPassword+"\n"); err != nil {
		t.Fatal(err)
	}
	tlsAddr := startAuthIMAP(t, &cert, true, "ya29.rätt-token")
	startAddr := startAuthIMAP(t, &cert, false, "ya29.rätt-token")
	for _, c := range []struct {
		name    string
		m       MailboxConfig
		wantErr string // "" for success
		auth    bool   // the error must be ErrAuth
	}{
		{"tls login", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthLogin, PasswordFile: pw}, "", false},
		{"starttls plain", MailboxConfig{Addr: startAddr, TLS: TLSStart, CAFile: caFile, Auth: AuthPlain, PasswordFile: pw}, "", false},
		{"tls xoauth2 token file", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthXOAUTH2, TokenFile: tokenFile}, "", false},
		{"tls oauthbearer token command", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthOAuthBearer,
			TokenCommand: []string{"/bin/cat", tokenFile}}, "", false},
		{"tls xoauth2 wrong token", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthXOAUTH2, TokenFile: wrongToken}, "imap login refused", true},
		{"tls without the CA", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, Auth: AuthLogin, PasswordFile: pw}, "certificate signed by unknown authority", false},
		{"starttls without the CA", MailboxConfig{Addr: startAddr, TLS: TLSStart, Auth: AuthLogin, PasswordFile: pw}, "certificate signed by unknown authority", false},
		{"token command fails", MailboxConfig{Addr: tlsAddr, TLS: TLSImplicit, CAFile: caFile, Auth: AuthXOAUTH2, TokenCommand: []string{"/bin/false"}}, "run token command /bin/false", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.m.Username, c.m.CommandTimeout = testUser, 10*time.Second
			cn, err := dial(context.Background(), c.m, nil)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer cn.close()
				if _, err := cn.c.Select("INBOX", nil).Wait(); err != nil {
					t.Fatalf("select after login: %v", err)
				}
				return
			}
			if err == nil {
				cn.close()
				t.Fatalf("dial: got success, want %q", c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantErr) || errors.Is(err, ErrAuth) != c.auth {
				t.Fatalf("dial: got %v (ErrAuth %v), want %q (ErrAuth %v)", err, errors.Is(err, ErrAuth), c.wantErr, c.auth)
			}
		})
	}
}

// TestCommandDeadline: a server that stops answering in the middle of a
// command is given up on after the command timeout (the client library
// would wait for ever), and the message is handled after reconnecting.
func TestCommandDeadline(t *testing.T) {
	for _, trigger := range []string{"BODY.PEEK[]", "UID MOVE", "IDLE"} {
		t.Run(trigger, func(t *testing.T) {
			srv := startIMAP(t, true)
			sk := startSink(t)
			cfg := testConfig(t, t.TempDir(), srv.addr, sk.addr)
			cfg.Mailbox.CommandTimeout = 500 * time.Millisecond
			cfg.Mailbox.PollInterval = 300 * time.Millisecond
			var logs lockedBuffer
			d, st := openDaemon(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if trigger != "IDLE" {
				srv.appendMail(readMail(t, "outlook-pdf"))
			}
			srv.stallWhen(trigger)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			if trigger == "IDLE" {
				waitFor(t, "the IDLE stall", 10*time.Second, func() bool { return srv.cutCount() == 1 })
				srv.appendMail(readMail(t, "outlook-pdf"))
			}
			waitFor(t, "the message handled after the stall", 20*time.Second, func() bool {
				keys, err := st.Unsettled("INBOX")
				return err == nil && len(keys) == 0 && len(recorded(t, st)) == 1
			})
			// The log line is written by the goroutine that lost the
			// connection; give it the moment it may need after the work
			// is done, then require it.
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), "deadline passed") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			if got := srv.cutCount(); got != 1 {
				t.Errorf("stalls: got %d, want 1", got)
			}
			if !strings.Contains(logs.String(), "deadline passed") {
				t.Errorf("the log does not say the deadline passed:\n%s", logs.String())
			}
		})
	}
}

// TestDialSilentServer: a server that accepts the connection and never
// greets is given up on after the command timeout, in every TLS mode.
func TestDialSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := writeFile(pw, "x\n"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{TLSPlain, TLSImplicit, TLSStart} {
		t.Run(mode, func(t *testing.T) {
			m := MailboxConfig{Addr: ln.Addr().String(), TLS: mode, Username: testUser, Auth: AuthLogin, PasswordFile: pw, CommandTimeout: 300 * time.Millisecond}
			_, err := dial(context.Background(), m, nil)
			if !errors.Is(err, errDeadline) {
				t.Fatalf("dial: got %v, want errDeadline", err)
			}
		})
	}
}
