package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"casebot/bot"
)

// Intake rules (README.md, "Intake rules"): which inbound mails are termination requests and
// which case each becomes, and which replies set fields of the case they answer. They live in
// one file beside the playbooks, are validated against them like a playbook is, and Classify
// applies them to a mail without any I/O.

// IntakeFile is the file of a playbooks directory that holds its intake rules ("intake.yml"
// is read too). Load does not take it for a playbook.
const IntakeFile = "intake.yaml"

// Defaults of the intake file's settings.
const (
	DefaultMailbox    = "INBOX"
	DefaultProcessed  = "Processed"
	DefaultQuarantine = "Quarantine"
	// DefaultCaseReference finds the case number casebot's mails put in their subjects:
	// "(case 00001234)", "Termination case 00001234 opened", "[case 00001234]".
	DefaultCaseReference = `(?i)\bcase #?(\d{8})\b`
)

// IsIntakeFile reports whether a file name is the intake rules: intake.yaml or intake.yml.
func IsIntakeFile(name string) bool {
	base := filepath.Base(name)
	return base == IntakeFile || base == "intake.yml"
}

// Intake is a parsed, validated intake file. It is read-only and safe for concurrent use.
type Intake struct {
	File string
	// Mailbox is the folder intake reads; Processed and Quarantine the folders mail is moved
	// to once it is on a case, or when nothing could be made of it.
	Mailbox, Processed, Quarantine string
	// Notify is the role told about quarantined mail; "" for none.
	Notify string
	// CaseReference finds the case numbers a subject refers to, in its one capture group.
	CaseReference *regexp.Regexp
	// RequireAuth is the default of every rule's RequireAuth.
	RequireAuth bool
	Lookups     []*Lookup   // how a mail's account is found, in file order
	Rules       []*MailRule // new requests: the first that matches wins
	Replies     []*MailRule // replies to a case: every one that matches applies
}

// Lookup is one way of finding a mail's account: an Account field that must hold a value read
// from the mail.
type Lookup struct {
	Name  string
	Field FieldRef // an Account field
	// Pattern reads the values from the subject and the text, in its one capture group; nil
	// means the values are the sender's domain and its parent domains.
	Pattern *regexp.Regexp
	// List says the field holds several values separated by ";", "," or white space (the
	// mail domains of an account), any of which may match.
	List bool
}

// MailRule is one rule of rules: or of replies:.
type MailRule struct {
	Name     string
	Playbook string
	Line     int
	// When's patterns must all match, and none of Unless's.
	When, Unless MailMatch
	// Case are the fields it sets on the case, in file order.
	Case []*MailValue
	// DateOrder reads dates written in numbers only; "" reads none of them.
	DateOrder DateOrder
	// RequireAuth: the rule applies only to mail whose sender's domain is authenticated
	// (bot.MailAuth.Aligned); otherwise the mail is quarantined (a request) or sets nothing
	// (a reply).
	RequireAuth bool

	// Rules only: the lookups that find the account, in the order they are tried, and the
	// email template that acknowledges the request ("" for none).
	Accounts    []*Lookup
	Acknowledge string

	// Senders are, for a reply, the fields of the case or its account that hold the
	// addresses whose replies may set fields; for a request (optional), the fields of the
	// account holding the addresses of those who may ask for it besides the account's own
	// domains (its partner's): the sender's domain must be one of theirs.
	Senders []FieldRef
}

// MailMatch is a set of patterns over a mail; a nil pattern is not tested.
type MailMatch struct {
	Subject *regexp.Regexp
	Body    *regexp.Regexp // the text; of a reply, only what the sender wrote above the quoted mail
	From    *regexp.Regexp // the sender's address, lower-case
	To      *regexp.Regexp // any address of To and Cc, lower-case
}

// MailValue is a value a rule sets: a literal, or one read from the mail.
type MailValue struct {
	Field FieldRef  // a Case field
	Type  FieldType // "" when the playbook is not known
	Value any       // the literal's wire value, when Pattern is nil
	// In is where Pattern reads: "subject" or "body".
	In      string
	Pattern *regexp.Regexp
	// Map maps what Pattern captured, folded (lower case, spaces collapsed), to wire values;
	// nil reads the capture by Type.
	Map map[string]any
}

