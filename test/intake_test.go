package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/imap/dovecot"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
)

// intakeWorld is casebot run over the sandbox and a real Dovecot, with an account that has no
// open case: Newco, writing from newco.example.
type intakeWorld struct {
	dv      *dovecot.Server
	sb      *sandbox.Server
	sf      *salesforce.CRM
	client  *salesforce.Client
	account string
	cfg     string // the config file
	d       *daemon
}

func startIntake(t *testing.T) *intakeWorld {
	t.Helper()
	w := setupIntake(t)
	w.d = startDaemon(t, w.cfg)
	return w
}

// setupIntake is startIntake without the daemon.
func setupIntake(t *testing.T) *intakeWorld {
	t.Helper()
	dv := dovecot.Start(t)
	dir := t.TempDir()
	sb, cfg, _ := sandboxConfig(t, dir, time.Now)
	host, port, err := net.SplitHostPort(dv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	imap := fmt.Sprintf("mail:\n  imap: {host: %s, port: %s, tls: none, username: %s, password: %s, authserv_id: mx.casebot.test}\n",
		host, port, dv.User(), dv.Password())
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(conf), "mail:\n", imap, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := salesforce.New(salesforce.Options{LoginURL: sb.URL(), Grant: "client_credentials",
		ClientID: "casebot-sandbox", ClientSecret: "sandbox-secret"})
	if err != nil {
		t.Fatal(err)
	}
	w := &intakeWorld{dv: dv, sb: sb, sf: salesforce.NewCRM(client), client: client, cfg: cfg}
	res, err := w.sf.Apply(t.Context(), []bot.Write{{Op: bot.OpCreate, Object: "Account", Fields: bot.Fields{
		"Name": "Newco", "Type": "Customer - Direct", "AccountNumber": "NC-0001", "Email_Domains__c": "newco.example",
		"Time_Zone__c": "Europe/Berlin"}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("creating the account: %v %v", err, res)
	}
	w.account = res[0].ID
	return w
}

// mail is a request or reply from newco.example; the receiving server vouches for it when
// auth says "pass".
func mail(id, subject, body, auth string, headers ...string) []byte {
	var b strings.Builder
	if auth != "" {
		fmt.Fprintf(&b, "Authentication-Results: mx.casebot.test; dmarc=%s header.from=newco.example\r\n", auth)
	}
	fmt.Fprintf(&b, "From: Nora Newco <nora@newco.example>\r\nTo: terminations@vendor.example\r\nSubject: %s\r\n", subject)
	fmt.Fprintf(&b, "Message-ID: <%s@newco.example>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\n", id)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

// cases returns Newco's cases.
func (w *intakeWorld) cases(t *testing.T) []bot.Case {
	t.Helper()
	cs, err := w.sf.Cases(t.Context(), bot.CaseQuery{Object: "Case", Where: "AccountId = '" + w.account + "'",
		Fields: []string{"Type", "Origin", "SuppliedEmail", "Termination_Reason__c", "Removal_Scenario__c", "Status"}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// folder waits until mailbox holds n messages and returns their Message-IDs.
func (w *intakeWorld) folder(t *testing.T, mailbox string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		var ids []string
		for _, m := range w.dv.Messages(t, mailbox) {
			ids = append(ids, m.MessageID)
		}
		if len(ids) >= n {
			return ids
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s holds %v, want %d messages:\n%s", mailbox, ids, n, strings.Join(w.d.log, "\n"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestMailIntake runs the real binary over Dovecot and the sandbox: a customer's termination
// request becomes a case of the customer removal playbook within moments of delivery (IDLE),
// its duplicate and a reply to it make no second case, and a spoofed mail and an unknown
// sender's are quarantined.
func TestMailIntake(t *testing.T) {
	w := startIntake(t)
	request := mail("req-1", "Termination of service", "We want to end the service.\nExit reason: too expensive\n", "pass")
	delivered := time.Now()
	w.dv.Deliver(t, "INBOX", request)
	w.d.wait(`msg="mail taken in" outcome=opened`)
	t.Logf("delivery to case: %v", time.Since(delivered))
	cs := w.cases(t)
	if len(cs) != 1 {
		t.Fatalf("Newco has %d cases, want 1", len(cs))
	}
	for k, want := range map[string]any{"Type": "Customer Removal", "Origin": "Email", "SuppliedEmail": "nora@newco.example",
		"Termination_Reason__c": "too expensive", "Removal_Scenario__c": "Customer Request"} {
		if got := cs[0].Fields[k]; got != want {
			t.Errorf("case %s = %v, want %v", k, got, want)
		}
	}
	if ids := w.folder(t, "Processed", 1); !slices.Contains(ids, "<req-1@newco.example>") {
		t.Errorf("Processed holds %v", ids)
	}
	logged, err := w.sf.MailCases(t.Context(), []string{"<req-1@newco.example>"})
	if err != nil || logged["<req-1@newco.example>"] != cs[0].ID {
		t.Errorf("the request is not logged on its case: %v %v", logged, err)
	}

	// The same mail again, and a reply to it: kept, no second case.
	w.dv.Deliver(t, "INBOX", request)
	w.dv.Deliver(t, "INBOX", mail("req-2", "Re: Termination of service", "One more thing.\n", "pass",
		"In-Reply-To: <req-1@newco.example>"))
	w.folder(t, "Processed", 3)
	if cs := w.cases(t); len(cs) != 1 {
		t.Errorf("Newco has %d cases after a duplicate and a reply, want 1", len(cs))
	}
	if logged, _ := w.sf.MailCases(t.Context(), []string{"<req-2@newco.example>"}); logged["<req-2@newco.example>"] != cs[0].ID {
		t.Errorf("the reply is not on the case: %v", logged)
	}

	// The server drops casebot's connection: it reconnects and goes on.
	w.dv.Kick(t)
	w.dv.Deliver(t, "INBOX", mail("req-3", "Re: Termination of service", "And another.\n", "pass",
		"In-Reply-To: <req-1@newco.example>"))
	w.folder(t, "Processed", 4)

	// Spoofed (the receiving server says DMARC failed), unsigned, and from a stranger.
	w.dv.Deliver(t, "INBOX", mail("spoof-1", "Termination of service", "Exit reason: none\n", "fail"))
	w.dv.Deliver(t, "INBOX", mail("spoof-2", "Termination of service", "Exit reason: none\n", ""))
	stranger := strings.ReplaceAll(string(mail("stranger-1", "Termination of service", "Exit reason: none\n", "pass")), "newco.example", "stranger.example")
	w.dv.Deliver(t, "INBOX", []byte(stranger))
	ids := w.folder(t, "Quarantine", 3)
	for _, id := range []string{"<spoof-1@newco.example>", "<spoof-2@newco.example>", "<stranger-1@stranger.example>"} {
		if !slices.Contains(ids, id) {
			t.Errorf("%s is not in Quarantine (%v)", id, ids)
		}
	}
	if cs := w.cases(t); len(cs) != 1 {
		t.Errorf("Newco has %d cases after spoofed mail, want 1", len(cs))
	}
	if n := len(w.dv.Messages(t, "INBOX")); n != 0 {
		t.Errorf("%d messages left in INBOX", n)
	}
	w.d.stop()
}

// TestPartnerMailIntake: the MSP procedure from mail alone: the partner asks, from its own
// domain, for its customer's cancellation, naming the customer's account number; the case
// opens with the cancellation type, the export and the terms read from the mail.
func TestPartnerMailIntake(t *testing.T) {
	w := startIntake(t)
	res, err := w.sf.Apply(t.Context(), []bot.Write{{Op: bot.OpCreate, Object: "Account", Fields: bot.Fields{
		"Name": "Contoso", "Type": "Customer - Channel", "AccountNumber": "CUS-009001", "Email_Domains__c": "contoso.example",
		"MSP_Partner__c": "Redwood MSP", "Partner_Email__c": "ops@msp.example", "Subscription_Status__c": "Active",
		"Subscription_Start_Date__c": time.Now().AddDate(-1, 0, 0).Format(bot.DateLayout)}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("creating the account: %v %v", err, res)
	}
	raw := "Authentication-Results: mx.casebot.test; dmarc=pass header.from=msp.example\r\n" +
		"From: Owen Price <ops@msp.example>\r\nTo: msp-support@vendor.example\r\nSubject: Cancel Contoso\r\n" +
		"Message-ID: <cancel-1@msp.example>\r\n\r\nAccount number: CUS-009001\r\nCancellation type: Cancel\r\n" +
		"Data export: no\r\nWe accept the terms.\r\n"
	w.dv.Deliver(t, "INBOX", []byte(raw))
	w.d.wait(`msg="mail taken in" outcome=opened`)
	cs, err := w.sf.Cases(t.Context(), bot.CaseQuery{Object: "Case", Where: "AccountId = '" + res[0].ID + "'",
		Fields: []string{"Type", "Cancellation_Type__c", "Data_Export_Required__c", "Terms_Accepted__c", "SuppliedEmail"}})
	if err != nil || len(cs) != 1 {
		t.Fatalf("Contoso's cases: %v %v", cs, err)
	}
	for k, want := range map[string]any{"Type": "MSP Cancellation", "Cancellation_Type__c": "Cancel",
		"Data_Export_Required__c": false, "Terms_Accepted__c": true, "SuppliedEmail": "ops@msp.example"} {
		if got := cs[0].Fields[k]; got != want {
			t.Errorf("case %s = %v, want %v", k, got, want)
		}
	}
	w.d.stop()
}

// TestMailIntakeKilled: casebot killed with SIGKILL while it takes in a backlog of requests,
// three times at different points, and started again: every request opens exactly one case
// and is logged once, and the mailbox ends empty.
func TestMailIntakeKilled(t *testing.T) {
	w := startIntake(t)
	const n = 12
	res, ids, deliver := w.customers(t, "killco", n)
	// Three rounds of four requests: each time killed once it took in the first of them (the
	// others are mid-way, or waiting), and started again.
	for round := range 3 {
		for i := round * 4; i < round*4+4; i++ {
			deliver(i)
		}
		w.d.wait(`msg="mail taken in"`)
		if err := w.d.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		w.d.cmd.Wait()
		w.d = startDaemon(t, w.cfg)
	}
	w.folder(t, "Processed", n)
	w.checkOnce(t, res, ids)
	w.d.stop()
}

// customers creates n accounts named prefix and a number, each writing from a domain of its
// own, and returns their results, the Message-IDs of their requests, and a function that
// delivers account i's request.
func (w *intakeWorld) customers(t *testing.T, prefix string, n int) ([]bot.WriteResult, []string, func(i int)) {
	t.Helper()
	var writes []bot.Write
	for i := range n {
		writes = append(writes, bot.Write{Op: bot.OpCreate, Object: "Account", Fields: bot.Fields{
			"Name": fmt.Sprintf("%s %d", prefix, i), "Type": "Customer - Direct", "AccountNumber": fmt.Sprintf("%s-%04d", prefix, i),
			"Email_Domains__c": fmt.Sprintf("%s%d.example", prefix, i), "Time_Zone__c": "Europe/Berlin"}})
	}
	res, err := w.sf.Apply(t.Context(), writes)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("<req-%d@%s%d.example>", i, prefix, i)
	}
	return res, ids, func(i int) {
		domain := fmt.Sprintf("%s%d.example", prefix, i)
		w.dv.Deliver(t, "INBOX", []byte(strings.ReplaceAll(string(mail(fmt.Sprintf("req-%d", i), "Termination of service",
			"Exit reason: moving on\n", "pass")), "newco.example", domain)))
	}
}

// checkOnce checks that each account of res has one case, with its request (ids) logged on it
// once, and that the INBOX is empty.
func (w *intakeWorld) checkOnce(t *testing.T, res []bot.WriteResult, ids []string) {
	t.Helper()
	logged, err := w.sf.MailCases(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		cs, err := w.sf.Cases(t.Context(), bot.CaseQuery{Object: "Case", Where: "AccountId = '" + r.ID + "'"})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || logged[ids[i]] != cs[0].ID {
			t.Errorf("account %d has %d case(s); its request is logged on %q", i, len(cs), logged[ids[i]])
		}
	}
	// Each request logged once.
	var logs []string
	err = w.client.Query(t.Context(), "SELECT MessageIdentifier FROM EmailMessage WHERE Incoming = true", func(records []json.RawMessage) error {
		for _, r := range records {
			var m struct{ MessageIdentifier string }
			if err := json.Unmarshal(r, &m); err != nil {
				return err
			}
			logs = append(logs, m.MessageIdentifier)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if c := strings.Count(strings.Join(logs, " "), id); c != 1 {
			t.Errorf("%s is logged %d times, want once", id, c)
		}
	}
	if n := len(w.dv.Messages(t, "INBOX")); n != 0 {
		t.Errorf("%d messages left in INBOX", n)
	}
}

// TestMailIntakeBacklog: a backlog waiting when casebot starts is taken in with batched
// Salesforce calls: 80 requests of 80 accounts are kept on cases of their own in ceil(80/75) =
// 2 composite graph calls, and the whole backlog costs a handful of calls, not three a mail.
func TestMailIntakeBacklog(t *testing.T) {
	w := setupIntake(t)
	const n = 80
	res, ids, deliver := w.customers(t, "backlog", n)
	for i := range n {
		deliver(i)
	}
	w.sb.ResetRequests()
	w.d = startDaemon(t, w.cfg)
	w.folder(t, "Processed", n)
	w.d.stop()
	graphs, composites := 0, 0
	for _, r := range w.sb.Requests() {
		switch {
		case strings.HasSuffix(r.Path, "/composite/graph"):
			graphs++
		case strings.HasSuffix(r.Path, "/composite"):
			composites++
		}
	}
	if graphs != 2 || composites != 0 {
		t.Errorf("%d composite graph calls and %d composite calls, want 2 and none", graphs, composites)
	}
	w.checkOnce(t, res, ids)
}

// TestMailIntakeRenumbered: the mailbox renumbered (a new UIDVALIDITY) while a copy of a mail
// taken in and a new one wait: once reads it all again, and only the new one opens a case.
func TestMailIntakeRenumbered(t *testing.T) {
	w := setupIntake(t)
	request := mail("ren-1", "Termination of service", "Exit reason: budget\n", "pass")
	w.dv.Deliver(t, "INBOX", request)
	casebot(t, "once", "-config", w.cfg)
	if cs := w.cases(t); len(cs) != 1 {
		t.Fatalf("Newco has %d cases, want 1", len(cs))
	}
	res, err := w.sf.Apply(t.Context(), []bot.Write{{Op: bot.OpCreate, Object: "Account", Fields: bot.Fields{
		"Name": "Oldco", "Type": "Customer - Direct", "Email_Domains__c": "oldco.example", "Time_Zone__c": "Europe/Berlin"}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("creating the account: %v %v", err, res)
	}
	w.dv.Deliver(t, "INBOX", request)
	w.dv.Deliver(t, "INBOX", []byte(strings.ReplaceAll(string(mail("ren-2", "Termination of service", "Exit reason: none\n", "pass")),
		"newco.example", "oldco.example")))
	before := w.dv.UIDValidity(t, "INBOX")
	if after := w.dv.Renumber(t, "INBOX"); after == before {
		t.Fatalf("UIDVALIDITY stayed %d", before)
	}
	out, errOut, code := run(t, "once", "-config", w.cfg)
	if code != 0 || !strings.Contains(out, "2 mail(s) read: 1 case(s) opened, 0 kept on a case, 0 quarantined, 1 taken in before") {
		t.Errorf("once exited %d and said:\n%s\n%s", code, out, errOut)
	}
	if cs := w.cases(t); len(cs) != 1 {
		t.Errorf("Newco has %d cases after its request was read again, want 1", len(cs))
	}
	if n := len(w.dv.Messages(t, "INBOX")); n != 0 {
		t.Errorf("%d messages left in INBOX", n)
	}
}
