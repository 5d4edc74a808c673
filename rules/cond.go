package rules

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"casebot/bot"
)

// The names expressions see besides Case and Account.
const (
	nowName                 = "Now"
	tasksName               = "Tasks"
	doneFunc                = "done"
	tasksDoneFunc           = "tasksDone"
	monthsBetweenFunc       = "monthsBetween"
	daysBetweenFunc         = "daysBetween"
	businessDaysBetweenFunc = "businessDaysBetween"
)

// idField is implicit on every record.
const idField = "Id"

type exprProgram = *vm.Program

// condEnv is what expressions see: Case and Account as maps with exactly the declared fields,
// typed, so that a typo or a type mismatch is a load error; Now, Tasks and the functions.
type condEnv struct {
	condOpts  []expr.Option // for `when` and `require`: a bool
	valueOpts []expr.Option // for values: typed against their field after compiling
	// The fields some expression reads (Id included), by object: the only ones Evaluate
	// converts for expressions.
	caseFields, accountFields []declField
	tasks                     bool // some expression reads Tasks
}

type declField struct {
	name string
	typ  FieldType
}

var timeType = reflect.TypeFor[time.Time]()

func newCondEnv(fields map[FieldRef]FieldType) condEnv {
	caseT := types.Map{idField: types.String}
	accountT := types.Map{idField: types.String}
	for ref, t := range fields {
		var et types.Type
		switch t {
		case TypeString:
			et = types.String
		case TypeBool:
			et = types.Bool
		case TypeNumber:
			et = types.Float64
		default: // dates and datetimes
			et = types.TypeOf(time.Time{})
		}
		if ref.Object == ObjectCase {
			caseT[ref.Name] = et
		} else {
			accountT[ref.Name] = et
		}
	}
	stepFunc := types.TypeOf((func(string) bool)(nil))
	between := types.TypeOf((func(time.Time, time.Time) int)(nil))
	base := []expr.Option{
		expr.Env(types.Map{
			ObjectCase:    caseT,
			ObjectAccount: accountT,
			nowName:       types.TypeOf(time.Time{}),
			tasksName: types.Array(types.Map{"Step": types.String, "Name": types.String,
				"Subject": types.String, "Status": types.String, "Closed": types.Bool}),
			doneFunc:                stepFunc,
			tasksDoneFunc:           stepFunc,
			monthsBetweenFunc:       between,
			daysBetweenFunc:         between,
			businessDaysBetweenFunc: between,
		}),
		// Evaluate is a function of (case, ledger, now): no reading the clock.
		expr.DisableBuiltin("now"),
	}
	return condEnv{
		condOpts:  append(slices.Clip(base), expr.AsBool()),
		valueOpts: base,
	}
}

// use records that an expression reads a field.
func (e *condEnv) use(ref FieldRef, t FieldType) {
	list := &e.caseFields
	if ref.Object == ObjectAccount {
		list = &e.accountFields
	}
	if !slices.ContainsFunc(*list, func(d declField) bool { return d.name == ref.Name }) {
		*list = append(*list, declField{ref.Name, t})
	}
}

// stepCall is a done('…') or tasksDone('…') call.
type stepCall struct {
	fn, step string
}

// callSite is a step call in a step's condition, checked once every step is known.
type callSite struct {
	stepCall
	from      string // the step whose condition makes the call
	what      string
	line, col int
}

// compiled is an expression compiled against the playbook's fields.
type compiled struct {
	prog     exprProgram
	node     ast.Node // the parsed expression
	refs     []FieldRef
	calls    []stepCall
	constant bool // it reads nothing: its value is known at load time
}

// compile parses, checks and compiles an expression written in node n. step is the step the
// expression belongs to, for the step calls it makes.
func (p *parser) compile(n *yaml.Node, what, src, step string, opts []expr.Option) (compiled, bool) {
	tree, err := exprparser.Parse(src)
	if err != nil {
		p.exprError(n, what, err)
		return compiled{}, false
	}
	v := &refVisitor{}
	ast.Walk(&tree.Node, v)
	var c compiled
	ok := true
	for _, r := range v.refs {
		c.refs = append(c.refs, r.ref)
		rl, rc := runePos(src, r.from)
		line, col := p.inScalar(n, rl, rc)
		if r.ref.Name != idField && !p.declared(line, col, what, r.ref) {
			ok = false
		}
	}
	for _, s := range v.calls {
		rl, rc := runePos(src, s.from)
		line, col := p.inScalar(n, rl, rc)
		if s.step == "" {
			p.errorAt(line, col, "%s: %s() takes a step id in quotes, as in %s('legal-review')", what, s.fn, s.fn)
			ok = false
			continue
		}
		c.calls = append(c.calls, s.stepCall)
		p.calls = append(p.calls, callSite{stepCall: s.stepCall, from: step, what: what, line: line, col: col})
	}
	if !ok {
		return compiled{}, false
	}
	for _, r := range v.refs {
		p.pb.cond.use(r.ref, p.pb.Fields[r.ref])
	}
	p.pb.cond.tasks = p.pb.cond.tasks || v.tasks
	c.prog, err = expr.Compile(src, opts...)
	if err != nil {
		p.exprError(n, what, err)
		return compiled{}, false
	}
	c.constant = !v.names
	c.node = tree.Node
	return c, true
}