// Case fields that intake sets from the mail itself, and those Salesforce sets.
var (
	fromMail     = []string{"Origin", "Subject", "Description", "SuppliedEmail", "SuppliedName", "AccountId"}
	bySalesforce = []string{"Id", "CaseNumber", "IsClosed", "ClosedDate", "CreatedDate", "LastModifiedDate"}
	// caseStandard are the standard Case fields a rule may set without the playbook declaring
	// them: Type above all, which the playbooks' applies_to compare.
	caseStandard = []string{"Type", "Status", "Priority", "Reason"}
)

// LoadIntake reads the intake rules of a playbooks directory (IntakeFile at the root of fsys)
// and validates them against pbs, the playbooks loaded from it. It returns nil and no error
// when there is no intake file. The error, when not nil, is an Errors holding every problem,
// or says why the file could not be read.
func LoadIntake(fsys fs.FS, pbs []*Playbook, opts Options) (*Intake, error) {
	return result(loadIntake(fsys, pbs, nil, opts))
}

// LoadWithIntake loads the playbooks of fsys (as Load) and its intake rules (as LoadIntake)
// together, so that every problem of both is reported at once; the intake rules that name a
// playbook which has problems are checked as far as they can be without it.
func LoadWithIntake(fsys fs.FS, opts Options) ([]*Playbook, *Intake, error) {
	pbs, broken, errs, err := loadPlaybooks(fsys, opts)
	if err != nil {
		return nil, nil, err
	}
	in, ierrs, err := loadIntake(fsys, pbs, broken, opts)
	if err != nil {
		return nil, nil, err
	}
	if errs = append(errs, ierrs...); len(errs) > 0 {
		errs.sort()
		return nil, nil, errs
	}
	return pbs, in, nil
}

func loadIntake(fsys fs.FS, pbs []*Playbook, broken map[string]bool, opts Options) (*Intake, Errors, error) {
	var files []string
	for _, name := range []string{IntakeFile, "intake.yml"} {
		switch _, err := fs.Stat(fsys, name); {
		case err == nil:
			files = append(files, name)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, nil, fmt.Errorf("reading the intake rules: %w", err)
		}
	}
	switch len(files) {
	case 0:
		return nil, nil, nil
	case 2:
		return nil, Errors{{File: files[1], Msg: "the intake rules are in " + files[0] + " too: keep one file"}}, nil
	}
	data, err := fs.ReadFile(fsys, files[0])
	if err != nil {
		return nil, Errors{{File: files[0], Msg: err.Error()}}, nil
	}
	in, errs := parseIntake(files[0], data, pbs, broken, opts)
	return in, errs, nil
}

// ParseIntake parses and validates intake rules against the playbooks they may name. file
// names it in errors. The error, when not nil, is an Errors holding every problem found.
func ParseIntake(file string, data []byte, pbs []*Playbook, opts Options) (*Intake, error) {
	in, errs := parseIntake(file, data, pbs, nil, opts)
	return result(in, errs, nil)
}

func parseIntake(file string, data []byte, pbs []*Playbook, broken map[string]bool, opts Options) (*Intake, Errors) {
	p := &intakeParser{
		parser:    &parser{file: file, src: data, opts: opts, intake: true},
		playbooks: map[string]*Playbook{},
		broken:    broken,
		lookups:   map[string]*Lookup{},
		seen:      map[string]bool{},
		names:     map[string]int{},
	}
	for _, pb := range pbs {
		p.playbooks[pb.Name] = pb
	}
	in := p.parse()
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	return in, nil
}

// intakeParser reads an intake file with the playbook parser's helpers. Its parser's pb is the
// playbook of the rule being read (nil when unknown), for the helpers that read its fields.
type intakeParser struct {
	*parser
	in        *Intake
	playbooks map[string]*Playbook
	broken    map[string]bool // playbooks that did not load: rules naming them are not refused
	lookups   map[string]*Lookup
	seen      map[string]bool // every name under account:, valid or not
	names     map[string]int  // rule names → line
}

