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
	"slices"
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

	// MaxWait is the longest wait for a rate limit that a post or an update takes before
	// trying again; a longer one is returned as a retryable error with its RetryAfter. Zero
	// means 10 seconds.
	MaxWait time.Duration
	// Pace is the time between two writes to one channel; 0 means Slack's one a second, a
	// negative value none (a simulator that does not limit).
	Pace time.Duration
	// Now and After are the clock that paces posts, as time.Now and time.After; nil means
	// the real one.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// New returns a Threads that posts with the Web API when opts has a token, and prints to
// opts.Out otherwise.
func New(opts Options) bot.Threads {
	if opts.Token == "" {
		out := opts.Out
		if out == nil {
			out = os.Stdout
		}
		return NewTerminal(out)
	}
	return NewClient(opts)
}

// NewClient returns a Client that posts with opts.Token.
func NewClient(opts Options) *Client {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{token: opts.Token, logger: logger, pace: newPacer(opts.Pace, opts.Now, opts.After), maxWait: opts.MaxWait}
	if c.maxWait == 0 {
		c.maxWait = defaultMaxWait
	}
	if opts.APIURL != "" {
		c.apiURL = opts.APIURL
		if !strings.HasSuffix(c.apiURL, "/") {
			c.apiURL += "/" // slack-go appends method names to it
		}
	}
	c.httpClient = opts.HTTPClient
	c.api = slack.New(opts.Token, c.options()...)
	return c
}

// MetadataEventType is the event type of the metadata every casebot message carries, with
// the effect key under "key", so a message can be found again after a crash.
const MetadataEventType = "casebot_effect"

// Client posts through Slack's Web API.
type Client struct {
	api        *slack.Client
	token      string // kept to build the Socket Mode client beside api; never logged
	apiURL     string
	httpClient *http.Client
	logger     *slog.Logger
	pace       *pacer
	maxWait    time.Duration

	mu       sync.Mutex
	channels map[string]string // channel name → id, from the last conversations.list
}

var _ bot.Threads = (*Client)(nil)

// options are the slack-go options every client of this one's Slack shares.
func (c *Client) options(more ...slack.Option) []slack.Option {
	var options []slack.Option
	if c.apiURL != "" {
		options = append(options, slack.OptionAPIURL(c.apiURL))
	}
	if c.httpClient != nil {
		options = append(options, slack.OptionHTTPClient(c.httpClient))
	}
	return append(options, more...)
}

// Post posts m.Text, which is mrkdwn with its untrusted parts already escaped, to m.Channel
// and returns the message's ts. It never asks Slack to parse the text (link_names, parse=full),
// which would turn escaped names back into mentions.
func (c *Client) Post(ctx context.Context, m bot.Message) (string, error) {
	return c.post(ctx, "post to "+m.Channel, m.Channel, slack.MsgOptionText(m.Text, false), effectMetadata(m.Key))
}

// effectMetadata is the metadata of a message an effect posts.
func effectMetadata(key string) slack.MsgOption {
	return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: MetadataEventType, EventPayload: map[string]any{"key": key}})
}

// post posts a message to channel in its turn, and returns its ts.
func (c *Client) post(ctx context.Context, op, channel string, opts ...slack.MsgOption) (string, error) {
	id, err := c.channelID(ctx, op, channel)
	if err != nil {
		return "", err
	}
	var ts string
	err = c.write(ctx, op, id, func() (err error) {
		_, ts, err = c.api.PostMessageContext(ctx, id, opts...)
		return err
	})
	if err != nil {
		return "", err
	}
	c.logger.DebugContext(ctx, "posted to slack", "op", op, "ts", ts)
	return ts, nil
}

// Find looks for the message carrying key, posted to channel since since, through
// conversations.history with metadata. It reads from a little before since, as since is on
// casebot's clock and ts on Slack's.
func (c *Client) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	return c.findInHistory(ctx, "look for "+key+" in "+channel, channel, since, func(m slack.Message) bool {
		return m.Metadata.EventType == MetadataEventType && m.Metadata.EventPayload["key"] == key
	})
}

// findInHistory returns the ts of the newest message of channel, posted since since, that
// match accepts; "" when none does.
func (c *Client) findInHistory(ctx context.Context, op, channel string, since time.Time, match func(slack.Message) bool) (string, error) {
	id, err := c.channelID(ctx, op, channel)
	if err != nil {
		return "", err
	}
	params := &slack.GetConversationHistoryParameters{ChannelID: id, Limit: historyPage, IncludeAllMetadata: true}
	if !since.IsZero() {
		params.Oldest = formatTS(since.Add(-clockSkew))
	}
	for {
		h, err := c.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", classify(ctx, op, err)
		}
		for _, m := range h.Messages { // newest first
			if match(m) {
				c.logger.DebugContext(ctx, "found in slack", "op", op, "ts", m.Timestamp)
				return m.Timestamp, nil
			}
		}
		if h.ResponseMetaData.NextCursor == "" {
			return "", nil
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
}

// formatTS writes t as a Slack ts, to the microsecond.
func formatTS(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
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

// scopes are the bot token's scopes casebot's Slack needs, by what needs them: each Web API
// method it calls and the slash command. config/slack-manifest.yaml asks for exactly these; a
// test checks that, and that every method called is here.
var scopes = map[string][]string{
	"chat.postMessage":      {"chat:write"},
	"chat.update":           {"chat:write"},
	"chat.postEphemeral":    {"chat:write"},
	"conversations.history": {"channels:history", "groups:history"}, // public and private channels
	"conversations.replies": {"channels:history", "groups:history"},
	"conversations.list":    {"channels:read", "groups:read"},
	"/casebot":              {"commands"},
}

// appTokenScope is the app-level token's scope (apps.connections.open for Socket Mode). An
// app-level token is made in the app's settings; a manifest cannot ask for it.
const appTokenScope = "connections:write"

// botScopes returns every scope in scopes, sorted, once.
func botScopes() []string {
	var all []string
	for _, s := range scopes {
		all = append(all, s...)
	}
	slices.Sort(all)
	return slices.Compact(all)
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
		return "the Slack app lacks a scope (" + strings.Join(botScopes(), ", ") + ")"
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
