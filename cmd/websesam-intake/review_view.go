package main

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/intake/staffapi"
	"github.com/regionhmc/websesam-intake/store"
)

// What the review screen shows: the layout, the list, the detail pane and
// the questions. The model and its keys are in review_model.go.

// layout sizes the parts to the window: a title line, the body, the flash
// line and the key line.
func (m *reviewModel) layout() {
	body := max(m.height-3, 3)
	m.table.SetColumns(m.columns())
	m.table.SetWidth(m.width)
	m.table.SetHeight(body)
	m.view.SetWidth(m.width)
	m.view.SetHeight(body)
	m.input.SetWidth(max(m.width-len([]rune(m.input.Prompt))-2, 10))
	m.help.SetWidth(m.width)
	if m.detail != nil {
		m.view.SetContent(m.detailText())
	}
	m.renderRows()
}

var (
	titleStyle = lipgloss.NewStyle().Bold(true)
	tabStyle   = lipgloss.NewStyle().Padding(0, 1)
	tabOn      = lipgloss.NewStyle().Padding(0, 1).Reverse(true).Bold(true)
	flashBad   = lipgloss.NewStyle().Bold(true)
	headStyle  = lipgloss.NewStyle().Bold(true).Underline(true)
)

func (m *reviewModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "webSesam – granskning"
	return v
}

// render is the whole screen as text (tests compare it without styles).
func (m *reviewModel) render() string {
	var b strings.Builder
	b.WriteString(m.titleLine())
	b.WriteByte('\n')
	body := max(m.height-3, 3)
	var content string
	switch {
	case m.showHelp:
		content = m.helpPage()
	case m.mode == modeReason:
		content = m.reasonPage()
	case m.mode == modeDetail || (m.detail != nil && m.mode != modeList && m.mode != modeSearch):
		content = m.view.View()
	default:
		content = m.listView()
	}
	b.WriteString(fit(content, m.width, body))
	b.WriteByte('\n')
	b.WriteString(fit(m.flashLine(), m.width, 1))
	b.WriteByte('\n')
	keys := m.keys.ShortHelp()
	if m.mode == modeDetail {
		k := m.keys
		keys = []key.Binding{k.Back, k.Claim, k.Done, k.Reject, k.Release, k.Save, k.Help, k.Quit}
	}
	bottom := m.help.ShortHelpView(keys)
	if m.typingMode() && m.flash != "" {
		bottom = m.flashText() // what is wrong with the answer being typed
	}
	b.WriteString(fit(bottom, m.width, 1))
	return b.String()
}

func (m *reviewModel) titleLine() string {
	var tabs []string
	for t := range numTabs {
		st := tabStyle
		if t == m.tab && m.search == "" {
			st = tabOn
		}
		label := tabNames[t]
		if t == m.tab && m.loaded && m.search == "" {
			label = fmt.Sprintf("%s (%d)", label, len(m.reqs))
		}
		tabs = append(tabs, st.Render(label))
	}
	left := titleStyle.Render("webSesam") + " " + strings.Join(tabs, "")
	if m.search != "" {
		left += " " + tabOn.Render(fmt.Sprintf("Sök: %s (%d)", m.search, len(m.reqs)))
	}
	right := m.me
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return left
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *reviewModel) listView() string {
	if !m.loaded {
		return "Hämtar…"
	}
	if len(m.reqs) == 0 {
		switch {
		case m.search != "":
			return fmt.Sprintf("Inget träffar %q. Esc tar bort sökningen.", m.search)
		case m.tab == tabTodo:
			return "Kön är tom: inget att göra just nu."
		case m.tab == tabMine:
			return "Du har inga ansökningar. Ta en med c under Att göra."
		}
		return "Inga ansökningar här."
	}
	return m.table.View()
}

func (m *reviewModel) typingMode() bool {
	switch m.mode {
	case modeSearch, modeUsername, modeNote, modeReasonText, modeSavePath:
		return true
	}
	return false
}

func (m *reviewModel) flashText() string {
	if !m.flashOK {
		return flashBad.Render("✗ " + m.flash)
	}
	return m.flash
}

