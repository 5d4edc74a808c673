package intake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"casebot/bot"
	"casebot/bot/memledger"
)

// customers adds n accounts to w, customer i writing from c<i>.example, and returns a request
// of customer i.
func (w *world) customers(n int) func(i int) string {
	for i := range n {
		w.sf.accounts = append(w.sf.accounts, bot.Account{ID: fmt.Sprintf("001%012dAAA", 100+i),
			Fields: bot.Fields{"Name": fmt.Sprintf("Customer %d", i), "Email_Domains__c": fmt.Sprintf("c%d.example", i)}})
	}
	return func(i int) string {
		return strings.ReplaceAll(request(fmt.Sprintf("c%d", i)), "acme.example", fmt.Sprintf("c%d.example", i))
	}
}

// incoming counts the inbound mails logged with each Message-ID.
func (w *world) incoming() map[string]int {
	n := map[string]int{}
	for _, m := range w.sf.mails {
		if m["Incoming"] == true {
			n[m["MessageIdentifier"].(string)]++
		}
	}
	return n
}

// writes counts a store's ledger writes: Record and SetPosition calls.
type writes struct {
	memledger.Store
	n int
}

func (s *writes) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	s.n++
	return s.Store.Record(ctx, es...)
}

func (s *writes) SetPosition(ctx context.Context, mailbox string, p bot.MailboxPosition) error {
	s.n++
	return s.Store.SetPosition(ctx, mailbox, p)
}

// TestBacklog: a backlog of requests is taken in with a number of Salesforce calls, ledger
// transactions and moves that does not grow with it: the mails are kept on their cases in one
// LogMails, their acknowledgements in another, the accounts found in one query, their open
// cases in two (a hundred accounts a query), the new cases read for the acknowledgements in one;
// the claims, the acknowledgements' claims and the outcomes are a transaction each, and the
// relay's acceptance of each acknowledgement one of its own (the mail window).
func TestBacklog(t *testing.T) {
	const n = 160
	store := &writes{}
	w := newWorld(t, store)
	w.in.opts.Batch = 200
	customer := w.customers(n)
	for i := range n {
		w.box.deliver(customer(i))
	}
	if rep := w.step(t); rep.Opened != n || rep.Read != n {
		t.Fatalf("report %+v, want %d opened", rep, n)
	}
	if len(w.sf.cases) != n || len(w.incoming()) != n || len(w.out.mails) != n {
		t.Errorf("%d cases, %d requests logged, %d acknowledgements; want %d of each", len(w.sf.cases), len(w.incoming()), len(w.out.mails), n)
	}
	if w.sf.logCalls != 2 || w.sf.logged != 2*n {
		t.Errorf("%d LogMails calls of %d mails, want 2 of %d", w.sf.logCalls, w.sf.logged, 2*n)
	}
	if w.sf.reads != 4 {
		t.Errorf("%d reads of Salesforce, want 4", w.sf.reads)
	}
	if want := 3 + n + 1; store.n != want {
		t.Errorf("%d ledger writes, want %d", store.n, want)
	}
	if w.box.moves != 1 || w.box.count("Processed") != n || w.box.count("INBOX") != 0 {
		t.Errorf("%d moves; Processed %d, INBOX %d; want one move of them all", w.box.moves, w.box.count("Processed"), w.box.count("INBOX"))
	}
}

