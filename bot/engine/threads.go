package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// A case's messages in a channel are one thread: a root message holding the case's checklist
// (where each step stands), edited in place as steps complete, move or wait, and every message
// a reply under it. A channel follows a case from its first message there; cases nobody was
// told about get no root (at one post a second and channel, a root for each of 10,000 cases
// would take hours).
//
// The root's ts and the hash of the checklist it shows are kept in the ledger, under the
// case, so that a restart keeps the thread and an unchanged checklist costs no call; a lost
// ledger finds the root again by its metadata (Threads.FindThread).

// threadKey is the ledger key of a case's thread in a channel: the entry's Result is the
// root's ts, its Detail the hash of the checklist the root shows.
func threadKey(playbook, channel, caseID string) string {
	return "slack-thread/" + playbook + "/" + channel + "/" + caseID
}

// threadSyncBudget bounds the time a cycle spends editing roots: Slack takes about one
// message a second and channel, and what is left is edited by the next cycles (the ledger's
// hash stays the old one until the root shows the new checklist).
const threadSyncBudget = 20 * time.Second

// root is a case's root message in a channel.
type root struct{ ts, hash string }

// threadView is a case's checklist as the latest pass evaluated it, and the roots of its
// threads by channel.
type threadView struct {
	c     *bot.Case
	list  bot.Checklist
	hash  string
	roots map[string]root
}

// threads are the threads of a playbook's cases during one settle of its cases.
type threads struct {
	e     *Engine
	chat  bot.Threads
	p     *rules.Playbook
	mu    sync.Mutex
	views map[string]*threadView // by case id
	fresh []bot.LedgerEntry      // roots posted since the last phase's outcomes were written
	moved map[string]bool        // cases whose roots were posted or found in this settle
}

// newThreads returns the threads of p's cases, or nil when the chat keeps no threads.
func (e *Engine) newThreads(p *rules.Playbook) *threads {
	chat, ok := e.opts.Chat.(bot.Threads)
	if !ok {
		return nil
	}
	return &threads{e: e, chat: chat, p: p, views: map[string]*threadView{}, moved: map[string]bool{}}
}

