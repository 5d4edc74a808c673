package intake

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"casebot/bot"
	"casebot/bot/memledger"
)

// TestRequestOpensCase: a signed termination request from an account's domain opens a case
// of the rule's playbook with the fields read from the mail, keeps the mail and its .eml on
// it, acknowledges it threaded under the request, and moves it to Processed.
func TestRequestOpensCase(t *testing.T) {
	w := newWorld(t, nil)
	w.box.deliver(request("r1"))
	if rep := w.step(t); rep.Opened != 1 || rep.Read != 1 {
		t.Fatalf("report %+v, want one case opened", rep)
	}
	if len(w.sf.cases) != 1 {
		t.Fatalf("%d cases, want 1", len(w.sf.cases))
	}
	c := w.sf.cases[0]
	for k, want := range map[string]any{"Type": "Termination", "AccountId": "001000000000001AAA", "Origin": "Email",
		"SuppliedEmail": "anna@acme.example", "Exit_Reason__c": "budget"} {
		if c.Fields[k] != want {
			t.Errorf("case %s = %v, want %v", k, c.Fields[k], want)
		}
	}
	if f := w.sf.files[c.ID]; len(f) == 0 || f[0].ContentType != "message/rfc822" || !strings.HasSuffix(f[0].Name, ".eml") {
		t.Errorf("files on the case %v, want the .eml first", f)
	}
	if len(w.out.mails) != 1 {
		t.Fatalf("%d acknowledgements, want 1", len(w.out.mails))
	}
	ack := w.out.mails[0]
	if ack.To[0] != "anna@acme.example" || ack.InReplyTo != "<r1@acme.example>" || !strings.Contains(ack.Subject, "[case 00001001]") {
		t.Errorf("acknowledgement %+v, want it to Anna, under her request, naming the case", ack)
	}
	if w.box.count("INBOX") != 0 || w.box.count("Processed") != 1 {
		t.Errorf("INBOX %d, Processed %d; want the mail moved", w.box.count("INBOX"), w.box.count("Processed"))
	}
	// Both mails are on the case: the request and the acknowledgement.
	if len(w.sf.mails) != 2 || w.sf.mails[0]["Incoming"] != true || w.sf.mails[1]["MessageIdentifier"] != ack.MessageID {
		t.Errorf("mails logged %v", w.sf.mails)
	}
}

// TestDuplicateRequest: the same mail delivered twice, and a mailbox renumbered, open one case.
func TestDuplicateRequest(t *testing.T) {
	w := newWorld(t, nil)
	w.box.deliver(request("r1"))
	w.step(t)
	w.box.deliver(request("r1"))
	if rep := w.step(t); rep.Known != 1 || rep.Opened != 0 {
		t.Errorf("report %+v, want the duplicate known", rep)
	}
	// Renumbered while a third copy waits: it is read again, and known.
	w.box.deliver(request("r1"))
	w.box.renumber()
	w.step(t)
	if len(w.sf.cases) != 1 || len(w.out.mails) != 1 {
		t.Errorf("%d cases and %d acknowledgements, want 1 and 1", len(w.sf.cases), len(w.out.mails))
	}
	if w.box.count("INBOX") != 0 {
		t.Errorf("%d messages left in INBOX", w.box.count("INBOX"))
	}

	// Two copies of a new mail in one step: the second waits for the first to be taken in.
	w.box.deliver(request("r2"))
	w.box.deliver(request("r2"))
	if rep := w.step(t); rep.Known != 1 || rep.Kept != 1 || rep.Read != 2 {
		t.Errorf("report %+v, want the second request kept and its copy known", rep)
	}
	if n := w.incoming()["<r2@acme.example>"]; n != 1 || len(w.out.posts) != 1 {
		t.Errorf("the request logged %d times, %d notices; want once and once", n, len(w.out.posts))
	}
}

