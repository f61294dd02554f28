package workdays

import (
	"testing"
	"time"
)

func stockholm(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatalf("load Europe/Stockholm: %v", err)
	}
	return loc
}

func day(loc *time.Location, s string) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		panic(err)
	}
	return d.Add(10 * time.Hour)
}

// TestWeekAcrossMidsommar: in 2026 Midsommarafton is Friday 19 June and
// Midsommardagen Saturday 20 June; the week has four working days.
func TestWeekAcrossMidsommar(t *testing.T) {
	loc := stockholm(t)
	c := Swedish(loc)
	want := map[string]bool{
		"2026-06-15": true, "2026-06-16": true, "2026-06-17": true, "2026-06-18": true,
		"2026-06-19": false, // Midsommarafton: de-facto off
		"2026-06-20": false, "2026-06-21": false, "2026-06-22": true,
	}
	for d, w := range want {
		if got := c.IsWorkday(day(loc, d)); got != w {
			t.Errorf("IsWorkday(%s): got %v, want %v (%s)", d, got, w, c.Holiday(day(loc, d)))
		}
	}
	if got, want := c.Holiday(day(loc, "2026-06-19")), "Midsommarafton"; got != want {
		t.Errorf("Holiday(2026-06-19): got %q, want %q", got, want)
	}
	// Received Monday the 15th: Tue, Wed, Thu, (Fri off), Mon 22 = 4.
	if got, want := c.Between(day(loc, "2026-06-15"), day(loc, "2026-06-22")), 4; got != want {
		t.Errorf("Between(15 June, 22 June): got %d, want %d", got, want)
	}
	// A promise of 5 working days from Wednesday 17 June: Thu 18, Mon 22,
	// Tue 23, Wed 24, Thu 25 (Midsommarafton does not count).
	if got, want := c.Add(day(loc, "2026-06-17"), 5), time.Date(2026, 6, 25, 0, 0, 0, 0, loc); !got.Equal(want) {
		t.Errorf("Add(17 June, 5): got %s, want %s", got, want)
	}
}

// TestWeekAcrossChristmas: 2026-12-24 is a Thursday; julafton, juldagen,
// annandag jul (Saturday) and nyårsafton, nyårsdagen are off.
func TestWeekAcrossChristmas(t *testing.T) {
	loc := stockholm(t)
	c := Swedish(loc)
	want := map[string]bool{
		"2026-12-21": true, "2026-12-22": true, "2026-12-23": true,
		"2026-12-24": false, "2026-12-25": false, "2026-12-26": false, "2026-12-27": false,
		"2026-12-28": true, "2026-12-29": true, "2026-12-30": true,
		"2026-12-31": false, "2027-01-01": false, "2027-01-04": true,
		"2027-01-06": false, // trettondedag jul
	}
	for d, w := range want {
		if got := c.IsWorkday(day(loc, d)); got != w {
			t.Errorf("IsWorkday(%s): got %v, want %v", d, got, w)
		}
	}
	// Received Wednesday 23 Dec: Mon 28, Tue 29, Wed 30, Mon 4 Jan, Tue 5 Jan.
	if got, want := c.Add(day(loc, "2026-12-23"), 5), time.Date(2027, 1, 5, 0, 0, 0, 0, loc); !got.Equal(want) {
		t.Errorf("Add(23 Dec, 5): got %s, want %s", got, want)
	}
	if got, want := c.Between(day(loc, "2026-12-23"), day(loc, "2027-01-05")), 5; got != want {
		t.Errorf("Between(23 Dec, 5 Jan): got %d, want %d", got, want)
	}
}

func TestBetweenSameAndBackwards(t *testing.T) {
	loc := stockholm(t)
	c := Swedish(loc)
	mon := day(loc, "2026-11-30")
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"same day", mon, mon.Add(5 * time.Hour), 0},
		{"next day", mon, mon.Add(24 * time.Hour), 1},
		{"backwards", mon, mon.Add(-72 * time.Hour), 0},
		{"friday night to monday", day(loc, "2026-11-27").Add(13 * time.Hour), mon, 1},
		// 23:30 UTC on Sunday is already Monday in Stockholm.
		{"local date", time.Date(2026, 11, 29, 23, 30, 0, 0, time.UTC), day(loc, "2026-12-01"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Between(tc.from, tc.to); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
