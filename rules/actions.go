package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"casebot/bot"
)

// actionNames are the keys of actions, in the order messages list them.
var actionNames = []string{"update", "status", "close", "tasks", "slack", "email", "comment", "queue", "http", "attach"}

var (
	httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	// A dot path into a JSON response: "id", "data.status", "items.0.id".
	jsonPathRE = regexp.MustCompile(`^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$`)
)

func (p *parser) actions(n *yaml.Node, what, step string) []Action {
	items, ok := p.sequence(n, what+": do")
	if ok && len(items) == 0 {
		p.errorf(n, "%s: do: want at least one action", what)
	}
	var as []Action
	for i, it := range items {
		if a, ok := p.action(it, fmt.Sprintf("%s action %d", what, i+1), step); ok {
			as = append(as, a)
		}
	}
	return as
}

func (p *parser) action(n *yaml.Node, what, step string) (Action, bool) {
	pairs, ok := p.mapping(n, what)
	if !ok {
		return Action{}, false
	}
	// `destructive:` goes beside the action it marks.
	var destructive *yaml.Node
	pairs = slices.DeleteFunc(pairs, func(kv pair) bool {
		if kv.key.Value != "destructive" {
			return false
		}
		destructive = kv.val
		return true
	})
	switch len(pairs) {
	case 0:
		p.errorf(deref(n), "%s: empty; want %s", what, names(actionNames))
		return Action{}, false
	case 1:
	default:
		p.errorf(pairs[1].key, "%s: one action per list item; found %q and %q", what, pairs[0].key.Value, pairs[1].key.Value)
		return Action{}, false
	}
	k, v := pairs[0].key, pairs[0].val
	what += ": " + k.Value
	var a Action
	switch k.Value {
	case "update":
		a = p.update(v, what)
	case "status":
		a.Kind = bot.KindStatus
		a.Status, _ = p.text(v, what)
	case "close":
		a.Kind, a.Status = bot.KindStatus, "Closed"
		m := p.object(v, what, nil, []string{"status"})
		if s := m["status"]; s != nil {
			a.Status, _ = p.text(s, what+": status")
		}
	case "tasks":
		a.Kind = bot.KindTasks
		if s, ok := p.text(v, what); ok {
			if !p.templateName[s] {
				p.errorf(v, "%s: unknown task template %q", what, s)
			}
			a.Tasks = s
		}
	case "slack":
		a.Kind = bot.KindSlack
		m := p.object(v, what, []string{"to", "template"}, nil)
		if r := m["to"]; r != nil {
			a.Roles = p.roles(r, what+": to")
		}
		if t := m["template"]; t != nil {
			a.Template = p.template(t, what+": template", bot.KindSlack)
		}
	case "email":
		a = p.email(v, what)
	case "comment":
		a.Kind = bot.KindComment
		m := p.object(v, what, []string{"template"}, []string{"public"})
		if t := m["template"]; t != nil {
			a.Template = p.template(t, what+": template", bot.KindComment)
		}
		if b := m["public"]; b != nil {
			a.Public = p.flag(b, what+": public")
		}
	case "queue":
		a.Kind = bot.KindQueue
		if r, ok := p.role(v, what); ok {
			a.Roles = []string{r}
		}
	case "http":
		a.Kind, a.HTTP = bot.KindHTTP, p.http(v, what)
	case "attach":
		a = p.attach(v, what)
	default:
		p.errorf(k, "%s: unknown action; want %s", what, names(actionNames))
		return Action{}, false
	}
	p.harm(&a, k.Value, destructive, what)
	a.line, a.col = k.Line, k.Column
	return a, true
}

func (p *parser) flag(n *yaml.Node, what string) bool {
	var b bool
	if n = deref(n); n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n, "%s: want true or false, got %s", what, describe(n))
	}
	return b
}

