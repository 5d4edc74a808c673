package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"casebot/bot"
	"casebot/templates"
)

// tell posts what happened to a mail (what: quarantined, flagged) to the notify channels,
// once: an attempt interrupted after posting is found again by the key in the message.
func (in *Intake) tell(ctx context.Context, key, what string, d *decision, recovering bool, mail bot.ParsedMail) error {
	if in.opts.Chat == nil || len(in.opts.Notify) == 0 {
		return nil
	}
	noticeKey := key + "/" + what
	var b strings.Builder
	switch what {
	case "quarantined":
		b.WriteString(":warning: *Mail quarantined*")
	default:
		b.WriteString(":triangular_flag_on_post: *Mail kept on an open case*")
		if d.CaseID != "" {
			b.WriteString(" " + d.CaseID)
		}
	}
	fmt.Fprintf(&b, "\nFrom %s: %s\n%s", templates.SlackText(mail.From.Address), templates.SlackText(orNone(mail.Subject)),
		templates.SlackText(d.Reason))
	if what == "quarantined" {
		fmt.Fprintf(&b, "\nIt is in the %s folder; nothing was done in Salesforce.", templates.SlackText(in.opts.Rules.Quarantine))
	}
	for _, n := range d.Notes {
		b.WriteString("\n• " + templates.SlackText(n))
	}
	for _, ch := range in.opts.Notify {
		if recovering {
			id, err := in.opts.Chat.Find(ctx, ch, noticeKey, in.opts.Now().Add(-24*time.Hour))
			if err != nil {
				return fmt.Errorf("looking for a notice an interrupted attempt posted: %w", err)
			}
			if id != "" {
				continue
			}
		}
		if _, err := in.opts.Chat.Post(ctx, bot.Message{Channel: ch, Text: b.String(), Key: noticeKey}); err != nil {
			return fmt.Errorf("telling %s: %w", ch, err)
		}
	}
	return nil
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(no subject)"
	}
	return s
}

// ack is an acknowledgement as rendered when it was claimed: a retry sends the same bytes.
type ack struct {
	To        []string `json:"to"`
	Subject   string   `json:"subject"`
	Text      string   `json:"text"`
	MessageID string   `json:"message_id"`
	InReplyTo string   `json:"in_reply_to"`
}

// pendingAck is the acknowledgement of a message of a round.
type pendingAck struct {
	i    int // the message's place in the round
	x    *message
	key  string
	prev bot.LedgerEntry
	a    ack
	from string // the address the relay sent it from; "" when an earlier attempt sent it
}

// acknowledge answers the requests of b that opened a case, threaded under them, each once:
// the rendered mails are claimed in the ledger (together) before any is sent, each relay's
// acceptance is recorded at once, and the sent mails are logged on their cases (together).
// Only a crash between a relay's acceptance and its record sends one twice, with the same
// Message-ID (as the engine's mail). A claim left by an interrupted attempt is looked for on
// the case first, by that Message-ID. It returns the outcomes to record with the mails': done,
// or failed for good (the case is open: an acknowledgement that cannot be sent, a template
// that fails or a refused address, is logged, and the mail is done).
func (in *Intake) acknowledge(ctx context.Context, b *batch, ledger map[string]bot.Ledger, payloads map[string]string) []bot.LedgerEntry {
	if in.opts.Mailer == nil {
		return nil
	}
	var outcomes []bot.LedgerEntry
	failed := func(p *pendingAck, err error) {
		in.log.Error("the acknowledgement of a request could not be sent", "case", p.x.d.CaseID, "err", err)
		e := ackEntry(p.key, p.x.d.CaseID, bot.StateFailed, "", in.opts.Now())
		e.Detail = err.Error()
		outcomes = append(outcomes, e)
	}
	done := func(p *pendingAck, result string) {
		outcomes = append(outcomes, ackEntry(p.key, p.x.d.CaseID, bot.StateDone, result, in.opts.Now()))
	}
	var acks, fresh []*pendingAck
	for i, x := range b.ms[:b.stop] {
		if x.prev.State == bot.StateDone || x.d.Outcome != opened || x.d.Acknowledge == "" {
			continue
		}
		p := &pendingAck{i: i, x: x, key: x.key + "/ack"}
		p.prev = ledger[p.key][p.key]
		switch p.prev.State {
		case bot.StateDone, bot.StateFailed:
			continue
		case bot.StateClaimed:
			if err := json.Unmarshal([]byte(payloads[p.key]), &p.a); err != nil {
				b.fail(i, fmt.Errorf("reading the claim of %s: %w", p.key, err))
				return outcomes
			}
		default:
			fresh = append(fresh, p)
		}
		acks = append(acks, p)
	}
	if len(fresh) > 0 {
		claims, err := in.render(ctx, fresh, failed)
		if err == nil && len(claims) > 0 {
			err = in.opts.Store.Record(ctx, claims...)
		}
		if err != nil {
			b.fail(fresh[0].i, err)
			return outcomes
		}
	}

	var claimed []string
	for _, p := range acks {
		if p.prev.State == bot.StateClaimed && p.i < b.stop {
			claimed = append(claimed, p.a.MessageID)
		}
	}
	logged := map[string]string{}
	if len(claimed) > 0 {
		var err error
		if logged, err = in.opts.Salesforce.MailCases(ctx, claimed); err != nil {
			b.fail(acks[0].i, fmt.Errorf("looking for the acknowledgements an interrupted attempt logged: %w", err))
			return outcomes
		}
	}
	var sent []*pendingAck
	for _, p := range acks {
		switch {
		case p.i >= b.stop || p.a.MessageID == "": // stopped before it, or not rendered
			continue
		case p.prev.State == bot.StateClaimed && logged[p.a.MessageID] != "":
			done(p, "logged")
			continue
		case !strings.Contains(p.prev.Result, "sent"):
			m := bot.Mail{To: p.a.To, Subject: p.a.Subject, Text: p.a.Text, MessageID: p.a.MessageID, Key: p.key, InReplyTo: p.a.InReplyTo}
			if p.a.InReplyTo != "" {
				m.References = append(slices.Clone(p.x.mail.References), p.a.InReplyTo)
			}
			from, err := in.opts.Mailer.Send(ctx, m)
			if err != nil {
				if bot.IsRetryable(err) || ctx.Err() != nil {
					b.fail(p.i, fmt.Errorf("sending the acknowledgement: %w", err))
				} else {
					failed(p, err)
				}
				continue
			}
			p.from = from
			if err := in.opts.Store.Record(ctx, ackEntry(p.key, p.x.d.CaseID, bot.StateClaimed, "sent", in.opts.Now())); err != nil {
				in.log.Error("the relay took an acknowledgement that the ledger could not record: a crash now sends it again",
					"key", p.key, "message_id", p.a.MessageID, "err", err)
			}
		}
		if p.i < b.stop {
			sent = append(sent, p)
		}
	}
	if len(sent) == 0 {
		return outcomes
	}
	ws := make([]bot.MailWrite, len(sent))
	for j, p := range sent {
		ws[j] = bot.MailWrite{CaseID: p.x.d.CaseID, Mail: bot.Fields{
			"FromAddress": p.from, "ToAddress": strings.Join(p.a.To, "; "), "Subject": p.a.Subject, "TextBody": p.a.Text,
			"MessageIdentifier": p.a.MessageID, "ThreadIdentifier": p.a.InReplyTo, "Status": "3", "Incoming": false,
			"MessageDate": in.opts.Now().UTC().Format(bot.DateTimeLayout),
		}}
	}
	for j, r := range in.opts.Salesforce.LogMails(ctx, ws) {
		err := r.Err
		switch {
		case err == nil:
			done(sent[j], "sent")
		case bot.IsRetryable(err) || ctx.Err() != nil:
			b.fail(sent[j].i, fmt.Errorf("logging the acknowledgement on the case: %w", err))
		default:
			failed(sent[j], fmt.Errorf("logging the acknowledgement on the case: %w", err))
		}
	}
	return outcomes
}

