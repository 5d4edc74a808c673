package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/config"
	"casebot/connectors/slack"
	"casebot/connectors/slack/slacksim"
)

// TestSlackPress runs `casebot run` against the sandbox and slacksim. A stranger's press of
// Hold on a case's checklist, delivered over Socket Mode, is refused to them alone; the RVP's
// sets the case's hold with a comment, once although Slack delivers it twice, and the engine
// takes it in at once rather than at its next tick, an hour away.
func TestSlackPress(t *testing.T) {
	dir := t.TempDir()
	// Seeded a month ahead, the cases have nothing due now: the daemon's first cycle posts
	// nothing, and is over at once.
	sb, cfg, _ := sandboxConfig(t, dir, func() time.Time { return time.Now().Add(30 * 24 * time.Hour) })
	sim := slacksim.New(slacksim.Options{Token: "xoxb-press", AppToken: "xapp-1-press"})
	t.Cleanup(sim.Close)
	example, err := config.Example(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range example.Roles {
		if r.Slack != "" {
			sim.AddChannel(r.Slack, true)
		}
	}
	rvp := sim.UserID("rachel")
	// Presses come over slacksim's Socket Mode; the schedule's next tick is an hour away.
	cfg = rewriteConfig(t, cfg, "press", func(c map[string]any) {
		s := c["slack"].(map[string]any)
		delete(s, "print")
		s["token"], s["app_token"], s["api_url"] = "xoxb-press", "xapp-1-press", sim.URL()
		s["approvers"] = map[string]any{"*": map[string]any{"hold": []string{rvp}}}
		c["schedule"] = "@every 1h"
	})
	acme := caseID(t, sb, "00001001")

	// The case's root message with its Hold button, as the engine posts it.
	client := slack.NewClient(slack.Options{Token: "xoxb-press", APIURL: sim.URL()})
	root, err := client.PostRoot(t.Context(), "#account-team", bot.Checklist{CaseID: acme, CaseNumber: "00001001",
		Playbook: "termination-sop", Buttons: []bot.Button{{Action: bot.ActionHold}}})
	if err != nil {
		t.Fatal(err)
	}
	// The button's value as connectors/slack renders it: slacksim presses no other.
	value, err := json.Marshal(map[string]string{"action": "hold", "case": acme, "playbook": "termination-sop"})
	if err != nil {
		t.Fatal(err)
	}

	d := startDaemon(t, cfg)
	for seen := map[string]bool{}; len(seen) < 2; {
		seen[d.wait(`msg="(slack socket mode connected|cycle done)"`)[1]] = true
	}

	if _, err := sim.Press("mallory", "#account-team", root, "hold", string(value)); err != nil {
		t.Fatal(err)
	}
	ephemeral(t, sim, sim.UserID("mallory"), "You are not an approver of holds on termination-sop cases: nothing changed.")

	env, err := sim.Press("rachel", "#account-team", root, "hold", string(value))
	if err != nil {
		t.Fatal(err)
	}
	d.wait(`msg="slack press applied" case=` + acme + ` action=hold`)
	d.wait(`msg="cycle done"`) // kicked: the schedule's next tick is an hour away
	select {
	case <-sim.Acked(env):
	case <-time.After(20 * time.Second):
		t.Fatal("the press was not acknowledged")
	}
	if err := sim.Redeliver(env); err != nil {
		t.Fatal(err)
	}
	ephemeral(t, sim, rvp, "Your press was applied already: nothing more changed.")
	d.stop()

	c := sandboxClient(t, sb)
	if recs := query(t, c, "SELECT Termination_Hold__c FROM Case WHERE Id = '"+acme+"'"); recs[0]["Termination_Hold__c"] != true {
		t.Errorf("the case's hold is %v after the press", recs[0]["Termination_Hold__c"])
	}
	var held []string
	for _, rec := range query(t, c, "SELECT CommentBody FROM CaseComment WHERE ParentId = '"+acme+"'") {
		if body := rec["CommentBody"].(string); strings.HasPrefix(body, "Held in Slack by @rachel ("+rvp+") at ") {
			held = append(held, body)
		}
	}
	if len(held) != 1 {
		t.Errorf("%d comments of the hold, want 1: %q", len(held), held)
	}
	replies := slices.DeleteFunc(sim.Messages("#account-team"), func(m slacksim.Message) bool { return m.ThreadTS != root })
	if len(replies) != 1 || !strings.HasPrefix(replies[0].Text, "Held by <@"+rvp+">: nothing on case 00001001") {
		t.Errorf("the thread's replies: %+v", replies)
	}
	if out := casebot(t, "plan", "-config", cfg, "-case", "00001001"); !strings.Contains(out, "the hold (Case.Termination_Hold__c set since") {
		t.Errorf("the plan does not show the hold:\n%s", out)
	}
}

// ephemeral waits for casebot to show user alone a message starting with text.
func ephemeral(t *testing.T, sim *slacksim.Server, user, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !slices.ContainsFunc(sim.Ephemerals(), func(e slacksim.Ephemeral) bool { return e.User == user && strings.HasPrefix(e.Text, text) }) {
		if time.Now().After(deadline) {
			t.Fatalf("casebot did not tell %s %q; it said %+v", user, text, sim.Ephemerals())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
