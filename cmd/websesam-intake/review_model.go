package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	btable "charm.land/bubbles/v2/table"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/intake"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
	"github.com/regionhmc/websesam-intake/store/workdays"
)

// reviewTab is one of the list's filters.
type reviewTab int

const (
	tabTodo   reviewTab = iota // Att göra: queued
	tabMine                    // Mina: claimed by me
	tabAll                     // Alla
	tabClosed                  // Klara: done and rejected
	numTabs
)

var tabNames = [numTabs]string{"Att göra", "Mina", "Alla", "Klara"}

// reviewListLimit is how many requests one list shows; the oldest waiting
// come first, so the limit never hides the requests that wait longest.
const reviewListLimit = 500

// rejectReasons are the common reasons offered by r; the last choice lets
// the person write one.
var rejectReasons = []string{
	"Personen har redan behörighet i webSesam.",
	"Kundnumret hör inte till verksamheten eller enheten.",
	"Ansökan är en dubblett av en tidigare ansökan.",
	"Yrkesrollen ska inte ha behörighet i webSesam.",
}

// The screen's modes: the list, one request open, or a question.
type reviewMode int

const (
	modeList reviewMode = iota
	modeDetail
	modeSearch     // typing a search
	modeUsername   // done: the webSesam user name
	modeNote       // done: an optional note
	modeReason     // reject: pick a reason
	modeReasonText // reject: write one
	modeTakeOver   // claimed by someone else: take it over?
	modeSavePath   // s: where to save the form
)

// reviewKeys are the keys of the screen, shown at the bottom and by ?.
type reviewKeys struct {
	Claim, Done, Reject, Release, Save, Search, Tab, Open, Back, Help, Quit, Up, Down key.Binding
}

func newReviewKeys() reviewKeys {
	b := func(keys []string, k, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, help))
	}
	return reviewKeys{
		Claim:   b([]string{"c"}, "c", "ta"),
		Done:    b([]string{"d"}, "d", "klar"),
		Reject:  b([]string{"r"}, "r", "avslå"),
		Release: b([]string{"u"}, "u", "släpp"),
		Save:    b([]string{"s"}, "s", "spara"),
		Search:  b([]string{"/"}, "/", "sök"),
		Tab:     b([]string{"tab", "shift+tab"}, "tab", "flik"),
		Open:    b([]string{"enter"}, "enter", "öppna"),
		Back:    b([]string{"esc"}, "esc", "tillbaka"),
		Help:    b([]string{"?"}, "?", "hjälp"),
		Quit:    b([]string{"q", "ctrl+c"}, "q", "avsluta"),
		Up:      b([]string{"up", "k"}, "↑/k", "upp"),
		Down:    b([]string{"down", "j"}, "↓/j", "ned"),
	}
}

// ShortHelp is the line at the bottom.
func (k reviewKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Claim, k.Done, k.Reject, k.Search, k.Tab, k.Help, k.Quit}
}

// FullHelp is the ? page.
func (k reviewKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Open, k.Back, k.Tab},
		{k.Claim, k.Done, k.Reject, k.Release, k.Save},
		{k.Search, k.Help, k.Quit},
	}
}

// reviewModel is the full-screen review of the queue. Every call to the
// staff API runs as a tea.Cmd; its answer comes back as a message, so the
// screen never blocks on the daemon.
type reviewModel struct {
	ctx     context.Context
	staff   staffapi.Staff
	me      string
	now     func() time.Time
	promise int // working days promised for a new request
	cal     *workdays.Calendar
	refresh time.Duration // 0: no automatic refresh (tests)
	saveDir string        // where s suggests saving a form

	width, height int
	mode          reviewMode
	tab           reviewTab
	search        string // the search shown, when not empty
	showHelp      bool

	reqs    []staffapi.Request
	loaded  bool
	table   btable.Model
	detail  *reviewDetail
	view    viewport.Model
	input   textinput.Model
	help    help.Model
	keys    reviewKeys
	flash   string // the last thing that happened, in Swedish
	flashOK bool
	pending pendingAction
	quit    bool
}

