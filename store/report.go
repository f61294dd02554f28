package store

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ReportOptions choose the period and the measures of a Report.
type ReportOptions struct {
	// From and To bound the period by date received (From inclusive, To
	// exclusive); zero means open at that end.
	From, To time.Time
	// Now is the moment the open queue is aged at.
	Now time.Time
	// Promise is the promise in working days.
	Promise int
	// WorkdaysBetween counts the working days after from's date up to to's
	// date (package store/workdays, injected: the store imports nothing of
	// the module).
	WorkdaysBetween func(from, to time.Time) int
	// Location is where weeks and days are taken (nil: time.Local).
	Location *time.Location
	// Organisation names the ordering organisation of a request's fields
	// (verksamhet, kundnummer); the field names belong to the form, so the
	// caller hands it over. Nil: requests are not counted by organisation.
	Organisation func(fields map[string]string) (verksamhet, kundnummer string)
}

// Report is how the intake is doing, in counts only: no names, no
// addresses, no field values beyond the organisation's verksamhet and
// kundnummer. Its JSON is what `report --json` prints.
type Report struct {
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	Now     time.Time `json:"now"`
	Promise int       `json:"promise_working_days"`
	// Weeks are the ISO weeks of the period that saw any mail, in order.
	Weeks      []WeekCounts `json:"weeks"`
	Turnaround Turnaround   `json:"turnaround"`
	// Reasons are the fields that made forms come back, most often first.
	Reasons []ReasonCount `json:"return_reasons"`
	// Organisations are the verksamhet/kundnummer pairs with requests or
	// returns in the period, most requests first.
	Organisations []OrgCounts `json:"organisations"`
	Queue         QueueAges   `json:"queue"`
}

// WeekCounts are one ISO week's mails by outcome and requests by type.
type WeekCounts struct {
	Week  string    `json:"week"`  // 2026-W49
	Start time.Time `json:"start"` // its Monday, 00:00 local
	// Mails by outcome (a copy of a message already recorded is not counted).
	Queued      int `json:"queued"`
	Returned    int `json:"returned"`
	NoForm      int `json:"no_form"`
	Ignored     int `json:"ignored"`
	Quarantined int `json:"quarantined"`
	// Requests by the form's ärende.
	Ny      int `json:"ny"`
	Andring int `json:"andring"`
	Avslut  int `json:"avslut"`
}

// Mails is the week's total of mails.
func (w WeekCounts) Mails() int {
	return w.Queued + w.Returned + w.NoForm + w.Ignored + w.Quarantined
}

// Turnaround measures requests done in the period (by the day closed), from
// the day received to the day done, in working days.
type Turnaround struct {
	Done          int     `json:"done"`
	Median        float64 `json:"median_working_days"`
	P90           int     `json:"p90_working_days"` // nearest rank
	WithinPromise int     `json:"within_promise"`
	// Share is WithinPromise/Done (0 when none was done).
	Share float64 `json:"share_within_promise"`
	// Days[i] is how many were done in i working days; the last entry
	// holds that many or more (the workbook's chart against the promise).
	Days []int `json:"days"`
}

// ReasonCount is how often one field (by its label) made a form come back.
type ReasonCount struct {
	Field string `json:"field"`
	Label string `json:"label"`
	Count int    `json:"count"`
}

// OrgCounts are the requests and returned forms of one organisation.
type OrgCounts struct {
	Verksamhet string `json:"verksamhet"`
	Kundnummer string `json:"kundnummer"`
	Requests   int    `json:"requests"`
	Returns    int    `json:"returns"`
}

// AgeBands are the open queue's age bands in working days: 0–2, 3–5,
// 6–10 and over 10.
var AgeBands = []struct {
	Label    string
	Min, Max int // Max < 0: no upper bound
}{{"0–2", 0, 2}, {"3–5", 3, 5}, {"6–10", 6, 10}, {">10", 11, -1}}

// QueueAges is the open queue (queued and claimed) at Now, by age.
type QueueAges struct {
	Open   int   `json:"open"`
	Bands  []int `json:"bands"` // counts in AgeBands order
	Oldest int   `json:"oldest_working_days"`
	// Late are the requests past the promise, oldest first: ids and ages only.
	Late []LateRequest `json:"past_promise"`
}

