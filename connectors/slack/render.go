package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"casebot/bot"
)

// Limits of Block Kit, and the lengths casebot cuts untrusted values to before escaping them
// (escaping can make a value five times as long).
const (
	headerLimit   = 150  // a header block's text
	sectionLimit  = 3000 // a section block's text
	buttonLimit   = 75   // a button's label
	titleLength   = 150  // a step title
	detailLength  = 300  // what a step waits for, or why it was skipped
	accountLength = 80   // an account's name in a confirmation dialog
)

// fallbackLayout is how a date reads where Slack cannot show it in the reader's zone.
const fallbackLayout = "Mon 2 Jan 2006 15:04 MST"

// text makes an untrusted value safe in Block Kit text: on one line, without control
// characters, escaped.
func text(s string) string {
	return bot.EscapeMrkdwn(bot.Printable(strings.Join(strings.Fields(s), " ")))
}

// caseLabel names c's case for people: "Case 00001026 · Acme Corp", unescaped.
func caseLabel(c bot.Checklist) string {
	label := "Case " + c.CaseNumber
	if c.CaseNumber == "" {
		label = "Case " + c.CaseID
	}
	if c.AccountName != "" {
		label += " · " + c.AccountName
	}
	return label
}

// render returns the root message of c: its notification text and its blocks.
func render(c bot.Checklist) (string, []slack.Block) {
	label := text(caseLabel(c))
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(bot.Truncate(label, headerLimit, "…"))),
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
			"Playbook *"+text(c.Playbook)+"* · case "+text(c.CaseID), false, false)),
	}
	var section strings.Builder
	flush := func() {
		if section.Len() > 0 {
			blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, section.String(), false, false), nil, nil))
			section.Reset()
		}
	}
	for _, it := range c.Items {
		line := itemLine(it, c.Location)
		if section.Len() > 0 && section.Len()+1+len(line) > sectionLimit {
			flush()
		}
		if section.Len() > 0 {
			section.WriteByte('\n')
		}
		section.WriteString(line)
	}
	flush()
	if len(c.Buttons) > 0 {
		var elems []slack.BlockElement
		for _, b := range c.Buttons {
			elems = append(elems, button(c, b))
		}
		blocks = append(blocks, slack.NewActionBlock("casebot_actions", elems...))
	}
	return label + ": " + text(c.Playbook) + " checklist", blocks
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

// itemLine is a checklist line in mrkdwn: an emoji, the step's title, where it stands.
func itemLine(it bot.ChecklistItem, loc *time.Location) string {
	title := it.Title
	if title == "" {
		title = it.Step
	}
	title = text(bot.Truncate(title, titleLength, "…"))
	status := itemStatus(it, func(t time.Time) string { return dateToken(t, loc) }, func(s string) string {
		return text(bot.Truncate(s, detailLength, "…"))
	})
	if it.State == bot.ItemSkipped {
		return markOf(it.State).emoji + " ~" + title + "~ — " + status
	}
	return markOf(it.State).emoji + " *" + title + "* — " + status
}

type mark struct{ emoji, symbol string }

// markOf returns the marks of a state: Slack's emoji, the terminal's symbol.
func markOf(s bot.ItemState) mark {
	if m, ok := itemMarks[s]; ok {
		return m
	}
	return mark{":grey_question:", "?"}
}

var itemMarks = map[bot.ItemState]mark{
	bot.ItemDone:      {":white_check_mark:", "✓"},
	bot.ItemDue:       {":arrow_forward:", "▶"},
	bot.ItemScheduled: {":spiral_calendar_pad:", "◷"},
	bot.ItemWaiting:   {":hourglass_flowing_sand:", "…"},
	bot.ItemHeld:      {":double_vertical_bar:", "‖"},
	bot.ItemSkipped:   {":heavy_minus_sign:", "–"},
	bot.ItemFailed:    {":x:", "✗"},
}

// itemStatus says where it stands in words ("due Mon 2 Nov…", "waiting for …"), with its date
// written by date and its detail, and a state not known here, made safe by clean.
func itemStatus(it bot.ChecklistItem, date func(time.Time) string, clean func(string) string) string {
	detail := clean(it.Detail)
	at := func(prefix string) string {
		if it.At.IsZero() {
			return ""
		}
		return prefix + date(it.At)
	}
	switch {
	case detail == "":
	case it.State == bot.ItemWaiting:
		detail = " for " + detail
	default:
		detail = ": " + detail
	}
	switch it.State {
	case bot.ItemDone:
		return "done" + at(" ")
	case bot.ItemDue:
		return "due now" + at(", since ")
	case bot.ItemScheduled:
		if it.At.IsZero() {
			return "date not known yet"
		}
		return "due" + at(" ")
	case bot.ItemHeld:
		return "held" + at(" since ") + detail
	}
	return clean(string(it.State)) + detail // waiting, skipped, failed, and a state not known here
}

// dateToken is t as Slack's date token, which each reader's client shows in their own zone
// ("Yesterday at 10:00 AM"); the fallback, in loc, is for clients that cannot.
func dateToken(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.In(loc).Format(fallbackLayout))
}

// buttonValue is what a button carries, for the press to say what it is about.
type buttonValue struct {
	Action   bot.Action `json:"action"`
	CaseID   string     `json:"case"`
	Playbook string     `json:"playbook"`
	Step     string     `json:"step,omitempty"`
}

// button renders b. Its action_id is unique in the message, as Slack requires; the value
// carries everything the press needs.
func button(c bot.Checklist, b bot.Button) *slack.ButtonBlockElement {
	value, _ := json.Marshal(buttonValue{Action: b.Action, CaseID: c.CaseID, Playbook: c.Playbook, Step: b.Step}) // strings only: cannot fail
	actionID := string(b.Action)
	if b.Step != "" {
		actionID += "/" + b.Step
	}
	el := slack.NewButtonBlockElement(actionID, string(value), plain(bot.Truncate(buttonLabel(c, b), buttonLimit, "…")))
	switch b.Action {
	case bot.ActionRelease, bot.ActionConfirm:
		el.WithStyle(slack.StylePrimary)
	case bot.ActionApproveDeletion:
		// Deleting a customer's data cannot be undone: ask once more.
		account := text(bot.Truncate(c.AccountName, accountLength, "…"))
		if account == "" {
			account = "the customer"
		}
		el.WithStyle(slack.StyleDanger).WithConfirm(slack.NewConfirmationBlockObject(
			plain("Approve data deletion?"),
			slack.NewTextBlockObject(slack.MarkdownType, "casebot will purge the data of "+account+
				" (case "+text(c.CaseNumber)+") when its step comes due. This cannot be undone.", false, false),
			plain("Approve"), plain("Cancel")).WithStyle(slack.StyleDanger))
	}
	return el
}

var buttonLabels = map[bot.Action]string{
	bot.ActionHold:            "Hold",
	bot.ActionRelease:         "Release",
	bot.ActionApproveDeletion: "Approve data deletion",
}

// buttonLabel is what b reads, escaped: a Confirm names the gate it completes.
func buttonLabel(c bot.Checklist, b bot.Button) string {
	if label, ok := buttonLabels[b.Action]; ok {
		return label
	}
	if b.Action != bot.ActionConfirm {
		return text(string(b.Action))
	}
	for _, it := range c.Items {
		if it.Step == b.Step && it.Title != "" {
			return "Confirm: " + text(it.Title)
		}
	}
	return "Confirm: " + text(b.Step)
}