func (p *parser) update(n *yaml.Node, what string) Action {
	a := Action{Kind: bot.KindUpdate}
	pairs, ok := p.mapping(n, what)
	if !ok {
		return a
	}
	switch {
	case len(pairs) == 0:
		p.errorf(deref(n), "%s: nothing to update; want Case or Account", what)
		return a
	case len(pairs) > 1:
		// One effect writes one record.
		p.errorf(pairs[1].key, "%s: one object per update; use another action for %s", what, pairs[1].key.Value)
		return a
	}
	obj := pairs[0].key.Value
	if obj != ObjectCase && obj != ObjectAccount {
		p.errorf(pairs[0].key, "%s: unknown object %q; want Case or Account", what, obj)
		return a
	}
	fieldPairs, ok := p.mapping(pairs[0].val, what+"."+obj)
	if !ok {
		return a
	}
	if len(fieldPairs) == 0 {
		p.errorf(deref(pairs[0].val), "%s: nothing to update", what)
	}
	a.Object, a.Fields = obj, make(bot.Fields, len(fieldPairs))
	for _, kv := range fieldPairs {
		ref := FieldRef{obj, kv.key.Value}
		if !p.declared(kv.key.Line, kv.key.Column, what, ref) {
			continue
		}
		if deref(kv.val).Kind == yaml.MappingNode {
			// Calls in values are no gates: they take no part in the cycle check.
			if x, ok := p.valueExpr(kv.val, what, "", ref); ok {
				if a.Exprs == nil {
					a.Exprs = map[string]*Expr{}
				}
				a.Exprs[ref.Name] = x
			}
			continue
		}
		if v, ok := p.value(kv.val, what, ref); ok {
			a.Fields[ref.Name] = v
		}
	}
	return a
}

// value converts a YAML scalar to the wire value of a field of the declared type (see
// bot.Fields); null clears the field.
func (p *parser) value(n *yaml.Node, what string, ref FieldRef) (any, bool) {
	return p.typedValue(n, what, ref, p.pb.Fields[ref])
}

// typedValue is value for a field of type t.
func (p *parser) typedValue(n *yaml.Node, what string, ref FieldRef, t FieldType) (any, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: %s is %s; got %s", what, ref, t, describe(n))
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	bad := func() (any, bool) {
		p.errorf(n, "%s: %s is %s; got %s", what, ref, t, describe(n))
		return nil, false
	}
	switch t {
	case TypeBool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			return bad()
		}
		return b, true
	case TypeNumber:
		var f float64
		if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			return bad()
		}
		return f, true
	case TypeString:
		if n.Tag != "!!str" {
			// `Type: 2024` or `Type: true` would otherwise reach Salesforce as a number or
			// a boolean.
			p.errorf(n, "%s: %s is string; got %s (write %q to make it a string)", what, ref, n.Value, n.Value)
			return nil, false
		}
		return n.Value, true
	case TypeDate:
		if _, err := time.Parse(bot.DateLayout, n.Value); err != nil {
			return bad()
		}
		return n.Value, true
	default: // TypeDateTime
		tm, err := parseDateTime(n.Value)
		if err != nil {
			return bad()
		}
		return tm.UTC().Format(bot.DateTimeLayout), true
	}
}

