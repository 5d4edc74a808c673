package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
	"casebot/config"
	"casebot/rules"
	"casebot/templates"
)

// This file is what plan and why share: reading the cases and the ledger without writing
// anything, and saying in words what a step is, when it is due and what it does.

// setup is what every command that talks to Salesforce starts from: the config, the logger,
// the templates, the playbooks and the CRM.
type setup struct {
	cfg  *config.Config
	log  *slog.Logger
	tmpl *templates.Set
	pbs  []*rules.Playbook
	// intake are the intake rules beside the playbooks; nil when there are none.
	intake *rules.Intake
	crm    bot.CRM
}

// loadSetup loads the config and the playbooks and builds the CRM.
func loadSetup(configPath string, std IO, w Wiring) (*setup, error) {
	cfg, err := loadConfig(configPath, std)
	if err != nil {
		return nil, err
	}
	s := &setup{cfg: cfg, log: newLogger(cfg.Log, std.Err)}
	if s.tmpl, err = templates.Default(); err != nil {
		return nil, err
	}
	if s.pbs, s.intake, err = loadRules(cfg.Playbooks, s.tmpl, cfg); err != nil {
		return nil, err
	}
	if err := checkApprovers(cfg, s.pbs); err != nil {
		return nil, err
	}
	if s.crm, err = w.CRM(cfg.Salesforce, s.log); err != nil {
		return nil, err
	}
	return s, nil
}

// source is what plan and why read: the playbooks, the cases they apply to and the ledger.
// It never writes: no Store.Record, no CRM.Apply.
type source struct {
	*setup
	store bot.Store // nil when there is no ledger yet
}

func (s *source) Close() error {
	if s.store == nil {
		return nil
	}
	return s.store.Close()
}

// openSource loads the setup and opens the ledger to read only. A ledger that does not exist
// yet is not created, and one in memory is a new one: nothing has run, the ledger is empty.
func openSource(ctx context.Context, configPath string, std IO, w Wiring) (*source, error) {
	set, err := loadSetup(configPath, std, w)
	if err != nil {
		return nil, err
	}
	src := &source{setup: set}
	st := set.cfg.Store
	if st.Path == ":memory:" {
		fmt.Fprintln(std.Err, "casebot: the ledger is in memory: as if casebot had never run")
		return src, nil
	}
	// On an error the store may be a typed nil: keep src.store nil then.
	store, err := w.ReadStore(ctx, st)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(std.Err, "casebot: no ledger %s yet: as if casebot had never run\n", st.Where())
		return src, nil
	case err != nil:
		return nil, err
	}
	src.store = store
	return src, nil
}

// notFound is an error about what was asked for (a case or a step that is not there), not
// about reaching it: Slack shows it to whoever asked instead of asking them to try again.
type notFound struct{ error }

// caseState is one case evaluated against one playbook at one time.
type caseState struct {
	pb  *rules.Playbook
	c   bot.Case
	l   bot.Ledger
	now time.Time
	loc *time.Location
	res rules.Result
}

func evaluate(pb *rules.Playbook, c bot.Case, l bot.Ledger, now time.Time) caseState {
	return caseState{pb: pb, c: c, l: l, now: now, loc: pb.Zone(c), res: pb.Evaluate(c, l, now)}
}

// displayQuery is a playbook's query plus the fields people recognise a case by.
func displayQuery(q bot.CaseQuery) bot.CaseQuery {
	for _, f := range []string{"CaseNumber", "Subject"} {
		if !slices.Contains(q.Fields, f) {
			q.Fields = append(slices.Clip(q.Fields), f)
		}
	}
	if !slices.Contains(q.AccountFields, "Name") {
		q.AccountFields = append(slices.Clip(q.AccountFields), "Name")
	}
	return q
}

// cases reads the cases of a playbook and their ledger entries and evaluates them at now.
func (s *source) cases(ctx context.Context, pb *rules.Playbook, now time.Time) ([]caseState, error) {
	return s.casesOf(ctx, pb, "", now)
}

