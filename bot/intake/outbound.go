package intake

import (
	"context"
	"encoding/json"
	"fmt"
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

// acknowledge answers a request that opened a case, threaded under it, once: the rendered mail
// is claimed in the ledger before it is sent, the relay's acceptance is recorded at once, and
// the sent mail is logged on the case. Only a crash between the relay's acceptance and that
// record sends it twice, with the same Message-ID (as the engine's mail).
func (in *Intake) acknowledge(ctx context.Context, key string, mail bot.ParsedMail, d *decision) error {
	ackKey := key + "/ack"
	ledger, err := in.opts.Store.Entries(ctx, []string{ackKey})
	if err != nil {
		return err
	}
	prev := ledger[ackKey][ackKey]
	if prev.State == bot.StateDone {
		return nil
	}
	var a ack
	if prev.State == bot.StateClaimed {
		payloads, err := in.opts.Store.Payloads(ctx, []string{ackKey})
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(payloads[ackKey]), &a); err != nil {
			return fmt.Errorf("reading the claim of %s: %w", ackKey, err)
		}
	} else {
		if a, err = in.render(ctx, ackKey, mail, d); err != nil {
			return err
		}
		payload, err := json.Marshal(a)
		if err != nil {
			return err
		}
		claim := ackEntry(ackKey, d.CaseID, bot.StateClaimed, "", in.opts.Now())
		claim.Payload, claim.Claimed = string(payload), in.opts.Now()
		if err := in.opts.Store.Record(ctx, claim); err != nil {
			return err
		}
	}
	sent := strings.Contains(prev.Result, "sent")
	if prev.State == bot.StateClaimed && !sent {
		cases, err := in.opts.Salesforce.MailCases(ctx, []string{a.MessageID})
		if err != nil {
			return fmt.Errorf("looking for an acknowledgement an interrupted attempt logged: %w", err)
		}
		if cases[a.MessageID] != "" {
			return in.opts.Store.Record(ctx, ackEntry(ackKey, d.CaseID, bot.StateDone, "logged", in.opts.Now()))
		}
	}
	from := ""
	if !sent {
		m := bot.Mail{To: a.To, Subject: a.Subject, Text: a.Text, MessageID: a.MessageID, Key: ackKey, InReplyTo: a.InReplyTo}
		if a.InReplyTo != "" {
			m.References = append(slices.Clone(mail.References), a.InReplyTo)
		}
		if from, err = in.opts.Mailer.Send(ctx, m); err != nil {
			return fmt.Errorf("sending the acknowledgement: %w", err)
		}
		if err := in.opts.Store.Record(ctx, ackEntry(ackKey, d.CaseID, bot.StateClaimed, "sent", in.opts.Now())); err != nil {
			in.log.Error("the relay took an acknowledgement that the ledger could not record: a crash now sends it again",
				"key", ackKey, "message_id", a.MessageID, "err", err)
		}
	}
	_, err = in.opts.Salesforce.LogMail(ctx, bot.MailWrite{CaseID: d.CaseID, Mail: bot.Fields{
		"FromAddress": from, "ToAddress": strings.Join(a.To, "; "), "Subject": a.Subject, "TextBody": a.Text,
		"MessageIdentifier": a.MessageID, "ThreadIdentifier": a.InReplyTo, "Status": "3", "Incoming": false,
		"MessageDate": in.opts.Now().UTC().Format(bot.DateTimeLayout),
	}})
	if err != nil {
		return fmt.Errorf("logging the acknowledgement on the case: %w", err)
	}
	return in.opts.Store.Record(ctx, ackEntry(ackKey, d.CaseID, bot.StateDone, "sent", in.opts.Now()))
}

func ackEntry(key, caseID string, state bot.EntryState, result string, now time.Time) bot.LedgerEntry {
	e := entryOf(key, state, result, now)
	e.Step, e.Detail = "acknowledge", caseID
	return e
}

// render renders the acknowledgement of a new case to the request's sender (its Reply-To when
// it has one), with the case as Salesforce has it now (its number, for the subject).
func (in *Intake) render(ctx context.Context, key string, mail bot.ParsedMail, d *decision) (ack, error) {
	to := mail.From.Address
	if len(mail.ReplyTo) > 0 && mail.ReplyTo[0].Address != "" {
		to = mail.ReplyTo[0].Address
	}
	c := bot.Case{ID: d.CaseID, Fields: d.Case}
	if pb := in.playbook(d.Playbook); pb != nil {
		k, err := in.readCase(ctx, pb, d.CaseID)
		if err != nil {
			return ack{}, err
		}
		if k != nil {
			c = *k
		}
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
