package rules

import (
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// conjunct is one of the conditions a `when` or `require` joins with && at its top level,
// compiled on its own, so that a closed gate can say which of them are false.
type conjunct struct {
	source string
	prog   exprProgram
	refs   []FieldRef
	calls  []stepCall
	shape  shape
}

// shape is the form of a conjunct that reads as a plain sentence when false.
type shape int

const (
	shapeOther     shape = iota // said with the values it reads and its source
	shapeCall                   // done('s') or tasksDone('s'): calls[0]
	shapeSet                    // refs[0] is not empty: F != '', !F.IsZero()
	shapeChecked                // refs[0], a bool, is true: F
	shapeUnchecked              // refs[0], a bool, is false: !F
)

// conjuncts splits a compiled condition at its top-level && (or `and`). Each part is compiled
// on its own from its source as expr prints it, against the same declarations as the whole;
// a condition without a top-level && is its only part, with its source as written.
func (p *parser) conjuncts(src string, whole compiled) []conjunct {
	nodes := splitAnd(whole.node, nil)
	alone := []conjunct{{source: src, prog: whole.prog, refs: whole.refs, calls: whole.calls, shape: p.shapeOf(nodes[0])}}
	if len(nodes) == 1 {
		return alone
	}
	parts := make([]conjunct, 0, len(nodes))
	for _, node := range nodes {
		part := conjunct{source: node.String(), shape: p.shapeOf(node)}
		prog, err := expr.Compile(part.source, p.pb.cond.condOpts...)
		if err != nil {
			// expr prints an expression so that it parses again, and a part of a bool && is a
			// bool; should a part still not compile, the gate is explained as a whole.
			alone[0].shape = shapeOther
			return alone
		}
		part.prog = prog
		v := &refVisitor{}
		ast.Walk(&node, v)
		for _, r := range v.refs {
			part.refs = append(part.refs, r.ref)
		}
		for _, c := range v.calls {
			part.calls = append(part.calls, c.stepCall)
		}
		parts = append(parts, part)
	}
	return parts
}

// splitAnd appends the operands of the top-level && chain of n, left to right.
func splitAnd(n ast.Node, out []ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return splitAnd(b.Right, splitAnd(b.Left, out))
	}
	return append(out, n)
}

// shapeOf recognises the conjuncts that say one thing of one field or one step.
func (p *parser) shapeOf(n ast.Node) shape {
	switch n := n.(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && (id.Value == doneFunc || id.Value == tasksDoneFunc) && len(n.Arguments) == 1 {
			if _, ok := n.Arguments[0].(*ast.StringNode); ok {
				return shapeCall
			}
		}
	case *ast.MemberNode:
		if ref, ok := fieldNode(n); ok && p.pb.Fields[ref] == TypeBool {
			return shapeChecked
		}
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			break
		}
		if ref, ok := fieldNode(n.Node); ok && p.pb.Fields[ref] == TypeBool {
			return shapeUnchecked
		}
		if call, ok := n.Node.(*ast.CallNode); ok && len(call.Arguments) == 0 {
			if m, ok := call.Callee.(*ast.MemberNode); ok && isProperty(m, "IsZero") {
				if _, ok := fieldNode(m.Node); ok {
					return shapeSet
				}
			}
		}
	case *ast.BinaryNode:
		_, left := fieldNode(n.Left)
		_, right := fieldNode(n.Right)
		if n.Operator == "!=" && (left && isEmptyLiteral(n.Right) || right && isEmptyLiteral(n.Left)) {
			return shapeSet
		}
	}
	return shapeOther
}

// fieldNode reports whether n reads a field: Case.F or Account.F.
func fieldNode(n ast.Node) (FieldRef, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return FieldRef{}, false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, isStr := m.Property.(*ast.StringNode)
	if !ok || !isStr || (id.Value != ObjectCase && id.Value != ObjectAccount) {
		return FieldRef{}, false
	}
	return FieldRef{id.Value, prop.Value}, true
}

func isProperty(m *ast.MemberNode, name string) bool {
	s, ok := m.Property.(*ast.StringNode)
	return ok && s.Value == name
}

