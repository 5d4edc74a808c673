package rules

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	// Time zones are the heart of a step's date: carry the database so that a minimal
	// container without /usr/share/zoneinfo computes the same dates.
	_ "time/tzdata"

	"casebot/bot"
)

// maxOffset bounds offsets so that date arithmetic cannot overflow: about 270 years in days.
const maxOffset = 100_000

// posError is a problem at a 0-based column of a one-line text.
type posError struct {
	col int
	msg string
}

// parseAt parses `<date> [+|- <n><unit>]`.
func parseAt(s string) (string, Offset, *posError) {
	i := skipSpaces(s, 0)
	start := i
	for i < len(s) && (isLetter(s[i]) || s[i] == '_' || (i > start && isDigit(s[i]))) {
		i++
	}
	if i == start {
		return "", Offset{}, &posError{start, `want a date name, as in "day0 + 1d"`}
	}
	name := s[start:i]
	i = skipSpaces(s, i)
	if i == len(s) {
		return name, Offset{}, nil
	}
	sign := 1
	switch s[i] {
	case '+':
	case '-':
		sign = -1
	default:
		return "", Offset{}, &posError{i, fmt.Sprintf("want + or - after %q, got %q", name, s[i:])}
	}
	i = skipSpaces(s, i+1)
	off, n, err := scanOffset(s[i:])
	if err != nil {
		err.col += i
		return "", Offset{}, err
	}
	i = skipSpaces(s, i+n)
	if i != len(s) {
		return "", Offset{}, &posError{i, fmt.Sprintf("unexpected %q", s[i:])}
	}
	off.N *= sign
	return name, off, nil
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
		return Offset{}, 0, &posError{0, "want a number of days (d) or hours (h), as in 1d"}
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n > maxOffset {
		return Offset{}, 0, &posError{0, fmt.Sprintf("offset %s is too large (at most %d)", s[:i], maxOffset)}
	}
	u := i
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	switch unit := Unit(s[u:i]); unit {
	case Days, Hours:
		return Offset{N: n, Unit: unit}, i, nil
	case "":
		return Offset{}, 0, &posError{u, fmt.Sprintf("missing unit after %d: want d (days) or h (hours)", n)}
	default:
		return Offset{}, 0, &posError{u, fmt.Sprintf("unknown unit %q: want d (days) or h (hours)", unit)}
	}
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
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

// zone returns the time zone of case c.
func (p *Playbook) zone(c *bot.Case) *time.Location {
	tz := p.TimeZone
	if tz.Field.Name == "" {
		return tz.Default
	}
	if name, _ := fieldValue(c, tz.Field).(string); name != "" {
		if loc := p.zones.get(name); loc != nil {
			return loc
		}
	}
	return tz.Default
}

// fieldValue returns the value of a field of the case or its account; nil when null or when
// the case has no account.
func fieldValue(c *bot.Case, ref FieldRef) any {
	if ref.Object == ObjectAccount {
		if c.Account == nil {
			return nil
		}
		return c.Account.Fields[ref.Name]
	}
	return c.Fields[ref.Name]
}

// due applies a step's offset to its anchor. A date-only anchor is a day: the step fires at
// RunAt local time on the day the days land on, plus any hours. A datetime anchor keeps its
// instant; days move it by calendar days in loc, keeping the wall-clock time across DST.
func (p *Playbook) due(at At, anchor time.Time, loc *time.Location) time.Time {
	n := at.Offset.N
	if at.Type == TypeDate {
		y, m, d := anchor.Date()
		if at.Offset.Unit == Days {
			d += n
		}
		t := time.Date(y, m, d, p.RunAt.Hour, p.RunAt.Minute, 0, 0, loc)
		if at.Offset.Unit == Hours {
			t = t.Add(time.Duration(n) * time.Hour)
		}
		return t
	}
	t := anchor.In(loc)
	switch at.Offset.Unit {
	case Days:
		return t.AddDate(0, 0, n)
	case Hours:
		return t.Add(time.Duration(n) * time.Hour)
	}
	return t
}

// Zone returns the case's time zone: the one every date of the case is shown and computed in.
func (p *Playbook) Zone(c bot.Case) *time.Location { return p.zone(&c) }
