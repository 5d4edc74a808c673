package templates

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
)

// view is a template's dot. Its fields are unexported, so templates reach Data only through
// the methods below, each of which returns text escaped for Slack mrkdwn.
type view struct{ d Data }

// mrkdwn escapes the three characters Slack treats as control sequences ("<!channel>",
// "<@U123>", "<url|label>") and nothing else, as Slack asks.
var mrkdwn = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

const (
	dateFormat     = "Mon 2 Jan 2006"
	dateTimeFormat = "Mon 2 Jan 2006 15:04 MST"
)

// Case returns a field of the case.
func (v view) Case(field string) (string, error) {
	return fieldText(v.d.Case.Fields, "case", field)
}

// Account returns a field of the case's account, or "" when the case has no account.
func (v view) Account(field string) (string, error) {
	if v.d.Case.Account == nil {
		return "", nil
	}
	return fieldText(v.d.Case.Account.Fields, "account", field)
}

// Date returns a date or datetime field of the case, readably and in the case's time zone;
// "" when the field is empty.
func (v view) Date(field string) (string, error) {
	raw, ok := v.d.Case.Fields[field]
	if !ok {
		return "", fmt.Errorf("case field %s is not in the record", field)
	}
	switch raw := raw.(type) {
	case nil:
		return "", nil
	case string:
		if raw == "" {
			return "", nil
		}
		// A date has no time zone: it is the same day everywhere.
		if d, err := time.Parse(bot.DateLayout, raw); err == nil {
			return d.Format(dateFormat), nil
		}
		t, err := time.Parse(bot.DateTimeLayout, raw)
		if err != nil {
			return "", fmt.Errorf("case field %s: %q is neither a date nor a datetime", field, mrkdwn.Replace(raw))
		}
		return v.when(t), nil
	default:
		return "", fmt.Errorf("case field %s is a %T, not a date", field, raw)
	}
}

// CaseRef is the case number, linked to the case in Salesforce when its URL is known.
func (v view) CaseRef() (string, error) {
	number, err := v.Case("CaseNumber")
	if err != nil || v.d.CaseURL == "" {
		return number, err
	}
	// "|" would end the URL of a Slack link early.
	url := strings.ReplaceAll(mrkdwn.Replace(v.d.CaseURL), "|", "%7C")
	return "<" + url + "|" + number + ">", nil
}

func (v view) Playbook() string  { return mrkdwn.Replace(v.d.Playbook) }
func (v view) Step() string      { return mrkdwn.Replace(v.d.Step) }
func (v view) StepTitle() string { return mrkdwn.Replace(v.d.StepTitle) }
func (v view) NextStep() string  { return mrkdwn.Replace(v.d.NextStep) }

// Due is when the step became due; NextDue when the next step is due ("" when unknown).
func (v view) Due() string     { return v.when(v.d.Due) }
func (v view) NextDue() string { return v.when(v.d.NextDue) }

func (v view) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	loc := v.d.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(dateTimeFormat)
}

func fieldText(fields bot.Fields, record, field string) (string, error) {
	raw, ok := fields[field]
	if !ok {
		return "", fmt.Errorf("%s field %s is not in the record", record, field)
	}
	switch raw := raw.(type) {
	case nil:
		return "", nil
	case string:
		return mrkdwn.Replace(raw), nil
	case bool:
		if raw {
			return "yes", nil
		}
		return "no", nil
	case float64:
		return strconv.FormatFloat(raw, 'f', -1, 64), nil
	default:
		return mrkdwn.Replace(fmt.Sprint(raw)), nil
	}
}
