package store

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestRequestForm keeps a form's original with its requests: each user of
// the form gets it back byte for byte, each read is audited, and retention
// removes it only once every request of the form is purged.
func TestRequestForm(t *testing.T) {
	s, clk := openTest(t)
	pdf := []byte("%PDF-1.7\n\x00\xffbinary\n%%EOF\n")
	f1, f2 := userFields("Åsa", "Öberg", "asa@region.example.se", "602154"), userFields("Bo", "Ek", "bo@region.example.se", "602154")
	rec, err := s.RecordOutcome(testMessage(1, "m1@x"), []NewRequest{
		{FormHash: "h1", Form: "websesam-behorighet-flera", Type: "ny", Fields: f1, File: &FormFile{Name: "ansökan.pdf", Data: pdf}},
		{FormHash: "h1", Form: "websesam-behorighet-flera", Type: "ny", Fields: f2, File: &FormFile{Name: "ansökan.pdf", Data: pdf}},
	}, receipt)
	mustNoErr(t, err)
	a, b := rec.Requests[0].ID, rec.Requests[1].ID
	for _, id := range []string{a, b} {
		got, err := s.RequestForm("anna", id)
		mustNoErr(t, err)
		if got.Name != "ansökan.pdf" || !bytes.Equal(got.Data, pdf) {
			t.Errorf("RequestForm(%s) = %q, %q; want the original", id, got.Name, got.Data)
		}
	}
	entries, err := s.AuditList("anna", AuditFilter{})
	mustNoErr(t, err)
	saves := 0
	for _, e := range entries {
		if e.Action == AuditSaveForm && e.Actor == "anna" {
			saves++
		}
	}
	if saves != 2 {
		t.Errorf("got %d save-form audit entries, want 2", saves)
	}
	if _, err := s.RequestForm("anna", "WS-2026-999999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown request: err %v, want ErrNotFound", err)
	}

	// Close Åsa's request only; a year on, retention purges it but keeps
	// the original for Bo's, which is still open.
	_, err = s.Claim(a, "anna", false)
	mustNoErr(t, err)
	_, err = s.Complete(a, "anna", "asaobe01", "", notice("klar"))
	mustNoErr(t, err)
	clk.add(400 * 24 * time.Hour)
	_, err = s.Retain(ActorRetention, clk.now(), RetentionPolicy{RequestsDays: 30, MessagesDays: 30, NoticesDays: 30}, false, nil)
	mustNoErr(t, err)
	if _, err := s.RequestForm("anna", b); err != nil {
		t.Errorf("Bo's open request lost its original when Åsa's was purged: %v", err)
	}
	_, err = s.Claim(b, "anna", false)
	mustNoErr(t, err)
	_, err = s.Reject(b, "anna", "dubblett", notice("avslag"))
	mustNoErr(t, err)
	clk.add(400 * 24 * time.Hour)
	_, err = s.Retain(ActorRetention, clk.now(), RetentionPolicy{RequestsDays: 30, MessagesDays: 30, NoticesDays: 30}, false, nil)
	mustNoErr(t, err)
	for _, id := range []string{a, b} {
		if _, err := s.RequestForm("anna", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("after both were purged, RequestForm(%s): err %v, want ErrNotFound", id, err)
		}
	}
}