// LateRequest is an open request older than the promise.
type LateRequest struct {
	ID     string    `json:"id"`
	Status Status    `json:"status"`
	Age    int       `json:"age_working_days"`
	Since  time.Time `json:"received_at"`
}

// daysCapped is where the turnaround histogram stops.
const daysCapped = 20

// numbered matches the row number of a multi-user form's labels and field
// names, so that "Användare 3 – E-post" counts with every other row's.
// Compiled on first use, not at every start of the binary.
var (
	numberedLabel = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(Användare) \d+ – `) })
	numberedField = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(anvandare)_\d+_`) })
)

// Report counts the period's mail and requests and ages the open queue. It
// reads everything in one read transaction and writes nothing: it holds no
// personal data, so it is not audited.
func (s *Store) Report(o ReportOptions) (Report, error) {
	if o.WorkdaysBetween == nil {
		return Report{}, fmt.Errorf("report: no working-day calendar: %w", ErrInvalid)
	}
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	in := func(t time.Time) bool {
		return (o.From.IsZero() || !t.Before(o.From)) && (o.To.IsZero() || t.Before(o.To))
	}
	rep := Report{From: o.From, To: o.To, Now: o.Now, Promise: o.Promise,
		Weeks: []WeekCounts{}, Reasons: []ReasonCount{}, Organisations: []OrgCounts{},
		Queue: QueueAges{Bands: make([]int, len(AgeBands)), Late: []LateRequest{}}}
	weeks := map[string]*WeekCounts{}
	week := func(t time.Time) *WeekCounts {
		t = t.In(loc)
		y, n := t.ISOWeek()
		key := fmt.Sprintf("%04d-W%02d", y, n)
		if w := weeks[key]; w != nil {
			return w
		}
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		d = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		weeks[key] = &WeekCounts{Week: key, Start: d}
		return weeks[key]
	}
	type orgKey struct{ v, k string }
	orgs := map[orgKey]*OrgCounts{}
	org := func(v, k string) *OrgCounts {
		key := orgKey{v, k}
		if orgs[key] == nil {
			orgs[key] = &OrgCounts{Verksamhet: v, Kundnummer: k}
		}
		return orgs[key]
	}
	type reasonKey struct{ field, label string }
	reasons := map[reasonKey]int{}
	var turn []int
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := eachRecord(tx.Bucket(bucketMessages), func(m Message) error {
			if m.DuplicateOf != nil || !in(m.ReceivedAt) {
				return nil
			}
			w := week(m.ReceivedAt)
			switch m.Outcome {
			case OutcomeQueued:
				w.Queued++
			case OutcomeReturned:
				w.Returned++
			case OutcomeNoForm:
				w.NoForm++
			case OutcomeIgnored:
				w.Ignored++
			case OutcomeQuarantined:
				w.Quarantined++
			}
			if m.Outcome != OutcomeReturned {
				return nil
			}
			for _, f := range m.Problems {
				if len(f.Problems) == 0 {
					continue
				}
				org(f.Verksamhet, f.Kundnummer).Returns++
				seen := map[reasonKey]bool{}
				for _, p := range f.Problems {
					k := reasonKey{numberedField().ReplaceAllString(p.Field, "${1}_"), numberedLabel().ReplaceAllString(p.Label, "$1 – ")}
					if !seen[k] { // a field counts once per form
						seen[k] = true
						reasons[k]++
					}
				}
			}
			return nil
		}); err != nil {
			return err
		}
		return eachRecord(tx.Bucket(bucketRequests), func(r Request) error {
			if in(r.ReceivedAt) {
				w := week(r.ReceivedAt)
				switch r.Type {
				case TypeNy:
					w.Ny++
				case TypeAndring:
					w.Andring++
				case TypeAvslut:
					w.Avslut++
				}
				if o.Organisation != nil {
					org(o.Organisation(r.Fields)).Requests++
				}
			}
			switch r.Status {
			case StatusDone:
				if in(r.ClosedAt) {
					turn = append(turn, o.WorkdaysBetween(r.ReceivedAt, r.ClosedAt))
				}
			case StatusQueued, StatusClaimed:
				age := o.WorkdaysBetween(r.ReceivedAt, o.Now)
				q := &rep.Queue
				q.Open++
				q.Oldest = max(q.Oldest, age)
				for i, b := range AgeBands {
					if age >= b.Min && (b.Max < 0 || age <= b.Max) {
						q.Bands[i]++
					}
				}
				if age > o.Promise {
					q.Late = append(q.Late, LateRequest{ID: r.ID, Status: r.Status, Age: age, Since: r.ReceivedAt})
				}
			}
			return nil
		})
	})
	if err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	for _, w := range weeks {
		rep.Weeks = append(rep.Weeks, *w)
	}
	slices.SortFunc(rep.Weeks, func(a, b WeekCounts) int { return a.Start.Compare(b.Start) })
	rep.Turnaround = turnaround(turn, o.Promise)
	for k, n := range reasons {
		rep.Reasons = append(rep.Reasons, ReasonCount{Field: k.field, Label: k.label, Count: n})
	}
	slices.SortFunc(rep.Reasons, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Label, b.Label))
	})
	for _, c := range orgs {
		rep.Organisations = append(rep.Organisations, *c)
	}
	slices.SortFunc(rep.Organisations, func(a, b OrgCounts) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(b.Returns, a.Returns),
			cmp.Compare(a.Verksamhet, b.Verksamhet), cmp.Compare(a.Kundnummer, b.Kundnummer))
	})
	slices.SortFunc(rep.Queue.Late, func(a, b LateRequest) int {
		return cmp.Or(cmp.Compare(b.Age, a.Age), cmp.Compare(a.ID, b.ID))
	})
	return rep, nil
}

