// Package workdays counts Swedish working days: the unit of the centre's
// promise to a new user ("normally about a week") and of the queue's age.
//
// A working day is Monday to Friday that is not a Swedish public holiday,
// taken from the maintained calendar github.com/rickar/cal/v2/se rather than
// a hand-made list. Midsommarafton, julafton and nyårsafton are not public
// holidays by law, but offices in Sweden are closed on them (they are
// de-facto holidays in every collective agreement of the regions), so they
// count as non-working days here too: a request that arrives the day before
// Midsommar is not late because nobody handled it on Midsommarafton.
//
// Days are calendar dates in the calendar's location (Europe/Stockholm in
// production, time.Local), so a request received at 23:30 belongs to that
// day whatever the UTC date.
package workdays

import (
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/se"
)

// Calendar answers which dates are working days. It is safe for
// concurrent use.
type Calendar struct {
	hol *cal.Calendar
	loc *time.Location
}

// Swedish is the calendar of Swedish working days in loc (nil means
// time.Local). Every day of se.Holidays is off, the three "aftnar" included.
func Swedish(loc *time.Location) *Calendar {
	if loc == nil {
		loc = time.Local
	}
	c := &cal.Calendar{Cacheable: true}
	c.AddHoliday(se.Holidays...)
	return &Calendar{hol: c, loc: loc}
}

// Location is where the calendar's dates are taken.
func (c *Calendar) Location() *time.Location { return c.loc }

// Date is the start of t's calendar day in the calendar's location.
func (c *Calendar) Date(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.loc)
}

// IsWorkday says whether t's date is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	d := c.Date(t)
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	act, obs, _ := c.hol.IsHoliday(d)
	return !act && !obs
}

// Holiday names the holiday on t's date, or "" when there is none.
func (c *Calendar) Holiday(t time.Time) string {
	act, obs, h := c.hol.IsHoliday(c.Date(t))
	if (act || obs) && h != nil {
		return h.Name
	}
	return ""
}

// Between counts the working days after from's date up to and including
// to's date: a request received on a Monday is 0 working days old that
// Monday and 1 on Tuesday; one received on a Friday evening is 1 day old
// on Monday. It is 0 when to is not after from's date.
func (c *Calendar) Between(from, to time.Time) int {
	d, end := c.Date(from), c.Date(to)
	n := 0
	for d.Before(end) {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkday(d) {
			n++
		}
	}
	return n
}

// Add is the date of the n-th working day after t's date (t's date itself
// when n <= 0): the day by which a request received at t is promised when
// the promise is n working days.
func (c *Calendar) Add(t time.Time, n int) time.Time {
	d := c.Date(t)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d
}
