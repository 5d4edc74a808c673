package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"casebot/bot"
)

// commandName is the slash command config/slack-manifest.yaml declares.
const commandName = "/casebot"

// usage explains the slash command, to whoever typed it wrong.
const usage = "Usage: `/casebot why CASE STEP` (why a step of a case runs, waits or was skipped) or `/casebot plan CASE` (what happens to a case and when)."

// Listener receives what people do in Slack over Socket Mode, which needs no public URL:
// presses of a checklist's buttons and /casebot commands. It acknowledges each at once, hands
// it to a bot.ChatHandler, and posts the answer through its Client.
type Listener struct {
	client   *Client
	appToken string
	handler  bot.ChatHandler
}

// Listener returns a Listener that connects with the app-level token appToken (xapp-…, with
// the connections:write scope) and answers through c.
func (c *Client) Listener(appToken string, h bot.ChatHandler) *Listener {
	return &Listener{client: c, appToken: appToken, handler: h}
}

// grace is how long the presses and commands in hand may take to finish once Run is told to
// stop: they were acknowledged, so Slack will not send them again.
const grace = 10 * time.Second

// Run listens until ctx ends, connecting again whenever the connection drops or Slack asks
// for a new one, and returns nil then, once the presses and commands in hand are handled (for
// at most grace). It returns an error when Slack refuses the connection for good (a wrong or
// revoked token).
func (l *Listener) Run(ctx context.Context) error {
	api := slack.New(l.client.token, l.client.options(slack.OptionAppLevelToken(l.appToken))...)
	sm := socketmode.New(api)
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()

	var handlers sync.WaitGroup
	defer func() {
		t := time.AfterFunc(grace, stopWork)
		defer t.Stop()
		handlers.Wait()
	}()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return l.refused(ctx, err)
		case evt := <-sm.Events:
			if err := l.event(ctx, work, sm, evt, &handlers); err != nil {
				cancel()
				<-done
				return err
			}
		}
	}
}

// refused describes Slack's refusal to connect.
func (l *Listener) refused(ctx context.Context, err error) error {
	return classify(ctx, "open a Socket Mode connection (the app-level token needs "+appTokenScope+")", err)
}

// event deals with one event of the Socket Mode client, handing presses and commands to
// handlers that run with work. It returns an error only when Slack refused the connection for
// good.
func (l *Listener) event(ctx, work context.Context, sm *socketmode.Client, evt socketmode.Event, handlers *sync.WaitGroup) error {
	logger := l.client.logger
	switch evt.Type {
	case socketmode.EventTypeConnected:
		logger.InfoContext(ctx, "slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		// socketmode tries again for ever, but a refused token does not get better.
		if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok && ctx.Err() == nil {
			if err := l.refused(ctx, e.ErrorObj); !bot.IsRetryable(err) {
				return err
			}
			logger.WarnContext(ctx, "slack socket mode: connecting again", "error", e.ErrorObj, "in", e.Backoff)
		}
	case socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand, socketmode.EventTypeEventsAPI:
		// Acknowledge first: Slack delivers again what is not acknowledged within 3 seconds,
		// and a handler may take longer.
		if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			logger.WarnContext(ctx, "slack socket mode: acknowledge", "envelope", evt.Request.EnvelopeID, "error", err)
		}
		switch data := evt.Data.(type) {
		case slack.InteractionCallback:
			if data.Type == slack.InteractionTypeBlockActions {
				handlers.Go(func() { l.press(work, data) })
			}
		case slack.SlashCommand:
			handlers.Go(func() { l.command(work, data) })
		}
	}
	return nil
}

