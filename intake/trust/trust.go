// Package trust judges who a mail says it is from by the verdict the
// region's own boundary mail servers wrote into it: the SPF, DKIM and DMARC
// results of an Authentication-Results header (RFC 8601).
//
// Anyone can write From: chef@region.se, and anyone can write an
// Authentication-Results header too. Only headers that carry the configured
// authserv-id count, and only those the boundary added: every hop prepends
// its trace headers, so the boundary's verdict sits in the block of trace
// headers at the top of the message, above everything the sender wrote. The
// sender's own headers begin, at the latest, below the Received header the
// boundary wrote when it took the message from outside:
//
//	Exchange Online            Postfix + OpenDMARC          Gmail
//	Received (internal hops)   Return-Path, Delivered-To    Delivered-To
//	Authentication-Results  *  Received (LMTP to Dovecot)   Received, X-Received
//	Received-SPF               Authentication-Results  *    ARC-* (mx.google.com)
//	Received (from outside)    Authentication-Results  *    Received (from outside)
//	-- the sender's headers    Received (from outside)      Received-SPF
//	                           -- the sender's headers      Authentication-Results  *
//	                                                        -- the sender's headers
//
// So the headers that count (*) are found by walking down from the top
// through trace headers only, to the first Authentication-Results of our
// authserv-id, and taking the run of them that follows, through the
// verdict's companions (Received-SPF, ARC-*, other services' results), up
// to the first header of any other kind: a Received header there is the
// boundary's own hop, anything else is the sender's. An
// Authentication-Results of ours further down is the sender's forgery (or a
// copy from an earlier trip through the region) and never counts.
//
// A header that a sender placed directly below a Gmail-style verdict (the
// one layout where the verdict sits below the boundary's Received) would
// join the run; results are therefore combined worst first, so such a
// header can make a verdict worse, never better. Gmail, like RFC 8601
// asks, removes headers claiming its own authserv-id from incoming mail.
//
// Headers are parsed with github.com/emersion/go-msgauth's authres, one
// result at a time after comments are removed: real headers carry comments
// with semicolons ("(2048-bit key; unprotected)"), parts without a method
// (Exchange's "; hotmail.com;") and no authserv-id at all (Exchange Online),
// each of which makes the library refuse the whole header.
package trust

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
	"github.com/regionhmc/websesam-intake/mailer"
)

// NoAuthservID, as the configured authserv_id, counts headers that carry no
// authserv-id at all: Exchange Online writes its verdict so
// ("Authentication-Results: spf=pass (sender IP is …) smtp.mailfrom=…").
const NoAuthservID = "(none)"

// Actions for a verdict.
const (
	Accept     = "accept"
	Quarantine = "quarantine"
)

// Config is the [trust] section. An empty AuthservID turns sender verdicts
// off: no header is read and every message is treated as before.
type Config struct {
	// AuthservID is the name the region's boundary servers write first in
	// their Authentication-Results header (e.g. "mx.region.se"), or
	// NoAuthservID for Exchange Online.
	AuthservID string `toml:"authserv_id"`
	// OnDMARCFail is what a dmarc=fail verdict does: quarantine (default)
	// or accept.
	OnDMARCFail string `toml:"on_dmarc_fail"`
	// OnNoVerdict is what a message without a usable verdict does (no
	// header of ours above the sender's, or one with neither a DMARC pass
	// or fail nor an aligned DKIM pass): accept (default: mail from inside
	// the organisation often carries no DMARC result) or quarantine.
	OnNoVerdict string `toml:"on_no_verdict"`
	// OnDKIMPassAlone is what an aligned dkim=pass (the signing domain is
	// the From domain or its parent) does when DMARC did not pass or fail
	// (no DMARC record): accept (default) or quarantine.
	OnDKIMPassAlone string `toml:"on_dkim_pass_alone"`
}

// Enabled reports whether verdicts are read at all.
func (c Config) Enabled() bool { return c.AuthservID != "" }

// WithDefaults returns c with every unset action at its default.
func (c Config) WithDefaults() Config {
	return endpoint.WithDefaults(c, Config{OnDMARCFail: Quarantine, OnNoVerdict: Accept, OnDKIMPassAlone: Accept})
}

// Validate reports every problem of c (after WithDefaults), each an
// *endpoint.Problem naming its key as trust.key.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct{ key, v string }{
		{"on_dmarc_fail", c.OnDMARCFail}, {"on_no_verdict", c.OnNoVerdict}, {"on_dkim_pass_alone", c.OnDKIMPassAlone},
	} {
		if a.v != Accept && a.v != Quarantine {
			errs = append(errs, endpoint.Problemf("trust."+a.key, "want quarantine or accept, got %q", a.v))
		}
	}
	if c.AuthservID != "" && c.AuthservID != NoAuthservID && !validAuthservID(c.AuthservID) {
		errs = append(errs, endpoint.Problemf("trust.authserv_id", "want the name the boundary writes (e.g. mx.region.se) or %q, got %q", NoAuthservID, c.AuthservID))
	}
	return errors.Join(errs...)
}

