package staffapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
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
}

// Server serves the staff calls as JSON over HTTP on a Unix socket. The
// caller is known from the socket's peer credentials (SO_PEERCRED), never
// from anything in the request, and that user is the actor of every audit
// entry and history step the call writes.
type Server struct {
	st       *store.Store
	composer *mailer.Composer
	log      *slog.Logger
	lookup   func(uid uint32) string
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
	return &Server{st: st, composer: composer, log: opts.Logger, lookup: opts.LookupUser}, nil
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
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
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
func (a *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(name string, call func(ctx context.Context, s Staff, body *json.Decoder) (any, error)) {
		mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
			p, _ := r.Context().Value(peerKey{}).(peer)
			if p.err != nil || r.Context().Value(peerKey{}) == nil {
				writeAPIError(w, http.StatusForbidden, kindForbidden, "the caller cannot be identified; connect over the daemon's Unix socket")
				return
			}
			actor := a.lookup(p.uid)
			s := &Local{Store: a.st, Composer: a.composer, Actor: actor}
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
			dec.DisallowUnknownFields()
			v, err := call(r.Context(), s, dec)
			if err != nil {
				status, kind := classify(err)
				if status == http.StatusInternalServerError {
					a.log.Error("staff call", "call", name, "actor", actor, "err", err)
				}
				writeAPIError(w, status, kind, err.Error())
				return
			}
			level := slog.LevelInfo
			if name == "whoami" { // every command's first call: noise at Info
				level = slog.LevelDebug
			}
			a.log.Log(r.Context(), level, "staff call", "call", name, "actor", actor)
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(v)
		})
	}
	for name, call := range staffCalls {
		route(name, call)
	}
	mux.HandleFunc("POST /v1/backup", a.serveBackup)
	return mux
}

// backupTrailer is set to "ok" after the whole copy was written: a failure
// after the first byte cannot change the status any more, so the client
// trusts the copy only when the trailer says so.
const backupTrailer = "X-Backup-Status"

// serveBackup streams a consistent copy of the database (a hot backup while
// the daemon works), audited under the caller's name.
func (a *Server) serveBackup(w http.ResponseWriter, r *http.Request) {
	p, ok := r.Context().Value(peerKey{}).(peer)
	if !ok || p.err != nil {
		writeAPIError(w, http.StatusForbidden, kindForbidden, "the caller cannot be identified; connect over the daemon's Unix socket")
		return
	}
	actor := a.lookup(p.uid)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", backupTrailer)
	n, err := a.st.BackupFor(actor, w)
	if err != nil {
		a.log.Error("staff call", "call", "backup", "actor", actor, "err", err)
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

// decodeBody reads the call's JSON body into v.
func decodeBody(dec *json.Decoder, v any) error {
	if err := dec.Decode(v); err != nil {
		return badCallError{err}
	}
	return nil
}

// The bodies of the calls (the filters are the store's own types).
type (
	idCall struct {
		ID       string `json:"id"`
		Force    bool   `json:"force,omitempty"`
		Username string `json:"username,omitempty"`
		Note     string `json:"note,omitempty"`
		Reason   string `json:"reason,omitempty"`
	}
	searchCall struct {
		Text  string `json:"text"`
		Limit int    `json:"limit,omitempty"`
	}
	messageCall struct {
		Key  store.MessageKey `json:"key"`
		Note string           `json:"note,omitempty"`
	}
	outboxCall struct {
		ID uint64 `json:"id"`
	}
	// outboxRowBody carries the row with its body, which OutboxRow's JSON
	// leaves out.
	outboxRowBody struct {
		Row store.OutboxRow `json:"row"`
		Raw []byte          `json:"raw"`
	}
	whoBody struct {
		Actor string `json:"actor"`
	}
	okBody struct {
		OK bool `json:"ok"`
	}
)

// call decodes the body into a Req and runs fn with it.
func call[Req any](fn func(ctx context.Context, s Staff, req Req) (any, error)) func(context.Context, Staff, *json.Decoder) (any, error) {
	return func(ctx context.Context, s Staff, dec *json.Decoder) (any, error) {
		var req Req
		if err := decodeBody(dec, &req); err != nil {
			return nil, err
		}
		return fn(ctx, s, req)
	}
}

var staffCalls = map[string]func(context.Context, Staff, *json.Decoder) (any, error){
	"whoami": call(func(ctx context.Context, s Staff, _ struct{}) (any, error) {
		a, err := s.WhoAmI(ctx)
		return whoBody{a}, err
	}),
	"requests/list": call(func(ctx context.Context, s Staff, f store.ListFilter) (any, error) {
		return s.ListRequests(ctx, f)
	}),
	"requests/show": call(func(ctx context.Context, s Staff, c idCall) (any, error) {
		return s.ShowRequest(ctx, c.ID)
	}),
	"requests/search": call(func(ctx context.Context, s Staff, c searchCall) (any, error) {
		return s.SearchRequests(ctx, c.Text, c.Limit)
	}),
	"requests/claim": call(func(ctx context.Context, s Staff, c idCall) (any, error) {
		return s.Claim(ctx, c.ID, c.Force)
	}),
	"requests/release": call(func(ctx context.Context, s Staff, c idCall) (any, error) {
		return s.Release(ctx, c.ID)
	}),
	"requests/done": call(func(ctx context.Context, s Staff, c idCall) (any, error) {
		return s.Complete(ctx, c.ID, c.Username, c.Note)
	}),
	"requests/reject": call(func(ctx context.Context, s Staff, c idCall) (any, error) {
		return s.Reject(ctx, c.ID, c.Reason)
	}),
	"messages/list": call(func(ctx context.Context, s Staff, f store.MessageFilter) (any, error) {
		return s.ListMessages(ctx, f)
	}),
	"messages/show": call(func(ctx context.Context, s Staff, c messageCall) (any, error) {
		return s.ShowMessage(ctx, c.Key)
	}),
	"messages/reprocess": call(func(ctx context.Context, s Staff, c messageCall) (any, error) {
		return s.Reprocess(ctx, c.Key, c.Note)
	}),
	"register/list": call(func(ctx context.Context, s Staff, f store.RegisterFilter) (any, error) {
		return s.RegisterList(ctx, f)
	}),
	"register/export": call(func(ctx context.Context, s Staff, _ struct{}) (any, error) {
		return s.RegisterExport(ctx)
	}),
	"audit/list": call(func(ctx context.Context, s Staff, f store.AuditFilter) (any, error) {
		return s.AuditList(ctx, f)
	}),
	"outbox/list": call(func(ctx context.Context, s Staff, f store.OutboxFilter) (any, error) {
		return s.OutboxList(ctx, f)
	}),
	"outbox/show": call(func(ctx context.Context, s Staff, c outboxCall) (any, error) {
		r, err := s.OutboxGet(ctx, c.ID)
		return outboxRowBody{Row: r, Raw: r.Raw}, err
	}),
	"outbox/retry": call(func(ctx context.Context, s Staff, c outboxCall) (any, error) {
		return okBody{true}, s.OutboxRetry(ctx, c.ID)
	}),
	"outbox/cancel": call(func(ctx context.Context, s Staff, c outboxCall) (any, error) {
		return okBody{true}, s.OutboxCancel(ctx, c.ID)
	}),
}

// isNoDaemon reports whether a dial error means nobody listens (no socket
// file, or a file left by a daemon that is gone).
func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}
