package soql

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// This file maps our AST onto the JSON that soql-parser-js's parseQuery returns, so that the
// conformance test can compare the two parsers structure for structure. Both sides end up in
// one normalized shape: jsShape builds it from our AST, normalizeJS brings soql-parser-js's
// output to it. Only representation is normalized, never meaning:
//
//   - WHERE: soql-parser-js keeps a right-nested list ({left, operator, right}) in source order,
//     with openParen/closeParen counts on the conditions and NOT as {left: null or {openParen},
//     operator: "NOT", right: <the rest>}. jsShape flattens our tree into the same list. Because
//     SOQL gives AND and OR no precedence (mixing them needs parentheses) and NOT applies to the
//     next term, the list with its parentheses determines the tree, so nothing is lost.
//   - Keyword spelling: soql-parser-js keeps the case of some keywords as written (like, not in,
//     lower-case date literals, booleans and null inside IN lists) and upper-cases others. Both
//     sides use upper case; SOQL keywords are case-insensitive.
//   - "<>" is kept by soql-parser-js; our parser reads it as "!=", which it means in SOQL.
//   - literalType of an IN list is sometimes one string and sometimes an array of equal strings
//     in soql-parser-js; an array of equal types becomes the single type.
//   - dateLiteralVariable (the n of LAST_N_DAYS:n) is left out: it repeats what the value says,
//     and soql-parser-js drops it when n is 0 and fills lists with null for other literals.
//   - rawValue of a function (COUNT) is its source text; functionName and parameters, which are
//     compared, say the same thing without the spelling.
//
// Literal values are compared as written (strings with their quotes and escapes, numbers with
// their sign), except word literals, which are compared upper case, and relative date
// literals, compared as NAME:n without the spaces SOQL allows around the colon.

// jsShape returns q in soql-parser-js's normalized shape. A subquery names a relationship,
// not an object.
func jsShape(q *Query, sub bool) map[string]any {
	out := map[string]any{}
	fields := make([]any, 0, len(q.Fields))
	for _, it := range q.Fields {
		fields = append(fields, jsSelectItem(it))
	}
	out["fields"] = fields
	if sub {
		out["relationshipName"] = q.From
	} else {
		out["sObject"] = q.From
	}
	if q.Where != nil {
		out["where"] = jsWhere(q.Where)
	}
	if len(q.OrderBy) > 0 {
		order := make([]any, 0, len(q.OrderBy))
		for _, o := range q.OrderBy {
			m := map[string]any{"field": o.Field.String()}
			if o.Order != "" {
				m["order"] = o.Order
			}
			if o.Nulls != "" {
				m["nulls"] = o.Nulls
			}
			order = append(order, m)
		}
		out["orderBy"] = order
	}
	if q.Limit != nil {
		out["limit"] = float64(*q.Limit)
	}
	if q.Offset != nil {
		out["offset"] = float64(*q.Offset)
	}
	return out
}

func jsSelectItem(it SelectItem) map[string]any {
	switch {
	case it.Subquery != nil:
		return map[string]any{"type": "FieldSubquery", "subquery": jsShape(it.Subquery, true)}
	case it.Count != nil:
		params := []any{}
		if it.Count.Field != nil {
			params = append(params, it.Count.Field.String())
		}
		m := map[string]any{"type": "FieldFunctionExpression", "functionName": "COUNT",
			"parameters": params, "isAggregateFn": true}
		if it.Count.Alias != "" {
			m["alias"] = it.Count.Alias
		}
		return m
	}
	f := it.Field
	if len(f.Path) == 1 {
		return map[string]any{"type": "Field", "field": f.Path[0]}
	}
	rels := make([]any, 0, len(f.Path)-1)
	for _, r := range f.Path[:len(f.Path)-1] {
		rels = append(rels, r)
	}
	return map[string]any{"type": "FieldRelationship", "field": f.Path[len(f.Path)-1],
		"relationships": rels, "rawValue": f.String()}
}

// jsTerm is one entry of soql-parser-js's WHERE list: a comparison, or a NOT (cond nil), with
// the parentheses opened before it and closed after it and the operator that follows it.
type jsTerm struct {
	open, close int
	cond        *Comparison
	op          string
}

