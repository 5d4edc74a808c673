package slacksim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"casebot/connectors/slack/slacksim"
)

var epoch = time.Unix(1700000000, 0)

// start returns a server whose clock stands still at epoch, so ts values are predictable and
// must still never collide, and a client of it.
func start(t *testing.T, opts slacksim.Options) (*slacksim.Server, *slack.Client) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return epoch }
	}
	s := slacksim.New(opts)
	t.Cleanup(s.Close)
	token := opts.Token
	if token == "" {
		token = "xoxb-any"
	}
	return s, slack.New(token, slack.OptionAPIURL(s.URL()))
}

func post(t *testing.T, api *slack.Client, channel, text, key string, more ...slack.MsgOption) string {
	t.Helper()
	opts := append([]slack.MsgOption{
		slack.MsgOptionText(text, false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "casebot_effect", EventPayload: map[string]any{"key": key}}),
	}, more...)
	_, ts, err := api.PostMessageContext(t.Context(), channel, opts...)
	if err != nil {
		t.Fatalf("post %q to %s: %v", text, channel, err)
	}
	return ts
}

func history(t *testing.T, api *slack.Client, p slack.GetConversationHistoryParameters) *slack.GetConversationHistoryResponse {
	t.Helper()
	h, err := api.GetConversationHistoryContext(t.Context(), &p)
	if err != nil {
		t.Fatalf("history %+v: %v", p, err)
	}
	return h
}

func TestMessages(t *testing.T) {
	s, api := start(t, slacksim.Options{Token: "xoxb-sim"})
	legal := s.AddChannel("#legal", true)
	finance := s.AddChannel("finance", true)
	if again := s.AddChannel("legal", true); again != legal {
		t.Errorf("AddChannel of an existing name gave %s, want %s", again, legal)
	}
	if _, err := api.AuthTestContext(t.Context()); err != nil {
		t.Fatalf("auth.test: %v", err)
	}

	ts1 := post(t, api, "#legal", "one", "k1")
	ts2 := post(t, api, "legal", "two", "k2")
	ts3 := post(t, api, legal, "three", "k3")
	reply := post(t, api, legal, "reply", "k4", slack.MsgOptionTS(ts1))
	post(t, api, finance, "elsewhere", "k5")
	if want := []string{"1700000000.000000", "1700000000.000001", "1700000000.000002", "1700000000.000003"}; !slices.Equal([]string{ts1, ts2, ts3, reply}, want) {
		t.Errorf("ts %v, want %v: unique and increasing while the clock stands still", []string{ts1, ts2, ts3, reply}, want)
	}
	if _, _, _, err := api.UpdateMessageContext(t.Context(), legal, ts2, slack.MsgOptionText("two, edited", false)); err != nil {
		t.Fatalf("update: %v", err)
	}

	want := []slacksim.Message{
		{Channel: legal, TS: ts1, Text: "one", EventType: "casebot_effect", Key: "k1"},
		{Channel: legal, TS: ts2, Text: "two, edited", EventType: "casebot_effect", Key: "k2", Edits: 1},
		{Channel: legal, TS: ts3, Text: "three", EventType: "casebot_effect", Key: "k3"},
		{Channel: legal, TS: reply, ThreadTS: ts1, Text: "reply", EventType: "casebot_effect", Key: "k4"},
	}
	for _, name := range []string{legal, "legal", "#legal"} {
		if got := s.Messages(name); !slices.Equal(got, want) {
			t.Errorf("Messages(%q) = %+v, want %+v", name, got, want)
		}
	}
	if got := s.All(); len(got) != 5 || got[4].Channel != finance {
		t.Errorf("All() = %+v, want the four in #legal and then the one in #finance", got)
	}

	h := history(t, api, slack.GetConversationHistoryParameters{ChannelID: legal, IncludeAllMetadata: true})
	var got []string
	for _, m := range h.Messages {
		got = append(got, m.Timestamp+" "+m.Text+" "+m.Metadata.EventType+" "+fmt.Sprint(m.Metadata.EventPayload["key"]))
	}
	wantHistory := []string{ // newest first, without the thread reply
		ts3 + " three casebot_effect k3",
		ts2 + " two, edited casebot_effect k2",
		ts1 + " one casebot_effect k1",
	}
	if !slices.Equal(got, wantHistory) || h.HasMore {
		t.Errorf("history = %q (has_more %v), want %q", got, h.HasMore, wantHistory)
	}
	h = history(t, api, slack.GetConversationHistoryParameters{ChannelID: legal})
	if len(h.Messages) != 3 || h.Messages[0].Metadata.EventType != "" {
		t.Errorf("history without include_all_metadata = %+v, want three messages without metadata", h.Messages)
	}

	if got := s.Stats().Calls; got["chat.postMessage"] != 5 || got["chat.update"] != 1 || got["conversations.history"] != 2 || got["auth.test"] != 1 {
		t.Errorf("calls %v", got)
	}
}

