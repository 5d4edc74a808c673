package playtest

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/rules"

	"go.yaml.in/yaml/v3"
)

// Default ids of the fixture records; a test sets its own with `Id:` under case or account.
const (
	defaultCaseID    = "500000000000001AAA"
	defaultAccountID = "001000000000001AAA"
)

// suite is one parsed *.test.yaml file.
type suite struct {
	file   string // the test file's path in the FS
	golden string // the directory of its golden files in the FS
	pb     *rules.Playbook
	closed []string // statuses that close a case
	tests  []*testCase
}

// testCase is one test of a suite.
type testCase struct {
	name    string
	line    int
	caseRec bot.Case // the fixture: case, account, tasks
	files   []file   // on the case before the test starts
	loc     *time.Location
	roles   map[string]engine.Role
	answers map[string]map[string]any // endpoint → the JSON object it answers
	start   time.Time
	until   time.Time   // zero with at
	at      []time.Time // cycle times; nil with until
	events  []event
	expect  []wantLine
	final   []fieldValue // what the case and account hold when the test ends
}

// event is what people do in Salesforce at a time, before casebot's cycle at that time.
type event struct {
	at       time.Time
	line     int
	set      []fieldValue
	complete []string // step ids or task template entry ids
	// optional completes only what is open: a generated timeline cannot know which tasks
	// casebot has created by then.
	optional bool
}

// fieldValue is a typed value for a declared field, with where the test wrote it.
type fieldValue struct {
	ref       rules.FieldRef
	val       any // wire value: string, float64, bool or nil
	line, col int
}

// wantLine is one line of `expect:`.
type wantLine struct {
	text      string // normalized, without the golden annotation
	golden    string // the golden file's name, "" when none
	line, col int
}

// testSuffix marks test files; golden files live in testdata/<name without it>/.
const testSuffix = ".test.yaml"

var (
	goldenRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	roleKeys     = []string{"user", "queue", "channel", "emails"}
	eventKeys    = []string{"at", "set", "complete_tasks"}
	fileKeys     = []string{"playbook", "closed_statuses", "tests"}
	testKeys     = []string{"name", "case", "account", "tasks", "files", "roles", "responses", "start", "until", "at", "events", "expect", "final"}
	taskKeys     = []string{"key", "subject", "status", "due"}
	caseFileKeys = []string{"name", "title", "text"}
	objectKeys   = []string{rules.ObjectCase, rules.ObjectAccount}
)

