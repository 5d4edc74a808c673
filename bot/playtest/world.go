package playtest

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"casebot/bot"
)

// completed is the Task status people set when they are done.
const completed = "Completed"

// crm is Salesforce for one test: it holds the fixture case, its account and tasks, and applies
// writes as Salesforce would. The case is taken to match the playbook's applies_to.where until
// its status becomes one of the closed statuses.
type crm struct {
	mu       sync.Mutex
	c        bot.Case
	closed   []string
	ids      map[string]string // user and queue names → synthetic ids
	created  map[string]int    // object → records created, for ids
	comments []string          // bodies of the case comments created since the last take
	logged   map[string]string // markers of comments and Message-IDs of logged mails → record ids
	files    []file            // the files on the case, oldest first
	received []string          // Message-IDs of the mails logged as received, oldest first
}

// file is a file on the case: one the test puts there, or one casebot attached.
type file struct {
	bot.CaseFile
	data []byte
}

var _ bot.CRM = (*crm)(nil)

func newCRM(c bot.Case, closed []string) *crm {
	cp := c
	cp.Fields = maps.Clone(c.Fields)
	if c.Account != nil {
		cp.Account = &bot.Account{ID: c.Account.ID, Fields: maps.Clone(c.Account.Fields)}
	}
	cp.Tasks = slices.Clone(c.Tasks)
	return &crm{c: cp, closed: closed, ids: map[string]string{},
		created: map[string]int{"Task": len(c.Tasks)}}
}

// addFiles puts files on the case, as people did before the test starts; their versions'
// ids are numbered from 1 as a test's parser numbers them.
func (m *crm) addFiles(files []file) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files = append(m.files, files...)
	m.created["ContentVersion"] += len(files)
}

func (m *crm) isClosed() bool {
	s, _ := m.c.Fields["Status"].(string)
	return slices.Contains(m.closed, s)
}

// Cases returns the case with exactly the fields q asks for, null when the fixture has none,
// as a query would, or nothing once the case is closed or when q names other ids.
func (m *crm) Cases(ctx context.Context, q bot.CaseQuery) ([]bot.Case, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed() || (len(q.IDs) > 0 && !slices.Contains(q.IDs, m.c.ID)) {
		return nil, nil
	}
	out := bot.Case{ID: m.c.ID, Fields: pick(m.c.Fields, q.Fields), Tasks: slices.Clone(m.c.Tasks)}
	if m.c.Account != nil {
		out.Account = &bot.Account{ID: m.c.Account.ID, Fields: pick(m.c.Account.Fields, q.AccountFields)}
	}
	return []bot.Case{out}, nil
}

func pick(f bot.Fields, names []string) bot.Fields {
	out := make(bot.Fields, len(names))
	for _, n := range names {
		out[n] = f[n]
	}
	return out
}

// Apply performs writes one by one; a write to a record the test does not have fails alone.
func (m *crm) Apply(ctx context.Context, ws []bot.Write) ([]bot.WriteResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res := make([]bot.WriteResult, len(ws))
	for i, w := range ws {
		res[i].ID, res[i].Err = m.apply(w)
	}
	return res, nil
}

