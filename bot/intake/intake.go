// Package intake turns inbound mail into cases: a customer's or a partner's termination
// request opens a case of the playbook its rule names, a reply is kept on the case it answers
// (and may complete a gate), and what cannot be taken in is moved to quarantine and Order
// Management told. Every mail is taken in once, across crashes and restarts: what was decided
// is in the ledger before anything is written, and a crash before the outcome is recorded is
// repaired by asking Salesforce for the logged mail (by its Message-ID) instead of logging it
// again. The messages a step reads are taken in together, their reads and writes of Salesforce,
// the ledger and the mailbox batched (see Intake.round), so that a backlog costs a few calls.
package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// Batch is how many messages one Step takes at most, together; 100 when 0.
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
// the case it answers, or quarantined, then moved out of the mailbox. It takes the messages it
// fetched in rounds (one, unless a message depends on an earlier one's writes), each in phases
// whose reads and writes are batched (see round). A retryable failure (Salesforce or the
// mailbox out of reach) stops the step at the message it met, which the next step takes
// again; the mailbox position advances only over messages done and moved.
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
	advanced := false
	for len(msgs) > 0 && err == nil {
		var n int
		n, err = in.round(ctx, msgs, &rep)
		if n > 0 {
			pos.UID, advanced = max(pos.UID, msgs[n-1].UID), true
		}
		if err != nil {
			err = fmt.Errorf("taking in message %d of %s: %w", msgs[min(n, len(msgs)-1)].UID, folder, err)
		}
		msgs = msgs[n:]
	}
	if advanced {
		if perr := in.opts.Store.SetPosition(ctx, folder, pos); perr != nil && err == nil {
			err = perr
		}
	}
	return rep, err
}

// message is a message of a round, and what becomes of it.
type message struct {
	bot.InboundMessage
	key  string
	prev bot.LedgerEntry // its entry when the round began
	mail bot.ParsedMail
	// class is the mail classified, when it is decided in this round: read, and neither
	// decided before nor taken in.
	class *rules.Classification
	d     decision
}

// recovering says that an earlier attempt claimed the message and may have done some of it.
func (x *message) recovering() bool { return x.prev.State == bot.StateClaimed }

// round is one pass over msgs, or over the first of them up to one whose decision depends on
// the writes for an earlier one, which the next round takes. Its phases:
//
//  1. the ledger entries of all the messages in one read; each message parsed, authenticated
//     and decided, with Salesforce's answers for all of them read at once (lookups);
//  2. the new decisions claimed in one ledger write;
//  3. the mails a claim left unfinished looked up by Message-ID in one query, and every mail
//     still to keep on a case kept in one LogMails;
//  4. the notices, and the acknowledgements (claimed together, each sent and its acceptance
//     recorded at once, logged on their cases together);
//  5. the outcomes recorded in one ledger write;
//  6. the messages moved, one command a folder.
//
// A failure that may pass stops the round at the message it met: those before it are done and
// moved, it and those after it are left to the next step. A permanent refusal of one mail by
// Salesforce quarantines that mail alone. It returns how many of msgs, the first ones, it took
// in.
func (in *Intake) round(ctx context.Context, msgs []bot.InboundMessage, rep *Report) (int, error) {
	b, ledger, payloads, err := in.decideAll(ctx, msgs)
	if err != nil {
		return 0, err
	}
	now := in.opts.Now()
	var claims []bot.LedgerEntry
	for _, x := range b.ms {
		if x.recovering() || x.prev.State == bot.StateDone {
			continue
		}
		payload, err := json.Marshal(x.d)
		if err != nil {
			return 0, err
		}
		claim := entryOf(x.key, bot.StateClaimed, "", now)
		claim.Payload, claim.Claimed = string(payload), now
		claims = append(claims, claim)
	}
	if len(claims) > 0 {
		if err := in.opts.Store.Record(ctx, claims...); err != nil {
			return 0, err
		}
	}
	in.keep(ctx, b)
	in.notify(ctx, b)
	outcomes := in.acknowledge(ctx, b, ledger, payloads)
	done := b.ms[:b.stop]
	for _, x := range done {
		if x.prev.State == bot.StateDone {
			continue
		}
		e := entryOf(x.key, bot.StateDone, x.d.Outcome, now)
		e.Detail = x.d.CaseID
		outcomes = append(outcomes, e)
	}
	if len(outcomes) > 0 {
		if err := in.opts.Store.Record(ctx, outcomes...); err != nil {
			return 0, err
		}
	}
	for _, x := range done {
		rep.Read++
		switch {
		case x.prev.State == bot.StateDone:
			rep.Known++
			continue
		case x.d.Outcome == opened:
			rep.Opened++
		case x.d.Outcome == kept:
			rep.Kept++
		default:
			rep.Quarantined++
		}
		in.log.Info("mail taken in", "outcome", x.d.Outcome, "message_id", bot.Printable(x.d.MessageID), "case", x.d.CaseID,
			"reason", x.d.Reason)
	}
	n, err := in.move(ctx, done)
	if err != nil {
		return n, err
	}
	return n, b.err
}

