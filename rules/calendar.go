package rules

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/aa"
	"github.com/rickar/cal/v2/at"
	"github.com/rickar/cal/v2/au"
	"github.com/rickar/cal/v2/be"
	"github.com/rickar/cal/v2/ca"
	"github.com/rickar/cal/v2/ch"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/dk"
	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/ie"
	"github.com/rickar/cal/v2/it"
	"github.com/rickar/cal/v2/jp"
	"github.com/rickar/cal/v2/nl"
	"github.com/rickar/cal/v2/no"
	"github.com/rickar/cal/v2/nz"
	"github.com/rickar/cal/v2/se"
	"github.com/rickar/cal/v2/us"
)

// holidayCalendars are the national holidays of the calendars `calendar:` may name.
//
// rickar/cal has no national list for Australia (only one per state): "au" is the holidays
// every state observes. It has no Finnish calendar: "fi" is Finland's public holidays that
// can fall on a weekday, built from its shared definitions.
var holidayCalendars = map[string][]*cal.Holiday{
	"at": at.Holidays, "be": be.Holidays, "ca": ca.Holidays, "ch": ch.Holidays,
	"de": de.Holidays, "dk": dk.Holidays, "es": es.Holidays, "fr": fr.Holidays,
	"gb": gb.Holidays, "ie": ie.Holidays, "it": it.Holidays, "jp": jp.Holidays,
	"nl": nl.Holidays, "no": no.Holidays, "nz": nz.Holidays, "se": se.Holidays,
	"us": us.Holidays,
	"au": {au.NewYear, au.AustraliaDay, au.GoodFriday, au.EasterMonday, au.AnzacDay,
		au.ChristmasDay, au.BoxingDay},
	"fi": {aa.NewYear, aa.Epiphany, aa.GoodFriday, aa.EasterMonday, aa.WorkersDay, aa.AscensionDay,
		{Name: "Midsummer Eve", Month: time.June, Day: 19, Weekday: time.Friday, Offset: 1, Func: cal.CalcWeekdayFrom},
		{Name: "Independence Day", Month: time.December, Day: 6, Func: cal.CalcDayOfMonth},
		{Name: "Christmas Eve", Month: time.December, Day: 24, Func: cal.CalcDayOfMonth},
		aa.ChristmasDay, aa.ChristmasDay2},
}

// calendarNames lists the calendars in the order error messages name them.
var calendarNames = slices.Sorted(func(yield func(string) bool) {
	for n := range holidayCalendars {
		if !yield(n) {
			return
		}
	}
})

// day is a date without a time or a zone.
type day struct {
	y int
	m time.Month
	d int
}

func dayOf(t time.Time) day {
	y, m, d := t.Date()
	return day{y, m, d}
}

// add returns the day n days later; time.Date normalizes the overflow.
func (d day) add(n int) day {
	return dayOf(time.Date(d.y, d.m, d.d+n, 12, 0, 0, 0, time.UTC))
}

func (d day) weekday() time.Weekday {
	return time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Weekday()
}

func (d day) before(o day) bool {
	if d.y != o.y {
		return d.y < o.y
	}
	if d.m != o.m {
		return d.m < o.m
	}
	return d.d < o.d
}

// at returns the instant of the day at a time of day in loc.
func (d day) at(clock time.Time, loc *time.Location) time.Time {
	return time.Date(d.y, d.m, d.d, clock.Hour(), clock.Minute(), clock.Second(), clock.Nanosecond(), loc)
}

// calendar decides which days are business days: weekdays that are no observed holiday of
// any of its holiday calendars. The holidays of a year are computed once, when first asked.
type calendar struct {
	names    []string
	holidays []holiday
	mu       sync.RWMutex
	years    map[int]map[day]string // observed holidays by day, with their names
}

// holiday is a holiday of a calendar, a copy of rickar/cal's: some of its calculations write
// to the holiday they compute (jp's equinoxes), which must not race with other playbooks.
type holiday struct {
	h        *cal.Holiday
	calendar string
}

func newCalendar(names []string) *calendar {
	c := &calendar{names: names, years: map[int]map[day]string{}}
	for _, n := range names {
		for _, h := range holidayCalendars[n] {
			c.holidays = append(c.holidays, holiday{h.Clone(nil), n})
		}
	}
	return c
}

// workday reports whether d is a business day, and if not why: "weekend" or the holidays.
func (c *calendar) workday(d day) (bool, string) {
	if wd := d.weekday(); wd == time.Saturday || wd == time.Sunday {
		return false, "weekend"
	}
	if len(c.names) == 0 {
		return true, ""
	}
	c.mu.RLock()
	hols, ok := c.years[d.y]
	c.mu.RUnlock()
	if !ok {
		hols = c.year(d.y)
	}
	name, hol := hols[d]
	return !hol, name
}

// year computes the observed holidays of a year: a holiday observed on another day (the
// Monday after a Sunday) counts on that day, which may be in the year before or after. It
// holds the lock while it computes, which also keeps the holidays' calculations apart.
func (c *calendar) year(y int) map[day]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hols, ok := c.years[y]; ok {
		return hols
	}
	hols := map[day]string{}
	for _, h := range c.holidays {
		for hy := y - 1; hy <= y+1; hy++ {
			_, observed := h.h.Calc(hy)
			if observed.IsZero() {
				continue
			}
			if d := dayOf(observed); d.y == y {
				hols[d] = joinHoliday(hols[d], h.h.Name+" ("+h.calendar+")")
			}
		}
	}
	c.years[y] = hols
	return hols
}

func joinHoliday(list, name string) string {
	switch {
	case list == "":
		return name
	case strings.Contains(list, name):
		return list
	}
	return list + ", " + name
}

// addBusinessDays moves n business days from d (back when n < 0). d itself need not be one.
func (c *calendar) addBusinessDays(d day, n int) day {
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.add(step)
		if ok, _ := c.workday(d); ok {
			n--
		}
	}
	return d
}

// businessDaysBetween counts the business days after a up to and including b; negative when b
// is before a.
func (c *calendar) businessDaysBetween(a, b day) int {
	sign := 1
	if b.before(a) {
		a, b, sign = b, a, -1
	}
	n := 0
	for d := a; d.before(b); {
		d = d.add(1)
		if ok, _ := c.workday(d); ok {
			n++
		}
	}
	return sign * n
}

// addMonths moves n calendar months, landing on the last day of the month when it is
// shorter: 31 January plus one month is 28 (or 29) February.
func addMonths(d day, n int) day {
	first := time.Date(d.y, d.m+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return day{first.Year(), first.Month(), min(d.d, last)}
}

// monthsBetween counts the whole months from a to b: the largest n for which a plus n months
// is not after b (for b before a, the negative count the other way).
func monthsBetween(a, b day) int {
	n := (b.y-a.y)*12 + int(b.m) - int(a.m)
	switch {
	case n > 0 && b.before(addMonths(a, n)):
		n--
	case n < 0 && addMonths(a, n).before(b):
		n++
	}
	return n
}

// daysBetween counts the calendar days from a to b.
func daysBetween(a, b day) int {
	ta := time.Date(a.y, a.m, a.d, 12, 0, 0, 0, time.UTC)
	tb := time.Date(b.y, b.m, b.d, 12, 0, 0, 0, time.UTC)
	return int(tb.Sub(ta).Hours()) / 24
}