// jsWhere flattens a condition tree into soql-parser-js's right-nested list.
func jsWhere(e Expr) map[string]any {
	var terms []jsTerm
	open := 0
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *Paren:
			open++
			walk(e.X)
			terms[len(terms)-1].close++
		case *Not:
			terms = append(terms, jsTerm{open: open})
			open = 0
			walk(e.X)
		case *Logical:
			for i, t := range e.Terms {
				if i > 0 {
					terms[len(terms)-1].op = e.Op
				}
				walk(t)
			}
		case *Comparison:
			terms = append(terms, jsTerm{open: open, cond: e})
			open = 0
		}
	}
	walk(e)
	return jsList(terms)
}

func jsList(terms []jsTerm) map[string]any {
	t := terms[0]
	if t.cond == nil {
		var left any
		if t.open > 0 {
			left = map[string]any{"openParen": float64(t.open)}
		}
		return map[string]any{"left": left, "operator": "NOT", "right": jsList(terms[1:])}
	}
	left := jsCondition(t.cond)
	if t.open > 0 {
		left["openParen"] = float64(t.open)
	}
	if t.close > 0 {
		left["closeParen"] = float64(t.close)
	}
	out := map[string]any{"left": left}
	if t.op != "" {
		out["operator"] = t.op
		out["right"] = jsList(terms[1:])
	}
	return out
}

func jsCondition(c *Comparison) map[string]any {
	m := map[string]any{"field": c.Field.String(), "operator": c.Op}
	if c.Op != "IN" && c.Op != "NOT IN" {
		m["literalType"], m["value"] = string(c.Value.Type), jsValue(c.Value)
		return m
	}
	types, values := make([]any, len(c.Values)), make([]any, len(c.Values))
	for i, l := range c.Values {
		types[i], values[i] = string(l.Type), jsValue(l)
	}
	m["literalType"], m["value"] = collapseTypes(types), values
	return m
}

// jsValue is a literal as soql-parser-js's value, normalized as described above.
func jsValue(l Literal) string {
	switch l.Type {
	case LitBoolean, LitNull:
		return strings.ToUpper(l.Raw)
	case LitDateLiteral:
		return l.Name
	case LitDateNLiteral:
		return l.Name + ":" + strconv.Itoa(l.N)
	}
	return l.Raw
}

// collapseTypes turns a list of equal literal types into the one type.
func collapseTypes(types []any) any {
	for _, t := range types[1:] {
		if t != types[0] {
			return types
		}
	}
	return types[0]
}

// wordLiteralTypes are the literal types whose values are keywords, compared upper case.
var wordLiteralTypes = map[string]bool{"BOOLEAN": true, "NULL": true, "DATE_LITERAL": true, "DATE_N_LITERAL": true}

// normalizeJS normalizes soql-parser-js's parseQuery output (decoded from JSON) in place, as
// described at the top of this file, and returns it.
func normalizeJS(v any) any {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			normalizeJS(x)
		}
	case map[string]any:
		for _, x := range v {
			normalizeJS(x)
		}
		if v["type"] == "FieldFunctionExpression" {
			delete(v, "rawValue")
		}
		if _, ok := v["operator"]; ok {
			if _, cond := v["literalType"]; cond {
				normalizeCondition(v)
			}
		}
	}
	return v
}

func normalizeCondition(c map[string]any) {
	op := strings.Join(strings.Fields(strings.ToUpper(c["operator"].(string))), " ")
	if op == "<>" {
		op = "!="
	}
	c["operator"] = op
	delete(c, "dateLiteralVariable")
	upper := func(typ, val any) any {
		name, _ := typ.(string)
		if s, ok := val.(string); ok && wordLiteralTypes[name] {
			return strings.ToUpper(strings.Join(strings.Fields(s), ""))
		}
		return val
	}
	switch vals := c["value"].(type) {
	case []any:
		types, _ := c["literalType"].([]any)
		for i := range vals {
			typ := c["literalType"]
			if types != nil {
				typ = types[i]
			}
			vals[i] = upper(typ, vals[i])
		}
		if types != nil {
			c["literalType"] = collapseTypes(types)
		}
	case string:
		c["value"] = upper(c["literalType"], vals)
	}
}

