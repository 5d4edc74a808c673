package slack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"casebot/bot"
)

const (
	// defaultPace is the time between two writes (chat.postMessage, chat.update) to one
	// channel: Slack allows about one message a second per channel and limits bursts.
	defaultPace = time.Second
	// defaultMaxWait is Options.MaxWait's default: Slack's usual Retry-After for a burst is a
	// few seconds, and a longer wait would hold up the rest of an engine's cycle.
	defaultMaxWait = 10 * time.Second
)

// pacer hands out turns to write to each channel, pace apart, and holds a channel back when
// Slack says it is rate limited.
type pacer struct {
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
	pace  time.Duration

	mu   sync.Mutex
	next map[string]time.Time // channel id → the earliest time of its next turn
}

func newPacer(pace time.Duration, now func() time.Time, after func(time.Duration) <-chan time.Time) *pacer {
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After // collected once it fires or is dropped (Go 1.23)
	}
	if pace == 0 {
		pace = defaultPace
	}
	return &pacer{now: now, after: after, pace: max(pace, 0), next: map[string]time.Time{}}
}

// turn waits for channel's next turn. Turns are taken in the order asked for, so concurrent
// writers to one channel are spaced too.
func (p *pacer) turn(ctx context.Context, channel string) error {
	p.mu.Lock()
	now := p.now()
	at := p.next[channel]
	if at.Before(now) {
		at = now
	}
	p.next[channel] = at.Add(p.pace)
	p.mu.Unlock()
	if !at.After(now) {
		return nil
	}
	select {
	case <-p.after(at.Sub(now)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hold keeps channel's next turn at least d away.
func (p *pacer) hold(channel string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := p.now().Add(d); until.After(p.next[channel]) {
		p.next[channel] = until
	}
}

// write performs call, a write to the channel with id channel, in the channel's turn. A rate
// limit is waited out and call performed again, as often as Slack asks, while each wait is at
// most c.maxWait and ends before ctx's deadline: a limited call did nothing, so nothing is
// posted twice. A longer wait is handed back as a retryable error with its RetryAfter, for the
// caller to try again then; nothing is dropped. Other errors are classified and returned,
// never retried here: after a lost answer the message may be posted, and only Find can tell.
func (c *Client) write(ctx context.Context, op, channel string, call func() error) error {
	backoff := defaultPace
	for {
		if err := c.pace.turn(ctx, channel); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		err := call()
		if err == nil {
			return nil
		}
		wait, limited := rateLimit(err)
		if !limited {
			return classify(ctx, op, err)
		}
		if wait == 0 {
			wait, backoff = backoff, 2*backoff
		}
		if deadline, ok := ctx.Deadline(); wait > c.maxWait || ok && time.Until(deadline) < wait {
			err := classify(ctx, op, err)
			var e *bot.Error
			if errors.As(err, &e) {
				e.RetryAfter = max(e.RetryAfter, wait)
			}
			return err
		}
		c.logger.WarnContext(ctx, "slack rate limit: waiting", "op", op, "wait", wait)
		c.pace.hold(channel, wait)
	}
}

// rateLimit reports whether err is Slack's rate limit (HTTP 429, or "ratelimited" in the
// answer) and the wait it asked for, zero when it did not say.
func rateLimit(err error) (time.Duration, bool) {
	var (
		limited *slack.RateLimitedError
		status  slack.StatusCodeError
		api     slack.SlackErrorResponse
	)
	switch {
	case errors.As(err, &limited):
		return limited.RetryAfter, true
	case errors.As(err, &status):
		return 0, status.Code == 429
	case errors.As(err, &api):
		return 0, api.Err == "ratelimited"
	}
	return 0, false
}
