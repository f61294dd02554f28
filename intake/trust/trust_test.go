package trust

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"

	"github.com/regionhmc/websesam-intake/intake/endpoint"
)

// The sender's own part of every test message: what a mail client and the
// sender's outgoing server wrote, below whatever the receiving side adds.
const senderPart = `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=kommun.se; s=sel1;
	h=From:To:Subject:Date:Message-ID; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	b=AbCdEf12
From: Anna Chef <anna.chef@kommun.se>
To: info.hmc@region.se
Subject: webSesam ansökan
Date: Tue, 01 Dec 2026 09:14:00 +0100
Message-ID: <a1@kommun.se>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
`

// exchangeOnline is a message as Exchange Online stores it in the
// region's mailbox: internal hops on top, then its verdict (no
// authserv-id), Received-SPF and the Received line of the hop from outside.
func exchangeOnline(results, forged string) string {
	return `Received: from AM9PR07MB7123.eurprd07.prod.outlook.com (2603:10a6:20b:2d0::9)
 by DU0PR07MB8944.eurprd07.prod.outlook.com with HTTPS; Tue, 1 Dec 2026
 08:14:03 +0000
Received: from DU2PR04CA0170.eurprd04.prod.outlook.com (2603:10a6:10:2b0::25)
 by AM9PR07MB7123.eurprd07.prod.outlook.com (2603:10a6:20b:2d0::9) with
 Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8207.18; Tue, 1 Dec
 2026 08:14:02 +0000
Received: from DB1PEPF000509E5.eurprd03.prod.outlook.com
 (2603:10a6:10:2b0:cafe::d3) by DU2PR04CA0170.outlook.office365.com
 (2603:10a6:10:2b0::25) with Microsoft SMTP Server (version=TLS1_3,
 cipher=TLS_AES_256_GCM_SHA384) id 15.20.8207.18 via Frontend Transport; Tue,
 1 Dec 2026 08:14:02 +0000
Authentication-Results: ` + results + `
Received-SPF: Pass (protection.outlook.com: domain of kommun.se designates
 192.0.2.25 as permitted sender) receiver=protection.outlook.com;
 client-ip=192.0.2.25; helo=mail.kommun.se; pr=C
Received: from mail.kommun.se (192.0.2.25) by
 DB1PEPF000509E5.mail.protection.outlook.com (10.167.242.71) with Microsoft
 SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.8207.18
 via Frontend Transport; Tue, 1 Dec 2026 08:14:01 +0000
` + forged + senderPart
}

const (
	exoPass = `spf=pass (sender IP is 192.0.2.25)
 smtp.mailfrom=kommun.se; dkim=pass (signature was verified)
 header.d=kommun.se;dmarc=pass action=none header.from=kommun.se;compauth=pass
 reason=100`
	exoFail = `spf=fail (sender IP is 198.51.100.7)
 smtp.mailfrom=kommun.se; dkim=none (message not signed)
 header.d=none;dmarc=fail action=quarantine header.from=kommun.se;compauth=fail
 reason=000`
	// Exchange as outlook.com writes it, with the odd method-less parts.
	exoNone = `spf=none (sender IP is 198.51.100.7)
 smtp.mailfrom=kommun.se; hotmail.com; dkim=none header.d=kommun.se;hotmail.com;
 dmarc=none action=none header.from=kommun.se;compauth=softpass reason=201`
)

// postfix is a message as Postfix with OpenDKIM, policyd-spf and OpenDMARC
// milters on mx.region.se writes it, delivered by LMTP into Dovecot.
func postfix(verdicts, forged string) string {
	return `Return-Path: <anna.chef@kommun.se>
Delivered-To: info.hmc@region.se
Received: from mail.region.se
	by mail.region.se with LMTP
	id 8Pq0HNmLTGfWBwAA3Pk3Yw
	(envelope-from <anna.chef@kommun.se>)
	for <info.hmc@region.se>; Tue, 01 Dec 2026 09:14:02 +0100
` + verdicts + `Received: from mail.kommun.se (mail.kommun.se [192.0.2.25])
	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
	 key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)
	(No client certificate requested)
	by mx.region.se (Postfix) with ESMTPS id 4Y2Q1M3ZkVz9sWr
	for <info.hmc@region.se>; Tue,  1 Dec 2026 09:14:01 +0100 (CET)
` + forged + senderPart
}

