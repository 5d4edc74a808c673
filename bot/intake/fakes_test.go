package intake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/mail"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
	"casebot/bot/memledger"
	"casebot/rules"
	"casebot/templates"
)

// mailbox is a Mailbox in memory: folders of messages with UIDs.
type mailbox struct {
	mu       sync.Mutex
	validity uint32
	next     uint32
	folders  map[string][]bot.InboundMessage
	moves    int // Move calls
}

func newMailbox() *mailbox {
	return &mailbox{validity: 7, next: 1, folders: map[string][]bot.InboundMessage{}}
}

func (b *mailbox) deliver(raw string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.folders["INBOX"] = append(b.folders["INBOX"], bot.InboundMessage{Mailbox: "INBOX", UIDValidity: b.validity,
		UID: b.next, Size: int64(len(raw)), Raw: []byte(raw)})
	b.next++
}

// renumber gives every message of INBOX a new UID under a new UIDVALIDITY.
func (b *mailbox) renumber() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.validity++
	for i := range b.folders["INBOX"] {
		b.folders["INBOX"][i].UIDValidity, b.folders["INBOX"][i].UID = b.validity, b.next
		b.next++
	}
}

func (b *mailbox) Fetch(ctx context.Context, folder string, after bot.MailboxPosition, max int) ([]bot.InboundMessage, uint32, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if after.UIDValidity != b.validity {
		after.UID = 0
	}
	var out []bot.InboundMessage
	for _, m := range b.folders[folder] {
		if m.UID > after.UID && len(out) < max {
			out = append(out, m)
		}
	}
	return out, b.validity, nil
}

func (b *mailbox) Wait(ctx context.Context, folder string) error {
	<-ctx.Done()
	return ctx.Err()
}

func (b *mailbox) Move(ctx context.Context, folder string, validity uint32, uids []uint32, to string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.moves++
	if validity != b.validity {
		return &bot.Error{Op: "move", Code: "RENUMBERED", Retryable: true}
	}
	for _, uid := range uids {
		i := slices.IndexFunc(b.folders[folder], func(m bot.InboundMessage) bool { return m.UID == uid })
		if i < 0 {
			continue
		}
		b.folders[to] = append(b.folders[to], b.folders[folder][i])
		b.folders[folder] = slices.Delete(b.folders[folder], i, i+1)
	}
	return nil
}

func (b *mailbox) Close() error { return nil }

func (b *mailbox) count(folder string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.folders[folder])
}

// salesforce is Salesforce in memory for intake: accounts, cases and the mails logged on them.
type salesforce struct {
	bot.CRM  // nil: intake uses Cases only
	mu       sync.Mutex
	accounts []bot.Account
	cases    []*bot.Case
	mails    []bot.Fields // EmailMessages, with ParentId
	files    map[string][]bot.Attachment
	logCalls int // LogMails calls
	logged   int // mails LogMails was given
	reads    int // calls of the other methods
	// lostAnswers makes the next LogMails calls fail after they were carried out: the answer
	// is lost.
	lostAnswers int
	// refuse makes LogMails refuse, for good, mail whose subject contains it.
	refuse string
	// lock makes LogMails fail the mail of this MessageIdentifier once, retryably, without
	// keeping it (a locked record).
	lock string
}

func (s *salesforce) Cases(ctx context.Context, q bot.CaseQuery) ([]bot.Case, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	var out []bot.Case
	for _, c := range s.cases {
		switch {
		case len(q.IDs) > 0 && !slices.Contains(q.IDs, c.ID):
		case !q.AnyState && c.Fields["Status"] == "Closed":
		case strings.Contains(q.Where, "AccountId IN (") && !strings.Contains(q.Where, "'"+fmt.Sprint(c.Fields["AccountId"])+"'"):
		default:
			out = append(out, *c)
		}
	}
	return out, nil
}

func (s *salesforce) Accounts(ctx context.Context, q bot.AccountQuery) ([]bot.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	var out []bot.Account
	for _, a := range s.accounts {
		v := strings.ToLower(fmt.Sprint(a.Fields[q.Field]))
		for _, want := range q.Values {
			if q.List && holdsDomain(v, strings.ToLower(want)) || !q.List && v == strings.ToLower(want) {
				out = append(out, a)
				break
			}
		}
	}
	return out, nil
}

func (s *salesforce) MailCases(ctx context.Context, ids []string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	out := map[string]string{}
	for _, m := range s.mails {
		if id, _ := m["MessageIdentifier"].(string); slices.Contains(ids, id) {
			out[id] = m["ParentId"].(string)
		}
	}
	return out, nil
}

func (s *salesforce) CaseIDs(ctx context.Context, numbers []string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	out := map[string]string{}
	for _, c := range s.cases {
		if n, _ := c.Fields["CaseNumber"].(string); slices.Contains(numbers, n) {
			out[n] = c.ID
		}
	}
	return out, nil
}