// TestRefusedInBatch: Salesforce refuses one mail of a batch for good: that mail alone is
// quarantined; the others are taken in with it, in the same step.
func TestRefusedInBatch(t *testing.T) {
	w := newWorld(t, nil)
	customer := w.customers(3)
	w.box.deliver(customer(0))
	w.box.deliver(strings.Replace(customer(1), "Termination of our contract", "Termination of our contract (refused)", 1))
	w.box.deliver(customer(2))
	w.sf.refuse = "(refused)"
	rep := w.step(t)
	if rep.Quarantined != 1 || rep.Opened != 2 {
		t.Fatalf("report %+v, want one quarantined and two opened", rep)
	}
	if w.box.count("Quarantine") != 1 || w.box.count("Processed") != 2 || w.box.moves != 2 {
		t.Errorf("Quarantine %d, Processed %d after %d moves; want 1 and 2 after 2", w.box.count("Quarantine"), w.box.count("Processed"), w.box.moves)
	}
	if len(w.out.posts) != 1 || !strings.Contains(w.out.posts[0].Text, "refused") {
		t.Errorf("notices %v, want the refusal told", w.out.posts)
	}
	if len(w.sf.cases) != 2 || len(w.out.mails) != 2 {
		t.Errorf("%d cases and %d acknowledgements, want 2 and 2", len(w.sf.cases), len(w.out.mails))
	}
}

// TestRetryableMidBatch: Salesforce fails one mail of a batch retryably: the step stops there;
// the mails before it are done and moved, it and those after it stay in the mailbox, and the
// next step takes them in without keeping any mail twice (those after it were kept: they are
// found by their Message-IDs).
func TestRetryableMidBatch(t *testing.T) {
	w := newWorld(t, nil)
	customer := w.customers(5)
	for i := range 5 {
		w.box.deliver(customer(i))
	}
	w.sf.lock = "<c2@c2.example>"
	rep, err := w.in.Step(t.Context())
	if !bot.IsRetryable(err) || rep.Opened != 2 {
		t.Fatalf("step: %+v, %v; want two opened and a retryable error", rep, err)
	}
	if w.box.count("Processed") != 2 || w.box.count("INBOX") != 3 {
		t.Errorf("Processed %d, INBOX %d; want 2 and 3", w.box.count("Processed"), w.box.count("INBOX"))
	}
	if pos, _ := w.store.Position(t.Context(), "INBOX"); pos.UID != 2 {
		t.Errorf("position %+v, want UID 2: the messages after it are not done", pos)
	}
	if rep := w.step(t); rep.Opened != 3 {
		t.Errorf("report %+v, want the three left opened", rep)
	}
	for id, n := range w.incoming() {
		if n != 1 {
			t.Errorf("%s logged %d times", id, n)
		}
	}
	if len(w.incoming()) != 5 || len(w.sf.cases) != 5 || len(w.out.mails) != 5 || w.box.count("Processed") != 5 {
		t.Errorf("%d requests logged, %d cases, %d acknowledgements, %d processed; want 5 of each",
			len(w.incoming()), len(w.sf.cases), len(w.out.mails), w.box.count("Processed"))
	}
}

// TestCrashAtEveryWriteOfABatch: a batch of two requests, a reply to an earlier case, a second
// request for the account of that case and a stranger's mail, stopped at every ledger write of
// the step and run again, gives each request one case, logs each mail once, acknowledges each
// request once (or, at the mail window, twice with the same Message-ID), tells each notice
// once and moves every mail once.
func TestCrashAtEveryWriteOfABatch(t *testing.T) {
	batch := func(w *world) {
		w.box.deliver(request("r0"))
		w.step(t) // Acme's open case, which the reply answers and the second request joins
		w.box.deliver(request("r1"))
		w.box.deliver(strings.ReplaceAll(request("g1"), "acme.example", "globex.example"))
		w.box.deliver("From: anna@acme.example\r\nSubject: Re: your request\r\nMessage-ID: <re1@acme.example>\r\n" +
			"In-Reply-To: <r0@acme.example>\r\nX-Test-DKIM: pass\r\n\r\nThe uninstallation is complete.\r\n")
		w.box.deliver(strings.ReplaceAll(request("s1"), "acme.example", "stranger.example"))
		w.box.deliver(strings.ReplaceAll(request("g2"), "acme.example", "globex.example"))
	}
	crashAtEveryWrite(t, batch, func(w *world, n int32) {
		if len(w.sf.cases) != 2 {
			t.Errorf("stop after %d writes: %d cases, want Acme's and Globex's", n, len(w.sf.cases))
		}
		logged := w.incoming()
		for _, id := range []string{"<r0@acme.example>", "<r1@acme.example>", "<g1@globex.example>", "<re1@acme.example>", "<g2@globex.example>"} {
			if logged[id] != 1 {
				t.Errorf("stop after %d writes: %s logged %d times", n, id, logged[id])
			}
		}
		acks := map[string]int{}
		for _, m := range w.out.mails {
			acks[m.InReplyTo]++
		}
		if len(acks) != 2 || acks["<r0@acme.example>"] != 1 || acks["<g1@globex.example>"] < 1 || acks["<g1@globex.example>"] > 2 {
			t.Errorf("stop after %d writes: acknowledgements %v, want one of r0 and one (or two the same) of g1", n, acks)
		}
		notices := map[string]int{}
		for _, p := range w.out.posts {
			notices[p.Key]++
		}
		if len(notices) != 3 || slices.ContainsFunc(slices.Collect(maps.Values(notices)), func(c int) bool { return c != 1 }) {
			t.Errorf("stop after %d writes: notices %v, want three (r1 and g2 flagged, s1 quarantined) once each", n, notices)
		}
		if w.box.count("INBOX") != 0 || w.box.count("Processed") != 5 || w.box.count("Quarantine") != 1 {
			t.Errorf("stop after %d writes: INBOX %d, Processed %d, Quarantine %d", n,
				w.box.count("INBOX"), w.box.count("Processed"), w.box.count("Quarantine"))
		}
	})
}

