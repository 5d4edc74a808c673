// Package slack posts casebot's messages to Slack, or prints them to a terminal when no token
// is configured (the demo, and trying a playbook out).
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"casebot/bot"
)

// Options configure New.
type Options struct {
	Token      string       // bot token (xoxb-…); empty prints to Out instead
	APIURL     string       // Slack's Web API base URL; empty means Slack's own
	Out        io.Writer    // where the terminal printer writes; nil means standard output
	Logger     *slog.Logger // nil discards
	HTTPClient *http.Client // nil means http.DefaultClient
}

// New returns a Chat that posts with the Web API when opts has a token, and prints to
// opts.Out otherwise.
func New(opts Options) bot.Chat {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Token == "" {
		out := opts.Out
		if out == nil {
			out = os.Stdout
		}
		return &Terminal{out: out}
	}
	var options []slack.Option
	if opts.APIURL != "" {
		u := opts.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/" // slack-go appends method names to it
		}
		options = append(options, slack.OptionAPIURL(u))
	}
	if opts.HTTPClient != nil {
		options = append(options, slack.OptionHTTPClient(opts.HTTPClient))
	}
	return &Client{api: slack.New(opts.Token, options...), logger: logger}
}

// MetadataEventType is the event type of the metadata every casebot message carries, with
// the effect key under "key", so a message can be found again after a crash.
const MetadataEventType = "casebot_effect"

// Client posts through Slack's Web API.
type Client struct {
	api    *slack.Client
	logger *slog.Logger
}

var _ bot.Chat = (*Client)(nil)

// Post posts m.Text, which is mrkdwn with its untrusted parts already escaped, to m.Channel
// and returns the message's ts. It never asks Slack to parse the text (link_names, parse=full),
// which would turn escaped names back into mentions.
func (c *Client) Post(ctx context.Context, m bot.Message) (string, error) {
	_, ts, err := c.api.PostMessageContext(ctx, m.Channel,
		slack.MsgOptionText(m.Text, false),
		slack.MsgOptionMetadata(slack.SlackMetadata{
			EventType:    MetadataEventType,
			EventPayload: map[string]any{"key": m.Key},
		}),
	)
	if err != nil {
		return "", classify(ctx, "post to "+m.Channel, err)
	}
	c.logger.DebugContext(ctx, "posted to slack", "channel", m.Channel, "key", m.Key, "ts", ts)
	return ts, nil
}

// hint explains the Web API errors an operator can fix. The message names the channel,
// never the token.
func hint(code string) string {
	switch code {
	case "invalid_auth":
		return "the Slack token is not valid"
	case "not_authed":
		return "no Slack token was sent"
	case "account_inactive":
		return "the Slack token belongs to a deactivated bot or user"
	case "token_revoked":
		return "the Slack token has been revoked"
	case "token_expired":
		return "the Slack token has expired"
	case "missing_scope":
		return "the Slack app lacks the chat:write scope"
	case "channel_not_found":
		return "the channel does not exist, or the bot cannot see it"
	case "not_in_channel":
		return "the bot is not a member of the channel; invite it"
	case "is_archived":
		return "the channel is archived"
	case "msg_too_long":
		return "the message is too long"
	}
	return ""
}

// transient reports the Web API errors that a later attempt may not get.
func transient(code string) bool {
	switch code {
	case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return true
	}
	return false
}

// classify turns a slack-go error into a *bot.Error that says whether to try again.
func classify(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	var (
		limited *slack.RateLimitedError
		status  slack.StatusCodeError
		api     slack.SlackErrorResponse
		netErr  net.Error
	)
	switch {
	case errors.As(err, &limited):
		return &bot.Error{Op: op, Code: "ratelimited", Message: "rate limited by Slack", Retryable: true, RetryAfter: limited.RetryAfter}
	case errors.As(err, &status):
		return &bot.Error{Op: op, Code: "http_" + strconv.Itoa(status.Code), Message: status.Status, Retryable: status.Retryable()}
	case errors.As(err, &api):
		return &bot.Error{Op: op, Code: api.Err, Message: hint(api.Err), Retryable: transient(api.Err)}
	case errors.As(err, &netErr):
		// Includes *url.Error: the request may not have reached Slack. When only the response
		// was lost, a retry posts twice; the message carries its effect key in its metadata so
		// that such a duplicate can be found (nothing looks for it yet).
		return &bot.Error{Op: op, Code: "network", Message: err.Error(), Retryable: true}
	default:
		// A response that was not the JSON Slack sends, such as a proxy's error page.
		return &bot.Error{Op: op, Code: "bad_response", Message: err.Error(), Retryable: true}
	}
}

// Terminal prints messages for a person watching the terminal, one block per message.
type Terminal struct {
	mu  sync.Mutex
	out io.Writer
	n   int
}

var _ bot.Chat = (*Terminal)(nil)

// terminalText undoes the mrkdwn escaping, for reading.
var terminalText = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// Post writes m as "slack #legal │ first line", with later lines aligned under the first,
// and returns "terminal-N".
func (t *Terminal) Post(ctx context.Context, m bot.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("print to %s: %w", m.Channel, err)
	}
	prefix := "slack " + m.Channel + " │ "
	indent := strings.Repeat(" ", len("slack "+m.Channel+" ")) + "│ "
	var b strings.Builder
	for i, line := range strings.Split(terminalText.Replace(m.Text), "\n") {
		if i == 0 {
			b.WriteString(prefix)
		} else {
			b.WriteString(indent)
		}
		b.WriteString(bot.Printable(line))
		b.WriteByte('\n')
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := io.WriteString(t.out, b.String()); err != nil {
		return "", fmt.Errorf("print to %s: %w", m.Channel, err)
	}
	t.n++
	return "terminal-" + strconv.Itoa(t.n), nil
}
