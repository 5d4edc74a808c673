// Package templates renders the messages casebot sends, from template files embedded in the
// binary (slack/*.tmpl; email templates will sit beside them in email/).
//
// Every value that comes from a case or its account is untrusted: a customer writes the
// subject of the mail a case was opened from. Templates therefore never see raw values. Their
// dot is a view whose accessors ({{.Case "Subject"}}, {{.Account "Name"}},
// {{.Date "Deprovision_Date__c"}}, …) return text already escaped for Slack mrkdwn, so a subject
// of "<!channel>" renders as the harmless "&lt;!channel&gt;". Templates are parsed, and their
// accessors checked, when the set is loaded; a field a case does not carry is an error when
// rendering, never an empty string.
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

//go:embed slack/*.tmpl
var files embed.FS

const slackDir = "slack"

// Set is a loaded set of templates.
type Set struct {
	slack map[string]*template.Template // by name: the file name without .tmpl
}

// Data is what a message is about.
type Data struct {
	Playbook  string
	Step      string
	StepTitle string
	Case      bot.Case
	Due       time.Time      // when the step became due
	Location  *time.Location // the case's time zone, for every date shown; nil means UTC
	CaseURL   string         // the case in Salesforce; "" when unknown
	NextStep  string         // title of the next step due for the case; "" when none
	NextDue   time.Time      // when NextStep is due; zero when unknown
}

// Default returns the templates shipped with casebot.
func Default() (*Set, error) { return Load(files) }

// Load parses every template in fsys (slack/*.tmpl) and checks that each uses only the
// accessors a template has.
func Load(fsys fs.FS) (*Set, error) {
	paths, err := fs.Glob(fsys, slackDir+"/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	s := &Set{slack: make(map[string]*template.Template, len(paths))}
	for _, p := range paths {
		text, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read template: %w", err)
		}
		name := strings.TrimSuffix(path.Base(p), ".tmpl")
		t, err := template.New(name).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		for _, tree := range t.Templates() {
			if err := checkAccessors(tree.Tree, tree.Root); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		s.slack[name] = t
	}
	return s, nil
}

// Has reports whether the set has a Slack template called name.
func (s *Set) Has(name string) bool {
	_, ok := s.slack[name]
	return ok
}

// Names returns the names of the Slack templates, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.slack))
	for name := range s.slack {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Render renders the Slack template called name for d, as Slack mrkdwn.
func (s *Set) Render(name string, d Data) (string, error) {
	t, ok := s.slack[name]
	if !ok {
		return "", fmt.Errorf("render slack template %q: no such template", name)
	}
	var b strings.Builder
	if err := t.Execute(&b, view{d: d}); err != nil {
		return "", fmt.Errorf("render slack template %q: %w", name, err)
	}
	return strings.TrimRight(b.String(), "\n"), nil
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