func ackEntry(key, caseID string, state bot.EntryState, result string, now time.Time) bot.LedgerEntry {
	e := entryOf(key, state, result, now)
	e.Step, e.Detail = "acknowledge", caseID
	return e
}

// render renders the acknowledgements of new cases, with the cases as Salesforce has them now
// (their numbers, for the subjects; one query per playbook), and returns their claims. One
// that fails to render is failed.
func (in *Intake) render(ctx context.Context, acks []*pendingAck, failed func(*pendingAck, error)) ([]bot.LedgerEntry, error) {
	cases := map[string]*bot.Case{}
	for _, pb := range in.opts.Playbooks {
		var ids []string
		for _, p := range acks {
			if p.x.d.Playbook == pb.Name {
				ids = append(ids, p.x.d.CaseID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		found, err := in.readCases(ctx, pb, ids)
		if err != nil {
			return nil, err
		}
		maps.Copy(cases, found)
	}
	var claims []bot.LedgerEntry
	for _, p := range acks {
		a, err := in.renderOne(p.key, p.x.mail, &p.x.d, cases[recordKey(p.x.d.CaseID)])
		if err != nil {
			failed(p, err)
			continue
		}
		payload, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		p.a = a
		claim := ackEntry(p.key, p.x.d.CaseID, bot.StateClaimed, "", in.opts.Now())
		claim.Payload, claim.Claimed = string(payload), in.opts.Now()
		claims = append(claims, claim)
	}
	return claims, nil
}

// renderOne renders the acknowledgement of a new case k (nil when it could not be read) to the
// request's sender (its Reply-To when it has one).
func (in *Intake) renderOne(key string, mail bot.ParsedMail, d *decision, k *bot.Case) (ack, error) {
	to := mail.From.Address
	if len(mail.ReplyTo) > 0 && mail.ReplyTo[0].Address != "" {
		to = mail.ReplyTo[0].Address
	}
	c := bot.Case{ID: d.CaseID, Fields: d.Case}
	if k != nil {
		c = *k
	}
	subject, text, err := in.opts.Templates.RenderEmail(d.Acknowledge, templates.Data{Playbook: d.Playbook, Case: c,
		Now: in.opts.Now()})
	if err != nil {
		return ack{}, fmt.Errorf("rendering the acknowledgement %s: %w", d.Acknowledge, err)
	}
	a := ack{To: []string{to}, Subject: subject, Text: text, MessageID: bot.MessageID(key, in.opts.MessageIDDomain)}
	if mail.MessageID != "" {
		a.InReplyTo = mail.MessageID
	}
	return a, nil
}