// validAuthservID accepts a token as RFC 8601 allows for it in practice: a
// host name or similar, no white space, no semicolon.
func validAuthservID(s string) bool {
	if len(s) > 255 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(";()\"\\=", r) {
			return false
		}
	}
	return true
}

// Class is the kind of verdict that decides.
type Class string

// The classes, from the counted headers' results combined worst first.
const (
	// ClassOff: verdicts are not read ([trust] authserv_id is empty).
	ClassOff Class = ""
	// ClassPass: DMARC passed for the From domain.
	ClassPass Class = "dmarc-pass"
	// ClassDMARCFail: DMARC failed.
	ClassDMARCFail Class = "dmarc-fail"
	// ClassDKIMPassAlone: no DMARC pass or fail, but a DKIM signature of
	// the From domain (or its parent) passed.
	ClassDKIMPassAlone Class = "dkim-pass-alone"
	// ClassNone: no usable verdict.
	ClassNone Class = "none"
)

// Verdict is what the counted headers say of one message.
type Verdict struct {
	Class Class
	// Headers is how many Authentication-Results headers counted.
	Headers int
	// DMARC, DKIM and SPF are the combined results of each method (worst
	// first; DKIM: pass when a signature aligned with From passed),
	// sanitised to a short lower-case word; "" when no counted header
	// gave one.
	DMARC, DKIM, SPF string
	authservID       string
}

// Reasons a message is quarantined for its verdict: fixed texts, safe in
// logs, each naming the verdict that decided.
const (
	ReasonDMARCFail     = "sender verdict dmarc=fail"
	ReasonNoVerdict     = "no sender verdict (no dmarc=pass or dkim=pass from the boundary)"
	ReasonDKIMPassAlone = "sender verdict dkim=pass without dmarc=pass"
)

// Quarantine returns why c's actions quarantine a message with this
// verdict, or "" when it goes on to be decided as usual.
func (c Config) Quarantine(v Verdict) string {
	switch v.Class {
	case ClassDMARCFail:
		if c.OnDMARCFail == Quarantine {
			return ReasonDMARCFail
		}
	case ClassNone:
		if c.OnNoVerdict == Quarantine {
			return ReasonNoVerdict
		}
	case ClassDKIMPassAlone:
		if c.OnDKIMPassAlone == Quarantine {
			return ReasonDKIMPassAlone
		}
	}
	return ""
}

// Summary is the verdict in one line for the message's record and the
// staff ("dmarc=pass dkim=pass spf=pass (1 header by mx.region.se)"); ""
// when verdicts are off. It holds no address and nothing the sender wrote
// but result words from a fixed alphabet.
func (v Verdict) Summary() string {
	if v.Class == ClassOff {
		return ""
	}
	if v.Headers == 0 {
		return fmt.Sprintf("none (no Authentication-Results by %s above the sender's headers)", v.authservID)
	}
	var parts []string
	for _, m := range []struct{ name, v string }{{"dmarc", v.DMARC}, {"dkim", v.DKIM}, {"spf", v.SPF}} {
		if m.v != "" {
			parts = append(parts, m.name+"="+m.v)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no results")
	}
	noun := "headers"
	if v.Headers == 1 {
		noun = "header"
	}
	return fmt.Sprintf("%s: %s (%d %s by %s)", v.Class, strings.Join(parts, " "), v.Headers, noun, v.authservID)
}

// Judge reads the verdict of a message from its header (top first, as
// received) for the sender address from (the first From address).
func (c Config) Judge(h textproto.Header, from string) Verdict {
	if !c.Enabled() {
		return Verdict{}
	}
	v := Verdict{Class: ClassNone, authservID: c.AuthservID}
	fromDomain := ""
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		fromDomain = domain(from[i+1:])
	}
	var dmarc, spf []string
	dkimPass, dkimOther := false, []string{}
	dmarcPassForFrom := true
	started := false
	fields := h.Fields()
	for fields.Next() {
		name := strings.ToLower(fields.Key())
		if name == "authentication-results" {
			id, results := parse(fields.Value())
			if !c.ours(id) {
				continue
			}
			started = true
			v.Headers++
			for _, r := range results {
				switch r := r.(type) {
				case *authres.DMARCResult:
					dmarc = append(dmarc, word(string(r.Value)))
					if r.Value == authres.ResultPass && r.From != "" && (fromDomain == "" || domain(strings.Trim(r.From, "\"")) != fromDomain) {
						// A pass for another From than the one we read (a
						// message with two From headers): not ours.
						dmarcPassForFrom = false
					}
				case *authres.DKIMResult:
					switch {
					case r.Value == authres.ResultPass && aligned(signingDomain(r), fromDomain):
						dkimPass = true
					case r.Value == authres.ResultPass:
						// Some domain signed it, not the sender's: says
						// nothing of who wrote From.
						dkimOther = append(dkimOther, "unaligned")
					default:
						dkimOther = append(dkimOther, word(string(r.Value)))
					}
				case *authres.SPFResult:
					spf = append(spf, word(string(r.Value)))
				}
			}
			continue
		}
		if started {
			if companion(name) {
				continue
			}
			break // the boundary's Received, or the sender's first header
		}
		if !trace(name) {
			break // the sender's headers begin: no verdict of ours above them
		}
	}
	v.DMARC = worst(dmarc)
	v.SPF = worst(spf)
	switch {
	case dkimPass:
		v.DKIM = "pass"
	default:
		v.DKIM = worst(dkimOther)
	}
	switch {
	case v.DMARC == "fail":
		v.Class = ClassDMARCFail
	case v.DMARC == "pass" && dmarcPassForFrom:
		v.Class = ClassPass
	case dkimPass:
		v.Class = ClassDKIMPassAlone
	}
	return v
}