func (m *reviewModel) flashLine() string {
	if m.typingMode() {
		return m.input.View()
	}
	if m.flash == "" {
		if m.mode == modeDetail && m.view.TotalLineCount() > m.view.Height() {
			last := min(m.view.YOffset()+m.view.Height(), m.view.TotalLineCount())
			return fmt.Sprintf("Rad %d–%d av %d · j/↓ och mellanslag bläddrar · esc tillbaka", m.view.YOffset()+1, last, m.view.TotalLineCount())
		}
		return ""
	}
	return m.flashText()
}

func (m *reviewModel) reasonPage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Avslå %s – välj orsak (chefen får den i sitt besked):\n\n", m.pending.id)
	for i, r := range rejectReasons {
		fmt.Fprintf(&b, "  %d  %s\n", i+1, r)
	}
	fmt.Fprintf(&b, "  %d  Skriv en egen orsak…\n\n  esc  avbryt", len(rejectReasons)+1)
	return b.String()
}

func (m *reviewModel) helpPage() string {
	var b strings.Builder
	b.WriteString(headStyle.Render("Tangenter") + "\n\n")
	h := m.help
	h.ShowAll = true
	b.WriteString(h.FullHelpView(m.keys.FullHelp()))
	b.WriteString("\n\n")
	wrap := lipgloss.NewStyle().Width(m.width)
	b.WriteString(wrap.Render(fmt.Sprintf("Ålder räknas i arbetsdagar (måndag–fredag utom helgdagar). \"!\" betyder att ansökan har väntat längre än de %d arbetsdagar vi lovar.", m.promise)))
	b.WriteString("\n")
	b.WriteString(wrap.Render("Listan uppdateras av sig själv. Varje visning av personuppgifter loggas med ditt namn."))
	b.WriteString("\n\nTryck en tangent för att gå tillbaka.")
	return b.String()
}

// detailText is the detail pane of the open request.
func (m *reviewModel) detailText() string {
	det := m.detail
	r := det.d.Request
	var b strings.Builder
	def := formparse.Lookup(formparse.FormID(r.Form))
	status := statusSwedish(r.Status)
	if r.Status == staffapi.StatusClaimed {
		status += " av " + r.ClaimedBy
	}
	fmt.Fprintf(&b, "%s  %s  %s  %s\n", titleStyle.Render(r.ID), typeSwedish(r.Type), status, m.ageText(r, m.now()))
	if r.Username != "" {
		fmt.Fprintf(&b, "Användarnamn i webSesam: %s\n", r.Username)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, "Orsak: %s\n", r.Reason)
	}
	if r.Purged {
		fmt.Fprintf(&b, "\nUppgifterna är gallrade (%s).\n", localTime(r.PurgedAt))
	} else if def != nil {
		for _, sec := range detailSections(def, r.Fields) {
			fmt.Fprintf(&b, "\n%s\n", headStyle.Render(sec.title))
			w := 0
			for _, l := range sec.rows {
				w = max(w, lipgloss.Width(l.label))
			}
			for _, l := range sec.rows {
				fmt.Fprintf(&b, "  %s%s  %s\n", l.label, strings.Repeat(" ", w-lipgloss.Width(l.label)), l.value)
			}
		}
	}
	fmt.Fprintf(&b, "\n%s\n", headStyle.Render("Historik"))
	for _, h := range r.History {
		step := statusSwedish(h.To)
		if h.From == "" {
			step = "mottagen"
		}
		line := fmt.Sprintf("  %s  %-9s %s", localTime(h.At), step, h.Actor)
		if h.Note != "" {
			line += " – " + h.Note
		}
		b.WriteString(line + "\n")
	}
	for _, o := range det.d.Replies {
		fmt.Fprintf(&b, "  %s  besked %-10s %s till %s\n", localTime(o.CreatedAt), o.Kind, outboxStateSwedish(o.State), strings.Join(o.To, ", "))
	}
	if msg := det.d.Message; msg != nil {
		fmt.Fprintf(&b, "\n%s\n", headStyle.Render("Mejlet"))
		fmt.Fprintf(&b, "  Från     %s\n  Ämne     %s\n  Mottaget %s\n  Blanketter %d\n", dash(msg.From), dash(msg.Subject), localTime(msg.ReceivedAt), len(msg.FormHashes))
	}
	if len(det.batch) > 0 {
		fmt.Fprintf(&b, "\n%s\n", headStyle.Render("Samma blankett (flera användare)"))
		for _, o := range det.batch {
			fmt.Fprintf(&b, "  %s  %s %s  %s\n", o.ID, formparse.FieldFornamn.Value(o.Fields), formparse.FieldEfternamn.Value(o.Fields), statusSwedish(o.Status))
		}
	}
	if len(det.person) > 0 {
		fmt.Fprintf(&b, "\n%s\n", headStyle.Render("Samma person, andra ansökningar"))
		for _, o := range det.person {
			fmt.Fprintf(&b, "  %s  %s  %s  %s\n", o.ID, typeSwedish(o.Type), localTime(o.ReceivedAt), statusSwedish(o.Status))
		}
	}
	fmt.Fprintf(&b, "\n%s\n", headStyle.Render("I registret nu"))
	if len(det.register) == 0 {
		b.WriteString("  Inget: personen finns inte i registret.\n")
	}
	for _, e := range det.register {
		var roles []string
		if e.Forskrivare {
			roles = append(roles, "förskrivare")
		}
		if e.Bestallare {
			roles = append(roles, "beställare")
		}
		fmt.Fprintf(&b, "  kund %s  %s  %s, %s\n", e.Kundnummer, strings.Join(roles, " och "), dash(e.Verksamhet), dash(e.Enhet))
	}
	switch r.Type {
	case store.TypeAvslut:
		fmt.Fprintf(&b, "  När ansökan blir klar tas personen bort ur registret för kund %s.\n", dash(formparse.FieldKundnummer.Value(r.Fields)))
	case store.TypeAndring:
		fmt.Fprintf(&b, "  När ansökan blir klar uppdateras personens rad för kund %s.\n", dash(formparse.FieldKundnummer.Value(r.Fields)))
	}
	return strings.TrimRight(b.String(), "\n")
}

