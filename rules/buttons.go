package rules

import (
	"slices"

	"casebot/bot"
)

// Button returns the button that opens step s's gate from Slack, and the field a press of it
// sets to true. A step has one when its require is one checkbox of the case (`require:
// "Case.Terms_Accepted__c"`): a Confirm, or an ApproveDeletion when the step hands out
// destructive work (a tasks action marked destructive, such as the data purge), which people
// approve rather than confirm. A gate that reads anything else (dates, text, other steps) is
// opened in Salesforce or by casebot itself: ok is false.
func (s *Step) Button() (b bot.Button, field FieldRef, ok bool) {
	if s.Require == nil || len(s.Require.parts) != 1 {
		return bot.Button{}, FieldRef{}, false
	}
	part := s.Require.parts[0]
	if part.shape != shapeChecked || part.refs[0].Object != ObjectCase {
		return bot.Button{}, FieldRef{}, false
	}
	b = bot.Button{Action: bot.ActionConfirm, Step: s.ID}
	if slices.ContainsFunc(s.Actions, func(a Action) bool { return a.Kind == bot.KindTasks && a.Harm != "" }) {
		b.Action = bot.ActionApproveDeletion
	}
	return b, part.refs[0], true
}

// Buttons returns what people may press on case c, in order, given res, the playbook's
// evaluation of c: Hold while its hold field is not set and Release while it is (none
// without a hold field), then the Button of each step that waits for its gate (its date has
// come and its require is false). A step that is done, scheduled or held has none: there is
// nothing to confirm yet, or any more.
func (p *Playbook) Buttons(c bot.Case, res Result) []bot.Button {
	var bs []bot.Button
	if p.Hold.Name != "" {
		if held, _ := FieldValue(&c, p.Hold).(bool); held {
			bs = append(bs, bot.Button{Action: bot.ActionRelease})
		} else {
			bs = append(bs, bot.Button{Action: bot.ActionHold})
		}
	}
	for i, st := range res.Steps {
		if st.State != StateWaiting || st.Gate.Kind != "require" {
			continue
		}
		if b, _, ok := p.Steps[i].Button(); ok {
			bs = append(bs, b)
		}
	}
	return bs
}

// PossibleButtons returns every button a case of the playbook can have, in the order Buttons
// gives them: Hold and Release when it has a hold field, and each step's Button.
func (p *Playbook) PossibleButtons() []bot.Button {
	var bs []bot.Button
	if p.Hold.Name != "" {
		bs = append(bs, bot.Button{Action: bot.ActionHold}, bot.Button{Action: bot.ActionRelease})
	}
	for _, s := range p.Steps {
		if b, _, ok := s.Button(); ok {
			bs = append(bs, b)
		}
	}
	return bs
}
