// Package intake turns inbound mail into cases: a customer's or a partner's termination
// request opens a case of the playbook its rule names, a reply is kept on the case it answers
// (and may complete a gate), and what cannot be taken in is moved to quarantine and Order
// Management told. Every mail is taken in once, across crashes and restarts: what was decided
// is in the ledger before anything is written, and a crash before the outcome is recorded is
// repaired by asking Salesforce for the logged mail (by its Message-ID) instead of logging it
// again.
package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/templates"
)

// Options are what intake works with.
type Options struct {
	Mailbox    bot.Mailbox
	CRM        bot.CRM       // reads the cases a mail answers, and an account's open cases
	Salesforce bot.IntakeCRM // finds accounts and logged mail, keeps mail on cases
	Store      bot.Store
	Mailer     bot.Mailer // sends acknowledgements; nil sends none
	Chat       bot.Chat   // tells Notify about quarantined and flagged mail; nil tells nobody
	Rules      *rules.Intake
	Playbooks  []*rules.Playbook
	Templates  *templates.Set
	// Notify are the Slack channels of the intake rules' notify role.
	Notify []string
	// Parse reads a raw message; Authenticate checks its DKIM signatures and the receiving
	// server's verdict. Both are the imap/message package's in casebot.
	Parse        func(raw []byte) (bot.ParsedMail, error)
	Authenticate func(ctx context.Context, raw []byte) bot.MailAuth
	// MessageIDDomain is the right-hand side of the acknowledgements' Message-IDs.
	MessageIDDomain string
	// Batch is how many messages one Step takes at most; 100 when 0.
	Batch  int
	Now    func() time.Time
	Logger *slog.Logger
}

// Intake takes in the mail of the intake rules' mailbox.
type Intake struct {
	opts Options
	log  *slog.Logger
}