// email reads `email: {to, cc, template}`. To lists roles and string fields holding mail
// addresses; cc lists roles only, because an effect carries the addresses read from fields
// in one list, sent to.
func (p *parser) email(n *yaml.Node, what string) Action {
	a := Action{Kind: bot.KindEmail}
	m := p.object(n, what, []string{"to", "template"}, []string{"cc", "attach", "thread"})
	if v := m["to"]; v != nil {
		items, ok := p.sequence(v, what+": to")
		if ok && len(items) == 0 {
			p.errorf(deref(v), "%s: to: want at least one role or field", what)
		}
		for _, it := range items {
			s, ok := p.text(it, what+": to")
			if !ok {
				continue
			}
			if !strings.Contains(s, ".") {
				if r, ok := p.role(it, what+": to"); ok {
					a.Roles = append(a.Roles, r)
				}
				continue
			}
			if ref, ok := p.field(it, what+": to", TypeString); ok {
				a.Addresses = append(a.Addresses, ref)
			}
		}
	}
	if v := m["cc"]; v != nil {
		items, _ := p.sequence(v, what+": cc")
		for _, it := range items {
			if s := peekScalar(it); strings.Contains(s, ".") {
				p.errorf(it, "%s: cc: %s: cc takes roles; put addresses read from fields in to", what, s)
				continue
			}
			if r, ok := p.role(it, what+": cc"); ok {
				a.Cc = append(a.Cc, r)
			}
		}
	}
	if v := m["template"]; v != nil {
		a.Template = p.template(v, what+": template", bot.KindEmail)
	}
	if v := m["attach"]; v != nil {
		a.Attachments = p.attachments(v, what+": attach")
	}
	if v := m["thread"]; v != nil {
		a.Thread = p.flag(v, what+": thread")
	}
	return a
}

// peekScalar returns a scalar's text, "" for anything else, reporting nothing.
func peekScalar(n *yaml.Node) string {
	if n = deref(n); n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func (p *parser) http(n *yaml.Node, what string) *HTTPAction {
	h := &HTTPAction{}
	m := p.object(n, what, []string{"endpoint", "method"}, []string{"path", "body", "store"})
	if v := m["endpoint"]; v != nil {
		if s, ok := p.text(v, what+": endpoint"); ok {
			if p.opts.KnownEndpoint != nil && !p.opts.KnownEndpoint(s) {
				p.errorf(v, "%s: endpoint: unknown endpoint %q", what, s)
			}
			h.Endpoint = s
		}
	}
	if v := m["method"]; v != nil {
		h.Method, _ = choice(p, v, what+": method", httpMethods)
	}
	if v := m["path"]; v != nil {
		if s, ok := p.text(v, what+": path"); ok {
			if !strings.HasPrefix(s, "/") {
				p.errorf(v, "%s: path: %q must start with /", what, s)
			}
			h.Path = s
			h.path, _ = p.placeholders(v, what+": path", s)
		}
	}
	if v := m["body"]; v != nil {
		if h.Method == "GET" {
			p.errorf(v, "%s: body: a GET sends no body", what)
		}
		h.Body, h.body = p.jsonValue(v, what+": body")
	}
	if v := m["store"]; v != nil {
		pairs, _ := p.mapping(v, what+": store")
		h.Store = make(map[string]string, len(pairs))
		for _, kv := range pairs {
			ref, ok := p.field(kv.key, what+": store")
			if ok && ref.Object != ObjectCase {
				p.errorf(kv.key, "%s: store: %s: responses are stored on the case; want a Case field", what, ref)
				ok = false
			}
			path, isPath := p.scalar(kv.val, what+": store: "+kv.key.Value)
			if isPath && !jsonPathRE.MatchString(path) {
				p.errorf(kv.val, "%s: store: %s: invalid path %q: want names joined by dots, like data.status", what, kv.key.Value, path)
				isPath = false
			}
			if ok && isPath {
				// "response.guids" and "guids" name the same value: the response is the root.
				h.Store[ref.Name] = strings.TrimPrefix(path, "response.")
			}
		}
	}
	return h
}

// jsonValue reads an http body: the value as written, and the same value with every string
// that holds a placeholder parsed to a text.
func (p *parser) jsonValue(n *yaml.Node, what string) (written, parsed any) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		pairs, _ := p.mapping(n, what)
		w, r := make(map[string]any, len(pairs)), make(map[string]any, len(pairs))
		for _, kv := range pairs {
			w[kv.key.Value], r[kv.key.Value] = p.jsonValue(kv.val, what+"."+kv.key.Value)
		}
		return w, r
	case yaml.SequenceNode:
		w, r := make([]any, len(n.Content)), make([]any, len(n.Content))
		for i, it := range n.Content {
			w[i], r[i] = p.jsonValue(it, fmt.Sprintf("%s[%d]", what, i))
		}
		return w, r
	}
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!str":
		t, _ := p.placeholders(n, what, n.Value)
		if len(t) == 1 && t[0].ref == (FieldRef{}) {
			return n.Value, n.Value
		}
		return n.Value, t
	}
	var v any
	if err := n.Decode(&v); err != nil {
		p.errorf(n, "%s: %v", what, err)
	}
	return v, v
}