// TestJSShape checks the mapping without Node.js, against parseQuery outputs of soql-parser-js
// 5.0.2 recorded here, and checks that it tells different structures apart.
func TestJSShape(t *testing.T) {
	tests := []struct {
		query, js string
		same      bool
	}{
		{
			"SELECT Id, Account.Owner.Name, COUNT(Id) n, (SELECT Id FROM Tasks ORDER BY ActivityDate desc nulls last LIMIT 2) FROM Case",
			`{"fields":[{"type":"Field","field":"Id"},{"type":"FieldRelationship","field":"Name","relationships":["Account","Owner"],"rawValue":"Account.Owner.Name"},{"type":"FieldFunctionExpression","functionName":"COUNT","parameters":["Id"],"isAggregateFn":true,"rawValue":"COUNT(Id)","alias":"n"},{"type":"FieldSubquery","subquery":{"fields":[{"type":"Field","field":"Id"}],"relationshipName":"Tasks","orderBy":[{"field":"ActivityDate","order":"DESC","nulls":"LAST"}],"limit":2}}],"sObject":"Case"}`,
			true,
		},
		{
			"SELECT Id FROM Case WHERE NOT (A = 1) AND (NOT B <> 2 OR C like 'x%')",
			`{"fields":[{"type":"Field","field":"Id"}],"sObject":"Case","where":{"left":null,"operator":"NOT","right":{"left":{"field":"A","operator":"=","literalType":"INTEGER","value":"1","openParen":1,"closeParen":1},"operator":"AND","right":{"left":{"openParen":1},"operator":"NOT","right":{"left":{"field":"B","operator":"<>","literalType":"INTEGER","value":"2"},"operator":"OR","right":{"left":{"field":"C","operator":"like","literalType":"STRING","value":"'x%'","closeParen":1}}}}}}}`,
			true,
		},
		{
			"SELECT Id FROM Case WHERE ((A = 1)) AND D not in (true, null, 'x') AND E IN (LAST_N_DAYS:0, last_n_days : 5, today)",
			`{"fields":[{"type":"Field","field":"Id"}],"sObject":"Case","where":{"left":{"field":"A","operator":"=","literalType":"INTEGER","value":"1","openParen":2,"closeParen":2},"operator":"AND","right":{"left":{"field":"D","operator":"NOT IN","literalType":["BOOLEAN","NULL","STRING"],"value":["true","null","'x'"]},"operator":"AND","right":{"left":{"field":"E","operator":"IN","literalType":["DATE_N_LITERAL","DATE_N_LITERAL","DATE_LITERAL"],"value":["LAST_N_DAYS:0","last_n_days:5","today"],"dateLiteralVariable":[null,5,null]}}}}}`,
			true,
		},
		{
			// The output for "A = 1 AND (B = 2 OR C = 3)": the same conditions, grouped otherwise.
			"SELECT Id FROM Case WHERE (A = 1 AND B = 2) OR C = 3",
			`{"fields":[{"type":"Field","field":"Id"}],"sObject":"Case","where":{"left":{"field":"A","operator":"=","literalType":"INTEGER","value":"1"},"operator":"AND","right":{"left":{"field":"B","operator":"=","literalType":"INTEGER","value":"2","openParen":1},"operator":"OR","right":{"left":{"field":"C","operator":"=","literalType":"INTEGER","value":"3","closeParen":1}}}}}`,
			false,
		},
		{
			// The output for "... WHERE A = 1": a string literal is not a number.
			"SELECT Id FROM Case WHERE A = '1'",
			`{"fields":[{"type":"Field","field":"Id"}],"sObject":"Case","where":{"left":{"field":"A","operator":"=","literalType":"INTEGER","value":"1"}}}`,
			false,
		},
	}
	for _, tt := range tests {
		q, err := Parse(tt.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.query, err)
		}
		var js any
		if err := json.Unmarshal([]byte(tt.js), &js); err != nil {
			t.Fatal(err)
		}
		ours, theirs := roundTripJSON(t, jsShape(q, false)), normalizeJS(js)
		if same := reflect.DeepEqual(ours, theirs); same != tt.same {
			t.Errorf("%s: same = %v, want %v\n  ours:   %s\n  theirs: %s", tt.query, same, tt.same, mustJSON(t, ours), mustJSON(t, theirs))
		}
	}
}
