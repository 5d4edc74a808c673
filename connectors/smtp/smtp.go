// Package smtp sends casebot's mail through an SMTP relay, or prints it to a terminal when no
// relay is configured (the demo, and trying a playbook out).
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"

	"casebot/bot"
)

// The TLS modes of Options.TLS.
const (
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, port 465)
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSNone     = "none"     // no TLS at all; only to a loopback host
)

// DefaultFrom is the From address of the terminal printer when Options.From is empty.
const DefaultFrom = "casebot@localhost"

// defaultTimeout bounds connecting and each SMTP command when Options.Timeout is zero.
const defaultTimeout = 30 * time.Second

// Options configure New.
type Options struct {
	Host     string // the relay; empty prints to Out instead
	Port     int    // 0: 465 for TLSImplicit, 587 otherwise
	TLS      string // TLSImplicit, TLSStartTLS (also when empty) or TLSNone
	Username string // empty: no SMTP AUTH
	Password string
	From     string        // the sender address; required with a Host
	Timeout  time.Duration // for connecting and for each SMTP command; 0 means 30s

	TLSConfig *tls.Config      // nil means the system roots; tests pass their own CA
	Now       func() time.Time // for the Date header; nil means time.Now
	Out       io.Writer        // where the terminal printer writes; nil means standard output
	Logger    *slog.Logger     // nil discards
}

// New returns a Mailer that sends through opts.Host, or prints to opts.Out when there is no
// host. It refuses a configuration that would send a password or mail in clear text over the
// network.
func New(opts Options) (bot.Mailer, error) {
	if opts.Host == "" {
		out := opts.Out
		if out == nil {
			out = os.Stdout
		}
		from := opts.From
		if from == "" {
			from = DefaultFrom
		}
		return &Terminal{out: out, from: from}, nil
	}

	mode := opts.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	port := opts.Port
	switch mode {
	case TLSImplicit:
		if port == 0 {
			port = 465
		}
	case TLSStartTLS:
		if port == 0 {
			port = 587
		}
	case TLSNone:
		if !bot.IsLoopback(opts.Host) {
			return nil, fmt.Errorf("smtp: tls %q is allowed only to a loopback host, not %q", TLSNone, opts.Host)
		}
		if port == 0 {
			port = 587
		}
	default:
		return nil, fmt.Errorf("smtp: unknown tls mode %q (want %q, %q or %q)", opts.TLS, TLSImplicit, TLSStartTLS, TLSNone)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("smtp: port %d out of range", opts.Port)
	}
	if opts.From == "" {
		return nil, errors.New("smtp: a From address is required to send through a relay")
	}
	if _, err := netmail.ParseAddress(opts.From); err != nil {
		return nil, fmt.Errorf("smtp: from address %q: %w", opts.From, err)
	}

	var cfg *tls.Config
	if opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = opts.Host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		host: opts.Host, port: port, mode: mode,
		username: opts.Username, password: opts.Password, from: opts.From,
		timeout: timeout, tlsConfig: cfg, now: now, logger: logger,
	}, nil
}

// Client sends mail through an SMTP relay with go-mail, one connection per message.
type Client struct {
	host      string
	port      int
	mode      string
	username  string
	password  string
	from      string
	timeout   time.Duration
	tlsConfig *tls.Config
	now       func() time.Time
	logger    *slog.Logger
}

var _ bot.Mailer = (*Client)(nil)