// condition compiles a `when` or `require` expression of a step.
func (p *parser) condition(n *yaml.Node, what, step string) *Condition {
	src, ok := p.text(n, what)
	if !ok {
		return nil
	}
	c, ok := p.compile(n, what, src, step, p.pb.cond.condOpts)
	if !ok {
		return nil
	}
	if never(c) {
		line, col := p.inScalar(n, 1, 0)
		p.errorAt(line, col, "%s: always false: the step can never fire", what)
		return nil
	}
	return &Condition{Source: src, prog: c.prog, refs: c.refs, calls: c.calls, parts: p.conjuncts(src, c)}
}

// never reports whether a condition is false whatever the case: expr folds constants (a
// false literal, `!true`, `x && false`), and one that reads no name at all is run once here.
func never(c compiled) bool {
	if b, ok := c.prog.Node().(*ast.BoolNode); ok {
		return !b.Value
	}
	if !c.constant {
		return false
	}
	out, err := expr.Run(c.prog, map[string]any{})
	return err == nil && out == false
}

// valueExpr compiles `{expr: "…"}`, the value of a field an update sets.
func (p *parser) valueExpr(n *yaml.Node, what, step string, ref FieldRef) (*Expr, bool) {
	m := p.object(n, what+": "+ref.String(), []string{"expr"}, nil)
	src, ok := "", false
	if v := m["expr"]; v != nil {
		src, ok = p.text(v, what+": "+ref.String()+": expr")
		n = v
	}
	if !ok {
		return nil, false
	}
	c, ok := p.compile(n, what+": "+ref.String(), src, step, p.pb.cond.valueOpts)
	if !ok {
		return nil, false
	}
	t := p.pb.Fields[ref]
	if got := c.prog.Node().Type(); !fits(got, t) {
		p.errorf(n, "%s: %s is %s; the expression gives %s", what, ref, t, typeName(got))
		return nil, false
	}
	return &Expr{Source: src, Type: t, prog: c.prog}, true
}

// fits reports whether an expression of type t can set a field of type ft.
func fits(t reflect.Type, ft FieldType) bool {
	if t == nil {
		return false
	}
	switch ft {
	case TypeString:
		return t.Kind() == reflect.String
	case TypeBool:
		return t.Kind() == reflect.Bool
	case TypeNumber:
		return reflect.Int <= t.Kind() && t.Kind() <= reflect.Float64
	default:
		return t == timeType
	}
}

func typeName(t reflect.Type) string {
	if t == nil || t.Kind() == reflect.Interface {
		return "a value of unknown type"
	}
	return t.String()
}

// exprError reports an expr error at its position in the file.
func (p *parser) exprError(n *yaml.Node, what string, err error) {
	line, col := p.inScalar(n, 1, 0)
	msg := err.Error()
	if fe := (*file.Error)(nil); errors.As(err, &fe) {
		msg = strings.TrimSpace(fe.Message)
		if fe.Line > 0 {
			line, col = p.inScalar(n, fe.Line, fe.Column)
		}
	}
	p.errorAt(line, col, "%s: %s", what, msg)
}