func (s *salesforce) LogMails(ctx context.Context, ws []bot.MailWrite) []bot.MailResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logCalls++
	s.logged += len(ws)
	out := make([]bot.MailResult, len(ws))
	lost := s.lostAnswers > 0
	if lost {
		s.lostAnswers--
	}
	for i, w := range ws {
		if subject, _ := w.Mail["Subject"].(string); s.refuse != "" && strings.Contains(subject, s.refuse) {
			out[i].Err = &bot.Error{Op: "graph", Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "no such scenario"}
			continue
		}
		if s.lock != "" && w.Mail["MessageIdentifier"] == s.lock {
			s.lock = ""
			out[i].Err = &bot.Error{Op: "graph", Code: "UNABLE_TO_LOCK_ROW", Retryable: true}
			continue
		}
		out[i].CaseID = s.logMail(w)
		if lost {
			out[i] = bot.MailResult{Err: &bot.Error{Op: "graph", Code: "TIMEOUT", Retryable: true}}
		}
	}
	return out
}

// logMail keeps one mail, and returns its case.
func (s *salesforce) logMail(w bot.MailWrite) string {
	id := w.CaseID
	if id == "" {
		n := len(s.cases) + 1
		id = fmt.Sprintf("500%015d", n)
		f := bot.Fields{"CaseNumber": fmt.Sprintf("%08d", 1000+n), "Status": "New"}
		for k, v := range w.Case {
			f[k] = v
		}
		s.cases = append(s.cases, &bot.Case{ID: id, Fields: f})
	} else {
		for _, c := range s.cases {
			if c.ID == id {
				for k, v := range w.Case {
					c.Fields[k] = v
				}
			}
		}
	}
	m := bot.Fields{"ParentId": id}
	for k, v := range w.Mail {
		m[k] = v
	}
	s.mails = append(s.mails, m)
	if s.files == nil {
		s.files = map[string][]bot.Attachment{}
	}
	s.files[id] = append(s.files[id], w.Files...)
	return id
}

// outbox records mails and Slack posts.
type outbox struct {
	mu    sync.Mutex
	mails []bot.Mail
	posts []bot.Message
}

func (o *outbox) Send(ctx context.Context, m bot.Mail) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return "casebot@example.test", nil
}

func (o *outbox) Post(ctx context.Context, m bot.Message) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.posts = append(o.posts, m)
	return fmt.Sprint(len(o.posts)), nil
}

func (o *outbox) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, p := range o.posts {
		if p.Channel == channel && p.Key == key {
			return fmt.Sprint(i + 1), nil
		}
	}
	return "", nil
}

// parse is a small stand-in for the imap/message parser: headers and a plain-text body.
func parse(raw []byte) (bot.ParsedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return bot.ParsedMail{}, err
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return bot.ParsedMail{}, fmt.Errorf("from: %w", err)
	}
	body, _ := io.ReadAll(msg.Body)
	p := bot.ParsedMail{MessageID: msg.Header.Get("Message-ID"), From: bot.Address{Name: from.Name, Address: from.Address},
		Subject: msg.Header.Get("Subject"), Text: string(body)}
	if r := msg.Header.Get("In-Reply-To"); r != "" {
		p.InReplyTo = []string{r}
	}
	return p, nil
}

// authenticate vouches for the sender's domain when the test says so in a header.
func authenticate(ctx context.Context, raw []byte) bot.MailAuth {
	p, err := parse(raw)
	if err != nil || !strings.Contains(string(raw), "\nX-Test-DKIM: pass") {
		return bot.MailAuth{}
	}
	return bot.MailAuth{DKIM: []string{p.From.Domain()}}
}

// world is intake over the fakes, with the test playbooks and intake rules.
type world struct {
	box   *mailbox
	sf    *salesforce
	out   *outbox
	store bot.Store
	in    *Intake
}

func newWorld(t *testing.T, store bot.Store) *world {
	t.Helper()
	pbs, in, err := rules.LoadWithIntake(os.DirFS("testdata/playbooks"), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load(os.DirFS("testdata/templates"))
	if err != nil {
		t.Fatal(err)
	}
	if store == nil {
		store = &memledger.Store{}
	}
	w := &world{box: newMailbox(), out: &outbox{}, store: store, sf: &salesforce{accounts: []bot.Account{
		{ID: "001000000000001AAA", Fields: bot.Fields{"Name": "Acme", "Email_Domains__c": "acme.example; acme-corp.example", "AccountNumber": "AC-1001",
			"Partner_Email__c": "cancel@partner.example"}},
		{ID: "001000000000002AAA", Fields: bot.Fields{"Name": "Globex", "Email_Domains__c": "globex.example", "AccountNumber": "GX-2002"}},
	}}}
	w.in, err = New(Options{Mailbox: w.box, CRM: w.sf, Salesforce: w.sf, Store: store, Mailer: w.out, Chat: w.out,
		Rules: in, Playbooks: pbs, Templates: tmpl, Notify: []string{"#order-management"}, Parse: parse,
		Authenticate: authenticate, MessageIDDomain: "casebot.example.test",
		Now: func() time.Time { return time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) step(t *testing.T) Report {
	t.Helper()
	rep, err := w.in.Step(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// request is a termination request from Acme, signed.
func request(id string) string {
	return "From: Anna Admin <anna@acme.example>\r\nTo: terminations@vendor.example\r\nSubject: Termination of our contract\r\n" +
		"Message-ID: <" + id + "@acme.example>\r\nX-Test-DKIM: pass\r\n\r\nWe terminate.\r\nExit reason: budget\r\n"
}