// TestQuarantine: an unknown sender, an unsigned mail from a customer's domain, a mail naming
// another company's account, a mail that matches no rule and one that cannot be read are
// quarantined, told to Order Management, and change nothing in Salesforce.
func TestQuarantine(t *testing.T) {
	for _, tc := range []struct{ name, raw, why string }{
		{"unknown sender", strings.ReplaceAll(request("u1"), "acme.example", "stranger.example"), "no account"},
		{"unsigned", strings.ReplaceAll(request("u2"), "X-Test-DKIM: pass\r\n", ""), "not authenticated"},
		{"another company's number", strings.ReplaceAll(request("u3"), "We terminate.", "Account number: GX-2002"), "is not one of Account.Email_Domains__c of account"},
		{"no rule", strings.ReplaceAll(request("u4"), "Termination of our contract", "Lunch?"), "no"},
		{"unreadable", "this is no mail", "unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, nil)
			w.box.deliver(tc.raw)
			if rep := w.step(t); rep.Quarantined != 1 {
				t.Fatalf("report %+v, want it quarantined", rep)
			}
			if len(w.sf.cases) != 0 || w.sf.logCalls != 0 || len(w.out.mails) != 0 {
				t.Errorf("cases %d, logged %d, mails %d: want nothing done", len(w.sf.cases), w.sf.logCalls, len(w.out.mails))
			}
			if w.box.count("Quarantine") != 1 {
				t.Errorf("the mail is not in Quarantine")
			}
			if len(w.out.posts) != 1 || !strings.Contains(w.out.posts[0].Text, tc.why) {
				t.Errorf("notices %v, want one saying %q", w.out.posts, tc.why)
			}
		})
	}
}

// TestPartnerRequest: a partner asks for its customer's cancellation from its own domain,
// which the account names in Partner_Email__c; another domain may not.
func TestPartnerRequest(t *testing.T) {
	partner := func(id, domain string) string {
		return "From: ops@" + domain + "\r\nSubject: Please cancel our customer\r\nMessage-ID: <" + id + "@" + domain + ">\r\n" +
			"X-Test-DKIM: pass\r\n\r\nAccount number: AC-1001\r\n"
	}
	w := newWorld(t, nil)
	w.box.deliver(partner("p1", "partner.example"))
	if rep := w.step(t); rep.Opened != 1 {
		t.Fatalf("report %+v, want the partner's request opened", rep)
	}
	if c := w.sf.cases[0]; c.Fields["AccountId"] != "001000000000001AAA" {
		t.Errorf("case of account %v, want Acme's", c.Fields["AccountId"])
	}
	w.box.deliver(partner("p2", "other-partner.example"))
	if rep := w.step(t); rep.Quarantined != 1 {
		t.Fatalf("report %+v, want another domain's request quarantined", rep)
	}
	if !strings.Contains(w.out.posts[0].Text, "that of Account.Partner_Email__c") {
		t.Errorf("notice %q does not say whose domain it had to be", w.out.posts[0].Text)
	}
}

// TestReplies: a reply by In-Reply-To is kept on its case, and a confirmation from the case's
// sender completes its gate; a second request while the case is open joins it, flagged.
func TestReplies(t *testing.T) {
	w := newWorld(t, nil)
	w.box.deliver(request("r1"))
	w.step(t)
	caseID := w.sf.cases[0].ID
	reply := func(id, auth string) string {
		return "From: anna@acme.example\r\nSubject: Re: your request\r\nMessage-ID: <" + id + "@acme.example>\r\n" +
			"In-Reply-To: " + w.out.mails[0].MessageID + "\r\n" + auth + "\r\nThe uninstallation is complete.\r\n"
	}
	// Unsigned, it is kept on the case but completes nothing.
	w.box.deliver(reply("r2", ""))
	if rep := w.step(t); rep.Kept != 1 {
		t.Fatalf("report %+v, want the reply kept", rep)
	}
	if got := w.sf.cases[0].Fields["Uninstall_Confirmed__c"]; got != nil {
		t.Errorf("an unsigned reply set Uninstall_Confirmed__c = %v", got)
	}
	w.box.deliver(reply("r2b", "X-Test-DKIM: pass\r\n"))
	if rep := w.step(t); rep.Kept != 1 {
		t.Fatalf("report %+v, want the reply kept", rep)
	}
	if got := w.sf.cases[0].Fields["Uninstall_Confirmed__c"]; got != true {
		t.Errorf("Uninstall_Confirmed__c = %v, want true", got)
	}
	w.box.deliver(request("r3"))
	if rep := w.step(t); rep.Kept != 1 {
		t.Fatalf("report %+v, want the second request kept on the open case", rep)
	}
	if len(w.sf.cases) != 1 || w.sf.mails[len(w.sf.mails)-1]["ParentId"] != caseID {
		t.Errorf("%d cases; the second request is not on the open case", len(w.sf.cases))
	}
	if len(w.out.posts) != 1 || !strings.Contains(w.out.posts[0].Text, "second termination request") {
		t.Errorf("notices %v, want the second request flagged", w.out.posts)
	}
}

