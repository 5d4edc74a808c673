package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"casebot/bot"
	"casebot/templates"
)

// gatedStore holds each Record until the test lets it through, and keeps what each wrote.
type gatedStore struct {
	*memStore
	entered chan struct{} // a Record began (when not nil)
	gate    chan struct{}
	mu      sync.Mutex
	calls   [][]string // the keys of each Record call
	fail    error
}

func (s *gatedStore) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	<-s.gate
	s.mu.Lock()
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key+"="+string(e.State))
	}
	s.calls = append(s.calls, keys)
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	return s.memStore.Record(ctx, es...)
}

// writerOn returns a writer of an engine over store that tells events' details to told.
func writerOn(t *testing.T, store bot.Store, told *[]string) *writer {
	tmpl, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{CRM: &fakeCRM{}, Store: store, Chat: &fakeChat{}, Templates: tmpl,
		Observe: func(ev Event) { *told = append(*told, ev.Detail) }})
	if err != nil {
		t.Fatal(err)
	}
	return eng.newWriter()
}

func entryFor(key string, state bot.EntryState) bot.LedgerEntry {
	return bot.LedgerEntry{Key: key, CaseID: caseID, Playbook: "p", Step: "s", State: state}
}

// Writes queued while one is written go into one transaction together, in the order they were
// submitted, and their events are told in that order once written.
func TestWriterGroupsWhatIsQueued(t *testing.T) {
	store := &gatedStore{memStore: newMemStore(), entered: make(chan struct{}, 2), gate: make(chan struct{})}
	var told []string
	w := writerOn(t, store, &told)
	first := w.submit([]bot.LedgerEntry{entryFor("a", bot.StateClaimed)}, []Event{{Detail: "a"}})
	<-store.entered
	// The first is being written (held at the gate); these queue behind it.
	second := w.submit([]bot.LedgerEntry{entryFor("b", bot.StateClaimed)}, []Event{{Detail: "b"}})
	third := w.submit([]bot.LedgerEntry{entryFor("a", bot.StateDone), entryFor("c", bot.StateDone)}, []Event{{Detail: "c"}})
	w.tell()
	if len(told) != 0 {
		t.Fatalf("told %v before anything was written", told)
	}
	store.gate <- struct{}{}
	if err := first.wait(); err != nil {
		t.Fatal(err)
	}
	store.gate <- struct{}{}
	if err := errors.Join(second.wait(), third.wait()); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a=claimed"}, {"b=claimed", "a=done", "c=done"}}
	if !slices.EqualFunc(store.calls, want, slices.Equal) {
		t.Errorf("transactions %q, want %q", store.calls, want)
	}
	if got := store.get("a").State; got != bot.StateDone {
		t.Errorf("a is %s, want done: the later write wins", got)
	}
	if !slices.Equal(told, []string{"a", "b", "c"}) {
		t.Errorf("told %v", told)
	}
}

// After a failed transaction, every later write fails with its error, and the events of what
// was not written are not told.
func TestWriterFailureSticks(t *testing.T) {
	store := &gatedStore{memStore: newMemStore(), gate: make(chan struct{}), fail: errors.New("disk full")}
	close(store.gate)
	var told []string
	w := writerOn(t, store, &told)
	if err := w.submit([]bot.LedgerEntry{entryFor("a", bot.StateClaimed)}, []Event{{Detail: "a"}}).wait(); err == nil {
		t.Fatal("the failed write succeeded")
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	if err := w.submit([]bot.LedgerEntry{entryFor("b", bot.StateClaimed)}, nil).wait(); err == nil {
		t.Error("a write after a failed one succeeded")
	}
	if err := w.close(); err == nil || w.failure() == nil {
		t.Errorf("close: %v", err)
	}
	if len(told) != 0 || store.get("b").State != "" {
		t.Errorf("told %v, b %+v", told, store.get("b"))
	}
}
