package intake

import (
	"fmt"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/intake/trust"
	"github.com/regionhmc/websesam-intake/store"
)

// boundary is what the region's Postfix with OpenDMARC on
// mx.region.example.se adds above a message it takes from outside: its
// verdict, then its own Received line.
func boundary(dmarc string) string {
	return crlf(fmt.Sprintf(`Authentication-Results: mx.region.example.se; dmarc=%[1]s (p=reject dis=none) header.from=region.example.se
Authentication-Results: mx.region.example.se;
	dkim=%[1]s (2048-bit key; unprotected) header.d=region.example.se header.i=@region.example.se header.b=AbCdEf12
Received: from mail.sender.example (mail.sender.example [192.0.2.25])
	by mx.region.example.se (Postfix) with ESMTPS id 4Y2Q1M3ZkVz9sWr
	for <info.hmc@region.example.se>; Tue,  1 Dec 2026 09:14:01 +0100 (CET)
`, dmarc))
}

// TestSenderVerdicts runs mails carrying the boundary's verdicts through
// the daemon: a pass is decided as usual, a dmarc=fail is quarantined with
// the verdict as its reason, a forged pass the sender wrote below the real
// fail changes nothing, and every record carries the verdict's summary.
func TestSenderVerdicts(t *testing.T) {
	srv, _, cfg := startMail(t, true)
	cfg.Trust = trust.Config{AuthservID: "mx.region.example.se"}.WithDefaults()
	forged := crlf("Authentication-Results: mx.region.example.se; dmarc=pass header.from=region.example.se\n")
	mails := []struct {
		id, raw, outcome, reason, verdict string
	}{
		{"pass@region.example.se", boundary("pass") + outlook("asa.oberg@region.example.se", "Åsa Öberg", "pass@region.example.se", "webSesam", "",
			attached{"ansokan.pdf", "application/pdf", fillPDF(t, formparse.Single, person("Åsa", "Öberg"))}),
			"queued", reasonValid, "dmarc-pass: dmarc=pass dkim=pass (2 headers by mx.region.example.se)"},
		{"fail@region.example.se", boundary("fail") + outlook("bo.ek@region.example.se", "Bo Ek", "fail@region.example.se", "webSesam", "",
			attached{"ansokan.pdf", "application/pdf", fillPDF(t, formparse.Single, person("Bo", "Ek"))}),
			"quarantined", trust.ReasonDMARCFail, "dmarc-fail: dmarc=fail dkim=fail (2 headers by mx.region.example.se)"},
		{"forged@region.example.se", boundary("fail") + forged + outlook("cia.al@region.example.se", "Cia Al", "forged@region.example.se", "webSesam", "",
			attached{"ansokan.pdf", "application/pdf", fillPDF(t, formparse.Single, person("Cia", "Al"))}),
			"quarantined", trust.ReasonDMARCFail, "dmarc-fail: dmarc=fail dkim=fail (2 headers by mx.region.example.se)"},
		{"none@region.example.se", outlook("dan.ny@region.example.se", "Dan Ny", "none@region.example.se", "webSesam", forged,
			attached{"ansokan.pdf", "application/pdf", fillPDF(t, formparse.Single, person("Dan", "Ny"))}),
			"queued", reasonValid, "none (no Authentication-Results by mx.region.example.se above the sender's headers)"},
	}
	for _, m := range mails {
		srv.appendMail([]byte(m.raw))
	}
	d, st := openDaemon(t, cfg, Options{})
	if err := d.Once(withTimeout(t, time.Minute)); err != nil {
		t.Fatalf("Once: %v", err)
	}
	recs := recorded(t, st)
	where := srv.where()
	for _, m := range mails {
		t.Run(m.id, func(t *testing.T) {
			rec, ok := recs[m.id]
			if !ok {
				t.Fatal("not recorded")
			}
			if got, want := fmt.Sprint(rec.Outcome, " / ", rec.Reason), fmt.Sprint(m.outcome, " / ", m.reason); got != want {
				t.Errorf("outcome: got %s, want %s", got, want)
			}
			if got, want := rec.Verdict, m.verdict; got != want {
				t.Errorf("verdict: got %q, want %q", got, want)
			}
			if got, want := fmt.Sprint(len(where[m.id]), where[m.id][0].Folder), fmt.Sprint(1, cfg.Folders.For(store.Outcome(m.outcome))); got != want {
				t.Errorf("folder: got %s, want %s", got, want)
			}
		})
	}
}
