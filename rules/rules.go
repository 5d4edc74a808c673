// Package rules is casebot's playbook language (README.md is its reference).
//
// A playbook is a YAML file that says which cases it applies to, which of their fields it
// reads, and a list of steps, each due at a date field plus an offset in the account's time
// zone (calendar or business days, hours, months), each with actions (update fields, set the
// status, create tasks, tell Slack, mail, comment, queue, call an endpoint). Parse and Load
// validate a playbook strictly and report every problem at once as file:line:col. Evaluate is
// pure: from one case, its ledger and the time it computes which effects are due, which facts
// to record (skips, holds, escalations), when the case next needs attention, and why each
// step's date is what it is.
package rules

import (
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
)

// Options lets the caller check names the playbook refers to but does not define. A nil
// function leaves those names unchecked.
type Options struct {
	// KnownTemplateKind checks a message template of a kind: "slack", "email" or "comment"
	// (the bot.EffectKind that renders it). When it is nil, slack templates are checked with
	// KnownTemplate and the other kinds are not checked.
	KnownTemplateKind func(kind, name string) bool
	KnownTemplate     func(name string) bool // slack templates, when KnownTemplateKind is nil
	KnownRole         func(name string) bool
	KnownEndpoint     func(name string) bool // the endpoints http actions call
	// Files is the directory the playbook was loaded from: the files it ships are read from
	// its FilesDir. Load sets it to the directory it loads; nil means the playbook has none.
	Files fs.FS
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

// Label names the field as people read it: its API name without the __c suffix, in words
// split at underscores and where the case changes: Termination_Confirmed__c is "Termination
// Confirmed", SuppliedEmail "Supplied Email", Deactivated_GUIDs__c "Deactivated GUIDs".
func (f FieldRef) Label() string {
	name := strings.TrimSuffix(f.Name, "__c")
	b := make([]byte, 0, len(name)+4)
	space := func() {
		if len(b) > 0 && b[len(b)-1] != ' ' {
			b = append(b, ' ')
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' {
			space()
			continue
		}
		// A capital starts a word after a small letter or a digit ("SuppliedEmail"), and the
		// last capital of a run starts one before a small word ("HTTPStatus", not "GUIDs").
		if isUpper(c) && i > 0 && (isLower(name[i-1]) || isDigit(name[i-1]) ||
			isUpper(name[i-1]) && i+2 < len(name) && isLower(name[i+1]) && isLower(name[i+2])) {
			space()
		}
		b = append(b, c)
	}
	return strings.TrimSpace(string(b))
}

func (f FieldRef) appendTo(b []byte) []byte {
	b = append(b, f.Object...)
	b = append(b, '.')
	return append(b, f.Name...)
}

// Unit is the unit of an Offset.
type Unit string

const (
	// Days are calendar days counted in the case's time zone: a step keeps its wall-clock time
	// across a DST change.
	Days Unit = "d"
	// BusinessDays are days that are neither a weekend nor a holiday of the playbook's
	// calendars, counted like Days.
	BusinessDays Unit = "bd"
	// Hours are absolute hours: "72 hours before" is 72 hours of elapsed time.
	Hours Unit = "h"
	// Months are calendar months; a day past the end of the month lands on its last day.
	Months Unit = "mo"
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

// At is when a step is due: a named date, plus a window when it has one, plus an offset.
type At struct {
	Date       string    // the name under dates:
	Field      FieldRef  // the field the date reads
	Type       FieldType // TypeDate or TypeDateTime
	Window     *Window   // nil when none
	WindowSign int       // 1 when the window is added, -1 when subtracted
	Offset     Offset
}

// String returns the expression as a playbook writes it: "day0 + deletion - 5d".
func (a At) String() string {
	s := a.Date
	switch {
	case a.Window == nil:
	case a.WindowSign < 0:
		s += " - " + a.Window.Name
	default:
		s += " + " + a.Window.Name
	}
	if a.Offset.Unit != "" {
		s += " " + a.Offset.String()
	}
	return s
}

// Window is a length of time that each case may set in a number field, as a service agreement
// sets its own "day 30": a whole number of Default's unit from Min to Max, or Default when the
// field is blank.
type Window struct {
	Name     string   // the name under windows:
	Field    FieldRef // a number field
	Default  Offset
	Min, Max int // in Default's unit
}

// NonWorking says what happens to a date that falls on a day that is not a business day.
type NonWorking string

const (
	Keep    NonWorking = "keep"    // run it that day anyway
	Later   NonWorking = "later"   // move it to the next business day, same local time
	Earlier NonWorking = "earlier" // move it to the previous business day, same local time
)

var nonWorkingRules = []NonWorking{Keep, Later, Earlier}

// CatchUpPolicy says what becomes of a step found due late: casebot was not running at its
// date, or the date is before the case existed.
type CatchUpPolicy string

const (
	CatchUpRun      CatchUpPolicy = "run"      // run it once, now
	CatchUpSkip     CatchUpPolicy = "skip"     // record it as skipped
	CatchUpEscalate CatchUpPolicy = "escalate" // record it as skipped and tell the escalate_to roles
)

var catchUpPolicies = []CatchUpPolicy{CatchUpRun, CatchUpSkip, CatchUpEscalate}

// CatchUp is a playbook's catch-up policy.
type CatchUp struct {
	After  time.Duration // a step first found due more than this past its date is late
	Policy CatchUpPolicy // the default of every step
}

// DefaultCatchUpAfter is CatchUp.After when the playbook does not say.
const DefaultCatchUpAfter = 2 * time.Hour

// MissedStepTemplate is the slack template escalations are rendered with.
const MissedStepTemplate = "missed-step"

// FailedStepTemplate is the slack template that reports an action failed for good.
const FailedStepTemplate = "step-failed"

// Remind is a reminder cadence for a step that waits after its date: for its gate, for what
// it needs, or for its guard.
type Remind struct {
	Every    Offset // reminder N is due at the step's date plus N times Every
	To       []string
	Template string // a slack template
	// EscalateAfter is, for what a step needs and its guard, how long it waits before the
	// escalate_to roles are told, once; zero: never.
	EscalateAfter Offset
}

// Step is one step of a playbook. Playbooks are shared by every evaluation: treat a Step as
// read-only.
type Step struct {
	ID         string
	Title      string
	Line       int // where the step starts in its file
	At         At
	When       *Condition // decided once when the step comes due; nil when absent
	Require    *Condition // a gate re-checked every cycle until it opens; nil when absent
	Remind     *Remind    // while Require is false after the date; nil when none
	Needs      *Needs     // fields it never acts without; nil when none
	Guard      *Guard     // what must hold before it starts, when it does harm; nil when none
	NonWorking NonWorking // the step's rule, or the playbook's
	CatchUp    CatchUpPolicy
	Actions    []Action
}

// Action is one thing a step does. Kind says which of the other fields apply.
type Action struct {
	Kind bot.EffectKind

	// KindUpdate: the object (ObjectCase or ObjectAccount) and the values to set; a nil value
	// clears the field. Exprs are the values computed when the action comes due, by field.
	Object string
	Fields bot.Fields
	Exprs  map[string]*Expr

	// KindStatus (status and close): the new Case.Status.
	Status string

	// KindTasks: the name of the task template.
	Tasks string

	// KindSlack, KindEmail: the roles to tell. KindQueue: the one role whose queue takes the
	// case. KindSlack, KindEmail, KindComment: the message template.
	Roles    []string
	Template string

	// KindEmail: cc roles, and the fields whose values are more addresses to send to.
	Cc        []string
	Addresses []FieldRef

	// KindComment: whether the customer sees the comment.
	Public bool

	// KindEmail: the files the mail carries: shipped beside the playbook, or on the case.
	Attachments []bot.File
	// KindEmail: whether the mail answers the first mail received on the case.
	Thread bool
	// KindAttach: the file to attach to the case.
	File *bot.File

	// KindHTTP: the call.
	HTTP *HTTPAction

	// Harm says why the action destroys or withdraws something ("closes the case"), for the
	// warning about a step that does harm without a guard; "" when it does not.
	Harm string

	line, col int // of the action, for that warning
}

// HTTPAction is an http action: a call to an endpoint the config defines.
type HTTPAction struct {
	Endpoint string
	Method   string
	Path     string            // as written, with ${Case.F} / ${Account.F} placeholders
	Body     any               // the JSON body as written (maps, lists, scalars); nil for none
	Store    map[string]string // Case field → dot path in the JSON response

	path text // Path, parsed
	body any  // Body with every string that holds a placeholder parsed to a text
}

// Expr is an expression computing a value, as in `update: {Case: {F: {expr: "…"}}}`.
type Expr struct {
	Source string
	Type   FieldType // the type of the field it sets
	prog   exprProgram
}

// TaskEntry is one task of a task template.
type TaskEntry struct {
	ID          string
	Subject     string
	Owner       string // a role; "" keeps the default owner
	Due         Offset // Days or BusinessDays after the step's local date; zero: no due date
	Priority    string // High, Normal or Low
	Description string
}

// Playbook is a parsed, validated playbook. It is safe for concurrent use by Evaluate.
type Playbook struct {
	Name, Title, Description, File string
	Query                          bot.CaseQuery
	Steps                          []*Step // in file order

	Fields        map[FieldRef]FieldType // the declared fields
	TimeZone      TimeZone
	RunAt         Clock    // when steps dated from a date-only field fire, local time
	Calendars     []string // business-day calendars, combined; none: Monday to Friday
	CalendarField FieldRef // the case's country, whose calendar replaces Calendars; zero: none
	Windows       map[string]*Window
	NonWorking    NonWorking
	Hold          FieldRef // a bool field that pauses the playbook; zero when none
	CatchUp       CatchUp
	EscalateTo    []string // roles told about escalated steps and actions that failed for good
	Dates         map[string]FieldRef
	TaskTemplates map[string][]TaskEntry
	// Files are the files shipped beside the playbook that its actions name, by their path
	// under FilesDir.
	Files map[string]*ShippedFile
	// Warnings are what validate reports without refusing the playbook: steps that do harm
	// without a guard.
	Warnings Errors

	line, col int      // of the playbook's name, for errors across files
	created   FieldRef // Case.CreatedDate when declared as a date or datetime
	steps     map[string]*Step
	cond      condEnv
	zones     *zoneCache
	cal       *calendar            // Calendars
	countries map[string]*calendar // by country code, when CalendarField is set
}

// Condition is a compiled `when` or `require` expression.
type Condition struct {
	Source string
	prog   exprProgram
	refs   []FieldRef // the fields it reads, in order of first use, to explain its value
	calls  []stepCall // its done('…') and tasksDone('…') calls, likewise
	parts  []conjunct // the conditions its top-level && joins; itself alone when none
}

// Step states in StepState.State.
const (
	StateDone      = "done"      // every action is done (or was skipped)
	StateDue       = "due"       // some actions are due now: see Result.Due
	StateRetrying  = "retrying"  // an action failed and backs off: it is tried again at its RetryAt
	StateScheduled = "scheduled" // comes due at StepState.At
	StateWaiting   = "waiting"   // its date is unknown or its `require` is false
	StateHeld      = "held"      // the case is on hold: the step does not come due
	StateSkipped   = "skipped"   // its `when` was false, or it was late and not run
	StateFailed    = "failed"    // an action failed for good, or the step cannot run
)

// Result is what Evaluate found for one case.
type Result struct {
	Due []bot.Effect // effects now due and not yet done, in step order then action order
	// Records are ledger entries to record: steps skipped (`when` false, or late), escalated
	// (State skipped, Detail "escalated: …"), holds starting or ending and steps that started
	// waiting for their gate (State marked).
	Records []bot.LedgerEntry
	Next    time.Time   // when the next scheduled step or reminder comes due; zero when none
	Steps   []StepState // every step of the playbook, in order
}

// StepState is where one step stands for one case, with everything needed to explain it.
type StepState struct {
	Step   string
	Title  string
	State  string    // one of the State constants
	At     time.Time // when the step is or was due, in the case's zone; zero when unknown
	Reason string    // a sentence: why the step is in its state and why its date is At
	Timing Timing    // how At was computed (or which field it waits for)

	HeldSince time.Time // the open hold that stops the step; zero when none
	Late      Late      // the catch-up decision, on the evaluation that made it
	Gate      Gate      // the condition a waiting or just-skipped step was decided on
	Remind    time.Time // when the next reminder comes due; zero when none
}

// Late is a catch-up decision: the step was first found due more than CatchUp.After past its
// date (or its date is before the case was created).
type Late struct {
	Policy         CatchUpPolicy // "" when the step was not found late
	Found          time.Time     // when casebot found it due
	BeforeCreation bool          // its date is before the case's CreatedDate
}

// Gate is a condition with the values it was decided on.
type Gate struct {
	Kind   string    // "require", "when", "needs" or "guard"; "" when none
	Source string    // the expression; "" for needs and guard
	Since  time.Time // but for when: when the step first found it closed
	// Until is, for a guard, its not_before date while it is still to come: the step waits
	// for it without telling anyone. Zero otherwise.
	Until  time.Time
	Inputs []Input
	// Missing says in words which of the conditions the expression joins with && are false,
	// each with the values of the fields it reads, formatted by their type in the case's zone:
	// "Deprovision Date is empty", "Active Devices is 2, needs: Case.Active_Devices__c == 0",
	// "step support-case is not done yet"; for needs, the fields that are blank; for a guard,
	// what of it does not hold: "Devices Checked At is 94d 3h old, more than 7d".
	Missing []string
}

// Waiting says what a step waits for, for people: Missing joined with "; ". It is "" for a
// step that does not wait (no gate, or a `when`).
func (g Gate) Waiting() string {
	if g.Kind == "" || g.Kind == "when" {
		return ""
	}
	return strings.Join(g.Missing, "; ")
}

// Input is one value a condition read: a field or a done / tasksDone call.
type Input struct {
	Field FieldRef // the field; zero for a call
	Func  string   // "done" or "tasksDone" for a call
	Step  string   // the step the call names
	Value any      // the field's wire value (nil when null), or the call's result
}

// Timing explains a step's date: the anchor field's value, the offset and the zone it was
// counted in, the time held and the move off a non-working day.
type Timing struct {
	Date     string // the name under dates:
	Field    FieldRef
	Value    string // the field's value as read; "" when null or not a string
	Offset   Offset
	RunAt    Clock // the local time of day, for date-only anchors
	DateOnly bool
	Zone     *time.Location
	// ZoneFallback is the value of the playbook's timezone field when it is not a time zone
	// name ("Eastern Standard Time"): Zone is then the playbook's default. "" otherwise.
	ZoneFallback string

	// Window is what the step's window came to; its Window is nil when the date has none.
	Window WindowValue
	// Calendar is the calendar a playbook with a CalendarField counted the date in, when the
	// date depends on one (business days, or a non_working rule that moves it); its Field is
	// zero otherwise.
	Calendar CaseCalendar

	Computed time.Time     // the anchor plus the window and the offset
	Held     time.Duration // added for the time the case was on hold
	Shift    Shift         // the move off a non-working day
}

// WindowValue is a window as a case sets it.
type WindowValue struct {
	Window *Window
	Value  any    // the field's value; nil when blank
	Offset Offset // what it came to, its sign applied: the value, or the default when blank
}

// CaseCalendar is the calendar of a case whose playbook reads it from a field.
type CaseCalendar struct {
	Field FieldRef // the playbook's CalendarField
	Value string   // the field's value; "" when blank or not a string
	Name  string   // the calendar: "br"; the default's names joined with "+"; "" for none
	// Default is set when Value is no country casebot has a calendar for: Name is then the
	// playbook's default.
	Default bool
}

// Shift is the move of a date off a non-working day; the zero Shift is none.
type Shift struct {
	From, To time.Time
	Rule     NonWorking // Later or Earlier
	Why      string     // "weekend", or the holidays: "Thanksgiving Day (us)"
}

// String renders the explanation: "day0 (Case.X = 2026-11-21) + 1d at 09:00 America/New_York".
func (t Timing) String() string { return string(t.appendTo(nil)) }

func (t Timing) appendTo(b []byte) []byte {
	b = append(b, t.Date...)
	b = append(b, " ("...)
	b = t.Field.appendTo(b)
	b = append(b, " = "...)
	b = append(b, t.Value...)
	b = append(b, ')')
	if t.Window.Window != nil {
		b = t.Window.appendTo(b)
	}
	if t.Offset.Unit != "" {
		b = append(b, ' ')
		b = t.Offset.appendTo(b)
	}
	switch {
	case t.DateOnly:
		b = append(b, " at "...)
		b = t.RunAt.appendTo(b)
		b = append(b, ' ')
		b = t.appendZone(b)
	case t.Offset.Unit.local() || t.Window.Offset.Unit.local():
		b = append(b, " in "...)
		b = t.appendZone(b)
	}
	if t.Calendar.Field.Name != "" {
		b = t.Calendar.appendTo(b)
	}
	return b
}

// local reports whether the unit counts the days of the case's zone.
func (u Unit) local() bool { return u == Days || u == BusinessDays || u == Months }

// appendTo writes " + 60d (deletion: Case.Deletion_Window_Days__c = 60)", or for a blank field
// " + 30d (deletion: the default, Case.Deletion_Window_Days__c is blank)".
func (w WindowValue) appendTo(b []byte) []byte {
	b = append(b, ' ')
	b = w.Offset.appendTo(b)
	b = append(b, " ("...)
	b = append(b, w.Window.Name...)
	b = append(b, ": "...)
	if w.Value == nil {
		b = append(b, "the default, "...)
		b = w.Window.Field.appendTo(b)
		return append(b, " is blank)"...)
	}
	b = w.Window.Field.appendTo(b)
	b = append(b, " = "...)
	b = appendValue(b, w.Value, TypeNumber)
	return append(b, ')')
}

// appendTo writes ", calendar br (Account.BillingCountry = 'Brazil')", or why the calendar is
// the default: ", calendar us (the default: Account.BillingCountry 'Atlantis' is no country
// with a calendar)".
func (c CaseCalendar) appendTo(b []byte) []byte {
	if c.Name == "" {
		b = append(b, ", no holiday calendar ("...)
	} else {
		b = append(b, ", calendar "...)
		b = append(b, c.Name...)
		b = append(b, " ("...)
	}
	switch {
	case !c.Default:
		b = c.Field.appendTo(b)
		b = append(b, " = '"...)
		b = append(b, c.Value...)
		b = append(b, '\'')
	case c.Value == "":
		b = append(b, "the default: "...)
		b = c.Field.appendTo(b)
		b = append(b, " is blank"...)
	default:
		b = append(b, "the default: "...)
		b = c.Field.appendTo(b)
		b = append(b, " '"...)
		b = append(b, c.Value...)
		b = append(b, "' is no country with a calendar"...)
	}
	return append(b, ')')
}

// appendZone writes the zone a date was counted in, and why it is the default when the
// case's zone field holds something else: "America/New_York (the default zone: 'Eastern
// Standard Time' is not a time zone name)".
func (t Timing) appendZone(b []byte) []byte {
	b = append(b, t.Zone.String()...)
	if t.ZoneFallback == "" {
		return b
	}
	b = append(b, " (the default zone: '"...)
	b = append(b, t.ZoneFallback...)
	return append(b, "' is not a time zone name)"...)
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

// Roles returns every role the playbook names, sorted: in its actions, the owners of the
// task templates its steps use, its reminders and escalate_to.
func (p *Playbook) Roles() []string {
	var roles []string
	add := func(rs ...string) {
		for _, r := range rs {
			if r != "" && !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	add(p.EscalateTo...)
	for _, s := range p.Steps {
		for _, r := range s.Reminders() {
			add(r.To...)
		}
		for _, a := range s.Actions {
			add(a.Roles...)
			add(a.Cc...)
			for _, t := range p.TaskTemplates[a.Tasks] {
				add(t.Owner)
			}
		}
	}
	slices.Sort(roles)
	return roles
}