func TestHistoryPaging(t *testing.T) {
	s, api := start(t, slacksim.Options{})
	ch := s.AddChannel("legal", true)
	var tss []string
	for i := range 250 {
		tss = append(tss, post(t, api, ch, "m", fmt.Sprint(i)))
	}

	var got []string
	p := slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 100, Oldest: tss[10], Latest: tss[240]}
	for pages := 1; ; pages++ {
		h := history(t, api, p)
		for _, m := range h.Messages {
			got = append(got, m.Timestamp)
		}
		if h.ResponseMetaData.NextCursor == "" {
			if pages != 3 || h.HasMore {
				t.Errorf("%d pages, has_more %v on the last; want 3 pages", pages, h.HasMore)
			}
			break
		}
		p.Cursor = h.ResponseMetaData.NextCursor
	}
	want := slices.Clone(tss[11:240]) // oldest and latest are exclusive
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("paged through %d messages %v…, want the %d strictly between oldest and latest, newest first", len(got), got[:3], len(want))
	}

	p = slack.GetConversationHistoryParameters{ChannelID: ch, Oldest: tss[10], Latest: tss[12], Inclusive: true}
	if h := history(t, api, p); len(h.Messages) != 3 {
		t.Errorf("inclusive history gave %d messages, want 3", len(h.Messages))
	}
}

func TestConversationsList(t *testing.T) {
	s, api := start(t, slacksim.Options{})
	want := map[string]string{}
	for i := range 5 {
		name := fmt.Sprintf("team-%d", i)
		want[name] = s.AddChannel(name, i != 3)
	}
	got := map[string]string{}
	p := slack.GetConversationsParameters{Limit: 2, Types: []string{"public_channel", "private_channel"}}
	for calls := 1; ; calls++ {
		chs, next, err := api.GetConversationsContext(t.Context(), &p)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chs {
			got[ch.Name] = ch.ID
			if ch.IsMember != (ch.Name != "team-3") {
				t.Errorf("%s is_member %v", ch.Name, ch.IsMember)
			}
		}
		if next == "" {
			if calls != 3 {
				t.Errorf("%d pages of 2 for 5 channels, want 3", calls)
			}
			break
		}
		p.Cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
}

func TestRefusals(t *testing.T) {
	s, api := start(t, slacksim.Options{})
	legal := s.AddChannel("legal", true)
	s.AddChannel("outside", false)
	ctx := t.Context()
	wantRefusals(t, []refusal{
		{"post to an unknown channel", func() error {
			_, _, err := api.PostMessageContext(ctx, "#nowhere", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"post where the bot is not", func() error {
			_, _, err := api.PostMessageContext(ctx, "#outside", slack.MsgOptionText("x", false))
			return err
		}, "not_in_channel"},
		{"post nothing", func() error {
			_, _, err := api.PostMessageContext(ctx, legal)
			return err
		}, "no_text"},
		{"history by name", func() error {
			_, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "#legal"})
			return err
		}, "channel_not_found"},
		{"history where the bot is not", func() error {
			_, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: s.AddChannel("outside", false)})
			return err
		}, "not_in_channel"},
		{"history with a bad cursor", func() error {
			_, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: legal, Cursor: "bm9wZQ=="})
			return err
		}, "invalid_cursor"},
		{"update of an unknown message", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, legal, "1.000001", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"unknown method", func() error {
			_, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: legal})
			return err
		}, "unknown_method"},
	})
}

// refusal is a call that Slack refuses with the error want.
type refusal struct {
	name string
	call func() error
	want string
}

func wantRefusals(t *testing.T, rs []refusal) {
	t.Helper()
	for _, r := range rs {
		var api slack.SlackErrorResponse
		if err := r.call(); !errors.As(err, &api) || api.Err != r.want {
			t.Errorf("%s: error %v, want %s", r.name, err, r.want)
		}
	}
}

func TestAuth(t *testing.T) {
	s, _ := start(t, slacksim.Options{Token: "xoxb-right"})
	for token, want := range map[string]string{"xoxb-wrong": "invalid_auth", "": "not_authed"} {
		_, err := slack.New(token, slack.OptionAPIURL(s.URL())).AuthTestContext(t.Context())
		var api slack.SlackErrorResponse
		if !errors.As(err, &api) || api.Err != want {
			t.Errorf("token %q: error %v, want %s", token, err, want)
		}
	}

	// Clients other than slack-go send the token as a bearer token.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"auth.test", strings.NewReader(url.Values{}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer xoxb-right")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("auth.test with a bearer token answered %s", body)
	}
}

