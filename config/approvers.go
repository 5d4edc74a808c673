package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"casebot/bot"
)

// Approvers say who may press which button of a case's checklist in Slack: by playbook name
// ("*" for every playbook), then by action, Slack user ids. The actions are hold, release,
// approve_deletion, confirm (any step's gate) and confirm/STEP (that step's gate only).
type Approvers map[string]map[string][]string

// AnyPlaybook is the key of Approvers whose users may press on the cases of every playbook.
const AnyPlaybook = "*"

const confirmStep = string(bot.ActionConfirm) + "/"

var (
	// slackUserRe is a Slack user id: U… or, in Enterprise Grid, W….
	slackUserRe = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	stepIDRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
)

// Allow reports whether the Slack user may press b on the cases of playbook: listed under the
// playbook or "*", for b's action, or for a Confirm also for confirm/ and its step.
func (a Approvers) Allow(user, playbook string, b bot.Button) bool {
	keys := []string{string(b.Action)}
	if b.Action == bot.ActionConfirm {
		keys = append(keys, confirmStep+b.Step)
	}
	for _, pb := range []string{playbook, AnyPlaybook} {
		for _, k := range keys {
			if slices.Contains(a[pb][k], user) {
				return true
			}
		}
	}
	return false
}

// approverKey is the key of Approvers that b's approvers are listed under: its action, or
// confirm/STEP for a Confirm of one step.
func approverKey(b bot.Button) string {
	if b.Step != "" && b.Action == bot.ActionConfirm {
		return confirmStep + b.Step
	}
	return string(b.Action)
}

// validatePresses checks slack.app_token and slack.approvers as far as the file alone tells,
// and keeps where the approvers are written: which playbooks and steps they may name is known
// only once the playbooks are loaded (CheckApprovers).
func (s *Slack) validatePresses(v *validator) {
	if s.AppToken != "" || s.AppTokenFile != "" {
		path := "slack.app_token"
		if s.AppTokenFile != "" {
			path += "_file"
		}
		switch {
		case s.Token == "" && s.TokenFile == "":
			v.errorf(path, "needs slack.token: casebot answers presses and commands as its bot")
		case !strings.HasPrefix(s.AppToken.Value(), "xapp-"):
			// A bot token (xoxb-…) here is a common mix-up; the value is a secret, not shown.
			v.errorf(path, "want an app-level token, which starts with xapp- (the app's Basic Information page)")
		}
	}
	for _, pb := range slices.Sorted(maps.Keys(s.Approvers)) {
		for _, key := range slices.Sorted(maps.Keys(s.Approvers[pb])) {
			path := "slack.approvers." + pb + "." + key
			step, isStep := strings.CutPrefix(key, confirmStep)
			switch {
			case isStep && !stepIDRe.MatchString(step):
				v.keyErrorf(path, "want confirm/ and a step id, such as confirm/legal-confirmation")
			case !isStep && !slices.Contains([]bot.Action{bot.ActionHold, bot.ActionRelease, bot.ActionApproveDeletion, bot.ActionConfirm}, bot.Action(key)):
				v.keyErrorf(path, "unknown action %q; want hold, release, approve_deletion, confirm or confirm/STEP", key)
			}
			for i, user := range s.Approvers[pb][key] {
				if !slackUserRe.MatchString(user) {
					v.errorf(fmt.Sprintf("%s[%d]", path, i), "want a Slack user id such as U012AB3CD (a profile's \"Copy member ID\"), not %q", user)
				}
			}
		}
	}
	if len(s.Approvers) > 0 {
		s.approversAt = &index{file: v.x.file}
		for _, e := range v.x.entries {
			if strings.HasPrefix(e.path, "slack.approvers") {
				s.approversAt.entries = append(s.approversAt.entries, e)
			}
		}
	}
}

// CheckApprovers checks slack.approvers against the playbooks casebot runs, given as the
// buttons each one's cases can have (rules.Playbook.PossibleButtons) by playbook name: naming a
// playbook that is not one of them, or a button no case of the playbook (of any, under "*")
// can have, is an error at its place in the file.
func (c *Config) CheckApprovers(buttons map[string][]bot.Button) error {
	x := c.Slack.approversAt
	if x == nil {
		x = &index{file: "config"}
	}
	var errs []*Error
	for _, pb := range slices.Sorted(maps.Keys(c.Slack.Approvers)) {
		path := "slack.approvers." + pb
		have, known := buttons[pb]
		switch {
		case pb == AnyPlaybook:
			for _, name := range slices.Sorted(maps.Keys(buttons)) {
				have = append(have, buttons[name]...)
			}
		case !known:
			errs = append(errs, x.keyErrorf(path, "no playbook %q; the playbooks are %s", pb,
				strings.Join(slices.Sorted(maps.Keys(buttons)), ", ")))
			continue
		}
		var keys []string // the keys that apply to the playbook's buttons
		for _, b := range have {
			for _, k := range []string{string(b.Action), approverKey(b)} {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
		if len(keys) == 0 {
			keys = []string{"none"}
		}
		whose := "playbook " + pb
		if pb == AnyPlaybook {
			whose = "any playbook"
		}
		for _, key := range slices.Sorted(maps.Keys(c.Slack.Approvers[pb])) {
			if !slices.Contains(keys, key) {
				errs = append(errs, x.keyErrorf(path+"."+key, "no case of %s has this button; the keys that apply: %s",
					whose, strings.Join(keys, ", ")))
			}
		}
	}
	return joinErrors(errs)
}
