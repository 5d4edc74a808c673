// Package rules is casebot's playbook language.
//
// A playbook is a YAML file that says which cases it applies to, which of their fields it
// reads, and a list of steps, each due at a date field plus an offset in the account's time
// zone, each with actions (update fields, set the status, create tasks, tell Slack). Parse and
// Load validate a playbook strictly and report every problem at once as file:line:col. Evaluate
// is pure: from one case, its ledger and the time it computes which actions are due, which
// steps to record as skipped, when the case next needs attention, and why each step's date is
// what it is.
package rules

import (
	"strconv"
	"strings"
	"time"

	"casebot/bot"
)

// Options lets the caller check names the playbook refers to but does not define.
type Options struct {
	KnownTemplate func(name string) bool // nil: template names are not checked
	KnownRole     func(name string) bool // nil: role names are not checked
}

// FieldType is the type of a declared field.
type FieldType string

const (
	TypeString   FieldType = "string"
	TypeBool     FieldType = "bool"
	TypeNumber   FieldType = "number"
	TypeDate     FieldType = "date"     // bot.DateLayout on the wire
	TypeDateTime FieldType = "datetime" // bot.DateTimeLayout or RFC 3339 on the wire
)

// fieldTypes lists the types in the order error messages name them.
var fieldTypes = []FieldType{TypeString, TypeBool, TypeNumber, TypeDate, TypeDateTime}

// The objects a playbook reads. Case is the object it applies to; Account is the case's account.
const (
	ObjectCase    = "Case"
	ObjectAccount = "Account"
)

// FieldRef names a field of the case or of its account.
type FieldRef struct {
	Object string // ObjectCase or ObjectAccount
	Name   string // the API name
}

func (f FieldRef) String() string { return f.Object + "." + f.Name }

// Unit is the unit of an Offset.
type Unit string

const (
	// Days are calendar days counted in the case's time zone: a step keeps its wall-clock time
	// across a DST change.
	Days Unit = "d"
	// Hours are absolute hours: "72 hours before" is 72 hours of elapsed time.
	Hours Unit = "h"
)

// Offset is a signed distance from a date. The zero Offset (no unit) means no offset.
type Offset struct {
	N    int
	Unit Unit
}

// String returns the offset as written in a playbook, "+ 1d" or "- 72h", and "" for none.
func (o Offset) String() string {
	return string(o.appendTo(nil))
}

func (o Offset) appendTo(b []byte) []byte {
	if o.Unit == "" {
		return b
	}
	n := o.N
	if n < 0 {
		b = append(b, "- "...)
		n = -n
	} else {
		b = append(b, "+ "...)
	}
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, o.Unit...)
}

// Clock is a local time of day.
type Clock struct{ Hour, Minute int }

func (c Clock) String() string { return string(c.appendTo(nil)) }

func (c Clock) appendTo(b []byte) []byte {
	return append(b, byte('0'+c.Hour/10), byte('0'+c.Hour%10), ':', byte('0'+c.Minute/10), byte('0'+c.Minute%10))
}

// TimeZone says in which zone a case's dates are counted.
type TimeZone struct {
	Field   FieldRef       // a string field holding an IANA zone name; zero when none
	Default *time.Location // when Field is absent, null or not a valid zone name
}

// At is when a step is due: a named date plus an offset.
type At struct {
	Date   string    // the name under dates:
	Field  FieldRef  // the field the date reads
	Type   FieldType // TypeDate or TypeDateTime
	Offset Offset
}

// String returns the expression as a playbook writes it: "day0 + 1d".
func (a At) String() string {
	if a.Offset.Unit == "" {
		return a.Date
	}
	return a.Date + " " + a.Offset.String()
}

// Step is one step of a playbook. Playbooks are shared by every evaluation: treat a Step as
// read-only.
type Step struct {
	ID      string
	Title   string
	Line    int // where the step starts in its file
	At      At
	When    *Condition // decided once when the step comes due; nil when absent
	Require *Condition // a gate re-checked every cycle until it opens; nil when absent
	Actions []Action
}