// batch is the messages of a round, and where a failure stopped it.
type batch struct {
	ms   []*message
	stop int   // the messages from ms[stop] on are left to the next step
	err  error // why
}

// fail stops b at message i for err, unless it stopped at an earlier one.
func (b *batch) fail(i int, err error) {
	if i < b.stop {
		b.stop, b.err = i, err
	}
}

// decideAll reads the ledger entries of msgs and their acknowledgements, and the payloads of
// those claimed, and decides the messages not decided before, up to the first that depends on
// an earlier one's writes.
func (in *Intake) decideAll(ctx context.Context, msgs []bot.InboundMessage) (*batch, map[string]bot.Ledger, map[string]string, error) {
	keys := make([]string, 0, 2*len(msgs))
	for _, m := range msgs {
		key := MessageKey(m)
		keys = append(keys, key, key+"/ack")
	}
	ledger, err := in.opts.Store.Entries(ctx, keys)
	if err != nil {
		return nil, nil, nil, err
	}
	var claimed []string
	for _, k := range keys {
		if ledger[k][k].State == bot.StateClaimed {
			claimed = append(claimed, k)
		}
	}
	payloads := map[string]string{}
	if len(claimed) > 0 {
		if payloads, err = in.opts.Store.Payloads(ctx, claimed); err != nil {
			return nil, nil, nil, err
		}
	}
	var ms []*message
	for i, m := range msgs {
		x := &message{InboundMessage: m, key: keys[2*i]}
		if slices.ContainsFunc(ms, func(e *message) bool { return e.key == x.key }) {
			break // the same mail again: the next round finds it taken in
		}
		x.prev = ledger[x.key][x.key]
		ms = append(ms, x)
		if x.prev.State == bot.StateDone {
			// Taken in before the crash or the renumbering: only the move may be left.
			x.d = decision{Outcome: x.prev.Result}
			continue
		}
		var err error
		if m.Raw != nil {
			x.mail, err = in.opts.Parse(m.Raw)
		} else {
			err = fmt.Errorf("the message is %d bytes, more than intake reads", m.Size)
		}
		switch {
		case x.recovering():
			if err := json.Unmarshal([]byte(payloads[x.key]), &x.d); err != nil {
				return nil, nil, nil, fmt.Errorf("reading the claim of %s: %w", x.key, err)
			}
		case err != nil:
			x.d = decision{Outcome: quarantined, Reason: "unreadable: " + err.Error(), MessageID: bot.MessageID(x.key, in.opts.MessageIDDomain)}
		default:
			x.mail.Auth = in.opts.Authenticate(ctx, m.Raw)
			c := in.opts.Rules.Classify(x.mail)
			x.class = &c
		}
	}
	look := in.newLookups()
	if err := look.prefetch(ctx, ms); err != nil {
		return nil, nil, nil, err
	}
	for i, x := range ms {
		if x.class == nil {
			continue
		}
		if x.d, err = in.decide(ctx, look, x.mail, *x.class); err != nil {
			return nil, nil, nil, err
		}
		if x.d.MessageID == "" {
			x.d.MessageID = bot.MessageID(x.key, in.opts.MessageIDDomain)
		}
		if in.dependsOnEarlier(ms[:i], x) {
			ms = ms[:i]
			break
		}
	}
	return &batch{ms: ms, stop: len(ms)}, ledger, payloads, nil
}

