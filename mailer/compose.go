package mailer

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/store"
)

// Outbox row kinds, one per notice.
const (
	KindReceipt    = "kvittens"
	KindReturn     = "komplettering"
	KindNoForm     = "ingen-blankett"
	KindDoneUser   = "klar-anvandare"
	KindDoneChef   = "klar-chef"
	KindRejection  = "avslag"
	kindSignature  = "signatur"
	kindParts      = "gemensamt"
	textSuffix     = ".txt"
	htmlSuffix     = ".html"
	subjectBlock   = "subject"
	defaultSubject = "webSesam"
)

// ErrNoRecipient: a notice has no usable address to go to (the sender's
// address of the original, or both addresses on the form, are missing or
// invalid).
var ErrNoRecipient = errors.New("no valid recipient")

//go:embed templates
var embedded embed.FS

var kinds = []string{KindReceipt, KindReturn, KindNoForm, KindDoneUser, KindDoneChef, KindRejection, KindDigest}

// Original is the message a reply answers, as the intake decoded it.
type Original struct {
	MessageID  string   // without angle brackets; empty when the mail had none
	Subject    string   // decoded
	From       string   // the bare address to answer: the original's Reply-To when it had one, else its From
	FromName   string   // the display name that goes with From, decoded
	References []string // the original's References, without angle brackets
}

// Receipt is the Kvittens for a queued message.
type Receipt struct {
	Original Original
	Forms    []ReceivedForm
}

// ReceivedForm is one form of a queued message.
type ReceivedForm struct {
	FileName string
	Form     *formparse.Form
	// Requests are the ids of the requests this form became (for a
	// duplicate, those of the first time when known).
	Requests []string
	// Duplicate: the same form was received before; no new request.
	Duplicate bool
}

// Return is the Komplettering for a message with a form that has problems.
type Return struct {
	Original Original
	// Forms are every form of the message, each attached unchanged.
	Forms []ReturnedForm
}

// ReturnedForm is one form of a returned message with the bytes received.
type ReturnedForm struct {
	FileName    string
	ContentType string // as received; derived from the form's format when empty
	Data        []byte
	Form        *formparse.Form
}

// NoForm is the Ingen blankett reply.
type NoForm struct {
	Original Original
	// Found lists the attachments that were not readable forms; empty when
	// the message had none.
	Found []FoundFile
}

// FoundFile is one attachment that was not a readable form and why, in
// Swedish (see Describe).
type FoundFile struct {
	Name string
	Why  string
}

// Done is a request that staff completed: the Klar notices.
type Done struct {
	Request string
	Form    formparse.FormID
	// Fields are the request's fields for its one user, normalised as
	// formparse gives them (arende, fornamn, epost, chef_epost, roll_*, …).
	Fields map[string]string
	// UserName is the webSesam user name staff recorded.
	UserName string
}

// Rejection is a request that staff refused: the Avslag notice.
type Rejection struct {
	Request string
	Form    formparse.FormID
	Fields  map[string]string
	Reason  string // staff's words, shown as written
}

// Composer turns outcomes into complete outbox rows. It is safe for
// concurrent use.
type Composer struct {
	cfg  Config
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
	now  func() time.Time

	mu   sync.Mutex // guards rand
	rand io.Reader
}

// ComposerOption changes how a Composer is built.
type ComposerOption func(*Composer)

// WithClock sets the clock for the Date header (tests pin it).
func WithClock(now func() time.Time) ComposerOption { return func(c *Composer) { c.now = now } }

// WithRandom sets the source of Message-IDs and MIME boundaries (tests pin
// it so golden files are stable); default crypto/rand.
func WithRandom(r io.Reader) ComposerOption { return func(c *Composer) { c.rand = r } }

