package cli

import (
	"context"
	"fmt"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// demoPress is a press of a checklist button in Slack during the demo, on the open case of
// the termination SOP whose account is account.
type demoPress struct {
	after   time.Duration // from the demo's start
	account string
	action  bot.Action
	user    string // the presser's Slack id: the approvers are the example config's
	name    string
	channel string
}

// demoPresses: the RVP holds Acme Corp's termination for two days, and someone who is no
// approver tries to release it in between.
var demoPresses = []demoPress{
	{8*day + 2*time.Hour, "Acme Corp", bot.ActionHold, "U0DEMORVP1", "rachel.vance", "#account-team"},
	{8*day + 2*time.Hour, "Acme Corp", bot.ActionRelease, "U0DEMOX001", "mallory", "#account-team"},
	{10*day + 2*time.Hour, "Acme Corp", bot.ActionRelease, "U0DEMORVP1", "rachel.vance", "#account-team"},
}

// presser makes the demo's presses through the ChatHandler, as Slack delivers them.
type presser struct {
	h    *ChatHandler
	crm  bot.CRM
	pb   *rules.Playbook // the termination SOP
	next int             // the first of demoPresses not made yet
}

// press makes the presses due at now and prints what each did.
func (p *presser) press(ctx context.Context, t *timeline, now time.Time) error {
	for ; p.next < len(demoPresses) && now.Sub(DemoStart) >= demoPresses[p.next].after; p.next++ {
		dp := demoPresses[p.next]
		cases, err := p.crm.Cases(ctx, displayQuery(p.pb.Query))
		if err != nil {
			return err
		}
		for _, c := range cases {
			if c.Account == nil || c.Account.Fields["Name"] != dp.account {
				continue
			}
			ts := fmt.Sprintf("%d.%06d", now.Unix(), p.next) // one press a microsecond, as in Slack
			ans, err := p.h.Press(ctx, bot.Press{Action: dp.action, CaseID: c.ID, Playbook: p.pb.Name,
				UserID: dp.user, UserName: dp.name, Channel: dp.channel, ActionTS: ts,
				Key: "slack-press/" + dp.user + "/" + ts})
			if err != nil {
				return fmt.Errorf("%s's press: %w", dp.name, err)
			}
			if err := t.pressed(ctx, now, dp, c, ans); err != nil {
				return err
			}
		}
	}
	return nil
}

// pressed prints a press and casebot's answer.
func (t *timeline) pressed(ctx context.Context, now time.Time, dp demoPress, c bot.Case, ans bot.Answer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.heading(fmt.Sprintf("── %s · presses in Slack", now.UTC().Format("Mon 2 Jan 15:04 MST")))
	fmt.Fprintf(t.out, "   ☞ @%s (%s) pressed %s on case %s\n", dp.name, dp.user, buttonNames[dp.action], caseLabel(c))
	where := dp.channel
	if ans.Ephemeral {
		where += ", to @" + dp.name + " only"
	}
	_, err := t.printer.Post(ctx, bot.Message{Channel: where, Text: ans.Text})
	return err
}

// buttonNames are the buttons as Slack labels them.
var buttonNames = map[bot.Action]string{
	bot.ActionHold:            "Hold",
	bot.ActionRelease:         "Release",
	bot.ActionApproveDeletion: "Approve data deletion",
	bot.ActionConfirm:         "Confirm",
}
