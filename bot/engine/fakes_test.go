package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casebot/bot"
	"casebot/bot/memledger"
)

// fakeCRM keeps cases, accounts and tasks in memory and records every call.
type fakeCRM struct {
	mu        sync.Mutex
	cases     []*bot.Case
	queries   int
	lastQuery bot.CaseQuery
	panicOn   string          // Apply panics on a write to this object
	asked     []bot.CaseQuery // every query, in order
	applies   [][]bot.Write
	userCalls [][]string
	users     map[string]string
	queues    map[string]string
	created   []bot.Write // records other than tasks: comments, logged mails
	// fail makes the next write to a record (by "Object/ID") fail with the error.
	fail map[string]error
	// check, when set, refuses every write it returns an error for, as a validation rule.
	check   func(bot.Write) error
	nextID  int
	finds   []bot.FindQuery
	findErr error // every Find fails with it
	// files are the files on each case, newest first, and data their versions' bytes.
	files     map[string][]bot.CaseFile
	data      map[string][]byte
	fileCalls [][]string // the case ids of every CaseFiles call
	filesErr  error      // every CaseFiles fails with it
	dataErr   error      // every FileData fails with it
	// received are the Message-IDs of the mails each case received, oldest first.
	received  map[string][]string
	mailCalls [][]string   // the case ids of every CaseMails call
	mailsErr  error        // every CaseMails fails with it
	dead      *atomic.Bool // when set and true, the process is down: every call fails, doing nothing
}

// errDead is what a call of a process that crashed gets: it never reaches the provider.
var errDead = errors.New("the process is dead")

// down reports whether the process whose calls a fake answers has crashed.
func down(dead *atomic.Bool) bool { return dead != nil && dead.Load() }

var _ bot.CRM = (*fakeCRM)(nil)

func (f *fakeCRM) Cases(ctx context.Context, q bot.CaseQuery) ([]bot.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if down(f.dead) {
		return nil, errDead
	}
	f.queries++
	f.lastQuery = q
	f.asked = append(f.asked, q)
	var out []bot.Case
	for _, c := range f.cases {
		if (c.Fields["Status"] == "Closed" && !q.AnyState) || (len(q.IDs) > 0 && !slices.Contains(q.IDs, c.ID)) {
			continue
		}
		cp := bot.Case{ID: c.ID, Fields: maps.Clone(c.Fields), Tasks: append([]bot.Task(nil), c.Tasks...)}
		if c.Account != nil {
			cp.Account = &bot.Account{ID: c.Account.ID, Fields: maps.Clone(c.Account.Fields)}
		}
		out = append(out, cp)
	}
	return out, nil
}

func (f *fakeCRM) Apply(ctx context.Context, ws []bot.Write) ([]bot.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if down(f.dead) {
		return nil, errDead
	}
	f.applies = append(f.applies, ws)
	for _, w := range ws {
		if w.Object == f.panicOn {
			f.panicOn = ""
			panic("the CRM broke on " + w.Object)
		}
	}
	res := make([]bot.WriteResult, len(ws))
	for i, w := range ws {
		if err, ok := f.fail[w.Object+"/"+w.ID]; ok { // creates have no ID: "EmailMessage/"
			delete(f.fail, w.Object+"/"+w.ID)
			res[i].Err = err
			continue
		}
		if f.check != nil {
			if res[i].Err = f.check(w); res[i].Err != nil {
				continue
			}
		}
		switch {
		case w.Op == bot.OpCreate && w.Object == "Task":
			f.nextID++
			id := fmt.Sprintf("00T%015d", f.nextID)
			c := f.caseByID(w.Fields["WhatId"].(string))
			c.Tasks = append(c.Tasks, bot.Task{ID: id, Key: w.Fields[bot.KeyField].(string),
				Subject: w.Fields["Subject"].(string), Status: "Not Started"})
			res[i].ID = id
		case w.Op == bot.OpCreate:
			f.nextID++
			res[i].ID = fmt.Sprintf("%s%015d", map[string]string{"CaseComment": "00a", "EmailMessage": "02s", "ContentVersion": "068"}[w.Object], f.nextID)
			w.ID = res[i].ID
			f.created = append(f.created, w)
		case w.Op == bot.OpUpdate && w.Object == "Task":
			t := f.task(w.ID)
			if t == nil {
				res[i].Err = &bot.Error{Op: "update", Code: "NOT_FOUND"}
				continue
			}
			t.Status = w.Fields["Status"].(string)
			t.IsClosed = t.Status == "Completed"
			res[i].ID = w.ID
		case w.Op == bot.OpUpdate:
			fields := f.record(w.Object, w.ID)
			if fields == nil {
				res[i].Err = &bot.Error{Op: "update", Code: "NOT_FOUND"}
				continue
			}
			maps.Copy(fields, w.Fields)
			res[i].ID = w.ID
		default:
			res[i].Err = &bot.Error{Op: "apply", Code: "UNSUPPORTED", Message: string(w.Op) + " " + w.Object}
		}
	}
	return res, nil
}

