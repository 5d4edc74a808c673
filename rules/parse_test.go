package rules_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/rules/playbooks"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bad.err from the errors Parse returns")

// TestParseBad parses every testdata/*.bad.yaml and compares the errors, one a line, with the
// file beside it ending in .err.
func TestParseBad(t *testing.T) {
	checkBadFiles(t, "testdata/*.bad.yaml", func(name string, data []byte) (bool, error) {
		pb, err := rules.Parse(name, data, strictOptions)
		return pb != nil, err
	})
}

// checkBadFiles parses every file glob matches with parse, which must return nothing (false)
// and an Errors, and compares the errors, one a line, with the file beside it ending in .err;
// -update rewrites that file.
func checkBadFiles(t *testing.T, glob string, parse func(name string, data []byte) (bool, error)) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			returned, err := parse(filepath.Base(file), data)
			if err == nil {
				t.Fatal("parsed without error")
			}
			if returned {
				t.Errorf("a result was returned with errors")
			}
			var errs rules.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T, want rules.Errors", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	errs := rules.Errors{
		{File: "a.yaml", Line: 3, Col: 7, Msg: "one"},
		{File: "a.yaml", Line: 4, Msg: "no column"},
		{File: "b.yaml", Msg: "no position"},
	}
	want := "a.yaml:3:7: one\na.yaml:4: no column\nb.yaml: no position"
	if got := errs.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestShippedPlaybooks loads the shipped playbooks. Their roles, templates and endpoints are
// the config's to define, so only the language is checked here.
func TestShippedPlaybooks(t *testing.T) {
	pbs, err := rules.Load(playbooks.FS, rules.Options{})
	if err != nil {
		t.Fatalf("loading the shipped playbooks:\n%v", err)
	}
	if !slices.ContainsFunc(pbs, func(pb *rules.Playbook) bool { return pb.Name == sopName }) {
		t.Errorf("no playbook %q shipped", sopName)
	}
}

// TestParseSOP checks what the test copy of the SOP turns into.
func TestParseSOP(t *testing.T) {
	pb := sop(t)
	want := bot.CaseQuery{
		Object: "Case",
		Where:  "Type = 'Termination' AND IsClosed = false",
		Fields: []string{"CaseNumber", "Contract_End_Date__c", "CreatedDate", "Data_Deletion_Approved__c",
			"Deprovision_Date__c", "Status", "Subject", "Termination_Confirmed__c", "Termination_Hold__c"},
		AccountFields: []string{"Customer_Attrition__c", "Name", "Time_Zone__c", "Type"},
	}
	if !reflect.DeepEqual(pb.Query, want) {
		t.Errorf("query\n got %+v\nwant %+v", pb.Query, want)
	}
	var ids []string
	for _, s := range pb.Steps {
		ids = append(ids, s.ID)
	}
	wantIDs := []string{"case-opened", "attrition", "termination-notice", "offboarding-tasks", "deactivate-access",
		"final-notice", "hold-reminder", "deletion-approval", "purge-handoff", "purge-done", "close"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("steps %v, want %v", ids, wantIDs)
	}
	if pb.File != "sop.yaml" || pb.Title != "Customer off-boarding (termination)" ||
		pb.TimeZone.Default.String() != "America/New_York" || pb.RunAt != (rules.Clock{Hour: 9}) {
		t.Errorf("playbook %q %q %v %v", pb.File, pb.Title, pb.TimeZone.Default, pb.RunAt)
	}
	if got := pb.Steps[5].At.String(); got != "deprovision - 72h" {
		t.Errorf("final-notice at %q", got)
	}
}

