package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/store"
)

func TestQueueList(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		out := mustRun(t, "queue", "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got, want := len(lines), 6; got != want {
			t.Fatalf("got %d lines, want %d:\n%s", got, want, out)
		}
		if got, want := strings.Join(strings.Fields(lines[0]), " "), "ID RECEIVED TYPE NAME KUNDNUMMER STATUS CLAIMED BY AGE"; got != want {
			t.Errorf("header = %q, want %q", got, want)
		}
		// Newest first, columns aligned.
		for i, want := range []string{f.ids[4], f.ids[3], f.ids[2], f.ids[1], f.ids[0]} {
			if !strings.HasPrefix(lines[i+1], want+"  ") {
				t.Errorf("line %d = %q, want it to start with %s", i+1, lines[i+1], want)
			}
		}
		// tabwriter aligns by runes (Å and Ö are two bytes).
		col := len([]rune(lines[0][:strings.Index(lines[0], "KUNDNUMMER")]))
		for _, l := range lines[1:] {
			if got := string([]rune(l)[col:]); !strings.HasPrefix(got, "6021") {
				t.Errorf("kundnummer column not aligned in %q", l)
			}
		}
		wantContains(t, "list", out, "Åsa Öberg", "Per Persson", "avslut", "queued", "3h")

		out = mustRun(t, "queue", "list", "--json")
		var items []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if got, want := len(items), 5; got != want {
			t.Fatalf("got %d items, want %d", got, want)
		}
		for _, it := range items {
			var keys []string
			for k := range it {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if got, want := strings.Join(keys, ","), "batch,fields,id,message_id,received_at,status,type"; got != want {
				t.Errorf("item keys = %s, want exactly %s", got, want)
			}
		}
		var first struct {
			ID, Status, Type, Batch, MessageID string
			Fields                             map[string]any // check boxes are booleans, as in parse --json
		}
		if err := json.Unmarshal(items[4]["fields"], &first.Fields); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(items[4]["id"], &first.ID)
		json.Unmarshal(items[4]["message_id"], &first.MessageID)
		if first.ID != f.ids[0] || first.MessageID != "m1@region.example.se" || first.Fields["fornamn"] != "Åsa" ||
			first.Fields["blankett"] != "websesam-behorighet/1" || first.Fields["roll_forskrivare"] != true || first.Fields["hsa_id"] != asaHSA {
			t.Errorf("oldest item = %+v, want Åsa's request with every field by name", first)
		}

		out = mustRun(t, "queue", "list", "--type", "ny", "--limit", "2")
		if !strings.Contains(out, f.ids[3]) || !strings.Contains(out, f.ids[1]) || strings.Contains(out, f.ids[0]) ||
			!strings.Contains(out, "(more requests match; show more with --limit 4)") {
			t.Errorf("--type ny --limit 2:\n%s", out)
		}
		out = mustRun(t, "queue", "list", "--status", "done", "--since", "7d")
		if got, want := strings.TrimSpace(out), "No requests match."; got != want {
			t.Errorf("no done requests: %q, want %q", got, want)
		}
		out = mustRun(t, "queue", "list", "--status", "done", "--json")
		if got, want := strings.TrimSpace(out), "[]"; got != want {
			t.Errorf("no done requests as JSON: %q, want %q", got, want)
		}
	})
}

func TestQueueShowAndSearch(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		out := mustRun(t, "queue", "show", f.ids[0])
		wantContains(t, "show", out,
			"Request", f.ids[0], "Status", "queued",
			"Ansökan om tillgång till webSesam samt ändring/avslut av behörighet",
			"Ärende", "Ny registrering", "Förnamn", "Åsa", "Kundnummer (standardkund)", "602154",
			"Övriga kundnummer", "602155", "Förskrivare", "Ja", "Beställare", "Nej",
			"Ansvarig chef – e-post", "karin.chef@region.example.se",
			"History", "intake", "Message", "INBOX/7/1", "<m1@region.example.se>",
			"Replies", "kvittens", "asa.oberg@region.example.se",
		)
		// Labels, not field names.
		for _, name := range []string{"roll_forskrivare", "chef_epost", "galler_fran", "ovriga_kundnummer"} {
			if strings.Contains(out, name) {
				t.Errorf("show prints the field name %q instead of its label:\n%s", name, out)
			}
		}

		out = mustRun(t, "queue", "show", f.ids[0], "--json")
		var d store.RequestDetail
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if d.Request.ID != f.ids[0] || d.Message == nil || d.Message.From != "asa.oberg@region.example.se" || len(d.Replies) != 1 {
			t.Errorf("show --json = %+v", d)
		}

		out = mustRun(t, "queue", "search", "åsa")
		if !strings.Contains(out, f.ids[0]) || !strings.Contains(out, f.ids[2]) || strings.Contains(out, f.ids[3]) {
			t.Errorf("search åsa:\n%s", out)
		}
		out = mustRun(t, "queue", "search", "per", "persson", "--json")
		var items []queueItem
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if got, want := strings.Join(ids, " "), f.ids[4]+" "+f.ids[3]; got != want {
			t.Errorf("search per persson = %s, want %s", got, want)
		}
		out = mustRun(t, "queue", "search", "999999")
		if got, want := strings.TrimSpace(out), "No request matches."; got != want {
			t.Errorf("search nothing = %q, want %q", got, want)
		}
	})
}