func (m *crm) apply(w bot.Write) (string, error) {
	switch w.Op {
	case bot.OpUpdate:
		f := m.record(w.Object, w.ID)
		if f == nil {
			return "", &bot.Error{Op: fmt.Sprintf("update %s %s", w.Object, w.ID), Code: "ENTITY_IS_DELETED",
				Message: "no such record in the test"}
		}
		maps.Copy(f, w.Fields)
		return w.ID, nil
	case bot.OpCreate:
		if what, _ := w.Fields["WhatId"].(string); w.Object == "Task" && what != m.c.ID {
			return "", &bot.Error{Op: "create Task", Code: "FIELD_INTEGRITY_EXCEPTION",
				Message: fmt.Sprintf("WhatId %q is not the test's case", what)}
		}
		m.created[w.Object]++
		id := fmt.Sprintf("%s%015d", idPrefix(w.Object), m.created[w.Object])
		if m.logged == nil {
			m.logged = map[string]string{}
		}
		switch w.Object {
		case "CaseComment":
			body, _ := w.Fields["CommentBody"].(string)
			m.comments = append(m.comments, body)
			m.logged[body] = id
		case "EmailMessage":
			mid, _ := w.Fields["MessageIdentifier"].(string)
			m.logged[mid] = id
			if in, _ := w.Fields["Incoming"].(bool); in {
				m.received = append(m.received, mid)
			}
		case "ContentVersion":
			desc, _ := w.Fields["Description"].(string) // ends with the file's marker
			m.logged[desc] = id
			f := file{CaseFile: bot.CaseFile{Version: id}}
			f.Title, _ = w.Fields["Title"].(string)
			f.Name, _ = w.Fields["PathOnClient"].(string)
			data, _ := w.Fields["VersionData"].(string)
			f.data, _ = base64.StdEncoding.DecodeString(data)
			f.Size = int64(len(f.data))
			m.files = append(m.files, f)
		}
		if w.Object != "Task" {
			return id, nil // a logged mail or a file: the timeline shows it from the effect
		}
		t := bot.Task{ID: id, Status: "Not Started"}
		t.Key, _ = w.Fields[bot.KeyField].(string)
		t.Subject, _ = w.Fields["Subject"].(string)
		t.ActivityDate, _ = w.Fields["ActivityDate"].(string)
		if s, ok := w.Fields["Status"].(string); ok {
			t.Status = s
		}
		t.IsClosed = t.Status == completed
		m.c.Tasks = append(m.c.Tasks, t)
		return id, nil
	default:
		return "", &bot.Error{Op: string(w.Op) + " " + w.Object, Code: "UNSUPPORTED", Message: "unknown write"}
	}
}

// Find finds the comments, files and logged mails created so far, as Salesforce would.
func (m *crm) Find(ctx context.Context, q bot.FindQuery) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for _, id := range q.MessageIDs {
		if rec, ok := m.logged[id]; ok {
			out[id] = rec
		}
	}
	for _, markers := range slices.Concat(slices.Collect(maps.Values(q.Comments)), slices.Collect(maps.Values(q.Files))) {
		for body, rec := range m.logged {
			for _, mk := range markers {
				if strings.Contains(body, mk) {
					out[mk] = rec
				}
			}
		}
	}
	return out, nil
}

// CaseFiles returns the files on the case, newest first.
func (m *crm) CaseFiles(ctx context.Context, caseIDs []string) (map[string][]bot.CaseFile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]bot.CaseFile{}
	if !slices.Contains(caseIDs, m.c.ID) || len(m.files) == 0 {
		return out, nil
	}
	for _, f := range slices.Backward(m.files) {
		out[m.c.ID] = append(out[m.c.ID], f.CaseFile)
	}
	return out, nil
}

// CaseMails returns the Message-ID of the first mail logged as received on the case.
func (m *crm) CaseMails(ctx context.Context, caseIDs []string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	if slices.Contains(caseIDs, m.c.ID) && len(m.received) > 0 && m.received[0] != "" {
		out[m.c.ID] = m.received[0]
	}
	return out, nil
}

// FileData returns the bytes of a file on the case.
func (m *crm) FileData(ctx context.Context, version string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.files {
		if f.Version == version {
			return f.data, nil
		}
	}
	return nil, &bot.Error{Op: "read file " + version, Code: "NOT_FOUND", Message: "no such file in the test"}
}

// idPrefix is the key prefix of Salesforce ids of an object.
func idPrefix(object string) string {
	switch object {
	case "Task":
		return "00T"
	case "CaseComment":
		return "00a"
	case "EmailMessage":
		return "02s"
	case "ContentVersion":
		return "068"
	default:
		return "a00"
	}
}

func (m *crm) record(object, id string) bot.Fields {
	switch {
	case object == "Case" && id == m.c.ID:
		return m.c.Fields
	case object == "Account" && m.c.Account != nil && id == m.c.Account.ID:
		return m.c.Account.Fields
	}
	return nil
}