// keep keeps the mails of b that are not quarantined on their cases, all in one LogMails. A
// mail that an interrupted attempt may have kept is looked for first, by its Message-ID. A mail
// Salesforce refuses for good (a validation rule, a value the org does not take) goes to
// quarantine with the reason instead of stopping the mailbox.
func (in *Intake) keep(ctx context.Context, b *batch) {
	var lost []string
	for _, x := range b.ms {
		if x.recovering() && x.d.Outcome != quarantined {
			lost = append(lost, x.d.MessageID)
		}
	}
	found := map[string]string{}
	if len(lost) > 0 {
		var err error
		if found, err = in.opts.Salesforce.MailCases(ctx, lost); err != nil {
			b.fail(0, fmt.Errorf("looking for the mails an interrupted attempt logged: %w", err))
			return
		}
	}
	var ws []bot.MailWrite
	var writers []int
	for i, x := range b.ms {
		if x.prev.State == bot.StateDone || x.d.Outcome == quarantined {
			continue
		}
		if id := found[x.d.MessageID]; id != "" && x.recovering() {
			x.d.CaseID = id
			continue
		}
		ws = append(ws, bot.MailWrite{CaseID: x.d.CaseID, Case: x.d.Case, Mail: logged(x.mail, x.d.MessageID), Files: files(x.InboundMessage, x.mail)})
		writers = append(writers, i)
	}
	if len(ws) == 0 {
		return
	}
	for j, r := range in.opts.Salesforce.LogMails(ctx, ws) {
		x := b.ms[writers[j]]
		switch {
		case r.Err == nil:
			x.d.CaseID = r.CaseID
		case !bot.IsRetryable(r.Err) && ctx.Err() == nil:
			refused := &refusal{r.Err}
			x.d = decision{Outcome: quarantined, MessageID: x.d.MessageID, Reason: refused.Error(), Notes: x.d.Notes}
		default:
			b.fail(writers[j], fmt.Errorf("keeping the mail on a case: %w", r.Err))
		}
	}
}

// notify tells Order Management about the mails of b quarantined, and those kept on an open
// case and flagged.
func (in *Intake) notify(ctx context.Context, b *batch) {
	for i, x := range b.ms[:b.stop] {
		what := ""
		switch {
		case x.prev.State == bot.StateDone:
		case x.d.Outcome == quarantined:
			what = quarantined
		case x.d.Outcome == kept && x.d.Reason != "":
			what = "flagged"
		}
		if what == "" {
			continue
		}
		if err := in.tell(ctx, x.key, what, &x.d, x.recovering(), x.mail); err != nil {
			b.fail(i, err)
			return
		}
	}
}

// move moves ms to the folders of their outcomes, with one command a folder, and returns how
// many of them, the first ones, were moved.
func (in *Intake) move(ctx context.Context, ms []*message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	folderOf := func(x *message) string {
		if x.d.Outcome == quarantined {
			return in.opts.Rules.Quarantine
		}
		return in.opts.Rules.Processed
	}
	var folders []string
	uids := map[string][]uint32{}
	for _, x := range ms {
		to := folderOf(x)
		if uids[to] == nil {
			folders = append(folders, to)
		}
		uids[to] = append(uids[to], x.UID)
	}
	moved := map[string]bool{}
	for _, to := range folders {
		if err := in.opts.Mailbox.Move(ctx, ms[0].Mailbox, ms[0].UIDValidity, uids[to], to); err != nil {
			n := slices.IndexFunc(ms, func(x *message) bool { return !moved[folderOf(x)] })
			return n, fmt.Errorf("moving %d message(s) to %s: %w", len(uids[to]), to, err)
		}
		moved[to] = true
	}
	return len(ms), nil
}

// What became of a message.
const (
	opened      = "opened"
	kept        = "kept"
	quarantined = "quarantined"
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

// MessageKey is the ledger key of a message: from its Message-ID, so that the same mail read
// again (renumbered, or delivered twice) is the same; from its bytes when it has none. The keys
// of the notices and the acknowledgement about the message begin with it and "/".
func MessageKey(m bot.InboundMessage) string {
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

// refusal is Salesforce's permanent refusal to keep a mail on a case: nothing was written
// (LogMails does each mail all or nothing).
type refusal struct{ err error }

func (r *refusal) Error() string { return "Salesforce refused to keep it on a case: " + r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// maxFiles is how many of a mail's attachments are kept on the case beside the .eml (a mail's
// graph takes 25 nodes; the .eml holds them all anyway).
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
func logged(mail bot.ParsedMail, messageID string) bot.Fields {
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