func (c Config) ours(id string) bool {
	if c.AuthservID == NoAuthservID {
		return id == ""
	}
	return id != "" && (id == c.AuthservID || mailer.SameDomain(id, c.AuthservID))
}

// domain is d as domains are compared (mailer.CanonicalDomain: ASCII after
// IDNA, never Unicode case folding, so a KELVIN SIGN is not a "k"); "" when
// d is no domain name, which then matches nothing.
func domain(d string) string {
	c, err := mailer.CanonicalDomain(d)
	if err != nil {
		return ""
	}
	return c
}

// trace reports whether a header is one that mail systems add on the way
// (above the sender's own headers): the block walked through before our
// verdict is found.
func trace(name string) bool {
	switch name {
	case "received", "return-path", "delivered-to", "x-original-to", "received-spf",
		"authentication-results", "authentication-results-original":
		return true
	}
	return strings.HasPrefix(name, "arc-") || strings.HasPrefix(name, "x-")
}

// companion reports whether a header may stand between the boundary's
// Authentication-Results headers and its Received header.
func companion(name string) bool {
	return name == "received-spf" || strings.HasPrefix(name, "arc-")
}

// signingDomain is the DKIM signature's d= (header.d), or the domain of its
// i= (header.i) when only that is given (Gmail writes header.i).
func signingDomain(r *authres.DKIMResult) string {
	if d := strings.Trim(r.Domain, "\""); d != "" {
		return domain(d)
	}
	if _, d, ok := strings.Cut(strings.Trim(r.Identifier, "\""), "@"); ok {
		return domain(d)
	}
	return ""
}

// aligned reports relaxed alignment: the signing domain is the From domain
// or a parent of it (a signature of region.se covers chef@vard.region.se).
func aligned(signing, from string) bool {
	if signing == "" || from == "" {
		return false
	}
	return from == signing || strings.HasSuffix(from, "."+signing) && strings.Contains(signing, ".")
}

// rank orders result words worst first; anything unknown ranks with the
// errors (neither a pass nor a fail).
func rank(w string) int {
	switch w {
	case "fail", "hardfail":
		return 0
	case "softfail":
		return 1
	case "pass":
		return 3
	default:
		return 2
	}
}

// worst combines the results of one method over the counted headers: a
// forged or stale header can only make a verdict worse.
func worst(ws []string) string {
	out := ""
	for _, w := range ws {
		if out == "" || rank(w) < rank(out) {
			out = w
		}
	}
	return out
}

// word keeps a result value that is a short lower-case word ("pass",
// "bestguesspass"); anything else becomes "other", so that a summary never
// carries text a sender could have chosen.
func word(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 20 {
		return "other"
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return "other"
		}
	}
	return s
}

// parse reads one Authentication-Results value: its authserv-id ("" when
// the header starts with a result, as Exchange Online's does) and every
// result the library can read, part by part, so that one odd part does not
// hide the others.
func parse(value string) (id string, results []authres.Result) {
	parts := strings.Split(clean(value), ";")
	first := strings.TrimSpace(parts[0])
	rest := parts[1:]
	if strings.Contains(first, "=") {
		rest = parts // no authserv-id: the first part is a result
	} else {
		var err error
		if id, _, err = authres.Parse(first); err != nil || id == "" {
			return "\x00unreadable", nil // an unknown version: never ours
		}
	}
	for _, p := range rest {
		if strings.TrimSpace(p) == "" {
			continue
		}
		_, rs, err := authres.Parse("x; " + p)
		if err != nil {
			continue
		}
		results = append(results, rs...)
	}
	return id, results
}

// clean removes comments (nested parentheses, with quoted pairs) and
// neutralises the separators inside quoted strings, so that splitting on
// ';' splits results and nothing else. A quoted local part such as
// smtp.mailfrom="a;dmarc=pass"@example.com must not become a result.
func clean(s string) string {
	var b strings.Builder
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (depth > 0 || quoted):
			if quoted && i+1 < len(s) {
				b.WriteByte('_')
			}
			i++
		case depth > 0:
			switch c {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					b.WriteByte(' ')
				}
			}
		case quoted:
			switch c {
			case '"':
				quoted = false
				b.WriteByte(c)
			case ';', '(', ')', '=', ' ', '\t', '\r', '\n':
				b.WriteByte('_')
			default:
				b.WriteByte(c)
			}
		case c == '"':
			quoted = true
			b.WriteByte(c)
		case c == '(':
			depth = 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
