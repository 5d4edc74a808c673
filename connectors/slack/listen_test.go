package slack

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"casebot/bot"
	"casebot/connectors/slack/slacksim"
)

const appToken = "xapp-1-test"

// handler is a bot.ChatHandler that hands each call to the test and answers with what answer
// returns for it.
type handler struct {
	presses  chan bot.Press
	commands chan bot.Command
	answer   func(any) (bot.Answer, error)
}

func newHandler(answer func(any) (bot.Answer, error)) *handler {
	return &handler{presses: make(chan bot.Press, 10), commands: make(chan bot.Command, 10), answer: answer}
}

func (h *handler) Press(_ context.Context, p bot.Press) (bot.Answer, error) {
	h.presses <- p
	return h.answer(p)
}

func (h *handler) Command(_ context.Context, c bot.Command) (bot.Answer, error) {
	h.commands <- c
	return h.answer(c)
}

// receive returns the next value of ch, failing t after a while without one: a safety net
// for a test that would hang, not a wait for something to happen.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		var zero T
		t.Fatalf("nothing received in 10s")
		return zero
	}
}

// listening starts slacksim with Socket Mode and a listener of it with h; stop ends the
// listener and returns what its Run returned, once the presses in hand are answered.
func listening(t *testing.T, h bot.ChatHandler) (s *slacksim.Server, c *Client, stop func() error) {
	t.Helper()
	s = slacksim.New(slacksim.Options{Token: token, AppToken: appToken, Now: func() time.Time { return epoch }})
	t.Cleanup(s.Close)
	s.AddChannel("legal", true)
	c = client(s, &clock{now: epoch})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Listener(appToken, h).Run(ctx) }()
	return s, c, func() error {
		cancel()
		return receive(t, done)
	}
}

// valueOf returns the value of the button actionID of the message ts in #legal.
func valueOf(t *testing.T, s *slacksim.Server, ts, actionID string) string {
	t.Helper()
	for _, m := range s.Messages("#legal") {
		if m.TS != ts {
			continue
		}
		var blocks []struct {
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		}
		if err := json.Unmarshal([]byte(m.Blocks), &blocks); err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			for _, e := range b.Elements {
				if e.ActionID == actionID {
					return e.Value
				}
			}
		}
	}
	t.Fatalf("no button %s on %s", actionID, ts)
	return ""
}

// press presses a button of root and waits until the listener acknowledged it.
func press(t *testing.T, s *slacksim.Server, user, root, actionID string) string {
	t.Helper()
	id, err := s.Press(user, "#legal", root, actionID, valueOf(t, s, root, actionID))
	if err != nil {
		t.Fatal(err)
	}
	receive(t, s.Acked(id))
	return id
}

func TestListenPress(t *testing.T) {
	h := newHandler(func(v any) (bot.Answer, error) {
		p := v.(bot.Press)
		switch {
		case p.UserName == "mallory":
			return bot.Answer{Ephemeral: true, Text: "You may not approve data deletion on case " + bot.EscapeMrkdwn(p.CaseID) + "."}, nil
		case p.Action == bot.ActionRelease:
			return bot.Answer{}, errors.New("salesforce is down")
		}
		return bot.Answer{Text: "Held by " + p.UserName}, nil
	})
	s, c, stop := listening(t, h)
	cl := checklist()
	root := postRoot(t, c, cl)
	legal := s.AddChannel("legal", true)

	env := press(t, s, "alice", root, "hold")
	p := receive(t, h.presses)
	want := bot.Press{Action: bot.ActionHold, CaseID: cl.CaseID, Playbook: "termination-sop", UserID: "USR000001", UserName: "alice",
		Channel: legal, MessageTS: root, ActionTS: p.ActionTS, Key: "slack-press/USR000001/" + p.ActionTS}
	if p != want || p.ActionTS == "" {
		t.Errorf("press\n%+v, want\n%+v", p, want)
	}

	// Slack delivers the press again when it missed the acknowledgement: the same key.
	if err := s.Redeliver(env); err != nil {
		t.Fatal(err)
	}
	if again := receive(t, h.presses); again != p {
		t.Errorf("redelivered press %+v, want the same as %+v", again, p)
	}
	press(t, s, "alice", root, "hold")
	if next := receive(t, h.presses); next.Key == p.Key {
		t.Errorf("a second press has the key %s of the first", next.Key)
	}
	press(t, s, "mallory", root, "approve_deletion/purge-approval")
	if p := receive(t, h.presses); p.Action != bot.ActionApproveDeletion || p.Step != "purge-approval" {
		t.Errorf("press %+v, want approve_deletion of purge-approval", p)
	}
	press(t, s, "bob", root, "release")
	receive(t, h.presses)

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var replies []string
	for _, m := range s.Messages("#legal")[1:] {
		if m.ThreadTS != root {
			t.Errorf("answer %+v not in the thread %s", m, root)
		}
		replies = append(replies, m.Text)
	}
	if want := []string{"Held by alice", "Held by alice", "Held by alice"}; !slices.Equal(replies, want) {
		t.Errorf("answers in the thread %q, want %q", replies, want)
	}
	// Handled side by side, the two answers come in either order.
	eph := map[string]slacksim.Ephemeral{}
	for _, e := range s.Ephemerals() {
		eph[e.User] = e
	}
	if len(eph) != 2 {
		t.Fatalf("ephemerals %+v, want the refusal and the failure", eph)
	}
	if e := eph[s.UserID("mallory")]; e.Channel != legal || e.ThreadTS != "" || e.Text != "You may not approve data deletion on case 500A000000000001AAA." {
		t.Errorf("refusal %+v", e)
	}
	if e := eph[s.UserID("bob")]; !strings.Contains(e.Text, "could not record your press (release on case 500A000000000001AAA)") {
		t.Errorf("failure %+v", e)
	}
}