// UserIDs gives every username a synthetic user id, the same for the whole test.
func (m *crm) UserIDs(ctx context.Context, names []string) (map[string]string, error) {
	return m.resolve("005", names), nil
}

// QueueIDs gives every queue name a synthetic queue id, the same for the whole test.
func (m *crm) QueueIDs(ctx context.Context, names []string) (map[string]string, error) {
	return m.resolve("00G", names), nil
}

func (m *crm) resolve(prefix string, names []string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(names))
	for _, n := range names {
		id, ok := m.ids[prefix+n]
		if !ok {
			id = fmt.Sprintf("%s%015d", prefix, len(m.ids)+1)
			m.ids[prefix+n] = id
		}
		out[n] = id
	}
	return out
}

// takeComments returns and forgets the case comments created since the last call.
func (m *crm) takeComments() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.comments
	m.comments = nil
	return c
}

// set applies what people changed in Salesforce.
func (m *crm) set(vals []fieldValue) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range vals {
		f := m.record(v.ref.Object, m.id(v.ref.Object))
		if f == nil {
			return fmt.Errorf("set %s: the test's case has no account", v.ref)
		}
		f[v.ref.Name] = v.val
	}
	return nil
}

func (m *crm) id(object string) string {
	if object == "Account" && m.c.Account != nil {
		return m.c.Account.ID
	}
	return m.c.ID
}

// complete completes the open tasks of a step ("step"), of a task template entry ("entry") or
// both ("step/entry").
func (m *crm) complete(playbook, name string, isStep func(string) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	step, entry, both := strings.Cut(name, "/")
	n := 0
	for i := range m.c.Tasks {
		t := &m.c.Tasks[i]
		parts := strings.Split(t.Key, "/") // playbook/step/action/case/entry
		if t.IsClosed || len(parts) != 5 || parts[0] != playbook {
			continue
		}
		match := parts[4] == name
		switch {
		case both:
			match = parts[1] == step && parts[4] == entry
		case isStep(name):
			match = parts[1] == name
		}
		if match {
			t.Status, t.IsClosed = completed, true
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("complete_tasks %s: no open task of the case matches", name)
	}
	return nil
}

// value returns a field's value when the test ends.
func (m *crm) value(ref fieldValue) (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.record(ref.ref.Object, m.id(ref.ref.Object))
	if f == nil {
		return nil, false
	}
	return f[ref.ref.Name], true
}

// sent keeps what casebot sent through one port since the last take.
type sent[T any] struct {
	mu    sync.Mutex
	items []T
}

// add keeps v and returns how many items it has kept since the last take.
func (s *sent[T]) add(v T) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, v)
	return len(s.items)
}

// take returns and forgets what was sent since the last call.
func (s *sent[T]) take() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.items
	s.items = nil
	return items
}

// chat keeps what casebot posted.
type chat struct{ sent[bot.Message] }

var _ bot.Chat = (*chat)(nil)

func (c *chat) Post(ctx context.Context, m bot.Message) (string, error) {
	return fmt.Sprintf("1700000000.%06d", c.add(m)), nil
}

// Find finds nothing: a playbook test is never interrupted, so no post is ever looked for.
func (c *chat) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	return "", nil
}

// mailer keeps what casebot mailed.
type mailer struct{ sent[bot.Mail] }

var _ bot.Mailer = (*mailer)(nil)

func (m *mailer) Send(ctx context.Context, mail bot.Mail) (string, error) {
	m.add(mail)
	return "casebot@example.test", nil
}

// call is one HTTP call casebot made, with its effect key.
type call struct {
	key string
	bot.HTTPCall
}

// caller answers HTTP calls with the responses a test scripts per endpoint ({} when none).
type caller struct {
	sent[call]
	responses map[string]map[string]any
}

var _ bot.Caller = (*caller)(nil)

func (c *caller) Call(ctx context.Context, key string, hc bot.HTTPCall) (map[string]any, error) {
	c.add(call{key: key, HTTPCall: hc})
	return maps.Clone(c.responses[hc.Endpoint]), nil
}
