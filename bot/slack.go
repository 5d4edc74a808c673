package bot

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Threads is a Chat that keeps one thread per case in each channel that follows it: a root
// message holding the case's checklist, edited in place as steps complete, move or wait, and
// every event a reply under it.
//
// Channels are given as in Message ("#legal" or an id). Errors are classified like Chat's:
// retryable when IsRetryable says so. Posts and updates are paced per channel; a short rate
// limit is waited out, a long one (or one past the context's deadline) is returned as a
// retryable *Error with its RetryAfter.
type Threads interface {
	Chat
	// PostRoot posts c as a new root message in channel and returns its ts. The message
	// carries c's case id and playbook in its metadata, so FindThread finds it again.
	PostRoot(ctx context.Context, channel string, c Checklist) (string, error)
	// FindThread returns the ts of the newest root message posted for caseID in channel since
	// since (the earliest a root can be, such as the case's creation; zero reads the whole
	// history), or "" when there is none: a restart, a new replica or a lost ledger keeps the
	// case's thread. A chat that cannot be asked (a terminal) returns "".
	FindThread(ctx context.Context, channel, caseID string, since time.Time) (string, error)
	// Update replaces the root message ts in channel with c. It returns an error that
	// errors.Is ErrRootGone when the root was deleted or can no longer be edited: post a new
	// root then, and keep its ts instead.
	Update(ctx context.Context, channel, ts string, c Checklist) error
	// Reply posts m in the thread of the root threadTS, with m.Key in its metadata, and
	// returns the reply's ts.
	Reply(ctx context.Context, threadTS string, m Message) (string, error)
	// FindReply returns the ts of the reply carrying key in the thread of the root threadTS
	// in channel, "" when there is none (see Chat.Find). A terminal returns "".
	FindReply(ctx context.Context, channel, threadTS, key string) (string, error)
}

// ErrRootGone is what Threads.Update returns (wrapped) when a case's root message was deleted
// or can no longer be edited (Slack's edit_window_closed, message_not_found,
// cant_update_message). It is not retryable: the thread needs a new root.
var ErrRootGone = errors.New("the thread's root message is gone or can no longer be edited")

// Checklist is the content of a case's root message: where each step of its playbook stands,
// and the buttons people may press. It is plain data; the chat renders it, escaping every
// value, so no field needs escaping beforehand.
type Checklist struct {
	CaseID      string
	CaseNumber  string
	AccountName string // "" when the case has no account
	Playbook    string
	// Location is the case's zone. Slack shows each reader the dates in their own zone; this
	// one is for readers whose client cannot, and for the terminal. Nil means UTC.
	Location *time.Location
	Items    []ChecklistItem // the playbook's steps, in order
	Buttons  []Button        // what may be pressed, in order; none for a closed case
}

// ChecklistItem is one step of a checklist.
type ChecklistItem struct {
	Step  string // the step's id
	Title string // what people read; the id when empty
	State ItemState
	// At is, by State: done, when it was done; due and scheduled, when it is due; held, since
	// when. Zero when unknown or meaningless (waiting, skipped, failed).
	At time.Time
	// Detail is, by State: waiting, what it waits for; skipped and failed, why; held, who
	// holds it or why. May be empty.
	Detail string
}

// ItemState is where a step of a checklist stands.
type ItemState string

const (
	ItemDone      ItemState = "done"      // every action is done
	ItemDue       ItemState = "due"       // due now, being performed or retried
	ItemScheduled ItemState = "scheduled" // comes due at At
	ItemWaiting   ItemState = "waiting"   // waits for what Detail says (a field, a gate, a date)
	ItemHeld      ItemState = "held"      // the case is on hold since At
	ItemSkipped   ItemState = "skipped"   // will not run, for the reason in Detail
	ItemFailed    ItemState = "failed"    // an action failed for good, as Detail says
)

// Action is what a button asks for.
type Action string

const (
	ActionHold            Action = "hold"             // put the case on hold: its clock stops
	ActionRelease         Action = "release"          // end the hold: the remaining steps move
	ActionApproveDeletion Action = "approve_deletion" // approve the purge of the customer's data
	ActionConfirm         Action = "confirm"          // complete a gate a role owns (Legal confirms terms)
)

// Button is a button of a checklist.
type Button struct {
	Action Action
	// Step is the step or gate the press is for: the gate a Confirm completes, the approval
	// step of ApproveDeletion. "" for Hold and Release.
	Step string
}

// Press is a button of a checklist pressed by someone in Slack.
type Press struct {
	Action    Action
	CaseID    string
	Playbook  string
	Step      string // as the Button had it
	UserID    string // Slack's user id ("U…")
	UserName  string // the user's handle, for comments on the case
	Channel   string // the channel's id
	MessageTS string // the root message the button is on
	ActionTS  string // when it was pressed, as Slack's ts
	// Key is the same for every delivery of one press, and different for each press:
	// "slack-press/<UserID>/<ActionTS>". Slack delivers a press again when it missed the
	// acknowledgement; apply each Key once.
	Key string
}

// Command is a /casebot slash command typed in Slack.
type Command struct {
	Name        string   // "why" or "plan"
	Args        []string // "why": case and step; "plan": case. As typed: untrusted
	UserID      string
	UserName    string
	Channel     string // the channel's id; Slack does not say from which thread
	ResponseURL string // Slack's URL for delayed answers, valid for 30 minutes
}

// Answer is what casebot says back to a press or a command.
type Answer struct {
	Text string // Slack mrkdwn, untrusted parts escaped (EscapeMrkdwn); "" says nothing
	// Ephemeral shows Text only to the user who pressed or typed: refusals.
	Ephemeral bool
	// ThreadTS is the root to answer under. A press's answer defaults to the root pressed;
	// a command's, without one, goes to the channel.
	ThreadTS string
}

// ChatHandler decides what people's presses and commands do. The chat calls it for each one
// received, possibly concurrently and, when Slack delivers a press again, more than once
// with the same Press.Key.
type ChatHandler interface {
	// Press applies p, or refuses it (an ephemeral Answer saying why). An error means it was
	// not applied; the presser is told to try again.
	Press(ctx context.Context, p Press) (Answer, error)
	// Command answers c, in the words of the CLI's why and plan.
	Command(ctx context.Context, c Command) (Answer, error)
}

// mrkdwn escapes the three characters Slack treats as control sequences ("<!channel>",
// "<@U123>", "<url|label>") and nothing else, as Slack asks.
var mrkdwn = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// EscapeMrkdwn makes untrusted text safe in Slack mrkdwn and Block Kit text: no mention, no
// channel or user link, no link, shown as written.
func EscapeMrkdwn(s string) string { return mrkdwn.Replace(s) }
