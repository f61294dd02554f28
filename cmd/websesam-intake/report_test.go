package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/regionhmc/websesam-intake/store"
)

// reportFixture is a store filled through the calls the daemon and the
// staff commands make (RecordOutcome, Claim, Complete), with a clock the
// test moves, so every date of the report is known.
type reportFixture struct {
	db  string
	ids map[string]string // request ids by the fixture's names r1…r7
	now time.Time
}

func localDay(s string, hour int) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, s, time.Local)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour) * time.Hour)
}

func newReportFixture(t *testing.T) reportFixture {
	t.Helper()
	clock := localDay("2026-05-29", 10)
	db := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(db, store.Options{NoSync: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fx := reportFixture{db: db, ids: map[string]string{}, now: localDay("2026-07-01", 9)}
	org := func(v, k string) map[string]string {
		return map[string]string{"verksamhet": v, "kundnummer": k, "fornamn": "X", "efternamn": "Y", "epost": "x@region.example.se"}
	}
	rehab, hem := org("Rehab Norr", "602154"), org("Hemtjänst Syd", "701234")
	uid := uint32(0)
	msg := func(day string, outcome store.Outcome, names []string, typ string, fields map[string]string, problems ...store.FormProblems) {
		t.Helper()
		clock = localDay(day, 10)
		uid++
		m := store.Message{Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 9, UID: uid}, MessageID: fmt.Sprintf("m%d@region.example.se", uid),
			From: "chef@region.example.se", Subject: "webSesam", ReceivedAt: clock, Outcome: outcome, Problems: problems}
		var reqs []store.NewRequest
		for range names {
			reqs = append(reqs, store.NewRequest{FormHash: fmt.Sprintf("h%d", uid), Form: "websesam-behorighet", Type: typ, Fields: fields})
		}
		rec, err := st.RecordOutcome(m, reqs, nil)
		if err != nil {
			t.Fatalf("record %s: %v", day, err)
		}
		for i, n := range names {
			fx.ids[n] = rec.Requests[i].ID
		}
	}
	done := func(name, day string) {
		t.Helper()
		clock = localDay(day, 15)
		if _, err := st.Claim(fx.ids[name], "eva", false); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Complete(fx.ids[name], "eva", "user01", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	problem := func(field, label string) store.Problem {
		return store.Problem{Field: field, Label: label, Reason: "saknas"}
	}
	msg("2026-05-29", store.OutcomeQueued, []string{"r6"}, "ny", rehab) // before the period, still queued
	msg("2026-06-01", store.OutcomeQueued, []string{"r1", "r2"}, "ny", rehab)
	msg("2026-06-02", store.OutcomeReturned, nil, "", nil, store.FormProblems{Hash: "a", Form: "websesam-behorighet",
		Verksamhet: "Rehab Norr", Kundnummer: "602154",
		Problems: []store.Problem{problem("epost", "E-post"), problem("kundnummer", "Kundnummer (standardkund)")}})
	msg("2026-06-03", store.OutcomeNoForm, nil, "", nil)
	msg("2026-06-04", store.OutcomeIgnored, nil, "", nil)
	msg("2026-06-08", store.OutcomeQueued, []string{"r3"}, "andring", hem)
	msg("2026-06-09", store.OutcomeReturned, nil, "", nil,
		store.FormProblems{Hash: "b", Form: "websesam-behorighet", Verksamhet: "Hemtjänst Syd", Kundnummer: "701234",
			Problems: []store.Problem{problem("epost", "E-post")}},
		store.FormProblems{Hash: "c", Form: "websesam-behorighet-flera", Verksamhet: "Rehab Norr", Kundnummer: "602154",
			Problems: []store.Problem{problem("anvandare_3_epost", "Användare 3 – E-post"), problem("anvandare_4_epost", "Användare 4 – E-post")}})
	msg("2026-06-10", store.OutcomeQuarantined, nil, "", nil)
	msg("2026-06-18", store.OutcomeQueued, []string{"r4"}, "avslut", rehab)
	msg("2026-06-22", store.OutcomeQueued, []string{"r5"}, "ny", hem)
	msg("2026-06-30", store.OutcomeQueued, []string{"r7"}, "ny", hem) // after the period
	done("r1", "2026-06-05")                                          // 4 working days
	done("r2", "2026-06-09")                                          // 6: past the promise
	done("r3", "2026-06-08")                                          // 0
	done("r4", "2026-06-23")                                          // 2: Midsommarafton is off
	clock = localDay("2026-06-24", 9)
	if _, err := st.Claim(fx.ids["r5"], "eva", false); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx reportFixture) args(extra ...string) []string {
	return append([]string{"report", "--db", fx.db, "--socket", filepath.Join(filepath.Dir(fx.db), "none.sock"),
		"--config", filepath.Join(filepath.Dir(fx.db), "none.toml"), "--now", fx.now.Format(time.RFC3339),
		"--from", "2026-06-01", "--to", "2026-06-28"}, extra...)
}

// TestReportFigures checks every figure of the report of a known store.
func TestReportFigures(t *testing.T) {
	fx := newReportFixture(t)
	stdout, stderr, code := runCLI(t, fx.args("--json")...)
	if code != 0 {
		t.Fatalf("report --json: exit %d, stderr %s", code, stderr)
	}
	var got store.Report
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("decode: %v\n%s", err, stdout)
	}
	week := func(w, monday string, q, ret, nf, ign, qu, ny, an, av int) store.WeekCounts {
		return store.WeekCounts{Week: w, Start: localDay(monday, 0), Queued: q, Returned: ret, NoForm: nf, Ignored: ign, Quarantined: qu, Ny: ny, Andring: an, Avslut: av}
	}
	wantWeeks := []store.WeekCounts{
		week("2026-W23", "2026-06-01", 1, 1, 1, 1, 0, 2, 0, 0),
		week("2026-W24", "2026-06-08", 1, 1, 0, 0, 1, 0, 1, 0),
		week("2026-W25", "2026-06-15", 1, 0, 0, 0, 0, 0, 0, 1),
		week("2026-W26", "2026-06-22", 1, 0, 0, 0, 0, 1, 0, 0),
	}
	if len(got.Weeks) != len(wantWeeks) {
		t.Fatalf("weeks: got %+v, want %+v", got.Weeks, wantWeeks)
	}
	for i := range wantWeeks {
		g, w := got.Weeks[i], wantWeeks[i]
		if !g.Start.Equal(w.Start) {
			t.Errorf("week %s starts %s, want %s", g.Week, g.Start, w.Start)
		}
		g.Start = w.Start
		if g != w {
			t.Errorf("week %d: got %+v, want %+v", i, g, w)
		}
	}
	days := make([]int, 21)
	days[0], days[2], days[4], days[6] = 1, 1, 1, 1
	if want := (store.Turnaround{Done: 4, Median: 3, P90: 6, WithinPromise: 3, Share: 0.75, Days: days}); !reflect.DeepEqual(got.Turnaround, want) {
		t.Errorf("turnaround: got %+v, want %+v", got.Turnaround, want)
	}
	wantReasons := []store.ReasonCount{
		{Field: "epost", Label: "E-post", Count: 2},
		{Field: "anvandare_epost", Label: "Användare – E-post", Count: 1},
		{Field: "kundnummer", Label: "Kundnummer (standardkund)", Count: 1},
	}
	if !slices.Equal(got.Reasons, wantReasons) {
		t.Errorf("reasons: got %+v, want %+v", got.Reasons, wantReasons)
	}
	wantOrgs := []store.OrgCounts{
		{Verksamhet: "Rehab Norr", Kundnummer: "602154", Requests: 3, Returns: 2},
		{Verksamhet: "Hemtjänst Syd", Kundnummer: "701234", Requests: 2, Returns: 1},
	}
	if !slices.Equal(got.Organisations, wantOrgs) {
		t.Errorf("organisations: got %+v, want %+v", got.Organisations, wantOrgs)
	}
	q := got.Queue
	if q.Open != 3 || !slices.Equal(q.Bands, []int{1, 0, 1, 1}) || q.Oldest != 22 {
		t.Errorf("queue: got open %d bands %v oldest %d, want 3 [1 0 1 1] 22", q.Open, q.Bands, q.Oldest)
	}
	var late []string
	for _, l := range q.Late {
		late = append(late, fmt.Sprintf("%s %s %d", l.ID, l.Status, l.Age))
	}
	if want := []string{fx.ids["r6"] + " queued 22", fx.ids["r5"] + " claimed 7"}; !slices.Equal(late, want) {
		t.Errorf("past the promise: got %v, want %v", late, want)
	}
	if got.Promise != 5 || !got.From.Equal(localDay("2026-06-01", 0)) || !got.To.Equal(localDay("2026-06-29", 0)) {
		t.Errorf("period: got %s to %s promise %d", got.From, got.To, got.Promise)
	}
	if strings.Contains(stdout, "chef@") || strings.Contains(stdout, "user01") {
		t.Errorf("the report names a person:\n%s", stdout)
	}

	t.Run("text", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, fx.args()...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		wantContains(t, "output", stdout,
			"Report 2026-06-01 to 2026-06-28 (promise: 5 working days; queue as of 2026-07-01 09:00)",
			"Turnaround, received to done (working days): 4 done, median 3, 90th percentile 6, within the promise 3 (75%)",
			"Open queue now: 3 open, oldest 22 working days, 2 past the promise",
		)
		lines := strings.Split(stdout, "\n")
		weekLine := func(prefix string) string {
			for _, l := range lines {
				if strings.HasPrefix(l, prefix) {
					return strings.Join(strings.Fields(l), " ")
				}
			}
			return ""
		}
		// Four mails in W23: the widest bar, 30 cells split by outcome.
		if got, want := weekLine("2026-W23"), "2026-W23 2026-06-01 1 1 1 1 0 2 0 0 "+strings.Repeat("█", 7)+strings.Repeat("▓", 7)+strings.Repeat("▒", 7)+strings.Repeat("░", 7); got != want {
			t.Errorf("week line:\n got %q\nwant %q", got, want)
		}
		if got, want := weekLine("  E-post"), "E-post epost 2 "+strings.Repeat("█", 30); got != want {
			t.Errorf("reason line:\n got %q\nwant %q", got, want)
		}
		if got, want := weekLine("  5 "), "5 0 ← promise"; got != want {
			t.Errorf("promise line:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("workbook", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "rapport.xlsx")
		stdout, stderr, code := runCLI(t, fx.args("--xlsx", path)...)
		if code != 0 || stdout != "wrote "+path+"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
		}
		checkReportWorkbook(t, path, fx)
	})
}

// checkReportWorkbook reads the workbook back with excelize: the sheets,
// a chart on each charted sheet, dates as dates and numbers as numbers.
func checkReportWorkbook(t *testing.T, path string, fx reportFixture) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, reportSheets) {
		t.Errorf("sheets: got %v, want %v", got, reportSheets)
	}
	charts := 0
	f.Pkg.Range(func(k, _ any) bool {
		if name := k.(string); strings.HasPrefix(name, "xl/charts/chart") && strings.HasSuffix(name, ".xml") {
			charts++
		}
		return true
	})
	if charts != 4 {
		t.Errorf("charts: got %d, want 4 (weeks, turnaround, reasons, queue)", charts)
	}
	// excelize writes the chart namespace as the default one: <barChart>.
	for sheet, kind := range map[string]string{sheetWeeks: `<grouping val="stacked"`, sheetTurnaround: `<grouping val="stacked"`,
		sheetReasons: `<barDir val="bar"`, sheetQueue: `<barDir val="col"`} {
		if !sheetHasChart(t, f, sheet, kind) {
			t.Errorf("sheet %s has no %s", sheet, kind)
		}
	}
	for _, c := range []struct {
		sheet, cell, formatted, raw string
	}{
		{sheetWeeks, "A2", "2026-W23", "2026-W23"},
		{sheetWeeks, "B2", "2026-06-01", "46174"}, // a date serial, shown as a date
		{sheetWeeks, "C2", "1", "1"},
		{sheetWeeks, "H2", "2", "2"},
		{sheetSummary, "B2", "2026-06-01", "46174"},
		{sheetSummary, "B3", "2026-06-28", "46201"},
		{sheetSummary, "B12", "75%", "0.75"},
		{sheetTurnaround, "B6", "1", "1"}, // 4 working days, within
		{sheetTurnaround, "C8", "1", "1"}, // 6 working days, past
		{sheetTurnaround, "B8", "0", "0"},
		{sheetReasons, "A2", "E-post", "E-post"},
		{sheetOrgs, "B2", "602154", "602154"},
		{sheetLate, "A2", fx.ids["r6"], fx.ids["r6"]},
		{sheetLate, "C2", "2026-05-29 10:00", "46171.4166666667"},
	} {
		got, err := f.GetCellValue(c.sheet, c.cell)
		raw, err2 := f.GetCellValue(c.sheet, c.cell, excelize.Options{RawCellValue: true})
		if err != nil || err2 != nil || got != c.formatted || raw != c.raw {
			t.Errorf("%s!%s: got %q (raw %q), want %q (raw %q); %v %v", c.sheet, c.cell, got, raw, c.formatted, c.raw, err, err2)
		}
	}
	// The kundnummer is a string cell, never a number that loses a zero.
	if typ, _ := f.GetCellType(sheetOrgs, "B2"); typ != excelize.CellTypeSharedString && typ != excelize.CellTypeInlineString {
		t.Errorf("kundnummer cell type: got %v, want a string", typ)
	}
}

