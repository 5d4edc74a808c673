package cli

import (
	"strings"
	"testing"

	"casebot/config"
	"casebot/rules"
	"casebot/rules/playbooks"
)

func TestRunnable(t *testing.T) {
	pbs, in, err := rules.LoadWithIntake(playbooks.FS, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := func() *config.Config {
		c, err := config.Example(".")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		change  func(c *config.Config)
		virtual bool
		want    []string // substrings of the error; none: runnable
	}{
		{"the example against the sandbox", func(*config.Config) {}, true, nil},
		{"no Slack and no print", func(c *config.Config) { c.Slack.Print = false }, false, []string{"slack.token, or slack.print"}},
		{"a Slack token", func(c *config.Config) { c.Slack.Print, c.Slack.Token = false, "xoxb-1" }, false, nil},
		{"a digest without Slack", func(c *config.Config) { c.Slack.Print = false }, false, []string{"slack.digest posts to Slack"}},
		{"no relay and no print", func(c *config.Config) { c.Mail.Print = false }, false, []string{"mail.smtp, or mail.print"}},
		{"mail intake", func(c *config.Config) { c.Mail.IMAP.Host = "imap.example.com" }, false, nil},
		{"mail intake without intake rules", func(c *config.Config) { c.Mail.IMAP.Host = "imap.example.com" }, false,
			[]string{"mail.imap", "no intake rules"}},
		{"a virtual clock against a real org", func(c *config.Config) { c.Salesforce.LoginURL = "https://login.salesforce.com" }, true,
			[]string{"-at and -clock move casebot's clock"}},
		{"a real org on the real clock", func(c *config.Config) { c.Salesforce.LoginURL = "https://login.salesforce.com" }, false, nil},
		{"everything wrong at once", func(c *config.Config) {
			c.Slack.Print, c.Mail.Print, c.Salesforce.LoginURL = false, false, "https://acme.my.salesforce.com"
		}, true, []string{"slack.token", "mail.smtp", "-at and -clock move"}},
	} {
		c := base()
		tc.change(c)
		rules := in
		if strings.HasSuffix(tc.name, "without intake rules") {
			rules = nil
		}
		err := runnable(c, pbs, rules, tc.virtual)
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want it to say %q", tc.name, err, w)
			}
		}
	}
}
