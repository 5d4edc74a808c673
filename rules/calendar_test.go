package rules

import (
	"strings"
	"testing"
	"time"
)

func mustDay(s string) day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return dayOf(t)
}

func (d day) String() string {
	return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// TestAddBusinessDays checks business days against the published holidays of each country.
func TestAddBusinessDays(t *testing.T) {
	for _, tt := range []struct {
		cals []string
		from string
		n    int
		want string
		why  string
	}{
		{nil, "2026-11-27", 1, "2026-11-30", "no calendar: Friday to Monday"},
		{nil, "2026-11-25", 1, "2026-11-26", "no calendar: Thanksgiving is a business day"},
		{[]string{"us"}, "2026-11-25", 1, "2026-11-27", "Thanksgiving"},
		{[]string{"us"}, "2026-12-24", 1, "2026-12-28", "Christmas on a Friday"},
		{[]string{"us"}, "2026-07-02", 1, "2026-07-06", "4 July on a Saturday, observed Friday 3"},
		{[]string{"us"}, "2021-12-30", 1, "2022-01-03", "1 January 2022 a Saturday, observed Friday 31 December 2021"},
		{[]string{"us"}, "2026-11-30", -2, "2026-11-25", "back over Thanksgiving"},
		{[]string{"us"}, "2026-11-28", 1, "2026-11-30", "from a Saturday"},
		{[]string{"us"}, "2026-12-31", 1, "2027-01-04", "New Year's Day 2027"},
		{[]string{"gb"}, "2026-12-24", 1, "2026-12-29", "Christmas, and Boxing Day observed Monday 28"},
		{[]string{"gb"}, "2026-04-02", 1, "2026-04-07", "Good Friday and Easter Monday"},
		{[]string{"gb"}, "2026-11-25", 1, "2026-11-26", "no Thanksgiving in the UK"},
		{[]string{"jp"}, "2026-04-28", 1, "2026-04-30", "Showa Day"},
		{[]string{"jp"}, "2026-05-01", 1, "2026-05-07", "Golden Week, with the substitute holiday of 6 May"},
		{[]string{"jp"}, "2026-09-18", 1, "2026-09-24", "Respect for the Aged Day, the day between, Autumnal Equinox"},
		{[]string{"us", "gb"}, "2026-12-24", 1, "2026-12-29", "combined: both Christmases"},
		{[]string{"us", "gb"}, "2026-11-25", 1, "2026-11-27", "combined: Thanksgiving from us"},
		{[]string{"us", "jp"}, "2026-11-02", 1, "2026-11-04", "combined: Culture Day from jp"},
		{[]string{"us", "gb", "jp"}, "2026-11-20", 5, "2026-12-01", "combined: Labour Thanksgiving (jp, 23), Thanksgiving (us, 26)"},
		{[]string{"au"}, "2026-04-24", 1, "2026-04-27", "Anzac Day on a Saturday is not moved nationally"},
		{[]string{"fi"}, "2026-06-18", 1, "2026-06-22", "Midsummer Eve, Friday 19 June"},
		{[]string{"fi"}, "2026-12-04", 1, "2026-12-07", "Independence Day on a Sunday is not moved"},
	} {
		c := newCalendar(tt.cals)
		if got := c.addBusinessDays(mustDay(tt.from), tt.n); got != mustDay(tt.want) {
			t.Errorf("%v: %s %+dbd = %s, want %s (%s)", tt.cals, tt.from, tt.n, got, tt.want, tt.why)
		}
	}
}

// TestBusinessDaysByCountry: the countries accounts live in, against their published
// holidays of 2026 (Easter is 5 April).
func TestBusinessDaysByCountry(t *testing.T) {
	for _, tt := range []struct {
		country  string
		from     string
		n        int
		want     string
		holidays string // what the days skipped are
	}{
		{"br", "2026-02-16", 1, "2026-02-18", "Carnaval"},
		{"br", "2026-02-18", -1, "2026-02-16", "Carnaval"},
		{"br", "2026-04-20", 1, "2026-04-22", "Tiradentes"},
		{"br", "2026-04-02", 1, "2026-04-06", "Sexta-feira Santa; Easter Monday is a business day"},
		{"br", "2026-06-03", 1, "2026-06-05", "Corpus Christi"},
		{"br", "2026-11-25", 1, "2026-11-26", "no Thanksgiving in Brazil"},
		{"de", "2026-04-02", 1, "2026-04-07", "Karfreitag, Ostermontag"},
		{"de", "2026-05-13", 1, "2026-05-15", "Christi Himmelfahrt"},
		{"de", "2026-05-22", 1, "2026-05-26", "Pfingstmontag"},
		{"de", "2026-11-25", 1, "2026-11-26", "no Thanksgiving in Germany"},
		{"jp", "2026-01-09", 1, "2026-01-13", "Coming of Age Day"},
		{"jp", "2026-02-10", 1, "2026-02-12", "National Foundation Day"},
		{"jp", "2026-03-19", 1, "2026-03-23", "Vernal Equinox Day"},
	} {
		c := newCalendar([]string{tt.country})
		if got := c.addBusinessDays(mustDay(tt.from), tt.n); got != mustDay(tt.want) {
			t.Errorf("%s: %s %+dbd = %s, want %s (%s)", tt.country, tt.from, tt.n, got, tt.want, tt.holidays)
		}
	}
}

// TestCountryCode: a country as Salesforce stores it, a code or a name in any case, finds its
// calendar; anything else finds none, and the playbook's default applies.
func TestCountryCode(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"BR", "br"},
		{"br", "br"},
		{"Brazil", "br"},
		{"BRAZIL", "br"},
		{"Brasil", "br"},
		{" Brazil ", "br"},
		{"DE", "de"},
		{"Germany", "de"},
		{"deutschland", "de"},
		{"JP", "jp"},
		{"Japan", "jp"},
		{"US", "us"},
		{"United States", "us"},
		{"united states of america", "us"},
		{"USA", "us"},
		{"GB", "gb"},
		{"United Kingdom", "gb"},
		{"UK", "gb"},
		{"Österreich", "at"},
		{"ÖSTERREICH", "at"},
		{"Czech Republic", "cz"},
		{"", ""},
		{"   ", ""},
		{"Atlantis", ""},
		{"XX", ""},
		{"EN", ""},
		{"Brazil, Japan", ""},
		{"United  States", ""},
		{strings.Repeat("Brazil", 20), ""},
	} {
		if got := countryCode(tt.in); got != tt.want {
			t.Errorf("countryCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { countryCode("Germany") }); n != 0 {
		t.Errorf("countryCode allocates %v times, want 0: it runs for every case of every cycle", n)
	}
}

// TestCountries: every country has holidays, every year, and its code and names find it and
// no other country.
func TestCountries(t *testing.T) {
	for code, c := range countries {
		for _, name := range append([]string{code, strings.ToUpper(code)}, c.names...) {
			if got := countryCode(name); got != code {
				t.Errorf("%s: countryCode(%q) = %q", code, name, got)
			}
		}
		cal := newCalendar([]string{code})
		for y := 2000; y <= 2060; y++ {
			if n := len(cal.year(y)); n < 4 {
				t.Errorf("%s: %d holidays in %d", code, n, y)
			}
		}
	}
}

func TestWorkdayWhy(t *testing.T) {
	c := newCalendar([]string{"us", "gb"})
	for _, tt := range []struct{ day, why string }{
		{"2026-11-28", "weekend"},
		{"2026-11-26", "Thanksgiving Day (us)"},
		{"2026-12-25", "Christmas Day (us), Christmas Day (gb)"},
		{"2026-12-28", "Boxing Day (gb)"},
	} {
		ok, why := c.workday(mustDay(tt.day))
		if ok || why != tt.why {
			t.Errorf("%s: workday %v %q, want false %q", tt.day, ok, why, tt.why)
		}
	}
	if ok, why := c.workday(mustDay("2026-11-27")); !ok || why != "" {
		t.Errorf("2026-11-27: workday %v %q, want true", ok, why)
	}
}

func TestBetween(t *testing.T) {
	us := newCalendar([]string{"us"})
	for _, tt := range []struct {
		a, b                string
		months, days, bdays int
	}{
		{"2026-01-31", "2026-02-28", 1, 28, 19}, // Presidents' Day,
		{"2026-01-31", "2026-02-27", 0, 27, 19},
		{"2025-12-15", "2026-11-15", 11, 335, 229},
		{"2025-12-15", "2026-11-14", 10, 334, 229},
		{"2026-11-25", "2026-11-30", 0, 5, 2},
		{"2026-11-30", "2026-11-25", 0, -5, -2},
		{"2026-03-31", "2026-01-31", -2, -59, -41},
		{"2026-03-31", "2026-02-28", -1, -31, -22},
		{"2026-05-10", "2026-05-10", 0, 0, 0},
	} {
		a, b := mustDay(tt.a), mustDay(tt.b)
		if got := monthsBetween(a, b); got != tt.months {
			t.Errorf("monthsBetween(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.months)
		}
		if got := daysBetween(a, b); got != tt.days {
			t.Errorf("daysBetween(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.days)
		}
		if got := us.businessDaysBetween(a, b); got != tt.bdays {
			t.Errorf("businessDaysBetween(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.bdays)
		}
	}
}

func TestAddMonths(t *testing.T) {
	for _, tt := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-01-31", 1, "2026-02-28"},
		{"2028-01-31", 1, "2028-02-29"},
		{"2026-03-31", -1, "2026-02-28"},
		{"2026-08-31", 1, "2026-09-30"},
		{"2026-11-30", 3, "2027-02-28"},
		{"2026-05-15", 12, "2027-05-15"},
		{"2026-05-15", -17, "2024-12-15"},
	} {
		if got := addMonths(mustDay(tt.from), tt.n); got != mustDay(tt.want) {
			t.Errorf("%s %+dmo = %s, want %s", tt.from, tt.n, got, tt.want)
		}
	}
}