// reviewDetail is what the detail pane shows of one request.
type reviewDetail struct {
	d        staffapi.RequestDetail
	batch    []staffapi.Request // the other requests of the same form
	person   []staffapi.Request // the person's other requests
	register []staffapi.RegisterEntry
}

// pendingAction is the request a question (user name, reason…) is about.
type pendingAction struct {
	id       string
	username string
	claim    bool // claim it first (it was queued)
}

// Messages from the commands.
type (
	listMsg struct {
		reqs []staffapi.Request
		err  error
	}
	detailMsg struct {
		det *reviewDetail
		err error
	}
	actionMsg struct {
		id   string
		verb string // what was done, for the flash line
		req  staffapi.Request
		err  error
	}
	savedMsg struct {
		path string
		err  error
	}
	tickMsg struct{}
)

func newReviewModel(ctx context.Context, s staffapi.Staff, me string, now func() time.Time) *reviewModel {
	m := &reviewModel{ctx: ctx, staff: s, me: me, now: now, promise: intake.DefaultPromise, refresh: 5 * time.Second, cal: workdays.Swedish(nil),
		width: 80, height: 24, keys: newReviewKeys(), help: help.New()}
	km := btable.KeyMap{
		LineUp:     m.keys.Up,
		LineDown:   m.keys.Down,
		PageUp:     key.NewBinding(key.WithKeys("pgup")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown")),
		GotoTop:    key.NewBinding(key.WithKeys("home")),
		GotoBottom: key.NewBinding(key.WithKeys("end")),
	}
	st := btable.DefaultStyles()
	st.Header = lipgloss.NewStyle().Bold(true).PaddingRight(1)
	st.Cell = lipgloss.NewStyle().PaddingRight(1)
	st.Selected = lipgloss.NewStyle().Reverse(true)
	m.table = btable.New(btable.WithFocused(true), btable.WithKeyMap(km), btable.WithStyles(st))
	m.view = viewport.New()
	m.view.KeyMap = viewport.KeyMap{
		Up:       m.keys.Up,
		Down:     m.keys.Down,
		PageUp:   key.NewBinding(key.WithKeys("pgup", "b")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "space", "f")),
	}
	m.input = textinput.New()
	m.input.CharLimit = 200
	ist := textinput.DefaultStyles(true)
	ist.Cursor.Blink = false // a steady cursor: calmer all day, and no timer
	m.input.SetStyles(ist)
	m.help.ShortSeparator = " · "
	m.help.Styles.ShortKey = lipgloss.NewStyle().Bold(true)
	m.help.Styles.FullKey = lipgloss.NewStyle().Bold(true)
	m.layout()
	return m
}

func (m *reviewModel) Init() tea.Cmd {
	return tea.Batch(m.load(), m.tick())
}

func (m *reviewModel) tick() tea.Cmd {
	if m.refresh <= 0 {
		return nil
	}
	return tea.Tick(m.refresh, func(time.Time) tea.Msg { return tickMsg{} })
}

// load fetches the list of the current tab (or search).
func (m *reviewModel) load() tea.Cmd {
	ctx, s, tab, search, me := m.ctx, m.staff, m.tab, m.search, m.me
	return func() tea.Msg {
		reqs, err := listFor(ctx, s, tab, search, me)
		return listMsg{reqs, err}
	}
}

