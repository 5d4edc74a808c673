package slack

import (
	"context"
	"slices"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/slack/slacksim"
)

func TestPacing(t *testing.T) {
	s, c, clk := simClock(t)
	s.AddChannel("finance", true)
	ctx := t.Context()

	post := func(channel, text string) string {
		t.Helper()
		ts, err := c.Post(ctx, bot.Message{Channel: channel, Text: text, Key: text})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	first := post("#legal", "one")
	post("#legal", "two")
	post("#finance", "elsewhere") // another channel does not wait
	if err := c.Update(ctx, "#legal", first, checklist()); err != nil {
		t.Fatal(err)
	}
	post("#legal", "three")

	// Each write to #legal waits for a second after the one before: the update too.
	if got, want := clk.Waits(), []time.Duration{time.Second, time.Second, time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if got := clk.Now(); !got.Equal(epoch.Add(3 * time.Second)) {
		t.Errorf("clock at %v, want 3s after the start", got.Sub(epoch))
	}
	if n := len(s.Messages("#legal")); n != 3 {
		t.Errorf("%d messages in #legal, want 3", n)
	}
}

func TestRateLimitIsWaitedOut(t *testing.T) {
	s, c, clk := simClock(t)
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.RateLimit, Next: 1, RetryAfter: 7 * time.Second})
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.RateLimit, Next: 2})
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.Refuse, Error: "ratelimited", Next: 1})
	m := bot.Message{Channel: "#legal", Text: "termination notice", Key: "termination-sop/attrition/3/500A"}

	ts, err := c.Post(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	// Retry-After as told; without it, a backoff that doubles from the pace.
	if got, want := clk.Waits(), []time.Duration{7 * time.Second, time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	msgs := s.Messages("#legal")
	if len(msgs) != 1 || msgs[0].TS != ts || msgs[0].Key != m.Key {
		t.Errorf("stored %+v, want the one message, posted by the fifth attempt as %s", msgs, ts)
	}
	if st := s.Stats(); st.Calls["chat.postMessage"] != 5 || st.RateLimited["chat.postMessage"] != 4 {
		t.Errorf("stats %+v, want 5 calls, 4 limited", st)
	}

	// The channel stays held for everyone: the next post waits for the pace after the last.
	if _, err := c.Post(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if got := clk.Waits(); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Errorf("next post waited %v, want 1s", got)
	}
}

func TestRateLimitHandedBack(t *testing.T) {
	s, c, clk := simClock(t)
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.RateLimit, Next: 1, RetryAfter: 30 * time.Second})
	s.Inject(slacksim.Fault{Method: "chat.update", Kind: slacksim.Refuse, Error: "ratelimited", Next: 1})

	// A wait longer than MaxWait is handed back, to be tried again after it.
	_, err := c.Post(t.Context(), bot.Message{Channel: "#legal", Text: "x", Key: "k/s/1/c"})
	wantError(t, err, "post to #legal: ratelimited: rate limited by Slack", true, 30*time.Second)
	if n := len(s.Messages("#legal")); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}

	// So is one that would outlast the caller's deadline.
	ts := postRoot(t, c, checklist())
	clk.Waits()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	err = c.Update(ctx, "#legal", ts, checklist())
	wantError(t, err, "update the root "+ts+" of case 500A000000000001AAA in #legal: ratelimited", true, time.Second)

	// Without Retry-After, the backoff doubles until it passes MaxWait.
	clk.Waits()
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.RateLimit, Next: 10})
	_, err = c.Post(t.Context(), bot.Message{Channel: "#legal", Text: "x", Key: "k/s/1/c"})
	wantError(t, err, "post to #legal: http_429: 429 Too Many Requests", true, 16*time.Second)
	if got, want := clk.Waits(), []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want the pace, then 1s, 2s, 4s, 8s", got)
	}
}

func TestCanceledWhileWaiting(t *testing.T) {
	s, c := sim(t)
	s.Inject(slacksim.Fault{Method: "chat.postMessage", Kind: slacksim.RateLimit, Next: 1, RetryAfter: 7 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	var waited time.Duration
	c.pace.after = func(d time.Duration) <-chan time.Time {
		waited = d
		cancel() // as SIGTERM would, in the middle of the wait
		return nil
	}
	_, err := c.Post(ctx, bot.Message{Channel: "#legal", Text: "x", Key: "k/s/1/c"})
	if err == nil || err.Error() != "post to #legal: context canceled" || bot.IsRetryable(err) || waited != 7*time.Second {
		t.Errorf("error %v after waiting %v, want the cancellation during the 7s wait", err, waited)
	}
	if n := len(s.Messages("#legal")); n != 0 {
		t.Errorf("%d messages, want none", n)
	}
}
