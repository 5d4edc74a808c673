package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"casebot/bot"
	"casebot/bot/intake"
)

// demoAuthServID is the authserv-id of the demo's receiving mail server: intake trusts the
// DMARC verdict of the Authentication-Results headers that bear it, as it would a real
// server's.
const demoAuthServID = "casebot-demo"

// demoMail is a mail of the demo, as it arrives in the intake mailbox.
type demoMail struct {
	auth      string // the receiving server's Authentication-Results, after its authserv-id
	from      string
	replyTo   string // "" for none
	to        string
	subject   string
	messageID string
	date      string // RFC 5322, shortly before DemoStart
	body      string
}

// demoMails are in the intake mailbox when the demo starts: a customer leaving its reseller and
// a partner cancelling its customer's subscription, both for accounts without a case, in the
// words of the procedures' forms; a termination notice in a customer's name that its domain
// did not send; and a request from someone who is no customer.
var demoMails = []demoMail{
	{
		// The Customer Removal Guide, customer-initiated: "Termination of Service" with the
		// exit reason.
		auth: "dmarc=pass (p=quarantine) header.from=magnolia.example",
		from: "Grace Liu <grace.liu@magnolia.example>", to: "Customer Terminations <terminations@example.test>",
		subject: "Termination of Service: Magnolia Travel", messageID: "<0f3c9a1e.5d2b@mail.magnolia.example>",
		date: "Mon, 02 Nov 2026 14:41:07 +0200",
		// The fields are one line each, as the form sends them.
		body: `Hello,

We are submitting our exit application for the agent service of Meridian Resellers, as the
"Termination of Service" page in our Personal Center asks.

Account number: CUS-004425
Exit reason: Meridian no longer supports the booking integrations our travel agents depend on, and we have chosen a partner in Johannesburg who does.
Data migration plan: Meridian exports our booking archive and user directory to our own cloud storage before the switch; our IT team checks the export before anything is erased.
Alternative service: Baobab Cloud Partners, our new partner in Johannesburg

Please confirm the exit application and the date our removal takes effect.

Kind regards,
Grace Liu
Head of IT, Magnolia Travel
`,
	},
	{
		// Mimecast's MSP procedure: the partner's cancellation, with what the Partner Portal's
		// Cancel page asks for.
		auth: "dmarc=pass (p=reject) header.from=msp.example",
		from: "Owen Price <ops@msp.example>", to: "MSP Partner Support <terminations@example.test>",
		subject: "Cancel customer Litware Inc", messageID: "<20261102121502.4471@ops.msp.example>",
		date: "Mon, 02 Nov 2026 12:15:02 +0000",
		body: `Hello MSP Partner Support,

Please cancel the subscription of our customer Litware Inc.

Account number: CUS-002134
Cancellation type: Cancel
Data export: No

Litware no longer requires Mimecast services: it moves its mail security to its parent
company's contract. We understand that we remain contracted for the full 12 months and that
services are withdrawn at contract completion.

We accept the cancellation terms.

Owen Price
Partner Operations, Redwood MSP
`,
	},
	{
		// Not sent by Umbrella: DMARC failed at the receiving server, and answers would go
		// to a look-alike domain.
		auth: "spf=fail smtp.mailfrom=umbrella-notices.example; dmarc=fail (p=reject) header.from=umbrella.example",
		from: "Alice Abernathy <alice.abernathy@umbrella.example>", replyTo: "alice.abernathy@umbrella-ltd.example",
		to: "Customer Terminations <terminations@example.test>", subject: "Notice of termination: Umbrella Ltd",
		messageID: "<a81f0c22e9@umbrella-notices.example>", date: "Mon, 02 Nov 2026 12:48:55 +0000",
		body: `Dear Sir or Madam,

Please take this as Umbrella Ltd's formal notice of termination of our subscription,
effective immediately.

Account number: CUS-001048
Termination date: 11/03/2026

Deactivate all user access today and purge our data; send the confirmation to this address
only.

Alice Abernathy
Umbrella Ltd
`,
	},
	{
		// Someone who is no customer: no account has the domain, and the mail names none.
		auth: "dmarc=pass (p=none) header.from=freemail.example",
		from: "Sam Turner <sam.turner87@freemail.example>", to: "terminations@example.test",
		subject: "Please cancel my service", messageID: "<7d1e55b0-3c4a@freemail.example>",
		date: "Mon, 02 Nov 2026 12:57:31 +0000",
		body: `Hi,

I would like to cancel my service, I don't use it any more. Thanks!

Sam
`,
	},
}

// raw is the message as the receiving server delivers it: its Authentication-Results on top.
func (m demoMail) raw() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Authentication-Results: %s; %s\r\n", demoAuthServID, m.auth)
	fmt.Fprintf(&b, "From: %s\r\n", m.from)
	if m.replyTo != "" {
		fmt.Fprintf(&b, "Reply-To: %s\r\n", m.replyTo)
	}
	fmt.Fprintf(&b, "To: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nDate: %s\r\n", m.to, m.subject, m.messageID, m.date)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(m.body, "\n", "\r\n"))
	return []byte(b.String())
}