// Find looks through the comments, files and logged mails created so far, as Salesforce would.
func (f *fakeCRM) Find(ctx context.Context, q bot.FindQuery) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds = append(f.finds, q)
	if down(f.dead) {
		return nil, errDead
	}
	if f.findErr != nil {
		return nil, f.findErr
	}
	out := map[string]string{}
	for _, w := range f.created {
		switch w.Object {
		case "EmailMessage":
			if id, _ := w.Fields["MessageIdentifier"].(string); slices.Contains(q.MessageIDs, id) {
				out[id] = w.ID
			}
		case "CaseComment":
			body, _ := w.Fields["CommentBody"].(string)
			for _, mk := range q.Comments[w.Fields["ParentId"].(string)] {
				if strings.Contains(body, mk) {
					out[mk] = w.ID
				}
			}
		case "ContentVersion":
			desc, _ := w.Fields["Description"].(string)
			for _, mk := range q.Files[w.Fields["FirstPublishLocationId"].(string)] {
				if strings.Contains(desc, mk) {
					out[mk] = w.ID
				}
			}
		}
	}
	return out, nil
}

func (f *fakeCRM) CaseFiles(ctx context.Context, caseIDs []string) (map[string][]bot.CaseFile, error) {
	return readCases(f, &f.fileCalls, &f.filesErr, caseIDs, func(id string) ([]bot.CaseFile, bool) {
		return slices.Clone(f.files[id]), len(f.files[id]) > 0
	})
}

func (f *fakeCRM) CaseMails(ctx context.Context, caseIDs []string) (map[string]string, error) {
	return readCases(f, &f.mailCalls, &f.mailsErr, caseIDs, func(id string) (string, bool) {
		if ms := f.received[id]; len(ms) > 0 {
			return ms[0], true
		}
		return "", false
	})
}

// readCases is a call that reads something of each case: recorded in calls, failing with
// *fail, answering what found finds of each case (under the lock).
func readCases[T any](f *fakeCRM, calls *[][]string, fail *error, caseIDs []string, found func(string) (T, bool)) (map[string]T, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if down(f.dead) {
		return nil, errDead
	}
	*calls = append(*calls, caseIDs)
	if *fail != nil {
		return nil, *fail
	}
	out := map[string]T{}
	for _, id := range caseIDs {
		if v, ok := found(id); ok {
			out[id] = v
		}
	}
	return out, nil
}

func (f *fakeCRM) FileData(ctx context.Context, version string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if down(f.dead) {
		return nil, errDead
	}
	if f.dataErr != nil {
		return nil, f.dataErr
	}
	data, ok := f.data[version]
	if !ok {
		return nil, &bot.Error{Op: "read file " + version, Code: "NOT_FOUND"}
	}
	return data, nil
}

// upload puts a file on a case, as a person does, newest of its files, and returns the id of
// its version.
func (f *fakeCRM) upload(caseID, title, name, data string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	version := fmt.Sprintf("068%015d", f.nextID)
	if f.files == nil {
		f.files, f.data = map[string][]bot.CaseFile{}, map[string][]byte{}
	}
	f.files[caseID] = slices.Insert(f.files[caseID], 0, bot.CaseFile{Version: version, Title: title, Name: name, Size: int64(len(data))})
	f.data[version] = []byte(data)
	return version
}

func (f *fakeCRM) UserIDs(ctx context.Context, names []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.userCalls = append(f.userCalls, names)
	out := map[string]string{}
	for _, n := range names {
		if id, ok := f.users[n]; ok {
			out[n] = id
		}
	}
	return out, nil
}

func (f *fakeCRM) QueueIDs(ctx context.Context, names []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, n := range names {
		if id, ok := f.queues[n]; ok {
			out[n] = id
		}
	}
	return out, nil
}