func listFor(ctx context.Context, s staffapi.Staff, tab reviewTab, search, me string) ([]staffapi.Request, error) {
	var out []staffapi.Request
	if search != "" {
		found, err := staffapi.SearchRequests.Do(ctx, s, staffapi.Search{Text: search, Limit: reviewListLimit})
		if err != nil {
			return nil, err
		}
		out = found
	}
	var statuses []staffapi.Status
	switch tab {
	case tabTodo:
		statuses = []staffapi.Status{staffapi.StatusQueued}
	case tabMine:
		statuses = []staffapi.Status{staffapi.StatusClaimed}
	case tabAll:
		statuses = []staffapi.Status{""}
	case tabClosed:
		statuses = []staffapi.Status{staffapi.StatusDone, staffapi.StatusRejected}
	}
	if search != "" {
		statuses = nil
	}
	for _, st := range statuses {
		page, err := staffapi.ListRequests.Do(ctx, s, staffapi.ListFilter{Status: st, Limit: reviewListLimit})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Requests {
			if tab == tabMine && r.ClaimedBy != me {
				continue
			}
			out = append(out, r)
		}
	}
	// Waiting requests oldest first (who waits longest is on top); closed
	// ones most recently closed first.
	if tab == tabClosed && search == "" {
		slices.SortStableFunc(out, func(a, b staffapi.Request) int { return b.ClosedAt.Compare(a.ClosedAt) })
	} else {
		slices.SortStableFunc(out, func(a, b staffapi.Request) int {
			if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	return out, nil
}

// open fetches one request with what the detail pane shows beside it.
func (m *reviewModel) open(id string) tea.Cmd {
	ctx, s := m.ctx, m.staff
	return func() tea.Msg {
		d, err := staffapi.ShowRequest.Do(ctx, s, staffapi.RequestID{ID: id})
		if err != nil {
			return detailMsg{err: err}
		}
		det := &reviewDetail{d: d}
		r := d.Request
		if r.Batch != "" {
			if found, err := staffapi.SearchRequests.Do(ctx, s, staffapi.Search{Text: r.Batch, Limit: 100}); err == nil {
				for _, o := range found {
					if o.Batch == r.Batch && o.ID != r.ID {
						det.batch = append(det.batch, o)
					}
				}
			}
		}
		who := formparse.FieldHSAID.Value(r.Fields)
		if who == "" {
			who = formparse.FieldEpost.Value(r.Fields)
		}
		if who != "" && !r.Purged {
			if found, err := staffapi.SearchRequests.Do(ctx, s, staffapi.Search{Text: who, Limit: 50}); err == nil {
				for _, o := range found {
					if o.ID != r.ID && o.Batch != r.Batch {
						det.person = append(det.person, o)
					}
				}
			}
			if rows, err := staffapi.RegisterList.Do(ctx, s, staffapi.RegisterFilter{Person: who}); err == nil {
				det.register = rows
			}
		}
		return detailMsg{det: det}
	}
}

// act runs one change of a request and reports it.
func (m *reviewModel) act(id, verb string, fn func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error)) tea.Cmd {
	ctx, s := m.ctx, m.staff
	return func() tea.Msg {
		r, err := fn(ctx, s)
		return actionMsg{id: id, verb: verb, req: r, err: err}
	}
}

// selected is the request under the cursor in the list, or the open one.
func (m *reviewModel) selected() (staffapi.Request, bool) {
	if m.mode == modeDetail && m.detail != nil {
		return m.detail.d.Request, true
	}
	i := m.table.Cursor()
	if i < 0 || i >= len(m.reqs) {
		return staffapi.Request{}, false
	}
	return m.reqs[i], true
}

func (m *reviewModel) say(ok bool, format string, args ...any) {
	m.flash, m.flashOK = fmt.Sprintf(format, args...), ok
}

func (m *reviewModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tickMsg:
		cmds := []tea.Cmd{m.tick()}
		if m.mode == modeList || m.mode == modeDetail {
			cmds = append(cmds, m.load())
			if m.mode == modeDetail && m.detail != nil {
				cmds = append(cmds, m.open(m.detail.d.Request.ID))
			}
		}
		return m, tea.Batch(cmds...)
	case listMsg:
		if msg.err != nil {
			m.say(false, "Kunde inte hämta listan: %s", swedishError(msg.err))
			return m, nil
		}
		m.setRows(msg.reqs)
		return m, nil
	case detailMsg:
		if msg.err != nil {
			m.say(false, "Kunde inte öppna ansökan: %s", swedishError(msg.err))
			return m, nil
		}
		if m.mode == modeList || m.mode == modeDetail {
			first := m.detail == nil || m.detail.d.Request.ID != msg.det.d.Request.ID
			m.detail, m.mode = msg.det, modeDetail
			off := m.view.YOffset()
			m.view.SetContent(m.detailText())
			if !first {
				m.view.SetYOffset(off)
			} else {
				m.view.GotoTop()
			}
		}
		return m, nil
	case actionMsg:
		return m, m.acted(msg)
	case savedMsg:
		switch {
		case errors.Is(msg.err, os.ErrExist):
			m.say(false, "Filen finns redan. Spara igen med s och välj ett annat namn.")
		case errors.Is(msg.err, os.ErrPermission):
			m.say(false, "Du får inte skriva där. Spara igen med s och välj en annan mapp.")
		case errors.Is(msg.err, store.ErrNotFound):
			m.say(false, "Originalblanketten finns inte kvar (gallrad, eller mottagen innan originalen sparades).")
		case msg.err != nil:
			m.say(false, "Kunde inte spara blanketten: %s", swedishError(msg.err))
		default:
			m.say(true, "Blanketten är sparad i %s", msg.path)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

// acted shows what a change did, or why it could not be done, and reloads.
func (m *reviewModel) acted(msg actionMsg) tea.Cmd {
	cmds := []tea.Cmd{m.load()}
	// A claimed request opens, so that d, r and u act on it and not on the
	// row that moves under the cursor when it leaves Att göra.
	if m.mode == modeDetail || (m.detail != nil && m.detail.d.Request.ID == msg.id) || (msg.err == nil && msg.verb == "claim") {
		cmds = append(cmds, m.open(msg.id))
	}
	switch {
	case msg.err == nil:
		switch msg.verb {
		case "claim":
			m.say(true, "%s är nu din.", msg.id)
		case "release":
			m.say(true, "%s är släppt och ligger i kön igen.", msg.id)
		case "done":
			m.say(true, "%s är klar (%s). Användaren och chefen får besked.", msg.id, msg.req.Username)
		case "reject":
			m.say(true, "%s är avslagen. Chefen får besked med orsaken.", msg.id)
		}
	case errors.Is(msg.err, store.ErrConflict):
		// Someone else was quicker: say what the request is now.
		cur, err := staffapi.ShowRequest.Do(m.ctx, m.staff, staffapi.RequestID{ID: msg.id})
		if err != nil {
			m.say(false, "%s gick inte att ändra: den har ändrats av någon annan.", msg.id)
		} else {
			m.say(false, "%s", conflictText(cur.Request, m.me))
		}
	case errors.Is(msg.err, store.ErrNotFound):
		m.say(false, "%s finns inte längre.", msg.id)
	default:
		m.say(false, "%s gick inte att ändra: %s", msg.id, swedishError(msg.err))
	}
	return tea.Batch(cmds...)
}

// conflictText says, in Swedish, what became of a request someone else
// changed meanwhile.
func conflictText(r staffapi.Request, me string) string {
	switch r.Status {
	case staffapi.StatusClaimed:
		if r.ClaimedBy == me {
			return r.ID + " är redan din."
		}
		return fmt.Sprintf("%s togs just av %s. Tryck c för att ta över den.", r.ID, r.ClaimedBy)
	case staffapi.StatusDone:
		return fmt.Sprintf("%s blev just klar (av %s).", r.ID, lastActor(r))
	case staffapi.StatusRejected:
		return fmt.Sprintf("%s blev just avslagen (av %s).", r.ID, lastActor(r))
	case staffapi.StatusQueued:
		return r.ID + " ligger i kön: ta den med c först."
	}
	return r.ID + " har ändrats av någon annan."
}

func lastActor(r staffapi.Request) string {
	if n := len(r.History); n > 0 {
		return r.History[n-1].Actor
	}
	return "någon annan"
}

// swedishError explains a failure in Swedish without gluing an English OS
// text onto the sentence.
func swedishError(err error) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "den finns inte."
	case errors.Is(err, store.ErrInvalid):
		return "uppgiften godtogs inte (kontrollera det du skrev)."
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "tjänsten svarade inte i tid. Försök igen."
	case strings.Contains(err.Error(), "no mailer configuration"):
		return "meddelandena kan inte skrivas utan tjänstens inställningar (starta om med --config FIL)."
	case strings.Contains(err.Error(), "connection refused"), strings.Contains(err.Error(), "broken pipe"),
		strings.Contains(err.Error(), "no such file"):
		return "tjänsten svarar inte. Kontrollera att websesam-intake är igång."
	}
	return "ett oväntat fel inträffade. Försök igen, och kontakta driften om det upprepas."
}

func (m *reviewModel) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if k.String() == "ctrl+c" {
		m.quit = true
		return m, tea.Quit
	}
	switch m.mode {
	case modeSearch, modeUsername, modeNote, modeReasonText, modeSavePath:
		return m.typing(k)
	case modeReason:
		return m.reason(k)
	case modeTakeOver:
		p := m.pending
		m.mode = m.back()
		if k.String() == "j" || k.String() == "y" {
			return m, m.act(p.id, "claim", func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
				return staffapi.Claim.Do(ctx, s, staffapi.ClaimArgs{ID: p.id, Force: true})
			})
		}
		m.say(true, "%s lämnades hos den som har den.", p.id)
		return m, nil
	}
	if m.showHelp && !key.Matches(k, m.keys.Quit) {
		m.showHelp = false
		return m, nil
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		m.quit = true
		return m, tea.Quit
	case key.Matches(k, m.keys.Help):
		m.showHelp = true
		return m, nil
	case key.Matches(k, m.keys.Back):
		if m.mode == modeDetail {
			m.mode, m.detail, m.flash = modeList, nil, ""
			return m, nil
		}
		if m.search != "" {
			m.search = ""
			m.say(true, "Sökningen är borttagen.")
			return m, m.load()
		}
		return m, nil
	case key.Matches(k, m.keys.Tab) && m.mode == modeList:
		step := reviewTab(1)
		if k.String() == "shift+tab" {
			step = numTabs - 1
		}
		m.tab, m.search, m.loaded = (m.tab+step)%numTabs, "", false
		m.table.SetCursor(0)
		return m, m.load()
	case key.Matches(k, m.keys.Search) && m.mode == modeList:
		return m, m.ask(modeSearch, "Sök namn, e-post, HSA-id eller kundnummer", m.search)
	case key.Matches(k, m.keys.Open) && m.mode == modeList:
		m.flash = ""
		if r, ok := m.selected(); ok {
			return m, m.open(r.ID)
		}
		return m, nil
	}
	r, ok := m.selected()
	if !ok {
		return m.move(k)
	}
	switch {
	case key.Matches(k, m.keys.Claim):
		switch {
		case r.Status == staffapi.StatusClaimed && r.ClaimedBy == m.me:
			m.say(true, "%s är redan din.", r.ID)
		case r.Status == staffapi.StatusClaimed:
			m.pending = pendingAction{id: r.ID}
			m.mode = modeTakeOver
			m.say(true, "%s är hos %s. Ta över den? (j/n)", r.ID, r.ClaimedBy)
		case r.Status == staffapi.StatusQueued:
			return m, m.act(r.ID, "claim", func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
				return staffapi.Claim.Do(ctx, s, staffapi.ClaimArgs{ID: r.ID, Force: false})
			})
		default:
			m.say(false, "%s är %s och kan inte tas.", r.ID, statusSwedish(r.Status))
		}
		return m, nil
	case key.Matches(k, m.keys.Release):
		if r.Status != staffapi.StatusClaimed || r.ClaimedBy != m.me {
			m.say(false, "Du kan bara släppa ansökningar som är dina.")
			return m, nil
		}
		return m, m.act(r.ID, "release", func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
			return staffapi.Release.Do(ctx, s, staffapi.RequestID{ID: r.ID})
		})
	case key.Matches(k, m.keys.Done), key.Matches(k, m.keys.Reject):
		if why := m.cannotClose(r); why != "" {
			m.say(false, "%s", why)
			return m, nil
		}
		m.pending = pendingAction{id: r.ID, claim: r.Status == staffapi.StatusQueued}
		if key.Matches(k, m.keys.Done) {
			return m, m.ask(modeUsername, "Användarnamn i webSesam för "+r.ID, "")
		}
		m.mode = modeReason
		m.flash = ""
		return m, nil
	case key.Matches(k, m.keys.Save):
		dir := m.saveDir
		if dir == "" {
			dir = "."
		}
		return m, m.ask(modeSavePath, "Spara blanketten i mapp eller fil", dir)
	}
	return m.move(k)
}