func (p *intakeParser) parse() *Intake {
	root := p.document()
	if root == nil {
		return nil
	}
	top := p.object(root, "intake", nil, []string{"mailbox", "processed", "quarantine", "notify",
		"case_reference", "require_auth", "account", "rules", "replies"})
	if top == nil {
		return nil
	}
	in := &Intake{File: p.file, Mailbox: DefaultMailbox, Processed: DefaultProcessed, Quarantine: DefaultQuarantine,
		CaseReference: regexp.MustCompile(DefaultCaseReference), RequireAuth: true}
	p.in = in
	p.folders(top, root)
	if n := top["notify"]; n != nil {
		in.Notify, _ = p.role(n, "notify")
	}
	if n := top["case_reference"]; n != nil {
		if re, ok := p.regexp(n, "case_reference", 1, 1); ok {
			in.CaseReference = re
		}
	}
	if n := top["require_auth"]; n != nil {
		in.RequireAuth = p.flag(n, "require_auth")
	}
	if n := top["account"]; n != nil {
		p.accountLookups(n)
	}
	in.Rules = p.mailRules(top["rules"], "rules", false)
	in.Replies = p.mailRules(top["replies"], "replies", true)
	switch {
	case top["rules"] == nil && top["replies"] == nil:
		p.errorf(root, "intake: no rules and no replies: write some, or delete the file")
	case top["rules"] != nil && top["account"] == nil:
		p.errorf(top["rules"], "rules: a request's account is found by account:, which is missing")
	}
	return in
}

// folders reads the folders mail is read from and moved to, which must be three.
func (p *intakeParser) folders(top map[string]*yaml.Node, root *yaml.Node) {
	for _, f := range []struct {
		key string
		val *string
	}{{"mailbox", &p.in.Mailbox}, {"processed", &p.in.Processed}, {"quarantine", &p.in.Quarantine}} {
		if n := top[f.key]; n != nil {
			if s, ok := p.text(n, f.key); ok {
				*f.val = s
			}
		}
	}
	// IMAP folder names differ by case on most servers, but people read them as one.
	same := func(a, b string) *yaml.Node {
		if !strings.EqualFold(*folderOf(p.in, a), *folderOf(p.in, b)) {
			return nil
		}
		for _, k := range []string{b, a} {
			if top[k] != nil {
				return top[k]
			}
		}
		return root
	}
	for _, pair := range [][2]string{{"mailbox", "processed"}, {"mailbox", "quarantine"}, {"processed", "quarantine"}} {
		if n := same(pair[0], pair[1]); n != nil {
			p.errorf(n, "%s: %q is the %s folder too: mail must move out of the mailbox, and processed mail apart from quarantined mail",
				pair[1], *folderOf(p.in, pair[1]), pair[0])
		}
	}
}

func folderOf(in *Intake, key string) *string {
	switch key {
	case "mailbox":
		return &in.Mailbox
	case "processed":
		return &in.Processed
	}
	return &in.Quarantine
}

// accountLookups reads account:, the ways of finding a mail's account.
func (p *intakeParser) accountLookups(n *yaml.Node) {
	pairs, ok := p.mapping(n, "account")
	if ok && len(pairs) == 0 {
		p.errorf(n, "account: want at least one way to find the account, like domain: {field: Account.Mail_Domains__c}")
	}
	for _, kv := range pairs {
		name := kv.key.Value
		p.seen[name] = true
		if _, ok := p.name(kv.key, "account"); !ok {
			continue
		}
		what := "account." + name
		// domain is the sender's: it has no pattern.
		required := []string{"field", "pattern"}
		if name == "domain" {
			required = required[:1]
		}
		m := p.object(kv.val, what, required, []string{"list"})
		if m == nil {
			continue
		}
		l := &Lookup{Name: name, List: name == "domain"}
		valid := m["field"] != nil && (name == "domain" || m["pattern"] != nil)
		if f := m["field"]; f != nil {
			var ok bool
			l.Field, ok = p.accountField(f, what+".field")
			valid = valid && ok
		}
		if v := m["pattern"]; v != nil {
			var ok bool
			l.Pattern, ok = p.regexp(v, what+".pattern", 1, 1)
			valid = valid && ok
		}
		if v := m["list"]; v != nil {
			l.List = p.flag(v, what+".list")
		}
		if valid {
			p.in.Lookups = append(p.in.Lookups, l)
			p.lookups[name] = l
		}
	}
}

