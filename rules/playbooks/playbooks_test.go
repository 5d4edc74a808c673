package playbooks_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/rules/playbooks"
	"casebot/templates"
)

func load(t *testing.T) ([]*rules.Playbook, *templates.Set) {
	t.Helper()
	set, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := rules.Load(playbooks.FS, rules.Options{KnownTemplateKind: set.HasKind})
	if err != nil {
		t.Fatal(err)
	}
	return pbs, set
}

// Every source procedure has its playbook.
func TestShipped(t *testing.T) {
	pbs, _ := load(t)
	var names []string
	for _, p := range pbs {
		names = append(names, p.Name)
	}
	want := []string{"almaden-partner-cancellation", "customer-removal", "mimecast-msp-cancellation", "termination-sop"}
	if !slices.Equal(names, want) {
		t.Errorf("shipped playbooks %v, want %v", names, want)
	}
}

// Every step of a shipped playbook that does harm declares what must hold first.
func TestShippedGuarded(t *testing.T) {
	pbs, _ := load(t)
	for _, p := range pbs {
		for _, w := range p.Warnings {
			t.Errorf("%s", w)
		}
	}
}

// sample is a value of a declared type, as the CRM returns it.
func sample(typ rules.FieldType) any {
	switch typ {
	case rules.TypeBool:
		return true
	case rules.TypeNumber:
		return float64(3)
	case rules.TypeDate:
		return "2026-11-02"
	case rules.TypeDateTime:
		return "2026-11-02T14:00:00.000+0000"
	default:
		return "text"
	}
}

// caseOf returns a case carrying exactly the fields p declares, each with a sample value or
// null: casebot reads only those, so a template that needs another field fails here.
func caseOf(p *rules.Playbook, null bool) bot.Case {
	c := bot.Case{ID: "500000000000001AAA", Fields: bot.Fields{}, Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{}}}
	for ref, typ := range p.Fields {
		var v any
		if !null {
			v = sample(typ)
		}
		if ref.Object == rules.ObjectCase {
			c.Fields[ref.Name] = v
		} else {
			c.Account.Fields[ref.Name] = v
		}
	}
	return c
}

// Every message a playbook sends renders from the fields the playbook declares, set or null.
func TestTemplatesUseDeclaredFields(t *testing.T) {
	pbs, set := load(t)
	for _, p := range pbs {
		for _, null := range []bool{false, true} {
			d := templates.Data{Playbook: p.Name, Case: caseOf(p, null), Due: time.Now(), Now: time.Now(), Location: time.UTC}
			render := func(where string, kind bot.EffectKind, name string) {
				var err error
				switch kind {
				case bot.KindEmail:
					_, _, err = set.RenderEmail(name, d)
				case bot.KindComment:
					_, err = set.RenderComment(name, d)
				default:
					_, err = set.Render(name, d)
				}
				if err != nil {
					t.Errorf("%s: %s (null fields: %v): %v", p.File, where, null, err)
				}
			}
			for _, s := range p.Steps {
				d.Step, d.StepTitle = s.ID, s.Title
				for i, a := range s.Actions {
					if a.Template != "" {
						render(s.ID+" action "+strconv.Itoa(i+1), a.Kind, a.Template)
					}
				}
				if s.Remind != nil {
					render(s.ID+" remind", bot.KindSlack, s.Remind.Template)
				}
				if s.CatchUp == rules.CatchUpEscalate {
					render(s.ID+" escalation", bot.KindSlack, rules.MissedStepTemplate)
				}
			}
		}
	}
}

// The metadata an admin deploys.
type customField struct {
	Type   string   `xml:"type"`
	Values []string `xml:"valueSet>valueSetDefinition>value>fullName"`
}

type standardValueSet struct {
	Values []string `xml:"standardValue>fullName"`
}

func readXML(t *testing.T, path string, v any) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return true
}

func valueSet(t *testing.T, name string) []string {
	t.Helper()
	var s standardValueSet
	if !readXML(t, filepath.Join("metadata", "standardValueSets", name+".standardValueSet-meta.xml"), &s) {
		t.Fatalf("no standard value set %s", name)
	}
	return s.Values
}

