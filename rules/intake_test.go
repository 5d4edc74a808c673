package rules_test

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"casebot/rules"
)

// intakeOptions knows the templates and roles the intake tests name.
var intakeOptions = rules.Options{
	KnownTemplateKind: func(kind, name string) bool { return kind == "email" && name == "removal-ack" },
	KnownRole:         func(name string) bool { return name == "order_management" },
}

// intakeDir holds the intake tests' playbooks and their valid intake rules.
const intakeDir = "testdata/intake"

func intakePlaybooks(t testing.TB) []*rules.Playbook {
	t.Helper()
	pbs, err := rules.Load(os.DirFS(intakeDir), intakeOptions)
	if err != nil {
		t.Fatal(err)
	}
	return pbs
}

func testIntake(t testing.TB) *rules.Intake {
	t.Helper()
	_, in, err := rules.LoadWithIntake(os.DirFS(intakeDir), intakeOptions)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestIntakeBad parses every testdata/intake/bad/*.bad.yaml against the intake tests'
// playbooks and compares the errors, one a line, with the file beside it ending in .err.
func TestIntakeBad(t *testing.T) {
	pbs := intakePlaybooks(t)
	checkBadFiles(t, intakeDir+"/bad/*.bad.yaml", func(name string, data []byte) (bool, error) {
		in, err := rules.ParseIntake(name, data, pbs, intakeOptions)
		return in != nil, err
	})
}

// TestIntakeParsed checks what the intake tests' rules turn into.
func TestIntakeParsed(t *testing.T) {
	in := testIntake(t)
	if in.File != "intake.yaml" || in.Mailbox != "Terminations" || in.Processed != "Terminations/Done" ||
		in.Quarantine != "Terminations/Quarantine" || in.Notify != "order_management" || !in.RequireAuth ||
		in.CaseReference.String() != `\[ref (\d{6})\]` {
		t.Errorf("settings %+v", in)
	}
	var lookups []string
	for _, l := range in.Lookups {
		lookups = append(lookups, l.Name+" "+l.Field.String()+" "+map[bool]string{true: "list", false: "one"}[l.List])
	}
	if want := []string{"domain Account.Mail_Domains__c list", "number Account.AccountNumber one", "tenant Account.Tenant_Id__c one"}; !slices.Equal(lookups, want) {
		t.Errorf("lookups %q, want %q", lookups, want)
	}
	names := func(rs []*rules.MailRule) (out []string) {
		for _, r := range rs {
			var ls []string
			for _, l := range r.Accounts {
				ls = append(ls, l.Name)
			}
			out = append(out, r.Name+"→"+r.Playbook+" "+strings.Join(ls, ","))
		}
		return out
	}
	if got, want := names(in.Rules), []string{"removal→removal number,domain", "us-removal→removal domain,number,tenant", "partner→partner-cancellation tenant"}; !slices.Equal(got, want) {
		t.Errorf("rules %q, want %q", got, want)
	}
	if got, want := names(in.Replies), []string{"uninstalled→partner-cancellation ", "terms→partner-cancellation "}; !slices.Equal(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}
	r := in.Rules[0]
	if r.DateOrder != rules.DMY || r.Acknowledge != "removal-ack" || !r.RequireAuth || in.Rules[1].RequireAuth || r.Line != 14 {
		t.Errorf("rule %+v", r)
	}
	if got := in.Replies[0].Senders; !reflect.DeepEqual(got, []rules.FieldRef{{Object: "Case", Name: "SuppliedEmail"}}) {
		t.Errorf("default senders %v", got)
	}
	lit := map[string]any{}
	for _, v := range r.Case {
		if v.Pattern == nil {
			lit[v.Field.Name] = v.Value
		}
	}
	if want := map[string]any{"Type": "Customer Removal", "Removal_Scenario__c": "Customer Request"}; !reflect.DeepEqual(lit, want) {
		t.Errorf("literals %v, want %v", lit, want)
	}
}

func TestLoadWithIntake(t *testing.T) {
	playbook := pbText
	intake := &fstest.MapFile{Data: []byte(`account: {domain: {field: Account.Domains__c}}
rules:
  - {name: a, when: {subject: x}, playbook: good, case: {Type: Termination}}
  - {name: b, when: {subject: x}, playbook: c, case: {Type: Termination, D: {body: '(.+)'}}}
  - {name: c, when: {subject: x}, playbook: gone, case: {Type: Termination}}
`)}
	t.Run("playbooks and intake", func(t *testing.T) {
		fsys := fstest.MapFS{"good.yaml": playbook("good"), "other.yaml": playbook("broken"), rules.IntakeFile: {Data: []byte(
			"account: {domain: {field: Account.Domains__c}}\nrules: [{name: a, when: {subject: x}, playbook: good, case: {Type: Termination}}]\n")}}
		pbs, in, err := rules.LoadWithIntake(fsys, rules.Options{})
		if err != nil || len(pbs) != 2 || in == nil || in.Rules[0].Playbook != "good" {
			t.Fatalf("LoadWithIntake = %v, %+v, %v", pbs, in, err)
		}
		// Load leaves the intake rules out, and LoadIntake reads them alone.
		if pbs, err := rules.Load(fsys, rules.Options{}); err != nil || len(pbs) != 2 {
			t.Errorf("Load = %v, %v", pbs, err)
		}
		if in, err := rules.LoadIntake(fsys, pbs, rules.Options{}); err != nil || in == nil {
			t.Errorf("LoadIntake = %v, %v", in, err)
		}
	})
	t.Run("every error of both at once", func(t *testing.T) {
		fsys := fstest.MapFS{
			"good.yaml":  playbook("good"),
			"c.yaml":     brokenPlaybook,
			"intake.yml": intake,
		}
		pbs, in, err := rules.LoadWithIntake(fsys, rules.Options{})
		if pbs != nil || in != nil {
			t.Errorf("returned %v, %v with errors", pbs, in)
		}
		// Rule b names a playbook that did not load: only its own problems are reported.
		want := brokenErrors + `
intake.yml:5:45: rule "c": playbook: unknown playbook "gone"; playbooks: good`
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
	t.Run("no intake file", func(t *testing.T) {
		fsys := fstest.MapFS{"good.yaml": playbook("good")}
		pbs, in, err := rules.LoadWithIntake(fsys, rules.Options{})
		if err != nil || len(pbs) != 1 || in != nil {
			t.Errorf("LoadWithIntake = %v, %v, %v", pbs, in, err)
		}
		if in, err := rules.LoadIntake(fsys, pbs, rules.Options{}); err != nil || in != nil {
			t.Errorf("LoadIntake = %v, %v", in, err)
		}
	})
	t.Run("two intake files", func(t *testing.T) {
		fsys := fstest.MapFS{"good.yaml": playbook("good"), "intake.yaml": intake, "intake.yml": intake}
		_, _, err := rules.LoadWithIntake(fsys, rules.Options{})
		if want := "intake.yml: the intake rules are in intake.yaml too: keep one file"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %s", err, want)
		}
	})
}

func TestIsIntakeFile(t *testing.T) {
	for name, want := range map[string]bool{
		"intake.yaml": true, "intake.yml": true, "dir/intake.yaml": true,
		"intake.test.yaml": false, "my-intake.yaml": false, "intake.yaml.bak": false,
	} {
		if got := rules.IsIntakeFile(name); got != want {
			t.Errorf("IsIntakeFile(%q) = %v", name, got)
		}
		if want && rules.IsPlaybookFile(name) {
			t.Errorf("IsPlaybookFile(%q) = true", name)
		}
	}
}