// casesOf is cases, of the case arg names (an id or a case number) when arg is not "": the
// query asks Salesforce for that case alone, and only its ledger entries are read and only it
// is evaluated, whatever the number of open cases.
func (s *source) casesOf(ctx context.Context, pb *rules.Playbook, arg string, now time.Time) ([]caseState, error) {
	q := displayQuery(pb.Query)
	if arg != "" {
		cond, err := caseCondition(arg)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(q.Where) != "" {
			cond = "(" + q.Where + ") AND " + cond
		}
		q.Where = cond
	}
	cs, err := s.crm.Cases(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("playbook %s: reading cases: %w", pb.Name, err)
	}
	cs = slices.DeleteFunc(cs, func(c bot.Case) bool { return !matches(c, arg) })
	ledgers, err := s.ledgers(ctx, cs)
	if err != nil {
		return nil, fmt.Errorf("playbook %s: %w", pb.Name, err)
	}
	out := make([]caseState, len(cs))
	for i, c := range cs {
		out[i] = evaluate(pb, c, ledgers[c.ID], now)
	}
	return out, nil
}

// caseCondition is the SOQL condition that selects the case arg names: a record id, or a case
// number as typed or with any number of leading zeros up to ten digits (an org's auto-number
// has the width its admin gave it), or both for digits that are also a record id.
func caseCondition(arg string) (string, error) {
	var conds []string
	if caseNumber.MatchString(arg) {
		// Digits only: nothing to escape.
		t := strings.TrimLeft(arg, "0")
		nums := []string{arg}
		for n := t; len(n) <= max(10, len(arg)); n = "0" + n {
			if n != arg && n != "" {
				nums = append(nums, n)
			}
		}
		conds = append(conds, "CaseNumber IN ('"+strings.Join(nums, "', '")+"')")
	}
	if bot.IsRecordID(arg, "") {
		conds = append(conds, "Id = '"+arg+"'")
	}
	switch len(conds) {
	case 0:
		return "", usageError{fmt.Errorf("case %q: want a case id or a case number", arg)}
	case 1:
		return conds[0], nil
	}
	return "(" + strings.Join(conds, " OR ") + ")", nil
}