// accountField reads the Account field a lookup compares with text: a string field, as far as
// the playbooks or Salesforce's standard fields say.
func (p *intakeParser) accountField(n *yaml.Node, what string) (FieldRef, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return FieldRef{}, false
	}
	obj, name, _ := strings.Cut(s, ".")
	if obj != ObjectAccount || !fieldRE.MatchString(name) {
		p.errorf(n, "%s: invalid field %q: want Account.Name", what, s)
		return FieldRef{}, false
	}
	ref := FieldRef{ObjectAccount, name}
	if t, ok := standardFields[ref]; ok && t != TypeString {
		p.errorf(n, "%s: %s is %s; want a string field", what, ref, t)
		return ref, false
	}
	for _, pb := range slices.SortedFunc(maps.Values(p.playbooks), func(a, b *Playbook) int { return strings.Compare(a.Name, b.Name) }) {
		if t, ok := pb.Fields[ref]; ok && t != TypeString {
			p.errorf(n, "%s: %s is %s in playbook %s; want a string field", what, ref, t, pb.Name)
			return ref, false
		}
	}
	return ref, true
}

// regexp compiles a pattern with from min to max capture groups (max < 0: any number).
func (p *intakeParser) regexp(n *yaml.Node, what string, min, max int) (*regexp.Regexp, bool) {
	s, ok := p.text(n, what)
	if !ok {
		return nil, false
	}
	re, err := regexp.Compile(s)
	if err != nil {
		p.errorf(n, "%s: invalid regexp: %s", what, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return nil, false
	}
	g := re.NumSubexp()
	switch {
	case min == 1 && max == 1 && g != 1:
		p.errorf(n, "%s: want exactly one capture group (…) around the value, got %d; write (?:…) for groups that capture nothing", what, g)
	case max >= 0 && g > max:
		p.errorf(n, "%s: want at most %d capture group (…), got %d; write (?:…) for groups that capture nothing", what, max, g)
	default:
		return re, true
	}
	return nil, false
}

// mailRules reads rules: (reply false) or replies:.
func (p *intakeParser) mailRules(n *yaml.Node, what string, reply bool) []*MailRule {
	if n == nil {
		return nil
	}
	items, ok := p.sequence(n, what)
	if ok && len(items) == 0 {
		p.errorf(n, "%s: want at least one rule", what)
	}
	var rules []*MailRule
	for i, it := range items {
		if r := p.mailRule(it, i+1, reply); r != nil {
			rules = append(rules, r)
		}
	}
	return rules
}

func (p *intakeParser) mailRule(n *yaml.Node, i int, reply bool) *MailRule {
	kind, required, optional := "rule", []string{"name", "when", "playbook"},
		[]string{"unless", "case", "date_order", "require_auth", "account", "acknowledge", "senders"}
	if reply {
		kind, required, optional = "reply", []string{"name", "when", "playbook", "case"},
			[]string{"unless", "date_order", "require_auth", "senders"}
	}
	what := labelBy(n, "name", kind, i)
	m := p.object(n, what, required, optional)
	if m == nil {
		return nil
	}
	r := &MailRule{Line: deref(n).Line, RequireAuth: p.in.RequireAuth}
	if v := m["name"]; v != nil {
		if name, ok := p.name(v, what+": name"); ok {
			if line, dup := p.names[name]; dup {
				p.errorf(v, "%s: duplicate name (first at line %d)", what, line)
			}
			p.names[name] = v.Line
			r.Name = name
		}
	}
	if v := m["when"]; v != nil {
		r.When = p.mailMatch(v, what+": when")
	}
	if v := m["unless"]; v != nil {
		r.Unless = p.mailMatch(v, what+": unless")
	}
	p.pb = nil
	if v := m["playbook"]; v != nil {
		r.Playbook, p.pb = p.playbook(v, what)
	}
	if v := m["date_order"]; v != nil {
		r.DateOrder, _ = choice(p.parser, v, what+": date_order", dateOrders)
	}
	if v := m["require_auth"]; v != nil {
		r.RequireAuth = p.flag(v, what+": require_auth")
	}
	var values map[string]*yaml.Node
	if v := m["case"]; v != nil {
		r.Case, values = p.caseValues(v, what+": case")
	}
	if reply {
		r.Senders = p.senders(m["senders"], n, what)
		return r
	}
	if v := m["senders"]; v != nil {
		// The case does not exist yet: who may ask is said on the account (its partner).
		for _, ref := range p.senders(v, n, what) {
			if ref.Object != ObjectAccount {
				p.errorf(v, "%s: senders: %s: a request's senders are Account fields: its case does not exist yet", what, ref)
				continue
			}
			r.Senders = append(r.Senders, ref)
		}
	}
	r.Accounts = p.ruleAccounts(m["account"], what)
	if v := m["acknowledge"]; v != nil {
		r.Acknowledge = p.template(v, what+": acknowledge", bot.KindEmail)
	}
	if p.pb != nil {
		p.checkAppliesTo(r, values, m["playbook"], what)
	}
	return r
}

// playbook reads the playbook a rule names, and returns it when it is loaded.
func (p *intakeParser) playbook(n *yaml.Node, what string) (string, *Playbook) {
	s, ok := p.text(n, what+": playbook")
	switch {
	case !ok:
		return "", nil
	case p.playbooks[s] != nil:
		return s, p.playbooks[s]
	case p.broken[s]: // its own problems are reported in its file
		return s, nil
	case len(p.playbooks) == 0:
		p.errorf(n, "%s: playbook: unknown playbook %q: no playbook is loaded", what, s)
	default:
		p.errorf(n, "%s: playbook: unknown playbook %q; playbooks: %s", what, s,
			strings.Join(slices.Sorted(maps.Keys(p.playbooks)), ", "))
	}
	return s, nil
}

// mailMatch reads when: or unless:.
func (p *intakeParser) mailMatch(n *yaml.Node, what string) MailMatch {
	var mm MailMatch
	m := p.object(n, what, nil, []string{"subject", "body", "from", "to"})
	if m == nil {
		return mm
	}
	if len(deref(n).Content) == 0 {
		p.errorf(n, "%s: want at least one of subject, body, from and to", what)
	}
	for _, f := range []struct {
		key string
		re  **regexp.Regexp
	}{{"subject", &mm.Subject}, {"body", &mm.Body}, {"from", &mm.From}, {"to", &mm.To}} {
		if v := m[f.key]; v != nil {
			*f.re, _ = p.regexp(v, what+"."+f.key, 0, -1)
		}
	}
	return mm
}

// caseValues reads case:, the Case fields a rule sets, with the node of each value.
func (p *intakeParser) caseValues(n *yaml.Node, what string) ([]*MailValue, map[string]*yaml.Node) {
	pairs, ok := p.mapping(n, what)
	if ok && len(pairs) == 0 {
		p.errorf(n, "%s: want at least one field", what)
	}
	var (
		values []*MailValue
		nodes  = map[string]*yaml.Node{}
	)
	for _, kv := range pairs {
		fwhat := what + "." + kv.key.Value
		t, ok := p.caseField(kv.key, fwhat)
		if !ok {
			continue
		}
		if v := p.fieldValue(kv.val, fwhat, FieldRef{ObjectCase, kv.key.Value}, t); v != nil {
			values = append(values, v)
			nodes[v.Field.Name] = kv.val
		}
	}
	return values, nodes
}

// caseField checks a field name under case: and returns its type: "" when the rule's
// playbook is not known, so that its value is checked as far as it can be.
func (p *intakeParser) caseField(k *yaml.Node, what string) (FieldType, bool) {
	name := k.Value
	switch {
	case strings.HasPrefix(name, ObjectCase+"."):
		p.errorf(k, "%s: write %s: case: sets Case fields", what, strings.TrimPrefix(name, ObjectCase+"."))
	case strings.Contains(name, "."):
		p.errorf(k, "%s: intake sets Case fields only", what)
	case !fieldRE.MatchString(name):
		p.errorf(k, "%s: invalid field name %q", what, name)
	case slices.Contains(fromMail, name):
		p.errorf(k, "%s: intake sets Case.%s from the mail itself", what, name)
	case slices.Contains(bySalesforce, name):
		p.errorf(k, "%s: Salesforce sets Case.%s", what, name)
	case p.pb == nil:
		return "", true
	case p.pb.Fields[FieldRef{ObjectCase, name}] != "":
		return p.pb.Fields[FieldRef{ObjectCase, name}], true
	case slices.Contains(caseStandard, name):
		return TypeString, true
	default:
		p.errorf(k, "%s: Case.%s is not declared under fields.Case of playbook %s, nor a standard field intake may set (%s)",
			what, name, p.pb.Name, strings.Join(caseStandard, ", "))
	}
	return "", false
}

// fieldValue reads the value of a field of type t (unknown when ""): a literal, or
// {subject|body: pattern, map: {text: value}}.
func (p *intakeParser) fieldValue(n *yaml.Node, what string, ref FieldRef, t FieldType) *MailValue {
	n = deref(n)
	v := &MailValue{Field: ref, Type: t}
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			p.errorf(n, "%s: null sets nothing: remove it", what)
			return nil
		}
		if t == "" {
			return nil
		}
		var ok bool
		if v.Value, ok = p.typedValue(n, what, ref, t); !ok {
			return nil
		}
		return v
	}
	m := p.object(n, what, nil, []string{"subject", "body", "map"})
	switch {
	case m == nil:
		return nil
	case (m["subject"] == nil) == (m["body"] == nil):
		p.errorf(n, "%s: want subject: or body:, the pattern that reads the value", what)
		return nil
	case t == TypeDateTime:
		p.errorf(n, "%s: %s is datetime: intake reads dates, into date fields", what, ref)
		return nil
	}
	v.In = "body"
	if m["subject"] != nil {
		v.In = "subject"
	}
	// A bool is true when its pattern matches, or it reads yes or no in its group.
	lo := 1
	if t == TypeBool && m["map"] == nil || t == "" {
		lo = 0
	}
	var ok bool
	if v.Pattern, ok = p.regexp(m[v.In], what+"."+v.In, lo, 1); !ok {
		return nil
	}
	if mn := m["map"]; mn != nil {
		v.Map = p.valueMap(mn, what+".map", ref, t)
		if v.Map == nil {
			return nil
		}
		if v.Pattern.NumSubexp() != 1 {
			p.errorf(m[v.In], "%s.%s: want exactly one capture group (…): map reads what it captures", what, v.In)
			return nil
		}
	}
	if t == "" {
		return nil
	}
	return v
}