func TestQueueClaimDoneRejectRelease(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		who := me(t)
		if got, want := mustRun(t, "queue", "claim", f.ids[0]), "Request "+f.ids[0]+" is claimed by "+who+".\n"; got != want {
			t.Errorf("claim: %q, want %q", got, want)
		}
		if got, want := mustRun(t, "queue", "release", f.ids[0]), "Request "+f.ids[0]+" is back in the queue.\n"; got != want {
			t.Errorf("release: %q, want %q", got, want)
		}
		mustRun(t, "queue", "claim", f.ids[0])
		if got, want := mustRun(t, "queue", "done", f.ids[0], "--username", "asaobe01", "--note", "konto skapat"),
			"Request "+f.ids[0]+" is done; the notices are in the outbox.\n"; got != want {
			t.Errorf("done: %q, want %q", got, want)
		}
		mustRun(t, "queue", "claim", f.ids[1])
		if got, want := mustRun(t, "queue", "reject", f.ids[1], "--reason", "Kundnumret tillhör en annan enhet."),
			"Request "+f.ids[1]+" is rejected; the notice is in the outbox.\n"; got != want {
			t.Errorf("reject: %q, want %q", got, want)
		}

		env.inspect(t, func(st *store.Store) {
			d, err := st.ShowRequestDetail("test", f.ids[0])
			if err != nil {
				t.Fatal(err)
			}
			r := d.Request
			if r.Status != store.StatusDone || r.Username != "asaobe01" {
				t.Errorf("after done: %s %q", r.Status, r.Username)
			}
			var steps []string
			for _, h := range r.History {
				steps = append(steps, h.Actor+":"+string(h.From)+">"+string(h.To)+":"+h.Note)
			}
			if got, want := strings.Join(steps, " "), "intake:>queued: "+who+":queued>claimed: "+who+":claimed>queued: "+
				who+":queued>claimed: "+who+":claimed>done:konto skapat"; got != want {
				t.Errorf("history = %q, want %q", got, want)
			}
			var kinds []string
			for _, o := range d.Replies {
				kinds = append(kinds, o.Kind)
			}
			if got, want := strings.Join(kinds, " "), "kvittens klar-anvandare klar-chef"; got != want {
				t.Errorf("replies = %q, want %q", got, want)
			}
			rows, err := st.RegisterList("test", store.RegisterFilter{Person: asaHSA})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0].Username != "asaobe01" {
				t.Errorf("register after done: %+v, want two rows (602154, 602155) with the user name", rows)
			}
			d, err = st.ShowRequestDetail("test", f.ids[1])
			if err != nil {
				t.Fatal(err)
			}
			if d.Request.Status != store.StatusRejected || d.Request.Reason != "Kundnumret tillhör en annan enhet." ||
				len(d.Replies) != 2 || d.Replies[1].Kind != "avslag" || d.Replies[1].To[0] != "karin.chef@region.example.se" {
				t.Errorf("after reject: %+v, replies %+v", d.Request, d.Replies)
			}
		})

		out := mustRun(t, "queue", "show", f.ids[0])
		wantContains(t, "show after done", out, "done on", "webSesam user name", "asaobe01", "klar-anvandare", "klar-chef", "konto skapat")
	})
}

