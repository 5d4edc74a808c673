package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"casebot/bot"
)

const token = "xoxb-test-token-1234"

// recorder is a chat.postMessage handler that records each request and answers with a unique
// ts, which slacktest's own handler does neither of.
type recorder struct {
	mu    sync.Mutex
	posts []url.Values
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.posts = append(r.posts, req.PostForm)
	n := len(r.posts)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"channel":"C0LEGAL001","ts":"1700000000.%06d","message":{"text":"x"}}`, n)
}

// server starts slacktest with h as its chat.postMessage handler.
func server(t *testing.T, h http.Handler) *slacktest.Server {
	t.Helper()
	s := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", h.ServeHTTP)
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func TestPost(t *testing.T) {
	rec := &recorder{}
	s := server(t, rec)
	chat := New(Options{Token: token, APIURL: strings.TrimSuffix(s.GetAPIURL(), "/")})

	msgs := []bot.Message{
		{Channel: "C0LEGAL001", Text: "*Case 00001026* for Acme &lt;!channel&gt;", Key: "termination-sop/attrition/3/500A"},
		{Channel: "C0FINANCE01", Text: "line one\nline two", Key: "termination-sop/attrition/3/500B"},
	}
	var tss []string
	for _, m := range msgs {
		ts, err := chat.Post(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		tss = append(tss, ts)
	}
	if tss[0] != "1700000000.000001" || tss[1] != "1700000000.000002" {
		t.Errorf("ts = %v, want the server's unique ts values", tss)
	}

	if len(rec.posts) != len(msgs) {
		t.Fatalf("server saw %d posts, want %d", len(rec.posts), len(msgs))
	}
	for i, m := range msgs {
		got := rec.posts[i]
		if got.Get("channel") != m.Channel || got.Get("text") != m.Text || got.Get("token") != token {
			t.Errorf("post %d: channel %q text %q, want %q %q and the token", i, got.Get("channel"), got.Get("text"), m.Channel, m.Text)
		}
		var meta struct {
			EventType    string         `json:"event_type"`
			EventPayload map[string]any `json:"event_payload"`
		}
		if err := json.Unmarshal([]byte(got.Get("metadata")), &meta); err != nil {
			t.Fatalf("post %d: metadata %q: %v", i, got.Get("metadata"), err)
		}
		if meta.EventType != "casebot_effect" || meta.EventPayload["key"] != m.Key {
			t.Errorf("post %d: metadata %+v, want event casebot_effect with key %q", i, meta, m.Key)
		}
		for _, k := range []string{"link_names", "parse"} {
			if got.Has(k) {
				t.Errorf("post %d sends %s=%q; Slack must not parse casebot's text", i, k, got.Get(k))
			}
		}
	}
}

func TestPostErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		want       string
		retryable  bool
		retryAfter time.Duration
	}{
		{
			name: "rate limited with Retry-After", status: 429, header: map[string]string{"Retry-After": "7"},
			want: "post to #legal: ratelimited: rate limited by Slack", retryable: true, retryAfter: 7 * time.Second,
		},
		{
			name: "429 without Retry-After", status: 429,
			want: "post to #legal: http_429: 429 Too Many Requests", retryable: true, retryAfter: time.Second,
		},
		{
			name: "outage", status: 503,
			want: "post to #legal: http_503: 503 Service Unavailable", retryable: true,
		},
		{
			name: "bad request", status: 400,
			want: "post to #legal: http_400: 400 Bad Request",
		},
		{
			name: "invalid token", body: `{"ok":false,"error":"invalid_auth"}`,
			want: "post to #legal: invalid_auth: the Slack token is not valid",
		},
		{
			name: "unknown channel", body: `{"ok":false,"error":"channel_not_found"}`,
			want: "post to #legal: channel_not_found: the channel does not exist, or the bot cannot see it",
		},
		{
			name: "not in channel", body: `{"ok":false,"error":"not_in_channel"}`,
			want: "post to #legal: not_in_channel: the bot is not a member of the channel; invite it",
		},
		{
			name: "rate limited in the body", body: `{"ok":false,"error":"ratelimited"}`,
			want: "post to #legal: ratelimited", retryable: true, retryAfter: time.Second,
		},
		{
			name: "missing scope", body: `{"ok":false,"error":"missing_scope","needed":"chat:write","provided":"channels:read"}`,
			want: "post to #legal: missing_scope: the Slack app lacks the chat:write scope",
		},
		{
			name: "Slack's own trouble", body: `{"ok":false,"error":"internal_error"}`,
			want: "post to #legal: internal_error", retryable: true,
		},
		{
			name: "not JSON", body: `<html>proxy error</html>`,
			want: "post to #legal: bad_response: invalid character '<' looking for beginning of value", retryable: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := server(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				fmt.Fprint(w, tc.body)
			}))
			chat := New(Options{Token: token, APIURL: s.GetAPIURL()})
			chat.(*Client).channels = map[string]string{"legal": "C0LEGAL001"} // slacktest lists no channels
			// Shorter than any wait, so a rate limit is handed back rather than waited out.
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			_, err := chat.Post(ctx, bot.Message{Channel: "#legal", Text: "hi", Key: "k/s/1/c"})
			var e *bot.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want a *bot.Error", err, err)
			}
			if err.Error() != tc.want || e.Retryable != tc.retryable || e.RetryAfter != tc.retryAfter {
				t.Errorf("error %q retryable %v after %v, want %q %v %v", err, e.Retryable, e.RetryAfter, tc.want, tc.retryable, tc.retryAfter)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestPostUnreachable(t *testing.T) {
	s := server(t, &recorder{})
	s.Stop() // nothing listens there any more
	chat := New(Options{Token: token, APIURL: s.GetAPIURL()})
	_, err := chat.Post(t.Context(), bot.Message{Channel: "C0LEGAL001", Text: "hi"})
	var e *bot.Error
	if !errors.As(err, &e) || e.Code != "network" || !e.Retryable {
		t.Fatalf("error %v, want a retryable network *bot.Error", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the token: %v", err)
	}
}

func TestPostCanceled(t *testing.T) {
	s := server(t, &recorder{})
	chat := New(Options{Token: token, APIURL: s.GetAPIURL()})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := chat.Post(ctx, bot.Message{Channel: "C0LEGAL001", Text: "hi"})
	if !errors.Is(err, context.Canceled) || bot.IsRetryable(err) {
		t.Fatalf("error %v, want context.Canceled and not retryable", err)
	}
}

func TestTerminal(t *testing.T) {
	var out strings.Builder
	chat := New(Options{Out: &out})
	for i, m := range []bot.Message{
		{Channel: "#legal", Text: "*Case 00001026* for Acme &lt;!channel&gt; &amp; co\nNext: termination notice\n\tindented"},
		{Channel: "#finance", Text: "colour \x1b[31mred\x1b[0m"},
	} {
		id, err := chat.Post(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("terminal-%d", i+1); id != want {
			t.Errorf("id %q, want %q", id, want)
		}
	}
	want := `slack #legal │ *Case 00001026* for Acme <!channel> & co
             │ Next: termination notice
             │ 	indented
