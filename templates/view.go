package templates

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"casebot/bot"
)

// view is a template's dot. Its fields are unexported, so templates reach Data only through
// the methods below, each of which returns text made safe by the view's style.
type view struct {
	d     Data
	style style
}

// style is how values are written into one kind of message.
type style struct {
	text func(string) string            // makes a value safe to insert
	link func(url, label string) string // url and label are already made safe by text
}

var (
	slackStyle = style{text: bot.EscapeMrkdwn, link: func(url, label string) string {
		// "|" would end the URL of a Slack link early.
		return "<" + strings.ReplaceAll(url, "|", "%7C") + "|" + label + ">"
	}}
	plainStyle   = style{text: plainText, link: func(url, label string) string { return label + " (" + url + ")" }}
	subjectStyle = style{text: oneLine, link: func(_, label string) string { return label }}
)

// SlackText is untrusted text (a mail's sender or subject) made safe in a Slack message: no
// mention, no link, on one line.
func SlackText(s string) string { return bot.EscapeMrkdwn(oneLine(s)) }

// plainText keeps a value's lines and tabs and drops every other control character, and the
// invisible characters that reorder text (a file name "gpj.exe" shown as "exe.jpg"). Line
// breaks of every kind become "\n".
func plainText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			return '\n'
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}

// oneLine flattens a value to one line: every run of spaces and line breaks becomes one space,
// and control characters are dropped.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

const (
	dateFormat     = "Mon 2 Jan 2006"
	dateTimeFormat = "Mon 2 Jan 2006 15:04 MST"
)

// Case returns a field of the case.
func (v view) Case(field string) (string, error) {
	return v.fieldText(v.d.Case.Fields, "case", field)
}

// Account returns a field of the case's account, or "" when the case has no account.
func (v view) Account(field string) (string, error) {
	if v.d.Case.Account == nil {
		return "", nil
	}
	return v.fieldText(v.d.Case.Account.Fields, "account", field)
}

// Date returns a date or datetime field of the case, readably and in the case's time zone;
// "" when the field is empty.
func (v view) Date(field string) (string, error) {
	return v.dateText(v.d.Case.Fields, "case", field)
}

// AccountDate is Date for a field of the case's account; "" when the case has no account.
func (v view) AccountDate(field string) (string, error) {
	if v.d.Case.Account == nil {
		return "", nil
	}
	return v.dateText(v.d.Case.Account.Fields, "account", field)
}

// CaseRef is the case number, linked to the case in Salesforce when its URL is known.
func (v view) CaseRef() (string, error) {
	number, err := v.Case("CaseNumber")
	if err != nil || v.d.CaseURL == "" {
		return number, err
	}
	return v.style.link(v.style.text(v.d.CaseURL), number), nil
}

func (v view) Playbook() string  { return v.style.text(v.d.Playbook) }
func (v view) Step() string      { return v.style.text(v.d.Step) }
func (v view) StepTitle() string { return v.style.text(v.d.StepTitle) }
func (v view) NextStep() string  { return v.style.text(v.d.NextStep) }

// Gate is what a waiting step waits for, in words ("" unless the message is a reminder).
func (v view) Gate() string { return v.style.text(v.d.Gate) }

// Problem is the error an action failed with for good ("" unless the message reports one).
func (v view) Problem() string { return v.style.text(v.d.Problem) }

// Due is when the step became due; NextDue when the next step is due; Now when the message is
// sent ("" when unknown).
func (v view) Due() string     { return v.when(v.d.Due) }
func (v view) NextDue() string { return v.when(v.d.NextDue) }
func (v view) Now() string     { return v.when(v.d.Now) }

// Today is the day the message is sent (the step's date when that is unknown), in the case's
// time zone: "Tue 14 Apr 2026".
func (v view) Today() string { return v.sent().In(v.loc()).Format(dateFormat) }

// Passed reports whether a date or datetime field of the case lies before the message is sent:
// a datetime before that instant, a date before that day in the case's time zone. An empty
// field has not passed. Templates use it to word a date that was ahead when the step was
// planned and is not any more (a late case, a step held back by a gate).
func (v view) Passed(field string) (bool, error) {
	st, err := v.stamp(v.d.Case.Fields, "case", field)
	if err != nil || st.t.IsZero() {
		return false, err
	}
	sent := v.sent().In(v.loc())
	if st.dateOnly {
		y, m, d := sent.Date()
		return st.t.Before(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)), nil
	}
	return st.t.Before(sent), nil
}

// sent is when the message is sent: Now, or the step's date when the caller does not say.
func (v view) sent() time.Time {
	if v.d.Now.IsZero() {
		return v.d.Due
	}
	return v.d.Now
}

func (v view) loc() *time.Location {
	if v.d.Location == nil {
		return time.UTC
	}
	return v.d.Location
}

func (v view) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(v.loc()).Format(dateTimeFormat)
}

// lookup returns a field's value; a field the record does not carry is an error, never "".
func lookup(fields bot.Fields, record, field string) (any, error) {
	raw, ok := fields[field]
	if !ok {
		return nil, fmt.Errorf("%s field %s is not in the record", record, field)
	}
	return raw, nil
}

func (v view) dateText(fields bot.Fields, record, field string) (string, error) {
	st, err := v.stamp(fields, record, field)
	switch {
	case err != nil || st.t.IsZero():
		return "", err
	case st.dateOnly:
		return st.t.Format(dateFormat), nil
	}
	return v.when(st.t), nil
}

// stamp is the value of a date or datetime field; t is zero when the field is empty. A date
// has no time zone, being the same day everywhere: t is its midnight in UTC.
type stamp struct {
	t        time.Time
	dateOnly bool
}

func (v view) stamp(fields bot.Fields, record, field string) (stamp, error) {
	raw, err := lookup(fields, record, field)
	if err != nil || raw == nil {
		return stamp{}, err
	}
	s, ok := raw.(string)
	switch {
	case !ok:
		return stamp{}, fmt.Errorf("%s field %s is a %T, not a date", record, field, raw)
	case s == "":
		return stamp{}, nil
	}
	if d, err := time.Parse(bot.DateLayout, s); err == nil {
		return stamp{t: d, dateOnly: true}, nil
	}
	t, err := time.Parse(bot.DateTimeLayout, s)
	if err != nil {
		return stamp{}, fmt.Errorf("%s field %s: %q is neither a date nor a datetime", record, field, v.style.text(s))
	}
	return stamp{t: t}, nil
}

func (v view) fieldText(fields bot.Fields, record, field string) (string, error) {
	raw, err := lookup(fields, record, field)
	if err != nil || raw == nil {
		return "", err
	}
	switch raw := raw.(type) {
	case string:
		return v.style.text(raw), nil
	case bool:
		if raw {
			return "yes", nil
		}
		return "no", nil
	case float64:
		return strconv.FormatFloat(raw, 'f', -1, 64), nil
	default:
		return v.style.text(fmt.Sprint(raw)), nil
	}
}