// Send sends m as a plain text mail and returns the From address. The mail carries
// m.MessageID, so a mail sent twice after a lost reply is recognisable as one.
func (c *Client) Send(ctx context.Context, m bot.Mail) (string, error) {
	op := "send mail " + bot.Printable(m.MessageID)
	msg, err := c.message(m)
	if err != nil {
		return "", &bot.Error{Op: op, Code: "invalid_mail", Message: err.Error()}
	}

	// go-mail bounds each command with its own deadlines but does not watch ctx after dialing,
	// and leaves the connection open when EHLO, STARTTLS or AUTH fails. Closing it here when
	// ctx ends, and in any case when the send is over, covers both.
	var conn net.Conn
	var stop func() bool
	defer func() {
		if conn != nil {
			stop()
			_ = conn.Close()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var err error
		conn, err = c.dial(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
	client, err := mail.NewClient(c.host, c.clientOptions(dial)...)
	if err != nil {
		return "", &bot.Error{Op: op, Code: "config", Message: err.Error()}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return "", c.classify(ctx, op, err)
	}
	c.logger.DebugContext(ctx, "sent mail", "message_id", m.MessageID, "key", m.Key,
		"to", m.To, "cc", m.Cc, "relay", net.JoinHostPort(c.host, strconv.Itoa(c.port)))
	return c.from, nil
}

// dial connects to the relay, with TLS from the first byte in implicit mode. It returns the
// *tls.Conn itself: go-mail tells that the connection is encrypted by its type, and sends a
// PLAIN password only over one.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil || c.mode != TLSImplicit {
		return conn, err
	}
	tc := tls.Client(conn, c.tlsConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

func (c *Client) clientOptions(dial mail.DialContextFunc) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(c.port),
		mail.WithTimeout(c.timeout),
		mail.WithTLSConfig(c.tlsConfig),
		mail.WithDialContextFunc(dial),
	}
	switch c.mode {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if c.username != "" {
		mechs := []mail.SMTPAuthType{mail.SMTPAuthPlain, mail.SMTPAuthLogin}
		if c.mode == TLSNone {
			// New allowed TLSNone only to a loopback host, where clear text stays on the machine.
			mechs = []mail.SMTPAuthType{mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mechs...),
			mail.WithUsername(c.username), mail.WithPassword(c.password))
	}
	return opts
}

// message builds the mail: plain text, the caller's Message-ID, a one-line subject, and the
// attachments, each with its own MIME type.
func (c *Client) message(m bot.Mail) (*mail.Msg, error) {
	if len(m.To)+len(m.Cc) == 0 {
		return nil, errors.New("the mail has no recipients")
	}
	id, err := messageID(m.MessageID)
	if err != nil {
		return nil, err
	}
	msg := mail.NewMsg()
	if err := msg.From(c.from); err != nil {
		return nil, fmt.Errorf("from %q: %w", c.from, err)
	}
	if len(m.To) > 0 {
		if err := msg.To(m.To...); err != nil {
			return nil, fmt.Errorf("to: %w", err)
		}
	}
	if len(m.Cc) > 0 {
		if err := msg.Cc(m.Cc...); err != nil {
			return nil, fmt.Errorf("cc: %w", err)
		}
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetMessageIDWithValue(id)
	if m.InReplyTo != "" {
		if _, err := messageID(m.InReplyTo); err != nil {
			return nil, fmt.Errorf("in-reply-to: %w", err)
		}
		msg.SetGenHeader(mail.HeaderInReplyTo, m.InReplyTo)
	}
	if len(m.References) > 0 {
		for _, r := range m.References {
			if _, err := messageID(r); err != nil {
				return nil, fmt.Errorf("references: %w", err)
			}
		}
		msg.SetGenHeader(mail.HeaderReferences, strings.Join(m.References, " "))
	}
	msg.SetDateWithValue(c.now())
	msg.SetUserAgent("casebot")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	for _, a := range m.Attachments {
		// A reader that seeks lets go-mail write the message again when it retries.
		msg.AttachReadSeeker(a.Name, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType)))
	}
	return msg, nil
}

// messageID checks a Message-ID, "<left@right>" or without the brackets, and returns it
// without them, as go-mail adds them.
func messageID(s string) (string, error) {
	id, bracketed := strings.CutPrefix(s, "<")
	id, closed := strings.CutSuffix(id, ">")
	left, right, _ := strings.Cut(id, "@")
	if bracketed != closed || left == "" || right == "" || strings.Count(id, "@") != 1 ||
		strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`<>()[]\,;:"`, r) }) {
		return "", fmt.Errorf("message id %q is not of the form <left@right>", s)
	}
	return id, nil
}

// oneLine folds line breaks and the blanks around them into one space, so a subject cannot
// start a header of its own.
func oneLine(s string) string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