func (s *source) ledgers(ctx context.Context, cs []bot.Case) (map[string]bot.Ledger, error) {
	if s.store == nil || len(cs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	l, err := s.store.Entries(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	return l, nil
}

// readFlags are the flags plan and why share.
type readFlags struct{ config, at *string }

func addReadFlags(fs *flag.FlagSet, verb string) readFlags {
	return readFlags{
		config: fs.String("config", "", "config file (default: the example config)"),
		at:     fs.String("at", "", verb+" as if it were this time (RFC 3339, or 2006-01-02T15:04 in UTC); default: now"),
	}
}

// open reads -at and opens the source.
func (f readFlags) open(ctx context.Context, std IO, w Wiring) (*source, time.Time, error) {
	now, err := parseAt(*f.at)
	if err != nil {
		return nil, time.Time{}, err
	}
	src, err := openSource(ctx, *f.config, std, w)
	return src, now, err
}

// parseAt reads the -at flag: default now.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError{fmt.Errorf("-at %q: want RFC 3339 (2026-11-21T10:00:00Z), 2026-11-21T10:00 or 2026-11-21 (UTC)", s)}
}

// Layouts of the times plan and why print.
const (
	longLayout  = "Mon 2 Jan 2006 15:04 MST"
	shortLayout = "Mon 2 Jan 15:04 MST"
	utcLayout   = "Mon 2 Jan 15:04 UTC"
)

// stamp writes a time in the case's zone and in UTC: "Tue 3 Nov 2026 09:00 EST (Tue 3 Nov
// 14:00 UTC)", or just the UTC time when the zone is UTC.
func stamp(t time.Time, loc *time.Location) string {
	local := t.In(loc).Format(longLayout)
	if _, off := t.In(loc).Zone(); off == 0 && loc.String() == "UTC" {
		return local
	}
	return local + " (" + t.UTC().Format(utcLayout) + ")"
}

// header writes the lines that name a case: its number and subject, the account, the zone and
// the playbook.
func header(w io.Writer, cs caseState) {
	num, _ := cs.c.Fields["CaseNumber"].(string)
	if num == "" {
		num = cs.c.ID
	}
	subject, _ := cs.c.Fields["Subject"].(string)
	fmt.Fprintf(w, "Case %s", num)
	if subject != "" {
		fmt.Fprintf(w, ": %s", subject)
	}
	fmt.Fprintln(w)
	account := "no account"
	if cs.c.Account != nil {
		if n, _ := cs.c.Account.Fields["Name"].(string); n != "" {
			account = "account " + n
		}
	}
	fmt.Fprintf(w, "  %s · zone %s · playbook %s · id %s\n", account, cs.loc, cs.pb.Name, cs.c.ID)
	if bad := cs.zoneFallback(); bad != "" {
		f := cs.pb.TimeZone.Field
		fmt.Fprintf(w, "  zone %s: the %s's %s '%s' is not a time zone name\n", cs.loc, strings.ToLower(f.Object), f.Name, bad)
	}
	if st, _ := cs.c.Fields["Status"].(string); st != "" {
		fmt.Fprintf(w, "  status %s · now %s\n", st, stamp(cs.now, cs.loc))
	} else {
		fmt.Fprintf(w, "  now %s\n", stamp(cs.now, cs.loc))
	}
}

// zoneFallback is the value of the case's zone field when it is not a zone name, and the
// case's dates are counted in the playbook's default zone; "" otherwise.
func (cs caseState) zoneFallback() string {
	for _, st := range cs.res.Steps {
		if st.Timing.ZoneFallback != "" {
			return st.Timing.ZoneFallback
		}
	}
	return ""
}

// dateWhy says why a step's date is what it is: the anchor field and its value, the offset
// and the zone, the time on hold added, and the move off a non-working day.
func dateWhy(t rules.Timing) string {
	s := t.String()
	if t.Held > 0 {
		s += ", plus " + humanDuration(t.Held) + " on hold"
	}
	if sh := t.Shift; sh.Rule != "" {
		s += fmt.Sprintf(", moved %s from %s to %s (%s)", sh.Rule, sh.From.Format("Mon 2 Jan"), sh.To.Format("Mon 2 Jan"), sh.Why)
	}
	return s + "."
}

// why is the explanation plan and why print for a step: how its date was computed when the
// date is all there is to explain, else the evaluation's reason.
func (cs caseState) why(st rules.StepState) string {
	switch st.State {
	case rules.StateScheduled, rules.StateDone:
		if !st.At.IsZero() {
			return dateWhy(st.Timing)
		}
	case rules.StateDue:
		if st.At.IsZero() {
			break
		}
		s := dateWhy(st.Timing)
		if l := st.Late; l.Policy != "" {
			s += " Late: first found due " + stamp(l.Found, cs.loc)
			if l.BeforeCreation {
				s += ", and dated before the case was created"
			}
			s += "; catch_up " + string(l.Policy) + ": it runs once now."
		}
		return s
	case rules.StateWaiting:
		if st.Gate.Kind != "" {
			return dateWhy(st.Timing) + " " + cs.gateState(st.Gate) + "."
		}
	case rules.StateRetrying:
		if n, a, e, ok := cs.failure(st.Step, true); ok && !st.At.IsZero() {
			return dateWhy(st.Timing) + fmt.Sprintf(" Action %d (%s) failed after %s with an error worth retrying (%s): casebot tries it again %s; the step's later actions wait for it.",
				n, a.Kind, plural(e.Attempts, "attempt"), e.Detail, cs.retryWhen(e))
		}
	case rules.StateFailed:
		if n, a, e, ok := cs.failure(st.Step, false); ok {
			return fmt.Sprintf("Action %d (%s) failed after %s (%s), %s; the step's later actions wait for it.",
				n, a.Kind, plural(e.Attempts, "attempt"), e.Detail, permanent)
		}
	case rules.StateSkipped:
		if st.Gate.Kind == "when" {
			return "Its date has come and its when condition is false: it is skipped, and stays skipped when the fields change."
		}
	}
	return st.Reason
}

// gateState says since when a waiting step waits for what it waits for: "Its require
// condition has been false since …", "A field it needs has been blank since …".
func (cs caseState) gateState(g rules.Gate) string {
	switch {
	case !g.Until.IsZero():
		return "Its guard says " + g.Waiting()
	case g.Kind == "needs":
		return "A field it needs has been blank since " + stamp(g.Since, cs.loc)
	case g.Kind == "guard":
		return "Its guard has not held since " + stamp(g.Since, cs.loc)
	}
	return "Its " + g.Kind + " condition has been false since " + stamp(g.Since, cs.loc)
}

// failure returns the first action of a step whose ledger entry is a failure, retryable or
// not, with its number and its entry.
func (cs caseState) failure(step string, retryable bool) (int, rules.Action, bot.LedgerEntry, bool) {
	for i, a := range cs.pb.Steps[cs.index(step)].Actions {
		e, ok := cs.l[bot.EffectKey(cs.pb.Name, step, i+1, cs.c.ID)]
		if ok && e.State == bot.StateFailed && e.Retryable == retryable {
			return i + 1, a, e, true
		}
	}
	return 0, rules.Action{}, bot.LedgerEntry{}, false
}

// retryWhen says when casebot tries a failed action again: at its retry time, or now once
// that has come (or the entry predates retry times).
func (cs caseState) retryWhen(e bot.LedgerEntry) string {
	if e.RetryAt.After(cs.now) {
		return stamp(e.RetryAt, cs.loc)
	}
	return "now (its retry time has come)"
}

// Labels of step states, as plan and why print them.
const (
	labelDone      = "done"
	labelSkipped   = "skipped"
	labelSkipsNow  = "skips now" // Evaluate decided the skip this time: not yet in the ledger
	labelDue       = "due now"
	labelRetrying  = "retrying" // an action failed and is tried again at its retry time
	labelScheduled = "scheduled"
	labelWaiting   = "waiting"
	labelHeld      = "held"
	labelFailed    = "failed"
)

// label names a step's state for people.
func (cs caseState) label(st rules.StepState) string {
	switch st.State {
	case rules.StateDone:
		return labelDone
	case rules.StateSkipped:
		if cs.skipsNow(st.Step) {
			return labelSkipsNow
		}
		return labelSkipped
	case rules.StateDue:
		return labelDue
	case rules.StateRetrying:
		return labelRetrying
	case rules.StateScheduled:
		return labelScheduled
	case rules.StateWaiting:
		return labelWaiting
	case rules.StateHeld:
		return labelHeld
	case rules.StateFailed:
		return labelFailed
	}
	return st.State
}

// skipsNow reports whether this evaluation decided to skip the step (its skip is among the
// records the engine would write).
func (cs caseState) skipsNow(step string) bool {
	for _, r := range cs.res.Records {
		if r.Step == step && r.State == bot.StateSkipped {
			return true
		}
	}
	return false
}

// step returns the playbook's step and its state by id.
func (cs caseState) step(id string) (*rules.Step, rules.StepState, bool) {
	i := cs.index(id)
	if i < 0 {
		return nil, rules.StepState{}, false
	}
	return cs.pb.Steps[i], cs.res.Steps[i], true
}

// index returns the position of a step in the playbook, -1 when it has none of that id.
func (cs caseState) index(id string) int {
	return slices.IndexFunc(cs.pb.Steps, func(s *rules.Step) bool { return s.ID == id })
}

// describeAction says what an action does, in one line: "set Case.Status = Attrition
// Confirmed", "mail rvp, csd cc legal (template sop-hold-reminder)".
func describeAction(pb *rules.Playbook, a rules.Action) string {
	switch a.Kind {
	case bot.KindUpdate:
		names := make([]string, 0, len(a.Fields)+len(a.Exprs))
		for f := range a.Fields {
			names = append(names, f)
		}
		for f := range a.Exprs {
			names = append(names, f)
		}
		slices.Sort(names)
		var set, clear []string
		for _, f := range names {
			ref := a.Object + "." + f
			if x, ok := a.Exprs[f]; ok {
				set = append(set, ref+" = "+x.Source)
			} else if v := a.Fields[f]; v != nil {
				set = append(set, ref+" = "+literal(v))
			} else {
				clear = append(clear, ref)
			}
		}
		var parts []string
		if len(set) > 0 {
			parts = append(parts, "set "+strings.Join(set, ", "))
		}
		if len(clear) > 0 {
			parts = append(parts, "clear "+strings.Join(clear, ", "))
		}
		return strings.Join(parts, "; ")
	case bot.KindStatus:
		return "set Case.Status = " + a.Status
	case bot.KindTasks:
		return describeTasks(a.Tasks, pb.TaskTemplates[a.Tasks])
	case bot.KindSlack:
		return "slack " + strings.Join(a.Roles, ", ") + " (template " + a.Template + ")"
	case bot.KindEmail:
		to := slices.Clone(a.Roles)
		for _, f := range a.Addresses {
			to = append(to, f.String())
		}
		s := "mail " + strings.Join(to, ", ")
		if len(a.Cc) > 0 {
			s += " cc " + strings.Join(a.Cc, ", ")
		}
		return s + " (template " + a.Template + ")"
	case bot.KindComment:
		vis := "internal"
		if a.Public {
			vis = "public"
		}
		return vis + " case comment (template " + a.Template + ")"
	case bot.KindQueue:
		return "give the case to the " + strings.Join(a.Roles, ", ") + " queue"
	case bot.KindHTTP:
		h := a.HTTP
		s := h.Method + " " + h.Endpoint + " " + h.Path
		if len(h.Store) > 0 {
			fields := make([]string, 0, len(h.Store))
			for f := range h.Store {
				fields = append(fields, f)
			}
			slices.Sort(fields)
			for i, f := range fields {
				fields[i] = "Case." + f + " ← response." + h.Store[f]
			}
			s += "; store " + strings.Join(fields, ", ")
		}
		return s
	}
	return string(a.Kind)
}

// describeTasks says which tasks a template creates: "3 tasks from termination-team
// (customer_ops, finance, marketing)".
func describeTasks(name string, entries []rules.TaskEntry) string {
	var owners []string
	for _, t := range entries {
		if t.Owner != "" && !slices.Contains(owners, t.Owner) {
			owners = append(owners, t.Owner)
		}
	}
	s := strconv.Itoa(len(entries)) + " task"
	if len(entries) != 1 {
		s += "s"
	}
	s += " from " + name
	if len(owners) > 0 {
		s += " for " + strings.Join(owners, ", ")
	}
	return s
}

// literal writes a field value as a playbook reads it: strings bare, the rest as Go prints it.
func literal(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// value writes a field's wire value for a reader: null, true, 12, 2026-11-02, "text".
func value(v any, t rules.FieldType) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if t == rules.TypeDate || t == rules.TypeDateTime {
			return v
		}
		return strconv.Quote(v)
	}
	return literal(v)
}

