package staffapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// DefaultSocket is where the daemon listens for staff commands under
// systemd (RuntimeDirectory=websesam-intake).
const DefaultSocket = "/run/websesam-intake/staff.sock"

// SocketMode lets the owner (the daemon's user) and the group of the
// support staff connect; nobody else can.
const SocketMode os.FileMode = 0o660

// Config is the staff socket's place in the configuration; it belongs
// in Config as [staff] (see the report of issue 6).
type Config struct {
	// Socket is the path of the Unix socket; default DefaultSocket.
	Socket string `toml:"socket"`
	// Group is the group of the support staff, given the socket (mode
	// 0660); empty keeps the daemon's own group.
	Group string `toml:"group"`
}

// ServerOptions change how the staff API runs. The zero value is right.
type ServerOptions struct {
	Logger *slog.Logger
	// LookupUser turns a peer's uid into the name the audit log carries;
	// default the system's user database, "uid:N" for an unknown uid.
	LookupUser func(uid uint32) string
	// ReadTimeout bounds reading a whole request, body included, so a
	// client that sends one byte at a time is cut off (default 30s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer (default 1m). A backup sets a
	// fresh deadline of StallTimeout before each piece instead, so a large
	// copy may take as long as it needs while a reader that stops reading
	// is dropped (default 10s).
	WriteTimeout, StallTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request (default 1m).
	IdleTimeout time.Duration
	// Samples are the daemon's figures for `status` (its metrics by series).
	Samples func() (map[string]float64, error)
	// Promise and Retain are the daemon's [queue] promise and retention
	// pass, for report and purge.
	Promise int
	Retain  RetainFunc
}

// Limits of the staff server: the largest call body and header block.
const (
	maxBody   = 1 << 20
	maxHeader = 64 << 10
)

// Server serves the staff calls as JSON over HTTP on a Unix socket. The
// caller is known from the socket's peer credentials (SO_PEERCRED), never
// from anything in the request, and that user is the actor of every audit
// entry and history step the call writes.
type Server struct {
	st       *store.Store
	composer *mailer.Composer
	log      *slog.Logger
	lookup   func(uid uint32) string
	opts     ServerOptions
}

// NewServer serves st; composer writes the Klar and Avslag notices (the
// daemon's own composer, built from its [mailer] section).
func NewServer(st *store.Store, composer *mailer.Composer, opts ServerOptions) (*Server, error) {
	if st == nil {
		return nil, errors.New("new staff API: no store")
	}
	if composer == nil {
		return nil, errors.New("new staff API: no composer")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LookupUser == nil {
		opts.LookupUser = lookupUser
	}
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&opts.ReadTimeout, 30 * time.Second}, {&opts.WriteTimeout, time.Minute}, {&opts.StallTimeout, 10 * time.Second}, {&opts.IdleTimeout, time.Minute}} {
		if *d.p <= 0 {
			*d.p = d.def
		}
	}
	return &Server{st: st, composer: composer, log: opts.Logger, lookup: opts.LookupUser, opts: opts}, nil
}

func lookupUser(uid uint32) string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid:" + strconv.FormatUint(uint64(uid), 10)
}

// ErrGroup: the staff group named in the configuration does not exist on
// this machine (a configuration error: exit status 2).
var ErrGroup = errors.New("unknown staff group")

// ListenUnix listens on a Unix socket at path with the given mode and, when
// group is not empty, that group. A socket file left by a daemon that died
// is replaced; a live one (another daemon answers) is an error, as is any
// other file at the path.
func ListenUnix(path string, mode os.FileMode, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w: group %q: %v", path, ErrGroup, group, err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("listen on %s: group %q has gid %q", path, group, g.Gid)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen on %s: the path exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another process answers on it (is a second daemon running?)", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen on %s: remove the stale socket: %w", path, err)
		}
	}
	// The socket is created under the umask (0755 at most with the usual
	// 022: nobody but the owner may connect) and opened up only after.
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s: give the socket to group %s: %w", path, group, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return ln, nil
}

// Serve answers staff calls on ln until ctx ends; calls in progress then
// get a few seconds to finish. A Unix listener's socket file is removed.
func (a *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: min(10*time.Second, a.opts.ReadTimeout),
		ReadTimeout:       a.opts.ReadTimeout,
		WriteTimeout:      a.opts.WriteTimeout,
		IdleTimeout:       a.opts.IdleTimeout,
		MaxHeaderBytes:    maxHeader,
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return withPeer(ctx, c) },
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return fmt.Errorf("serve staff API: %w", err)
}

type peerKey struct{}

// peer is who is at the other end of a connection, or why that is unknown.
type peer struct {
	uid uint32
	err error
}

