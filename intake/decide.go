package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/emersion/go-message/mail"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/formparse/fence"
	"github.com/regionhmc/websesam-intake/intake/trust"
	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// decision is the one outcome of a message and what the reply needs. Reason
// never holds field values or file names: it goes into logs.
type decision struct {
	Outcome  store.Outcome
	Reason   string
	Original mailer.Original
	// Forms are the readable forms, in the order found (queued, returned).
	Forms []foundForm
	// NotForms are the files that were not readable forms (no-form reply).
	NotForms []mailer.FoundFile
	// Bounced are the addresses a delivery report says failed.
	Bounced []string
	// Verdict is the sender verdict's summary for the record ("" when
	// [trust] is off or the header was never read).
	Verdict string
	// Wait, when set, says why the message cannot be decided now (the
	// directory is unreachable): it is neither recorded nor moved, and a
	// later pass decides it.
	Wait error
	// Retry, when set, says that the host could not start a form reader
	// for one of its files (fence.ErrUnavailable): nothing about the mail,
	// so the pass ends before it, as when the store fails, and a later pass
	// reads it again; after maxFailedPasses it is quarantined.
	Retry error
}

// foundForm is one readable form with the bytes it came in.
type foundForm struct {
	File file
	Form *formparse.Form
	Hash string // hex SHA-256 of the file: the same form sent again matches
}

// Reasons recorded with an outcome (constant texts: safe in logs).
const (
	reasonLoopHeader    = "our own mail (loop header)"
	reasonOwnMessageID  = "our own mail (Message-ID domain)"
	reasonAutoSubmitted = "automatic mail (Auto-Submitted)"
	reasonPrecedence    = "bulk or list mail (Precedence)"
	reasonNullSender    = "empty return path"
	reasonDaemonSender  = "sent by a mail system (mailer-daemon or postmaster)"
	reasonReport        = "delivery report or bounce (multipart/report)"
	reasonAutoReply     = "out-of-office or automatic reply"
	reasonSender        = "sender outside the allowed domains"
	reasonNoSender      = "no sender address"
	reasonMessageSize   = "message over the size limit"
	reasonFileSize      = "attachment over the size limit"
	reasonTooMany       = "more attachments than allowed"
	reasonMIME          = "unreadable message structure"
	reasonCrash         = "crash while deciding"
	reasonNoFiles       = "no attachment"
	reasonNoReadable    = "no readable form among the attachments"
	reasonIncomplete    = "a form has problems"
	reasonValid         = "every form complete and valid"
	reasonUnrecordable  = "the store refused the requests of the forms"
	reasonReaderMemory  = "the form reader exceeded its memory limit"
	reasonReaderTime    = "the form reader exceeded its time limit"
	reasonReaderCrash   = "the form reader crashed"
	reasonReaderDown    = "the form reader could not be started three passes in a row"
)

// decider turns a downloaded message into its decision.
type decider struct {
	policy   PolicyConfig
	ownIDDom string // our Message-ID domain
	ownFrom  string // our From address
	trust    trust.Config
	reader   FormReader // nil: a fenced worker of this binary
}

// FormReader reads one attachment as formparse.Read does. The daemon's is a
// fence.Reader, which reads every file in a worker process under hard
// limits, because a parser that runs out of memory would otherwise take the
// whole daemon with it.
type FormReader interface {
	Read(ctx context.Context, data []byte, opts formparse.Options) (*formparse.Form, error)
}

// fencedReader is the reader when none is given: this very binary as the
// worker (its main, and every test binary's TestMain, call
// fence.MaybeServeWorker first).
var fencedReader FormReader = &fence.Reader{}

// readForm reads one attachment. A worker in hand is not cut short when the
// daemon is asked to stop: the message it belongs to is finished first, and
// the read is bounded by the parse timeout anyway.
func (d decider) readForm(data []byte, opts formparse.Options) (*formparse.Form, error) {
	r := d.reader
	if r == nil {
		r = fencedReader
	}
	return r.Read(context.Background(), data, opts)
}