// fieldRefs matches the field references of a condition: Case.X and Account.X.
var fieldRefs = regexp.MustCompile(`\b(Case|Account)\.([A-Za-z][A-Za-z0-9_]*)`)

// stepCalls matches the done('step') and tasksDone('step') calls of a condition.
var stepCalls = regexp.MustCompile(`\b(done|tasksDone)\(\s*['"]([^'"]+)['"]\s*\)`)

// inputs lists what a condition reads, with the values the case has now: the declared fields
// it names and, for done() and tasksDone(), the state of the step it names.
func (cs caseState) inputs(c *rules.Condition) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range fieldRefs.FindAllStringSubmatch(c.Source, -1) {
		ref := rules.FieldRef{Object: m[1], Name: m[2]}
		t, declared := cs.pb.Fields[ref]
		if !declared || seen[m[0]] {
			continue
		}
		seen[m[0]] = true
		out = append(out, m[0]+" = "+value(rules.FieldValue(&cs.c, ref), t))
	}
	for _, m := range stepCalls.FindAllStringSubmatch(c.Source, -1) {
		if seen[m[0]] {
			continue
		}
		seen[m[0]] = true
		_, st, ok := cs.step(m[2])
		switch {
		case !ok:
		case m[1] == "tasksDone":
			out = append(out, m[2]+" is "+cs.label(st)+", "+cs.taskCount(m[2]))
		default:
			out = append(out, m[2]+" is "+cs.label(st))
		}
	}
	return out
}

