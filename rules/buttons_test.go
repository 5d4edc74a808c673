package rules

import (
	"testing"

	"casebot/bot"
)

// A step has a button only when its gate is one checkbox of the case, set by the press.
func TestStepButton(t *testing.T) {
	p, err := Parse("buttons.yaml", []byte(`playbook: buttons
applies_to: {object: Case, where: "Type = 'Termination'"}
fields:
  Case: {Day0__c: date, Ok__c: bool, Other__c: bool, Note__c: string}
  Account: {Ok__c: bool}
dates: {day0: Case.Day0__c}
task_templates:
  purge: [{id: purge, subject: Purge the data}]
steps:
  - {id: checkbox, at: day0, require: "Case.Ok__c", do: [{status: A}]}
  - id: purge
    at: day0
    require: "Case.Ok__c"
    guard: {not_before: day0, owner: legal}
    do:
      - tasks: purge
        destructive: true
  - {id: tasks, at: day0, require: "Case.Ok__c", do: [{tasks: purge}]}
  - {id: unchecked, at: day0, require: "!Case.Ok__c", do: [{status: A}]}
  - {id: both, at: day0, require: "Case.Ok__c && Case.Other__c", do: [{status: A}]}
  - {id: account, at: day0, require: "Account.Ok__c", do: [{status: A}]}
  - {id: text, at: day0, require: "Case.Note__c != ''", do: [{status: A}]}
  - {id: step, at: day0, require: "done('checkbox')", do: [{status: A}]}
  - {id: none, at: day0, do: [{status: A}]}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bot.Action{"checkbox": bot.ActionConfirm, "purge": bot.ActionApproveDeletion, "tasks": bot.ActionConfirm}
	for _, s := range p.Steps {
		b, field, ok := s.Button()
		switch action, has := want[s.ID]; {
		case ok != has:
			t.Errorf("step %s: button %v (ok %v), want one: %v", s.ID, b, ok, has)
		case has && (b != bot.Button{Action: action, Step: s.ID} || field != FieldRef{ObjectCase, "Ok__c"}):
			t.Errorf("step %s: button %v setting %v, want %s setting Case.Ok__c", s.ID, b, field, action)
		}
	}
	if got := p.PossibleButtons(); len(got) != 3 {
		t.Errorf("without a hold field, possible buttons %v, want the 3 steps'", got)
	}
}