type detailSection struct {
	title string
	rows  []labelled
}

// detailSections groups a request's fields as the form does, leaving out
// empty optional fields and the ändring part of a request that is no
// ändring.
func detailSections(def *formparse.Definition, f map[string]string) []detailSection {
	var out []detailSection
	add := func(sec string, l labelled) {
		if n := len(out); n == 0 || out[n-1].title != sec {
			out = append(out, detailSection{title: sec})
		}
		out[len(out)-1].rows = append(out[len(out)-1].rows, l)
	}
	seen := map[string]bool{}
	for _, fl := range append(append([]formparse.Field{}, def.Fields...), def.UserColumns...) {
		if seen[fl.Name] || fl.Kind == formparse.Tag {
			continue
		}
		seen[fl.Name] = true
		v, ok := f[fl.Name]
		if !ok || (v == "" && !fl.Required.Mandatory()) || (v == "false" && fl.Kind == formparse.Checkbox && fl.Section == formparse.SectionAndring) {
			continue
		}
		if fl.Section == formparse.SectionAndring && (formparse.FieldArende.Value(f) != formparse.ArendeAndring || v == "") {
			continue
		}
		sec := fl.Section
		if sec == formparse.SectionUsers {
			sec = formparse.SectionPerson
		}
		add(sec, labelled{fl.Label, dash(showValue(fl, v))})
	}
	// One heading per section, in the form's order, however the user
	// columns interleave.
	merged := []detailSection{}
	for _, s := range out {
		if i := slices.IndexFunc(merged, func(x detailSection) bool { return x.title == s.title }); i >= 0 {
			merged[i].rows = append(merged[i].rows, s.rows...)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

func outboxStateSwedish(s staffapi.OutboxState) string { return swedish(outboxStatesSwedish, s) }

// fit cuts or pads s to exactly h lines no wider than w.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = truncateANSI(l, w)
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func truncateANSI(s string, w int) string { return ansi.Truncate(s, w, "…") }
