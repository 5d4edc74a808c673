package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/bot/memledger"
	"casebot/config"
	"casebot/templates"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeLease is a lease that Acquire takes for ttl (for good when 0), until lose is set: then
// another replica holds it.
type fakeLease struct {
	ttl time.Duration

	mu       sync.Mutex
	held     bool
	until    time.Time
	lose     bool
	acquires int
}

func (l *fakeLease) Acquire(context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acquires++
	l.held, l.until = !l.lose, time.Now().Add(l.ttl)
	return l.held, nil
}

func (l *fakeLease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held && (l.ttl == 0 || time.Now().Before(l.until))
}

func (l *fakeLease) Until() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ttl == 0 {
		return time.Time{}
	}
	return l.until
}

func (l *fakeLease) Release(context.Context) error { return nil }

func (l *fakeLease) set(held, lose bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held, l.lose = held, lose
}

func (l *fakeLease) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acquires
}

// intakeSF is Salesforce as mail intake sees it: Acme's account, found by its mail domain,
// and the mails it is asked to log. What intake does not use is left to the nil CRM.
type intakeSF struct {
	bot.CRM
	mu     sync.Mutex
	logged []bot.MailWrite
}

func (f *intakeSF) Cases(context.Context, bot.CaseQuery) ([]bot.Case, error) { return nil, nil }

func (f *intakeSF) Accounts(ctx context.Context, q bot.AccountQuery) ([]bot.Account, error) {
	if !slices.Contains(q.Values, "acme.example") {
		return nil, nil
	}
	return []bot.Account{{ID: "001000000000001AAA", Fields: bot.Fields{"Name": "Acme", "Email_Domains__c": "acme.example"}}}, nil
}

func (f *intakeSF) MailCases(context.Context, []string) (map[string]string, error) {
	return map[string]string{}, nil
}

func (f *intakeSF) CaseIDs(context.Context, []string) (map[string]string, error) {
	return map[string]string{}, nil
}

func (f *intakeSF) LogMails(ctx context.Context, ws []bot.MailWrite) []bot.MailResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := make([]bot.MailResult, len(ws))
	for i, w := range ws {
		f.logged = append(f.logged, w)
		res[i].CaseID = fmt.Sprintf("500%012dAAA", len(f.logged))
	}
	return res
}

func (f *intakeSF) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.logged)
}

// oneMail is a mailbox holding one termination request from Acme in INBOX.
type oneMail struct{ moved atomic.Int64 }

const acmeRequest = "From: Anna Admin <anna@acme.example>\r\nTo: terminations@vendor.example\r\n" +
	"Subject: Termination of Service\r\nMessage-ID: <req-1@acme.example>\r\n\r\nWe terminate.\r\nExit reason: budget\r\n"

func (b *oneMail) Fetch(ctx context.Context, folder string, after bot.MailboxPosition, max int) ([]bot.InboundMessage, uint32, error) {
	if folder != "INBOX" || (after.UIDValidity == 1 && after.UID >= 1) {
		return nil, 1, nil
	}
	return []bot.InboundMessage{{Mailbox: folder, UIDValidity: 1, UID: 1, Size: int64(len(acmeRequest)), Raw: []byte(acmeRequest)}}, 1, nil
}
func (b *oneMail) Wait(ctx context.Context, folder string) error { <-ctx.Done(); return ctx.Err() }
func (b *oneMail) Move(context.Context, string, uint32, []uint32, string) error {
	b.moved.Add(1)
	return nil
}
func (b *oneMail) Close() error { return nil }

func parseTestMail(raw []byte) (bot.ParsedMail, error) {
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return bot.ParsedMail{}, err
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return bot.ParsedMail{}, err
	}
	body, _ := io.ReadAll(msg.Body)
	return bot.ParsedMail{MessageID: msg.Header.Get("Message-ID"), From: bot.Address{Name: from.Name, Address: from.Address},
		Subject: msg.Header.Get("Subject"), Text: string(body)}, nil
}

type nullMailer struct{ sent atomic.Int64 }

func (m *nullMailer) Send(context.Context, bot.Mail) (string, error) {
	m.sent.Add(1)
	return "<sent@casebot.example>", nil
}

// TestIntakeGuarded builds mail intake as the daemon does, over the connectors guardEffects
// returns: without the lease, its Salesforce writes (and its posts and mails) are refused and
// never reach Salesforce; the request is taken in once the lease is back.
func TestIntakeGuarded(t *testing.T) {
	sf := &intakeSF{}
	box := &oneMail{}
	w := Wiring{
		CRM:       func(config.Salesforce, *slog.Logger) (bot.CRM, error) { return sf, nil },
		Mailbox:   func(config.IMAP, *slog.Logger) (bot.Mailbox, error) { return box, nil },
		ParseMail: parseTestMail,
		AuthenticateMail: func(config.IMAP) func(context.Context, []byte) bot.MailAuth {
			return func(context.Context, []byte) bot.MailAuth { return bot.MailAuth{DKIM: []string{"acme.example"}} }
		},
	}
	set, err := loadSetup("", IO{Out: io.Discard, Err: io.Discard}, w)
	if err != nil {
		t.Fatal(err)
	}
	lease := &fakeLease{}
	chat, mailer := &recordingChat{}, &nullMailer{}
	crm, gchat, gmailer, _ := guardEffects(lease, set.crm, chat, mailer, nil)
	in, mb, err := newIntake(set, crm, &memledger.Store{}, gchat, gmailer, time.Now, w)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()

	rep, err := in.Step(t.Context())
	if err == nil || !strings.Contains(err.Error(), errNotLeader.Message) {
		t.Errorf("Step without the lease: %+v, %v; want the lease's refusal", rep, err)
	}
	if n := sf.count(); n != 0 {
		t.Errorf("without the lease, %d mail(s) reached Salesforce's LogMails", n)
	}
	if box.moved.Load() != 0 {
		t.Error("without the lease, the request was moved out of INBOX")
	}
	if _, err := gchat.Post(t.Context(), bot.Message{Channel: "#om", Text: "x"}); !errors.Is(err, errNotLeader) || len(chat.keys()) != 0 {
		t.Errorf("intake's chat without the lease: %v, %d post(s); want refused", err, len(chat.keys()))
	}
	if _, err := gmailer.Send(t.Context(), bot.Mail{}); !errors.Is(err, errNotLeader) || mailer.sent.Load() != 0 {
		t.Errorf("intake's mailer without the lease: %v, %d sent; want refused", err, mailer.sent.Load())
	}

	lease.set(true, false)
	if rep, err := in.Step(t.Context()); err != nil || rep.Opened != 1 {
		t.Errorf("Step with the lease: %+v, %v; want the request opened as a case", rep, err)
	}
	if n := sf.count(); n != 1 {
		t.Errorf("with the lease, %d mail(s) logged; want 1", n)
	}
}

