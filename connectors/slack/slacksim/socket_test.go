package slacksim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"

	"casebot/connectors/slack/slacksim"
)

const appToken = "xapp-1-sim"

// wire is a Socket Mode message as the server sends it.
type wire struct {
	Type         string          `json:"type"`
	EnvelopeID   string          `json:"envelope_id"`
	Payload      json.RawMessage `json:"payload"`
	RetryAttempt int             `json:"retry_attempt"`
	RetryReason  string          `json:"retry_reason"`
	Accepts      bool            `json:"accepts_response_payload"`
	NumConns     int             `json:"num_connections"`
}

// dial opens a Socket Mode connection the way slack-go does and reads its hello.
func dial(t *testing.T, s *slacksim.Server) *websocket.Conn {
	t.Helper()
	_, url, err := slack.New(appToken, slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken(appToken)).StartSocketModeContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "ws://127.0.0.1:") {
		t.Errorf("url %s, want a websocket on the server's own address", url)
	}
	conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), url, http.Header{"Origin": {"https://api.slack.com"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if hello := read(t, conn); hello.Type != "hello" {
		t.Fatalf("first message %+v, want hello", hello)
	}
	// A URL serves one connection.
	if _, resp, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("second dial of %s: %v, want 401", url, err)
	}
	return conn
}

func read(t *testing.T, conn *websocket.Conn) wire {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a safety net, not a wait
	var w wire
	if err := conn.ReadJSON(&w); err != nil {
		t.Fatal(err)
	}
	return w
}

func ack(t *testing.T, conn *websocket.Conn, id string) {
	t.Helper()
	if err := conn.WriteJSON(map[string]string{"envelope_id": id}); err != nil {
		t.Fatal(err)
	}
}

// withButton posts a message with a hold button to #legal and returns its ts.
func withButton(t *testing.T, api *slack.Client) string {
	t.Helper()
	_, ts, err := api.PostMessageContext(t.Context(), "#legal", slack.MsgOptionText("root", false), slack.MsgOptionBlocks(
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "case", false, false), nil,
			slack.NewAccessory(slack.NewButtonBlockElement("release", "r1", slack.NewTextBlockObject(slack.PlainTextType, "Release", false, false)))),
		slack.NewActionBlock("acts", slack.NewButtonBlockElement("hold", `{"case":"500A"}`, slack.NewTextBlockObject(slack.PlainTextType, "Hold", false, false)))))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestSocketModePress(t *testing.T) {
	s, api := start(t, slacksim.Options{AppToken: appToken, AckTimeout: time.Millisecond})
	legal := s.AddChannel("legal", true)
	ts := withButton(t, api)
	conn := dial(t, s)

	id, err := s.Press("alice", "#legal", ts, "hold", `{"case":"500A"}`)
	if err != nil {
		t.Fatal(err)
	}
	// Not acknowledged: delivered again, up to three more times.
	for attempt := range 4 {
		w := read(t, conn)
		if w.EnvelopeID != id || w.Type != "interactive" || w.RetryAttempt != attempt || (attempt > 0) != (w.RetryReason == "timeout") {
			t.Errorf("delivery %d: %+v", attempt, w)
		}
		if attempt == 0 {
			var cb slack.InteractionCallback
			if err := json.Unmarshal(w.Payload, &cb); err != nil {
				t.Fatal(err)
			}
			a := cb.ActionCallback.BlockActions
			if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != s.UserID("alice") || cb.User.Name != "alice" ||
				cb.Channel.ID != legal || cb.Container.MessageTs != ts || len(a) != 1 || a[0].ActionID != "hold" ||
				a[0].Value != `{"case":"500A"}` || a[0].BlockID != "acts" || a[0].ActionTs == "" || a[0].Text.Text != "Hold" {
				t.Errorf("payload %s", w.Payload)
			}
		}
	}
	ack(t, conn, id)
	<-s.Acked(id)
	if envs := s.Envelopes(); len(envs) != 1 || envs[0].Deliveries != 4 || !envs[0].Acked {
		t.Errorf("envelopes %+v, want one delivered four times and acknowledged", envs)
	}

	// A button in a section's accessory; Slack sends only presses of buttons that exist.
	if _, err := s.Press("bob", legal, ts, "release", "r1"); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct{ ts, action, value string }{{ts, "purge", "x"}, {ts, "hold", "other"}, {"1.000000", "hold", "x"}} {
		if _, err := s.Press("bob", legal, tc.ts, tc.action, tc.value); err == nil {
			t.Errorf("press of %+v: no error", tc)
		}
	}
}

func TestSocketModeRedeliverAndDrop(t *testing.T) {
	s, api := start(t, slacksim.Options{AppToken: appToken})
	s.AddChannel("legal", true)
	ts := withButton(t, api)
	conn := dial(t, s)

	id, err := s.Slash("bob", "legal", "/casebot why 00001026 purge")
	if err != nil {
		t.Fatal(err)
	}
	w := read(t, conn)
	var cmd slack.SlashCommand
	if err := json.Unmarshal(w.Payload, &cmd); err != nil {
		t.Fatal(err)
	}
	if w.Type != "slash_commands" || !w.Accepts || cmd.Command != "/casebot" || cmd.Text != "why 00001026 purge" ||
		cmd.UserName != "bob" || cmd.UserID != s.UserID("bob") || cmd.ChannelName != "legal" || cmd.ResponseURL == "" {
		t.Errorf("slash envelope %+v, command %+v", w, cmd)
	}
	ack(t, conn, id)
	<-s.Acked(id)

	// An acknowledgement Slack missed: the same envelope again.
	if err := s.Redeliver(id); err != nil {
		t.Fatal(err)
	}
	if again := read(t, conn); again.EnvelopeID != id || again.RetryAttempt != 1 {
		t.Errorf("redelivered %+v", again)
	}
	ack(t, conn, id)
	<-s.Acked(id)

	s.Drop()
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Error("the dropped connection still reads")
	}
	// Made while no connection is open, the envelope waits for the next one.
	pending, err := s.Press("alice", "legal", ts, "hold", `{"case":"500A"}`)
	if err != nil {
		t.Fatal(err)
	}
	conn = dial(t, s)
	if w := read(t, conn); w.EnvelopeID != pending || w.RetryAttempt != 0 {
		t.Errorf("after reconnecting: %+v, want the pending press", w)
	}
	if _, err := s.Slash("bob", "legal", "casebot why"); err == nil {
		t.Error("a slash command without its slash: no error")
	}
	if err := s.Redeliver("env-9999"); err == nil {
		t.Error("redelivery of an unknown envelope: no error")
	}
	if n := s.Stats().Calls["apps.connections.open"]; n != 2 {
		t.Errorf("%d apps.connections.open calls, want 2", n)
	}
}

func TestTokenTypes(t *testing.T) {
	s, _ := start(t, slacksim.Options{Token: "xoxb-right", AppToken: appToken})
	ctx := t.Context()
	wantRefusals(t, []refusal{
		{"connections with a bot token", func() error {
			_, _, err := slack.New("xoxb-right", slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken("xoxb-right")).StartSocketModeContext(ctx)
			return err
		}, "not_allowed_token_type"},
		{"connections with another app token", func() error {
			_, _, err := slack.New("xoxb-right", slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken("xapp-wrong")).StartSocketModeContext(ctx)
			return err
		}, "invalid_auth"},
		{"a post with the app token", func() error {
			_, _, err := slack.New(appToken, slack.OptionAPIURL(s.URL())).PostMessageContext(ctx, "#legal", slack.MsgOptionText("x", false))
			return err
		}, "not_allowed_token_type"},
	})
}