// TestRefused: Salesforce refuses a mail for good (a validation rule): it is quarantined with
// the reason, and the mail after it is taken in; the mailbox does not stop at it.
func TestRefused(t *testing.T) {
	w := newWorld(t, nil)
	w.sf.refuse = "contract"
	w.box.deliver(request("r1"))
	w.box.deliver(strings.ReplaceAll(strings.ReplaceAll(request("r2"), "Termination of our contract", "Termination notice"),
		"acme.example", "globex.example"))
	rep := w.step(t)
	if rep.Quarantined != 1 || rep.Opened != 1 {
		t.Fatalf("report %+v, want one quarantined and one opened", rep)
	}
	if w.box.count("Quarantine") != 1 || w.box.count("Processed") != 1 {
		t.Errorf("Quarantine %d, Processed %d", w.box.count("Quarantine"), w.box.count("Processed"))
	}
	if len(w.out.posts) != 1 || !strings.Contains(w.out.posts[0].Text, "refused") {
		t.Errorf("notices %v, want the refusal told", w.out.posts)
	}
}

// failing fails every write after the first n, as a crash would leave them: nothing after.
type failing struct {
	memledger.Store
	writes, n atomic.Int32
}

var errCrash = errors.New("crashed")

func (s *failing) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	if s.writes.Add(1) > s.n.Load() {
		return errCrash
	}
	return s.Store.Record(ctx, es...)
}

func (s *failing) SetPosition(ctx context.Context, mailbox string, p bot.MailboxPosition) error {
	if s.writes.Add(1) > s.n.Load() {
		return errCrash
	}
	return s.Store.SetPosition(ctx, mailbox, p)
}

// TestCrashAtEveryWrite: intake stopped at every ledger write of a request, then run again,
// opens one case, logs the request once and sends one acknowledgement (or, when the stop falls
// between the relay's acceptance and its record, the same one twice: the mail window).
func TestCrashAtEveryWrite(t *testing.T) {
	crashAtEveryWrite(t, func(w *world) { w.box.deliver(request("r1")) }, func(w *world, n int32) {
		if len(w.sf.cases) != 1 {
			t.Errorf("stop after %d writes: %d cases, want 1", n, len(w.sf.cases))
		}
		if requests := len(w.incoming()); requests != 1 || w.incoming()["<r1@acme.example>"] != 1 {
			t.Errorf("stop after %d writes: the request logged %v", n, w.incoming())
		}
		if len(w.out.mails) == 0 || len(w.out.mails) > 2 || len(w.out.mails) == 2 && w.out.mails[0].MessageID != w.out.mails[1].MessageID {
			t.Errorf("stop after %d writes: acknowledgements %v", n, w.out.mails)
		}
		if w.box.count("INBOX") != 0 {
			t.Errorf("stop after %d writes: the mail is still in INBOX", n)
		}
	})
}

// crashAtEveryWrite stops intake after n ledger writes of a step, for n from 0 until a step
// makes all its writes, over the mail deliver delivers (and what it takes in first), runs it
// again, and checks the world with check.
func crashAtEveryWrite(t *testing.T, deliver func(w *world), check func(w *world, n int32)) {
	t.Helper()
	for n := int32(0); ; n++ {
		store := &failing{}
		store.n.Store(1 << 30)
		w := newWorld(t, store)
		deliver(w)
		store.writes.Store(0)
		store.n.Store(n)
		if _, err := w.in.Step(t.Context()); err == nil {
			if n == 0 {
				t.Fatal("no write at all")
			}
			return // every write done: all stops were tried
		}
		store.n.Store(1 << 30)
		w.step(t)
		check(w, n)
	}
}

// TestLostAnswer: Salesforce kept the mail but its answer was lost: the retry finds the mail
// by its Message-ID instead of opening a second case.
func TestLostAnswer(t *testing.T) {
	w := newWorld(t, nil)
	w.sf.lostAnswers = 1
	w.box.deliver(request("r1"))
	if _, err := w.in.Step(t.Context()); err == nil {
		t.Fatal("a lost answer did not stop the step")
	}
	w.step(t)
	if len(w.sf.cases) != 1 || len(w.out.mails) != 1 {
		t.Errorf("%d cases and %d acknowledgements, want 1 and 1", len(w.sf.cases), len(w.out.mails))
	}
}