// runePos turns a rune offset in src into a 1-based line and a 0-based column.
func runePos(src string, from int) (int, int) {
	line, col := 1, 0
	for i, r := range []rune(src) {
		if i == from {
			break
		}
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	return line, col
}

// refVisitor collects the fields an expression reads and the steps its calls name.
type refVisitor struct {
	refs  []located
	calls []locatedCall
	names bool // it reads some name: it is not a constant
	tasks bool // it reads Tasks
}

type located struct {
	ref  FieldRef
	from int // rune offset in the expression
}

type locatedCall struct {
	stepCall // step is "" when the argument is not a string literal
	from     int
}

func (v *refVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		v.names = true
		v.tasks = v.tasks || n.Value == tasksName
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		prop, isStr := n.Property.(*ast.StringNode)
		if !ok || !isStr || (id.Value != ObjectCase && id.Value != ObjectAccount) {
			return
		}
		ref := FieldRef{id.Value, prop.Value}
		if !slices.ContainsFunc(v.refs, func(l located) bool { return l.ref == ref }) {
			v.refs = append(v.refs, located{ref, prop.Location().From})
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || (id.Value != doneFunc && id.Value != tasksDoneFunc) || len(n.Arguments) != 1 {
			return
		}
		c := locatedCall{stepCall{fn: id.Value}, n.Arguments[0].Location().From}
		if s, ok := n.Arguments[0].(*ast.StringNode); ok {
			c.step = s.Value
		}
		v.calls = append(v.calls, c)
	}
}

// vars builds what expressions see for one case. Evaluate calls it only when an expression
// must be run, which few cases need in a cycle.
func (e *evaluation) vars() map[string]any {
	if e.env != nil {
		return e.env
	}
	// The closures copy what they need, so that the evaluation itself stays on the stack.
	p, l, id, tasks, loc := e.p, e.l, e.c.ID, e.c.Tasks, e.loc
	days := func(f func(a, b day) int) func(a, b time.Time) int {
		return func(a, b time.Time) int { return f(dayOf(a.In(loc)), dayOf(b.In(loc))) }
	}
	e.env = map[string]any{
		ObjectCase:              record(e.c.ID, e.c.Fields, p.cond.caseFields, loc),
		ObjectAccount:           accountRecord(e.c.Account, p.cond.accountFields, loc),
		nowName:                 e.now,
		doneFunc:                func(step string) bool { return stepDone(p, l, id, step) },
		tasksDoneFunc:           func(step string) bool { return tasksDone(tasks, p.Name, step) },
		monthsBetweenFunc:       days(monthsBetween),
		daysBetweenFunc:         days(daysBetween),
		businessDaysBetweenFunc: days(e.cal.businessDaysBetween),
	}
	if p.cond.tasks {
		e.env[tasksName] = taskList(tasks, p.Name)
	}
	return e.env
}

func accountRecord(a *bot.Account, decl []declField, loc *time.Location) map[string]any {
	if a == nil {
		return record("", nil, decl, loc)
	}
	return record(a.ID, a.Fields, decl, loc)
}

// record gives the fields expressions read their typed values; null is the type's zero value.
func record(id string, f bot.Fields, decl []declField, loc *time.Location) map[string]any {
	m := make(map[string]any, len(decl))
	for _, d := range decl {
		v := f[d.name]
		switch {
		case d.name == idField:
			m[d.name] = id
		case d.typ == TypeBool:
			b, _ := v.(bool)
			m[d.name] = b
		case d.typ == TypeString:
			s, _ := v.(string)
			m[d.name] = s
		case d.typ == TypeNumber:
			m[d.name] = number(v)
		default:
			s, _ := v.(string)
			t, _ := parseTime(s, d.typ, loc)
			m[d.name] = t
		}
	}
	return m
}

func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	}
	return 0
}

// taskList is Tasks: the case's tasks created by this playbook.
func taskList(tasks []bot.Task, playbook string) []any {
	var list []any
	for _, t := range tasks {
		parts := strings.Split(t.Key, "/")
		if len(parts) < 5 || parts[0] != playbook {
			continue
		}
		list = append(list, map[string]any{"Step": parts[1], "Name": parts[len(parts)-1],
			"Subject": t.Subject, "Status": t.Status, "Closed": t.IsClosed})
	}
	return list
}

// test decides a condition for the case.
func (e *evaluation) test(c *Condition) (bool, error) { return e.run(c.prog) }

