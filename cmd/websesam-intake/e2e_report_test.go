//go:build e2e

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestE2EReportWorkbookLibreOffice: the real binary writes the report
// workbook of a known store, and LibreOffice headless converts it to PDF
// without error, the charts' titles in it. .ci/e2e installs LibreOffice
// (libreoffice-calc-nogui); without soffice the test fails, it never skips.
func TestE2EReportWorkbookLibreOffice(t *testing.T) {
	bin := os.Getenv("E2E_BIN")
	if bin == "" {
		t.Fatal("E2E_BIN (the built binary) must be set; run make e2e")
	}
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		t.Fatalf("LibreOffice (soffice) is not installed: %v; .ci/e2e installs libreoffice-calc-nogui", err)
	}
	fx := newReportFixture(t)
	dir := t.TempDir()
	xlsx := filepath.Join(dir, "rapport.xlsx")
	out, err := exec.Command(bin, fx.args("--xlsx", xlsx)...).CombinedOutput()
	if err != nil {
		t.Fatalf("report --xlsx: %v\n%s", err, out)
	}
	checkReportWorkbook(t, xlsx, fx)

	// A profile of its own: a user's LibreOffice (or a second run) must not
	// share or lock it.
	profile := "file://" + filepath.Join(dir, "lo-profile")
	cmd := exec.Command(soffice, "-env:UserInstallation="+profile, "--headless", "--norestore",
		"--convert-to", "pdf", "--outdir", dir, xlsx)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	done := make(chan struct{})
	timer := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill(); close(done) })
	out, err = cmd.CombinedOutput()
	if !timer.Stop() {
		<-done
		t.Fatalf("LibreOffice did not convert the workbook within 3 minutes:\n%s", out)
	}
	if err != nil {
		t.Fatalf("soffice --convert-to pdf: %v\n%s", err, out)
	}
	pdf := filepath.Join(dir, "rapport.pdf")
	st, err := os.Stat(pdf)
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("no PDF from LibreOffice (%v, %v):\n%s", st, err, out)
	}
	text, err := exec.Command("pdftotext", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	wantContains(t, "the PDF", string(text), "Mejl per vecka och utfall", "Handläggningstid mot löftet (5 arbetsdagar)", "vanligaste returorsakerna", "2026-W23", "602154")
}