// press hands a block_actions payload to the handler as a bot.Press, and answers.
func (l *Listener) press(ctx context.Context, cb slack.InteractionCallback) {
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	for _, a := range cb.ActionCallback.BlockActions {
		var v buttonValue
		if err := json.Unmarshal([]byte(a.Value), &v); err != nil || v.CaseID == "" || !knownAction(v.Action) {
			l.client.logger.WarnContext(ctx, "slack: a press of a button casebot does not know", "action_id", a.ActionID, "user", cb.User.ID)
			l.answer(ctx, channel, cb.User.ID, bot.Answer{Ephemeral: true,
				Text: "casebot does not know this button; nothing changed."})
			continue
		}
		p := bot.Press{Action: v.Action, CaseID: v.CaseID, Playbook: v.Playbook, Step: v.Step,
			UserID: cb.User.ID, UserName: cb.User.Name, Channel: channel,
			MessageTS: cb.Container.MessageTs, ActionTS: a.ActionTs, Key: pressKey(cb.User.ID, a.ActionTs)}
		ans, err := l.handler.Press(ctx, p)
		if err != nil {
			l.client.logger.ErrorContext(ctx, "slack: a press was not applied", "key", p.Key, "case", p.CaseID, "action", p.Action, "error", err)
			ans = bot.Answer{Ephemeral: true, Text: "casebot could not record your press (" + text(string(p.Action)) +
				" on case " + text(p.CaseID) + "); nothing changed. Please press again in a minute."}
		}
		if !ans.Ephemeral && ans.ThreadTS == "" {
			ans.ThreadTS = p.MessageTS // the case's thread: its root is what was pressed
		}
		l.answer(ctx, channel, p.UserID, ans)
	}
}

// pressKey is the key of a press (see bot.Press.Key): Slack sends the press's action_ts again
// in every delivery of it, and one user cannot press twice in the same microsecond.
func pressKey(userID, actionTS string) string {
	return "slack-press/" + userID + "/" + actionTS
}

func knownAction(a bot.Action) bool {
	switch a {
	case bot.ActionHold, bot.ActionRelease, bot.ActionApproveDeletion, bot.ActionConfirm:
		return true
	}
	return false
}

// command hands a /casebot command to the handler as a bot.Command, and answers.
func (l *Listener) command(ctx context.Context, sc slack.SlashCommand) {
	if sc.Command != commandName {
		return // not casebot's: another command of the same app
	}
	words := strings.Fields(sc.Text)
	c := bot.Command{UserID: sc.UserID, UserName: sc.UserName, Channel: sc.ChannelID, ResponseURL: sc.ResponseURL}
	if len(words) > 0 {
		c.Name, c.Args = words[0], words[1:]
	}
	if !(c.Name == "why" && len(c.Args) == 2 || c.Name == "plan" && len(c.Args) == 1) {
		l.answer(ctx, c.Channel, c.UserID, bot.Answer{Ephemeral: true, Text: usage})
		return
	}
	ans, err := l.handler.Command(ctx, c)
	if err != nil {
		l.client.logger.ErrorContext(ctx, "slack: a command was not answered", "command", sc.Text, "user", c.UserID, "error", err)
		ans = bot.Answer{Ephemeral: true, Text: "casebot could not answer `" + commandName + " " + text(sc.Text) + "` now. Please try again in a minute."}
	}
	l.answer(ctx, c.Channel, c.UserID, ans)
}

// answer posts ans in channel, in the thread ans.ThreadTS if any: to user alone when
// ephemeral.
func (l *Listener) answer(ctx context.Context, channel, user string, ans bot.Answer) {
	if ans.Text == "" {
		return
	}
	opts := []slack.MsgOption{slack.MsgOptionText(ans.Text, false)}
	if ans.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(ans.ThreadTS))
	}
	var err error
	if ans.Ephemeral {
		err = l.client.ephemeral(ctx, channel, user, opts...)
	} else {
		_, err = l.client.post(ctx, "answer in "+channel, channel, opts...)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		l.client.logger.ErrorContext(ctx, "slack: answer", "channel", channel, "user", user, "error", err)
	}
}

// ephemeral posts a message that user alone sees in channel (an id). It is paced apart from
// the channel's posts, so an answer does not wait behind a burst of updates.
func (c *Client) ephemeral(ctx context.Context, channel, user string, opts ...slack.MsgOption) error {
	op := fmt.Sprintf("answer %s in %s", user, channel)
	return c.write(ctx, op, "ephemeral "+channel+" "+user, func() error {
		_, err := c.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	})
}