// parser reads one test file, collecting every problem with its position.
type parser struct {
	file  string
	src   []string // the file's lines, for positions inside block scalars
	pbs   map[string]*rules.Playbook
	roles []string // every role the playbooks name, for the default role map
	errs  rules.Errors
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &rules.Error{File: p.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// parseSuite parses a test file; the error, when not nil, is a rules.Errors.
func parseSuite(file string, data []byte, pbs map[string]*rules.Playbook, roles []string) (*suite, error) {
	p := &parser{file: file, src: strings.Split(string(data), "\n"), pbs: pbs, roles: roles}
	s := p.suite(data)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return s, nil
}

func (p *parser) suite(data []byte) *suite {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.errs = append(p.errs, &rules.Error{File: p.file, Msg: err.Error()})
		return nil
	}
	if len(doc.Content) == 0 {
		p.errs = append(p.errs, &rules.Error{File: p.file, Msg: "empty test file"})
		return nil
	}
	top := p.keys(doc.Content[0], "test file", fileKeys, "playbook", "tests")
	if top == nil {
		return nil
	}
	name, ok := p.scalar(top["playbook"], "playbook")
	if !ok {
		return nil
	}
	pb := p.pbs[name]
	if pb == nil {
		p.errorf(top["playbook"], "playbook: no playbook %q next to this file", name)
		return nil
	}
	s := &suite{file: p.file, pb: pb, closed: []string{"Closed"},
		golden: path.Join(path.Dir(p.file), "testdata", strings.TrimSuffix(path.Base(p.file), testSuffix))}
	if n := top["closed_statuses"]; n != nil {
		s.closed = p.strings(n, "closed_statuses")
	}
	names := map[string]int{}
	for _, n := range p.list(top["tests"], "tests") {
		t := p.test(n, pb)
		if t == nil {
			continue
		}
		if line, dup := names[t.name]; dup {
			p.errorf(n, "test %q: duplicate name (first at line %d)", t.name, line)
			continue
		}
		names[t.name] = t.line
		s.tests = append(s.tests, t)
	}
	return s
}

func (p *parser) test(n *yaml.Node, pb *rules.Playbook) *testCase {
	what := "test"
	if name := peekName(n); name != "" {
		what = fmt.Sprintf("test %q", name)
	}
	m := p.keys(n, what, testKeys, "name", "case", "expect")
	if m == nil {
		return nil
	}
	name, ok := p.scalar(m["name"], what+": name")
	if !ok {
		return nil
	}
	t := &testCase{name: name, line: n.Line}
	t.caseRec = bot.Case{ID: defaultCaseID}
	t.caseRec.Fields, t.caseRec.ID = p.fixture(m["case"], what+": case", pb, rules.ObjectCase, defaultCaseID)
	if m["account"] != nil {
		a := &bot.Account{}
		a.Fields, a.ID = p.fixture(m["account"], what+": account", pb, rules.ObjectAccount, defaultAccountID)
		t.caseRec.Account = a
	}
	if m["tasks"] != nil {
		t.caseRec.Tasks = p.tasks(m["tasks"], what+": tasks", pb.Name, t.caseRec.ID)
	}
	if m["files"] != nil {
		t.files = p.files(m["files"], what+": files")
	}
	// Times the test writes without an offset are in the case's zone, as the playbook counts.
	t.loc = pb.Zone(t.caseRec)
	t.roles = p.roleMap(m["roles"], what+": roles")
	t.answers = p.responses(m["responses"], what+": responses")
	p.clock(n, m, what, t)
	for _, en := range p.list(m["events"], what+": events") {
		if ev, ok := p.event(en, what+": event", pb, t); ok {
			t.events = append(t.events, ev)
		}
	}
	slices.SortStableFunc(t.events, func(a, b event) int { return a.at.Compare(b.at) })
	t.expect = p.expectLines(m["expect"], what+": expect", t.loc)
	if m["final"] != nil {
		t.final = p.values(m["final"], what+": final", pb)
	}
	return t
}

// peekName returns a test's name before its keys are checked, so that every message about
// the test can name it.
func peekName(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := deref(n.Content[i+1]); n.Content[i].Value == "name" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

// clock reads start with until, or at.
func (p *parser) clock(n *yaml.Node, m map[string]*yaml.Node, what string, t *testCase) {
	switch {
	case m["at"] != nil && (m["until"] != nil || m["start"] != nil):
		p.errorf(m["at"], "%s: at: lists every cycle time; it goes without start and until", what)
	case m["at"] != nil:
		for _, n := range p.list(m["at"], what+": at") {
			if tm, ok := p.time(n, what+": at", t.loc); ok {
				t.at = append(t.at, tm)
			}
		}
		if !slices.IsSortedFunc(t.at, func(a, b time.Time) int { return a.Compare(b) }) {
			p.errorf(m["at"], "%s: at: times must be in order", what)
		}
		if len(t.at) > 0 {
			t.start = t.at[0]
		}
	case m["start"] == nil || m["until"] == nil:
		p.errorf(n, "%s: needs start and until (the clock jumps from due time to due time) or at (a list of times)", what)
	default:
		t.start, _ = p.time(m["start"], what+": start", t.loc)
		t.until, _ = p.time(m["until"], what+": until", t.loc)
		if !t.until.After(t.start) {
			p.errorf(m["until"], "%s: until must be after start", what)
		}
	}
}

func (p *parser) event(n *yaml.Node, what string, pb *rules.Playbook, t *testCase) (event, bool) {
	m := p.keys(n, what, eventKeys, "at")
	if m == nil {
		return event{}, false
	}
	ev := event{line: n.Line}
	var ok bool
	if ev.at, ok = p.time(m["at"], what+": at", t.loc); !ok {
		return ev, false
	}
	if ev.at.Before(t.start) {
		p.errorf(m["at"], "%s: at %s is before the test starts", what, m["at"].Value)
	}
	if m["set"] == nil && m["complete_tasks"] == nil {
		p.errorf(n, "%s: say what happens: set or complete_tasks", what)
	}
	if m["set"] != nil {
		ev.set = p.values(m["set"], what+": set", pb)
	}
	for _, c := range p.list(m["complete_tasks"], what+": complete_tasks") {
		name, ok := p.scalar(c, what+": complete_tasks")
		if !ok {
			continue
		}
		if !taskName(pb, name) {
			p.errorf(c, "%s: complete_tasks: %q is neither a step nor a task of a task template of %s", what, name, pb.Name)
			continue
		}
		ev.complete = append(ev.complete, name)
	}
	return ev, true
}

// taskName reports whether name is a step id, a task template entry id or "step/entry".
func taskName(pb *rules.Playbook, name string) bool {
	step, entry, both := strings.Cut(name, "/")
	if !both {
		entry = name
	}
	hasStep := slices.ContainsFunc(pb.Steps, func(s *rules.Step) bool { return s.ID == step })
	if !both && hasStep {
		return true
	}
	if both && !hasStep {
		return false
	}
	for _, entries := range pb.TaskTemplates {
		if slices.ContainsFunc(entries, func(e rules.TaskEntry) bool { return e.ID == entry }) {
			return true
		}
	}
	return false
}

// fixture reads the fields of the case or account; Id names the record.
func (p *parser) fixture(n *yaml.Node, what string, pb *rules.Playbook, object, defaultID string) (bot.Fields, string) {
	id := defaultID
	f := bot.Fields{}
	for _, kv := range p.pairs(n, what) {
		if kv[0].Value == "Id" {
			if s, ok := p.scalar(kv[1], what+": Id"); ok {
				id = s
			}
			continue
		}
		if v, ok := p.field(kv[0], kv[1], what, pb, object); ok {
			f[kv[0].Value] = v.val
		}
	}
	return f, id
}

// values reads {Case: {F: v}, Account: {F: v}}.
func (p *parser) values(n *yaml.Node, what string, pb *rules.Playbook) []fieldValue {
	var out []fieldValue
	m := p.keys(n, what, objectKeys)
	for _, object := range objectKeys {
		if m[object] == nil {
			continue
		}
		for _, kv := range p.pairs(m[object], what+": "+object) {
			if v, ok := p.field(kv[0], kv[1], what, pb, object); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// field converts a value written in the test to the wire value of the declared field.
func (p *parser) field(k, v *yaml.Node, what string, pb *rules.Playbook, object string) (fieldValue, bool) {
	ref := rules.FieldRef{Object: object, Name: k.Value}
	typ, ok := pb.Fields[ref]
	if !ok {
		p.errorf(k, "%s: %s is not a field %s declares", what, ref, pb.Name)
		return fieldValue{}, false
	}
	v = deref(v)
	fv := fieldValue{ref: ref, line: v.Line, col: v.Column}
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, "%s: %s: want a %s value", what, ref, typ)
		return fv, false
	}
	if v.Tag == "!!null" {
		return fv, true
	}
	var err error
	switch typ {
	case rules.TypeString:
		fv.val = v.Value
	case rules.TypeBool:
		fv.val, err = strconv.ParseBool(v.Value)
	case rules.TypeNumber:
		fv.val, err = strconv.ParseFloat(v.Value, 64)
	case rules.TypeDate:
		_, err = time.Parse(bot.DateLayout, v.Value)
		fv.val = v.Value
	case rules.TypeDateTime:
		// Salesforce's layout on the wire, whatever the test wrote.
		var t time.Time
		if t, err = parseTime(v.Value, time.UTC); err == nil {
			fv.val = t.UTC().Format(bot.DateTimeLayout)
		}
	default:
		fv.val = v.Value
	}
	if err != nil {
		p.errorf(v, "%s: %s: %q is not a %s", what, ref, v.Value, typ)
		return fv, false
	}
	return fv, true
}

// tasks reads tasks casebot created before the test starts; their keys are written
// "step/action/entry" or in full.
func (p *parser) tasks(n *yaml.Node, what, playbook, caseID string) []bot.Task {
	var out []bot.Task
	for i, tn := range p.list(n, what) {
		m := p.keys(tn, what, taskKeys, "key", "subject")
		if m == nil {
			continue
		}
		key, _ := p.scalar(m["key"], what+": key")
		if parts := strings.Split(key, "/"); len(parts) == 3 {
			key = bot.EffectKey(playbook, parts[0], atoi(parts[1]), caseID) + "/" + parts[2]
		} else if bot.CaseOfKey(key) != caseID {
			p.errorf(m["key"], `%s: key %q: write "step/action/entry" or a full key of this case`, what, key)
		}
		subject, _ := p.scalar(m["subject"], what+": subject")
		t := bot.Task{ID: fmt.Sprintf("00T%015d", i+1), Key: key, Subject: subject, Status: "Not Started"}
		if m["status"] != nil {
			t.Status, _ = p.scalar(m["status"], what+": status")
			t.IsClosed = t.Status == completed
		}
		if m["due"] != nil {
			if d, ok := p.scalar(m["due"], what+": due"); ok {
				if _, err := time.Parse(bot.DateLayout, d); err != nil {
					p.errorf(m["due"], "%s: due %q is not a date (2006-01-02)", what, d)
				}
				t.ActivityDate = d
			}
		}
		out = append(out, t)
	}
	return out
}

// files reads the files people put on the case before the test starts: a name, a title
// (the name without its extension unless given, as in Salesforce) and the text it holds.
func (p *parser) files(n *yaml.Node, what string) []file {
	var out []file
	for i, fn := range p.list(n, what) {
		m := p.keys(fn, what, caseFileKeys, "name")
		if m == nil {
			continue
		}
		name, ok := p.scalar(m["name"], what+": name")
		if !ok {
			continue
		}
		f := file{CaseFile: bot.CaseFile{Version: fmt.Sprintf("068%015d", i+1), Name: name,
			Title: strings.TrimSuffix(name, path.Ext(name))}}
		if m["title"] != nil {
			f.Title, _ = p.scalar(m["title"], what+": title")
		}
		if m["text"] != nil {
			text, _ := p.scalar(m["text"], what+": text")
			f.data = []byte(text)
		}
		f.Size = int64(len(f.data))
		out = append(out, f)
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s) // a bad number makes a key no effect has, which the test then shows
	return n
}

// roleMap returns every role the playbooks name as the user and address <role>@example.test,
// the queue <role> and the channel #<role>, with the test's overrides.
func (p *parser) roleMap(n *yaml.Node, what string) map[string]engine.Role {
	roles := defaultRoles(p.roles)
	for _, kv := range p.pairs(n, what) {
		m := p.keys(kv[1], what+": "+kv[0].Value, roleKeys)
		r := roles[kv[0].Value]
		for key, dst := range map[string]*string{"user": &r.User, "queue": &r.Queue, "channel": &r.Channel} {
			if m[key] != nil {
				*dst = optText(m[key])
			}
		}
		if m["emails"] != nil {
			r.Emails = nil
			for _, e := range p.list(m["emails"], what+": emails") {
				if s, ok := p.scalar(e, what+": emails"); ok {
					r.Emails = append(r.Emails, s)
				}
			}
		}
		roles[kv[0].Value] = r
	}
	return roles
}

// defaultRoles makes every role the user and address <role>@example.test, the queue <role>
// and the channel #<role>.
func defaultRoles(names []string) map[string]engine.Role {
	roles := make(map[string]engine.Role, len(names))
	for _, r := range names {
		roles[r] = engine.Role{User: r + "@example.test", Queue: r, Channel: "#" + r, Emails: []string{r + "@example.test"}}
	}
	return roles
}

// responses reads what each endpoint answers, as YAML mappings that stand for JSON objects.
func (p *parser) responses(n *yaml.Node, what string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, kv := range p.pairs(n, what) {
		var v map[string]any
		if err := kv[1].Decode(&v); err != nil {
			p.errorf(kv[1], "%s: %s: want a mapping (the JSON object the endpoint answers)", what, kv[0].Value)
			continue
		}
		// A round trip through JSON gives the values the engine gets from a real endpoint
		// (numbers as float64).
		b, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(b, &v)
		}
		if err != nil {
			p.errorf(kv[1], "%s: %s: %v", what, kv[0].Value, err)
			continue
		}
		out[kv[0].Value] = v
	}
	return out
}

// optText is a scalar's text, "" for null: a role without a channel is something a test may want.
func optText(n *yaml.Node) string {
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// expectLines reads the expected timeline: a block of text with one effect a line (blank lines
// and lines starting with # are skipped), or a list of lines.
func (p *parser) expectLines(n *yaml.Node, what string, loc *time.Location) []wantLine {
	var out []wantLine
	add := func(s string, line, col int) {
		if s = strings.TrimSpace(s); s == "" || strings.HasPrefix(s, "#") {
			return
		}
		if w, ok := p.wantLine(s, what, line, col, loc); ok {
			out = append(out, w)
		}
	}
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		// A block scalar's text starts on the line after its indicator.
		first := n.Line
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			first++
		}
		for i, l := range strings.Split(n.Value, "\n") {
			add(l, first+i, p.indent(first+i))
		}
		return out
	}
	for _, item := range p.list(n, what) {
		s, ok := p.scalar(item, what)
		if ok && item.Style == 0 && item.LineComment != "" {
			// "slack #legal" unquoted in a list is "slack" and a YAML comment.
			p.errorf(item, `%s: " #" starts a YAML comment here: quote the line, or write expect as a block (expect: |)`, what)
			continue
		}
		if ok {
			add(s, item.Line, item.Column)
		}
	}
	return out
}

// indent returns the column of the first character of a line of the file.
func (p *parser) indent(line int) int {
	if line < 1 || line > len(p.src) {
		return 0
	}
	l := p.src[line-1]
	return len(l) - len(strings.TrimLeft(l, " \t")) + 1
}

// wantLine reads "TIME rest [golden:NAME]" and writes TIME as the runner does.
func (p *parser) wantLine(s, what string, line, col int, loc *time.Location) (wantLine, bool) {
	w := wantLine{line: line, col: col}
	bad := func(format string, args ...any) (wantLine, bool) {
		p.errs = append(p.errs, &rules.Error{File: p.file, Line: line, Col: col, Msg: what + ": " + fmt.Sprintf(format, args...)})
		return w, false
	}
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return bad(`want "TIME STEP WHAT", got %q`, s)
	}
	t, err := parseTime(fields[0], loc)
	if err != nil {
		return bad("%v", err)
	}
	if g, ok := strings.CutPrefix(fields[len(fields)-1], "golden:"); ok {
		if !goldenRE.MatchString(g) {
			return bad("golden name %q: use letters, digits, '.', '-' and '_'", g)
		}
		w.golden = g
		fields = fields[:len(fields)-1]
	}
	w.text = formatTime(t, loc) + " " + strings.Join(fields[1:], " ")
	return w, true
}