// decide never fails and never panics: whatever goes wrong inside is a
// quarantined outcome with the reason.
func (d decider) decide(raw []byte) (dec decision) {
	defer func() {
		if p := recover(); p != nil {
			// The panic's value may quote the message: it is not kept.
			dec = decision{Outcome: store.OutcomeQuarantined, Reason: reasonCrash}
		}
	}()
	if int64(len(raw)) > d.policy.MaxMessageSize {
		return decision{Outcome: store.OutcomeQuarantined, Reason: reasonMessageSize}
	}
	pm, err := parseMail(raw, d.policy.MaxAttachmentSize, d.policy.MaxAttachments)
	if err != nil {
		return decision{Outcome: store.OutcomeQuarantined, Reason: reasonMIME}
	}
	dec.Original = original(pm.Header)
	h := pm.Header
	verdict := d.trust.Judge(h.Header.Header, dec.Original.From)
	dec.Verdict = verdict.Summary()
	if why := d.automatic(h, dec.Original.From); why != "" {
		dec.Outcome, dec.Reason = store.OutcomeIgnored, why
		if mt, _, err := h.ContentType(); err == nil && mt == "multipart/report" {
			// A bounce of one of our replies: that address is not written
			// to again for a while (the mailer's bounce window).
			dec.Bounced = pm.Failed
		}
		return dec
	}
	if dec.Original.From == "" {
		dec.Outcome, dec.Reason = store.OutcomeQuarantined, reasonNoSender
		return dec
	}
	if !d.senderAllowed(dec.Original.From) {
		dec.Outcome, dec.Reason = store.OutcomeQuarantined, reasonSender
		return dec
	}
	if why := d.trust.Quarantine(verdict); why != "" {
		dec.Outcome, dec.Reason = store.OutcomeQuarantined, why
		return dec
	}
	if pm.TooMany {
		dec.Outcome, dec.Reason = store.OutcomeQuarantined, reasonTooMany
		return dec
	}
	opts := formparse.Options{MaxSize: d.policy.MaxAttachmentSize, MaxUnzippedSize: d.policy.MaxUnzippedSize, Timeout: d.policy.ParseTimeout}
	for _, f := range pm.Files {
		if f.TooLarge {
			dec.Outcome, dec.Reason = store.OutcomeQuarantined, reasonFileSize
			return dec
		}
		form, err := d.readForm(f.Data, opts)
		switch {
		case err == nil:
			sum := sha256.Sum256(f.Data)
			hash := hex.EncodeToString(sum[:])
			if slices.ContainsFunc(dec.Forms, func(ff foundForm) bool { return ff.Hash == hash }) {
				continue // the same file attached twice is one form
			}
			dec.Forms = append(dec.Forms, foundForm{File: f, Form: form, Hash: hash})
		case errors.Is(err, formparse.ErrNotAForm):
			dec.NotForms = append(dec.NotForms, mailer.FoundFile{Name: f.Name, Why: mailer.Describe(err)})
		case errors.Is(err, fence.ErrUnavailable):
			return decision{Retry: err, Original: dec.Original, Verdict: dec.Verdict}
		default:
			// Encrypted, too large once unpacked, or the worker that read
			// it hit a limit or crashed: nothing a reply could fix
			// safely; staff look at it.
			dec.Outcome, dec.Reason = store.OutcomeQuarantined, quarantineReason(err)
			dec.Forms, dec.NotForms = nil, nil
			return dec
		}
	}
	switch {
	case len(dec.Forms) == 0 && len(pm.Files) == 0:
		dec.Outcome, dec.Reason = store.OutcomeNoForm, reasonNoFiles
	case len(dec.Forms) == 0:
		dec.Outcome, dec.Reason = store.OutcomeNoForm, reasonNoReadable
	default:
		dec.Outcome, dec.Reason = store.OutcomeQueued, reasonValid
		for _, f := range dec.Forms {
			if !f.Form.Complete() {
				dec.Outcome, dec.Reason = store.OutcomeReturned, reasonIncomplete
			}
		}
	}
	return dec
}