// failingCheck is a ledger the database behind which is out of reach.
type failingCheck struct{ memledger.Store }

func (*failingCheck) Check(context.Context) error {
	return errors.New("check ledger in PostgreSQL: dial: connection refused")
}

// TestReadyzStandbyChecksLedger: a standby that cannot reach the ledger could not take over,
// so it is not ready, and says why.
func TestReadyzStandbyChecksLedger(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store bot.Store
		code  int
		body  string
	}{
		{"ledger reachable", &memledger.Store{}, http.StatusOK, "standby: "},
		{"ledger out of reach", &failingCheck{}, http.StatusServiceUnavailable, "not ready: the ledger cannot be used: check ledger in PostgreSQL: dial: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := templates.Default()
			if err != nil {
				t.Fatal(err)
			}
			eng, err := engine.New(engine.Options{CRM: &intakeSF{}, Store: tc.store, Chat: &recordingChat{},
				Mailer: &nullMailer{}, Templates: tmpl, Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(statusHandler(eng, prometheus.NewRegistry(), &fakeLease{}))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.HasPrefix(string(body), tc.body) {
				t.Errorf("standby's /readyz: %d %q, want %d %q…", resp.StatusCode, body, tc.code, tc.body)
			}
		})
	}
}

// onceDaemon is what leadOnce needs of a daemon, with lease's term.
func onceDaemon(lease *fakeLease) *daemon {
	cfg := &config.Config{Store: config.Store{Lease: config.Duration(lease.ttl)}}
	return &daemon{cfg: cfg, log: slog.New(slog.DiscardHandler), lease: lease}
}

// TestOnceRenewsLease: a run of once that lasts several terms of the lease keeps it, renewed
// every third of its term, and acts to the end.
func TestOnceRenewsLease(t *testing.T) {
	lease := &fakeLease{ttl: 300 * time.Millisecond}
	err := onceDaemon(lease).leadOnce(t.Context(), func(ctx context.Context) error {
		for range 3 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(lease.ttl):
			}
			if !lease.Held() {
				return errors.New("the lease expired while once acted")
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("once over three terms of the lease: %v", err)
	}
	// One acquisition, then a renewal every third of the term: about 9 over three terms.
	if n := lease.count(); n < 5 {
		t.Errorf("%d acquisitions over three terms, want a renewal every third of one", n)
	}
}

// TestOnceStopsWhenLeaseLost: once another replica takes the lease, once stops acting (its
// context ends) and says so.
func TestOnceStopsWhenLeaseLost(t *testing.T) {
	lease := &fakeLease{ttl: 300 * time.Millisecond}
	stopped := false
	err := onceDaemon(lease).leadOnce(t.Context(), func(ctx context.Context) error {
		lease.set(true, true) // another replica takes it at the next renewal
		select {
		case <-ctx.Done():
			stopped = true
			return ctx.Err()
		case <-time.After(3 * lease.ttl):
			return nil
		}
	})
	if !stopped {
		t.Error("once kept acting after the lease was lost")
	}
	if err == nil || !strings.Contains(err.Error(), "lease was lost") {
		t.Errorf("once after losing the lease: %v, want it said", err)
	}
}

// blockingCRM's Apply waits for its context: a call whose connector retries for a long time.
type blockingCRM struct{ bot.CRM }

func (blockingCRM) Apply(ctx context.Context, _ []bot.Write) ([]bot.WriteResult, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A guarded call ends when the lease expires unless renewed, with its connector's retries:
// a request sent later could land after another replica took over.
func TestGuardedCallEndsWithTheLease(t *testing.T) {
	lease := &fakeLease{ttl: 200 * time.Millisecond}
	if held, _ := lease.Acquire(t.Context()); !held {
		t.Fatal("the lease was not taken")
	}
	crm, _, _, _ := guardEffects(lease, blockingCRM{}, nil, nil, nil)
	start := time.Now()
	_, err := crm.Apply(t.Context(), []bot.Write{{Op: bot.OpUpdate, Object: "Case", ID: "500000000000001AAA"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Apply past the lease: %v, want its deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Apply went on for %v past a lease of 200ms", took)
	}
	if _, err := crm.Apply(t.Context(), nil); !errors.Is(err, errNotLeader) {
		t.Errorf("Apply once the lease expired: %v, want %v", err, errNotLeader)
	}
}