// Time layouts a test may use. Without an offset, a time is in the case's zone.
var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04", bot.DateTimeLayout}

func parseTime(s string, loc *time.Location) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: write 2026-11-03T09:00 (the case's zone), 2026-11-03T14:00Z or 2026-11-03T09:00-05:00", s)
}

// formatTime writes a time the way timelines show it: in the case's zone, seconds only when
// there are some.
func formatTime(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04Z07:00")
}

func (p *parser) time(n *yaml.Node, what string, loc *time.Location) (time.Time, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return time.Time{}, false
	}
	t, err := parseTime(s, loc)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
		return t, false
	}
	return t, true
}

// keys returns the values of a mapping by key, reporting unknown, duplicate and missing keys.
// It returns nil when n is not a mapping.
func (p *parser) keys(n *yaml.Node, what string, known []string, required ...string) map[string]*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	m := map[string]*yaml.Node{}
	for _, kv := range p.pairs(n, what) {
		if !slices.Contains(known, kv[0].Value) {
			p.errorf(kv[0], "%s: unknown key %q; known keys: %s", what, kv[0].Value, strings.Join(known, ", "))
			continue
		}
		m[kv[0].Value] = kv[1]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, k := range required {
		if m[k] == nil {
			p.errorf(n, "%s: missing %s", what, k)
		}
	}
	return m
}