// Action is one thing a step does. Kind says which of the other fields apply.
type Action struct {
	Kind bot.EffectKind

	// KindUpdate: the object (ObjectCase or ObjectAccount) and the values to set; a nil value
	// clears the field.
	Object string
	Fields bot.Fields

	// KindStatus: the new Case.Status.
	Status string

	// KindTasks: the name of the task template.
	Tasks string

	// KindSlack: the roles to tell and the message template.
	Roles    []string
	Template string
}

// TaskEntry is one task of a task template.
type TaskEntry struct {
	ID          string
	Subject     string
	Owner       string // a role; "" keeps the default owner
	Due         Offset // after the step's local date; the zero Offset means no due date
	Priority    string // High, Normal or Low
	Description string
}

// Playbook is a parsed, validated playbook. It is safe for concurrent use by Evaluate.
type Playbook struct {
	Name, Title, File string
	Query             bot.CaseQuery
	Steps             []*Step // in file order

	Fields        map[FieldRef]FieldType // the declared fields
	TimeZone      TimeZone
	RunAt         Clock // when steps dated from a date-only field fire, local time
	Dates         map[string]FieldRef
	TaskTemplates map[string][]TaskEntry

	line, col int // of the playbook's name, for errors across files
	cond      condEnv
	zones     *zoneCache
}

// Condition is a compiled `when` or `require` expression.
type Condition struct {
	Source string
	prog   exprProgram
	refs   []FieldRef // the fields it reads, in order of first use, to explain its value
	steps  []string   // the steps named in tasksDone('…') calls, likewise
}

// Step states in StepState.State.
const (
	StateDone      = "done"      // every action is done (or was skipped)
	StateDue       = "due"       // some actions are due now: see Result.Due
	StateScheduled = "scheduled" // comes due at StepState.At
	StateWaiting   = "waiting"   // its date is unknown or its `require` is false
	StateSkipped   = "skipped"   // its `when` was false when it came due
	StateFailed    = "failed"    // an action failed for good, or the step cannot run
)

// Result is what Evaluate found for one case.
type Result struct {
	Due   []bot.Effect      // effects now due and not yet done, in step order then action order
	Skips []bot.LedgerEntry // ledger entries to record for steps whose `when` was false
	Next  time.Time         // when the next scheduled step comes due; zero when none is
	Steps []StepState       // every step of the playbook, in order
}

// StepState is where one step stands for one case.
type StepState struct {
	Step   string
	Title  string
	State  string    // one of the State constants
	At     time.Time // when the step is or was due, in the case's zone; zero when unknown
	Reason string    // human-readable: why the date is At, or why the step waits or failed
	Timing Timing    // how At was computed (or which field it waits for)
}

// Timing explains a step's date: the anchor field's value, the offset and the zone it was
// counted in.
type Timing struct {
	Date     string // the name under dates:
	Field    FieldRef
	Value    string // the field's value as read; "" when null or not a string
	Offset   Offset
	RunAt    Clock // the local time of day, for date-only anchors
	DateOnly bool
	Zone     *time.Location
}

// String renders the explanation: "day0 (Case.X = 2026-11-21) + 1d at 09:00 America/New_York".
func (t Timing) String() string { return string(t.appendTo(nil)) }

func (t Timing) appendTo(b []byte) []byte {
	b = append(b, t.Date...)
	b = append(b, " ("...)
	b = append(b, t.Field.Object...)
	b = append(b, '.')
	b = append(b, t.Field.Name...)
	b = append(b, " = "...)
	b = append(b, t.Value...)
	b = append(b, ')')
	if t.Offset.Unit != "" {
		b = append(b, ' ')
		b = t.Offset.appendTo(b)
	}
	switch {
	case t.DateOnly:
		b = append(b, " at "...)
		b = t.RunAt.appendTo(b)
		b = append(b, ' ')
		b = append(b, t.Zone.String()...)
	case t.Offset.Unit == Days:
		b = append(b, " in "...)
		b = append(b, t.Zone.String()...)
	}
	return b
}

// names joins names for error messages: "a, b or c".
func names[T ~string](list []T) string {
	var sb strings.Builder
	for i, n := range list {
		switch {
		case i == 0:
		case i == len(list)-1:
			sb.WriteString(" or ")
		default:
			sb.WriteString(", ")
		}
		sb.WriteString(string(n))
	}
	return sb.String()
}