func TestRateLimit(t *testing.T) {
	s, api := start(t, slacksim.Options{})
	ch := s.AddChannel("legal", true)
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.RateLimit, Next: 2, RetryAfter: 2500 * time.Millisecond})
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.RateLimit, Next: 1})

	var errs []string
	for range 4 {
		_, _, err := api.PostMessageContext(t.Context(), ch, slack.MsgOptionText("x", false))
		var limited *slack.RateLimitedError
		var status slack.StatusCodeError
		switch {
		case err == nil:
			errs = append(errs, "ok")
		case errors.As(err, &limited):
			errs = append(errs, "retry after "+limited.RetryAfter.String())
		case errors.As(err, &status):
			errs = append(errs, fmt.Sprint(status.Code))
		default:
			t.Fatalf("post: %v", err)
		}
	}
	if want := []string{"retry after 3s", "retry after 3s", "429", "ok"}; !slices.Equal(errs, want) {
		t.Errorf("posts gave %v, want %v", errs, want)
	}
	if n := len(s.Messages(ch)); n != 1 {
		t.Errorf("%d messages stored, want only the one that was not limited", n)
	}
	if st := s.Stats(); st.Calls["chat.postMessage"] != 4 || st.RateLimited["chat.postMessage"] != 3 {
		t.Errorf("stats %+v, want 4 calls and 3 limited", st)
	}
}

func TestRandomFaultsFollowTheSeed(t *testing.T) {
	pattern := func(seed uint64) string {
		s, api := start(t, slacksim.Options{Seed: seed})
		s.Inject(slacksim.Fault{Kind: slacksim.RateLimit, Rate: 0.5}) // every method
		var b strings.Builder
		for range 64 {
			if _, err := api.AuthTestContext(t.Context()); err != nil {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		s.Heal()
		if _, err := api.AuthTestContext(t.Context()); err != nil {
			t.Errorf("after Heal: %v", err)
		}
		if limited := s.Stats().RateLimited["auth.test"]; limited != strings.Count(b.String(), "x") {
			t.Errorf("stats count %d limited, the client saw %d", limited, strings.Count(b.String(), "x"))
		}
		return b.String()
	}
	a, b := pattern(7), pattern(7)
	if a != b {
		t.Errorf("seed 7 gave %s and then %s", a, b)
	}
	if n := strings.Count(a, "x"); n < 16 || n > 48 {
		t.Errorf("rate 0.5 limited %d of 64 calls: %s", n, a)
	}
}

func TestLostAnswers(t *testing.T) {
	for _, tc := range []struct {
		kind  slacksim.Kind
		check func(error) bool
	}{
		{slacksim.Lose500, func(err error) bool {
			var status slack.StatusCodeError
			return errors.As(err, &status) && status.Code == 500
		}},
		{slacksim.LoseConnection, func(err error) bool {
			var u *url.Error
			return errors.As(err, &u)
		}},
	} {
		s, api := start(t, slacksim.Options{})
		ch := s.AddChannel("legal", true)
		post(t, api, ch, "warm the connection up", "k0") // a reused connection must not be retried either
		s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: tc.kind, Next: 1})
		_, _, err := api.PostMessageContext(t.Context(), ch, slack.MsgOptionText("lost", false))
		if !tc.check(err) {
			t.Errorf("kind %d: error %v (%T)", tc.kind, err, err)
		}
		msgs := s.Messages(ch)
		if len(msgs) != 2 || msgs[1].Text != "lost" {
			t.Errorf("kind %d: stored %+v, want the message whose answer was lost", tc.kind, msgs)
		}
		if st := s.Stats(); st.Calls["chat.postMessage"] != 2 || st.Lost["chat.postMessage"] != 1 {
			t.Errorf("kind %d: stats %+v, want 2 calls, 1 lost", tc.kind, st)
		}
	}
}