// taskCount says how many of the tasks a step created are closed: "2 of 6 tasks closed".
func (cs caseState) taskCount(step string) string {
	tasks := cs.tasksOf(step)
	if len(tasks) == 0 {
		return "no tasks created yet"
	}
	closed := 0
	for _, t := range tasks {
		if t.IsClosed {
			closed++
		}
	}
	return fmt.Sprintf("%d of %s closed", closed, plural(len(tasks), "task"))
}

// tasksOf returns the case's tasks a step created, by their key.
func (cs caseState) tasksOf(step string) []bot.Task {
	prefix := cs.pb.Name + "/" + step + "/"
	var out []bot.Task
	for _, t := range cs.c.Tasks {
		if strings.HasPrefix(t.Key, prefix) {
			out = append(out, t)
		}
	}
	return out
}

// conditions writes a step's when and require lines: the expression and the values it reads.
// For a step the evaluation decided on (waiting, or skipped now) they are the values of the
// decision; otherwise the case's values now, said as what they mean for the step's state.
func (cs caseState) conditions(w *block, s *rules.Step, st rules.StepState) {
	for _, c := range []struct {
		kind string
		cond *rules.Condition
	}{{"when", s.When}, {"require", s.Require}} {
		if c.cond == nil {
			continue
		}
		text := c.cond.Source
		switch {
		case st.Gate.Kind == c.kind:
			text += " — false: " + strings.Join(st.Gate.Missing, "; ")
		default:
			in := cs.inputs(c.cond)
			if len(in) == 0 {
				break
			}
			var what string
			switch {
			case st.State == rules.StateDue || st.State == rules.StateRetrying:
				what = "true: "
			case st.State == rules.StateDone:
				what = "held when the step came due; now "
			case st.State == rules.StateScheduled && c.kind == "when":
				what = "decided when the step comes due; now "
			case st.State == rules.StateScheduled:
				what = "checked from the step's date on; now "
			default:
				what = "now "
			}
			text += " — " + what + strings.Join(in, ", ")
		}
		w.line(c.kind, text)
	}
	if n := s.Needs; n != nil {
		w.line("needs", cs.needsLine(n, st))
	}
	if g := s.Guard; g != nil {
		w.line("guard", guardLine(g, st))
	}
}