// turnaround: the median (the mean of the middle two of an even count), the
// 90th percentile by nearest rank, and the share within the promise.
func turnaround(days []int, promise int) Turnaround {
	t := Turnaround{Done: len(days), Days: make([]int, daysCapped+1)}
	if len(days) == 0 {
		return t
	}
	slices.Sort(days)
	n := len(days)
	if n%2 == 1 {
		t.Median = float64(days[n/2])
	} else {
		t.Median = float64(days[n/2-1]+days[n/2]) / 2
	}
	t.P90 = days[int(math.Ceil(0.9*float64(n)))-1]
	for _, d := range days {
		if d <= promise {
			t.WithinPromise++
		}
		t.Days[min(d, daysCapped)]++
	}
	t.Share = float64(t.WithinPromise) / float64(n)
	return t
}

// Waiting is who waits too long: the open requests' oldest age and those
// past the promise, for status, /metrics and the digest.
type Waiting struct {
	Open   int           `json:"open"`
	Oldest int           `json:"oldest_working_days"`
	Late   []LateRequest `json:"past_promise"` // oldest first
}

// Waiting ages the open (queued and claimed) requests at now. It reads
// only those, found through the status index.
func (s *Store) Waiting(now time.Time, promise int, workdaysBetween func(from, to time.Time) int) (Waiting, error) {
	w := Waiting{Late: []LateRequest{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketReqStatus)
		for _, st := range []Status{StatusQueued, StatusClaimed} {
			prefix := append([]byte(st), 0)
			c := idx.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				r, err := getRequest(tx, string(k[len(prefix):]))
				if err != nil {
					return err
				}
				age := workdaysBetween(r.ReceivedAt, now)
				w.Open++
				w.Oldest = max(w.Oldest, age)
				if age > promise {
					w.Late = append(w.Late, LateRequest{ID: r.ID, Status: r.Status, Age: age, Since: r.ReceivedAt})
				}
			}
		}
		return nil
	})
	if err != nil {
		return Waiting{}, fmt.Errorf("age the open requests: %w", err)
	}
	slices.SortFunc(w.Late, func(a, b LateRequest) int { return cmp.Or(cmp.Compare(b.Age, a.Age), cmp.Compare(a.ID, b.ID)) })
	return w, nil
}
