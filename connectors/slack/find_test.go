package slack

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/slack/slacksim"
)

var epoch = time.Unix(1700000000, 0)

// sim starts slacksim with its clock standing at epoch and a #legal the bot is in, and returns
// it with a Client that talks to it, paced by a fake clock.
func sim(t *testing.T) (*slacksim.Server, *Client) {
	t.Helper()
	s, c, _ := simClock(t)
	return s, c
}

// simClock is sim, returning the Client's clock too.
func simClock(t *testing.T) (*slacksim.Server, *Client, *clock) {
	t.Helper()
	s := slacksim.New(slacksim.Options{Token: token, Now: func() time.Time { return epoch }})
	t.Cleanup(s.Close)
	s.AddChannel("legal", true)
	clk := &clock{now: epoch}
	return s, client(s, clk), clk
}

// client returns a Client of s paced by clk.
func client(s *slacksim.Server, clk *clock) *Client {
	return NewClient(Options{Token: token, APIURL: s.URL(), Now: clk.Now, After: clk.After})
}

// clock is a fake clock for the pacer: After moves it on at once, and records how long.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// Waits returns the waits so far, and forgets them.
func (c *clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.waits
	c.waits = nil
	return w
}

// wantError fails t unless err is a *bot.Error that reads want and is retryable (after
// retryAfter) or not as told.
func wantError(t *testing.T, err error, want string, retryable bool, retryAfter time.Duration) {
	t.Helper()
	var e *bot.Error
	if !errors.As(err, &e) || err.Error() != want || e.Retryable != retryable || e.RetryAfter != retryAfter {
		t.Errorf("error %v (%T), want %q retryable %v after %v", err, err, want, retryable, retryAfter)
	}
}

func TestFindAfterLostAnswer(t *testing.T) {
	for _, kind := range []slacksim.Kind{slacksim.Lose500, slacksim.LoseConnection} {
		s, chat := sim(t)
		m := bot.Message{Channel: "#legal", Text: "termination notice", Key: "termination-sop/attrition/3/500A"}
		if _, err := chat.Post(t.Context(), bot.Message{Channel: "#legal", Text: "before", Key: "other"}); err != nil {
			t.Fatal(err)
		}
		s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: kind, Next: 1})
		if _, err := chat.Post(t.Context(), m); !bot.IsRetryable(err) {
			t.Fatalf("kind %d: post whose answer was lost: error %v, want a retryable one", kind, err)
		}

		ts, err := chat.Find(t.Context(), m.Channel, m.Key, epoch)
		if err != nil {
			t.Fatalf("kind %d: %v", kind, err)
		}
		msgs := s.Messages("#legal")
		if len(msgs) != 2 || ts != msgs[1].TS || ts == "" {
			t.Errorf("kind %d: found %q, want the lost post's ts among %+v", kind, ts, msgs)
		}
	}
}

func TestFindPages(t *testing.T) {
	s, chat := sim(t)
	// More channels than one conversations.list page holds.
	for i := range 1000 {
		s.AddChannel(fmt.Sprintf("filler-%04d", i), true)
	}
	const key = "termination-sop/attrition/3/500A"
	post := func(key string) string {
		ts, err := chat.Post(t.Context(), bot.Message{Channel: "#legal", Text: "x", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	want := post(key)
	for i := range 450 { // history lists newest first: the one sought is on the third page
		post(fmt.Sprintf("termination-sop/attrition/3/%d", i))
	}

	for range 2 {
		ts, err := chat.Find(t.Context(), "#legal", key, epoch)
		if err != nil || ts != want {
			t.Fatalf("Find = %q, %v; want %q", ts, err, want)
		}
	}
	calls := s.Stats().Calls
	if calls["conversations.list"] != 2 || calls["conversations.history"] != 6 {
		t.Errorf("calls %v, want 2 to conversations.list (one listing of two pages, then the cache) and 3 to conversations.history per Find", calls)
	}
}

func TestFindNothing(t *testing.T) {
	s, chat := sim(t)
	finance := s.AddChannel("finance", true)
	const key = "termination-sop/attrition/3/500A"
	for _, m := range []bot.Message{
		{Channel: "#legal", Text: "another case", Key: key + "B"},
		{Channel: "#legal", Text: "another step", Key: "termination-sop/notice/1/500A"},
		{Channel: finance, Text: "the same key, another channel", Key: key},
	} {
		if _, err := chat.Post(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	for _, channel := range []string{"#legal", s.AddChannel("legal", true)} {
		if ts, err := chat.Find(t.Context(), channel, key, epoch); ts != "" || err != nil {
			t.Errorf("Find in %s = %q, %v; want nothing", channel, ts, err)
		}
	}
	if ts, err := chat.Find(t.Context(), "#finance", key, epoch.Add(clockSkew)); ts == "" || err != nil {
		t.Errorf("Find %s after its post, within the clock skew, = %q, %v; want it found", key, ts, err)
	}
	if ts, err := chat.Find(t.Context(), "#finance", key, epoch.Add(time.Hour)); ts != "" || err != nil {
		t.Errorf("Find %s an hour after its post = %q, %v; want nothing", key, ts, err)
	}
}

func TestFindErrors(t *testing.T) {
	s, chat := sim(t)
	s.AddChannel("outside", false)
	const key = "k/s/1/c"

	_, err := chat.Find(t.Context(), "#nowhere", key, epoch)
	wantError(t, err, "look for k/s/1/c in #nowhere: channel_not_found: no channel the bot can see is named nowhere", false, 0)
	_, err = chat.Find(t.Context(), "#outside", key, epoch)
	wantError(t, err, "look for k/s/1/c in #outside: not_in_channel: the bot is not a member of the channel; invite it", false, 0)

	s.Inject(slacksim.Fault{Method: "conversations.history", Kind: slacksim.RateLimit, Next: 1, RetryAfter: 30 * time.Second})
	_, err = chat.Find(t.Context(), "#legal", key, epoch)
	wantError(t, err, "look for k/s/1/c in #legal: ratelimited: rate limited by Slack", true, 30*time.Second)
	s.Inject(slacksim.Fault{Method: "conversations.history", Kind: slacksim.RateLimit, Next: 1})
	_, err = chat.Find(t.Context(), "#legal", key, epoch)
	wantError(t, err, "look for k/s/1/c in #legal: http_429: 429 Too Many Requests", true, 0)

	wrong := New(Options{Token: "xoxb-wrong", APIURL: s.URL()})
	_, err = wrong.Find(t.Context(), "#legal", key, epoch)
	wantError(t, err, "look for k/s/1/c in #legal: list channels: invalid_auth: the Slack token is not valid", false, 0)
	_, err = wrong.Post(t.Context(), bot.Message{Channel: "#legal", Text: "x", Key: key})
	wantError(t, err, "post to #legal: list channels: invalid_auth: the Slack token is not valid", false, 0)
	if err != nil && strings.Contains(err.Error(), "xoxb-wrong") {
		t.Errorf("error shows the token: %v", err)
	}
}

func TestTerminalFind(t *testing.T) {
	ts, err := New(Options{Out: &strings.Builder{}}).Find(t.Context(), "#legal", "k/s/1/c", epoch)
	if ts != "" || err != nil {
		t.Errorf("Find = %q, %v; want nothing: a terminal cannot be asked", ts, err)
	}
}