// NewComposer validates the composing part of cfg (after defaults) and
// parses every template, so a broken override fails at start-up, not at the
// first reply.
func NewComposer(cfg Config, opts ...ComposerOption) (*Composer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validateCompose(); err != nil {
		return nil, err
	}
	c := &Composer{
		cfg:  cfg,
		text: map[string]*texttemplate.Template{},
		html: map[string]*htmltemplate.Template{},
		now:  time.Now,
		rand: rand.Reader,
	}
	for _, o := range opts {
		o(c)
	}
	var errs []error
	for _, kind := range kinds {
		t, err := c.parseText(kind)
		if err != nil {
			errs = append(errs, err)
		}
		h, err := c.parseHTML(kind)
		if err != nil {
			errs = append(errs, err)
		}
		c.text[kind], c.html[kind] = t, h
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

var funcs = map[string]any{
	"join":  strings.Join,
	"lines": func(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") },
}

// source reads a template from the override directory when it has the file,
// else from the binary.
func (c *Composer) source(name string) (string, error) {
	if c.cfg.TemplatesDir != "" {
		b, err := os.ReadFile(filepath.Join(c.cfg.TemplatesDir, name))
		if err == nil {
			return string(b), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read template %s: %w", name, err)
		}
	}
	b, err := embedded.ReadFile("templates/" + name)
	if err != nil {
		return "", fmt.Errorf("read template %s: %w", name, err)
	}
	return string(b), nil
}

// shared are the templates parsed with every notice, for the blocks the
// notices have in common: the signature, and the parts two notices tell
// alike (the list of changes).
var shared = []string{kindSignature, kindParts}

// sources reads a notice's template and the shared ones, in that order.
func (c *Composer) sources(kind, suffix string) ([]templateSource, error) {
	srcs := make([]templateSource, 0, 1+len(shared))
	for _, k := range append([]string{kind}, shared...) {
		text, err := c.source(k + suffix)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, templateSource{name: k + suffix, text: text})
	}
	return srcs, nil
}

// templateSource is one template file's name and text.
type templateSource struct{ name, text string }

// parseAll parses the notice's source into root and each shared one beside
// it; text/template and html/template alike.
func parseAll[T interface {
	New(name string) T
	Parse(text string) (T, error)
}](root T, srcs []templateSource) (T, error) {
	for i, s := range srcs {
		t := root
		if i > 0 {
			t = root.New(s.name)
		}
		if _, err := t.Parse(s.text); err != nil {
			var none T
			return none, fmt.Errorf("parse template %s: %w", s.name, err)
		}
	}
	return root, nil
}

func (c *Composer) parseText(kind string) (*texttemplate.Template, error) {
	srcs, err := c.sources(kind, textSuffix)
	if err != nil {
		return nil, err
	}
	return parseAll(texttemplate.New(kind+textSuffix).Funcs(funcs).Option("missingkey=error"), srcs)
}

func (c *Composer) parseHTML(kind string) (*htmltemplate.Template, error) {
	srcs, err := c.sources(kind, htmlSuffix)
	if err != nil {
		return nil, err
	}
	return parseAll(htmltemplate.New(kind+htmlSuffix).Funcs(funcs).Option("missingkey=error"), srcs)
}

// common is what every template gets.
type common struct {
	Signature      string
	SignatureLines []string
	SupportLine    string
	Intake         string
	FormURL        string
}

func (c *Composer) common() common {
	return common{
		Signature:      strings.TrimRight(c.cfg.Signature, "\n"),
		SignatureLines: strings.Split(strings.TrimRight(c.cfg.Signature, "\n"), "\n"),
		SupportLine:    c.cfg.SupportLine,
		Intake:         c.cfg.FromAddress,
		FormURL:        c.cfg.FormURL,
	}
}

// render executes a kind's text and HTML templates; subject is the text
// set's "subject" block when wanted.
func (c *Composer) render(kind string, data any, wantSubject bool) (text, html, subject string, err error) {
	var b strings.Builder
	if err := c.text[kind].Execute(&b, data); err != nil {
		return "", "", "", fmt.Errorf("render %s%s: %w", kind, textSuffix, err)
	}
	text = b.String()
	b.Reset()
	if err := c.html[kind].Execute(&b, data); err != nil {
		return "", "", "", fmt.Errorf("render %s%s: %w", kind, htmlSuffix, err)
	}
	html = b.String()
	if wantSubject {
		b.Reset()
		if err := c.text[kind].ExecuteTemplate(&b, subjectBlock, data); err != nil {
			return "", "", "", fmt.Errorf("render %s subject: %w", kind, err)
		}
		subject = cleanLine(b.String())
		if subject == "" {
			subject = defaultSubject
		}
	}
	return text, html, subject, nil
}

// replyPrefix matches the reply prefixes that mail clients stack, in the
// languages our users write in. Compiled on first use, not at every start
// of the binary.
var replyPrefix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^\s*(sv|re|aw|svar|antw)\s*(\[\d+\])?\s*:\s*`)
})

// ReplySubject is the subject of a reply: "SV: " and the original subject
// without the reply prefixes already on it, so threads keep one "SV:".
func ReplySubject(original string) string {
	s := truncate(cleanLine(truncate(original, 4*maxSubject)), maxSubject)
	for {
		t := replyPrefix().ReplaceAllString(s, "")
		if t == s {
			break
		}
		s = t
	}
	if s == "" {
		s = defaultSubject
	}
	return "SV: " + s
}

// replyHeaders threads a reply under the original.
func replyHeaders(d *draft, o Original) {
	d.subject = ReplySubject(o.Subject)
	d.autoSubmitted = autoReplied
	id := strings.Trim(strings.TrimSpace(o.MessageID), "<>")
	var refs []string
	for _, r := range o.References {
		r = strings.Trim(strings.TrimSpace(r), "<>")
		if validMsgID(r) {
			refs = append(refs, r)
		}
	}
	if validMsgID(id) {
		d.inReplyTo = id
		refs = append(refs, id)
	}
	d.references = refs
}

func validMsgID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "<> \t\r\n") && strings.Contains(id, "@")
}

// address turns a bare address and a display name into a recipient, or nil
// when the address is not a valid bare address.
func address(addr, name string) *mail.Address {
	addr = strings.TrimSpace(addr)
	if !bareAddress(addr) {
		return nil
	}
	return &mail.Address{Name: truncate(cleanLine(truncate(name, 4*maxName)), maxName), Address: addr}
}

func sameAddress(a, b *mail.Address) bool {
	return a != nil && b != nil && SameAddress(a.Address, b.Address)
}

func (c *Composer) sender(o Original) (*mail.Address, error) {
	a := address(o.From, o.FromName)
	if a == nil {
		return nil, fmt.Errorf("%w: the sender's address %q", ErrNoRecipient, o.From)
	}
	return a, nil
}

// Receipt composes the Kvittens to the sender.
func (c *Composer) Receipt(r Receipt) (store.OutboxRow, error) {
	to, err := c.sender(r.Original)
	if err != nil {
		return store.OutboxRow{}, fmt.Errorf("compose %s: %w", KindReceipt, err)
	}
	if len(r.Forms) == 0 {
		return store.OutboxRow{}, fmt.Errorf("compose %s: %w", KindReceipt, errNoForm)
	}
	type form struct {
		Title, FileName, Arende string
		Persons, Requests       []string
		Duplicate               bool
	}
	data := struct {
		common
		Forms  []form
		AnyNew bool
	}{common: c.common()}
	var request string
	for _, f := range r.Forms {
		if f.Form == nil {
			return store.OutboxRow{}, fmt.Errorf("compose %s: form %q: %w", KindReceipt, f.FileName, errNoForm)
		}
		data.Forms = append(data.Forms, form{
			Title:     title(f.Form.ID),
			FileName:  fileName(f.FileName),
			Arende:    arendeLabel(f.Form.ID, formparse.FieldArende.Value(f.Form.Fields)),
			Persons:   persons(f.Form),
			Requests:  f.Requests,
			Duplicate: f.Duplicate,
		})
		if !f.Duplicate {
			data.AnyNew = true
		}
		if request == "" && len(f.Requests) > 0 {
			request = f.Requests[0]
		}
	}
	text, html, _, err := c.render(KindReceipt, data, false)
	if err != nil {
		return store.OutboxRow{}, err
	}
	d := draft{kind: KindReceipt, request: request, to: []*mail.Address{to}, text: text, html: html}
	replyHeaders(&d, r.Original)
	return c.build(d)
}

// errNoForm: a receipt or a return was asked for without its form; a bug
// in the caller, never the sender's doing.
var errNoForm = errors.New("no form given")

// Return composes the Komplettering: to the manager named on the form(s), a
// copy to the sender; to the sender alone when no form names a manager with
// a valid address in an allowed domain. Every problem is listed under the
// label the form definition gives its field, and every form is attached
// exactly as received.
func (c *Composer) Return(r Return) (store.OutboxRow, error) {
	if len(r.Forms) == 0 {
		return store.OutboxRow{}, fmt.Errorf("compose %s: %w", KindReturn, errNoForm)
	}
	sender := address(r.Original.From, r.Original.FromName)
	var managers []*mail.Address
	for _, f := range r.Forms {
		if f.Form == nil {
			return store.OutboxRow{}, fmt.Errorf("compose %s: form %q: %w", KindReturn, f.FileName, errNoForm)
		}
		m := c.manager(f.Form.Fields, f.Form.Problems)
		if m == nil {
			continue
		}
		dup := false
		for _, o := range managers {
			dup = dup || sameAddress(o, m)
		}
		if !dup {
			managers = append(managers, m)
		}
	}
	var to, cc []*mail.Address
	toSender := len(managers) == 0
	if toSender {
		if sender == nil {
			return store.OutboxRow{}, fmt.Errorf("compose %s: %w: neither a manager's nor the sender's address", KindReturn, ErrNoRecipient)
		}
		to = []*mail.Address{sender}
	} else {
		to = managers
		inTo := false
		for _, m := range managers {
			inTo = inTo || sameAddress(m, sender)
		}
		if sender != nil && !inTo {
			cc = []*mail.Address{sender}
		}
	}

	type problem struct{ Label, Reason string }
	type form struct {
		Title, FileName string
		Problems        []problem
	}
	data := struct {
		common
		ToSender bool
		Forms    []form
	}{common: c.common(), ToSender: toSender}
	var files []attachment
	for _, f := range r.Forms {
		def := formparse.Lookup(f.Form.ID)
		ff := form{Title: title(f.Form.ID), FileName: fileName(f.FileName)}
		for _, p := range f.Form.Problems {
			label := p.Field
			if def != nil {
				label = def.Label(p.Field)
			}
			ff.Problems = append(ff.Problems, problem{Label: label, Reason: p.Reason})
		}
		data.Forms = append(data.Forms, ff)
		ct := f.ContentType
		if ct == "" {
			ct = contentType(f.Form.Format)
		}
		files = append(files, attachment{name: f.FileName, contentType: ct, data: f.Data})
	}
	text, html, _, err := c.render(KindReturn, data, false)
	if err != nil {
		return store.OutboxRow{}, err
	}
	d := draft{kind: KindReturn, to: to, cc: cc, text: text, html: html, attachments: files}
	replyHeaders(&d, r.Original)
	return c.build(d)
}

// manager is the form's responsible manager as a recipient, or nil when the
// address is missing, has a problem, is not a bare address or is outside the
// allowed domains.
func (c *Composer) manager(fields map[string]string, problems []formparse.FieldProblem) *mail.Address {
	for _, p := range problems {
		if p.Field == string(formparse.FieldChefEpost) {
			return nil
		}
	}
	a := address(formparse.FieldChefEpost.Value(fields), formparse.FieldChefNamn.Value(fields))
	if a == nil || !DomainAllowed(a.Address, c.cfg.AllowedDomains) {
		return nil
	}
	return a
}

// NoForm composes the Ingen blankett reply to the sender.
func (c *Composer) NoForm(n NoForm) (store.OutboxRow, error) {
	to, err := c.sender(n.Original)
	if err != nil {
		return store.OutboxRow{}, fmt.Errorf("compose %s: %w", KindNoForm, err)
	}
	data := struct {
		common
		Found                   []FoundFile
		SingleTitle, MultiTitle string
	}{common: c.common(), SingleTitle: title(formparse.Single), MultiTitle: title(formparse.Multi)}
	for _, f := range n.Found {
		name := fileName(f.Name)
		if name == "" {
			name = "(namnlös bilaga)"
		}
		data.Found = append(data.Found, FoundFile{Name: name, Why: cleanLine(f.Why)})
	}
	text, html, _, err := c.render(KindNoForm, data, false)
	if err != nil {
		return store.OutboxRow{}, err
	}
	d := draft{kind: KindNoForm, to: []*mail.Address{to}, text: text, html: html}
	replyHeaders(&d, n.Original)
	return c.build(d)
}

// Describe says in Swedish why a file was not a readable form, for FoundFile.
func Describe(err error) string {
	if err == nil {
		return "filen kunde läsas"
	}
	return formparse.Explain(err)
}

// doneData is what the Klar templates get.
type doneData struct {
	common
	Arende            string
	FirstName, Name   string
	UserName          string
	LoginInstructions string
	ValidFrom         string
	Kundnummer        string
	OtherKundnummer   string
	Roles, Changes    []string
	Request           string
	ManagerName       string
}

// Done composes the Klar notices: one to the user (user name and login
// instructions, never a password) and one to the manager. A notice whose
// address is missing or invalid is left out; ErrNoRecipient when both are.
func (c *Composer) Done(dn Done) ([]store.OutboxRow, error) {
	f := dn.Fields
	data := doneData{
		common:            c.common(),
		Arende:            formparse.FieldArende.Value(f),
		FirstName:         cleanLine(formparse.FieldFornamn.Value(f)),
		Name:              fullName(f),
		UserName:          cleanLine(dn.UserName),
		LoginInstructions: strings.TrimRight(c.cfg.LoginInstructions, "\n"),
		ValidFrom:         formparse.FieldGallerFran.Value(f),
		Kundnummer:        formparse.FieldKundnummer.Value(f),
		OtherKundnummer:   formparse.FieldOvrigaKundnummer.Value(f),
		Roles:             roles(dn.Form, f),
		Changes:           changes(dn.Form, f),
		Request:           dn.Request,
		ManagerName:       cleanLine(formparse.FieldChefNamn.Value(f)),
	}
	if data.Arende != formparse.ArendeAndring && data.Arende != formparse.ArendeAvslut {
		data.Arende = formparse.ArendeNy
	}
	user := address(formparse.FieldEpost.Value(f), data.Name)
	chef := c.manager(f, nil)
	if user == nil && chef == nil {
		return nil, fmt.Errorf("compose %s: %w: neither the user's nor the manager's address", KindDoneUser, ErrNoRecipient)
	}
	var rows []store.OutboxRow
	for _, n := range []struct {
		kind string
		to   *mail.Address
	}{{KindDoneUser, user}, {KindDoneChef, chef}} {
		if n.to == nil {
			continue
		}
		text, html, subject, err := c.render(n.kind, data, true)
		if err != nil {
			return nil, err
		}
		row, err := c.build(draft{kind: n.kind, request: dn.Request, to: []*mail.Address{n.to},
			subject: subject, autoSubmitted: autoGenerated, text: text, html: html})
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Rejection composes the Avslag: to the manager with a copy to the user, or
// to the user alone when the manager's address is not usable.
func (c *Composer) Rejection(rj Rejection) (store.OutboxRow, error) {
	f := rj.Fields
	name := fullName(f)
	user := address(formparse.FieldEpost.Value(f), name)
	chef := c.manager(f, nil)
	var to, cc []*mail.Address
	switch {
	case chef != nil:
		to = []*mail.Address{chef}
		if user != nil && !sameAddress(user, chef) {
			cc = []*mail.Address{user}
		}
	case user != nil:
		to = []*mail.Address{user}
	default:
		return store.OutboxRow{}, fmt.Errorf("compose %s: %w: neither the manager's nor the user's address", KindRejection, ErrNoRecipient)
	}
	reason := strings.TrimSpace(strings.ReplaceAll(rj.Reason, "\r\n", "\n"))
	if reason == "" {
		reason = "Inget skäl angavs."
	}
	data := struct {
		common
		Arende, ArendeLabel, Name, Kundnummer, Request, Reason, ManagerName string
		ToUser                                                              bool
	}{
		common: c.common(), Arende: formparse.FieldArende.Value(f), ArendeLabel: arendeLabel(rj.Form, formparse.FieldArende.Value(f)),
		Name: name, Kundnummer: formparse.FieldKundnummer.Value(f), Request: rj.Request, Reason: reason,
		ManagerName: cleanLine(formparse.FieldChefNamn.Value(f)), ToUser: chef == nil,
	}
	text, html, subject, err := c.render(KindRejection, data, true)
	if err != nil {
		return store.OutboxRow{}, err
	}
	return c.build(draft{kind: KindRejection, request: rj.Request, to: to, cc: cc, subject: subject,
		autoSubmitted: autoGenerated, text: text, html: html})
}

func title(id formparse.FormID) string {
	if def := formparse.Lookup(id); def != nil {
		return def.Title
	}
	return "webSesam-blankett"
}

// arendeLabel is the label the form shows for an arende value.
func arendeLabel(id formparse.FormID, value string) string {
	if def := formparse.Lookup(id); def != nil {
		if f, ok := def.Field(string(formparse.FieldArende)); ok {
			if l, ok := f.ChoiceLabel(value); ok {
				return l
			}
		}
	}
	if value == "" {
		return "(ej angivet)"
	}
	return value
}

func fullName(f map[string]string) string {
	return cleanLine(formparse.FieldFornamn.Value(f) + " " + formparse.FieldEfternamn.Value(f))
}

// persons names the people a form is about, in form order.
func persons(f *formparse.Form) []string {
	if len(f.Users) > 0 {
		var out []string
		for _, u := range f.Users {
			if n := fullName(u.Fields); n != "" {
				out = append(out, n)
			}
		}
		return out
	}
	if n := fullName(f.Fields); n != "" {
		return []string{n}
	}
	return nil
}

// roles are the labels of the ticked role boxes (the members of the group
// formparse.GroupRoll in the form definition).
func roles(id formparse.FormID, f map[string]string) []string {
	def := formparse.Lookup(id)
	if def == nil {
		return nil
	}
	g, _ := def.Group(formparse.GroupRoll)
	var out []string
	for _, m := range g.Members {
		if f[m] == formparse.CheckboxTicked {
			out = append(out, def.Label(m))
		}
	}
	return out
}

// changes describes an andring: each ticked change box by its label, with
// the fields that box requires ("Namnbyte (Tidigare namn: Berg)").
func changes(id formparse.FormID, f map[string]string) []string {
	def := formparse.Lookup(id)
	if def == nil || formparse.FieldArende.Value(f) != formparse.ArendeAndring {
		return nil
	}
	g, _ := def.Group(formparse.GroupAndringTyp)
	var out []string
	for _, box := range g.Members {
		if f[box] != formparse.CheckboxTicked {
			continue
		}
		var details []string
		for _, fld := range def.Fields {
			if fld.Required.Ticked == box && f[fld.Name] != "" {
				details = append(details, fld.Label+": "+cleanLine(f[fld.Name]))
			}
		}
		s := def.Label(box)
		if len(details) > 0 {
			s += " (" + strings.Join(details, ", ") + ")"
		}
		out = append(out, s)
	}
	return out
}

// contentTypes are the MIME types of the form files attached to notices.
var contentTypes = map[formparse.Format]string{formparse.PDF: "application/pdf",
	formparse.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

func contentType(f formparse.Format) string {
	if t, ok := contentTypes[f]; ok {
		return t
	}
	return "application/octet-stream"
}

// Completed composes the Klar notices for a request that staff marked
// done; it has the shape of the compose callback of store.Complete.
func (c *Composer) Completed(r store.Request) ([]store.OutboxRow, error) {
	return c.Done(Done{Request: r.ID, Form: formparse.FormID(r.Form), Fields: withArende(r), UserName: r.Username})
}

// Rejected composes the Avslag for a request that staff rejected; it has
// the shape of the compose callback of store.Reject.
func (c *Composer) Rejected(r store.Request) ([]store.OutboxRow, error) {
	row, err := c.Rejection(Rejection{Request: r.ID, Form: formparse.FormID(r.Form), Fields: withArende(r), Reason: r.Reason})
	if err != nil {
		return nil, err
	}
	return []store.OutboxRow{row}, nil
}

// withArende is the request's fields with `arende` set from its type when
// the fields lack it.
func withArende(r store.Request) map[string]string {
	if formparse.FieldArende.Value(r.Fields) != "" || r.Type == "" {
		return r.Fields
	}
	f := make(map[string]string, len(r.Fields)+1)
	for k, v := range r.Fields {
		f[k] = v
	}
	f[string(formparse.FieldArende)] = r.Type
	return f
}