// valueMap reads map:, from texts a pattern captures to values of the field.
func (p *intakeParser) valueMap(n *yaml.Node, what string, ref FieldRef, t FieldType) map[string]any {
	pairs, ok := p.mapping(n, what)
	if !ok {
		return nil
	}
	if len(pairs) == 0 {
		p.errorf(n, "%s: want at least one text and its value", what)
		return nil
	}
	out := map[string]any{}
	lines := map[string]int{}
	for _, kv := range pairs {
		key := foldText(kv.key.Value)
		if line, dup := lines[key]; dup {
			p.errorf(kv.key, "%s: %q reads as the text at line %d (case and spaces do not count)", what, kv.key.Value, line)
			continue
		}
		lines[key] = kv.key.Line
		if isNull(deref(kv.val)) {
			p.errorf(kv.val, "%s.%s: null sets nothing: leave the text out", what, kv.key.Value)
			continue
		}
		if t == "" {
			continue
		}
		if v, ok := p.typedValue(kv.val, what+"."+kv.key.Value, ref, t); ok {
			out[key] = v
		}
	}
	return out
}

// foldText is a captured text as map: compares it: lower case, spaces collapsed.
func foldText(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// ruleAccounts reads a rule's account:, the lookups it tries in order; all of them, in file
// order, when it has none.
func (p *intakeParser) ruleAccounts(n *yaml.Node, what string) []*Lookup {
	if n == nil {
		return p.in.Lookups
	}
	items, ok := p.sequence(n, what+": account")
	if ok && len(items) == 0 {
		p.errorf(n, "%s: account: want at least one lookup", what)
	}
	var ls []*Lookup
	for _, it := range items {
		s, ok := p.scalar(it, what+": account")
		switch l := p.lookups[s]; {
		case !ok:
		case l == nil && !p.seen[s]:
			p.errorf(it, "%s: account: unknown lookup %q; account: defines %s", what, s,
				strings.Join(slices.Sorted(maps.Keys(p.seen)), ", "))
		case slices.Contains(ls, l) && l != nil:
			p.errorf(it, "%s: account: %s is listed twice", what, s)
		case l != nil:
			ls = append(ls, l)
		}
	}
	return ls
}

// senders reads a reply's senders: string fields of its playbook; Case.SuppliedEmail, the
// address the case came from, when it has none.
func (p *intakeParser) senders(n, rule *yaml.Node, what string) []FieldRef {
	if p.pb == nil {
		return nil
	}
	if n == nil {
		ref := FieldRef{ObjectCase, "SuppliedEmail"}
		if p.pb.Fields[ref] != TypeString {
			p.errorf(rule, "%s: senders: missing, and playbook %s does not declare %s, the default: say which fields hold the addresses that may answer",
				what, p.pb.Name, ref)
			return nil
		}
		return []FieldRef{ref}
	}
	items, ok := p.sequence(n, what+": senders")
	if ok && len(items) == 0 {
		p.errorf(n, "%s: senders: want at least one field", what)
	}
	var refs []FieldRef
	for _, it := range items {
		if ref, ok := p.field(it, what+": senders", TypeString); ok {
			refs = append(refs, ref)
		}
	}
	return refs
}

// checkAppliesTo checks that the case a rule opens is one its playbook applies to, as far as
// its applies_to.where can tell: a field it compares with = is set to that value.
func (p *intakeParser) checkAppliesTo(r *MailRule, values map[string]*yaml.Node, pbNode *yaml.Node, what string) {
	want := whereEquals(p.pb.Query.Where)
	set := bot.Fields{"Origin": "Email"}
	read := map[string]bool{}
	for _, v := range r.Case {
		if v.Pattern != nil {
			read[strings.ToLower(v.Field.Name)] = true
		} else {
			set[v.Field.Name] = v.Value
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w := want[name]
		cond := fmt.Sprintf("playbook %s applies to cases where %s = %s", p.pb.Name, name, soqlLiteral(w))
		field, have := "", any(nil)
		for f, v := range set {
			if strings.EqualFold(f, name) {
				field, have = f, v
			}
		}
		switch {
		case read[strings.ToLower(name)]:
		case field == "Origin" && !sameWire(have, w):
			p.errorf(pbNode, "%s: %s; intake opens cases with Origin = 'Email'", what, cond)
		case field != "" && !sameWire(have, w):
			p.errorf(values[field], "%s: %s; this sets %s", what, cond, soqlLiteral(have))
		case field == "" && (slices.Contains(caseStandard, name) || p.pb.Fields[FieldRef{ObjectCase, name}] != ""):
			p.errorf(pbNode, "%s: %s: set %s under case:", what, cond, name)
		}
	}
}

// whereEquals returns the Case fields a where condition compares with = to one value, by
// name, when it joins its comparisons with AND only; nil when it has OR or NOT, whose
// meaning this does not follow, or does not parse.
func whereEquals(where string) map[string]any {
	comps, err := parseSOQLCondition(where)
	if err != nil {
		return nil
	}
	lex := soqlLexer{src: where}
	for {
		t, err := lex.next()
		if err != nil || t.kind == soqlEnd {
			break
		}
		if t.kind == soqlName && (strings.EqualFold(t.text, "OR") || strings.EqualFold(t.text, "NOT")) {
			return nil
		}
	}
	eq := map[string]any{}
	for _, c := range comps {
		if c.op.text != "=" || strings.Contains(c.field.text, ".") || len(c.values) != 1 {
			continue
		}
		switch v := c.values[0]; v.kind {
		case soqlString:
			eq[c.field.text] = soqlUnquote(v.text)
		case soqlBool:
			eq[c.field.text] = strings.EqualFold(v.text, "true")
		case soqlNumber:
			f, _ := strconv.ParseFloat(v.text, 64)
			eq[c.field.text] = f
		}
	}
	return eq
}

// soqlUnquote returns the value of a SOQL string literal, quotes included, that the lexer
// took.
func soqlUnquote(lit string) string {
	s := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		case 'r', 'R':
			b.WriteByte('\r')
		case 't', 'T':
			b.WriteByte('\t')
		case 'b', 'B':
			b.WriteByte('\b')
		case 'f', 'F':
			b.WriteByte('\f')
		case 'u':
			if r, err := strconv.ParseUint(s[i+1:min(i+5, len(s))], 16, 32); err == nil && i+5 <= len(s) {
				b.WriteRune(rune(r))
				i += 4
			}
		default: // \\ \' \" \_ \%
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// soqlLiteral writes a wire value as SOQL would.
func soqlLiteral(v any) string {
	if s, ok := v.(string); ok {
		return "'" + s + "'"
	}
	return fmt.Sprint(v)
}

// sameWire compares wire values as SOQL's = does: strings without regard to case.
func sameWire(a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return strings.EqualFold(as, bs)
	}
	return a == b
}
