package engine

import (
	"context"
	"sync"

	"casebot/bot"
)

// writer records a pass's ledger entries on a goroutine of its own, so that the ledger's work
// overlaps the calls to Salesforce instead of adding to them: a phase's outcomes are written
// while the next phase's calls are in flight, and the next chunk of cases' decisions while this
// chunk's effects are performed. Writes are recorded in the order submitted; whatever is queued
// when the last transaction ends goes into the next one together (a group commit), which keeps
// what each write holds all or nothing and the order of writes to one key. A write that must be
// durable before anything else is done (a claim, a mail's acceptance) is waited for; the
// others are not.
//
// After a failed transaction every later write fails with the same error: the pass stops.
type writer struct {
	e       *Engine
	threads *threads // the pass's threads; nil when the chat keeps none

	mu      sync.Mutex
	queue   []*write
	running bool // a goroutine is writing the queue
	err     error
	idle    *sync.Cond // signalled when the queue is empty and nothing runs

	told []*write // written or being written, with events to tell, oldest first
}

// write is a group of entries submitted together.
type write struct {
	entries []bot.LedgerEntry
	events  []Event // told once written
	done    chan struct{}
	err     error
}

func (e *Engine) newWriter() *writer {
	w := &writer{e: e}
	w.idle = sync.NewCond(&w.mu)
	return w
}

// submit queues entries and returns their write, whose events are told once it is recorded.
func (w *writer) submit(entries []bot.LedgerEntry, events []Event) *write {
	wr := &write{entries: entries, events: events, done: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(events) > 0 {
		w.told = append(w.told, wr)
	}
	if len(entries) == 0 {
		close(wr.done)
		return wr
	}
	w.queue = append(w.queue, wr)
	if !w.running {
		w.running = true
		go w.run()
	}
	return wr
}

// wait returns once the write is recorded, with its error.
func (wr *write) wait() error {
	<-wr.done
	return wr.err
}

// run writes the queue until it is empty.
func (w *writer) run() {
	w.mu.Lock()
	for len(w.queue) > 0 {
		group, err := w.queue, w.err
		w.queue = nil
		w.mu.Unlock()
		if err == nil {
			var all []bot.LedgerEntry
			if len(group) == 1 {
				all = group[0].entries
			} else {
				for _, wr := range group {
					all = append(all, wr.entries...)
				}
			}
			// The entries are written on a context a shutdown does not cancel (record).
			err = w.e.record(context.Background(), all...)
		}
		for _, wr := range group {
			wr.err = err
			close(wr.done)
		}
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
	}
	w.running = false
	w.idle.Broadcast()
	w.mu.Unlock()
}

// failure returns the error of a failed transaction; nil while all succeeded.
func (w *writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// tell tells the events of the writes recorded so far, oldest first, stopping at the first
// that is not yet (so that events are told in the order they happened). Events of a write that
// failed are not told: what they say was not recorded.
func (w *writer) tell() {
	w.mu.Lock()
	var ready []*write
	for len(w.told) > 0 {
		select {
		case <-w.told[0].done:
			ready, w.told = append(ready, w.told[0]), w.told[1:]
			continue
		default:
		}
		break
	}
	w.mu.Unlock()
	for _, wr := range ready {
		if wr.err == nil {
			for _, ev := range wr.events {
				w.e.observe(ev)
			}
		}
	}
}

// close waits until everything submitted is written, tells what is left to tell, and returns
// the first failure.
func (w *writer) close() error {
	w.mu.Lock()
	for w.running {
		w.idle.Wait()
	}
	w.mu.Unlock()
	w.tell()
	return w.failure()
}