func quarantineReason(err error) string {
	switch {
	case errors.Is(err, formparse.ErrEncrypted):
		return "encrypted attachment"
	case errors.Is(err, formparse.ErrTooLarge):
		return "attachment over the size limit once unpacked"
	case errors.Is(err, formparse.ErrMemoryLimit):
		return reasonReaderMemory
	case errors.Is(err, formparse.ErrTimeout):
		return reasonReaderTime
	case errors.Is(err, formparse.ErrCrashed):
		return reasonReaderCrash
	default:
		return "the form reader failed"
	}
}

// automatic returns why the message is automatic mail (never answered), or
// "". The checks come before anything else: an answer to an automatic
// message is how mail loops start.
func (d decider) automatic(h mail.Header, from string) string {
	switch {
	case h.Has(mailer.LoopHeader):
		return reasonLoopHeader
	case d.ownIDDom != "" && mailer.SameDomain(idDomain(h.Get("Message-Id")), d.ownIDDom) && mailer.SameAddress(from, d.ownFrom):
		// Our Message-ID domain is usually the organisation's own, which
		// every colleague's mail shares: only together with our From
		// address does it mean the mail is ours.
		return reasonOwnMessageID
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && !strings.HasPrefix(v, "no") {
		return reasonAutoSubmitted
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list", "auto_reply":
		return reasonPrecedence
	}
	if h.Has("Return-Path") {
		if rp := strings.TrimSpace(h.Get("Return-Path")); rp == "" || rp == "<>" {
			return reasonNullSender
		}
	}
	local, _, _ := strings.Cut(strings.ToLower(from), "@")
	if local == "mailer-daemon" || local == "postmaster" {
		return reasonDaemonSender
	}
	if mt, _, err := h.ContentType(); err == nil && mt == "multipart/report" {
		return reasonReport
	}
	if h.Has("X-Autoreply") || h.Has("X-Autorespond") || strings.EqualFold(h.Get("X-Auto-Response-Suppress"), "All") && h.Has("X-MS-Exchange-Inbox-Rules-Loop") {
		return reasonAutoReply
	}
	subj, _ := h.Subject()
	ls := strings.ToLower(strings.TrimSpace(subj))
	for _, p := range []string{"automatiskt svar", "autosvar", "frånvaromeddelande", "out of office", "automatic reply", "auto:", "autoreply", "abwesenheitsnotiz"} {
		if strings.HasPrefix(ls, p) {
			return reasonAutoReply
		}
	}
	return ""
}

func idDomain(id string) string {
	id = strings.Trim(strings.TrimSpace(id), "<>")
	if i := strings.LastIndexByte(id, '@'); i >= 0 {
		return id[i+1:]
	}
	return ""
}

func (d decider) senderAllowed(from string) bool {
	if len(d.policy.AllowedSenderDomains) == 0 {
		return true
	}
	return mailer.DomainAllowed(from, d.policy.AllowedSenderDomains)
}

// original is what a reply needs of the message it answers.
func original(h mail.Header) mailer.Original {
	var o mailer.Original
	o.MessageID, _ = h.MessageID()
	o.Subject, _ = h.Subject()
	if l, err := h.AddressList("From"); err == nil && len(l) > 0 {
		o.From, o.FromName = l[0].Address, l[0].Name
	}
	o.References, _ = h.MsgIDList("References")
	return o
}

// requests turns the forms of a queued decision into the store's requests:
// one per single-user form, one per user row of a multi-user form (the
// shared fields with the user's columns over them).
func (dec decision) requests() []store.NewRequest {
	var out []store.NewRequest
	for _, f := range dec.Forms {
		if f.Form.ID == formparse.Multi {
			for _, u := range f.Form.Users {
				fields := make(map[string]string, len(f.Form.Fields)+len(u.Fields))
				for k, v := range f.Form.Fields {
					fields[k] = v
				}
				for k, v := range u.Fields {
					fields[k] = v
				}
				out = append(out, store.NewRequest{FormHash: f.Hash, Form: string(f.Form.ID), Type: formparse.FieldArende.Value(f.Form.Fields), Fields: fields, File: f.original()})
			}
			continue
		}
		out = append(out, store.NewRequest{FormHash: f.Hash, Form: string(f.Form.ID), Type: formparse.FieldArende.Value(f.Form.Fields), Fields: f.Form.Fields, File: f.original()})
	}
	return out
}

// compose writes the reply of a recorded decision; it runs inside the
// store's transaction, so the reply exists exactly when the outcome does.
// A sender without a usable address gets no reply (and the outcome stands).
func (dec decision) compose(c *mailer.Composer, rec store.Recorded) ([]store.OutboxRow, error) {
	var row store.OutboxRow
	var err error
	switch dec.Outcome {
	case store.OutcomeQueued:
		byHash := map[string]store.FormResult{}
		for _, fr := range rec.Forms {
			byHash[fr.Hash] = fr
		}
		r := mailer.Receipt{Original: dec.Original}
		for _, f := range dec.Forms {
			fr := byHash[f.Hash]
			r.Forms = append(r.Forms, mailer.ReceivedForm{FileName: f.File.Name, Form: f.Form, Requests: fr.Requests, Duplicate: fr.Duplicate})
		}
		row, err = c.Receipt(r)
	case store.OutcomeReturned:
		r := mailer.Return{Original: dec.Original}
		for _, f := range dec.Forms {
			r.Forms = append(r.Forms, mailer.ReturnedForm{FileName: f.File.Name, Data: f.File.Data, Form: f.Form})
		}
		row, err = c.Return(r)
	case store.OutcomeNoForm:
		row, err = c.NoForm(mailer.NoForm{Original: dec.Original, Found: dec.NotForms})
	default:
		return nil, nil
	}
	if errors.Is(err, mailer.ErrNoRecipient) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []store.OutboxRow{row}, nil
}

// problemRecords are the problems of each form of a returned message, kept
// with its record so that staff see why it came back. A reason never keeps
// the value it quotes (" (ifyllt: …)"): the record holds labels and fixed
// texts only.
func (dec decision) problemRecords() []store.FormProblems {
	if dec.Outcome != store.OutcomeReturned {
		return nil
	}
	var out []store.FormProblems
	for _, f := range dec.Forms {
		if f.Form == nil || len(f.Form.Problems) == 0 {
			continue
		}
		fp := store.FormProblems{Hash: f.Hash, Form: string(f.Form.ID),
			Verksamhet: f.Form.Fields[string(formparse.FieldVerksamhet)], Kundnummer: sixDigits(f.Form.Fields[string(formparse.FieldKundnummer)])}
		for _, p := range f.Form.Problems {
			reason, _, _ := strings.Cut(p.Reason, " (ifyllt:")
			fp.Problems = append(fp.Problems, store.Problem{Field: p.Field, Label: p.Label, Reason: reason})
		}
		out = append(out, fp)
	}
	return out
}

// original is the form file as attached, kept with its requests so staff
// can save it from the review screen.
func (f foundForm) original() *store.FormFile {
	return &store.FormFile{Name: f.File.Name, Data: f.File.Data}
}

// sixDigits is a kundnummer as written when it is one (six digits, spaces
// allowed), else "": a wrong value may be anything, a personal number too,
// and the record keeps no value that could name a person.
func sixDigits(v string) string {
	v = strings.ReplaceAll(v, " ", "")
	if len(v) != 6 || strings.Trim(v, "0123456789") != "" {
		return ""
	}
	return v
}