func TestListenForeignButton(t *testing.T) {
	h := newHandler(func(any) (bot.Answer, error) { return bot.Answer{}, nil })
	s, _, stop := listening(t, h)
	api := slack.New(token, slack.OptionAPIURL(s.URL()))
	_, ts, err := api.PostMessageContext(t.Context(), "#legal", slack.MsgOptionBlocks(slack.NewActionBlock("",
		slack.NewButtonBlockElement("hold", `{"action":"delete_everything","case":"500A"}`, plain("Hold")))))
	if err != nil {
		t.Fatal(err)
	}
	press(t, s, "alice", ts, "hold")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(h.presses) != 0 {
		t.Errorf("the handler got a press of a button casebot does not know")
	}
	if eph := s.Ephemerals(); len(eph) != 1 || eph[0].Text != "casebot does not know this button; nothing changed." {
		t.Errorf("ephemerals %+v", eph)
	}
}

func TestListenCommand(t *testing.T) {
	var root string
	h := newHandler(func(v any) (bot.Answer, error) {
		c := v.(bot.Command)
		if c.Name == "plan" {
			return bot.Answer{}, errors.New("no such case")
		}
		return bot.Answer{Text: "*purge-approval* waits: Data Deletion Approved is false", ThreadTS: root}, nil
	})
	s, cl, stop := listening(t, h)
	legal := s.AddChannel("legal", true)
	root = postRoot(t, cl, checklist())
	slash := func(line string) {
		t.Helper()
		id, err := s.Slash("bob", "#legal", line)
		if err != nil {
			t.Fatal(err)
		}
		receive(t, s.Acked(id))
	}

	slash("/casebot why 00001026 purge-approval")
	c := receive(t, h.commands)
	if c.Name != "why" || !slices.Equal(c.Args, []string{"00001026", "purge-approval"}) || c.UserID != s.UserID("bob") ||
		c.UserName != "bob" || c.Channel != legal || !strings.HasPrefix(c.ResponseURL, "https://hooks.slack.com/commands/") {
		t.Errorf("command %+v", c)
	}
	slash("/casebot plan <!channel>")
	receive(t, h.commands)
	slash("/casebot frobnicate 00001026")
	slash("/casebot why 00001026")
	slash("/other why 00001026 purge") // another command of the app: not casebot's
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(h.commands) != 0 {
		t.Errorf("the handler got %d malformed commands", len(h.commands))
	}

	msgs := s.Messages("#legal")
	if len(msgs) != 2 || msgs[1].ThreadTS != root || msgs[1].Text != "*purge-approval* waits: Data Deletion Approved is false" {
		t.Errorf("answers %+v, want the why in the thread of %s", msgs, root)
	}
	var eph []string
	for _, e := range s.Ephemerals() {
		eph = append(eph, e.Text)
	}
	// Handled side by side, the answers come in any order.
	want := []string{"casebot could not answer `/casebot plan &lt;!channel&gt;` now. Please try again in a minute.", usage, usage}
	slices.Sort(eph)
	slices.Sort(want)
	if !slices.Equal(eph, want) {
		t.Errorf("ephemerals\n%q, want\n%q", eph, want)
	}
}

func TestListenReconnects(t *testing.T) {
	h := newHandler(func(any) (bot.Answer, error) { return bot.Answer{}, nil })
	s, c, stop := listening(t, h)
	root := postRoot(t, c, checklist())
	press(t, s, "alice", root, "hold")
	receive(t, h.presses)

	s.Drop()
	// Sent while no connection is open, it waits for the listener to connect again.
	press(t, s, "alice", root, "release")
	if p := receive(t, h.presses); p.Action != bot.ActionRelease {
		t.Errorf("press after the drop %+v", p)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().Calls["apps.connections.open"]; n != 2 {
		t.Errorf("%d connections opened, want 2", n)
	}
}

func TestListenRefused(t *testing.T) {
	for _, tc := range []struct{ appToken, want string }{
		{"xapp-wrong", "open a Socket Mode connection (the app-level token needs connections:write): invalid_auth: the Slack token is not valid"},
		{token, "open a Socket Mode connection (the app-level token needs connections:write): not_allowed_token_type"},
	} {
		s := slacksim.New(slacksim.Options{Token: token, AppToken: appToken})
		c := NewClient(Options{Token: token, APIURL: s.URL()})
		err := c.Listener(tc.appToken, newHandler(nil)).Run(t.Context())
		if err == nil || err.Error() != tc.want || bot.IsRetryable(err) {
			t.Errorf("app token %q: error %v, want %q", tc.appToken, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), tc.appToken) {
			t.Errorf("error shows the token: %v", err)
		}
		s.Close()
	}
}
