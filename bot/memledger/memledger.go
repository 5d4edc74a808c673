// Package memledger is a bot.Store in memory: the ledger of playbook tests and of the engine's
// own tests, held to the same conformance suite as the SQLite ledger.
package memledger

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"casebot/bot"
)

// Store is a ledger in memory; the zero value is an empty one. Like a database it refuses
// work on a done context.
type Store struct {
	mu        sync.Mutex
	entries   map[string]bot.LedgerEntry
	payloads  map[string]string
	positions map[string]bot.MailboxPosition
	gen       int64            // the generation of the last write
	gens      map[string]int64 // the generation each entry was written in, by key
}

var _ bot.Store = (*Store)(nil)

func (s *Store) Entries(ctx context.Context, ids []string) (map[string]bot.Ledger, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string]bot.Ledger{}
	for k, e := range s.entries {
		if !want[e.CaseID] {
			continue
		}
		if out[e.CaseID] == nil {
			out[e.CaseID] = bot.Ledger{}
		}
		out[e.CaseID][k] = e
	}
	return out, nil
}

// Generation returns the generation of the last write.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, ctx.Err()
}

// Changes returns the entries written after generation since.
func (s *Store) Changes(ctx context.Context, since int64) ([]bot.LedgerEntry, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var es []bot.LedgerEntry
	for k, g := range s.gens {
		if g > since {
			es = append(es, s.entries[k])
		}
	}
	return es, s.gen, nil
}

// Record writes all entries or, like a transaction, none.
func (s *Store) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := bot.CheckEntries(es); err != nil {
		return fmt.Errorf("record %d ledger entries: %w", len(es), err)
	}
	if s.entries == nil {
		s.entries, s.payloads, s.gens = map[string]bot.LedgerEntry{}, map[string]string{}, map[string]int64{}
	}
	s.gen++
	for _, e := range es {
		s.gens[e.Key] = s.gen
		if e.Payload != "" {
			s.payloads[e.Key], e.Payload = e.Payload, ""
		}
		if old, ok := s.entries[e.Key]; ok && e.Claimed.IsZero() {
			e.Claimed = old.Claimed
		}
		// As a database keeps them: in UTC, whatever zone they came in.
		e.At, e.RetryAt, e.Claimed = utc(e.At), utc(e.RetryAt), utc(e.Claimed)
		s.entries[e.Key] = e
	}
	return nil
}

func (s *Store) Payloads(ctx context.Context, keys []string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, k := range keys {
		if p, ok := s.payloads[k]; ok {
			out[k] = p
		}
	}
	return out, nil
}

// Claimed returns the claimed entries, by key.
func (s *Store) Claimed(ctx context.Context) ([]bot.LedgerEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bot.LedgerEntry
	for _, e := range s.entries {
		if e.State == bot.StateClaimed {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *Store) Position(ctx context.Context, mailbox string) (bot.MailboxPosition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return bot.MailboxPosition{}, err
	}
	return s.positions[mailbox], nil
}

func (s *Store) SetPosition(ctx context.Context, mailbox string, p bot.MailboxPosition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.positions == nil {
		s.positions = map[string]bot.MailboxPosition{}
	}
	s.positions[mailbox] = p
	return nil
}

// Check reports nothing: memory cannot be removed from under the store.
func (s *Store) Check(ctx context.Context) error { return nil }

func (s *Store) Close() error { return nil }

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// Get returns the entry with key, with its payload; the zero entry when there is none.
func (s *Store) Get(key string) bot.LedgerEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[key]
	e.Payload = s.payloads[key]
	return e
}

// All returns every entry, by key, without payloads.
func (s *Store) All() map[string]bot.LedgerEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.entries)
}

// CaseIDs returns the ids of every case with an entry, sorted.
func (s *Store) CaseIDs(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range s.entries {
		seen[e.CaseID] = true
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// Positions returns where intake stands in every mailbox folder it read.
func (s *Store) Positions(ctx context.Context) (map[string]bot.MailboxPosition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return maps.Clone(s.positions), nil
}
