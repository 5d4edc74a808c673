package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"casebot/bot"
	"casebot/config"
	"casebot/rules"
)

// Listener receives what people do in Slack and hands it to a bot.ChatHandler until ctx ends
// (connectors/slack's, through Wiring.Listen).
type Listener interface {
	Run(ctx context.Context) error
}

// listen receives presses and commands from Slack beside the engine, when slack.app_token is
// set, until ctx ends; the channel it returns is closed once it has stopped. A press that
// changed a case asks the engine for a cycle soon, through kicks.
func (d *daemon) listen(ctx context.Context, kicks chan<- struct{}, w Wiring) <-chan struct{} {
	stopped := make(chan struct{})
	var l Listener
	if d.cfg.Slack.AppToken != "" && w.Listen != nil {
		threads, _ := d.chat.(bot.Threads)
		h := NewChatHandler(ChatHandlerOptions{CRM: d.set.crm, Store: d.store, Playbooks: d.set.pbs,
			Approvers: d.cfg.Slack.Approvers, Logger: d.log, Threads: threads, Kick: func() { kick(kicks) }})
		l = w.Listen(d.chat, d.cfg.Slack.AppToken.Value(), h)
	}
	if l == nil {
		close(stopped)
		return stopped
	}
	go func() {
		defer close(stopped)
		if err := l.Run(ctx); err != nil {
			d.log.Error("slack: presses and commands cannot be received", "error", err)
		}
	}()
	return stopped
}

// checkApprovers checks the config's approvers against the playbooks casebot runs.
func checkApprovers(cfg *config.Config, pbs []*rules.Playbook) error {
	buttons := make(map[string][]bot.Button, len(pbs))
	for _, p := range pbs {
		buttons[p.Name] = p.PossibleButtons()
	}
	return cfg.CheckApprovers(buttons)
}

// ChatHandler is what people's presses of a checklist's buttons and their /casebot commands
// do (bot.ChatHandler). A press is checked (its presser is an approver of its action on its
// playbook, its case is open, the button still applies), written to the case (the field, and
// a comment saying who and when, so Salesforce stays the record), and recorded in the ledger
// under its key, so that a press Slack delivers again is applied once.
type ChatHandler struct {
	src       *source
	approvers config.Approvers
	threads   bot.Threads
	now       func() time.Time
	kick      func()
	log       *slog.Logger
	// turn takes presses one at a time: two presses of one case must not both pass the checks,
	// nor two deliveries of one press both find it new. A channel, so that a press waiting for
	// its turn gives up when its context ends.
	turn chan struct{}
}

var _ bot.ChatHandler = (*ChatHandler)(nil)

// ChatHandlerOptions configure NewChatHandler.
type ChatHandlerOptions struct {
	CRM       bot.CRM
	Store     bot.Store // the ledger the engine keeps
	Playbooks []*rules.Playbook
	Approvers config.Approvers
	Now       func() time.Time // nil means time.Now
	// Kick asks the engine for a cycle soon, once a press changed a case; nil asks nothing.
	Kick   func()
	Logger *slog.Logger // nil discards
	// Threads, when set, finds the case's thread in the channel a command was typed in, to
	// answer there.
	Threads bot.Threads
}