// startIntake starts the demo's mailbox with the sample mail in it, and the intake that takes
// it in, watched by a mailDesk. set.cfg trusts the demo's receiving server (demoAuthServID).
func startIntake(ctx context.Context, set *setup, store bot.Store, now func() time.Time, w Wiring) (*intake.Intake, *mailDesk, func(), error) {
	sf, ok := set.crm.(bot.IntakeCRM)
	if !ok || w.DemoMailbox == nil || set.intake == nil {
		return nil, nil, nil, errors.New("this casebot cannot take in mail")
	}
	mb, err := w.DemoMailbox(ctx, set.log)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting the demo's mailbox: %w", err)
	}
	stop := func() { mb.Close() }
	for _, m := range demoMails {
		if err := mb.Deliver(m.raw()); err != nil {
			stop()
			return nil, nil, nil, err
		}
	}
	desk := &mailDesk{store: store, fetched: map[uint32]bot.InboundMessage{}}
	in, err := intake.New(intakeOptions(set, deskMailbox{mb, desk}, set.crm, sf, store, desk, desk, now, w))
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return in, desk, stop, nil
}

// mailDesk watches intake in the demo, to print what became of each mail: the messages it
// fetches and where it moves them (deskMailbox), the case each was kept on (its outcome in the
// ledger), and, as its Chat and Mailer, the notices and acknowledgements it sends, each keyed
// under its message's key (intake.MessageKey). Intake moves a message once its outcome is
// recorded, so all of that is known when it is moved.
type mailDesk struct {
	store   bot.Store
	fetched map[uint32]bot.InboundMessage // the messages of the intake folder by UID
	posts   []bot.Message                 // the notices not yet given to their moved message
	mails   []bot.Mail                    // likewise, the acknowledgements
	taken   []takenMail                   // the messages moved since the last drain
}

var (
	_ bot.Chat    = (*mailDesk)(nil)
	_ bot.Mailer  = (*mailDesk)(nil)
	_ bot.Mailbox = deskMailbox{}
)

// takenMail is what became of one message.
type takenMail struct {
	raw    []byte
	folder string // where it was moved: the processed or the quarantine folder
	caseID string // the case it was kept on; "" when none
	opened bool   // the case was opened for it
	posts  []bot.Message
	mails  []bot.Mail
}

// drain returns the messages moved since the last drain.
func (d *mailDesk) drain() []takenMail {
	t := d.taken
	d.taken = nil
	return t
}

// Post keeps a notice to print under the mail.
func (d *mailDesk) Post(ctx context.Context, m bot.Message) (string, error) {
	d.posts = append(d.posts, m)
	return fmt.Sprintf("demo-mail-%d", len(d.posts)), nil
}

// Find finds nothing: the demo's intake is never interrupted.
func (d *mailDesk) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	return "", nil
}

// Send keeps an acknowledgement to print under the mail.
func (d *mailDesk) Send(ctx context.Context, m bot.Mail) (string, error) {
	d.mails = append(d.mails, m)
	return "casebot@example.test", nil
}

// moved takes note of message uid moved to folder, with its outcome and what was sent about it.
func (d *mailDesk) moved(ctx context.Context, uid uint32, folder string) error {
	m := d.fetched[uid]
	delete(d.fetched, uid)
	key := intake.MessageKey(m)
	ledger, err := d.store.Entries(ctx, []string{key})
	if err != nil {
		return err
	}
	outcome := ledger[key][key]
	t := takenMail{raw: m.Raw, folder: folder, caseID: outcome.Detail, opened: outcome.Result == "opened"}
	about := func(k string) bool { return strings.HasPrefix(k, key+"/") }
	for _, p := range d.posts {
		if about(p.Key) {
			t.posts = append(t.posts, p)
		}
	}
	for _, ml := range d.mails {
		if about(ml.Key) {
			t.mails = append(t.mails, ml)
		}
	}
	d.posts = slices.DeleteFunc(d.posts, func(p bot.Message) bool { return about(p.Key) })
	d.mails = slices.DeleteFunc(d.mails, func(ml bot.Mail) bool { return about(ml.Key) })
	d.taken = append(d.taken, t)
	return nil
}

// deskMailbox is the demo's mailbox, telling the desk what intake fetches and moves.
type deskMailbox struct {
	bot.Mailbox
	d *mailDesk
}

func (m deskMailbox) Fetch(ctx context.Context, folder string, after bot.MailboxPosition, max int) ([]bot.InboundMessage, uint32, error) {
	msgs, validity, err := m.Mailbox.Fetch(ctx, folder, after, max)
	for _, msg := range msgs {
		m.d.fetched[msg.UID] = msg
	}
	return msgs, validity, err
}

func (m deskMailbox) Move(ctx context.Context, folder string, uidValidity uint32, uids []uint32, to string) error {
	if err := m.Mailbox.Move(ctx, folder, uidValidity, uids, to); err != nil {
		return err
	}
	for _, uid := range uids {
		if err := m.d.moved(ctx, uid, to); err != nil {
			return err
		}
	}
	return nil
}