func TestConcurrentPosts(t *testing.T) {
	s, api := start(t, slacksim.Options{})
	ch := s.AddChannel("legal", true)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				if _, _, err := api.PostMessageContext(t.Context(), ch, slack.MsgOptionText(fmt.Sprint(i, j), false)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, m := range s.All() {
		seen[m.TS] = true
	}
	if len(seen) != 80 {
		t.Errorf("%d distinct ts for 80 posts", len(seen))
	}
}

func TestBehindAnotherListener(t *testing.T) {
	s, _ := start(t, slacksim.Options{})
	ch := s.AddChannel("legal", true)
	front := httptest.NewServer(s)
	defer front.Close()
	post(t, slack.New("xoxb-any", slack.OptionAPIURL(front.URL+"/api/")), "#legal", "through the front", "k")
	if msgs := s.Messages(ch); len(msgs) != 1 || msgs[0].Text != "through the front" {
		t.Errorf("stored %+v", msgs)
	}
}

func TestRepliesAndDeletes(t *testing.T) {
	s, api := start(t, slacksim.Options{})
	ch := s.AddChannel("legal", true)
	ctx := t.Context()
	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*checklist*", false, false), nil, nil))
	root := post(t, api, ch, "root", "r", blocks)
	var replies []string
	for i := range 5 {
		replies = append(replies, post(t, api, ch, fmt.Sprint("reply ", i), fmt.Sprint("k", i), slack.MsgOptionTS(root)))
	}
	lonely := post(t, api, ch, "no replies", "l")

	if got := s.Messages(ch)[0].Blocks; got != `[{"type":"section","text":{"type":"mrkdwn","text":"*checklist*"}}]` {
		t.Errorf("blocks stored %s", got)
	}
	// conversations.replies: the root, then its replies oldest first, in pages.
	var got []string
	p := slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: root, Limit: 2, IncludeAllMetadata: true}
	for pages := 1; ; pages++ {
		msgs, _, next, err := api.GetConversationRepliesContext(ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got = append(got, m.Timestamp+" "+fmt.Sprint(m.Metadata.EventPayload["key"]))
		}
		if next == "" {
			if pages != 3 {
				t.Errorf("%d pages of 2, want 3", pages)
			}
			break
		}
		p.Cursor = next
	}
	want := []string{root + " r"}
	for i, r := range replies {
		want = append(want, fmt.Sprint(r, " k", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}

	// Deleted with replies, a root stays as a tombstone; without, it is gone.
	for _, ts := range []string{root, lonely} {
		if _, _, err := api.DeleteMessageContext(ctx, ch, ts); err != nil {
			t.Fatal(err)
		}
	}
	h := history(t, api, slack.GetConversationHistoryParameters{ChannelID: ch, IncludeAllMetadata: true})
	if len(h.Messages) != 1 || h.Messages[0].SubType != "tombstone" || h.Messages[0].Text != "This message was deleted." || h.Messages[0].Metadata.EventType != "" {
		t.Errorf("history after the deletes %+v, want only the tombstone, without metadata", h.Messages)
	}
	if msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: root}); err != nil || len(msgs) != 6 {
		t.Errorf("replies under the tombstone: %d, %v; want the tombstone and 5", len(msgs), err)
	}

	kept := post(t, api, ch, "kept", "k")
	if err := s.CloseEditWindow("#legal", kept); err != nil {
		t.Fatal(err)
	}
	wantRefusals(t, []refusal{
		{"update past the edit window", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, ch, kept, slack.MsgOptionText("x", false))
			return err
		}, "edit_window_closed"},
		{"update of a tombstone", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, ch, root, slack.MsgOptionText("x", false))
			return err
		}, "cant_update_message"},
		{"update of a deleted message", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, ch, lonely, slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"delete twice", func() error {
			_, _, err := api.DeleteMessageContext(ctx, ch, lonely)
			return err
		}, "message_not_found"},
		{"replies of a deleted message", func() error {
			_, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: lonely})
			return err
		}, "thread_not_found"},
		{"blocks that are not a list", func() error {
			resp, err := http.PostForm(s.URL()+"chat.postMessage", url.Values{"token": {"xoxb-any"}, "channel": {ch}, "blocks": {`{"type":"section"}`}})
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var answer slack.SlackResponse
			if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
				return err
			}
			return answer.Err()
		}, "invalid_blocks_format"},
		{"ephemeral without a user", func() error {
			_, err := api.PostEphemeralContext(ctx, ch, "", slack.MsgOptionText("x", false))
			return err
		}, "user_not_found"},
	})
	if err := s.CloseEditWindow("#legal", lonely); err == nil {
		t.Error("CloseEditWindow of a deleted message: no error")
	}
}

func TestEphemeralAndRefuse(t *testing.T) {
	s, api := start(t, slacksim.Options{})
	ch := s.AddChannel("legal", true)
	root := post(t, api, ch, "root", "r")
	if _, err := api.PostEphemeralContext(t.Context(), ch, "U1", slack.MsgOptionText("only you", false), slack.MsgOptionTS(root)); err != nil {
		t.Fatal(err)
	}
	if got := s.Ephemerals(); len(got) != 1 || got[0] != (slacksim.Ephemeral{Channel: ch, User: "U1", ThreadTS: root, Text: "only you"}) {
		t.Errorf("ephemerals %+v", got)
	}
	if n := len(s.Messages(ch)); n != 1 {
		t.Errorf("%d messages, want the ephemeral kept apart", n)
	}

	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.Refuse, Error: "ratelimited", Next: 1})
	_, _, err := api.PostMessageContext(t.Context(), ch, slack.MsgOptionText("x", false))
	var refused slack.SlackErrorResponse
	if !errors.As(err, &refused) || refused.Err != "ratelimited" {
		t.Errorf("error %v, want ratelimited", err)
	}
	if n := len(s.Messages(ch)); n != 1 {
		t.Errorf("%d messages, want the refused one not stored", n)
	}
}
