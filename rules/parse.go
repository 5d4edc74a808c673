package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"casebot/bot"

	"go.yaml.in/yaml/v3"
)

var (
	// Names that end up in effect keys ("playbook/step/action#/case-id" and task keys after
	// it) must not contain "/" or spaces.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	// Playbook names are lower-case as well (the README's rule): two that differ only in case
	// would be different keys that people read as one.
	playbookRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// Salesforce API names.
	fieldRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	// Date names have no "-", which `at` uses for "before".
	dateRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	clockRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
	// What yaml.v3 puts before a syntax problem: "yaml: line N: ", with no column.
	syntaxRE = regexp.MustCompile(`^yaml: (?:line \d+: )?`)
)

var priorities = []string{"High", "Normal", "Low"}

const defaultPriority = "Normal"

// Load parses every *.yaml and *.yml file at the root of fsys, except playbook tests
// (IsTestFile) and the intake rules (IsIntakeFile), and returns the playbooks sorted by name.
// Playbook names must be unique across files. On any problem it returns nil and an Errors
// holding every problem of every file.
func Load(fsys fs.FS, opts Options) ([]*Playbook, error) {
	pbs, _, errs, err := loadPlaybooks(fsys, opts)
	return result(pbs, errs, err)
}

// result returns v when there is no problem, and otherwise the zero value with err, or with
// errs when err is nil.
func result[T any](v T, errs Errors, err error) (T, error) {
	var zero T
	switch {
	case err != nil:
		return zero, err
	case len(errs) > 0:
		return zero, errs
	}
	return v, nil
}

// loadPlaybooks parses the playbooks of fsys. It returns those that parsed, sorted by name;
// the names of those that did not, as far as their files say, so that the intake rules
// naming them are not reported again; and every problem, sorted. err is set only when fsys
// cannot be read as a whole, or a problem is not a playbook's.
func loadPlaybooks(fsys fs.FS, opts Options) (pbs []*Playbook, broken map[string]bool, errs Errors, err error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listing playbooks: %w", err)
	}
	if opts.Files == nil {
		opts.Files = fsys
	}
	broken = map[string]bool{}
	seen := map[string]*Playbook{}
	for _, e := range entries {
		if e.IsDir() || !IsPlaybookFile(e.Name()) {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			errs = append(errs, &Error{File: e.Name(), Msg: err.Error()})
			continue
		}
		pb, err := Parse(e.Name(), data, opts)
		if err != nil {
			var pe Errors
			if !errors.As(err, &pe) {
				return nil, nil, nil, fmt.Errorf("parsing %s: %w", e.Name(), err)
			}
			errs = append(errs, pe...)
			if name := playbookName(data); name != "" {
				broken[name] = true
			}
			continue
		}
		if first, dup := seen[pb.Name]; dup {
			errs = append(errs, &Error{File: pb.File, Line: pb.line, Col: pb.col,
				Msg: fmt.Sprintf("playbook %q is also defined in %s", pb.Name, first.File)})
			continue
		}
		seen[pb.Name] = pb
		pbs = append(pbs, pb)
	}
	errs.sort()
	slices.SortFunc(pbs, func(a, b *Playbook) int { return strings.Compare(a.Name, b.Name) })
	return pbs, broken, errs, nil
}

