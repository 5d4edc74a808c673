package test

import (
	"os"
	"strings"
	"testing"
	"time"

	"casebot/config"
	"casebot/connectors/slack/slacksim"

	"go.yaml.in/yaml/v3"
)

// TestDigest runs casebot against a seeded sandbox on a fixed clock, then prints the channels'
// digests (compared with a golden file) and posts them to slacksim: one message a channel,
// carrying its key, and a second run the same day posts nothing.
func TestDigest(t *testing.T) {
	start := time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC) // Mon 2 Nov 2026 08:00 in New York
	dir := t.TempDir()
	sb, cfg, _ := sandboxConfig(t, dir, func() time.Time { return start })
	// Wed 25 Nov 08:00 in Berlin, the example's readers' zone: much of the seeded cases'
	// timeline comes due on the Friday after.
	at := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	for _, cycle := range []time.Time{start.Add(time.Minute), start.Add(4*24*time.Hour + 2*time.Hour), at.Add(-time.Hour)} {
		out, _, _ := run(t, "once", "-config", cfg, "-at", cycle.Format(time.RFC3339))
		if !strings.Contains(out, "effect(s) done") {
			t.Fatalf("casebot once at %v: %s", cycle, out)
		}
	}

	sb.ResetRequests()
	out := casebot(t, "digest", "-config", cfg, "-at", at.Format(time.RFC3339))
	golden(t, "testdata/digest.golden", normalizer(sb, dir)(out))
	for _, r := range sb.Requests() {
		if r.APICall && r.Method != "GET" {
			t.Errorf("digest sent %s %s: without -post it only reads", r.Method, r.Path)
		}
	}

	slack := slacksim.New(slacksim.Options{Token: "xoxb-digest", Now: func() time.Time { return at }})
	t.Cleanup(slack.Close)
	example, err := config.Example(".")
	if err != nil {
		t.Fatal(err)
	}
	channels := map[string]string{} // names by id
	for _, r := range example.Roles {
		if r.Slack != "" {
			channels[slack.AddChannel(r.Slack, true)] = r.Slack
		}
	}
	// The same config posting to slacksim instead of printing, its digest settings kept.
	posting := rewriteConfig(t, cfg, "slack", func(cfg map[string]any) {
		s := cfg["slack"].(map[string]any)
		delete(s, "print")
		s["token"], s["api_url"] = "xoxb-digest", slack.URL()
	})

	out = casebot(t, "digest", "-config", posting, "-at", at.Format(time.RFC3339), "-post")
	all := slack.All()
	if len(all) == 0 {
		t.Fatalf("digest -post posted nothing:\n%s", out)
	}
	seen := map[string]bool{}
	for _, m := range all {
		channel := channels[m.Channel]
		if want := "digest/" + channel + "/2026-11-25"; m.Key != want || seen[channel] {
			t.Errorf("a message in %s with key %q, want one with key %q", channel, m.Key, want)
		}
		seen[channel] = true
		if !strings.HasPrefix(m.Text, "*Digest for "+channel+"*") || !strings.Contains(out, channel+": digest posted") {
			t.Errorf("the digest posted to %s:\n%s\ncasebot said:\n%s", channel, m.Text, out)
		}
	}

	// Every channel of the example's roles has a playbook posting to it.
	if len(seen) != len(channels) {
		t.Errorf("digests posted to %d of the %d channels:\n%s", len(seen), len(channels), out)
	}

	out = casebot(t, "digest", "-config", posting, "-at", at.Format(time.RFC3339), "-post")
	if again := slack.All(); len(again) != len(all) {
		t.Errorf("a second digest -post the same day posted %d more message(s):\n%s", len(again)-len(all), out)
	}
	if n := strings.Count(out, "today's digest was posted already"); n != len(all) {
		t.Errorf("the second run found %d of the %d digests posted:\n%s", n, len(all), out)
	}
}

// rewriteConfig writes a copy of the config at path, named with suffix, as edit changes it,
// and returns the copy's path.
func rewriteConfig(t *testing.T, path, suffix string, edit func(cfg map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := strings.TrimSuffix(path, ".yaml") + "-" + suffix + ".yaml"
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
