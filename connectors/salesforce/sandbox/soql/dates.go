package soql

import "time"

type dateUnit int

const (
	unitDay dateUnit = iota
	unitWeek
	unitMonth
	unitQuarter
	unitYear
)

// dateLiteral describes a relative date literal as a run of whole units: it starts start units
// after the current one and lasts count units (n is the literal's :n, 0 for plain literals).
type dateLiteral struct {
	takesN bool
	unit   dateUnit
	span   func(n int) (start, count int)
}

func fixed(start, count int) func(int) (int, int) {
	return func(int) (int, int) { return start, count }
}

func lastN(n int) (int, int)     { return -n, n }
func nextN(n int) (int, int)     { return 1, n }
func nAgo(n int) (int, int)      { return -n, 1 }
func lastNDays(n int) (int, int) { return -n, n + 1 } // Salesforce counts today in LAST_N_DAYS

// dateLiterals are Salesforce's relative date literals. The fiscal ones assume the default
// fiscal year, which starts in January and so matches the calendar.
var dateLiterals = func() map[string]dateLiteral {
	m := map[string]dateLiteral{
		"YESTERDAY":    {unit: unitDay, span: fixed(-1, 1)},
		"TODAY":        {unit: unitDay, span: fixed(0, 1)},
		"TOMORROW":     {unit: unitDay, span: fixed(1, 1)},
		"LAST_90_DAYS": {unit: unitDay, span: fixed(-90, 91)},
		"NEXT_90_DAYS": {unit: unitDay, span: fixed(1, 90)},
		"LAST_N_DAYS":  {takesN: true, unit: unitDay, span: lastNDays},
		"NEXT_N_DAYS":  {takesN: true, unit: unitDay, span: nextN},
		"N_DAYS_AGO":   {takesN: true, unit: unitDay, span: nAgo},
	}
	units := map[string]dateUnit{"WEEK": unitWeek, "MONTH": unitMonth, "QUARTER": unitQuarter,
		"YEAR": unitYear, "FISCAL_QUARTER": unitQuarter, "FISCAL_YEAR": unitYear}
	for name, u := range units {
		m["LAST_"+name] = dateLiteral{unit: u, span: fixed(-1, 1)}
		m["THIS_"+name] = dateLiteral{unit: u, span: fixed(0, 1)}
		m["NEXT_"+name] = dateLiteral{unit: u, span: fixed(1, 1)}
		m["LAST_N_"+name+"S"] = dateLiteral{takesN: true, unit: u, span: lastN}
		m["NEXT_N_"+name+"S"] = dateLiteral{takesN: true, unit: u, span: nextN}
		m["N_"+name+"S_AGO"] = dateLiteral{takesN: true, unit: u, span: nAgo}
	}
	return m
}()

// dateRange returns the half-open range [from, to) of midnights in loc that a relative date
// literal denotes at now. Weeks start on Sunday, as in Salesforce's default (en_US) locale.
func dateRange(l Literal, now time.Time, loc *time.Location) (from, to time.Time) {
	d := dateLiterals[l.Name]
	y, m, day := now.In(loc).Date()
	var unitStart time.Time
	switch d.unit {
	case unitDay:
		unitStart = time.Date(y, m, day, 0, 0, 0, 0, loc)
	case unitWeek:
		wd := int(time.Date(y, m, day, 0, 0, 0, 0, loc).Weekday())
		unitStart = time.Date(y, m, day-wd, 0, 0, 0, 0, loc)
	case unitMonth:
		unitStart = time.Date(y, m, 1, 0, 0, 0, 0, loc)
	case unitQuarter:
		unitStart = time.Date(y, (m-1)/3*3+1, 1, 0, 0, 0, 0, loc)
	case unitYear:
		unitStart = time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	}
	start, count := d.span(l.N)
	return shift(unitStart, d.unit, start), shift(unitStart, d.unit, start+count)
}

// shift moves a unit start by n units, staying at midnight in its location.
func shift(t time.Time, u dateUnit, n int) time.Time {
	y, m, d := t.Date()
	switch u {
	case unitWeek:
		d += 7 * n
	case unitMonth:
		m += time.Month(n)
	case unitQuarter:
		m += time.Month(3 * n)
	case unitYear:
		y += n
	default:
		d += n
	}
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}
