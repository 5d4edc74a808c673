package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
)

// DateOrder says how a date written in numbers only, like 03/04/2026, is read: day first or
// month first. Nothing in such a date says which, so intake reads one only when its rule says.
type DateOrder string

const (
	DMY DateOrder = "dmy" // 31/12/2026, 31.12.2026
	MDY DateOrder = "mdy" // 12/31/2026
)

var dateOrders = []DateOrder{DMY, MDY}

// The written forms of a date ReadDate knows. Month names are English, in full or in three
// letters (and "Sept").
const monthNames = `january|february|march|april|may|june|july|august|september|october|november|december|` +
	`jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec`

var (
	isoDateRE     = regexp.MustCompile(`\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:T|\b)`)
	numericDateRE = regexp.MustCompile(`\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})\b`)
	dayMonthRE    = regexp.MustCompile(`(?i)\b(\d{1,2})(?:st|nd|rd|th)?\.?\s+(?:of\s+)?(` + monthNames + `)\b\.?,?\s+(\d{4})\b`)
	monthDayRE    = regexp.MustCompile(`(?i)\b(` + monthNames + `)\b\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b,?\s+(\d{4})\b`)
)

// ReadDate finds the first date written in s and returns it as the midnight UTC of that day:
// 2026-12-31 (or 2026/12/31), 31 December 2026 (31st Dec. 2026, 31 of December, 2026),
// December 31, 2026 (Dec 31st 2026), and with order 31/12/2026 or 12/31/2026 (with dots or
// dashes too). Years have four digits. When it finds none, or the first one it finds is no
// day of the calendar or is all numbers and order is "", it says why.
func ReadDate(s string, order DateOrder) (time.Time, error) {
	type found struct {
		at   int
		form *regexp.Regexp
		m    []string
	}
	var first *found
	for _, re := range []*regexp.Regexp{isoDateRE, numericDateRE, dayMonthRE, monthDayRE} {
		loc := re.FindStringSubmatchIndex(s)
		if loc == nil || first != nil && loc[0] >= first.at {
			continue
		}
		m := make([]string, len(loc)/2)
		for i := range m {
			m[i] = s[loc[2*i]:loc[2*i+1]]
		}
		first = &found{loc[0], re, m}
	}
	if first == nil {
		return time.Time{}, fmt.Errorf("no date in %q", clip(s))
	}
	m := first.m
	var y, mo, d string
	switch first.form {
	case isoDateRE:
		y, mo, d = m[1], m[2], m[3]
	case numericDateRE:
		switch order {
		case DMY:
			d, mo, y = m[1], m[2], m[3]
		case MDY:
			mo, d, y = m[1], m[2], m[3]
		default:
			return time.Time{}, fmt.Errorf("%q may be day/month or month/day: the rule sets no date_order", m[0])
		}
	case dayMonthRE:
		d, mo, y = m[1], month(m[2]), m[3]
	default:
		mo, d, y = month(m[1]), m[2], m[3]
	}
	yi, _ := strconv.Atoi(y)
	mi, _ := strconv.Atoi(mo)
	di, _ := strconv.Atoi(d)
	t := time.Date(yi, time.Month(mi), di, 0, 0, 0, 0, time.UTC)
	// Salesforce keeps dates from 1700 to 4000.
	if t.Year() != yi || int(t.Month()) != mi || t.Day() != di || yi < 1700 || yi > 4000 {
		return time.Time{}, fmt.Errorf("%q is no day of the calendar", m[0])
	}
	return t, nil
}

// month returns the number of a month name, as text.
func month(name string) string {
	name = strings.ToLower(name)
	for i, full := range strings.Split(monthNames, "|")[:12] {
		if strings.HasPrefix(full, name[:3]) {
			return strconv.Itoa(i + 1)
		}
	}
	return "0"
}

// clip shortens a text quoted in a note.
func clip(s string) string {
	return bot.Truncate(bot.Printable(strings.TrimSpace(s)), 80, "…")
}