// needsLine says which fields a step needs and what of them is missing, from whom:
// "Case.X, Case.Y — missing from partner_manager: Notice Period Days is empty"; for a step
// still to come, what is blank now.
func (cs caseState) needsLine(n *rules.Needs, st rules.StepState) string {
	fields := make([]string, len(n.Fields))
	var blank []string
	for i, f := range n.Fields {
		fields[i] = f.String()
		if v := rules.FieldValue(&cs.c, f); v == nil || v == "" {
			blank = append(blank, f.Label())
		}
	}
	text, owner := strings.Join(fields, ", "), strings.Join(n.To, ", ")
	switch {
	case st.Gate.Kind == "needs":
		return text + " — missing from " + owner + ": " + st.Gate.Waiting()
	case len(blank) > 0 && !finished(st):
		return text + " — blank now, to come from " + owner + ": " + strings.Join(blank, ", ")
	}
	return text
}

// guardLine says what a step's guard asks, and what of it does not hold when the step waits
// for it.
func guardLine(g *rules.Guard, st rules.StepState) string {
	var parts []string
	if g.NotBefore.Date != "" {
		parts = append(parts, "not before "+g.NotBefore.String())
	}
	if f := g.Fresh; f.Field.Name != "" {
		parts = append(parts, f.Field.String()+" set and at most "+strings.TrimPrefix(f.Within.String(), "+ ")+" old")
	}
	if len(g.After) > 0 {
		parts = append(parts, "after "+strings.Join(g.After, ", "))
	}
	if g.Condition != nil {
		parts = append(parts, g.Condition.Source)
	}
	text := strings.Join(parts, "; ")
	if st.Gate.Kind == "guard" {
		text += " — does not hold: " + st.Gate.Waiting()
	}
	return text
}