// isEmptyLiteral reports whether n is the empty string. (A declared field is never nil: null
// is its type's zero value.)
func isEmptyLiteral(n ast.Node) bool {
	s, ok := n.(*ast.StringNode)
	return ok && s.Value == ""
}

// missing says which parts of a false condition are false, in words (see Gate.Missing).
func (e *evaluation) missing(c *Condition) []string {
	if len(c.parts) == 1 {
		return []string{e.describe(&c.parts[0])}
	}
	// The part that made the whole false runs alone as it ran in the whole: at least one part
	// is found. A part that fails on its own may rely on an earlier one to guard it: it is not
	// what the gate waits for.
	var out []string
	for i := range c.parts {
		part := &c.parts[i]
		if ok, err := e.run(part.prog); !ok && err == nil {
			out = append(out, e.describe(part))
		}
	}
	return out
}

// describe says a false conjunct in words: what it reads, with the values the case has.
func (e *evaluation) describe(part *conjunct) string {
	switch part.shape {
	case shapeCall:
		return e.callWords(part.calls[0], false)
	case shapeSet, shapeChecked, shapeUnchecked:
		ref := part.refs[0]
		switch v := e.raw(ref); {
		case part.shape == shapeSet && (v == nil || v == ""):
			return subject(ref) + " is empty"
		case part.shape == shapeChecked && v != true:
			return subject(ref) + " is not checked"
		case part.shape == shapeUnchecked && v == true:
			return subject(ref) + " is checked"
		}
	}
	parts := make([]string, 0, len(part.refs)+len(part.calls)+1)
	for _, ref := range part.refs {
		parts = append(parts, subject(ref)+" is "+e.valueWords(ref))
	}
	for _, call := range part.calls {
		ok := stepDone(e.p, e.l, e.c.ID, call.step)
		if call.fn == tasksDoneFunc {
			ok = tasksDone(e.c.Tasks, e.p.Name, call.step)
		}
		parts = append(parts, e.callWords(call, ok))
	}
	parts = append(parts, "needs: "+part.source)
	return strings.Join(parts, ", ")
}

// subject names a field at the start of a sentence: "Deprovision Date", "the account's
// Tenant Id".
func subject(ref FieldRef) string {
	if ref.Object == ObjectAccount {
		return "the account's " + ref.Label()
	}
	return ref.Label()
}

// callWords says where the step a done or tasksDone call names stands.
func (e *evaluation) callWords(call stepCall, ok bool) string {
	if call.fn == doneFunc {
		if ok {
			return "step " + call.step + " is done"
		}
		return "step " + call.step + " is not done yet"
	}
	if ok {
		return "the tasks of step " + call.step + " are all closed"
	}
	closed, total := 0, 0
	for _, t := range e.c.Tasks {
		if createdBy(t.Key, e.p.Name, call.step) {
			total++
			if t.IsClosed {
				closed++
			}
		}
	}
	if total == 0 {
		return "step " + call.step + " has created no tasks yet"
	}
	return "the tasks of step " + call.step + " are not all closed (" + strconv.Itoa(closed) + " of " +
		strconv.Itoa(total) + " closed)"
}

// valueWords writes a field's value as people read it, by its declared type: "empty",
// "checked", "2", "Mon 30 Nov 2026", "Mon 30 Nov 2026 03:00 EST" (in the case's zone), or
// the text in quotes.
func (e *evaluation) valueWords(ref FieldRef) string {
	v := e.raw(ref)
	if v == nil || v == "" {
		return "empty"
	}
	switch t := e.p.Fields[ref]; t {
	case TypeBool:
		if v == true {
			return "checked"
		}
		return "not checked"
	case TypeNumber:
		switch v.(type) {
		case float64, int, int64:
			return strconv.FormatFloat(number(v), 'f', -1, 64)
		}
	case TypeDate, TypeDateTime:
		s, _ := v.(string)
		at, err := parseTime(s, t, e.loc)
		switch {
		case err != nil:
		case t == TypeDate:
			return at.Format(dateLayout)
		default:
			return at.In(e.loc).Format(whenLayout)
		}
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return string(appendValue(nil, v, TypeString))
}