slack #finance │ colour �[31mred�[0m
`
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
}

func TestTerminalThread(t *testing.T) {
	var out strings.Builder
	term := New(Options{Out: &out})
	ctx := t.Context()
	c := checklist()
	root, err := term.PostRoot(ctx, "#legal", c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := term.Reply(ctx, root, bot.Message{Channel: "#legal", Text: ":white_check_mark: *Final termination notice* sent to Acme &amp; Co\nNext: purge", Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	c.Items[1].State, c.Items[1].At = bot.ItemDone, time.Date(2026, 11, 19, 9, 5, 0, 0, newYork)
	c.Items[3].State, c.Items[3].Detail = bot.ItemDone, ""
	c.Buttons = c.Buttons[:3]
	if err := term.Update(ctx, "#legal", root, c); err != nil {
		t.Fatal(err)
	}
	if err := term.Update(ctx, "#legal", root, c); err != nil { // nothing changed: nothing printed
		t.Fatal(err)
	}
	if _, err := term.Reply(ctx, "terminal-99", bot.Message{Channel: "#finance", Text: "a thread this terminal did not print", Key: "k2"}); err != nil {
		t.Fatal(err)
	}
	hostile := hostileChecklist("<!channel> \x1b[31m\nred")
	hostile.Items = hostile.Items[:2]
	if _, err := term.PostRoot(ctx, "#finance", hostile); err != nil {
		t.Fatal(err)
	}
	for _, find := range []func() (string, error){
		func() (string, error) { return term.FindThread(ctx, "#legal", c.CaseID, time.Time{}) },
		func() (string, error) { return term.FindReply(ctx, "#legal", root, "k1") },
	} {
		if ts, err := find(); ts != "" || err != nil {
			t.Errorf("a terminal found %q, %v; want nothing: it cannot be asked", ts, err)
		}
	}
	golden(t, "terminal.golden", []byte(out.String()))
}