// withPeer reads SO_PEERCRED of an accepted Unix connection: the kernel's
// word on the uid of the process that connected.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	p := peer{err: errors.New("not a Unix socket connection")}
	if uc, ok := c.(*net.UnixConn); ok {
		p.err = nil
		raw, err := uc.SyscallConn()
		if err != nil {
			p.err = err
		} else if cerr := raw.Control(func(fd uintptr) {
			cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
			if err != nil {
				p.err = fmt.Errorf("read peer credentials: %w", err)
				return
			}
			p.uid = cred.Uid
		}); cerr != nil {
			p.err = cerr
		}
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// Handler is the HTTP API: POST /v1/<call> with a JSON body, answered with
// JSON, errors as {"error": kind, "message": text} with a matching status.
// The routes are the table of calls (calls.go); a call under another
// version's path is refused with a message naming both versions.
func (a *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	prefix := fmt.Sprintf("/v%d/", Version)
	for _, rt := range routes {
		mux.HandleFunc("POST "+prefix+rt.name, func(w http.ResponseWriter, r *http.Request) {
			actor, ok := a.caller(w, r)
			if !ok {
				return
			}
			s := &Local{Store: a.st, Composer: a.composer, Actor: actor, Samples: a.opts.Samples, Promise: a.opts.Promise, Retain: a.opts.Retain}
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
			dec.DisallowUnknownFields()
			v, err := rt.serve(s, dec)
			if err != nil {
				status, kind := classify(err)
				if status == http.StatusInternalServerError {
					a.log.Error("staff call", "call", rt.name, "actor", actor, "err", err)
				}
				writeAPIError(w, status, kind, err.Error())
				return
			}
			level := slog.LevelInfo
			if rt.name == WhoAmI.Name() { // every command's first call: noise at Info
				level = slog.LevelDebug
			}
			a.log.Log(r.Context(), level, "staff call", "call", rt.name, "actor", actor)
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(v)
		})
	}
	mux.HandleFunc("POST "+prefix+"backup", a.serveBackup)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if v, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); ok && v != prefix[1:len(prefix)-1] && strings.HasPrefix(v, "v") {
			writeAPIError(w, http.StatusBadRequest, kindVersion, fmt.Sprintf(
				"the daemon speaks version %d of the staff protocol, the command asked for %s: use the websesam-intake that came with the daemon", Version, v))
			return
		}
		writeAPIError(w, http.StatusNotFound, kindBadCall, fmt.Sprintf("no staff call %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// caller is the actor of a request: the user of the peer's uid. A caller
// that cannot be identified is refused (and ok is false).
func (a *Server) caller(w http.ResponseWriter, r *http.Request) (actor string, ok bool) {
	p, ok := r.Context().Value(peerKey{}).(peer)
	if !ok || p.err != nil {
		writeAPIError(w, http.StatusForbidden, kindForbidden, "the caller cannot be identified; connect over the daemon's Unix socket")
		return "", false
	}
	return a.lookup(p.uid), true
}

// backupTrailer is set to "ok" after the whole copy was written: a failure
// after the first byte cannot change the status any more, so the client
// trusts the copy only when the trailer says so.
const backupTrailer = "X-Backup-Status"

// serveBackup streams a consistent copy of the database (a hot backup while
// the daemon works), audited under the caller's name. The copy is taken
// first into a private temporary file (store.SnapshotFor), so no store
// transaction is open while the client reads; each piece must then be
// taken within StallTimeout, so a client that stops reading is dropped and
// the copy released.
func (a *Server) serveBackup(w http.ResponseWriter, r *http.Request) {
	actor, ok := a.caller(w, r)
	if !ok {
		return
	}
	snap, err := a.st.SnapshotFor(actor)
	if err != nil {
		a.log.Error("staff call", "call", "backup", "actor", actor, "err", err)
		writeAPIError(w, http.StatusInternalServerError, kindInternal, "take a copy of the database: "+err.Error())
		return
	}
	defer snap.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", backupTrailer)
	rc := http.NewResponseController(w)
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, rerr := snap.Read(buf)
		if k > 0 {
			if err = rc.SetWriteDeadline(time.Now().Add(a.opts.StallTimeout)); err == nil {
				_, err = w.Write(buf[:k])
			}
			if err != nil {
				break
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err != nil {
		a.log.Error("staff call", "call", "backup", "actor", actor, "bytes", n, "err", err)
		w.Header().Set(backupTrailer, "failed")
		return
	}
	a.log.Info("staff call", "call", "backup", "actor", actor, "bytes", n)
	w.Header().Set(backupTrailer, "ok")
}

// Kinds of API errors, each standing for a store sentinel so the client
// gives callers errors that errors.Is the same way as a direct call's.
const (
	kindNotFound   = "not_found"
	kindConflict   = "conflict"
	kindInvalid    = "invalid"
	kindNoComposer = "no_composer"
	kindForbidden  = "forbidden"
	kindBadCall    = "bad_call"
	kindVersion    = "version"
	kindInternal   = "internal"
)

func classify(err error) (int, string) {
	var bad badCallError
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest, kindBadCall
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, kindNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, kindConflict
	case errors.Is(err, store.ErrInvalid):
		return http.StatusUnprocessableEntity, kindInvalid
	case errors.Is(err, ErrNoComposer):
		return http.StatusServiceUnavailable, kindNoComposer
	}
	return http.StatusInternalServerError, kindInternal
}

type apiErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeAPIError(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiErrorBody{Error: kind, Message: msg})
}

// badCallError is a body that does not decode: a client of another version.
type badCallError struct{ err error }

func (e badCallError) Error() string { return "read the call: " + e.err.Error() }

// isNoDaemon reports whether a dial error means nobody listens (no socket
// file, or a file left by a daemon that is gone).
func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}
