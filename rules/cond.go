package rules

import (
	"errors"
	"fmt"
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

// tasksDoneFunc is the function conditions call to wait for the tasks a step created.
const tasksDoneFunc = "tasksDone"

// idField is implicit on every record.
const idField = "Id"

type exprProgram = *vm.Program

// condEnv is what conditions see: Case and Account as maps with exactly the declared fields,
// typed, so that a typo or a type mismatch is a load error; and tasksDone.
type condEnv struct {
	opts []expr.Option
	// The fields some condition reads (Id included), by object: the only ones Evaluate
	// converts for conditions.
	caseFields, accountFields []declField
}

type declField struct {
	name string
	typ  FieldType
}

var timeType = types.TypeOf(time.Time{})

func newCondEnv(fields map[FieldRef]FieldType) condEnv {
	var e condEnv
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
			et = timeType
		}
		if ref.Object == ObjectCase {
			caseT[ref.Name] = et
		} else {
			accountT[ref.Name] = et
		}
	}
	e.opts = []expr.Option{
		expr.Env(types.Map{
			ObjectCase:    caseT,
			ObjectAccount: accountT,
			tasksDoneFunc: types.TypeOf((func(string) bool)(nil)),
		}),
		expr.AsBool(),
		// Evaluate is a function of (case, ledger, now): no reading the clock.
		expr.DisableBuiltin("now"),
	}
	return e
}

// use records that a condition reads a field.
func (e *condEnv) use(ref FieldRef, t FieldType) {
	list := &e.caseFields
	if ref.Object == ObjectAccount {
		list = &e.accountFields
	}
	if !slices.ContainsFunc(*list, func(d declField) bool { return d.name == ref.Name }) {
		*list = append(*list, declField{ref.Name, t})
	}
}

// condition compiles a `when` or `require` expression.
func (p *parser) condition(n *yaml.Node, what string) *Condition {
	src, ok := p.text(n, what)
	if !ok {
		return nil
	}
	tree, err := exprparser.Parse(src)
	if err != nil {
		p.exprError(n, what, err)
		return nil
	}
	v := &refVisitor{}
	ast.Walk(&tree.Node, v)
	c := &Condition{Source: src}
	declared := true
	for _, r := range v.refs {
		c.refs = append(c.refs, r.ref)
		rl, rc := runePos(src, r.from)
		line, col := p.inScalar(n, rl, rc)
		if r.ref.Name != idField && !p.declared(line, col, what, r.ref) {
			declared = false
		}
	}
	if !declared {
		return nil
	}
	for _, r := range v.refs {
		p.pb.cond.use(r.ref, p.pb.Fields[r.ref])
	}
	for _, s := range v.steps {
		c.steps = append(c.steps, s.ref.Name)
		rl, rc := runePos(src, s.from)
		line, col := p.inScalar(n, rl, rc)
		p.tasksDone = append(p.tasksDone, stepCall{what: what, step: s.ref.Name, line: line, col: col})
	}
	c.prog, err = expr.Compile(src, p.pb.cond.opts...)
	if err != nil {
		p.exprError(n, what, err)
		return nil
	}
	return c
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

// refVisitor collects the fields a condition reads and the steps its tasksDone calls name.
type refVisitor struct {
	refs, steps []located
}

type located struct {
	ref  FieldRef // for steps, Name is the step id
	from int      // rune offset in the expression
}

func (v *refVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
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
		if !ok || id.Value != tasksDoneFunc || len(n.Arguments) != 1 {
			return
		}
		if s, ok := n.Arguments[0].(*ast.StringNode); ok {
			v.steps = append(v.steps, located{FieldRef{Name: s.Value}, s.Location().From})
		}
	}
}

// vars builds what conditions see for one case. Evaluate calls it only when a condition must
// be decided, which few cases need in a cycle.
func (e *evaluation) vars() map[string]any {
	if e.env == nil {
		// The closure copies what it needs, so that the evaluation itself stays on the stack.
		tasks, playbook := e.c.Tasks, e.p.Name
		e.env = map[string]any{
			ObjectCase:    record(e.c.ID, e.c.Fields, e.p.cond.caseFields, e.loc),
			ObjectAccount: accountRecord(e.c.Account, e.p.cond.accountFields, e.loc),
			tasksDoneFunc: func(step string) bool { return tasksDone(tasks, playbook, step) },
		}
	}
	return e.env
}

func accountRecord(a *bot.Account, decl []declField, loc *time.Location) map[string]any {
	if a == nil {
		return record("", nil, decl, loc)
	}
	return record(a.ID, a.Fields, decl, loc)
}

// record gives the fields conditions read their typed values; null is the type's zero value.
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

// test decides a condition for the case.
func (e *evaluation) test(c *Condition) (bool, error) {
	out, err := expr.Run(c.prog, e.vars())
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
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

// explain appends why a condition is false: "require false: Case.X = false".
func (e *evaluation) explain(b []byte, kind string, c *Condition) []byte {
	b = append(b, kind...)
	b = append(b, " false: "...)
	if len(c.refs) == 0 && len(c.steps) == 0 {
		return append(b, c.Source...)
	}
	for i, ref := range c.refs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, ref.Object...)
		b = append(b, '.')
		b = append(b, ref.Name...)
		b = append(b, " = "...)
		b = appendValue(b, e.raw(ref), e.p.Fields[ref])
	}
	for i, s := range c.steps {
		if i > 0 || len(c.refs) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, tasksDoneFunc+"('"...)
		b = append(b, s...)
		b = append(b, "') = "...)
		b = strconv.AppendBool(b, tasksDone(e.c.Tasks, e.p.Name, s))
	}
	return b
}

// raw returns a field's value as the case carries it; Id comes from the record itself.
func (e *evaluation) raw(ref FieldRef) any {
	if ref.Name != idField {
		return fieldValue(&e.c, ref)
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
