package mailer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sunk is one message the sink accepted.
type sunk struct {
	from      string
	to        []string
	data      []byte
	messageID string
}

// sink is a real go-smtp server on 127.0.0.1 that records what it accepts
// and can be told to refuse, stall or go away.
type sink struct {
	t    testing.TB
	addr string
	tls  *tls.Config
	// auth maps a mechanism (PLAIN, LOGIN, XOAUTH2) to the secret it wants;
	// empty means no AUTH offered.
	auth map[string]string
	user string

	mu     sync.Mutex
	srv    *smtp.Server
	ln     net.Listener
	mails  []sunk
	logins int
	// rcpt and data, when set, may refuse a recipient or a message; a
	// refused message is not recorded.
	rcpt func(to string) error
	data func(m sunk) error
	// block, when set, stalls DATA before the message is read until it is
	// closed; the message is then dropped with a 451.
	block chan struct{}
	// dataStarted, when set, gets a value as each DATA begins.
	dataStarted chan struct{}
	// discard counts accepted messages in count instead of keeping them.
	discard bool
	count   int
}

func startSink(t testing.TB) *sink {
	t.Helper()
	s := &sink{t: t}
	s.listen("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

func (s *sink) listen(addr string) {
	s.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatalf("listen: %v", err)
	}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.TLSConfig = s.tls
	srv.AllowInsecureAuth = false
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 32 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0) // a killed client's reset is expected
	s.serve(srv, ln)
}

func (s *sink) serve(srv *smtp.Server, ln net.Listener) {
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the listener and every connection: the relay is down.
func (s *sink) stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// Serve may not have taken the listener yet: close it here too.
		ln.Close()
		srv.Close()
	}
}

// restart brings the relay back on the same address.
func (s *sink) restart() { s.listen(s.addr) }

func (s *sink) received() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.mails...)
}

// NewSession implements smtp.Backend.
func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) {
	if len(s.auth) > 0 {
		return &authSession{sinkSession{s: s}}, nil
	}
	return &sinkSession{s: s}, nil
}

type sinkSession struct {
	s      *sink
	from   string
	to     []string
	authed bool
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if len(ss.s.auth) > 0 && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	hook := ss.s.rcpt
	ss.s.mu.Unlock()
	if hook != nil {
		if err := hook(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	ss.s.mu.Lock()
	block, started, hook := ss.s.block, ss.s.dataStarted, ss.s.data
	ss.s.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		<-block
		_, _ = io.Copy(io.Discard, r)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "stalled"}
	}
	// Read the whole message before answering (NOTES.md).
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := sunk{from: ss.from, to: append([]string(nil), ss.to...), data: data}
	if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		m.messageID = strings.Trim(msg.Header.Get("Message-Id"), "<>")
	}
	if hook != nil {
		if err := hook(m); err != nil {
			return err
		}
	}
	ss.s.mu.Lock()
	ss.s.count++
	if !ss.s.discard {
		ss.s.mails = append(ss.s.mails, m)
	}
	ss.s.mu.Unlock()
	return nil
}

type authSession struct{ sinkSession }

func (as *authSession) AuthMechanisms() []string {
	var out []string
	for m := range as.s.auth {
		out = append(out, m)
	}
	return out
}

func (as *authSession) Auth(mech string) (sasl.Server, error) {
	want, ok := as.s.auth[mech]
	if !ok {
		return nil, errors.New("mechanism not offered")
	}
	ok2 := func(user, secret string) error {
		if user != as.s.user || secret != want {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		as.authed = true
		as.s.mu.Lock()
		as.s.logins++
		as.s.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return ok2(user, pass) }), nil
	case "LOGIN":
		return &loginServer{check: ok2}, nil
	case "XOAUTH2":
		return xoauth2Server(func(resp []byte) error {
			// user=<user>\x01auth=Bearer <token>\x01\x01
			parts := strings.Split(string(resp), "\x01")
			if len(parts) < 2 {
				return errors.New("malformed XOAUTH2 response")
			}
			return ok2(strings.TrimPrefix(parts[0], "user="), strings.TrimPrefix(parts[1], "auth=Bearer "))
		}), nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if ok2(o.Username, o.Token) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	}
	return nil, errors.New("mechanism not offered")
}

// loginServer is the server side of LOGIN, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// xoauth2Server is the server side of XOAUTH2, which go-sasl lacks.
type xoauth2Server func(resp []byte) error

func (f xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil
	}
	if err := f(resp); err != nil {
		return nil, true, err
	}
	return nil, true, nil
}

// testCA makes a CA and a server certificate for 127.0.0.1; it returns the
// server's TLS configuration and the path of the CA's PEM file.
func testCA(t testing.TB) (*tls.Config, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(crand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(crand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}, path
}

// reply is an SMTP answer for the sink's hooks.
func reply(code int, enhanced smtp.EnhancedCode, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: msg}
}

func (s *sink) String() string { return fmt.Sprintf("sink %s", s.addr) }