const (
	pfPass = `Authentication-Results: mx.region.se; dmarc=pass (p=reject dis=none) header.from=kommun.se
Authentication-Results: mx.region.se;
	dkim=pass (2048-bit key; unprotected) header.d=kommun.se header.i=@kommun.se header.a=rsa-sha256 header.s=sel1 header.b=AbCdEf12
Authentication-Results: mx.region.se; spf=pass smtp.mailfrom=kommun.se
`
	pfFail = `Authentication-Results: mx.region.se; dmarc=fail (p=reject dis=none) header.from=kommun.se
Authentication-Results: mx.region.se; dkim=none; dkim-atps=neutral
Authentication-Results: mx.region.se; spf=fail smtp.mailfrom=kommun.se
`
	// A domain without a DMARC record whose mail is signed by itself.
	pfDKIMOnly = `Authentication-Results: mx.region.se; dmarc=none (p=none dis=none) header.from=kommun.se
Authentication-Results: mx.region.se;
	dkim=pass (1024-bit key; secure) header.d=kommun.se header.i=@kommun.se header.b=AbCdEf12
Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.25; helo=mail.kommun.se; envelope-from=anna.chef@kommun.se; receiver=<UNKNOWN>
`
	// Signed, but by a bulk mailer's domain, not the sender's.
	pfUnaligned = `Authentication-Results: mx.region.se; dmarc=none (p=none dis=none) header.from=kommun.se
Authentication-Results: mx.region.se;
	dkim=pass (2048-bit key; unprotected) header.d=mailer.example header.i=@mailer.example header.b=AbCdEf12
`
	forgedPass = `Authentication-Results: mx.region.se; dmarc=pass (p=reject dis=none) header.from=kommun.se
Authentication-Results: mx.region.se; dkim=pass header.d=kommun.se; spf=pass smtp.mailfrom=kommun.se
`
)

// gmail is a message as Gmail stores it: its verdict sits below its own
// Received line, directly above the sender's headers.
func gmail(results, forged string) string {
	return `Delivered-To: hmc.region@gmail.com
Received: by 2002:a05:6a10:8c0d:b0:5a1:2c3d:4e5f with SMTP id k13csp1234567pxv;
        Tue, 1 Dec 2026 00:14:03 -0800 (PST)
X-Google-Smtp-Source: AGHT+IFk3o0Qv5Yc2Xw==
X-Received: by 2002:a17:907:7fa6:b0:a9a:1b2c:3d4e with SMTP id qk38mr1234567ejc.5.1796112843123;
        Tue, 01 Dec 2026 00:14:03 -0800 (PST)
ARC-Seal: i=1; a=rsa-sha256; t=1796112843; cv=none;
        d=google.com; s=arc-20240605;
        b=Zm9vYmFy
ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=google.com; s=arc-20240605;
        h=subject:to:from:date:message-id:dkim-signature; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
        b=YmFyYmF6
ARC-Authentication-Results: i=1; mx.google.com; ` + results + `
Return-Path: <anna.chef@kommun.se>
Received: from mail.kommun.se (mail.kommun.se. [192.0.2.25])
        by mx.google.com with ESMTPS id a640c23a62f3a-a9a6b2c3d4esi123456766b.123.2026.12.01.00.14.03
        for <hmc.region@gmail.com>
        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);
        Tue, 01 Dec 2026 00:14:03 -0800 (PST)
Received-SPF: pass (google.com: domain of anna.chef@kommun.se designates 192.0.2.25 as permitted sender) client-ip=192.0.2.25;
Authentication-Results: mx.google.com;
       ` + results + `
` + forged + senderPart
}

const (
	gmPass = `dkim=pass header.i=@kommun.se header.s=sel1 header.b=AbCdEf12;
       spf=pass (google.com: domain of anna.chef@kommun.se designates 192.0.2.25 as permitted sender) smtp.mailfrom=anna.chef@kommun.se;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=kommun.se`
	gmFail = `dkim=fail header.i=@kommun.se header.s=sel1 header.b=AbCdEf12;
       spf=softfail (google.com: domain of transitioning anna.chef@kommun.se does not designate 198.51.100.7 as permitted sender) smtp.mailfrom=anna.chef@kommun.se;
       dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=kommun.se`
)

func header(t *testing.T, raw string) textproto.Header {
	t.Helper()
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n") + "\r\n")))
	if err != nil {
		t.Fatalf("read header: %v", err)
	}
	return h
}

