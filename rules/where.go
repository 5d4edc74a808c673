package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// standardFields are the fields applies_to.where may name without declaring them under
// fields: every Case and every Account has them, with these types. A declared field's type
// is used instead when the playbook declares it.
var standardFields = map[FieldRef]FieldType{
	{ObjectCase, "Id"}: TypeString, {ObjectCase, "CaseNumber"}: TypeString,
	{ObjectCase, "Subject"}: TypeString, {ObjectCase, "Status"}: TypeString,
	{ObjectCase, "Type"}: TypeString, {ObjectCase, "Origin"}: TypeString,
	{ObjectCase, "Priority"}: TypeString, {ObjectCase, "Reason"}: TypeString,
	{ObjectCase, "IsClosed"}: TypeBool, {ObjectCase, "IsEscalated"}: TypeBool,
	{ObjectCase, "ClosedDate"}: TypeDateTime, {ObjectCase, "CreatedDate"}: TypeDateTime,
	{ObjectCase, "LastModifiedDate"}: TypeDateTime, {ObjectCase, "OwnerId"}: TypeString,
	{ObjectCase, "AccountId"}: TypeString, {ObjectCase, "ContactId"}: TypeString,
	{ObjectCase, "ParentId"}: TypeString, {ObjectCase, "RecordTypeId"}: TypeString,
	{ObjectAccount, "Id"}: TypeString, {ObjectAccount, "Name"}: TypeString,
	{ObjectAccount, "Type"}: TypeString, {ObjectAccount, "AccountNumber"}: TypeString,
	{ObjectAccount, "Industry"}: TypeString, {ObjectAccount, "OwnerId"}: TypeString,
	{ObjectAccount, "ParentId"}: TypeString, {ObjectAccount, "RecordTypeId"}: TypeString,
	{ObjectAccount, "CreatedDate"}: TypeDateTime, {ObjectAccount, "LastModifiedDate"}: TypeDateTime,
}

// soqlWant says, for messages, what a field of each type is compared with.
var soqlWant = map[FieldType]string{
	TypeString:   "a string in single quotes",
	TypeBool:     "true or false",
	TypeNumber:   "a number, like 42",
	TypeDate:     "a date, like 2026-11-02, or a date literal, like TODAY",
	TypeDateTime: "a datetime, like 2026-11-02T10:00:00Z, or a date literal, like LAST_N_DAYS:30",
}

// where checks applies_to.where. Salesforce receives it inside the parentheses of the
// connector's WHERE (…) AND …, so it must be exactly one condition: one that closed that
// parenthesis early would widen the query to cases the playbook is not about. A mistake
// Salesforce would refuse only at run time is reported here, with its position.
func (p *parser) where(n *yaml.Node, src string) {
	comps, err := parseSOQLCondition(src)
	if err != nil {
		p.whereError(n, src, err.off, "%s", err.msg)
		return
	}
	for _, c := range comps {
		p.soqlComparison(n, src, c)
	}
}

// whereError reports a problem at a byte offset of the where condition written in node n.
func (p *parser) whereError(n *yaml.Node, src string, off int, format string, args ...any) {
	line, col := runePos(src, utf8.RuneCountInString(src[:off]))
	line, col = p.inScalar(n, line, col)
	p.errorAt(line, col, "applies_to.where: "+format, args...)
}

// soqlComparison checks that a comparison names a known field and compares it with values
// of its type, by an operator that applies to it.
func (p *parser) soqlComparison(n *yaml.Node, src string, c soqlComparison) {
	t, msg := p.whereField(c.field.text)
	switch {
	case msg != "":
		p.whereError(n, src, c.field.off, "%s", msg)
		return
	case t == "": // declared with an error, reported there
		return
	}
	op := c.op.text
	switch {
	case (op == "LIKE" || op == "INCLUDES" || op == "EXCLUDES") && t != TypeString:
		p.whereError(n, src, c.op.off, "%s compares strings; %s is %s", op, c.field.text, t)
		return
	case t == TypeBool && (op == "<" || op == "<=" || op == ">" || op == ">="):
		p.whereError(n, src, c.op.off, "%s is bool: compare it with = or !=", c.field.text)
		return
	}
	for _, v := range c.values {
		switch {
		case v.kind == soqlNull && op != "=" && op != "!=" && op != "<>" && op != "IN" && op != "NOT IN":
			p.whereError(n, src, v.off, "null is compared with = or != only")
		case v.kind != soqlNull && !soqlFits(t, v.kind):
			quotes := ""
			if v.kind == soqlString {
				quotes = ", without quotes"
			}
			p.whereError(n, src, v.off, "%s is %s; got %s: want %s%s", c.field.text, t, v.text, soqlWant[t], quotes)
		}
	}
}

// soqlFits reports whether a field of type t is compared with a value of kind k.
func soqlFits(t FieldType, k soqlKind) bool {
	switch t {
	case TypeString:
		return k == soqlString
	case TypeBool:
		return k == soqlBool
	case TypeNumber:
		return k == soqlNumber
	case TypeDate:
		return k == soqlDate || k == soqlDateLit
	default:
		return k == soqlDateTime || k == soqlDateLit
	}
}

// whereField returns the type of a field path of the where condition, "" for a field
// declared with an error, or a message saying why the path names no field casebot knows.
// Salesforce ignores the case of names; so does this.
func (p *parser) whereField(path string) (FieldType, string) {
	ref := FieldRef{ObjectCase, path}
	if obj, name, ok := strings.Cut(path, "."); ok {
		switch {
		case strings.EqualFold(obj, ObjectCase):
			return "", fmt.Sprintf("write %s, not %s: the condition is on Case already", name, path)
		case !strings.EqualFold(obj, ObjectAccount) || strings.Contains(name, "."):
			return "", fmt.Sprintf("%s: the condition names Case fields and Account.<field> only", path)
		}
		ref = FieldRef{ObjectAccount, name}
	}
	if t, ok := lookupFold(p.pb.Fields, ref); ok {
		return t, ""
	}
	if _, ok := lookupFold(p.badFields, ref); ok {
		return "", ""
	}
	if t, ok := lookupFold(standardFields, ref); ok {
		return t, ""
	}
	return "", fmt.Sprintf("%s is neither declared under fields.%s nor a standard %s field", path, ref.Object, ref.Object)
}

// lookupFold finds ref in m ignoring the case of its name, as Salesforce does.
func lookupFold[V any](m map[FieldRef]V, ref FieldRef) (V, bool) {
	for r, v := range m {
		if r.Object == ref.Object && strings.EqualFold(r.Name, ref.Name) {
			return v, true
		}
	}
	var zero V
	return zero, false
}