// cannotClose says why d or r cannot be used on r, or "".
func (m *reviewModel) cannotClose(r staffapi.Request) string {
	switch {
	case r.Status == staffapi.StatusClaimed && r.ClaimedBy != m.me:
		return fmt.Sprintf("%s är hos %s. Ta över den med c först.", r.ID, r.ClaimedBy)
	case r.Status == staffapi.StatusDone || r.Status == staffapi.StatusRejected:
		return fmt.Sprintf("%s är redan %s.", r.ID, statusSwedish(r.Status))
	}
	return ""
}

// move passes navigation keys to the list or the detail pane.
func (m *reviewModel) move(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	if m.mode == modeDetail {
		m.view, cmd = m.view.Update(k)
		return m, cmd
	}
	m.table, cmd = m.table.Update(k)
	m.renderRows()
	return m, cmd
}

// ask opens the input line for a question.
func (m *reviewModel) ask(mode reviewMode, prompt, value string) tea.Cmd {
	m.mode = mode
	m.input.Reset()
	m.input.Prompt = prompt + ": "
	m.input.SetWidth(max(m.width-lipgloss.Width(m.input.Prompt)-1, 10))
	m.input.SetValue(value)
	m.input.CursorEnd()
	m.flash = ""
	return m.input.Focus()
}