// New checks opts and returns an Intake.
func New(opts Options) (*Intake, error) {
	switch {
	case opts.Mailbox == nil || opts.CRM == nil || opts.Salesforce == nil || opts.Store == nil:
		return nil, errors.New("intake needs a mailbox, Salesforce and a ledger")
	case opts.Rules == nil:
		return nil, errors.New("intake needs intake rules (intake.yaml beside the playbooks)")
	case opts.Parse == nil || opts.Authenticate == nil:
		return nil, errors.New("intake needs a mail parser")
	}
	if opts.Batch == 0 {
		opts.Batch = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MessageIDDomain == "" {
		opts.MessageIDDomain = "casebot.invalid"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Intake{opts: opts, log: log}, nil
}

// Report is what one Step did. Known are the messages taken in before (a duplicate, a
// renumbered mailbox, a crash before the move), only moved now.
type Report struct {
	Read, Opened, Kept, Quarantined, Known int
}

// Run takes in mail until ctx is done: a Step, then a wait for new mail (IDLE), again. A
// failed step is logged and tried again after a backoff; only ctx ends Run.
func (in *Intake) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		if _, err := in.Step(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			wait := min(time.Duration(1<<min(failures, 6))*time.Second, time.Minute)
			in.log.Warn("mail intake failed; trying again", "err", err, "in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		failures = 0
		if err := in.opts.Mailbox.Wait(ctx, in.opts.Rules.Mailbox); err != nil && ctx.Err() == nil {
			in.log.Warn("waiting for mail failed", "err", err)
		}
	}
	return ctx.Err()
}

// Step takes in the messages that arrived since the last: each is opened as a case, kept on
// the case it answers, or quarantined, then moved out of the mailbox. A retryable failure
// (Salesforce or the mailbox out of reach) stops the step at that message, which the next
// step takes again.
func (in *Intake) Step(ctx context.Context) (Report, error) {
	var rep Report
	folder := in.opts.Rules.Mailbox
	pos, err := in.opts.Store.Position(ctx, folder)
	if err != nil {
		return rep, err
	}
	msgs, validity, err := in.opts.Mailbox.Fetch(ctx, folder, pos, in.opts.Batch)
	if err != nil {
		return rep, fmt.Errorf("reading mailbox %s: %w", folder, err)
	}
	if validity != pos.UIDValidity {
		// Renumbered: every message is read again, and the ledger knows those taken in.
		pos = bot.MailboxPosition{UIDValidity: validity}
	}
	for _, m := range msgs {
		rep.Read++
		outcome, err := in.take(ctx, m)
		if err != nil {
			return rep, fmt.Errorf("taking in message %d of %s: %w", m.UID, folder, err)
		}
		switch outcome {
		case opened:
			rep.Opened++
		case kept:
			rep.Kept++
		case quarantined:
			rep.Quarantined++
		case known:
			rep.Known++
		}
		pos.UID = max(pos.UID, m.UID)
		if err := in.opts.Store.SetPosition(ctx, folder, pos); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// What became of a message.
const (
	opened      = "opened"
	kept        = "kept"
	quarantined = "quarantined"
	known       = "known" // taken in before: only moved
)

// decision is what intake decided for a message, kept in the ledger as its claim's payload
// so that a retry does what was decided, whatever the rules or Salesforce say since.
type decision struct {
	Outcome string `json:"outcome"` // opened, kept or quarantined
	// MessageID is the mail's Message-ID, or one derived from its bytes when it has none: the
	// MessageIdentifier it is logged with, which finds it again.
	MessageID string     `json:"message_id"`
	CaseID    string     `json:"case,omitempty"`   // kept: the case it answers or joins
	Case      bot.Fields `json:"fields,omitempty"` // opened: the new case; kept: what it sets
	Playbook  string     `json:"playbook,omitempty"`
	// Acknowledge is the template of the acknowledgement (opened only).
	Acknowledge string `json:"acknowledge,omitempty"`
	// Reason is why the mail was quarantined, or flagged on a case it joined.
	Reason string   `json:"reason,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// entryOf is the ledger entry of a message's intake under key, in state.
func entryOf(key string, state bot.EntryState, result string, now time.Time) bot.LedgerEntry {
	return bot.LedgerEntry{Key: key, CaseID: key, Playbook: ledgerPlaybook, Step: "mail", State: state,
		Result: result, Attempts: 1, At: now}
}

// ledgerPlaybook is the playbook name of intake's ledger entries: no playbook has it, so the
// engine leaves them alone.
const ledgerPlaybook = "intake"

// take takes in one message and returns what became of it.
func (in *Intake) take(ctx context.Context, m bot.InboundMessage) (string, error) {
	key := messageKey(m)
	ledger, err := in.opts.Store.Entries(ctx, []string{key})
	if err != nil {
		return "", err
	}
	prev := ledger[key][key]
	if prev.State == bot.StateDone {
		// Taken in before the crash or the renumbering: only the move may be left.
		return known, in.move(ctx, m, decision{Outcome: prev.Result})
	}
	var d decision
	var mail bot.ParsedMail
	if m.Raw != nil {
		mail, err = in.opts.Parse(m.Raw)
	} else {
		err = fmt.Errorf("the message is %d bytes, more than intake reads", m.Size)
	}
	switch {
	case prev.State == bot.StateClaimed:
		payloads, err := in.opts.Store.Payloads(ctx, []string{key})
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal([]byte(payloads[key]), &d); err != nil {
			return "", fmt.Errorf("reading the claim of %s: %w", key, err)
		}
	case err != nil:
		d = decision{Outcome: quarantined, Reason: "unreadable: " + err.Error(), MessageID: bot.MessageID(key, in.opts.MessageIDDomain)}
	default:
		mail.Auth = in.opts.Authenticate(ctx, m.Raw)
		if d, err = in.decide(ctx, mail); err != nil {
			return "", err
		}
		if d.MessageID == "" {
			d.MessageID = bot.MessageID(key, in.opts.MessageIDDomain)
		}
	}
	now := in.opts.Now()
	if prev.State != bot.StateClaimed {
		payload, err := json.Marshal(d)
		if err != nil {
			return "", err
		}
		claim := entryOf(key, bot.StateClaimed, "", now)
		claim.Payload, claim.Claimed = string(payload), now
		if err := in.opts.Store.Record(ctx, claim); err != nil {
			return "", err
		}
	}
	err = in.perform(ctx, key, m, mail, &d, prev.State == bot.StateClaimed)
	var refused *refusal
	if errors.As(err, &refused) {
		// Salesforce refused the mail for good (a validation rule, a value the org does not
		// take): it goes to quarantine with the reason instead of stopping the mailbox.
		d = decision{Outcome: quarantined, MessageID: d.MessageID, Reason: refused.Error(), Notes: d.Notes}
		err = in.tell(ctx, key, quarantined, &d, prev.State == bot.StateClaimed, mail)
	}
	if err != nil {
		return "", err
	}
	done := entryOf(key, bot.StateDone, d.Outcome, now)
	done.Detail = d.CaseID
	if err := in.opts.Store.Record(ctx, done); err != nil {
		return "", err
	}
	in.log.Info("mail taken in", "outcome", d.Outcome, "message_id", bot.Printable(d.MessageID), "case", d.CaseID,
		"reason", d.Reason)
	return d.Outcome, in.move(ctx, m, d)
}

// messageKey is the ledger key of a message: from its Message-ID, so that the same mail read
// again (renumbered, or delivered twice) is the same; from its bytes when it has none.
func messageKey(m bot.InboundMessage) string {
	id := headerMessageID(m.Raw)
	var sum [32]byte
	switch {
	case id != "":
		sum = sha256.Sum256([]byte(strings.ToLower(id)))
	case m.Raw != nil:
		sum = sha256.Sum256(m.Raw)
	default:
		sum = sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d/%d", m.Mailbox, m.UIDValidity, m.UID, m.Size))
	}
	return ledgerPlaybook + "/" + hex.EncodeToString(sum[:12])
}

// headerMessageID reads the Message-ID header of a raw message without parsing the rest: the
// key must not depend on how well the parser copes.
func headerMessageID(raw []byte) string {
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	if len(head) == len(raw) {
		head, _, _ = strings.Cut(head, "\n\n")
	}
	for line := range strings.Lines(head) {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Message-ID") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// decide decides what to do with a parsed mail: keep it on the case it answers, open a case
// for the request it is, join the account's open case, or quarantine it.
func (in *Intake) decide(ctx context.Context, mail bot.ParsedMail) (decision, error) {
	c := in.opts.Rules.Classify(mail)
	d := decision{MessageID: mail.MessageID, Notes: c.Notes}
	if c.IsReply() {
		caseID, err := in.answered(ctx, c)
		if err != nil {
			return d, err
		}
		if caseID != "" {
			d.Outcome, d.CaseID = kept, caseID
			if err := in.replyFields(ctx, c, &d); err != nil {
				return d, err
			}
			return d, nil
		}
	}
	if c.Rule == nil {
		d.Outcome, d.Reason = quarantined, c.Quarantine
		return d, nil
	}
	pb := in.playbook(c.Rule.Playbook)
	if pb == nil {
		d.Outcome, d.Reason = quarantined, "rule "+c.Rule.Rule+" names playbook "+c.Rule.Playbook+", which is not loaded"
		return d, nil
	}
	account, why, err := in.account(ctx, c, mail)
	if err != nil {
		return d, err
	}
	if account == nil {
		d.Outcome, d.Reason = quarantined, why
		return d, nil
	}
	if !c.Authenticated {
		d.Outcome = quarantined
		d.Reason = fmt.Sprintf("the sender's domain %s is not authenticated (no aligned DKIM signature, no trusted dmarc=pass)",
			bot.Printable(mail.From.Domain()))
		return d, nil
	}
	open, err := in.openCase(ctx, pb, account.ID)
	if err != nil {
		return d, err
	}
	if open != "" {
		// A second request for the same account: kept on the open case, and flagged.
		d.Outcome, d.CaseID, d.Playbook = kept, open, pb.Name
		d.Reason = "a second termination request for an account whose termination case is open"
		return d, nil
	}
	d.Outcome, d.Playbook, d.Acknowledge = opened, pb.Name, c.Rule.Acknowledge
	d.Case = bot.Fields{"AccountId": account.ID}
	maps.Copy(d.Case, c.Rule.Case)
	return d, nil
}

// answered finds the case a reply answers: by the case number in its subject, then by the
// mails it answers that are logged on a case.
func (in *Intake) answered(ctx context.Context, c rules.Classification) (string, error) {
	if len(c.CaseNumbers) > 0 {
		ids, err := in.opts.Salesforce.CaseIDs(ctx, c.CaseNumbers)
		if err != nil {
			return "", fmt.Errorf("finding the cases the subject names: %w", err)
		}
		for _, n := range c.CaseNumbers {
			if id := ids[n]; id != "" {
				return id, nil
			}
		}
	}
	if len(c.MessageIDs) > 0 {
		cases, err := in.opts.Salesforce.MailCases(ctx, c.MessageIDs)
		if err != nil {
			return "", fmt.Errorf("finding the mails it answers: %w", err)
		}
		for _, id := range c.MessageIDs {
			if cs := cases[id]; cs != "" {
				return cs, nil
			}
		}
	}
	return "", nil
}

// replyFields adds to d what the reply rules of the case's playbook set, when the sender is
// one they accept.
func (in *Intake) replyFields(ctx context.Context, c rules.Classification, d *decision) error {
	for _, pb := range in.opts.Playbooks {
		if !slices.ContainsFunc(c.Replies, func(r rules.ReplyMatch) bool { return r.Playbook == pb.Name }) {
			continue
		}
		k, err := in.readCase(ctx, pb, d.CaseID)
		if err != nil {
			return err
		}
		if k == nil {
			continue
		}
		fields, notes := c.ReplyUpdate(pb.Name, *k)
		d.Notes = append(d.Notes, notes...)
		if len(fields) > 0 {
			d.Case, d.Playbook = fields, pb.Name
			return nil
		}
	}
	return nil
}

// account finds the account of a request: the first of the rule's lookups that finds exactly
// one. The sender's domain must be one of the account's, or, when the rule names senders (the
// account's partner), the domain of an address they hold, whichever lookup found it: a mail
// that names another company's account number is no request of that company. nil and why
// when there is none.
func (in *Intake) account(ctx context.Context, c rules.Classification, mail bot.ParsedMail) (*bot.Account, string, error) {
	domains := in.domainLookup()
	var fields []string
	if domains != nil {
		fields = append(fields, domains.Field.Name)
	}
	for _, s := range c.Rule.Senders {
		fields = append(fields, s.Name)
	}
	for _, key := range c.Rule.Accounts {
		found, err := in.opts.Salesforce.Accounts(ctx, key.Query(fields))
		if err != nil {
			return nil, "", fmt.Errorf("finding the account by %s: %w", key.Lookup, err)
		}
		if len(found) != 1 {
			continue
		}
		a := found[0]
		if ok, whose := mayAsk(a, mail.From.Domain(), domains, c.Rule.Senders); !ok {
			return nil, fmt.Sprintf("the sender's domain %s is not %s of account %s", bot.Printable(mail.From.Domain()), whose, a.ID), nil
		}
		return &a, "", nil
	}
	return nil, "no account found for the request (by " + lookupNames(c.Rule.Accounts) + ")", nil
}

// mayAsk reports whether a sender of domain may ask for account a: the domain is one of the
// account's (domains, when the rules have that lookup) or of the addresses in its senders
// fields. whose says what it had to be.
func mayAsk(a bot.Account, domain string, domains *rules.Lookup, senders []rules.FieldRef) (ok bool, whose string) {
	var names []string
	if domains != nil {
		if holdsDomain(a.Fields[domains.Field.Name], domain) {
			return true, ""
		}
		names = append(names, "one of "+domains.Field.String())
	}
	for _, s := range senders {
		list, _ := a.Fields[s.Name].(string)
		for _, addr := range bot.ListValues(list) {
			if (bot.Address{Address: addr}).Domain() == domain {
				return true, ""
			}
		}
		names = append(names, "that of "+s.String())
	}
	if len(names) == 0 {
		return true, "" // the rules find accounts by no domain: nothing to compare
	}
	return false, strings.Join(names, " or ")
}

// domainLookup is the intake rules' lookup by the sender's domain; nil when there is none.
func (in *Intake) domainLookup() *rules.Lookup {
	for _, l := range in.opts.Rules.Lookups {
		if l.Pattern == nil {
			return l
		}
	}
	return nil
}

// holdsDomain reports whether a list of mail domains ("a.com; b.com") holds domain or one of
// its parents.
func holdsDomain(v any, domain string) bool {
	list, _ := v.(string)
	for _, d := range bot.ListValues(strings.ToLower(list)) {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

func lookupNames(keys []rules.AccountKey) string {
	if len(keys) == 0 {
		return "nothing in the mail"
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Lookup
	}
	return strings.Join(names, ", ")
}

// openCase returns an open case of playbook pb for the account; "" when there is none.
func (in *Intake) openCase(ctx context.Context, pb *rules.Playbook, accountID string) (string, error) {
	if !bot.IsRecordID(accountID, "001") {
		return "", fmt.Errorf("account id %q is not one", accountID)
	}
	q := bot.CaseQuery{Object: pb.Query.Object, Where: "AccountId = '" + accountID + "'"}
	if pb.Query.Where != "" {
		q.Where = "(" + pb.Query.Where + ") AND " + q.Where
	}
	cases, err := in.opts.CRM.Cases(ctx, q)
	if err != nil {
		return "", fmt.Errorf("reading the open cases of account %s: %w", accountID, err)
	}
	if len(cases) == 0 {
		return "", nil
	}
	return cases[0].ID, nil
}

// readCase reads case id with the fields playbook pb reads, open or closed; nil when it is not
// one of pb's cases.
func (in *Intake) readCase(ctx context.Context, pb *rules.Playbook, id string) (*bot.Case, error) {
	q := pb.Query
	q.IDs, q.AnyState = []string{id}, true
	cases, err := in.opts.CRM.Cases(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading case %s: %w", id, err)
	}
	if len(cases) == 0 {
		return nil, nil
	}
	return &cases[0], nil
}

func (in *Intake) playbook(name string) *rules.Playbook {
	for _, pb := range in.opts.Playbooks {
		if pb.Name == name {
			return pb
		}
	}
	return nil
}

// perform does what d decided: the mail kept on its case (found there first when recovering
// from a crash), the acknowledgement sent, the quarantine told.
func (in *Intake) perform(ctx context.Context, key string, m bot.InboundMessage, mail bot.ParsedMail, d *decision, recovering bool) error {
	if d.Outcome == quarantined {
		return in.tell(ctx, key, quarantined, d, recovering, mail)
	}
	if recovering {
		cases, err := in.opts.Salesforce.MailCases(ctx, []string{d.MessageID})
		if err != nil {
			return fmt.Errorf("looking for a mail an interrupted attempt logged: %w", err)
		}
		if id := cases[d.MessageID]; id != "" {
			d.CaseID = id
			return in.after(ctx, key, mail, d, recovering)
		}
	}
	w := bot.MailWrite{CaseID: d.CaseID, Case: d.Case, Mail: logged(m, mail, d.MessageID), Files: files(m, mail)}
	id, err := in.opts.Salesforce.LogMail(ctx, w)
	if err != nil {
		if !bot.IsRetryable(err) && ctx.Err() == nil {
			return &refusal{err}
		}
		return fmt.Errorf("keeping the mail on a case: %w", err)
	}
	d.CaseID = id
	return in.after(ctx, key, mail, d, recovering)
}

// refusal is Salesforce's permanent refusal to keep a mail on a case: nothing was written
// (LogMail does all or nothing).
type refusal struct{ err error }

func (r *refusal) Error() string { return "Salesforce refused to keep it on a case: " + r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// after does what follows the mail's logging: the acknowledgement of a new case, and the
// notice of a flagged one.
func (in *Intake) after(ctx context.Context, key string, mail bot.ParsedMail, d *decision, recovering bool) error {
	if d.Outcome == kept && d.Reason != "" {
		return in.tell(ctx, key, "flagged", d, recovering, mail)
	}
	if d.Outcome == opened && d.Acknowledge != "" && in.opts.Mailer != nil {
		err := in.acknowledge(ctx, key, mail, d)
		if err == nil || bot.IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		// The case is open: an acknowledgement that cannot be sent (a template that fails, a
		// refused address) is recorded as failed and logged, and the mail is done.
		in.log.Error("the acknowledgement of a request could not be sent", "case", d.CaseID, "err", err)
		failed := ackEntry(key+"/ack", d.CaseID, bot.StateFailed, "", in.opts.Now())
		failed.Detail = err.Error()
		return in.opts.Store.Record(ctx, failed)
	}
	return nil
}

// maxFiles is how many of a mail's attachments are kept on the case beside the .eml (a
// composite call takes 25 subrequests; the .eml holds them all anyway).
const maxFiles = 20

// files are what a mail leaves on its case: the message itself, then its attachments.
func files(m bot.InboundMessage, mail bot.ParsedMail) []bot.Attachment {
	name := "message"
	if s := strings.TrimSpace(mail.Subject); s != "" {
		name = bot.Truncate(strings.Map(func(r rune) rune {
			if strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ' {
				return '_'
			}
			return r
		}, s), 80, "")
	}
	out := []bot.Attachment{{Name: name + ".eml", ContentType: "message/rfc822", Data: m.Raw}}
	for _, a := range mail.Attachments {
		if len(out) > maxFiles {
			break
		}
		if a.Name == "" {
			a.Name = "attachment"
		}
		a.Name = path.Base(a.Name)
		out = append(out, a)
	}
	return out
}

// logged are the fields of the EmailMessage that keeps an inbound mail on its case.
func logged(m bot.InboundMessage, mail bot.ParsedMail, messageID string) bot.Fields {
	f := bot.Fields{
		"FromAddress": mail.From.Address, "FromName": mail.From.Name, "ToAddress": addresses(mail.To),
		"CcAddress": addresses(mail.Cc), "Subject": bot.Truncate(mail.Subject, 3000, "…"),
		"TextBody": bot.Truncate(mail.Text, 131072, "…"), "MessageIdentifier": messageID,
		"Status": "0", "Incoming": true,
	}
	if !mail.Date.IsZero() {
		f["MessageDate"] = mail.Date.UTC().Format(bot.DateTimeLayout)
	}
	if len(mail.InReplyTo) > 0 {
		f["ThreadIdentifier"] = mail.InReplyTo[0]
	}
	return f
}

func addresses(as []bot.Address) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Address
	}
	return strings.Join(out, "; ")
}

// move moves the message to the folder of its outcome.
func (in *Intake) move(ctx context.Context, m bot.InboundMessage, d decision) error {
	to := in.opts.Rules.Processed
	if d.Outcome == quarantined {
		to = in.opts.Rules.Quarantine
	}
	if err := in.opts.Mailbox.Move(ctx, m.Mailbox, m.UIDValidity, m.UID, to); err != nil {
		return fmt.Errorf("moving message %d to %s: %w", m.UID, to, err)
	}
	return nil
}
