package engine

import (
	"context"
	"maps"
	"sync"

	"casebot/bot"
)

// ledgerCache keeps the ledgers of the open cases between passes and cycles, so that a pass
// reads only what was written since (bot.Store.Changes): by this engine, or by anyone else
// sharing the ledger (casebot retry, a Slack press, mail intake, another replica). Reading
// every open case's ledger was a third of an idle cycle at 10,000 cases (issue 11).
type ledgerCache struct {
	mu     sync.Mutex
	gen    int64                 // the generation the kept ledgers are up to date with
	byCase map[string]bot.Ledger // a case's ledger, empty when it has none; nil before the first read
	used   map[string]bool       // the cases read this cycle: the others are let go at its end
}

// entries returns the ledgers of the cases ids, by case id, as Store.Entries does (cases
// without entries absent). The ledgers are the caller's: what it does to them is not kept.
func (c *ledgerCache) entries(ctx context.Context, store bot.Store, ids []string) (map[string]bot.Ledger, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byCase == nil {
		// The generation before the first read: what is written after it comes as a change,
		// perhaps again, which is harmless.
		g, err := store.Generation(ctx)
		if err != nil {
			return nil, err
		}
		c.gen, c.byCase = g, map[string]bot.Ledger{}
	} else {
		es, g, err := store.Changes(ctx, c.gen)
		if err != nil {
			return nil, err
		}
		if g < c.gen { // another ledger now: nothing kept holds
			c.byCase = map[string]bot.Ledger{}
		}
		for _, e := range es {
			if l, ok := c.byCase[e.CaseID]; ok {
				l[e.Key] = e
			}
		}
		c.gen = g
	}
	var missing []string
	for _, id := range ids {
		if _, ok := c.byCase[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		read, err := store.Entries(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, id := range missing {
			l := read[id]
			if l == nil {
				l = bot.Ledger{}
			}
			c.byCase[id] = l
		}
	}
	out := make(map[string]bot.Ledger, len(ids))
	for _, id := range ids {
		if c.used != nil {
			c.used[id] = true
		}
		if l := c.byCase[id]; len(l) > 0 {
			out[id] = maps.Clone(l)
		}
	}
	return out, nil
}

// begin starts a cycle's count of the cases it reads.
func (c *ledgerCache) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = map[string]bool{}
}

// end lets go of the ledgers of the cases the cycle did not read (closed, or no longer
// matching a playbook): the cache holds the open cases, not the ledger's history.
func (c *ledgerCache) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.byCase {
		if !c.used[id] {
			delete(c.byCase, id)
		}
	}
	c.used = nil
}