// back is the mode a question returns to.
func (m *reviewModel) back() reviewMode {
	if m.detail != nil {
		return modeDetail
	}
	return modeList
}

// typing handles the input line.
func (m *reviewModel) typing(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "esc":
		mode := m.mode
		m.input.Blur()
		m.mode = m.back()
		if mode != modeSearch {
			m.say(true, "Avbrutet; inget ändrades.")
		}
		return m, nil
	case "enter":
		v := strings.TrimSpace(m.input.Value())
		mode, p := m.mode, m.pending
		switch mode {
		case modeSearch:
			m.input.Blur()
			m.mode, m.search = modeList, v
			m.table.SetCursor(0)
			return m, m.load()
		case modeUsername:
			if v == "" {
				m.say(false, "Skriv användarnamnet i webSesam (eller esc för att avbryta).")
				return m, nil
			}
			m.pending.username = v
			return m, m.ask(modeNote, "Anteckning (frivillig, enter för ingen)", "")
		case modeNote:
			m.input.Blur()
			m.mode = m.back()
			return m, m.act(p.id, "done", func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
				if p.claim {
					if _, err := staffapi.Claim.Do(ctx, s, staffapi.ClaimArgs{ID: p.id, Force: false}); err != nil {
						return staffapi.Request{}, err
					}
				}
				return staffapi.Complete.Do(ctx, s, staffapi.CompleteArgs{ID: p.id, Username: p.username, Note: v})
			})
		case modeReasonText:
			if v == "" {
				m.say(false, "Skriv orsaken (eller esc för att avbryta).")
				return m, nil
			}
			m.input.Blur()
			m.mode = m.back()
			return m, m.reject(p, v)
		case modeSavePath:
			m.input.Blur()
			m.mode = m.back()
			r, _ := m.selected()
			return m, m.save(r, v)
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return m, cmd
}