// run runs a condition's program for the case.
func (e *evaluation) run(prog exprProgram) (bool, error) {
	out, err := expr.Run(prog, e.vars())
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// value computes an update's value as the wire carries it (see bot.Fields); a zero time
// clears a date.
func (e *evaluation) value(x *Expr) (any, error) {
	out, err := expr.Run(x.prog, e.vars())
	if err != nil {
		return nil, err
	}
	switch x.Type {
	case TypeNumber:
		rv := reflect.ValueOf(out)
		switch {
		case rv.CanInt():
			return float64(rv.Int()), nil
		case rv.CanUint():
			return float64(rv.Uint()), nil
		case rv.CanFloat():
			return rv.Float(), nil
		}
	case TypeDate, TypeDateTime:
		t, ok := out.(time.Time)
		switch {
		case !ok:
		case t.IsZero():
			return nil, nil
		case x.Type == TypeDate:
			return t.In(e.loc).Format(bot.DateLayout), nil
		default:
			return t.UTC().Format(bot.DateTimeLayout), nil
		}
	default:
		return out, nil
	}
	return nil, fmt.Errorf("got %T, want %s", out, x.Type)
}

// stepDone reports whether every action of a step is done or skipped for the case.
func stepDone(p *Playbook, l bot.Ledger, caseID, step string) bool {
	s := p.steps[step]
	if s == nil {
		return false
	}
	var buf [128]byte
	for i := range s.Actions {
		ent, ok := l[string(appendKey(buf[:0], p.Name, step, i+1, caseID))]
		if !ok || (ent.State != bot.StateDone && ent.State != bot.StateSkipped) {
			return false
		}
	}
	return true
}

// tasksDone reports whether the case has tasks created by step and all of them are closed.
func tasksDone(tasks []bot.Task, playbook, step string) bool {
	n := 0
	for _, t := range tasks {
		if !createdBy(t.Key, playbook, step) {
			continue
		}
		if !t.IsClosed {
			return false
		}
		n++
	}
	return n > 0
}

// createdBy reports whether a task key starts with "playbook/step/", the prefix of
// bot.EffectKey for that step.
func createdBy(key, playbook, step string) bool {
	rest, ok := strings.CutPrefix(key, playbook)
	if !ok || !strings.HasPrefix(rest, "/") {
		return false
	}
	rest, ok = strings.CutPrefix(rest[1:], step)
	return ok && strings.HasPrefix(rest, "/")
}

// gate decides a condition's explanation: what it read and the values it read.
func (e *evaluation) gate(kind string, c *Condition) Gate {
	g := Gate{Kind: kind, Source: c.Source}
	if n := len(c.refs) + len(c.calls); n > 0 {
		g.Inputs = make([]Input, 0, n)
	}
	for _, ref := range c.refs {
		g.Inputs = append(g.Inputs, Input{Field: ref, Value: e.raw(ref)})
	}
	for _, call := range c.calls {
		in := Input{Func: call.fn, Step: call.step}
		if call.fn == doneFunc {
			in.Value = stepDone(e.p, e.l, e.c.ID, call.step)
		} else {
			in.Value = tasksDone(e.c.Tasks, e.p.Name, call.step)
		}
		g.Inputs = append(g.Inputs, in)
	}
	g.Missing = e.missing(c)
	return g
}

// appendGate writes why a condition is false: "require false: Case.X = false", or what a step
// needs or its guard waits for: "needs: Notice Period Days is empty".
func (e *evaluation) appendGate(b []byte, g Gate) []byte {
	b = append(b, g.Kind...)
	if g.Kind == "needs" || g.Kind == "guard" {
		b = append(b, ": "...)
		return append(b, g.Waiting()...)
	}
	b = append(b, " false: "...)
	if len(g.Inputs) == 0 {
		return append(b, g.Source...)
	}
	for i, in := range g.Inputs {
		if i > 0 {
			b = append(b, ", "...)
		}
		if in.Func != "" {
			b = append(b, in.Func...)
			b = append(b, "('"...)
			b = append(b, in.Step...)
			b = append(b, "') = "...)
			b = strconv.AppendBool(b, in.Value == true)
			continue
		}
		b = in.Field.appendTo(b)
		b = append(b, " = "...)
		b = appendValue(b, in.Value, e.p.Fields[in.Field])
	}
	return b
}

// raw returns a field's value as the case carries it; Id comes from the record itself.
func (e *evaluation) raw(ref FieldRef) any {
	if ref.Name != idField {
		return FieldValue(&e.c, ref)
	}
	if ref.Object == ObjectCase {
		return e.c.ID
	}
	if e.c.Account != nil {
		return e.c.Account.ID
	}
	return nil
}

// appendValue writes a wire value as a reader expects it: strings quoted, dates bare.
func appendValue(b []byte, v any, t FieldType) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case float64:
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	case string:
		if t == TypeDate || t == TypeDateTime {
			return append(b, v...)
		}
		return strconv.AppendQuote(b, v)
	default:
		return fmt.Append(b, v)
	}
}