func TestJudge(t *testing.T) {
	const from = "anna.chef@kommun.se"
	exo := Config{AuthservID: NoAuthservID}.WithDefaults()
	pf := Config{AuthservID: "mx.region.se"}.WithDefaults()
	gm := Config{AuthservID: "mx.google.com"}.WithDefaults()
	for _, tc := range []struct {
		name    string
		cfg     Config
		raw     string
		from    string
		class   Class
		summary string
	}{
		{"exchange online pass", exo, exchangeOnline(exoPass, ""), from, ClassPass,
			"dmarc-pass: dmarc=pass dkim=pass spf=pass (1 header by (none))"},
		{"exchange online fail", exo, exchangeOnline(exoFail, ""), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail dkim=none spf=fail (1 header by (none))"},
		{"exchange online none, with method-less parts", exo, exchangeOnline(exoNone, ""), from, ClassNone,
			"none: dmarc=none dkim=none spf=none (1 header by (none))"},
		{"exchange online forged pass below the real fail", exo,
			exchangeOnline(exoFail, "Authentication-Results: "+exoPass+"\n"), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail dkim=none spf=fail (1 header by (none))"},
		{"exchange online: a header with an authserv-id is another service's", exo,
			exchangeOnline(exoFail, "Authentication-Results: mx.region.se; dmarc=pass header.from=kommun.se\n"), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail dkim=none spf=fail (1 header by (none))"},

		{"postfix opendmarc pass, three headers", pf, postfix(pfPass, ""), from, ClassPass,
			"dmarc-pass: dmarc=pass dkim=pass spf=pass (3 headers by mx.region.se)"},
		{"postfix opendmarc fail", pf, postfix(pfFail, ""), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail dkim=none spf=fail (3 headers by mx.region.se)"},
		{"postfix forged pass below the real fail", pf, postfix(pfFail, forgedPass), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail dkim=none spf=fail (3 headers by mx.region.se)"},
		{"postfix no verdict written, forged pass below the sender's first header", pf,
			postfix("", "MIME-Version: 1.0\n"+forgedPass), from, ClassNone,
			"none (no Authentication-Results by mx.region.se above the sender's headers)"},
		{"postfix dkim pass alone", pf, postfix(pfDKIMOnly, ""), from, ClassDKIMPassAlone,
			"dkim-pass-alone: dmarc=none dkim=pass (2 headers by mx.region.se)"},
		{"postfix dkim pass of another domain", pf, postfix(pfUnaligned, ""), from, ClassNone,
			"none: dmarc=none dkim=unaligned (2 headers by mx.region.se)"},
		{"postfix dkim pass of the parent domain", pf, postfix(pfDKIMOnly, ""), "chef@vard.kommun.se", ClassDKIMPassAlone,
			"dkim-pass-alone: dmarc=none dkim=pass (2 headers by mx.region.se)"},
		{"postfix dmarc pass for another From domain", pf, postfix(pfPass, ""), "chef@other.example", ClassNone,
			"none: dmarc=pass dkim=unaligned spf=pass (3 headers by mx.region.se)"},
		{"postfix verdict by another authserv-id", Config{AuthservID: "mx2.region.se"}.WithDefaults(), postfix(pfPass, ""), from, ClassNone,
			"none (no Authentication-Results by mx2.region.se above the sender's headers)"},
		{"authserv-id in another letter case", Config{AuthservID: "MX.Region.SE"}.WithDefaults(), postfix(pfPass, ""), from, ClassPass,
			"dmarc-pass: dmarc=pass dkim=pass spf=pass (3 headers by MX.Region.SE)"},
		{"authserv-id with a KELVIN SIGN is not ours", Config{AuthservID: "mk.region.se"}.WithDefaults(),
			postfix(strings.ReplaceAll(pfPass, "mx.region.se", "m\u212A.region.se"), ""), from, ClassNone,
			"none (no Authentication-Results by mk.region.se above the sender's headers)"},
		{"postfix dmarc pass for a From domain spelt with a KELVIN SIGN", pf, postfix(pfPass, ""), "anna.chef@\u212Aommun.se", ClassNone,
			"none: dmarc=pass dkim=unaligned spf=pass (3 headers by mx.region.se)"},
		{"another service's verdict among ours counts not", pf,
			postfix("Authentication-Results: mx.google.com; dmarc=fail header.from=kommun.se\n"+pfPass, ""), from, ClassPass,
			"dmarc-pass: dmarc=pass dkim=pass spf=pass (3 headers by mx.region.se)"},
		{"the topmost run of ours is the one that counts", pf,
			"Authentication-Results: mx.region.se; dmarc=fail header.from=kommun.se\n" + postfix(pfPass, ""), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail (1 header by mx.region.se)"},

		{"gmail pass", gm, gmail(gmPass, ""), from, ClassPass,
			"dmarc-pass: dmarc=pass dkim=pass spf=pass (1 header by mx.google.com)"},
		{"gmail fail", gm, gmail(gmFail, ""), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail dkim=fail spf=softfail (1 header by mx.google.com)"},
		{"gmail forged pass directly below the real fail", gm,
			gmail(gmFail, "Authentication-Results: mx.google.com; "+gmPass+"\n"), from, ClassDMARCFail,
			"dmarc-fail: dmarc=fail dkim=pass spf=softfail (2 headers by mx.google.com)"},
		{"gmail's verdict does not count for the region", pf, gmail(gmPass, ""), from, ClassNone,
			"none (no Authentication-Results by mx.region.se above the sender's headers)"},

		{"no header at all", pf, senderPart, from, ClassNone,
			"none (no Authentication-Results by mx.region.se above the sender's headers)"},
		{"a quoted local part cannot smuggle a result", pf,
			postfix("Authentication-Results: mx.region.se; spf=pass smtp.mailfrom=\"x;dmarc=pass\"@kommun.se\n", ""), from, ClassNone,
			"none: spf=pass (1 header by mx.region.se)"},
		{"an unknown version is never ours", pf,
			postfix("Authentication-Results: mx.region.se 2; dmarc=pass header.from=kommun.se\n", ""), from, ClassNone,
			"none (no Authentication-Results by mx.region.se above the sender's headers)"},
		{"a result word outside the alphabet", pf,
			postfix("Authentication-Results: mx.region.se; dmarc=p4ss header.from=kommun.se\n", ""), from, ClassNone,
			"none: dmarc=other (1 header by mx.region.se)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.cfg.Judge(header(t, tc.raw), tc.from)
			if got, want := v.Class, tc.class; got != want {
				t.Errorf("class = %q, want %q", got, want)
			}
			if got, want := v.Summary(), tc.summary; got != want {
				t.Errorf("summary = %q, want %q", got, want)
			}
		})
	}
}

func TestJudgeOff(t *testing.T) {
	v := Config{}.WithDefaults().Judge(header(t, postfix(pfFail, "")), "anna.chef@kommun.se")
	if v.Class != ClassOff || v.Summary() != "" {
		t.Errorf("off: class %q, summary %q; want both empty", v.Class, v.Summary())
	}
	if got := (Config{}).WithDefaults().Quarantine(v); got != "" {
		t.Errorf("off quarantines: %q", got)
	}
}

func TestQuarantine(t *testing.T) {
	def := Config{AuthservID: "mx.region.se"}.WithDefaults()
	strict := Config{AuthservID: "mx.region.se", OnNoVerdict: Quarantine, OnDKIMPassAlone: Quarantine}.WithDefaults()
	lax := Config{AuthservID: "mx.region.se", OnDMARCFail: Accept}.WithDefaults()
	for _, tc := range []struct {
		name  string
		cfg   Config
		class Class
		want  string
	}{
		{"pass accepted", strict, ClassPass, ""},
		{"fail quarantined by default", def, ClassDMARCFail, ReasonDMARCFail},
		{"fail accepted when configured", lax, ClassDMARCFail, ""},
		{"no verdict accepted by default", def, ClassNone, ""},
		{"no verdict quarantined when configured", strict, ClassNone, ReasonNoVerdict},
		{"dkim alone accepted by default", def, ClassDKIMPassAlone, ""},
		{"dkim alone quarantined when configured", strict, ClassDKIMPassAlone, ReasonDKIMPassAlone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.Quarantine(Verdict{Class: tc.class}); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{AuthservID: NoAuthservID}).WithDefaults().Validate(); err != nil {
		t.Errorf("(none): %v", err)
	}
	err := Config{AuthservID: "mx region;se", OnDMARCFail: "drop", OnNoVerdict: "accept", OnDKIMPassAlone: "Accept"}.Validate()
	want := `bad configuration: trust.on_dmarc_fail: want quarantine or accept, got "drop"
bad configuration: trust.on_dkim_pass_alone: want quarantine or accept, got "Accept"
bad configuration: trust.authserv_id: want the name the boundary writes (e.g. mx.region.se) or "(none)", got "mx region;se"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want\n%s", err, want)
	}
	if ps := endpoint.Problems(err); len(ps) != 3 || ps[0].Key != "trust.on_dmarc_fail" || !errors.Is(err, endpoint.ErrConfig) {
		t.Errorf("problems %v: want three *endpoint.Problem keyed trust.*, matching ErrConfig", ps)
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`a (b; c) d`, `a   d`},
		{`a (b (c;) d) e`, `a   e`},
		{`x="a;b(c)" y`, `x="a_b_c_" y`},
		{`x="a\"b" (c\)d) e`, `x="a_b"   e`},
		{`unterminated (comment; dmarc=pass`, `unterminated `},
	} {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzJudge(f *testing.F) {
	f.Add(postfix(pfPass, forgedPass))
	f.Add(exchangeOnline(exoNone, ""))
	f.Add(gmail(gmFail, ""))
	cfgs := []Config{{AuthservID: "mx.region.se"}, {AuthservID: NoAuthservID}}
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		for _, c := range cfgs {
			v := c.WithDefaults().Judge(h, "a@kommun.se")
			for _, r := range v.Summary() {
				if r < ' ' || r > '~' {
					t.Fatalf("summary %q has a character outside printable ASCII", v.Summary())
				}
			}
		}
	})
}