// reason handles the choice of a common reject reason.
func (m *reviewModel) reason(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	s := k.String()
	if s == "esc" {
		m.mode = m.back()
		m.say(true, "Avbrutet; inget ändrades.")
		return m, nil
	}
	if len(s) == 1 && s[0] >= '1' && int(s[0]-'0') <= len(rejectReasons)+1 {
		n := int(s[0] - '0')
		if n == len(rejectReasons)+1 {
			return m, m.ask(modeReasonText, "Orsak", "")
		}
		m.mode = m.back()
		return m, m.reject(m.pending, rejectReasons[n-1])
	}
	return m, nil
}

func (m *reviewModel) reject(p pendingAction, reason string) tea.Cmd {
	return m.act(p.id, "reject", func(ctx context.Context, s staffapi.Staff) (staffapi.Request, error) {
		if p.claim {
			if _, err := staffapi.Claim.Do(ctx, s, staffapi.ClaimArgs{ID: p.id, Force: false}); err != nil {
				return staffapi.Request{}, err
			}
		}
		return staffapi.Reject.Do(ctx, s, staffapi.RejectArgs{ID: p.id, Reason: reason})
	})
}

// save writes the original form of r to path (a directory: a file named
// after the request and the original file in it).
func (m *reviewModel) save(r staffapi.Request, path string) tea.Cmd {
	ctx, s := m.ctx, m.staff
	return func() tea.Msg {
		p, err := saveRequestForm(ctx, s, r.ID, path)
		return savedMsg{path: p, err: err}
	}
}