// classify turns a go-mail error into a *bot.Error that says whether to try again. The
// password never reaches it: go-mail does not put it in errors, and redact removes it should
// a relay echo it.
func (c *Client) classify(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	// go-mail's "dial failed: " says nothing the code does not.
	msg := c.redact(strings.TrimPrefix(err.Error(), "dial failed: "))
	var (
		send   *mail.SendError
		reply  *textproto.Error
		verify *tls.CertificateVerificationError
		netErr net.Error
	)
	switch {
	case errors.As(err, &send):
		// The op names the mail already.
		text, _, _ := strings.Cut(send.Error(), ", affected message ID: ")
		return sendError(op, send, c.redact(text))
	case errors.As(err, &reply):
		// A reply before the transaction: the greeting, EHLO, STARTTLS or AUTH.
		e := &bot.Error{Op: op, Code: "smtp_" + strconv.Itoa(reply.Code), Message: c.redact(reply.Error()), Retryable: reply.Code/100 == 4}
		if reply.Code == 535 || reply.Code == 534 {
			e.Code = "auth_failed"
			e.Message = fmt.Sprintf("the relay refused the credentials of user %q: %s", c.username, e.Message)
		}
		return e
	case errors.As(err, &verify):
		return &bot.Error{Op: op, Code: "tls", Message: "the relay's certificate is not trusted: " + msg}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &bot.Error{Op: op, Code: "timeout", Message: msg, Retryable: true}
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// Refused, reset or closed by the relay: it may be restarting.
		return &bot.Error{Op: op, Code: "network", Message: msg, Retryable: true}
	default:
		// What remains is how the relay is set up: no STARTTLS, no AUTH, a TLS failure. Trying
		// again will not change it.
		return &bot.Error{Op: op, Code: "smtp", Message: msg}
	}
}

// sendError classifies a failure in the mail transaction (MAIL, RCPT, DATA). A 4xx reply is
// temporary, a 5xx permanent; without a reply the connection broke, which a retry may mend.
// For RCPT, go-mail's message names the refused recipients.
func sendError(op string, e *mail.SendError, msg string) error {
	code := e.ErrorCode()
	switch {
	case e.Reason == mail.ErrGetSender || e.Reason == mail.ErrGetRcpts || e.Reason == mail.ErrNoUnencoded:
		return &bot.Error{Op: op, Code: "invalid_mail", Message: msg}
	case code == 0:
		return &bot.Error{Op: op, Code: "network", Message: msg, Retryable: true}
	}
	return &bot.Error{Op: op, Code: "smtp_" + strconv.Itoa(code), Message: msg, Retryable: e.IsTemp()}
}

func (c *Client) redact(s string) string {
	if c.password == "" {
		return s
	}
	return strings.ReplaceAll(s, c.password, "<secret>")
}

// Terminal prints mail for a person watching the terminal, one block per mail.
type Terminal struct {
	mu   sync.Mutex
	out  io.Writer
	from string
}

var _ bot.Mailer = (*Terminal)(nil)

// Send writes m as "mail to a@x cc c@z │ Subject: …" with the text aligned under the subject,
// and returns the configured From address.
func (t *Terminal) Send(ctx context.Context, m bot.Mail) (string, error) {
	to := bot.Printable(oneLine(strings.Join(m.To, ", ")))
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("print mail to %s: %w", to, err)
	}
	// Headers on lines of their own, the text under a margin: long recipient lists must not
	// push the text off the screen.
	var b strings.Builder
	b.WriteString("mail │ To: " + to + "\n")
	if len(m.Cc) > 0 {
		b.WriteString("     │ Cc: " + bot.Printable(oneLine(strings.Join(m.Cc, ", "))) + "\n")
	}
	b.WriteString("     │ Subject: " + bot.Printable(oneLine(m.Subject)) + "\n")
	b.WriteString("     │\n")
	for line := range strings.Lines(strings.TrimRight(m.Text, "\r\n")) {
		b.WriteString(strings.TrimRight("     │ "+bot.Printable(strings.TrimRight(line, "\r\n")), " ") + "\n")
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := io.WriteString(t.out, b.String()); err != nil {
		return "", fmt.Errorf("print mail to %s: %w", to, err)
	}
	return t.from, nil
}
