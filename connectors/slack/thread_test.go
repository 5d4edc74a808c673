package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"casebot/bot"
	"casebot/connectors/slack/slacksim"
)

// postRoot posts cl as the root of its case's thread in #legal.
func postRoot(t *testing.T, c *Client, cl bot.Checklist) string {
	t.Helper()
	ts, err := c.PostRoot(t.Context(), "#legal", cl)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestThread(t *testing.T) {
	s, c := sim(t)
	ctx := t.Context()
	cl := checklist()

	root := postRoot(t, c, cl)
	reply, err := c.Reply(ctx, root, bot.Message{Channel: "#legal", Text: "final notice sent", Key: "termination-sop/final-notice/2/500A"})
	if err != nil {
		t.Fatal(err)
	}
	cl.Items[1].State = bot.ItemDone
	if err := c.Update(ctx, "#legal", root, cl); err != nil {
		t.Fatal(err)
	}

	msgs := s.Messages("#legal")
	if len(msgs) != 2 {
		t.Fatalf("stored %+v, want the root and its reply", msgs)
	}
	r, rep := msgs[0], msgs[1]
	if r.TS != root || r.EventType != ThreadEventType || r.Edits != 1 || r.ThreadTS != "" {
		t.Errorf("root %+v, want %s with casebot_thread metadata, edited once", r, root)
	}
	_, blocks := render(cl)
	if want, _ := json.Marshal(blocks); r.Blocks != string(want) {
		t.Errorf("root blocks after the update:\n%s\nwant\n%s", r.Blocks, want)
	}
	if r.Text != "Case 00001026 · Acme Corp: termination-sop checklist" {
		t.Errorf("root text %q", r.Text)
	}
	if rep.TS != reply || rep.ThreadTS != root || rep.Key != "termination-sop/final-notice/2/500A" || rep.EventType != MetadataEventType {
		t.Errorf("reply %+v, want %s under %s with its key", rep, reply, root)
	}

	if ts, err := c.FindThread(ctx, "#legal", cl.CaseID, epoch); ts != root || err != nil {
		t.Errorf("FindThread = %q, %v; want %s", ts, err, root)
	}
	if ts, err := c.FindReply(ctx, "#legal", root, "termination-sop/final-notice/2/500A"); ts != reply || err != nil {
		t.Errorf("FindReply = %q, %v; want %s", ts, err, reply)
	}
	// Find reads only the channel's history, where replies are not listed.
	if ts, err := c.Find(ctx, "#legal", "termination-sop/final-notice/2/500A", epoch); ts != "" || err != nil {
		t.Errorf("Find of a reply = %q, %v; want nothing", ts, err)
	}
	for _, tc := range []struct{ caseID, key string }{{"500A000000000002AAA", ""}, {"", "termination-sop/other/1/500A"}} {
		var ts string
		if tc.key == "" {
			ts, err = c.FindThread(ctx, "#legal", tc.caseID, time.Time{})
		} else {
			ts, err = c.FindReply(ctx, "#legal", root, tc.key)
		}
		if ts != "" || err != nil {
			t.Errorf("looking for %+v found %q, %v; want nothing", tc, ts, err)
		}
	}
}

func TestFindThreadPages(t *testing.T) {
	s, c := sim(t)
	ctx := t.Context()
	cl := checklist()
	old := postRoot(t, c, cl)
	other := cl
	other.CaseID = "500A000000000002AAA"
	postRoot(t, c, other)
	newer := postRoot(t, c, cl) // after the old one's edit window closed
	var (
		last string
		err  error
	)
	for i := range 450 { // the roots are on the third page
		if last, err = c.Reply(ctx, newer, bot.Message{Channel: "#legal", Text: "r", Key: fmt.Sprint("reply-", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Post(ctx, bot.Message{Channel: "#legal", Text: "m", Key: fmt.Sprint("loose-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Stats().Calls
	if ts, err := c.FindThread(ctx, "#legal", cl.CaseID, time.Time{}); ts != newer || err != nil {
		t.Errorf("FindThread = %q, %v; want the newer root %s, not %s", ts, err, newer, old)
	}
	if ts, err := c.FindReply(ctx, "#legal", newer, "reply-449"); ts != last || err != nil {
		t.Errorf("FindReply = %q, %v; want %s", ts, err, last)
	}
	after := s.Stats().Calls
	if n := after["conversations.history"] - before["conversations.history"]; n != 3 {
		t.Errorf("FindThread made %d history calls, want 3 pages of 200", n)
	}
	if n := after["conversations.replies"] - before["conversations.replies"]; n != 3 {
		t.Errorf("FindReply made %d replies calls, want 3 pages of 200", n)
	}
}

func TestUpdateRootGone(t *testing.T) {
	s, c := sim(t)
	ctx := t.Context()
	api := slack.New(token, slack.OptionAPIURL(s.URL()))
	legal := s.AddChannel("legal", true)
	cl := checklist()
	post := func() string { return postRoot(t, c, cl) }

	closed := post()
	if err := s.CloseEditWindow("#legal", closed); err != nil {
		t.Fatal(err)
	}
	deleted := post()
	if _, _, err := api.DeleteMessageContext(ctx, legal, deleted); err != nil {
		t.Fatal(err)
	}
	tombstone := post() // deleted with replies: Slack keeps a tombstone
	if _, err := c.Reply(ctx, tombstone, bot.Message{Channel: "#legal", Text: "r", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.DeleteMessageContext(ctx, legal, tombstone); err != nil {
		t.Fatal(err)
	}

	for ts, code := range map[string]string{closed: "edit_window_closed", deleted: "message_not_found", tombstone: "cant_update_message"} {
		err := c.Update(ctx, "#legal", ts, cl)
		var e *bot.Error
		if !errors.Is(err, bot.ErrRootGone) || !errors.As(err, &e) || e.Code != code || bot.IsRetryable(err) {
			t.Errorf("update of %s: error %v, want ErrRootGone with %s, not retryable", ts, err, code)
		}
	}
	// Only the root whose edit window closed is still a root; the engine posts a new one.
	if ts, err := c.FindThread(ctx, "#legal", cl.CaseID, epoch); ts != closed || err != nil {
		t.Errorf("FindThread = %q, %v; want %s, the only root left", ts, err, closed)
	}

	s.AddChannel("legal", false) // the bot was removed from the channel: not a reason for a new root
	err := c.Update(ctx, "#legal", closed, cl)
	if errors.Is(err, bot.ErrRootGone) || err == nil {
		t.Errorf("update in a channel the bot left: error %v, want not_in_channel and not ErrRootGone", err)
	}
}

func TestPostRootLostAnswer(t *testing.T) {
	s, c := sim(t)
	cl := checklist()
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.LoseConnection, Next: 1})
	if _, err := c.PostRoot(t.Context(), "#legal", cl); !bot.IsRetryable(err) {
		t.Fatalf("post whose answer was lost: error %v, want a retryable one", err)
	}
	ts, err := c.FindThread(t.Context(), "#legal", cl.CaseID, epoch)
	if msgs := s.Messages("#legal"); err != nil || len(msgs) != 1 || ts != msgs[0].TS {
		t.Errorf("FindThread = %q, %v; want the root posted, among %+v", ts, err, msgs)
	}
}

func TestReplyEscaped(t *testing.T) {
	s, c := sim(t)
	root := postRoot(t, c, hostileChecklist("<!channel>"))
	for i, v := range hostile {
		// A reply's text is mrkdwn whose untrusted values the template escaped; Slack gets it
		// as it is, never asked to parse it.
		text := "*Held* by " + bot.EscapeMrkdwn(v)
		if _, err := c.Reply(t.Context(), root, bot.Message{Channel: "#legal", Text: text, Key: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := s.Messages("#legal")
	for i, m := range msgs {
		if i == 0 {
			for _, s := range append(shownTexts(t, []byte(m.Blocks)), m.Text) {
				if !safe(s) {
					t.Errorf("root shows %q", s)
				}
			}
			continue
		}
		if !safe(m.Text) || m.Text != "*Held* by "+bot.EscapeMrkdwn(hostile[i-1]) {
			t.Errorf("reply %d: text %q", i, m.Text)
		}
	}
}