// setRows shows a new list, keeping the cursor on the same request.
func (m *reviewModel) setRows(reqs []staffapi.Request) {
	var keep string
	if r, ok := m.selected(); ok && m.mode != modeDetail {
		keep = r.ID
	}
	m.reqs, m.loaded = reqs, true
	cur := m.table.Cursor()
	if keep != "" {
		if i := slices.IndexFunc(reqs, func(r staffapi.Request) bool { return r.ID == keep }); i >= 0 {
			cur = i
		}
	}
	m.renderRows()
	m.table.SetCursor(min(max(cur, 0), max(len(reqs)-1, 0)))
	m.renderRows()
}

// The list's columns; Namn takes what is left of the width.
func (m *reviewModel) columns() []btable.Column {
	fixed := []btable.Column{
		{Title: "", Width: 1}, {Title: "Id", Width: 14}, {Title: "Ålder", Width: 6}, {Title: "Typ", Width: 7},
		{Title: "Namn", Width: 0}, {Title: "Kundnr", Width: 6}, {Title: "Status", Width: 8}, {Title: "Hos", Width: 10},
	}
	used := 0
	for _, c := range fixed {
		used += c.Width + 1 // the cell's padding
	}
	fixed[4].Width = max(m.width-used, 8)
	return fixed
}

func (m *reviewModel) renderRows() {
	now := m.now()
	rows := make([]btable.Row, len(m.reqs))
	for i, r := range m.reqs {
		mark := " "
		if i == m.table.Cursor() {
			mark = "▸"
		}
		name := strings.TrimSpace(formparse.FieldFornamn.Value(r.Fields) + " " + formparse.FieldEfternamn.Value(r.Fields))
		if r.Purged {
			name = "(gallrad)"
		}
		rows[i] = btable.Row{mark, r.ID, m.ageText(r, now), typeSwedish(r.Type), name, formparse.FieldKundnummer.Value(r.Fields),
			statusSwedish(r.Status), r.ClaimedBy}
	}
	m.table.SetRows(rows)
}

// ageText is a request's age in working days; a waiting request past the
// promise is marked with "!".
func (m *reviewModel) ageText(r staffapi.Request, now time.Time) string {
	end := now
	if r.Status == staffapi.StatusDone || r.Status == staffapi.StatusRejected {
		end = r.ClosedAt
	}
	d := m.cal.Between(r.ReceivedAt, end)
	s := fmt.Sprintf("%d d", d)
	if (r.Status == staffapi.StatusQueued || r.Status == staffapi.StatusClaimed) && d > m.promise {
		s += " !"
	}
	return s
}

// The review screen's words for the types, statuses and outbox states the
// protocol names in English.
var (
	typesSwedish    = map[string]string{store.TypeNy: "ny", store.TypeAndring: "ändring", store.TypeAvslut: "avslut"}
	statusesSwedish = map[staffapi.Status]string{staffapi.StatusQueued: "i kö", staffapi.StatusClaimed: "tagen",
		staffapi.StatusDone: "klar", staffapi.StatusRejected: "avslagen"}
	outboxStatesSwedish = map[staffapi.OutboxState]string{staffapi.OutboxPending: "väntar", staffapi.OutboxSent: "skickat",
		staffapi.OutboxFailed: "misslyckat", staffapi.OutboxCancelled: "stoppat"}
)

func typeSwedish(t string) string { return swedish(typesSwedish, t) }

func statusSwedish(s staffapi.Status) string { return swedish(statusesSwedish, s) }

// swedish is the review screen's word for a value the protocol names in
// English; a value it has no word for is shown as it is.
func swedish[V ~string](words map[V]string, v V) string {
	if w, ok := words[v]; ok {
		return w
	}
	return string(v)
}