// pairs returns the key and value nodes of a mapping, reporting duplicate keys; nil (absent)
// is an empty mapping. Aliases are followed and merge keys ("<<: *fixture") merged, so that
// tests can share fixtures; keys written in the mapping win over merged ones.
func (p *parser) pairs(n *yaml.Node, what string) [][2]*yaml.Node {
	n = p.collection(n, yaml.MappingNode, what, "a mapping of names to values")
	if n == nil {
		return nil
	}
	var own, merged [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			for _, m := range mergeSources(v) {
				merged = append(merged, p.pairs(m, what)...)
			}
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "%s: %q appears twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		own = append(own, [2]*yaml.Node{k, v})
	}
	for _, kv := range merged {
		if !seen[kv[0].Value] {
			seen[kv[0].Value] = true
			own = append(own, kv)
		}
	}
	return own
}

// mergeSources returns the mappings a merge key names: one, or a list of them.
func mergeSources(v *yaml.Node) []*yaml.Node {
	v = deref(v)
	if v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return []*yaml.Node{v}
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// list returns the items of a sequence; nil (absent) is an empty list.
func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	if n = p.collection(n, yaml.SequenceNode, what, "a list"); n == nil {
		return nil
	}
	return n.Content
}

// collection follows aliases and returns n when it is of the kind wanted; nil when it is absent
// or null (empty) or of another kind (reported).
func (p *parser) collection(n *yaml.Node, kind yaml.Kind, what, want string) *yaml.Node {
	n = deref(n)
	switch {
	case n == nil || n.Tag == "!!null":
		return nil
	case n.Kind != kind:
		p.errorf(n, "%s: want %s", what, want)
		return nil
	}
	return n
}

func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		if n != nil {
			p.errorf(n, "%s: want a value", what)
		}
		return "", false
	}
	return n.Value, true
}

func (p *parser) strings(n *yaml.Node, what string) []string {
	var out []string
	for _, item := range p.list(n, what) {
		if s, ok := p.scalar(item, what); ok {
			out = append(out, s)
		}
	}
	return out
}