// playbookName reads the name of a playbook that did not parse; "" when even that fails.
func playbookName(data []byte) string {
	var doc struct {
		Playbook string `yaml:"playbook"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return ""
	}
	return doc.Playbook
}

// Parse parses and validates one playbook. file names it in errors. The error, when not nil,
// is an Errors holding every problem found.
func Parse(file string, data []byte, opts Options) (*Playbook, error) {
	p := &parser{
		file:         file,
		src:          data,
		opts:         opts,
		badFields:    map[FieldRef]bool{},
		dateNames:    map[string]bool{},
		windowNames:  map[string]bool{},
		templateName: map[string]bool{},
		taskSteps:    map[string]bool{},
	}
	pb := p.parse()
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	p.warnings.sort()
	pb.Warnings = p.warnings
	return pb, nil
}

// parser walks the yaml.Node tree itself instead of decoding into structs: that is how every
// problem gets a line and column, unknown keys included, and how all of them are reported at
// once.
type parser struct {
	file     string
	src      []byte
	opts     Options
	errs     Errors
	warnings Errors
	pb       *Playbook

	// Names declared with an error: references to them are not reported again.
	badFields map[FieldRef]bool
	// Every name declared under dates, windows and task_templates, valid or not, likewise.
	dateNames, windowNames, templateName map[string]bool
	// Steps with a tasks action, which tasksDone may name.
	taskSteps map[string]bool
	// done('…') and tasksDone('…') calls, checked once every step is known.
	calls []callSite
	// Where each step's catch_up says escalate, and the playbook's, for the checks that
	// need escalate_to.
	escalations []*yaml.Node
	// intake is set when the file holds intake rules, not a playbook: for messages.
	intake bool
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errorAt(n.Line, n.Column, format, args...)
}

func (p *parser) errorAt(line, col int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) parse() *Playbook {
	root := p.document()
	if root == nil {
		return nil
	}
	top := p.object(root, "playbook",
		[]string{"playbook", "applies_to", "fields", "dates", "steps"},
		[]string{"title", "description", "timezone", "run_at", "calendar", "non_working", "hold",
			"catch_up", "escalate_to", "windows", "task_templates"})
	if top == nil {
		return nil
	}
	pb := &Playbook{
		File:          p.file,
		Fields:        map[FieldRef]FieldType{},
		Dates:         map[string]FieldRef{},
		Windows:       map[string]*Window{},
		TaskTemplates: map[string][]TaskEntry{},
		TimeZone:      TimeZone{Default: time.UTC},
		RunAt:         Clock{Hour: 9},
		NonWorking:    Keep,
		CatchUp:       CatchUp{After: DefaultCatchUpAfter, Policy: CatchUpRun},
		steps:         map[string]*Step{},
		zones:         newZoneCache(),
	}
	p.pb = pb
	if n := top["playbook"]; n != nil {
		if s, ok := p.scalar(n, "playbook"); ok {
			if !playbookRE.MatchString(s) {
				p.errorf(n, `playbook: invalid name %q: use lower-case letters, digits and "-", starting with a letter or digit`, s)
			}
			pb.Name = s
		}
		pb.line, pb.col = n.Line, n.Column
	}
	if n := top["title"]; n != nil {
		pb.Title, _ = p.text(n, "title")
	}
	if pb.Title == "" {
		pb.Title = pb.Name
	}
	if n := top["description"]; n != nil {
		pb.Description, _ = p.text(n, "description")
	}
	p.fields(top["fields"])
	p.appliesTo(top["applies_to"])
	p.query()
	pb.cond = newCondEnv(pb.Fields)
	if created := (FieldRef{ObjectCase, "CreatedDate"}); pb.Fields[created] == TypeDate || pb.Fields[created] == TypeDateTime {
		pb.created = created
	}
	p.timezone(top["timezone"])
	p.runAt(top["run_at"])
	p.calendar(top["calendar"])
	pb.cal = newCalendar(pb.Calendars)
	if n := top["non_working"]; n != nil {
		pb.NonWorking = p.nonWorking(n, "non_working")
	}
	if n := top["hold"]; n != nil {
		pb.Hold, _ = p.field(n, "hold", TypeBool)
	}
	p.catchUp(top["catch_up"])
	if n := top["escalate_to"]; n != nil {
		pb.EscalateTo = p.roles(n, "escalate_to")
		if !p.knownTemplate(bot.KindSlack, FailedStepTemplate) {
			p.errorf(n, "escalate_to needs the slack template %q, which reports actions that failed for good", FailedStepTemplate)
		}
	}
	p.dates(top["dates"])
	p.windows(top["windows"])
	p.taskTemplates(top["task_templates"])
	p.steps(top["steps"])
	p.checkCalls()
	p.checkCycles()
	p.checkEscalations()
	return pb
}

// document decodes the file into a node tree and returns its root.
func (p *parser) document() *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(p.src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorAt(0, 0, "empty file: want %s", p.holds())
		} else {
			p.syntaxError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.errorAt(next.Line, next.Column, "one %s per file: remove this second YAML document", strings.TrimPrefix(p.holds(), "a "))
	case !errors.Is(err, io.EOF):
		p.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		p.errorAt(0, 0, "empty file: want %s", p.holds())
		return nil
	}
	return doc.Content[0]
}

// holds says what the file should hold, for messages.
func (p *parser) holds() string {
	if p.intake {
		return "a set of intake rules"
	}
	return "a playbook"
}

// syntaxError reports a YAML syntax error where the YAML parser gave up. yaml.v3's message has
// no column, and its line is sometimes that of the enclosing list or mapping, or 0-based; so
// the position is found again: the shortest prefix of the file that fails with the same
// problem ends with the character the parser could not take. Playbooks are small, and this
// runs only on files that do not parse.
func (p *parser) syntaxError(err error) {
	problem := syntaxRE.ReplaceAllString(err.Error(), "")
	same := func(end int) bool {
		err := decodeAll(p.src[:end])
		return err != nil && syntaxRE.ReplaceAllString(err.Error(), "") == problem
	}
	line, start := 1, 0
	for start < len(p.src) {
		end := len(p.src)
		if i := bytes.IndexByte(p.src[start:], '\n'); i >= 0 {
			end = start + i + 1
		}
		if same(end) {
			col := 1
			// By the bytes each character takes as written: an invalid byte is one.
			for i := start; i < end; col++ {
				_, size := utf8.DecodeRune(p.src[i:end])
				if i += size; same(i) {
					break
				}
			}
			p.errorAt(line, col, "invalid YAML: %s", problem)
			return
		}
		line, start = line+1, end
	}
	p.errorAt(0, 0, "invalid YAML: %s", problem)
}

// decodeAll decodes every document of src and returns the first error.
func decodeAll(src []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe says what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	default:
		return strconv.Quote(n.Value)
	}
}

type pair struct{ key, val *yaml.Node }

// mapping returns the pairs of a mapping node in order, reporting duplicate keys.
func (p *parser) mapping(n *yaml.Node, what string) ([]pair, bool) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping, got %s", what, describe(n))
		return nil, false
	}
	var (
		pairs = make([]pair, 0, len(n.Content)/2)
		seen  = map[string]int{}
	)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: want a name as key, got %s", what, describe(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(k, "%s: duplicate key %q (first at line %d)", what, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		pairs = append(pairs, pair{k, v})
	}
	return pairs, true
}

// object returns the values of a mapping with a fixed set of keys, reporting unknown and
// missing keys. It returns nil when n is not a mapping.
func (p *parser) object(n *yaml.Node, what string, required, optional []string) map[string]*yaml.Node {
	pairs, ok := p.mapping(n, what)
	if !ok {
		return nil
	}
	vals := make(map[string]*yaml.Node, len(pairs))
	for _, kv := range pairs {
		if !slices.Contains(required, kv.key.Value) && !slices.Contains(optional, kv.key.Value) {
			known := slices.Sorted(slices.Values(slices.Concat(required, optional)))
			p.errorf(kv.key, "%s: unknown key %q; known keys: %s", what, kv.key.Value, strings.Join(known, ", "))
			continue
		}
		vals[kv.key.Value] = kv.val
	}
	for _, k := range required {
		if vals[k] == nil {
			n := deref(n)
			p.errorf(n, "%s: missing required key %q", what, k)
		}
	}
	return vals
}

func (p *parser) sequence(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list, got %s", what, describe(n))
		return nil, false
	}
	return n.Content, true
}

// scalar returns the text of a scalar that is not null.
func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(n, "%s: want a value, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// text is a scalar that is not blank.
func (p *parser) text(n *yaml.Node, what string) (string, bool) {
	s, ok := p.scalar(n, what)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(n, "%s: must not be empty", what)
		return "", false
	}
	return s, ok
}

func (p *parser) name(n *yaml.Node, what string) (string, bool) {
	s, ok := p.scalar(n, what)
	if ok && !nameRE.MatchString(s) {
		p.errorf(n, `%s: invalid name %q: use letters, digits, "-" and "_", starting with a letter or digit`, what, s)
		return s, false
	}
	return s, ok
}

// peek returns the scalar value of key in mapping n, "" when there is none; it reports
// nothing, so that messages can name what they are about before it is validated.
func peek(n *yaml.Node, key string) string {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := deref(n.Content[i+1]); v.Kind == yaml.ScalarNode && !isNull(v) {
				return v.Value
			}
		}
	}
	return ""
}

func (p *parser) appliesTo(n *yaml.Node) {
	if n == nil {
		return
	}
	m := p.object(n, "applies_to", []string{"object", "where"}, nil)
	if o := m["object"]; o != nil {
		if s, ok := p.scalar(o, "applies_to.object"); ok {
			if s != ObjectCase {
				p.errorf(o, "applies_to.object: %q is not supported; only Case for now", s)
			}
			p.pb.Query.Object = s
		}
	}
	if w := m["where"]; w != nil {
		if s, ok := p.text(w, "applies_to.where"); ok {
			p.pb.Query.Where = s
			p.where(w, s)
		}
	}
}

func (p *parser) fields(n *yaml.Node) {
	if n == nil {
		return
	}
	m := p.object(n, "fields", nil, []string{ObjectCase, ObjectAccount})
	for _, obj := range []string{ObjectCase, ObjectAccount} {
		on := m[obj]
		if on == nil {
			continue
		}
		what := "fields." + obj
		pairs, _ := p.mapping(on, what)
		for _, kv := range pairs {
			ref := FieldRef{obj, kv.key.Value}
			switch {
			case ref.Name == "Id":
				p.errorf(kv.key, "%s: Id is implicit; do not declare it", what)
				continue
			case !fieldRE.MatchString(ref.Name):
				p.errorf(kv.key, "%s: invalid field name %q", what, ref.Name)
				continue
			}
			t, ok := p.scalar(kv.val, what+"."+ref.Name)
			switch {
			case !ok:
				p.badFields[ref] = true
			case !slices.Contains(fieldTypes, FieldType(t)):
				p.errorf(kv.val, "%s.%s: unknown type %q; want %s", what, ref.Name, t, names(fieldTypes))
				p.badFields[ref] = true
			default:
				p.pb.Fields[ref] = FieldType(t)
			}
		}
	}
}

// query lists the declared fields in the query, sorted.
func (p *parser) query() {
	q := &p.pb.Query
	for ref := range p.pb.Fields {
		if ref.Object == ObjectCase {
			q.Fields = append(q.Fields, ref.Name)
		} else {
			q.AccountFields = append(q.AccountFields, ref.Name)
		}
	}
	slices.Sort(q.Fields)
	slices.Sort(q.AccountFields)
}

// field reads "Object.Field" and checks that it is declared with one of the types in want
// (any type when want is empty).
func (p *parser) field(n *yaml.Node, what string, want ...FieldType) (FieldRef, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return FieldRef{}, false
	}
	obj, name, _ := strings.Cut(s, ".")
	if (obj != ObjectCase && obj != ObjectAccount) || !fieldRE.MatchString(name) {
		p.errorf(n, "%s: invalid field %q: want Case.Name or Account.Name", what, s)
		return FieldRef{}, false
	}
	ref := FieldRef{obj, name}
	return ref, p.declared(n.Line, n.Column, what, ref, want...)
}

// declared checks that ref is declared with one of the types in want (any when empty),
// reporting at line:col.
func (p *parser) declared(line, col int, what string, ref FieldRef, want ...FieldType) bool {
	if p.badFields[ref] {
		return false
	}
	t, ok := p.pb.Fields[ref]
	if !ok {
		p.errorAt(line, col, "%s: %s is not declared under fields.%s", what, ref, ref.Object)
		return false
	}
	if len(want) > 0 && !slices.Contains(want, t) {
		p.errorAt(line, col, "%s: %s is %s; want %s", what, ref, t, names(want))
		return false
	}
	return true
}

func (p *parser) timezone(n *yaml.Node) {
	if n == nil {
		return
	}
	m := p.object(n, "timezone", []string{"default"}, []string{"field"})
	if d := m["default"]; d != nil {
		if s, ok := p.scalar(d, "timezone.default"); ok {
			if loc := loadZone(s); loc != nil {
				p.pb.TimeZone.Default = loc
			} else {
				p.errorf(d, "timezone.default: unknown time zone %q", s)
			}
		}
	}
	if f := m["field"]; f != nil {
		if ref, ok := p.field(f, "timezone.field", TypeString); ok {
			p.pb.TimeZone.Field = ref
		}
	}
}

// calendar reads `calendar:`: the calendars every case counts, or {field, default}: the
// calendar of the country a field of the case holds, or the default's when casebot has none.
func (p *parser) calendar(n *yaml.Node) {
	if n == nil {
		return
	}
	if deref(n).Kind != yaml.MappingNode {
		p.pb.Calendars = p.calendarList(n, "calendar")
		return
	}
	m := p.object(n, "calendar", []string{"field"}, []string{"default"})
	if f := m["field"]; f != nil {
		if ref, ok := p.field(f, "calendar.field", TypeString); ok {
			p.pb.CalendarField = ref
			p.pb.countries = countryCalendars()
		}
	}
	if d := m["default"]; d != nil {
		p.pb.Calendars = p.calendarList(d, "calendar.default")
	}
}

// calendarList reads calendar names, combined: a list, or one name.
func (p *parser) calendarList(n *yaml.Node, what string) []string {
	items := []*yaml.Node{n}
	if deref(n).Kind == yaml.SequenceNode {
		items = deref(n).Content
	}
	var list []string
	for _, it := range items {
		s, ok := p.scalar(it, what)
		switch {
		case !ok:
		case countries[s].holidays == nil:
			p.errorf(it, "%s: unknown calendar %q; want %s", what, s, names(calendarNames))
		case slices.Contains(list, s):
			p.errorf(it, "%s: %s is listed twice", what, s)
		default:
			list = append(list, s)
		}
	}
	return list
}

func (p *parser) runAt(n *yaml.Node) {
	if n == nil {
		return
	}
	s, ok := p.scalar(n, "run_at")
	if !ok {
		return
	}
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		p.errorf(n, "run_at: invalid time %q: want HH:MM, 24-hour", s)
		return
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	p.pb.RunAt = Clock{Hour: h, Minute: mi}
}

func (p *parser) dates(n *yaml.Node) {
	if n == nil {
		return
	}
	for _, kv := range p.atNames(n, "dates", p.dateNames) {
		name := kv.key.Value
		if ref, ok := p.field(kv.val, "dates."+name, TypeDate, TypeDateTime); ok {
			p.pb.Dates[name] = ref
		}
	}
}

// atNames returns the pairs of a mapping whose keys are names an `at` reads (dates:,
// windows:), recording every key in seen and leaving out, reported, the keys `at` cannot read.
func (p *parser) atNames(n *yaml.Node, what string, seen map[string]bool) []pair {
	pairs, _ := p.mapping(n, what)
	valid := pairs[:0]
	for _, kv := range pairs {
		seen[kv.key.Value] = true
		if !dateRE.MatchString(kv.key.Value) {
			p.errorf(kv.key, `%s: invalid name %q: use letters, digits and "_", starting with a letter or "_"`, what, kv.key.Value)
			continue
		}
		valid = append(valid, kv)
	}
	return valid
}

// windows reads `windows:`, after dates: a window named like a date would make an `at` read
// one way and count another.
func (p *parser) windows(n *yaml.Node) {
	if n == nil {
		return
	}
	for _, kv := range p.atNames(n, "windows", p.windowNames) {
		name := kv.key.Value
		switch {
		case p.dateNames[name]:
			p.errorf(kv.key, "windows: %q is also a date: name it differently", name)
			continue
		case maxOffsets[Unit(name)] > 0:
			p.errorf(kv.key, "windows: %q is a unit: name it differently", name)
			continue
		}
		if w := p.window(kv.val, name); w != nil {
			p.pb.Windows[name] = w
		}
	}
}

// window reads one window; nil when it has a problem.
func (p *parser) window(n *yaml.Node, name string) *Window {
	what := "windows." + name
	m := p.object(n, what, []string{"field", "default", "min", "max"}, nil)
	if m == nil {
		return nil
	}
	w := &Window{Name: name}
	okField := false
	if f := m["field"]; f != nil {
		w.Field, okField = p.field(f, what+".field", TypeNumber)
	}
	offset := func(key string) (Offset, bool) {
		v := m[key]
		if v == nil {
			return Offset{}, false
		}
		s, ok := p.scalar(v, what+"."+key)
		if !ok {
			return Offset{}, false
		}
		off, used, err := scanOffset(s)
		ok = err == nil && used == len(s)
		switch {
		case strings.HasPrefix(s, "-"):
			p.errorf(v, "%s.%s: invalid %q: a window has no sign; an at adds or subtracts it", what, key, s)
			ok = false
		case err != nil:
			p.errorf(v, "%s.%s: %s", what, key, err.msg)
		case !ok:
			p.errorf(v, "%s.%s: invalid %q: want a number and a unit, like 30d", what, key, s)
		case key != "default" && w.Default.Unit != "" && off.Unit != w.Default.Unit:
			p.errorf(v, "%s.%s: %s is in %s; want %s, as the default", what, key, s, unitWords[off.Unit], unitWords[w.Default.Unit])
			ok = false
		}
		return off, ok
	}
	def, okDef := offset("default")
	w.Default = def
	lo, okMin := offset("min")
	hi, okMax := offset("max")
	if !okField || !okDef || !okMin || !okMax {
		return nil
	}
	w.Min, w.Max = lo.N, hi.N
	if def.N < lo.N || def.N > hi.N {
		p.errorf(m["default"], "%s.default: %d%s is not from min %d%s to max %d%s", what, def.N, def.Unit, lo.N, lo.Unit, hi.N, hi.Unit)
		return nil
	}
	return w
}

// atWindow returns the window an `at` names, or nil when it names none; an unknown one is
// reported.
func (p *parser) atWindow(n *yaml.Node, what string, a atExpr) *Window {
	if a.window == "" {
		return nil
	}
	w := p.pb.Windows[a.window]
	if w == nil && !p.windowNames[a.window] {
		line, col := p.inScalar(n, 1, a.windowCol)
		if len(p.windowNames) == 0 {
			p.errorAt(line, col, "%s: unknown window %q: the playbook declares no windows", what, a.window)
		} else {
			known := slices.Sorted(maps.Keys(p.windowNames))
			p.errorAt(line, col, "%s: unknown window %q; windows: %s", what, a.window, strings.Join(known, ", "))
		}
	}
	return w
}

func (p *parser) taskTemplates(n *yaml.Node) {
	if n == nil {
		return
	}
	pairs, _ := p.mapping(n, "task_templates")
	for _, kv := range pairs {
		name := kv.key.Value
		p.templateName[name] = true
		what := fmt.Sprintf("task template %q", name)
		p.name(kv.key, "task_templates")
		items, ok := p.sequence(kv.val, what)
		if ok && len(items) == 0 {
			p.errorf(kv.val, "%s: want at least one task", what)
		}
		ids := map[string]int{}
		entries := make([]TaskEntry, 0, len(items))
		for i, it := range items {
			entries = append(entries, p.taskEntry(it, what, i+1, ids))
		}
		p.pb.TaskTemplates[name] = entries
	}
}

func (p *parser) taskEntry(n *yaml.Node, template string, i int, ids map[string]int) TaskEntry {
	what := label(n, template+" task", i)
	m := p.object(n, what, []string{"id", "subject"}, []string{"owner", "due", "priority", "description"})
	e := TaskEntry{Priority: defaultPriority}
	if v := m["id"]; v != nil {
		e.ID = p.id(v, what, "task", ids)
	}
	if v := m["subject"]; v != nil {
		e.Subject, _ = p.text(v, what+": subject")
	}
	if v := m["owner"]; v != nil {
		e.Owner, _ = p.role(v, what+": owner")
	}
	if v := m["due"]; v != nil {
		if s, ok := p.scalar(v, what+": due"); ok {
			off, ok := parseOffset(s)
			if !ok || (off.Unit != Days && off.Unit != BusinessDays) {
				p.errorf(v, "%s: due: invalid %q: want days or business days, like 7d or 5bd", what, s)
			}
			e.Due = off
		}
	}
	if v := m["priority"]; v != nil {
		if s, ok := p.scalar(v, what+": priority"); ok {
			if !slices.Contains(priorities, s) {
				p.errorf(v, "%s: priority: invalid %q: want %s", what, s, names(priorities))
			}
			e.Priority = s
		}
	}
	if v := m["description"]; v != nil {
		e.Description, _ = p.scalar(v, what+": description")
	}
	return e
}

// label names the i-th item of a list in messages: by its id when it has one.
func label(n *yaml.Node, kind string, i int) string { return labelBy(n, "id", kind, i) }

// labelBy names the i-th item of a list in messages: by the value of its key when it has one.
func labelBy(n *yaml.Node, key, kind string, i int) string {
	if id := peek(n, key); id != "" {
		return fmt.Sprintf("%s %q", kind, id)
	}
	return fmt.Sprintf("%s %d", kind, i)
}

// id reads the id of a list item, which must be unique among ids (id → line).
func (p *parser) id(n *yaml.Node, what, kind string, ids map[string]int) string {
	id, ok := p.name(n, what+": id")
	if !ok {
		return ""
	}
	if line, dup := ids[id]; dup {
		p.errorf(n, "%s: duplicate %s id (first at line %d)", what, kind, line)
	}
	ids[id] = n.Line
	return id
}

func (p *parser) role(n *yaml.Node, what string) (string, bool) {
	s, ok := p.text(n, what)
	if ok && p.opts.KnownRole != nil && !p.opts.KnownRole(s) {
		p.errorf(n, "%s: unknown role %q", what, s)
		return s, false
	}
	return s, ok
}

// IsTestFile reports whether a file name is a playbook test (*.test.yaml, *.test.yml), which
// lives next to the playbooks it tests.
func IsTestFile(name string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml")
	return base != name && strings.HasSuffix(base, ".test")
}

// IsPlaybookFile reports whether a file name is a playbook: *.yaml or *.yml, neither a test
// nor the intake rules.
func IsPlaybookFile(name string) bool {
	ext := path.Ext(name)
	return (ext == ".yaml" || ext == ".yml") && !IsTestFile(name) && !IsIntakeFile(name)
}