// TestParseValues checks what a valid playbook turns into.
func TestParseValues(t *testing.T) {
	const src = `
playbook: values
applies_to: {object: Case, where: "IsClosed = false"}
fields:
  Case: {D: date, T: datetime, N: number, B: bool, S: string}
  Account: {Zone: string}
timezone: {field: Account.Zone, default: Europe/Paris}
dates: {d: Case.D}
task_templates:
  t:
    - {id: one, subject: One}
steps:
  - id: a
    at: d
    do:
      - update: {Case: {D: 2026-11-21, T: "2026-11-21T10:00:00+01:00", N: 3, B: false, S: "2024"}}
      - update: {Case: {N: 2.5, S: ~}}
      - tasks: t
`
	pb, err := rules.Parse("values.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := pb.Steps[0]
	if s.Title != "a" {
		t.Errorf("title %q, want the id", s.Title)
	}
	want := bot.Fields{"D": "2026-11-21", "T": "2026-11-21T09:00:00.000+0000", "N": 3.0, "B": false, "S": "2024"}
	if !reflect.DeepEqual(s.Actions[0].Fields, want) {
		t.Errorf("update %v, want %v", s.Actions[0].Fields, want)
	}
	if want := (bot.Fields{"N": 2.5, "S": nil}); !reflect.DeepEqual(s.Actions[1].Fields, want) {
		t.Errorf("update %v, want %v", s.Actions[1].Fields, want)
	}
	if want := []rules.TaskEntry{{ID: "one", Subject: "One", Priority: "Normal"}}; !reflect.DeepEqual(pb.TaskTemplates["t"], want) {
		t.Errorf("tasks %+v, want %+v", pb.TaskTemplates["t"], want)
	}
	// No due date: the task has none.
	r := pb.Evaluate(bot.Case{ID: "5", Fields: bot.Fields{"D": "2026-11-21"}}, nil, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(r.Due) != 3 || r.Due[2].Tasks[0].Due != "" {
		t.Errorf("due %+v", r.Due)
	}
	if !reflect.DeepEqual(pb.Query.AccountFields, []string{"Zone"}) {
		t.Errorf("account fields %v", pb.Query.AccountFields)
	}
}

// pbText is a playbook file of a playbook with one step, for Load.
func pbText(name string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(`playbook: ` + name + `
applies_to: {object: Case, where: "Type = 'Termination' AND IsClosed = false"}
fields: {Case: {D: date}}
dates: {d: Case.D}
steps:
  - {id: a, at: d, do: [status: A]}
`)}
}

// brokenPlaybook is the c.yaml of a playbook that does not load, with brokenErrors.
var brokenPlaybook = &fstest.MapFile{Data: []byte("playbook: c\nsteps: 3\n")}

const brokenErrors = `c.yaml:1:1: playbook: missing required key "applies_to"
c.yaml:1:1: playbook: missing required key "fields"
c.yaml:1:1: playbook: missing required key "dates"
c.yaml:2:8: steps: want a list, got "3"`

func TestLoad(t *testing.T) {
	t.Run("sorted by name, other files ignored", func(t *testing.T) {
		fsys := fstest.MapFS{
			"a.yaml":         pbText("zeta"),
			"b.yml":          pbText("alpha"),
			"README.md":      {Data: []byte("not a playbook")},
			"sub/c.yaml":     pbText("in-a-directory"),
			"notes.yaml.bak": {Data: []byte("::")},
		}
		pbs, err := rules.Load(fsys, rules.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, pb := range pbs {
			got = append(got, pb.Name+"@"+pb.File)
		}
		if want := []string{"alpha@b.yml", "zeta@a.yaml"}; !slices.Equal(got, want) {
			t.Errorf("loaded %v, want %v", got, want)
		}
	})
	t.Run("every error of every file", func(t *testing.T) {
		fsys := fstest.MapFS{
			"a.yaml": pbText("same"),
			"b.yaml": pbText("same"),
			"c.yaml": brokenPlaybook,
		}
		pbs, err := rules.Load(fsys, rules.Options{})
		if pbs != nil {
			t.Errorf("playbooks returned with errors")
		}
		want := `b.yaml:1:11: playbook "same" is also defined in a.yaml
` + brokenErrors
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
}
