package slack

import (
	"bytes"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"casebot/bot"
)

// manifest is the part of a Slack app manifest casebot's uses. Decoding is strict, so a
// section this does not know (event_subscriptions) fails the test.
type manifest struct {
	DisplayInformation struct {
		Name            string `yaml:"name"`
		Description     string `yaml:"description"`
		LongDescription string `yaml:"long_description"`
		BackgroundColor string `yaml:"background_color"`
	} `yaml:"display_information"`
	Features struct {
		BotUser struct {
			DisplayName  string `yaml:"display_name"`
			AlwaysOnline bool   `yaml:"always_online"`
		} `yaml:"bot_user"`
		SlashCommands []struct {
			Command      string `yaml:"command"`
			Description  string `yaml:"description"`
			UsageHint    string `yaml:"usage_hint"`
			ShouldEscape bool   `yaml:"should_escape"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Interactivity struct {
			IsEnabled bool `yaml:"is_enabled"`
		} `yaml:"interactivity"`
		OrgDeployEnabled     bool `yaml:"org_deploy_enabled"`
		SocketModeEnabled    bool `yaml:"socket_mode_enabled"`
		TokenRotationEnabled bool `yaml:"token_rotation_enabled"`
	} `yaml:"settings"`
}

func TestManifest(t *testing.T) {
	raw, err := os.ReadFile("../../config/slack-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var m manifest
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}

	got := slices.Clone(m.OAuthConfig.Scopes.Bot)
	sort.Strings(got)
	if want := botScopes(); !slices.Equal(got, want) {
		t.Errorf("the manifest asks for the scopes %v; casebot uses exactly %v", got, want)
	}
	if !m.Settings.SocketModeEnabled || !m.Settings.Interactivity.IsEnabled {
		t.Errorf("settings %+v: want Socket Mode and interactivity on", m.Settings)
	}
	cmds := m.Features.SlashCommands
	if len(cmds) != 1 || cmds[0].Command != commandName || !strings.Contains(cmds[0].UsageHint, "why CASE STEP") ||
		!strings.Contains(cmds[0].UsageHint, "plan CASE") || cmds[0].ShouldEscape {
		t.Errorf("slash commands %+v, want %s with why and plan", cmds, commandName)
	}
	if _, ok := scopes[commandName]; !ok {
		t.Errorf("the scopes say nothing of %s", commandName)
	}
	if n := len(m.DisplayInformation.LongDescription); n < 175 || n > 4000 {
		t.Errorf("long_description has %d characters; Slack takes 175 to 4000", n)
	}
}

// TestScopesCoverEveryCall performs everything the connector does against slacksim and checks
// that every Web API method called has its scopes declared, and that nothing declared is
// unused: adding a call without its scope fails here.
func TestScopesCoverEveryCall(t *testing.T) {
	h := newHandler(func(v any) (bot.Answer, error) {
		if _, ok := v.(bot.Press); ok {
			return bot.Answer{Ephemeral: true, Text: "refused"}, nil
		}
		return bot.Answer{Text: "the plan"}, nil
	})
	s, c, stop := listening(t, h)
	ctx := t.Context()
	if _, err := c.Post(ctx, bot.Message{Channel: "#legal", Text: "x", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	root := postRoot(t, c, checklist())
	if err := c.Update(ctx, "#legal", root, checklist()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reply(ctx, root, bot.Message{Channel: "#legal", Text: "r", Key: "r"}); err != nil {
		t.Fatal(err)
	}
	for _, find := range []func() (string, error){
		func() (string, error) { return c.Find(ctx, "#legal", "k", epoch) },
		func() (string, error) { return c.FindThread(ctx, "#legal", "500A000000000001AAA", epoch) },
		func() (string, error) { return c.FindReply(ctx, "#legal", root, "r") },
	} {
		if ts, err := find(); ts == "" || err != nil {
			t.Fatalf("found %q, %v", ts, err)
		}
	}
	press(t, s, "alice", root, "hold")
	id, err := s.Slash("alice", "#legal", "/casebot plan 00001026")
	if err != nil {
		t.Fatal(err)
	}
	receive(t, s.Acked(id))
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	calls := s.Stats().Calls
	for method := range calls {
		if _, ok := scopes[method]; !ok && method != "apps.connections.open" {
			t.Errorf("casebot calls %s, whose scopes it does not declare", method)
		}
	}
	for use := range scopes {
		if calls[use] == 0 && use != commandName {
			t.Errorf("casebot declares scopes for %s, which it never called", use)
		}
	}
	if calls["apps.connections.open"] == 0 || appTokenScope != "connections:write" {
		t.Errorf("Socket Mode was not opened with the app-level token (%s)", appTokenScope)
	}
}
