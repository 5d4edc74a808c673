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
	"time"

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

	mu       sync.Mutex
	channels map[string]string // channel name → id, from the last conversations.list
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

// Find looks for the message carrying key, posted to channel since since, through
// conversations.history with metadata. It reads from a little before since, as since is on
// casebot's clock and ts on Slack's.
func (c *Client) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	op := "look for " + key + " in " + channel
	id, err := c.channelID(ctx, op, channel)
	if err != nil {
		return "", err
	}
	params := &slack.GetConversationHistoryParameters{ChannelID: id, Limit: historyPage, IncludeAllMetadata: true}
	if !since.IsZero() {
		from := since.Add(-clockSkew).UnixMicro()
		params.Oldest = fmt.Sprintf("%d.%06d", from/1e6, from%1e6)
	}
	for {
		h, err := c.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", classify(ctx, op, err)
		}
		for _, m := range h.Messages {
			if m.Metadata.EventType == MetadataEventType && m.Metadata.EventPayload["key"] == key {
				c.logger.DebugContext(ctx, "found in slack", "channel", channel, "key", key, "ts", m.Timestamp)
				return m.Timestamp, nil
			}
		}
		if h.ResponseMetaData.NextCursor == "" {
			return "", nil
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
}

const (
	// clockSkew is how far Slack's clock may be behind casebot's.
	clockSkew = 5 * time.Minute
	// historyPage is the messages asked for per conversations.history call: Slack's
	// recommended most, so a search spends few calls of its rate limit.
	historyPage = 200
)

// channelID returns the id of channel, which is an id or a name ("#legal"): chat.postMessage
// takes either, conversations.history only ids. Names are resolved with conversations.list
// and kept; a name not known is looked up again, since the channel may be new.
func (c *Client) channelID(ctx context.Context, op, channel string) (string, error) {
	name, named := strings.CutPrefix(channel, "#")
	if !named && isChannelID(channel) {
		return channel, nil
	}
	c.mu.Lock()
	id, ok := c.channels[name]
	c.mu.Unlock()
	if ok {
		return id, nil
	}

	names := map[string]string{}
	params := &slack.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}, Limit: 1000}
	for {
		chs, next, err := c.api.GetConversationsContext(ctx, params)
		if err != nil {
			return "", classify(ctx, op+": list channels", err)
		}
		for _, ch := range chs {
			names[ch.Name] = ch.ID
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	c.mu.Lock()
	c.channels = names
	c.mu.Unlock()
	if id, ok := names[name]; ok {
		return id, nil
	}
	return "", &bot.Error{Op: op, Code: "channel_not_found", Message: "no channel the bot can see is named " + name}
}

// isChannelID reports whether s has the shape of a Slack conversation id ("C0123ABCD"):
// channel names are lower-case, ids upper-case.
func isChannelID(s string) bool {
	if len(s) < 9 || !strings.ContainsRune("CGD", rune(s[0])) {
		return false
	}
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// hint explains the Web API errors an operator can fix. The message names the channel,
// never the token.
func hint(e slack.SlackErrorResponse) string {
	switch e.Err {
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
		if e.Needed != "" {
			return "the Slack app lacks the " + e.Needed + " scope"
		}
		return "the Slack app lacks a scope (chat:write, channels:read, groups:read, channels:history, groups:history)"
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
		return &bot.Error{Op: op, Code: api.Err, Message: hint(api), Retryable: transient(api.Err)}
	case errors.As(err, &netErr):
		// Includes *url.Error: the request may not have reached Slack. When only the response
		// was lost, the message was posted: Find finds it by the effect key in its metadata.
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

// Find returns "": a terminal cannot be asked what it printed.
func (t *Terminal) Find(context.Context, string, string, time.Time) (string, error) {
	return "", nil
}