// sheetHasChart follows the sheet's drawing to a chart part of that kind.
func sheetHasChart(t *testing.T, f *excelize.File, sheet, kind string) bool {
	t.Helper()
	idx, err := f.GetSheetIndex(sheet)
	if err != nil || idx < 0 {
		return false
	}
	// Sheets are written as xl/worksheets/sheetN.xml in order.
	rels, ok := f.Pkg.Load(fmt.Sprintf("xl/worksheets/_rels/sheet%d.xml.rels", idx+1))
	if !ok {
		return false
	}
	drawing := ""
	for _, part := range strings.Split(string(rels.([]byte)), "Target=\"") {
		if strings.HasPrefix(part, "../drawings/") {
			drawing = strings.TrimPrefix(part[:strings.IndexByte(part, '"')], "../")
		}
	}
	if drawing == "" {
		return false
	}
	drels, ok := f.Pkg.Load("xl/drawings/_rels/" + strings.TrimPrefix(drawing, "drawings/") + ".rels")
	if !ok {
		return false
	}
	for _, part := range strings.Split(string(drels.([]byte)), "Target=\"") {
		if strings.HasPrefix(part, "../charts/") {
			chart, ok := f.Pkg.Load("xl/" + strings.TrimPrefix(part[:strings.IndexByte(part, '"')], "../"))
			if ok && strings.Contains(string(chart.([]byte)), "<barChart>") && strings.Contains(string(chart.([]byte)), kind) {
				return true
			}
		}
	}
	return false
}
