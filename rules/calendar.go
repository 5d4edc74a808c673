package rules

import (
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/aa"
	"github.com/rickar/cal/v2/ar"
	"github.com/rickar/cal/v2/at"
	"github.com/rickar/cal/v2/au"
	"github.com/rickar/cal/v2/be"
	"github.com/rickar/cal/v2/bg"
	"github.com/rickar/cal/v2/br"
	"github.com/rickar/cal/v2/ca"
	"github.com/rickar/cal/v2/ch"
	"github.com/rickar/cal/v2/cz"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/dk"
	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/gr"
	"github.com/rickar/cal/v2/hr"
	"github.com/rickar/cal/v2/ie"
	"github.com/rickar/cal/v2/it"
	"github.com/rickar/cal/v2/jp"
	"github.com/rickar/cal/v2/lt"
	"github.com/rickar/cal/v2/lv"
	"github.com/rickar/cal/v2/mw"
	"github.com/rickar/cal/v2/nc"
	"github.com/rickar/cal/v2/nl"
	"github.com/rickar/cal/v2/no"
	"github.com/rickar/cal/v2/nz"
	"github.com/rickar/cal/v2/pl"
	"github.com/rickar/cal/v2/ro"
	"github.com/rickar/cal/v2/ru"
	"github.com/rickar/cal/v2/se"
	"github.com/rickar/cal/v2/si"
	"github.com/rickar/cal/v2/sk"
	"github.com/rickar/cal/v2/ua"
	"github.com/rickar/cal/v2/us"
	"github.com/rickar/cal/v2/za"
)

// country is a country whose national holidays casebot knows.
type country struct {
	names    []string // as Salesforce and people write it, besides its code
	holidays []*cal.Holiday
}

// countries are the calendars `calendar:` may name, by ISO 3166 alpha-2 code in lower case:
// every country of rickar/cal.
//
// rickar/cal has no national list for Australia (only one per state): "au" is the holidays
// every state observes. It has no Finnish calendar: "fi" is Finland's public holidays that
// can fall on a weekday, built from its shared definitions.
var countries = map[string]country{
	"ar": {[]string{"Argentina"}, ar.Holidays},
	"at": {[]string{"Austria", "Österreich"}, at.Holidays},
	"au": {[]string{"Australia"}, []*cal.Holiday{au.NewYear, au.AustraliaDay, au.GoodFriday, au.EasterMonday,
		au.AnzacDay, au.ChristmasDay, au.BoxingDay}},
	"be": {[]string{"Belgium", "België", "Belgique"}, be.Holidays},
	"bg": {[]string{"Bulgaria"}, bg.Holidays},
	"br": {[]string{"Brazil", "Brasil"}, br.Holidays},
	"ca": {[]string{"Canada"}, ca.Holidays},
	"ch": {[]string{"Switzerland", "Schweiz", "Suisse", "Svizzera"}, ch.Holidays},
	"cz": {[]string{"Czechia", "Czech Republic", "Česko"}, cz.Holidays},
	"de": {[]string{"Germany", "Deutschland"}, de.Holidays},
	"dk": {[]string{"Denmark", "Danmark"}, dk.Holidays},
	"es": {[]string{"Spain", "España"}, es.Holidays},
	"fi": {[]string{"Finland", "Suomi"}, []*cal.Holiday{aa.NewYear, aa.Epiphany, aa.GoodFriday, aa.EasterMonday,
		aa.WorkersDay, aa.AscensionDay,
		{Name: "Midsummer Eve", Month: time.June, Day: 19, Weekday: time.Friday, Offset: 1, Func: cal.CalcWeekdayFrom},
		{Name: "Independence Day", Month: time.December, Day: 6, Func: cal.CalcDayOfMonth},
		{Name: "Christmas Eve", Month: time.December, Day: 24, Func: cal.CalcDayOfMonth},
		aa.ChristmasDay, aa.ChristmasDay2}},
	"fr": {[]string{"France"}, fr.Holidays},
	"gb": {[]string{"United Kingdom", "Great Britain", "UK"}, gb.Holidays},
	"gr": {[]string{"Greece"}, gr.Holidays},
	"hr": {[]string{"Croatia", "Hrvatska"}, hr.Holidays},
	"ie": {[]string{"Ireland", "Republic of Ireland", "Éire"}, ie.Holidays},
	"it": {[]string{"Italy", "Italia"}, it.Holidays},
	"jp": {[]string{"Japan"}, jp.Holidays},
	"lt": {[]string{"Lithuania", "Lietuva"}, lt.Holidays},
	"lv": {[]string{"Latvia", "Latvija"}, lv.Holidays},
	"mw": {[]string{"Malawi"}, mw.Holidays},
	"nc": {[]string{"New Caledonia", "Nouvelle-Calédonie"}, nc.Holidays},
	"nl": {[]string{"Netherlands", "The Netherlands", "Nederland"}, nl.Holidays},
	"no": {[]string{"Norway", "Norge"}, no.Holidays},
	"nz": {[]string{"New Zealand"}, nz.Holidays},
	"pl": {[]string{"Poland", "Polska"}, pl.Holidays},
	"ro": {[]string{"Romania", "România"}, ro.Holidays},
	"ru": {[]string{"Russia", "Russian Federation"}, ru.Holidays},
	"se": {[]string{"Sweden", "Sverige"}, se.Holidays},
	"si": {[]string{"Slovenia", "Slovenija"}, si.Holidays},
	"sk": {[]string{"Slovakia", "Slovensko"}, sk.Holidays},
	"ua": {[]string{"Ukraine"}, ua.Holidays},
	"us": {[]string{"United States", "United States of America", "USA"}, us.Holidays},
	"za": {[]string{"South Africa"}, za.Holidays},
}

// calendarNames lists the calendars in the order error messages name them.
var calendarNames = slices.Sorted(func(yield func(string) bool) {
	for n := range countries {
		if !yield(n) {
			return
		}
	}
})

// countryIndex maps every code and name of countries, folded by countryKey, to its code.
var countryIndex = func() map[string]string {
	m := map[string]string{}
	for code, c := range countries {
		for _, n := range append([]string{code}, c.names...) {
			m[string(countryKey(nil, n))] = code
		}
	}
	return m
}()

// countryKey folds a country as written: trimmed, in lower case. It appends to buf, so that a
// lookup with a buffer on the stack does not allocate.
func countryKey(buf []byte, s string) []byte {
	for _, r := range strings.TrimSpace(s) {
		buf = utf8.AppendRune(buf, unicode.ToLower(r))
	}
	return buf
}

// countryCode returns the calendar of a country as Salesforce stores it, an ISO 3166 alpha-2
// code or a name in any case ("BR", "brazil"), or "" when casebot has none. It runs for every
// case of every cycle, so it does not allocate.
func countryCode(s string) string {
	var buf [64]byte
	if len(s) > len(buf) {
		return "" // longer than any name
	}
	return countryIndex[string(countryKey(buf[:0], s))]
}

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
	name     string // the names joined with "+", as reasons show it
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
	c := &calendar{names: names, name: strings.Join(names, "+"), years: map[int]map[day]string{}}
	for _, n := range names {
		for _, h := range countries[n].holidays {
			c.holidays = append(c.holidays, holiday{h.Clone(nil), n})
		}
	}
	return c
}

// countryCalendars returns a calendar for each country, by code: a playbook that reads the
// calendar from a field has them all ready, so that no evaluation waits to build one.
func countryCalendars() map[string]*calendar {
	m := make(map[string]*calendar, len(countries))
	for code := range countries {
		m[code] = newCalendar([]string{code})
	}
	return m
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