// text is a string with ${Case.F} / ${Account.F} placeholders, as segments.
type text []segment

type segment struct {
	lit string
	ref FieldRef // the field for a placeholder; zero for literal text
}

// placeholders parses the placeholders of a string written in node n.
func (p *parser) placeholders(n *yaml.Node, what, s string) (text, bool) {
	var t text
	ok := true
	for rest, at := s, 0; rest != ""; {
		i := strings.Index(rest, "${")
		if i < 0 {
			t = append(t, segment{lit: rest})
			break
		}
		if i > 0 {
			t = append(t, segment{lit: rest[:i]})
		}
		rl, rc := runePos(s, len([]rune(s[:at+i])))
		line, col := p.inScalar(n, rl, rc)
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			p.errorAt(line, col, "%s: unclosed ${", what)
			return nil, false
		}
		name := rest[i+2 : i+end]
		obj, field, _ := strings.Cut(name, ".")
		ref := FieldRef{obj, field}
		switch {
		case (obj != ObjectCase && obj != ObjectAccount) || !fieldRE.MatchString(field):
			p.errorAt(line, col, "%s: invalid placeholder ${%s}: want ${Case.Name} or ${Account.Name}", what, name)
			ok = false
		case ref.Name == idField || p.declared(line, col, what, ref):
			t = append(t, segment{ref: ref})
		default:
			ok = false
		}
		at += i + end + 1
		rest = rest[i+end+1:]
	}
	return t, ok
}