// metadataType maps a Salesforce field type to the type a playbook declares for it.
var metadataType = map[string]rules.FieldType{
	"Checkbox": rules.TypeBool, "Date": rules.TypeDate, "DateTime": rules.TypeDateTime,
	"Number": rules.TypeNumber, "Text": rules.TypeString, "LongTextArea": rules.TypeString,
	"TextArea": rules.TypeString, "Email": rules.TypeString, "Picklist": rules.TypeString,
	"Lookup": rules.TypeString,
}

// comparison finds `Case.Field == 'value'` (or !=) in a condition or an expression.
var comparison = regexp.MustCompile(`\b(Case|Account)\.(\w+)\s*[!=]=\s*'([^']*)'`)

// Every custom field a playbook reads ships as metadata of the type the playbook declares, and
// every picklist value a playbook writes or compares with is a value of the picklist.
func TestMetadata(t *testing.T) {
	pbs, _ := load(t)
	fields := map[rules.FieldRef]customField{}
	for _, p := range pbs {
		for ref, typ := range p.Fields {
			if !strings.HasSuffix(ref.Name, "__c") {
				continue
			}
			var f customField
			if !readXML(t, filepath.Join("metadata", "objects", ref.Object, "fields", ref.Name+".field-meta.xml"), &f) {
				t.Errorf("%s: %s has no metadata in metadata/objects", p.File, ref)
				continue
			}
			if metadataType[f.Type] != typ {
				t.Errorf("%s: %s is declared %s but its metadata is a %s field", p.File, ref, typ, f.Type)
			}
			fields[ref] = f
		}
	}
	picklist := func(ref rules.FieldRef) ([]string, bool) {
		switch ref {
		case rules.FieldRef{Object: rules.ObjectCase, Name: "Status"}:
			return valueSet(t, "CaseStatus"), true
		case rules.FieldRef{Object: rules.ObjectCase, Name: "Type"}:
			return valueSet(t, "CaseType"), true
		case rules.FieldRef{Object: rules.ObjectCase, Name: "Origin"}:
			return []string{"Phone", "Email", "Web"}, true
		case rules.FieldRef{Object: rules.ObjectAccount, Name: "Type"}:
			return valueSet(t, "AccountType"), true
		}
		f, ok := fields[ref]
		return f.Values, ok && f.Type == "Picklist"
	}
	check := func(file, where string, ref rules.FieldRef, value string) {
		// '' is the null value: no picklist has it, every field can compare with it.
		if values, ok := picklist(ref); ok && value != "" && !slices.Contains(values, value) {
			t.Errorf("%s: %s: %q is not a value of %s (%v)", file, where, value, ref, values)
		}
	}
	checkSource := func(file, where, src string) {
		for _, m := range comparison.FindAllStringSubmatch(src, -1) {
			check(file, where, rules.FieldRef{Object: m[1], Name: m[2]}, m[3])
		}
	}
	caseType := regexp.MustCompile(`\bType\s*=\s*'([^']*)'`)
	for _, p := range pbs {
		for _, m := range caseType.FindAllStringSubmatch(p.Query.Where, -1) {
			check(p.File, "applies_to", rules.FieldRef{Object: rules.ObjectCase, Name: "Type"}, m[1])
		}
		for _, s := range p.Steps {
			for _, c := range []*rules.Condition{s.When, s.Require} {
				if c != nil {
					checkSource(p.File, s.ID, c.Source)
				}
			}
			for _, a := range s.Actions {
				switch a.Kind {
				case bot.KindStatus:
					check(p.File, s.ID, rules.FieldRef{Object: rules.ObjectCase, Name: "Status"}, a.Status)
				case bot.KindUpdate:
					for name, v := range a.Fields {
						if v, ok := v.(string); ok {
							check(p.File, s.ID, rules.FieldRef{Object: a.Object, Name: name}, v)
						}
					}
					for _, e := range a.Exprs {
						checkSource(p.File, s.ID, e.Source)
					}
				}
			}
		}
	}
	// Salesforce closes a case only in a status marked closed.
	if !slices.Contains(valueSet(t, "CaseStatus"), "Closed") {
		t.Error("CaseStatus has no Closed")
	}
}
