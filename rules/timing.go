package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	// Time zones are the heart of a step's date: carry the database so that a minimal
	// container without /usr/share/zoneinfo computes the same dates.
	_ "time/tzdata"

	"casebot/bot"
)

// maxOffsets bound offsets so that date arithmetic stays fast and cannot overflow: about 270
// years in days or months of days, 11 in hours, 40 in business days.
var maxOffsets = map[Unit]int{Days: 100_000, Hours: 100_000, BusinessDays: 10_000, Months: 1_200}

// unitsHelp names the units in messages.
const unitsHelp = "d (days), bd (business days), h (hours) or mo (months)"

// posError is a problem at a 0-based column of a one-line text.
type posError struct {
	col int
	msg string
}

// atExpr is an `at` as written: `<date> [+|- <window>] [+|- <n><unit>]`.
type atExpr struct {
	date       string
	window     string // a name under windows:; "" when none
	windowSign int
	windowCol  int // where the window's name starts
	off        Offset
}

// parseAt parses an `at`. A window comes before the offset, so that "day0 + deletion - 5d"
// reads as it counts.
func parseAt(s string) (atExpr, *posError) {
	var a atExpr
	i := skipSpaces(s, 0)
	start := i
	i = scanName(s, i)
	if i == start {
		return a, &posError{start, `want a date name, as in "day0 + 1d"`}
	}
	a.date = s[start:i]
	for i = skipSpaces(s, i); i < len(s); i = skipSpaces(s, i) {
		if a.off.Unit != "" {
			msg := fmt.Sprintf("unexpected %q", s[i:])
			if j := skipSpaces(s, i+1); j < len(s) && (isLetter(s[j]) || s[j] == '_') {
				msg += `: write the window before the offset, as in "day0 + deletion - 5d"`
			}
			return a, &posError{i, msg}
		}
		sign := 1
		switch s[i] {
		case '+':
		case '-':
			sign = -1
		default:
			return a, &posError{i, fmt.Sprintf("want + or - after %q, got %q", strings.TrimSpace(s[:i]), s[i:])}
		}
		i = skipSpaces(s, i+1)
		// A unit alone ("day0 + d") lacks its number: scanOffset says so.
		if j := scanName(s, i); j > i && maxOffsets[Unit(s[i:j])] == 0 {
			if a.window != "" {
				return a, &posError{i, fmt.Sprintf("a second window %q: a date takes one window", s[i:j])}
			}
			a.window, a.windowSign, a.windowCol = s[i:j], sign, i
			i = j
			continue
		}
		off, n, err := scanOffset(s[i:])
		if err != nil {
			err.col += i
			return a, err
		}
		a.off, a.off.N = off, off.N*sign
		i += n
	}
	return a, nil
}

// scanName returns the end of the name (a date's or a window's) that starts at i.
func scanName(s string, i int) int {
	start := i
	for i < len(s) && (isLetter(s[i]) || s[i] == '_' || (i > start && isDigit(s[i]))) {
		i++
	}
	return i
}

// parseOffset parses `<n><unit>` and nothing else, as in a task's `due: 7d`.
func parseOffset(s string) (Offset, bool) {
	off, n, err := scanOffset(s)
	return off, err == nil && n == len(s)
}

