package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
)

// fakeThreads is a chat that keeps threads: roots with their checklists, replies under them.
type fakeThreads struct {
	fakeChat
	mu      sync.Mutex
	roots   map[string]*fakeRoot // by ts
	n       int
	updates int
	gone    map[string]bool // roots deleted or no longer editable
}

type fakeRoot struct {
	channel, caseID string
	list            bot.Checklist
	replies         []bot.Message
}

var _ bot.Threads = (*fakeThreads)(nil)

func newFakeThreads() *fakeThreads {
	return &fakeThreads{fakeChat: fakeChat{fail: map[string]error{}}, roots: map[string]*fakeRoot{}, gone: map[string]bool{}}
}

func (f *fakeThreads) PostRoot(ctx context.Context, channel string, c bot.Checklist) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	ts := fmt.Sprintf("root-%d", f.n)
	f.roots[ts] = &fakeRoot{channel: channel, caseID: c.CaseID, list: c}
	return ts, nil
}

func (f *fakeThreads) FindThread(ctx context.Context, channel, caseID string, since time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	found, n := "", 0
	for ts, r := range f.roots {
		var i int
		fmt.Sscanf(ts, "root-%d", &i)
		if r.channel == channel && r.caseID == caseID && !f.gone[ts] && i > n {
			found, n = ts, i
		}
	}
	return found, nil
}

func (f *fakeThreads) Update(ctx context.Context, channel, ts string, c bot.Checklist) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roots[ts]
	if !ok || f.gone[ts] {
		return fmt.Errorf("update %s: %w", ts, bot.ErrRootGone)
	}
	f.updates++
	r.list = c
	return nil
}

func (f *fakeThreads) Reply(ctx context.Context, threadTS string, m bot.Message) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roots[threadTS]
	if !ok {
		return "", fmt.Errorf("reply to unknown root %s", threadTS)
	}
	r.replies = append(r.replies, m)
	return fmt.Sprintf("%s.%d", threadTS, len(r.replies)), nil
}

func (f *fakeThreads) FindReply(ctx context.Context, channel, threadTS, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.roots[threadTS]; ok {
		for i, m := range r.replies {
			if m.Key == key {
				return fmt.Sprintf("%s.%d", threadTS, i+1), nil
			}
		}
	}
	return "", nil
}

// threadsOf returns the roots of the case in channel.
func (f *fakeThreads) threadsOf(channel string) []*fakeRoot {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fakeRoot
	for i := 1; i <= f.n; i++ {
		if r := f.roots[fmt.Sprintf("root-%d", i)]; r.channel == channel && !f.gone[fmt.Sprintf("root-%d", i)] {
			out = append(out, r)
		}
	}
	return out
}

func stateOf(list bot.Checklist, step string) bot.ItemState {
	for _, it := range list.Items {
		if it.Step == step {
			return it.State
		}
	}
	return ""
}

// newSOPThreads is the SOP world with a chat that keeps threads.
func newSOPThreads(t *testing.T, now *time.Time) (*Engine, *fakeCRM, *memStore, *fakeThreads) {
	eng, crm, store, _ := newSOP(t, now)
	chat := newFakeThreads()
	eng.opts.Chat = chat
	return eng, crm, store, chat
}

// A case's messages in a channel are replies in one thread whose root shows the checklist,
// edited in place as the steps complete; a cycle that changes nothing edits nothing.
func TestOneThreadPerCaseAndChannel(t *testing.T) {
	now := day0.Add(15 * time.Hour)
	eng, crm, _, chat := newSOPThreads(t, &now)
	eng.opts.ThreadField = "Slack_Threads__c"
	cycle(t, eng)
	legal := chat.threadsOf("#legal")
	if len(legal) != 1 || len(legal[0].replies) == 0 {
		t.Fatalf("#legal threads %+v, want one with replies", legal)
	}
	if len(chat.posts) != 0 {
		t.Errorf("%d loose posts, want every message in a thread", len(chat.posts))
	}
	root := legal[0]
	if root.list.CaseNumber != "00001001" || root.list.AccountName != "Acme Corp" || stateOf(root.list, "case-opened") != bot.ItemDone ||
		stateOf(root.list, "attrition") != bot.ItemScheduled {
		t.Errorf("checklist %+v, want the case, its account, case-opened done and attrition scheduled", root.list)
	}
	// The case tells people in Salesforce where it is followed.
	var ts string
	for k, r := range chat.roots {
		if r == root {
			ts = k
		}
	}
	if f, _ := crm.cases[0].Fields["Slack_Threads__c"].(string); !strings.Contains(f, "#legal "+ts) {
		t.Errorf("Slack_Threads__c = %q, want #legal %s among its lines", f, ts)
	}
	updates, replies := chat.updates, len(root.replies)
	writes := len(crm.writes())
	cycle(t, eng)
	if len(crm.writes()) != writes {
		t.Errorf("an idle cycle wrote %d records", len(crm.writes())-writes)
	}
	if chat.updates != updates || len(root.replies) != replies {
		t.Errorf("an idle cycle: %d updates, %d replies", chat.updates-updates, len(root.replies)-replies)
	}

	// Days later steps complete: the root is edited, and their messages are replies in the
	// same thread.
	now = day0.AddDate(0, 0, 3).Add(15 * time.Hour)
	cycle(t, eng)
	if got := chat.threadsOf("#legal"); len(got) != 1 || got[0] != root {
		t.Fatalf("#legal has %d threads, want the same one", len(got))
	}
	if chat.updates == updates || stateOf(root.list, "attrition") != bot.ItemDone {
		t.Errorf("%d updates, checklist %+v: want attrition done in place", chat.updates-updates, root.list.Items)
	}
	if len(root.replies) == replies {
		t.Error("no reply for the steps done")
	}
}

// A root that is gone (deleted, or past Slack's edit window) is replaced by a new one, and a
// lost ledger finds the case's thread again instead of starting a second one.
func TestThreadRootGoneAndLedgerLost(t *testing.T) {
	now := day0.Add(15 * time.Hour)
	eng, crm, store, chat := newSOPThreads(t, &now)
	cycle(t, eng)
	first := chat.threadsOf("#legal")[0]

	// The ledger is lost: a new store, and the same threads are found by their metadata.
	eng2, _, _, _ := newSOPThreads(t, &now)
	eng2.opts.CRM, eng2.opts.Chat = crm, chat
	now = day0.AddDate(0, 0, 3).Add(15 * time.Hour)
	cycle(t, eng2)
	if got := chat.threadsOf("#legal"); len(got) != 1 || got[0] != first || len(first.replies) < 2 {
		t.Fatalf("after losing the ledger: %d #legal threads, want the first one with a new reply", len(got))
	}

	// The root goes: the next change posts a new root, which the ledger then keeps.
	chat.mu.Lock()
	for ts, r := range chat.roots {
		if r == first {
			chat.gone[ts] = true
		}
	}
	chat.mu.Unlock()
	now = day0.AddDate(0, 0, 5).Add(15 * time.Hour)
	cycle(t, eng)
	got := chat.threadsOf("#legal")
	if len(got) != 1 || got[0] == first {
		t.Fatalf("after the root went: %d live #legal threads, want one new", len(got))
	}
	if e := store.get(threadKey("termination-sop", "#legal", caseID)); !strings.HasPrefix(e.Result, "root-") || e.Result == "" {
		t.Errorf("ledger keeps %+v", e)
	}
}
