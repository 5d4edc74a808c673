package slack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"casebot/bot"
)

// ThreadEventType is the event type of the metadata a case's root message carries, with the
// case id under "case_id" and the playbook under "playbook", so FindThread finds it again.
const ThreadEventType = "casebot_thread"

// PostRoot posts c as a new root message in channel and returns its ts.
func (c *Client) PostRoot(ctx context.Context, channel string, cl bot.Checklist) (string, error) {
	fallback, blocks := render(cl)
	return c.post(ctx, "post the root of case "+cl.CaseID+" to "+channel, channel,
		slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...), threadMetadata(cl))
}

func threadMetadata(cl bot.Checklist) slack.MsgOption {
	return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: ThreadEventType, EventPayload: map[string]any{"case_id": cl.CaseID, "playbook": cl.Playbook}})
}

// FindThread returns the ts of the newest root posted for caseID in channel since since.
// Newer roots replace older ones whose edit window closed, so the newest is the live one.
func (c *Client) FindThread(ctx context.Context, channel, caseID string, since time.Time) (string, error) {
	return c.findInHistory(ctx, "look for the thread of case "+caseID+" in "+channel, channel, since, func(m slack.Message) bool {
		return m.Metadata.EventType == ThreadEventType && m.Metadata.EventPayload["case_id"] == caseID
	})
}

// Update replaces the root ts in channel with c, in the channel's turn like a post.
func (c *Client) Update(ctx context.Context, channel, ts string, cl bot.Checklist) error {
	op := "update the root " + ts + " of case " + cl.CaseID + " in " + channel
	id, err := c.channelID(ctx, op, channel)
	if err != nil {
		return err
	}
	fallback, blocks := render(cl)
	err = c.write(ctx, op, id, func() error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, id, ts, slack.MsgOptionText(fallback, false),
			slack.MsgOptionBlocks(blocks...), threadMetadata(cl))
		return err
	})
	var e *bot.Error
	if errors.As(err, &e) && rootGone(e.Code) {
		return fmt.Errorf("%w: %w", bot.ErrRootGone, err)
	}
	if err == nil {
		c.logger.DebugContext(ctx, "updated slack root", "channel", channel, "case", cl.CaseID, "ts", ts)
	}
	return err
}

// rootGone reports the chat.update errors after which a root cannot be edited any more.
func rootGone(code string) bool {
	switch code {
	case "edit_window_closed", "message_not_found", "cant_update_message":
		return true
	}
	return false
}

// Reply posts m under the root threadTS.
func (c *Client) Reply(ctx context.Context, threadTS string, m bot.Message) (string, error) {
	return c.post(ctx, "reply in the thread "+threadTS+" of "+m.Channel, m.Channel,
		slack.MsgOptionText(m.Text, false), slack.MsgOptionTS(threadTS), effectMetadata(m.Key))
}

// FindReply returns the ts of the reply carrying key under the root threadTS, through
// conversations.replies with metadata: conversations.history does not list replies.
func (c *Client) FindReply(ctx context.Context, channel, threadTS, key string) (string, error) {
	op := "look for " + key + " in the thread " + threadTS + " of " + channel
	id, err := c.channelID(ctx, op, channel)
	if err != nil {
		return "", err
	}
	params := &slack.GetConversationRepliesParameters{ChannelID: id, Timestamp: threadTS, Limit: historyPage, IncludeAllMetadata: true}
	for {
		msgs, _, next, err := c.api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return "", classify(ctx, op, err)
		}
		for _, m := range msgs {
			if m.Timestamp != threadTS && m.Metadata.EventType == MetadataEventType && m.Metadata.EventPayload["key"] == key {
				return m.Timestamp, nil
			}
		}
		if next == "" {
			return "", nil
		}
		params.Cursor = next
	}
}