func TestQueueRefusals(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		who := me(t)
		// Another member of staff holds f.ids[3].
		env.inspect(t, func(st *store.Store) {
			if _, err := st.Claim(f.ids[3], "bertil", false); err != nil {
				t.Fatal(err)
			}
		})
		mustRun(t, "queue", "claim", f.ids[1])
		mustRun(t, "queue", "reject", f.ids[1], "--reason", "Fel blankett")
		mustRun(t, "queue", "claim", f.ids[2])

		for _, tc := range []struct {
			name     string
			args     []string
			wantCode int
			wantErr  string
		}{
			{"done without claim", []string{"queue", "done", f.ids[0], "--username", "x"}, 1,
				"request " + f.ids[0] + " is queued; claim it before it can be completed"},
			{"reject without claim", []string{"queue", "reject", f.ids[0], "--reason", "nej"}, 1,
				"request " + f.ids[0] + " is queued; claim it before it can be rejected"},
			{"release without claim", []string{"queue", "release", f.ids[0]}, 1,
				"request " + f.ids[0] + " is queued; it cannot be released"},
			{"reject twice", []string{"queue", "reject", f.ids[1], "--reason", "Fel blankett"}, 1,
				"request " + f.ids[1] + " is rejected; it cannot be rejected"},
			{"claim a rejected request", []string{"queue", "claim", f.ids[1]}, 1,
				"request " + f.ids[1] + " is rejected; it cannot be claimed"},
			{"claim what another holds", []string{"queue", "claim", f.ids[3]}, 1,
				"request " + f.ids[3] + " is claimed by bertil; use --force to take it over"},
			{"done what another holds", []string{"queue", "done", f.ids[3], "--username", "x"}, 1,
				"request " + f.ids[3] + " is claimed by bertil; it cannot be completed by anyone else"},
			{"unknown id", []string{"queue", "show", "WS-2026-999999"}, 1,
				"request WS-2026-999999: not found (see 'websesam-intake queue list')"},
			{"unknown id claimed", []string{"queue", "claim", "WS-2026-999999"}, 1,
				"request WS-2026-999999: not found (see 'websesam-intake queue list')"},
			{"done without user name", []string{"queue", "done", f.ids[2]}, 2,
				"the webSesam user name is empty: invalid argument: give it with --username NAME"},
			{"reject without reason", []string{"queue", "reject", f.ids[2]}, 2,
				"reject needs --reason TEXT: the manager is told why"},
			{"bad status", []string{"queue", "list", "--status", "open"}, 2,
				`--status must be queued, claimed, done or rejected, not "open"`},
			{"bad type", []string{"queue", "list", "--type", "nytt"}, 2, `--type must be ny, andring or avslut, not "nytt"`},
			{"bad since", []string{"queue", "list", "--since", "igår"}, 2, `--since "igår": want a date (2026-11-01) or a span back from now (36h, 7d)`},
			{"bad limit", []string{"queue", "list", "--limit", "0"}, 2, "--limit must be at least 1"},
			{"no id", []string{"queue", "claim"}, 2, "claim takes 1 argument(s), got 0"},
			{"no search text", []string{"queue", "search", " "}, 2, "search needs a name, e-mail address, HSA-id or kundnummer"},
			{"unknown flag", []string{"queue", "list", "--colour"}, 2, "unknown flag: --colour"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, errOut, code := runCLI(t, tc.args...)
				if code != tc.wantCode {
					t.Errorf("exit %d, want %d (%s)", code, tc.wantCode, errOut)
				}
				if !strings.Contains(errOut, tc.wantErr) {
					t.Errorf("stderr = %q, want it to contain %q", errOut, tc.wantErr)
				}
				if out != "" {
					t.Errorf("stdout = %q, want nothing", out)
				}
			})
		}

		// --force takes over, and the history says from whom.
		if got, want := mustRun(t, "queue", "claim", f.ids[3], "--force"), "Request "+f.ids[3]+" is claimed by "+who+".\n"; got != want {
			t.Errorf("claim --force: %q, want %q", got, want)
		}
		env.inspect(t, func(st *store.Store) {
			d, err := st.ShowRequestDetail("test", f.ids[3])
			if err != nil {
				t.Fatal(err)
			}
			last := d.Request.History[len(d.Request.History)-1]
			if last.Actor != who || last.Note != "taken over from bertil" {
				t.Errorf("last step = %+v, want %s taking over from bertil", last, who)
			}
		})
	})
}