// see keeps a case's checklist as res has it, when the case has a thread or is about to be
// told something (a message is due); called for every case a pass evaluates.
func (t *threads) see(c *bot.Case, l bot.Ledger, res rules.Result, loc *time.Location) {
	if t == nil {
		return
	}
	prefix := "slack-thread/" + t.p.Name + "/"
	roots := map[string]root{}
	for k, e := range l {
		if ch, ok := strings.CutPrefix(k, prefix); ok && e.State == bot.StateDone {
			roots[strings.TrimSuffix(ch, "/"+c.ID)] = root{ts: e.Result, hash: e.Detail}
		}
	}
	told := false
	for _, eff := range res.Due {
		told = told || eff.Kind == bot.KindSlack
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(roots) == 0 && !told {
		delete(t.views, c.ID)
		return
	}
	list := checklist(t.p, c, l, res, loc)
	t.views[c.ID] = &threadView{c: c, list: list, hash: hashOf(list), roots: roots}
}

// root returns the ts of the case's root in channel, posting one (or finding the one an
// earlier process posted) when the case has none there yet.
func (t *threads) root(ctx context.Context, c *bot.Case, channel string) (string, error) {
	t.mu.Lock()
	v := t.views[c.ID]
	t.mu.Unlock()
	if v == nil { // not evaluated in this settle: cannot happen for a due message, but be safe
		return "", &bot.Error{Op: "thread of case " + c.ID, Code: "NO_CHECKLIST", Message: "the case was not evaluated", Retryable: true}
	}
	if r, ok := v.roots[channel]; ok {
		return r.ts, nil
	}
	ts, err := t.chat.FindThread(ctx, channel, c.ID, c.Created())
	if err != nil {
		return "", fmt.Errorf("looking in %s for the case's thread: %w", channel, err)
	}
	hash := ""
	if ts == "" {
		if ts, err = t.chat.PostRoot(ctx, channel, v.list); err != nil {
			return "", fmt.Errorf("starting the case's thread in %s: %w", channel, err)
		}
		hash = v.hash
	}
	t.mu.Lock()
	v.roots[channel] = root{ts: ts, hash: hash}
	// Written with the phase's outcomes: a crash before leaves a root the next attempt finds
	// by its metadata.
	t.fresh = append(t.fresh, t.entry(c.ID, channel, ts, hash))
	t.moved[c.ID] = true
	t.mu.Unlock()
	return ts, nil
}

// started returns the entries of the roots posted since it was last called.
func (t *threads) started() []bot.LedgerEntry {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.fresh
	t.fresh = nil
	return out
}

// entry is the ledger entry of a case's root in channel.
func (t *threads) entry(caseID, channel, ts, hash string) bot.LedgerEntry {
	return bot.LedgerEntry{Key: threadKey(t.p.Name, channel, caseID), CaseID: caseID, Playbook: t.p.Name, Step: "slack-thread",
		State: bot.StateDone, Result: ts, Detail: hash, Attempts: 1, At: t.e.opts.Now()}
}

// sync edits the roots whose checklist changed, and posts a new root where the old one is
// gone, within threadSyncBudget; what it does not reach, a later cycle does. Failures are
// logged: the checklist is a view, and the next cycle tries again.
func (t *threads) sync(ctx context.Context) error {
	if t == nil {
		return nil
	}
	budget, cancel := context.WithTimeout(ctx, threadSyncBudget)
	defer cancel()
	var entries []bot.LedgerEntry
	// In order, so that a terminal prints the same each time.
	for _, id := range slices.Sorted(maps.Keys(t.views)) {
		v := t.views[id]
		for _, ch := range slices.Sorted(maps.Keys(v.roots)) {
			r := v.roots[ch]
			if r.hash == v.hash || budget.Err() != nil {
				continue
			}
			err := t.chat.Update(budget, ch, r.ts, v.list)
			if errors.Is(err, bot.ErrRootGone) {
				var ts string
				if ts, err = t.chat.PostRoot(budget, ch, v.list); err == nil {
					t.e.log.Info("a case's thread lost its root: posted a new one", "case", id, "channel", ch, "old", r.ts, "new", ts)
					r.ts = ts
					v.roots[ch], t.moved[id] = root{ts: ts, hash: r.hash}, true
				}
			}
			if err != nil {
				t.e.log.Warn("could not update a case's checklist", "case", id, "channel", ch, "err", err)
				continue
			}
			entries = append(entries, t.entry(id, ch, r.ts, v.hash))
		}
	}
	t.tellCases(ctx)
	t.views = map[string]*threadView{}
	if err := t.e.record(ctx, entries...); err != nil {
		return &LedgerError{Err: fmt.Errorf("recording %d thread(s): %w", len(entries), err)}
	}
	return nil
}

// tellCases writes the threads of the cases whose roots moved to Options.ThreadField, in one
// batch. A failure is logged: the field is for people, and the next root to move writes it.
func (t *threads) tellCases(ctx context.Context) {
	field := t.e.opts.ThreadField
	if field == "" || len(t.moved) == 0 {
		return
	}
	var ws []bot.Write
	for _, id := range slices.Sorted(maps.Keys(t.moved)) {
		v := t.views[id]
		if v == nil {
			continue
		}
		var lines []string
		for _, ch := range slices.Sorted(maps.Keys(v.roots)) {
			lines = append(lines, ch+" "+v.roots[ch].ts)
		}
		ws = append(ws, bot.Write{Op: bot.OpUpdate, Object: "Case", ID: id, Fields: bot.Fields{field: strings.Join(lines, "\n")}})
	}
	t.moved = map[string]bool{}
	res, err := t.e.opts.CRM.Apply(ctx, ws)
	for i, r := range res {
		if r.Err != nil && err == nil {
			err = fmt.Errorf("case %s: %w", ws[i].ID, r.Err)
		}
	}
	if err != nil {
		t.e.log.Warn("could not write the cases' Slack threads", "field", field, "err", err)
	}
}

// checklist is the checklist of case c as res evaluates it.
func checklist(p *rules.Playbook, c *bot.Case, l bot.Ledger, res rules.Result, loc *time.Location) bot.Checklist {
	list := bot.Checklist{CaseID: c.ID, Playbook: p.Name, Location: loc, Items: make([]bot.ChecklistItem, len(res.Steps))}
	list.CaseNumber, _ = c.Fields["CaseNumber"].(string)
	if c.Account != nil {
		list.AccountName, _ = c.Account.Fields["Name"].(string)
	}
	done := doneAt(p.Name, c.ID, l)
	for i, st := range res.Steps {
		item := bot.ChecklistItem{Step: st.Step, Title: st.Title}
		switch st.State {
		case rules.StateDone:
			item.State, item.At = bot.ItemDone, done[st.Step]
		case rules.StateDue, rules.StateRetrying:
			item.State, item.At = bot.ItemDue, st.At
		case rules.StateScheduled:
			item.State, item.At = bot.ItemScheduled, st.At
		case rules.StateWaiting:
			item.State, item.Detail = bot.ItemWaiting, detail(st.Reason, "Waiting")
		case rules.StateHeld:
			item.State, item.At = bot.ItemHeld, st.HeldSince
		case rules.StateSkipped:
			item.State, item.Detail = bot.ItemSkipped, detail(st.Reason, "Skipped")
		default:
			item.State, item.Detail = bot.ItemFailed, detail(st.Reason, "Failed")
		}
		list.Items[i] = item
	}
	// A case whose every step is behind it has nothing left to hold or confirm.
	if slices.ContainsFunc(list.Items, func(it bot.ChecklistItem) bool {
		return it.State != bot.ItemDone && it.State != bot.ItemSkipped && it.State != bot.ItemFailed
	}) {
		list.Buttons = p.Buttons(*c, res)
	}
	return list
}

// detail is a step's reason without the word that says its state, which the checklist shows
// its own way: "Waiting since Thu 5 Nov for …" is "since Thu 5 Nov for …" beside a waiting step.
func detail(reason, state string) string {
	if rest, ok := strings.CutPrefix(reason, state); ok {
		return strings.TrimLeft(rest, ": ")
	}
	return reason
}

// doneAt is when each step of a case was done: the time of its last action's outcome.
func doneAt(playbook, caseID string, l bot.Ledger) map[string]time.Time {
	out := map[string]time.Time{}
	for k, e := range l {
		rest, ok := strings.CutPrefix(k, playbook+"/")
		if !ok || e.State != bot.StateDone || !strings.HasSuffix(rest, "/"+caseID) {
			continue
		}
		step, _, _ := strings.Cut(rest, "/")
		if e.At.After(out[step]) {
			out[step] = e.At
		}
	}
	return out
}

// hashOf is a short hash of what a checklist shows.
func hashOf(list bot.Checklist) string {
	h := fnv.New64a()
	io.WriteString(h, list.CaseNumber+"\x00"+list.AccountName+"\x00")
	for _, it := range list.Items {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%s\x00", it.Step, it.Title, it.State, it.At.Unix(), it.Detail)
	}
	for _, b := range list.Buttons {
		fmt.Fprintf(h, "%s\x00%s\x00", b.Action, b.Step)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}