// NewChatHandler returns the handler of presses and commands over o's CRM, ledger and
// playbooks.
func NewChatHandler(o ChatHandlerOptions) *ChatHandler {
	h := &ChatHandler{src: &source{setup: &setup{pbs: o.Playbooks, crm: o.CRM}, store: o.Store},
		approvers: o.Approvers, threads: o.Threads, now: o.Now, kick: o.Kick, log: o.Logger, turn: make(chan struct{}, 1)}
	if h.now == nil {
		h.now = time.Now
	}
	if h.kick == nil {
		h.kick = func() {}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// pressPlaybook is the Playbook of the ledger entries of presses: no playbook's, so the engine
// leaves them alone.
const pressPlaybook = "slack"

// Press applies p once, or refuses it with an ephemeral answer saying why.
func (h *ChatHandler) Press(ctx context.Context, p bot.Press) (bot.Answer, error) {
	b := bot.Button{Action: p.Action, Step: p.Step}
	pb := h.playbook(p.Playbook)
	switch {
	case pb == nil:
		return refusal("casebot runs no playbook %q: nothing changed.", p.Playbook), nil
	case !h.approvers.Allow(p.UserID, pb.Name, b):
		return refusal("You are not an approver of %s on %s cases: nothing changed. casebot's admin names the approvers (slack.approvers in its config).",
			actionWords[b.Action], pb.Name), nil
	case !bot.IsRecordID(p.CaseID, "500"):
		return refusal("There is no case %q: nothing changed.", p.CaseID), nil
	}
	select {
	case h.turn <- struct{}{}:
		defer func() { <-h.turn }()
	case <-ctx.Done():
		return bot.Answer{}, ctx.Err()
	}
	ledgers, err := h.src.store.Entries(ctx, []string{p.CaseID})
	if err != nil {
		return bot.Answer{}, fmt.Errorf("reading the ledger of case %s: %w", p.CaseID, err)
	}
	l := ledgers[p.CaseID]
	claim, seen := l[p.Key]
	if seen && claim.State == bot.StateDone {
		return bot.Answer{Ephemeral: true, Text: "Your press was applied already: nothing more changed."}, nil
	}
	q := displayQuery(pb.Query)
	q.IDs = []string{p.CaseID}
	cases, err := h.src.crm.Cases(ctx, q)
	if err != nil {
		return bot.Answer{}, fmt.Errorf("reading case %s: %w", p.CaseID, err)
	}
	if len(cases) == 0 {
		return refusal("Case %s is not an open case of %s any more: nothing changed.", p.CaseID, pb.Name), nil
	}
	c := cases[0]
	field, value, ok := pressField(pb, b)
	if !ok {
		return refusal("Playbook %s has no such button: nothing changed.", pb.Name), nil
	}
	now := h.now()
	// A press claimed before was checked then; the checks would now see what it may have
	// written itself.
	if !seen {
		res := pb.Evaluate(c, l, now)
		if !slices.Contains(pb.Buttons(c, res), b) {
			return refusal("%s", stale(pb, c, res, b)), nil
		}
		claim = bot.LedgerEntry{Key: p.Key, CaseID: c.ID, Playbook: pressPlaybook, Step: p.Step, State: bot.StateClaimed,
			At: now, Claimed: now, Detail: fmt.Sprintf("%s by %s (%s)", p.Action, p.UserName, p.UserID)}
		if err := h.src.store.Record(ctx, claim); err != nil {
			return bot.Answer{}, fmt.Errorf("claiming press %s: %w", p.Key, err)
		}
	}
	comment, err := h.apply(ctx, c, pb, p, field, value, claim, seen)
	if err != nil {
		return bot.Answer{}, err
	}
	done := claim
	done.State, done.Result, done.At = bot.StateDone, comment, now
	if err := h.src.store.Record(ctx, done); err != nil {
		return bot.Answer{}, fmt.Errorf("recording press %s: %w", p.Key, err)
	}
	h.log.InfoContext(ctx, "slack press applied", "case", c.ID, "action", p.Action, "step", p.Step, "user", p.UserID, "key", p.Key)
	h.kick()
	return bot.Answer{Text: pressAnswer(pb, c, b, p.UserID)}, nil
}

func (h *ChatHandler) playbook(name string) *rules.Playbook {
	for _, pb := range h.src.pbs {
		if pb.Name == name {
			return pb
		}
	}
	return nil
}

// pressField returns the field a press of b sets on a case of pb, and the value it sets.
func pressField(pb *rules.Playbook, b bot.Button) (rules.FieldRef, bool, bool) {
	switch b.Action {
	case bot.ActionHold, bot.ActionRelease:
		return pb.Hold, b.Action == bot.ActionHold, pb.Hold.Name != ""
	}
	for _, s := range pb.Steps {
		if sb, field, ok := s.Button(); ok && sb == b {
			return field, true, true
		}
	}
	return rules.FieldRef{}, false, false
}

// apply writes a press to case c: the field first, then the comment saying who and when,
// whose marker says that the press is complete. When an earlier attempt may have written
// some of it (recovering), the comment is looked for first, found it is the outcome, and a
// field found set is not written again.
func (h *ChatHandler) apply(ctx context.Context, c bot.Case, pb *rules.Playbook, p bot.Press, field rules.FieldRef, value bool,
	claim bot.LedgerEntry, recovering bool) (string, error) {
	marker := bot.CommentMarker(p.Key)
	if recovering {
		found, err := h.src.crm.Find(ctx, bot.FindQuery{Comments: map[string][]string{c.ID: {marker}}, Since: claim.Claimed})
		if err != nil {
			return "", fmt.Errorf("looking for what press %s wrote: %w", p.Key, err)
		}
		if id, ok := found[marker]; ok {
			return id, nil
		}
	}
	if !recovering || rules.FieldValue(&c, field) != value {
		id := c.ID
		if field.Object == rules.ObjectAccount && c.Account != nil {
			id = c.Account.ID
		}
		if _, err := h.write(ctx, c.ID, bot.Write{Op: bot.OpUpdate, Object: field.Object, ID: id, Fields: bot.Fields{field.Name: value}}); err != nil {
			return "", err
		}
	}
	text := pressComment(pb, p, claim.Claimed) + "\n\n[" + marker + "]"
	return h.write(ctx, c.ID, bot.Write{Op: bot.OpCreate, Object: "CaseComment",
		Fields: bot.Fields{"ParentId": c.ID, "CommentBody": text, "IsPublished": false}})
}

// write performs one write for case caseID and returns the record's id.
func (h *ChatHandler) write(ctx context.Context, caseID string, w bot.Write) (string, error) {
	res, err := h.src.crm.Apply(ctx, []bot.Write{w})
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		return "", fmt.Errorf("%s %s for a press on case %s: %w", w.Op, w.Object, caseID, err)
	}
	return res[0].ID, nil
}

// actionWords name the actions in sentences: "You are not an approver of …".
var actionWords = map[bot.Action]string{
	bot.ActionHold:            "holds",
	bot.ActionRelease:         "releases",
	bot.ActionApproveDeletion: "data deletion approvals",
	bot.ActionConfirm:         "confirmations",
}

// pressComment is the case comment that records a press: what was done in Slack, by whom,
// when (at, in UTC).
func pressComment(pb *rules.Playbook, p bot.Press, at time.Time) string {
	who := fmt.Sprintf("in Slack by @%s (%s) at %s", bot.Printable(p.UserName), p.UserID, at.UTC().Format("2006-01-02 15:04 UTC"))
	switch p.Action {
	case bot.ActionHold:
		return "Held " + who + "."
	case bot.ActionRelease:
		return "Hold released " + who + "."
	case bot.ActionApproveDeletion:
		return "Data deletion approved " + who + ": " + stepTitle(pb, p.Step) + "."
	}
	return "Confirmed " + who + ": " + stepTitle(pb, p.Step) + "."
}

// pressAnswer is the thread reply that says what a press did. The mention is built from the
// id Slack gave, when it is one; every other part is escaped.
func pressAnswer(pb *rules.Playbook, c bot.Case, b bot.Button, user string) string {
	by := "<@" + user + ">"
	if !slackUserID.MatchString(user) {
		by = bot.EscapeMrkdwn(user)
	}
	label := bot.EscapeMrkdwn(caseLabel(c))
	switch b.Action {
	case bot.ActionHold:
		return "Held by " + by + ": nothing on case " + label + " comes due until it is released."
	case bot.ActionRelease:
		return "Released by " + by + ": case " + label + " goes on, its remaining steps later by the time it was held."
	case bot.ActionApproveDeletion:
		return "Data deletion approved by " + by + " for case " + label + ": " + bot.EscapeMrkdwn(stepTitle(pb, b.Step)) + "."
	}
	return "Confirmed by " + by + " for case " + label + ": " + bot.EscapeMrkdwn(stepTitle(pb, b.Step)) + "."
}

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]+$`)

// stepTitle names a step for people: its title, or its id.
func stepTitle(pb *rules.Playbook, id string) string {
	for _, s := range pb.Steps {
		if s.ID == id && s.Title != "" {
			return s.Title
		}
	}
	return id
}

// stale says why b is not a button of case c (evaluated as res) any more.
func stale(pb *rules.Playbook, c bot.Case, res rules.Result, b bot.Button) string {
	label := caseLabel(c)
	switch b.Action {
	case bot.ActionHold:
		return "Case " + label + " is on hold already: nothing changed."
	case bot.ActionRelease:
		return "Case " + label + " is not on hold: nothing changed."
	}
	i := slices.IndexFunc(pb.Steps, func(s *rules.Step) bool { return s.ID == b.Step })
	return fmt.Sprintf("Step %s of case %s does not wait for this now: %s Nothing changed.", b.Step, label, res.Steps[i].Reason)
}

// refusal is an ephemeral answer, escaped whole: it quotes what was pressed.
func refusal(format string, args ...any) bot.Answer {
	return bot.Answer{Ephemeral: true, Text: bot.EscapeMrkdwn(fmt.Sprintf(format, args...))}
}

// maxAnswer bounds an answer's text below Slack's 40,000 characters.
const maxAnswer = 38000

// Command answers /casebot why CASE STEP and /casebot plan CASE with what casebot why and
// casebot plan -case print, as a code block; a case or step that is not there is said to
// whoever asked alone.
func (h *ChatHandler) Command(ctx context.Context, c bot.Command) (bot.Answer, error) {
	var out bytes.Buffer
	var about *bot.Case // the case answered about
	var err error
	switch {
	case c.Name == "why" && len(c.Args) == 2:
		about, err = h.src.writeWhy(ctx, &out, c.Args[0], c.Args[1], h.now())
	case c.Name == "plan" && len(c.Args) == 1:
		about, err = h.src.writePlans(ctx, &out, c.Args[0], planDays*24*time.Hour, h.now())
	default:
		return refusal("casebot answers /casebot why CASE STEP and /casebot plan CASE."), nil
	}
	asked := "/casebot " + strings.Join(append([]string{c.Name}, c.Args...), " ")
	var nf notFound
	var ue usageError
	switch {
	case errors.As(err, &nf) || errors.As(err, &ue):
		return refusal("%s: %v", asked, err), nil
	case err != nil:
		return bot.Answer{}, err
	}
	text := "`" + bot.EscapeMrkdwn(asked) + "`\n```\n" + bot.EscapeMrkdwn(strings.TrimRight(out.String(), "\n")) + "\n```"
	return bot.Answer{Text: bot.Truncate(text, maxAnswer, "\n…\n```"), ThreadTS: h.thread(ctx, c.Channel, about)}, nil
}

// thread is the ts of the thread of case cs in channel, where a command about it was typed;
// "" when it has none there (or it cannot be found: the answer then goes to the channel).
func (h *ChatHandler) thread(ctx context.Context, channel string, cs *bot.Case) string {
	if h.threads == nil || cs == nil {
		return ""
	}
	ts, err := h.threads.FindThread(ctx, channel, cs.ID, cs.Created())
	if err != nil {
		h.log.Warn("could not find the case's thread to answer in", "case", cs.ID, "channel", channel, "err", err)
		return ""
	}
	return ts
}