// Without a daemon, done and reject compose the notices from the daemon's
// configuration; without it they refuse and say how to give it.
func TestQueueDirectNeedsConfig(t *testing.T) {
	f := staffDB(t)
	newStaffEnv(t, "direct", f.db)
	mustRun(t, "queue", "claim", f.ids[0])
	missing := filepath.Join(t.TempDir(), "none.toml")
	_, errOut, code := runCLI(t, "queue", "done", f.ids[0], "--username", "asaobe01", "--config", missing)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if want := "so the notices must be composed here from the daemon's configuration"; !strings.Contains(errOut, want) || !strings.Contains(errOut, "(give it with --config FILE)") {
		t.Errorf("stderr = %q, want it to say %q and how to give the file", errOut, want)
	}
	// Nothing changed.
	st, err := store.Open(f.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.ShowRequestDetail("test", f.ids[0])
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d.Request.Status != store.StatusClaimed {
		t.Errorf("status = %s, want still claimed", d.Request.Status)
	}
}

// With the file held and no daemon answering, a command says so at once.
func TestQueueDatabaseHeld(t *testing.T) {
	f := staffDB(t)
	newStaffEnv(t, "direct", f.db)
	st, err := store.Open(f.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, errOut, code := runCLI(t, "queue", "list")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := "is in use by another process (is the daemon running?); no daemon answers on its socket, so stop the process holding it or give the daemon's socket with --socket"; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want it to contain %q", errOut, want)
	}
}

// A user of a multi-user form is shown with the shared fields and the user
// row's columns by their labels, and the batch it belongs to.
func TestQueueShowMultiUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "intake.db")
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	shared := map[string]string{
		"blankett": "websesam-behorighet-flera/1", "arende": "ny", "galler_fran": "2026-12-01",
		"verksamhet": "Rehab", "enhet": "Rehab Syd", "kundnummer": "602154", "ovriga_kundnummer": "",
		"buffertforrad": "Förråd B", "roll_forskrivare": "false", "roll_bestallare": "true",
		"chef_namn": "Karin Chef", "chef_epost": "karin.chef@region.example.se", "chef_telefon": "010-765 43 21", "datum": "2026-11-28",
	}
	var reqs []store.NewRequest
	for _, u := range [][2]string{{"Lena", "lena.lind@region.example.se"}, {"Olle", "olle.ost@region.example.se"}} {
		f := map[string]string{"fornamn": u[0], "efternamn": "Lind", "hsa_id": "", "yrke": "Undersköterska", "epost": u[1], "telefon": "010-1"}
		for k, v := range shared {
			f[k] = v
		}
		reqs = append(reqs, store.NewRequest{FormHash: "multi", Form: "websesam-behorighet-flera", Type: "ny", Fields: f})
	}
	rec, err := st.RecordOutcome(store.Message{Key: store.MessageKey{Mailbox: "INBOX", UIDValidity: 7, UID: 1}, MessageID: "mm@region.example.se",
		From: "karin.chef@region.example.se", Outcome: store.OutcomeQueued}, reqs, nil)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	newStaffEnv(t, "direct", path)
	out := mustRun(t, "queue", "show", rec.Requests[1].ID)
	wantContains(t, "show", out,
		"Ansökan/ändring av behörighet för flera användare som önskar samma behörighet",
		"Batch", rec.Requests[0].ID+" (one form, several users)",
		"Förnamn", "Olle", "Titel/yrke", "Undersköterska", "Buffertförråd", "Förråd B", "Beställare",
	)
	if strings.Contains(out, "Lena") || strings.Contains(out, "fornamn") {
		t.Errorf("show of Olle's request shows another user or a field name:\n%s", out)
	}
	if got := strings.Count(out, "Förnamn"); got != 1 {
		t.Errorf("Förnamn appears %d times, want once:\n%s", got, out)
	}
}

// Scripts get every matching request from `queue list --json`, page after
// page, unless they give --limit.
func TestQueueListJSONAll(t *testing.T) {
	staffModes(t, func(t *testing.T, env staffEnv, f staffFixture) {
		old := listPage
		listPage = 2
		t.Cleanup(func() { listPage = old })
		var items []queueItem
		if err := json.Unmarshal([]byte(mustRun(t, "queue", "list", "--json")), &items); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if got, want := strings.Join(ids, " "), strings.Join([]string{f.ids[4], f.ids[3], f.ids[2], f.ids[1], f.ids[0]}, " "); got != want {
			t.Errorf("all requests = %s, want %s", got, want)
		}
		if err := json.Unmarshal([]byte(mustRun(t, "queue", "list", "--json", "--limit", "3")), &items); err != nil {
			t.Fatal(err)
		}
		if got, want := len(items), 3; got != want {
			t.Errorf("--limit 3 gave %d, want %d", got, want)
		}
		env.inspect(t, func(st *store.Store) {
			entries, err := st.AuditList("auditor", store.AuditFilter{Actor: me(t)})
			if err != nil {
				t.Fatal(err)
			}
			var counts []string
			for _, e := range entries {
				counts = append(counts, e.Action+":"+strconv.Itoa(e.Count))
			}
			if got, want := strings.Join(counts, " "), "list-requests:3 list-requests:1 list-requests:2 list-requests:2"; got != want {
				t.Errorf("audit = %q, want one entry per page (newest first) %q", got, want)
			}
		})
	})
}