// TestSameAccountInBatch: two requests of the same account in one batch open one case: the
// second waits for a second round of the step, which finds the first's case and joins it,
// flagged.
func TestSameAccountInBatch(t *testing.T) {
	w := newWorld(t, nil)
	w.box.deliver(request("r1"))
	w.box.deliver(request("r2"))
	rep := w.step(t)
	if rep.Opened != 1 || rep.Kept != 1 || rep.Read != 2 {
		t.Fatalf("report %+v, want one opened and one kept", rep)
	}
	if len(w.sf.cases) != 1 {
		t.Fatalf("%d cases, want 1", len(w.sf.cases))
	}
	caseID := w.sf.cases[0].ID
	for _, m := range w.sf.mails {
		if m["MessageIdentifier"] == "<r2@acme.example>" && m["ParentId"] != caseID {
			t.Errorf("the second request is on %v, not on the first's case %s", m["ParentId"], caseID)
		}
	}
	if len(w.out.posts) != 1 || !strings.Contains(w.out.posts[0].Text, "second termination request") {
		t.Errorf("notices %v, want the second request flagged", w.out.posts)
	}
	if w.box.count("Processed") != 2 {
		t.Errorf("Processed %d, want 2", w.box.count("Processed"))
	}
}

// TestReplyInBatch: a reply in the same batch as the request it answers is kept on the case
// the request opens, and its reply rule applies to that case.
func TestReplyInBatch(t *testing.T) {
	w := newWorld(t, nil)
	w.box.deliver(request("r1"))
	w.box.deliver("From: anna@acme.example\r\nSubject: Re: Termination of our contract\r\nMessage-ID: <r2@acme.example>\r\n" +
		"In-Reply-To: <r1@acme.example>\r\nX-Test-DKIM: pass\r\n\r\nThe uninstallation is complete.\r\n")
	rep := w.step(t)
	if rep.Opened != 1 || rep.Kept != 1 {
		t.Fatalf("report %+v, want the request opened and the reply kept", rep)
	}
	if len(w.sf.cases) != 1 {
		t.Fatalf("%d cases, want 1", len(w.sf.cases))
	}
	c := w.sf.cases[0]
	if w.sf.mails[len(w.sf.mails)-1]["ParentId"] != c.ID || c.Fields["Uninstall_Confirmed__c"] != true {
		t.Errorf("the reply is on %v and Uninstall_Confirmed__c = %v; want it on %s, setting it",
			w.sf.mails[len(w.sf.mails)-1]["ParentId"], c.Fields["Uninstall_Confirmed__c"], c.ID)
	}
}
