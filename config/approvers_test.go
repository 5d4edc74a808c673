package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casebot/bot"
)

const withApprovers = minimal + `slack:
  token: xoxb-1
  app_token: xapp-1-A1-2
  approvers:
    "*":
      hold: [U0RVP00001, W0CSD00001]
    termination-sop:
      release: [U0RVP00001]
      approve_deletion: [U0LEGAL001]
    mimecast-msp-cancellation:
      confirm/pending-cancellation: [U0MSP00001]
      confirm: [U0OPS00001]
`

func TestApproversAllow(t *testing.T) {
	c, err := Parse("c.yaml", []byte(withApprovers), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Slack.AppToken.Value(); got != "xapp-1-A1-2" {
		t.Errorf("app token %q", got)
	}
	purge := bot.Button{Action: bot.ActionApproveDeletion, Step: "purge-handoff"}
	terms := bot.Button{Action: bot.ActionConfirm, Step: "pending-cancellation"}
	other := bot.Button{Action: bot.ActionConfirm, Step: "export-complete"}
	for _, tc := range []struct {
		user, playbook string
		b              bot.Button
		want           bool
	}{
		{"U0RVP00001", "termination-sop", bot.Button{Action: bot.ActionHold}, true}, // under "*"
		{"W0CSD00001", "customer-removal", bot.Button{Action: bot.ActionHold}, true},
		{"W0CSD00001", "termination-sop", bot.Button{Action: bot.ActionRelease}, false},
		{"U0RVP00001", "termination-sop", bot.Button{Action: bot.ActionRelease}, true},
		{"U0RVP00001", "customer-removal", bot.Button{Action: bot.ActionRelease}, false}, // another playbook's
		{"U0LEGAL001", "termination-sop", purge, true},
		{"U0RVP00001", "termination-sop", purge, false},
		// Confirming is no approval of a deletion, and the reverse.
		{"U0OPS00001", "termination-sop", purge, false},
		{"U0LEGAL001", "mimecast-msp-cancellation", terms, false},
		{"U0MSP00001", "mimecast-msp-cancellation", terms, true},
		{"U0MSP00001", "mimecast-msp-cancellation", other, false}, // only its own step
		{"U0OPS00001", "mimecast-msp-cancellation", other, true},  // every step
		{"", "termination-sop", bot.Button{Action: bot.ActionHold}, false},
	} {
		if got := c.Slack.Approvers.Allow(tc.user, tc.playbook, tc.b); got != tc.want {
			t.Errorf("Allow(%s, %s, %v) = %v, want %v", tc.user, tc.playbook, tc.b, got, tc.want)
		}
	}
}

func TestApproversErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{
			name: "actions and users",
			yaml: minimal + "slack:\n  token: xoxb-1\n  approvers:\n    termination-sop:\n      holds: [U0RVP00001]\n      confirm/: [U0RVP00001]\n      release: [rvp@example.com, U0RVP00001]\n",
			want: `c.yaml:10:7: slack.approvers.termination-sop.holds: unknown action "holds"; want hold, release, approve_deletion, confirm or confirm/STEP
c.yaml:11:7: slack.approvers.termination-sop.confirm/: want confirm/ and a step id, such as confirm/legal-confirmation
c.yaml:12:17: slack.approvers.termination-sop.release[0]: want a Slack user id such as U012AB3CD (a profile's "Copy member ID"), not "rvp@example.com"`,
		},
		{
			name: "app token without a bot token",
			yaml: minimal + "slack: {app_token: xapp-1}\n",
			want: `c.yaml:6:20: slack.app_token: needs slack.token: casebot answers presses and commands as its bot`,
		},
		{
			name: "bot token as the app token",
			yaml: minimal + "slack: {token: xoxb-1, app_token: xoxb-2}\n",
			want: `c.yaml:6:35: slack.app_token: want an app-level token, which starts with xapp- (the app's Basic Information page)`,
		},
		{
			name: "approvers as a list",
			yaml: minimal + "slack:\n  approvers: [U0RVP00001]\n",
			want: `c.yaml:7:3: slack.approvers: want a mapping, not a list`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml), "")
			if err == nil || err.Error() != tc.want {
				t.Errorf("got\n%v\nwant\n%s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "xoxb-2") {
				t.Error("the error shows the token")
			}
		})
	}
}

func TestAppTokenFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("xapp-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse("c.yaml", []byte(minimal+"slack: {token: xoxb-1, app_token_file: app}\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Slack.AppToken.Value(); got != "xapp-from-file" {
		t.Errorf("app token %q, want the file's", got)
	}
	if s := fmt.Sprintf("%+v", c.Slack); strings.Contains(s, "xapp-from-file") {
		t.Errorf("the config shows the app token: %s", s)
	}
}

// The approvers name playbooks and buttons that the playbooks loaded have, each error at its
// place in the file.
func TestCheckApprovers(t *testing.T) {
	buttons := map[string][]bot.Button{
		"termination-sop": {{Action: bot.ActionHold}, {Action: bot.ActionRelease},
			{Action: bot.ActionApproveDeletion, Step: "purge-handoff"}},
		"mimecast-msp-cancellation": {{Action: bot.ActionHold}, {Action: bot.ActionRelease},
			{Action: bot.ActionConfirm, Step: "pending-cancellation"}},
		"customer-removal": nil,
	}
	c, err := Parse("c.yaml", []byte(withApprovers), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckApprovers(buttons); err != nil {
		t.Errorf("CheckApprovers: %v", err)
	}

	c, err = Parse("c.yaml", []byte(minimal+`slack:
  approvers:
    "*":
      confirm/uninstall-confirmed: [U0RVP00001]
    termination-sop:
      confirm: [U0RVP00001]
      confirm/purge-handoff: [U0RVP00001]
      approve_deletion: [U0RVP00001]
    customer-removal:
      hold: [U0RVP00001]
    termination:
      hold: [U0RVP00001]
`), "")
	if err != nil {
		t.Fatal(err)
	}
	want := `c.yaml:9:7: slack.approvers.*.confirm/uninstall-confirmed: no case of any playbook has this button; the keys that apply: ` +
		`hold, release, confirm, confirm/pending-cancellation, approve_deletion
c.yaml:11:7: slack.approvers.termination-sop.confirm: no case of playbook termination-sop has this button; the keys that apply: hold, release, approve_deletion
c.yaml:12:7: slack.approvers.termination-sop.confirm/purge-handoff: no case of playbook termination-sop has this button; the keys that apply: hold, release, approve_deletion
c.yaml:15:7: slack.approvers.customer-removal.hold: no case of playbook customer-removal has this button; the keys that apply: none
c.yaml:16:5: slack.approvers.termination: no playbook "termination"; the playbooks are customer-removal, mimecast-msp-cancellation, termination-sop`
	if err := c.CheckApprovers(buttons); err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
