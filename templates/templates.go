// Package templates renders the messages casebot sends, from template files embedded in the
// binary, one directory per kind:
//
//   - slack/*.tmpl: Slack messages, in Slack mrkdwn;
//   - email/*.tmpl: mails, plain text, whose first line is "Subject: …";
//   - comment/*.tmpl: case comments, plain text.
//
// Every value that comes from a case or its account is untrusted: a customer writes the
// subject of the mail a case was opened from. Templates therefore never see raw values. Their
// dot is a view whose accessors ({{.Case "Subject"}}, {{.Account "Name"}},
// {{.Date "Deprovision_Date__c"}}, …) return text already made safe for the kind: escaped for
// Slack mrkdwn in Slack messages, so a subject of "<!channel>" renders as the harmless
// "&lt;!channel&gt;"; stripped of control characters in plain text; and flattened to one line
// in a mail's subject, so that no value can add a header or end the subject early. Templates
// are parsed, and their accessors checked, when the set is loaded; a field a case does not
// carry is an error when rendering, never an empty string.
package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"casebot/bot"
)

//go:embed slack/*.tmpl email/*.tmpl comment/*.tmpl
var files embed.FS

// The kinds of template, each the name of the directory that holds them. They are the names
// of the playbook actions that use them.
const (
	Slack   = "slack"
	Email   = "email"
	Comment = "comment"
)

// Kinds lists the kinds of template, in the order Load reads them.
var Kinds = []string{Slack, Email, Comment}

// subjectPrefix starts the first line of every email template.
const subjectPrefix = "Subject: "

// Set is a loaded set of templates.
type Set struct {
	kinds map[string]map[string]parsed // kind → name (the file name without .tmpl) → template
}

// parsed is one template file: subject is set for mails only.
type parsed struct {
	subject, body *template.Template
}

// Data is what a message is about.
type Data struct {
	Playbook  string
	Step      string
	StepTitle string
	Case      bot.Case
	Due       time.Time      // when the step became due
	Now       time.Time      // when the message is sent; zero when unknown
	Location  *time.Location // the case's time zone, for every date shown; nil means UTC
	CaseURL   string         // the case in Salesforce; "" when unknown
	NextStep  string         // title of the next step due for the case; "" when none
	NextDue   time.Time      // when NextStep is due; zero when unknown
	// Gate is what a waiting step still misses, in words ("Termination Confirmed is empty;
	// the tasks of step offboarding-tasks are not all closed (0 of 6 closed)"); set for gate
	// reminders, "" otherwise.
	Gate string
	// Problem is, for a notice that an action failed for good, the error it failed with.
	Problem string
}

// Default returns the templates shipped with casebot.
func Default() (*Set, error) { return Load(files) }

// Load parses every template in fsys (slack/*.tmpl, email/*.tmpl, comment/*.tmpl) and checks
// that each uses only the accessors a template has, and that each mail starts with its subject.
func Load(fsys fs.FS) (*Set, error) {
	s := &Set{kinds: make(map[string]map[string]parsed, len(Kinds))}
	for _, kind := range Kinds {
		paths, err := fs.Glob(fsys, kind+"/*.tmpl")
		if err != nil {
			return nil, fmt.Errorf("list %s templates: %w", kind, err)
		}
		set := make(map[string]parsed, len(paths))
		for _, p := range paths {
			text, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil, fmt.Errorf("read template: %w", err)
			}
			name := strings.TrimSuffix(path.Base(p), ".tmpl")
			// Templates written on Windows render with the same line breaks as the others.
			t, err := parseFile(kind, name, p, strings.ReplaceAll(string(text), "\r\n", "\n"))
			if err != nil {
				return nil, err
			}
			set[name] = t
		}
		s.kinds[kind] = set
	}
	return s, nil
}

// parseFile parses one template file of a kind. A mail's first line is its subject, parsed on
// its own; its body keeps its place in the file, so that errors give the file's line numbers.
func parseFile(kind, name, file, text string) (parsed, error) {
	var out parsed
	body := text
	if kind == Email {
		first, rest, _ := strings.Cut(text, "\n")
		subject, ok := strings.CutPrefix(first, subjectPrefix)
		if !ok || strings.TrimSpace(subject) == "" {
			return parsed{}, fmt.Errorf("%s:1: the first line must be %q followed by the subject", file, subjectPrefix+"…")
		}
		t, err := parseOne(name, file, subject)
		if err != nil {
			return parsed{}, err
		}
		out.subject = t
		body = "\n" + rest
	}
	t, err := parseOne(name, file, body)
	if err != nil {
		return parsed{}, err
	}
	out.body = t
	return out, nil
}