// reminds says who a reminder tells and how often: "legal every 2bd", and when the
// escalate_to roles are told: "… (order_management after 5bd)".
func (cs caseState) reminds(r *rules.Remind) string {
	text := strings.Join(r.To, ", ") + " every " + strings.TrimPrefix(r.Every.String(), "+ ")
	if r.EscalateAfter.Unit != "" {
		text += " (" + strings.Join(cs.pb.EscalateTo, ", ") + " after " + strings.TrimPrefix(r.EscalateAfter.String(), "+ ") + ")"
	}
	return text
}

// block writes labelled, indented lines: "    why    text", wrapping long text under itself.
type block struct {
	w      io.Writer
	indent string
	width  int // of the label column
	hang   int // how much further than the text continuation lines are indented
}

// numbered writes a numbered list item under the label: "does     1. set …", its continuation
// lines under the text.
func (b *block) numbered(label string, n int, text string) {
	if label != "" || b.width > 0 {
		// The label column, then the list in a block of its own.
		fmt.Fprintf(b.w, "%s%-*s", b.indent, b.width, label)
	} else {
		fmt.Fprint(b.w, b.indent)
	}
	item := block{w: b.w, indent: b.indent + strings.Repeat(" ", b.width), width: 3}
	lines := wrap(text, wrapAt-len(item.indent)-item.width)
	fmt.Fprintf(b.w, "%-*s%s\n", item.width, strconv.Itoa(n)+".", lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(b.w, "%s%s%s\n", item.indent, strings.Repeat(" ", item.width), l)
	}
}

const wrapAt = 100

func (b *block) line(label, text string) {
	pad := b.indent + fmt.Sprintf("%-*s", b.width, label)
	cont := strings.Repeat(" ", len(pad)+b.hang)
	first := true
	for _, l := range wrap(text, wrapAt-len(cont)) {
		if first {
			fmt.Fprintf(b.w, "%s%s\n", pad, l)
			first = false
			continue
		}
		fmt.Fprintf(b.w, "%s%s\n", cont, l)
	}
}

// wrap breaks text into lines of at most width runes at spaces; a longer word gets a line of
// its own.
func wrap(text string, width int) []string {
	words := strings.Fields(text)
	if len(words) == 0 {
		return []string{""}
	}
	var lines []string
	cur := words[0]
	for _, wd := range words[1:] {
		if len([]rune(cur))+1+len([]rune(wd)) > width {
			lines = append(lines, cur)
			cur = wd
			continue
		}
		cur += " " + wd
	}
	return append(lines, cur)
}