func (f *fakeCRM) caseByID(id string) *bot.Case {
	for _, c := range f.cases {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (f *fakeCRM) record(object, id string) bot.Fields {
	for _, c := range f.cases {
		switch {
		case object == "Case" && c.ID == id:
			return c.Fields
		case object == "Account" && c.Account != nil && c.Account.ID == id:
			return c.Account.Fields
		}
	}
	return nil
}

func (f *fakeCRM) task(id string) *bot.Task {
	for _, c := range f.cases {
		for i := range c.Tasks {
			if c.Tasks[i].ID == id {
				return &c.Tasks[i]
			}
		}
	}
	return nil
}

// writes returns the writes of all Apply calls, in order.
func (f *fakeCRM) writes() []bot.Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []bot.Write
	for _, ws := range f.applies {
		all = append(all, ws...)
	}
	return all
}

// memStore is the in-memory ledger with failures on demand: fail makes recording an entry
// (by key) fail with the error.
type memStore struct {
	memledger.Store
	mu      sync.Mutex
	fail    map[string]error
	broken  error // what Check reports
	batches int   // transactions written
	// crashAt, when not zero, is the write transaction at which the process dies: it and every
	// later one fail, and dead is set so that the providers refuse the dead process too.
	crashAt int
	dead    *atomic.Bool
	writes  int // write transactions attempted
	// crashOnDone, when set, kills the process at the write that records this key done.
	crashOnDone string
	read        int // case ledgers read by Entries
}

// Entries counts the cases whose ledger is read whole.
func (s *memStore) Entries(ctx context.Context, ids []string) (map[string]bot.Ledger, error) {
	s.mu.Lock()
	s.read += len(ids)
	s.mu.Unlock()
	return s.Store.Entries(ctx, ids)
}

var _ bot.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{} }

// Record writes all entries or, like a transaction, none.
func (s *memStore) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	s.writes++
	if s.crashAt > 0 && s.writes >= s.crashAt || slices.ContainsFunc(es, func(e bot.LedgerEntry) bool {
		return e.Key == s.crashOnDone && e.State == bot.StateDone
	}) {
		s.dead.Store(true)
		return errDead
	}
	for _, e := range es {
		if err, ok := s.fail[e.Key]; ok {
			return err
		}
	}
	s.batches++
	return s.Store.Record(ctx, es...)
}

func (s *memStore) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

func (s *memStore) get(key string) bot.LedgerEntry { return s.Get(key) }

// fakeChat records posts; fail makes the next post to a channel fail; onPost, when set, runs
// after every post (outside the lock).
type fakeChat struct {
	mu     sync.Mutex
	posts  []bot.Message
	fail   map[string]error
	onPost func(bot.Message)
	finds  int
	dead   *atomic.Bool
}

var _ bot.Chat = (*fakeChat)(nil)

func (c *fakeChat) Post(ctx context.Context, m bot.Message) (string, error) {
	c.mu.Lock()
	if down(c.dead) {
		c.mu.Unlock()
		return "", errDead
	}
	if err, ok := c.fail[m.Channel]; ok {
		delete(c.fail, m.Channel)
		c.mu.Unlock()
		return "", err
	}
	c.posts = append(c.posts, m)
	ts := fmt.Sprintf("ts-%d", len(c.posts))
	c.mu.Unlock()
	if c.onPost != nil {
		c.onPost(m)
	}
	return ts, nil
}

// Find finds a post by its key and channel.
func (c *fakeChat) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finds++
	if down(c.dead) {
		return "", errDead
	}
	for i, p := range c.posts {
		if p.Channel == channel && p.Key == key {
			return fmt.Sprintf("ts-%d", i+1), nil
		}
	}
	return "", nil
}

func (c *fakeChat) channels(keySuffix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.posts {
		if strings.Contains(p.Key, keySuffix) {
			out = append(out, p.Channel)
		}
	}
	return out
}

// fakeMailer records mails; fail makes the next send fail.
type fakeMailer struct {
	mu    sync.Mutex
	mails []bot.Mail
	fail  error
	dead  *atomic.Bool
	from  string // the From the relay was given; "" is casebot@example.test
}

var _ bot.Mailer = (*fakeMailer)(nil)

func (m *fakeMailer) Send(ctx context.Context, mail bot.Mail) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if down(m.dead) {
		return "", errDead
	}
	if m.fail != nil {
		err := m.fail
		m.fail = nil
		return "", err
	}
	m.mails = append(m.mails, mail)
	return cmp.Or(m.from, "casebot@example.test"), nil
}

// fakeCaller answers every call with resp and records the keys it was called with.
type fakeCaller struct {
	mu    sync.Mutex
	calls []string
	resp  map[string]any
	dead  *atomic.Bool
}

var _ bot.Caller = (*fakeCaller)(nil)

func (c *fakeCaller) Call(ctx context.Context, key string, call bot.HTTPCall) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if down(c.dead) {
		return nil, errDead
	}
	c.calls = append(c.calls, key+" "+call.Method+" "+call.Endpoint+call.Path)
	return c.resp, nil
}