func parseOne(name, file, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	for _, tree := range t.Templates() {
		if err := checkAccessors(tree.Tree, tree.Root); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return t, nil
}

// Has reports whether the set has a Slack template called name.
func (s *Set) Has(name string) bool { return s.HasKind(Slack, name) }

// HasKind reports whether the set has a template of the kind (Slack, Email, Comment) called
// name; a kind it does not know has none.
func (s *Set) HasKind(kind, name string) bool {
	_, ok := s.kinds[kind][name]
	return ok
}

// Names returns the names of the Slack templates, sorted.
func (s *Set) Names() []string { return s.NamesOfKind(Slack) }

// NamesOfKind returns the names of the templates of a kind, sorted.
func (s *Set) NamesOfKind(kind string) []string {
	names := make([]string, 0, len(s.kinds[kind]))
	for name := range s.kinds[kind] {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Render renders the Slack template called name for d, as Slack mrkdwn.
func (s *Set) Render(name string, d Data) (string, error) {
	t, err := s.lookup(Slack, name)
	if err != nil {
		return "", err
	}
	text, err := execute(t.body, view{d: d, style: slackStyle})
	if err != nil {
		return "", fmt.Errorf("render slack template %q: %w", name, err)
	}
	return strings.TrimRight(text, "\n"), nil
}

// RenderEmail renders the email template called name for d: the subject, always a single
// line, and the plain-text body.
func (s *Set) RenderEmail(name string, d Data) (subject, text string, err error) {
	t, err := s.lookup(Email, name)
	if err != nil {
		return "", "", err
	}
	subject, err = execute(t.subject, view{d: d, style: subjectStyle})
	if err != nil {
		return "", "", fmt.Errorf("render email template %q: subject: %w", name, err)
	}
	text, err = execute(t.body, view{d: d, style: plainStyle})
	if err != nil {
		return "", "", fmt.Errorf("render email template %q: %w", name, err)
	}
	// The subject's template text is one line and its values are flattened; flattening the
	// result too keeps it one line whatever the template's author wrote.
	return oneLine(subject), strings.Trim(text, "\n"), nil
}

// RenderComment renders the comment template called name for d, as plain text.
func (s *Set) RenderComment(name string, d Data) (string, error) {
	t, err := s.lookup(Comment, name)
	if err != nil {
		return "", err
	}
	text, err := execute(t.body, view{d: d, style: plainStyle})
	if err != nil {
		return "", fmt.Errorf("render comment template %q: %w", name, err)
	}
	return strings.Trim(text, "\n"), nil
}

func (s *Set) lookup(kind, name string) (parsed, error) {
	t, ok := s.kinds[kind][name]
	if !ok {
		return parsed{}, fmt.Errorf("render %s template %q: no such template", kind, name)
	}
	return t, nil
}

func execute(t *template.Template, v view) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// checkAccessors reports a field reference ({{.Nope}}, {{$.Nope}}) that is not an accessor.
// text/template resolves fields only when it executes them, which for a branch not taken
// would be never, so the whole tree is walked at load time.
func checkAccessors(tree *parse.Tree, n parse.Node) error {
	var idents []string
	switch n := n.(type) {
	case *parse.FieldNode:
		idents = n.Ident
	case *parse.VariableNode:
		if n.Ident[0] != "$" || len(n.Ident) == 1 {
			return nil
		}
		idents = n.Ident[1:]
	case *parse.ChainNode:
		return checkAccessors(tree, n.Node)
	case *parse.ListNode:
		return checkAll(tree, n.Nodes...)
	case *parse.ActionNode:
		return checkAccessors(tree, n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		nodes := make([]parse.Node, len(n.Cmds))
		for i, c := range n.Cmds {
			nodes[i] = c
		}
		return checkAll(tree, nodes...)
	case *parse.CommandNode:
		return checkAll(tree, n.Args...)
	case *parse.IfNode:
		return checkAll(tree, n.Pipe, n.List, n.ElseList)
	case *parse.RangeNode:
		return checkAll(tree, n.Pipe, n.List, n.ElseList)
	case *parse.WithNode:
		return checkAll(tree, n.Pipe, n.List, n.ElseList)
	case *parse.TemplateNode:
		return checkAccessors(tree, n.Pipe)
	default:
		return nil
	}
	loc, _ := tree.ErrorContext(n)
	if _, ok := reflect.TypeFor[view]().MethodByName(idents[0]); !ok {
		return fmt.Errorf("%s: unknown accessor .%s", loc, idents[0])
	}
	if len(idents) > 1 {
		return fmt.Errorf("%s: .%s is text; it has no field %s", loc, idents[0], idents[1])
	}
	return nil
}

func checkAll(tree *parse.Tree, nodes ...parse.Node) error {
	for _, n := range nodes {
		if n == nil || reflect.ValueOf(n).IsNil() {
			continue
		}
		if err := checkAccessors(tree, n); err != nil {
			return err
		}
	}
	return nil
}