// render fills in a text's placeholders; escape escapes values for a URL path segment.
func (e *evaluation) render(t text, escape bool) (string, error) {
	var b strings.Builder
	for _, sg := range t {
		if sg.ref == (FieldRef{}) {
			b.WriteString(sg.lit)
			continue
		}
		v, err := e.placeholder(sg.ref)
		if err != nil {
			return "", err
		}
		s := fmt.Sprint(v)
		if f, ok := v.(float64); ok {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
		if escape {
			s = url.PathEscape(s)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// placeholder is a placeholder's value; a null one is an error, since a call with a hole in
// its path or body would reach the wrong record.
func (e *evaluation) placeholder(ref FieldRef) (any, error) {
	v := e.raw(ref)
	if v == nil || v == "" {
		return nil, fmt.Errorf("%s is null", ref)
	}
	return v, nil
}

// renderJSON fills in the placeholders of a body. A string that is one placeholder and
// nothing else takes the field's JSON type (a number stays a number).
func (e *evaluation) renderJSON(v any) (any, error) {
	switch v := v.(type) {
	case text:
		if len(v) == 1 && v[0].ref != (FieldRef{}) {
			return e.placeholder(v[0].ref)
		}
		return e.render(v, false)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			r, err := e.renderJSON(x)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			r, err := e.renderJSON(x)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// effect builds the effect of action i of step s, due at due. It fails when the case lacks
// what the action needs: an account to update, an address to mail, a value for a placeholder.
func (e *evaluation) effect(s *Step, i int, due time.Time) (bot.Effect, error) {
	a := &s.Actions[i]
	eff := bot.Effect{
		Key:      bot.EffectKey(e.p.Name, s.ID, i+1, e.c.ID),
		Playbook: e.p.Name,
		Step:     s.ID,
		Action:   i + 1,
		CaseID:   e.c.ID,
		Due:      due,
		Kind:     a.Kind,
	}
	// Effects get their own maps and slices: the engine may merge or edit them, and the
	// playbook is shared by every case.
	switch a.Kind {
	case bot.KindUpdate:
		eff.Object, eff.RecordID, eff.Fields = a.Object, e.c.ID, maps.Clone(a.Fields)
		if a.Object == ObjectAccount {
			if e.c.Account == nil {
				return eff, errors.New("the case has no account")
			}
			eff.RecordID = e.c.Account.ID
		}
		for name, x := range a.Exprs {
			v, err := e.value(x)
			if err != nil {
				return eff, fmt.Errorf("%s.%s: %w", a.Object, name, err)
			}
			eff.Fields[name] = v
		}
	case bot.KindStatus:
		eff.Object, eff.RecordID, eff.Fields = ObjectCase, e.c.ID, bot.Fields{"Status": a.Status}
	case bot.KindTasks:
		// A step that runs after its date (found late, or held back by its gate) gives its
		// tasks their full time from the day they are created: none is born overdue.
		eff.Tasks = e.tasks(eff.Key, a.Tasks, later(due, e.now))
	case bot.KindSlack, bot.KindQueue:
		eff.Roles, eff.Template = slices.Clone(a.Roles), a.Template
	case bot.KindEmail:
		eff.Roles, eff.Cc, eff.Template, eff.Files = slices.Clone(a.Roles), slices.Clone(a.Cc), a.Template, slices.Clone(a.Attachments)
		eff.Thread = a.Thread
		for _, ref := range a.Addresses {
			addr, err := e.address(ref)
			if err != nil {
				return eff, err
			}
			eff.Addresses = append(eff.Addresses, addr)
		}
	case bot.KindComment:
		eff.Template, eff.Public = a.Template, a.Public
	case bot.KindAttach:
		eff.Files = []bot.File{*a.File}
	case bot.KindHTTP:
		call, err := e.http(a.HTTP)
		if err != nil {
			return eff, err
		}
		eff.HTTP = call
	}
	return eff, nil
}

// address reads a mail address from a field.
func (e *evaluation) address(ref FieldRef) (string, error) {
	s, _ := e.raw(ref).(string)
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("no address to mail: %s is null", ref)
	}
	if _, err := mail.ParseAddress(s); err != nil {
		return "", fmt.Errorf("%s = %q is not a mail address", ref, s)
	}
	return s, nil
}

func (e *evaluation) http(h *HTTPAction) (*bot.HTTPCall, error) {
	call := &bot.HTTPCall{Endpoint: h.Endpoint, Method: h.Method, Store: maps.Clone(h.Store)}
	path, err := e.render(h.path, true)
	if err != nil {
		return nil, err
	}
	call.Path = path
	if h.body != nil {
		body, err := e.renderJSON(h.body)
		if err != nil {
			return nil, err
		}
		if call.Body, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encoding the body: %w", err)
		}
	}
	return call, nil
}

// tasks builds the tasks of a template; due dates count from the local date of from.
func (e *evaluation) tasks(key, template string, from time.Time) []bot.TaskSpec {
	entries := e.p.TaskTemplates[template]
	start := dayOf(from.In(e.loc))
	specs := make([]bot.TaskSpec, len(entries))
	for i, t := range entries {
		specs[i] = bot.TaskSpec{
			Key:         key + "/" + t.ID,
			Subject:     t.Subject,
			OwnerRole:   t.Owner,
			Priority:    t.Priority,
			Description: t.Description,
		}
		var d day
		switch t.Due.Unit {
		case Days:
			d = start.add(t.Due.N)
		case BusinessDays:
			d = e.cal.addBusinessDays(start, t.Due.N)
		default:
			continue
		}
		specs[i].Due = time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Format(bot.DateLayout)
	}
	return specs
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
