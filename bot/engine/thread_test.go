package engine

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"casebot/bot"
)

// threadPlaybook answers the mail that opened the case, then sends a mail of its own.
const threadPlaybook = lettersHead + `  - id: countersign
    title: Request acknowledged
    at: day0 + 1d
    do:
      - email: {to: [Case.SuppliedEmail], template: notice, thread: true}
      - email: {to: [Case.SuppliedEmail], template: notice}
`

const request = "<request.1@customer.example>"

// mailOf is the mail sent for the effect of key.
func mailOf(t *testing.T, mails []bot.Mail, key string) bot.Mail {
	t.Helper()
	i := slices.IndexFunc(mails, func(m bot.Mail) bool { return m.Key == key })
	if i < 0 {
		t.Fatalf("no mail of %s in %+v", key, mails)
	}
	return mails[i]
}

// threaded reports whether m answers the mail whose Message-ID is id.
func threaded(m bot.Mail, id string) bool {
	return m.InReplyTo == id && slices.Equal(m.References, []string{id})
}

// A mail that threads answers the first mail the case received, whatever came since; the
// step's other mail does not, and only the one that threads asks for the case's mails.
func TestThreadedMail(t *testing.T) {
	l := newLettersOf(t, threadPlaybook, actionsCase)
	l.crm.received = map[string][]string{actionsCase: {request, "<reply.2@customer.example>"}}
	if rep := cycle(t, l.eng); rep.Done != 2 || rep.Failed != 0 {
		t.Fatalf("report %+v, want both mails done", rep)
	}
	if m := mailOf(t, l.mailer.mails, letterKey(actionsCase)); !threaded(m, request) {
		t.Errorf("In-Reply-To %q, References %q; want the request's %s", m.InReplyTo, m.References, request)
	}
	other := bot.EffectKey("letters", "countersign", 2, actionsCase)
	if m := mailOf(t, l.mailer.mails, other); m.InReplyTo != "" || m.References != nil {
		t.Errorf("the mail without thread: In-Reply-To %q, References %q; want none", m.InReplyTo, m.References)
	}
	if len(l.crm.mailCalls) != 1 {
		t.Errorf("CaseMails calls %v, want 1", l.crm.mailCalls)
	}
}

// A retry answers the mail chosen when the mail was claimed: the claim keeps it, and the case's
// mails are not read again, though another arrived meanwhile.
func TestThreadedMailRetry(t *testing.T) {
	l := newLettersOf(t, threadPlaybook, actionsCase)
	l.crm.received = map[string][]string{actionsCase: {request}}
	l.mailer.fail = &bot.Error{Op: "send", Code: "421", Retryable: true}
	cycle(t, l.eng)
	key := letterKey(actionsCase)
	if e := l.store.get(key); e.State != bot.StateFailed || !e.Retryable {
		t.Fatalf("entry %+v, want a retryable failure", e)
	}
	payloads, err := l.store.Payloads(t.Context(), []string{key})
	if err != nil {
		t.Fatal(err)
	}
	var cl claim
	if err := json.Unmarshal([]byte(payloads[key]), &cl); err != nil || cl.InReplyTo != request {
		t.Fatalf("claim %s (%v), want in_reply_to %s", payloads[key], err, request)
	}
	// What the CRM answers now is not what was decided.
	l.crm.received[actionsCase] = []string{"<other.3@customer.example>", request}
	l.now = l.now.Add(time.Hour)
	cycle(t, l.eng)
	if e := l.store.get(key); e.State != bot.StateDone {
		t.Fatalf("entry %+v, want done", e)
	}
	if m := mailOf(t, l.mailer.mails, key); !threaded(m, request) {
		t.Errorf("retried mail: In-Reply-To %q, References %q; want the claimed %s", m.InReplyTo, m.References, request)
	}
	if len(l.crm.mailCalls) != 1 {
		t.Errorf("CaseMails calls %v, want 1: the retry sends what was claimed", l.crm.mailCalls)
	}
}

// One call reads the mails of every case whose threading mail is claimed in a pass; a case
// that received none gets a mail of its own thread, not a failure.
func TestThreadedMailsReadOnce(t *testing.T) {
	ids := []string{"500000000000011AAA", "500000000000012AAA", "500000000000013AAA"}
	l := newLettersOf(t, threadPlaybook, ids...)
	l.crm.received = map[string][]string{ids[0]: {request}, ids[2]: {"<request.3@customer.example>"}}
	if rep := cycle(t, l.eng); rep.Done != 6 || rep.Failed != 0 {
		t.Fatalf("report %+v, want 6 mails", rep)
	}
	if len(l.crm.mailCalls) != 1 || len(l.crm.mailCalls[0]) != 3 {
		t.Errorf("CaseMails calls %v, want one for the 3 cases", l.crm.mailCalls)
	}
	for id, want := range map[string]string{ids[0]: request, ids[1]: "", ids[2]: "<request.3@customer.example>"} {
		m := mailOf(t, l.mailer.mails, letterKey(id))
		if want == "" && (m.InReplyTo != "" || m.References != nil) || want != "" && !threaded(m, want) {
			t.Errorf("case %s: In-Reply-To %q, References %q; want %q", id, m.InReplyTo, m.References, want)
		}
	}
}

// Salesforce out of reach when the case's mails are read fails the mail that threads for now;
// it goes out, threaded, once Salesforce answers.
func TestThreadedMailUnreachable(t *testing.T) {
	l := newLettersOf(t, threadPlaybook, actionsCase)
	l.crm.received = map[string][]string{actionsCase: {request}}
	l.crm.mailsErr = &bot.Error{Op: "query", Code: "SERVER_UNAVAILABLE", Retryable: true}
	if rep := cycle(t, l.eng); rep.Failed != 1 {
		t.Fatalf("report %+v, want the mail that threads failed", rep)
	}
	key := letterKey(actionsCase)
	if e := l.store.get(key); e.State != bot.StateFailed || !e.Retryable || len(l.mailer.mails) != 0 {
		t.Fatalf("entry %+v with %d mails, want a retryable failure", e, len(l.mailer.mails))
	}
	l.crm.mailsErr = nil
	l.now = l.now.Add(time.Hour)
	cycle(t, l.eng)
	if e := l.store.get(key); e.State != bot.StateDone || !threaded(mailOf(t, l.mailer.mails, key), request) {
		t.Errorf("entry %+v, mails %+v; want the mail sent, threaded", e, l.mailer.mails)
	}
}