// scanOffset reads `<n><unit>` at the start of s and returns how many bytes it used.
func scanOffset(s string) (Offset, int, *posError) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return Offset{}, 0, &posError{0, "want a number and a unit, as in 1d; units: " + unitsHelp}
	}
	digits := s[:i]
	u := i
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	unit := Unit(s[u:i])
	limit, ok := maxOffsets[unit]
	switch {
	case unit == "":
		return Offset{}, 0, &posError{u, fmt.Sprintf("missing unit after %s: want %s", digits, unitsHelp)}
	case !ok:
		return Offset{}, 0, &posError{u, fmt.Sprintf("unknown unit %q: want %s", unit, unitsHelp)}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n > limit {
		return Offset{}, 0, &posError{0, fmt.Sprintf("offset %s%s is too large (at most %d%s)", digits, unit, limit, unit)}
	}
	return Offset{N: n, Unit: unit}, i, nil
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func isLetter(c byte) bool { return isLower(c) || isUpper(c) }
func isLower(c byte) bool  { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool  { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// parseDateTime reads a datetime as Salesforce sends it, or as RFC 3339.
func parseDateTime(s string) (time.Time, error) {
	t, err := time.Parse(bot.DateTimeLayout, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	return t, err
}

// parseTime reads a date or datetime field's value. A date is the local midnight of that day
// in loc.
func parseTime(s string, t FieldType, loc *time.Location) (time.Time, error) {
	if t == TypeDate {
		return time.ParseInLocation(bot.DateLayout, s, loc)
	}
	return parseDateTime(s)
}

// loadZone returns the named IANA zone, or nil. "Local" and "" are refused: they would make a
// case's dates depend on the machine casebot runs on.
func loadZone(name string) *time.Location {
	if name == "" || name == "Local" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// zoneCache remembers loaded zones, and names that are not zones: loading one reads the tz
// database, which every case of every cycle must not do.
type zoneCache struct {
	mu sync.RWMutex
	m  map[string]*time.Location // nil for names that are not zones
}

func newZoneCache() *zoneCache { return &zoneCache{m: map[string]*time.Location{}} }

func (z *zoneCache) get(name string) *time.Location {
	z.mu.RLock()
	loc, ok := z.m[name]
	z.mu.RUnlock()
	if ok {
		return loc
	}
	loc = loadZone(name)
	z.mu.Lock()
	z.m[name] = loc
	z.mu.Unlock()
	return loc
}

// zone returns the time zone of case c and, when its zone field holds a value that is not a
// zone name, that value (the zone is then the default).
func (p *Playbook) zone(c *bot.Case) (*time.Location, string) {
	tz := p.TimeZone
	if tz.Field.Name == "" {
		return tz.Default, ""
	}
	name, _ := FieldValue(c, tz.Field).(string)
	if name == "" {
		return tz.Default, ""
	}
	if loc := p.zones.get(name); loc != nil {
		return loc, ""
	}
	return tz.Default, name
}

// FieldValue returns the value of a field of the case or its account; nil when null or when
// the case has no account.
func FieldValue(c *bot.Case, ref FieldRef) any {
	if ref.Object == ObjectAccount {
		if c.Account == nil {
			return nil
		}
		return c.Account.Fields[ref.Name]
	}
	return c.Fields[ref.Name]
}

// caseCalendar returns the calendar of case c: the calendar of the country its CalendarField
// holds, else the playbook's. Its CaseCalendar says which and why; its Field is zero when the
// playbook has no CalendarField.
func (p *Playbook) caseCalendar(c *bot.Case) (*calendar, CaseCalendar) {
	if p.CalendarField.Name == "" {
		return p.cal, CaseCalendar{}
	}
	v, _ := FieldValue(c, p.CalendarField).(string)
	cc := CaseCalendar{Field: p.CalendarField, Value: v}
	if cal := p.countries[countryCode(v)]; cal != nil {
		cc.Name = cal.name
		return cal, cc
	}
	cc.Name, cc.Default = p.cal.name, true
	return p.cal, cc
}

// unitWords name the units in sentences.
var unitWords = map[Unit]string{Days: "days", BusinessDays: "business days", Hours: "hours", Months: "months"}

// value returns what the window comes to for case c, its sign applied. ok is false when the
// field holds what cannot be a window: not a whole number, or not from Min to Max. A window
// read from a field someone types must not make a step act early, or never.
func (w *Window) value(c *bot.Case, sign int) (v WindowValue, ok bool) {
	v = WindowValue{Window: w, Value: FieldValue(c, w.Field), Offset: w.Default}
	if v.Value == "" {
		v.Value = nil
	}
	var f float64
	switch n := v.Value.(type) {
	case nil:
		v.Offset.N *= sign
		return v, true
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	default:
		return v, false
	}
	if f != math.Trunc(f) || f < float64(w.Min) || f > float64(w.Max) {
		return v, false
	}
	v.Offset.N = sign * int(f)
	return v, true
}

// appendWant writes what the window's field may hold: "a whole number of days from 7 to 365,
// or blank for 30d".
func (w *Window) appendWant(b []byte) []byte {
	b = append(b, "a whole number of "...)
	b = append(b, unitWords[w.Default.Unit]...)
	b = append(b, " from "...)
	b = strconv.AppendInt(b, int64(w.Min), 10)
	b = append(b, " to "...)
	b = strconv.AppendInt(b, int64(w.Max), 10)
	b = append(b, ", or blank for "...)
	b = strconv.AppendInt(b, int64(w.Default.N), 10)
	return append(b, w.Default.Unit...)
}

// due applies a step's window (what it came to for the case) and offset to its anchor, in the
// case's zone and calendar. A date-only anchor is a day: the step fires at RunAt local time on
// that day, moved by the window and the offset. A datetime anchor keeps its instant.
func (p *Playbook) due(at At, anchor time.Time, loc *time.Location, cal *calendar, window Offset) time.Time {
	if at.Type == TypeDate {
		y, m, d := anchor.Date()
		anchor = time.Date(y, m, d, p.RunAt.Hour, p.RunAt.Minute, 0, 0, loc)
	}
	return cal.add(cal.add(anchor.In(loc), window), at.Offset)
}

// add moves t (in the case's zone) by an offset: days, business days and months keep the
// local wall-clock time across DST changes; hours are elapsed time.
func (c *calendar) add(t time.Time, off Offset) time.Time {
	switch off.Unit {
	case Days:
		return t.AddDate(0, 0, off.N)
	case BusinessDays:
		return c.addBusinessDays(dayOf(t), off.N).at(t, t.Location())
	case Months:
		return addMonths(dayOf(t), off.N).at(t, t.Location())
	case Hours:
		return t.Add(time.Duration(off.N) * time.Hour)
	}
	return t
}

// shift moves t off a non-working day as rule says, keeping its local time of day.
func (c *calendar) shift(t time.Time, rule NonWorking) (time.Time, Shift) {
	if rule == Keep || rule == "" {
		return t, Shift{}
	}
	d := dayOf(t)
	ok, why := c.workday(d)
	if ok {
		return t, Shift{}
	}
	step := 1
	if rule == Earlier {
		step = -1
	}
	for !ok {
		d = d.add(step)
		ok, _ = c.workday(d)
	}
	to := d.at(t, t.Location())
	return to, Shift{From: t, To: to, Rule: rule, Why: why}
}

// Zone returns the case's time zone: the one every date of the case is shown and computed in.
func (p *Playbook) Zone(c bot.Case) *time.Location {
	loc, _ := p.zone(&c)
	return loc
}
