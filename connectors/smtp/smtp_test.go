package smtp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"casebot/bot"
)

const (
	user     = "casebot"
	password = "s3cret-relay-password"
	from     = "casebot@example.test"
)

// now is the fixed clock of the tests, for the Date header.
var now = time.Date(2025, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600))

// delivery is one mail a sink accepted.
type delivery struct {
	user string // who authenticated
	tls  bool   // whether the transaction ran over TLS
	from string
	to   []string
	data []byte
}

// sink is a go-smtp backend that records what it accepts and refuses the recipients in refuse
// with the given reply.
type sink struct {
	refuse map[string]*gosmtp.SMTPError

	mu    sync.Mutex
	mails []delivery
}

func (s *sink) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{sink: s, conn: c}, nil
}

func (s *sink) delivered() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mails)
}

type session struct {
	sink *sink
	conn *gosmtp.Conn
	cur  delivery
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, pass string) error {
		if username != user || pass != password {
			return gosmtp.ErrAuthFailed
		}
		s.cur.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.cur.user == "" {
		return gosmtp.ErrAuthRequired
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if e := s.sink.refuse[to]; e != nil {
		return e
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = data
	s.sink.mu.Lock()
	s.sink.mails = append(s.sink.mails, s.cur)
	s.sink.mu.Unlock()
	s.Reset()
	return nil
}

// Reset keeps the login: it lasts for the connection, not the transaction.
func (s *session) Reset()        { s.cur = delivery{user: s.cur.user} }
func (s *session) Logout() error { return nil }

// certificate makes a self-signed certificate for 127.0.0.1 and a pool that trusts it.
func certificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "casebot test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// relay is a running test server and the options that reach it.
type relay struct {
	sink *sink
	opts Options
}

// start runs a go-smtp server for s on 127.0.0.1:0 speaking mode: STARTTLS offered (and
// AUTH only after it), TLS from the first byte, or clear text with AUTH allowed.
func start(t *testing.T, s *sink, mode string) relay {
	t.Helper()
	cert, pool := certificate(t)
	srv := gosmtp.NewServer(s)
	srv.Domain = "relay.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0) // the refused certificate is expected
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	switch mode {
	case TLSStartTLS:
		srv.TLSConfig = serverTLS
	case TLSImplicit:
		ln = tls.NewListener(ln, serverTLS)
	case TLSNone:
		srv.AllowInsecureAuth = true
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return relay{sink: s, opts: Options{
		Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: mode,
		Username: user, Password: password, From: from,
		TLSConfig: &tls.Config{RootCAs: pool},
		Now:       func() time.Time { return now },
		Timeout:   10 * time.Second,
	}}
}

func mailer(t *testing.T, opts Options) bot.Mailer {
	t.Helper()
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var sample = bot.Mail{
	To:        []string{"anna@customer.test", "Bob Buyer <bob@customer.test>"},
	Cc:        []string{"legal@example.test"},
	Subject:   "Termination of contract 4711\r\nBcc: eve@attacker.test",
	Text:      "Dear customer,\n\nwe confirm the termination. Grüße!\n.\nA line that is long enough to be wrapped by quoted-printable encoding, which allows 76 characters per line at most.\n",
	MessageID: "<termination-sop/attrition/3/500A000001@casebot.example.test>",
	Key:       "termination-sop/attrition/3/500A000001",
}

func TestSend(t *testing.T) {
	for _, mode := range []string{TLSStartTLS, TLSImplicit, TLSNone} {
		t.Run(mode, func(t *testing.T) {
			r := start(t, &sink{}, mode)
			got, err := mailer(t, r.opts).Send(t.Context(), sample)
			if err != nil {
				t.Fatal(err)
			}
			if got != from {
				t.Errorf("from = %q, want %q", got, from)
			}
			mails := r.sink.delivered()
			if len(mails) != 1 {
				t.Fatalf("relay got %d mails, want 1", len(mails))
			}
			d := mails[0]
			wantRcpt := []string{"anna@customer.test", "bob@customer.test", "legal@example.test"}
			if d.user != user || d.tls != (mode != TLSNone) || d.from != from || !slices.Equal(d.to, wantRcpt) {
				t.Errorf("envelope: user %q tls %v from %q to %q; want %q %v %q %q", d.user, d.tls, d.from, d.to, user, mode != TLSNone, from, wantRcpt)
			}
			checkMessage(t, d.data)
		})
	}
}

// checkMessage parses what the relay received and compares it with sample.
func checkMessage(t *testing.T, data []byte) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse %q: %v", data, err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct{ name, got, want string }{
		{"From", msg.Header.Get("From"), "<" + from + ">"},
		{"To", msg.Header.Get("To"), `<anna@customer.test>, "Bob Buyer" <bob@customer.test>`},
		{"Cc", msg.Header.Get("Cc"), "<legal@example.test>"},
		{"Subject", subject, "Termination of contract 4711 Bcc: eve@attacker.test"},
		{"Message-ID", msg.Header.Get("Message-ID"), sample.MessageID},
		{"Date", msg.Header.Get("Date"), "Fri, 14 Mar 2025 09:26:53 +0100"},
		{"Content-Type", msg.Header.Get("Content-Type"), "text/plain; charset=UTF-8"},
		{"Bcc", msg.Header.Get("Bcc"), ""},
	} {
		if h.got != h.want {
			t.Errorf("header %s = %q, want %q", h.name, h.got, h.want)
		}
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(msg.Body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(text), "\r\n", "\n"); got != sample.Text {
		t.Errorf("body = %q, want %q", got, sample.Text)
	}
}

func TestSendErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      string
		refuse    map[string]*gosmtp.SMTPError
		edit      func(*Options)
		code      string
		mention   string // what the message must name
		retryable bool
	}{
		{
			name: "recipient unknown", mode: TLSStartTLS,
			refuse: map[string]*gosmtp.SMTPError{"bob@customer.test": {Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
			code:   "smtp_550", mention: "bob@customer.test",
		},
		{
			name: "recipient greylisted", mode: TLSStartTLS,
			refuse: map[string]*gosmtp.SMTPError{"legal@example.test": {Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "try again later"}},
			code:   "smtp_451", mention: "legal@example.test", retryable: true,
		},
		{
			name: "wrong password", mode: TLSStartTLS,
			edit: func(o *Options) { o.Password = "not-" + password },
			code: "auth_failed", mention: `user "casebot"`,
		},
		{
			name: "wrong password in clear text to loopback", mode: TLSNone,
			edit: func(o *Options) { o.Password = "not-" + password },
			code: "auth_failed", mention: "535",
		},
		{
			name: "relay without STARTTLS", mode: TLSNone,
			edit: func(o *Options) { o.TLS = TLSStartTLS },
			code: "smtp", mention: "STARTTLS",
		},
		{
			name: "untrusted certificate", mode: TLSImplicit,
			edit: func(o *Options) { o.TLSConfig = nil },
			code: "tls", mention: "certificate",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, &sink{refuse: tc.refuse}, tc.mode)
			if tc.edit != nil {
				tc.edit(&r.opts)
			}
			_, err := mailer(t, r.opts).Send(t.Context(), sample)
			checkError(t, err, tc.code, tc.mention, tc.retryable)
			if n := len(r.sink.delivered()); n != 0 {
				t.Errorf("relay accepted %d mails, want none", n)
			}
		})
	}
}

func checkError(t *testing.T, err error, code, mention string, retryable bool) {
	t.Helper()
	t.Log(err)
	var e *bot.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *bot.Error", err, err)
	}
	if e.Code != code || e.Retryable != retryable || !strings.Contains(e.Message, mention) {
		t.Errorf("error %q: code %q retryable %v, want %q %v naming %q", err, e.Code, e.Retryable, code, retryable, mention)
	}
	if !strings.HasPrefix(e.Op, "send mail "+sample.MessageID) {
		t.Errorf("op %q does not say which mail", e.Op)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there any more
	m := mailer(t, Options{Host: "127.0.0.1", Port: port, TLS: TLSStartTLS, From: from, Username: user, Password: password})
	_, err = m.Send(t.Context(), sample)
	checkError(t, err, "network", "refused", true)
}

// silent runs a relay on 127.0.0.1 that greets, then reads the client's first command, calls
// heard, and answers nothing more. It returns its port.
func silent(t *testing.T, heard func()) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "220 relay.test ESMTP\r\n")
		if _, err := conn.Read(make([]byte, 512)); err == nil {
			heard()
		}
		_, _ = io.Copy(io.Discard, conn) // until the client gives up
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestSendTimeout(t *testing.T) {
	port := silent(t, func() {})
	m := mailer(t, Options{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: from, Timeout: 50 * time.Millisecond})
	_, err := m.Send(t.Context(), sample)
	checkError(t, err, "timeout", "timeout", true)
}

// A context canceled while the relay is silent must end the send at once, not after the
// command deadline.
func TestSendCanceledWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	port := silent(t, cancel)
	m := mailer(t, Options{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: from, Timeout: time.Minute})
	begin := time.Now()
	_, err := m.Send(ctx, sample)
	if !errors.Is(err, context.Canceled) || bot.IsRetryable(err) {
		t.Fatalf("error %v, want context.Canceled and not retryable", err)
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("send took %v after the cancel; it waited for the command deadline", d)
	}
}

func TestSendCanceled(t *testing.T) {
	r := start(t, &sink{}, TLSStartTLS)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := mailer(t, r.opts).Send(ctx, sample)
	if !errors.Is(err, context.Canceled) || bot.IsRetryable(err) {
		t.Fatalf("error %v, want context.Canceled and not retryable", err)
	}
	if n := len(r.sink.delivered()); n != 0 {
		t.Errorf("relay accepted %d mails, want none", n)
	}
}

func TestSendInvalidMail(t *testing.T) {
	r := start(t, &sink{}, TLSStartTLS)
	m := mailer(t, r.opts)
	for _, tc := range []struct {
		name string
		edit func(*bot.Mail)
		want string
	}{
		{"no recipients", func(m *bot.Mail) { m.To, m.Cc = nil, nil }, "no recipients"},
		{"bad address", func(m *bot.Mail) { m.To = []string{"not an address"} }, "to:"},
		{"address with a line break", func(m *bot.Mail) { m.Cc = []string{"a@x.test\r\nBcc: eve@attacker.test"} }, "cc:"},
		{"no message id", func(m *bot.Mail) { m.MessageID = "" }, "message id"},
		{"message id without a domain", func(m *bot.Mail) { m.MessageID = "<abc>" }, "message id"},
		{"message id with a line break", func(m *bot.Mail) { m.MessageID = "<a@b>\r\nBcc: eve@attacker.test" }, "message id"},
		{"message id half bracketed", func(m *bot.Mail) { m.MessageID = "<a@b" }, "message id"},
		{"in-reply-to with a line break", func(m *bot.Mail) { m.InReplyTo = "<a@b>\r\nBcc: eve@attacker.test" }, "in-reply-to"},
		{"reference without a domain", func(m *bot.Mail) { m.References = []string{"<a@b>", "<c>"} }, "references"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mail := sample
			tc.edit(&mail)
			_, err := m.Send(t.Context(), mail)
			var e *bot.Error
			if !errors.As(err, &e) || e.Code != "invalid_mail" || e.Retryable || !strings.Contains(e.Message, tc.want) {
				t.Errorf("error %v, want a permanent invalid_mail error about %q", err, tc.want)
			}
		})
	}
	if n := len(r.sink.delivered()); n != 0 {
		t.Errorf("relay accepted %d mails, want none", n)
	}
}

// sendOne sends m through a relay in mode and returns the one message the relay received.
func sendOne(t *testing.T, mode string, m bot.Mail) *netmail.Message {
	t.Helper()
	r := start(t, &sink{}, mode)
	if _, err := mailer(t, r.opts).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	mails := r.sink.delivered()
	if len(mails) != 1 {
		t.Fatalf("relay got %d mails, want 1", len(mails))
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(mails[0].data))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestSendThreaded: an acknowledgement carries In-Reply-To and References, so that the
// customer's mail program shows it under the request.
func TestSendThreaded(t *testing.T) {
	m := sample
	m.InReplyTo, m.References = "<req-2@customer.test>", []string{"<req-1@customer.test>", "<req-2@customer.test>"}
	msg := sendOne(t, TLSStartTLS, m)
	if got := msg.Header.Get("In-Reply-To"); got != m.InReplyTo {
		t.Errorf("In-Reply-To = %q, want %q", got, m.InReplyTo)
	}
	if got, want := msg.Header.Get("References"), "<req-1@customer.test> <req-2@customer.test>"; got != want {
		t.Errorf("References = %q, want %q", got, want)
	}
}

func TestMessageID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<a/b/1/c@casebot.example>", "a/b/1/c@casebot.example"},
		{"a.b@c", "a.b@c"},
		{"<a@[127.0.0.1]>", ""},
		{"<a@b@c>", ""},
		{"<@b>", ""},
		{"<a@>", ""},
		{"<a b@c>", ""},
		{"<ä@c>", ""},
	} {
		got, err := messageID(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("messageID(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string // "" for success
	}{
		{"starttls", Options{Host: "smtp.example.test", From: from}, ""},
		{"implicit", Options{Host: "smtp.example.test", TLS: TLSImplicit, From: from}, ""},
		{"none to localhost", Options{Host: "localhost", TLS: TLSNone, From: from}, ""},
		{"none to ::1", Options{Host: "::1", TLS: TLSNone, From: from}, ""},
		{"none to another host", Options{Host: "smtp.example.test", TLS: TLSNone, From: from}, "loopback"},
		{"none to a LAN address", Options{Host: "10.0.0.25", TLS: TLSNone, From: from}, "loopback"},
		{"unknown mode", Options{Host: "smtp.example.test", TLS: "ssl", From: from}, "unknown tls mode"},
		{"no from", Options{Host: "smtp.example.test"}, "From address is required"},
		{"bad from", Options{Host: "smtp.example.test", From: "casebot"}, "from address"},
		{"bad port", Options{Host: "smtp.example.test", From: from, Port: 70000}, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTerminal(t *testing.T) {
	var out bytes.Buffer
	m := mailer(t, Options{Out: &out})
	got, err := m.Send(t.Context(), bot.Mail{
		To:      []string{"anna@customer.test", "bob@customer.test"},
		Cc:      []string{"legal@example.test"},
		Subject: "Termination\r\nconfirmed \x1b[31m",
		Text:    "Dear customer,\n\nwe confirm.\x1b]0;owned\x07\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != DefaultFrom {
		t.Errorf("from = %q, want %q", got, DefaultFrom)
	}
	want := "mail │ To: anna@customer.test, bob@customer.test\n" +
		"     │ Cc: legal@example.test\n" +
		"     │ Subject: Termination confirmed �[31m\n" +
		"     │\n" +
		"     │ Dear customer,\n" +
		"     │\n" +
		"     │ we confirm.�]0;owned�\n"
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}

	m = mailer(t, Options{Out: &out, From: from})
	if got, err := m.Send(t.Context(), bot.Mail{To: []string{"a@x.test"}}); err != nil || got != from {
		t.Errorf("Send = %q, %v; want the configured From %q", got, err, from)
	}
}

func TestTerminalCanceled(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := mailer(t, Options{Out: &out}).Send(ctx, bot.Mail{To: []string{"a@x.test"}})
	if !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Errorf("error %v, printed %q; want context.Canceled and nothing printed", err, out.String())
	}
}

// The port must be that of the mode when none is given.
func TestDefaultPort(t *testing.T) {
	for mode, want := range map[string]int{TLSImplicit: 465, TLSStartTLS: 587, "": 587, TLSNone: 587} {
		m, err := New(Options{Host: "localhost", TLS: mode, From: from})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.(*Client).port; got != want {
			t.Errorf("mode %q: port %s, want %d", mode, strconv.Itoa(got), want)
		}
	}
}

// TestSendAttachments: the relay receives a multipart/mixed mail whose first part is the
// text and whose other parts are the attachments, in order, each with its MIME type, its file
// name and its bytes unchanged.
func TestSendAttachments(t *testing.T) {
	m := sample
	m.Attachments = []bot.Attachment{
		{Name: "almaden-removal-script.ps1", ContentType: "text/plain; charset=utf-8", Data: []byte("Write-Output \"Grüße\"\r\nexit 0\r\n")},
		{Name: "record.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\x00\xff binary")},
	}
	msg := sendOne(t, TLSNone, m)
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type = %q (%v), want multipart/mixed", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	type part struct{ mediaType, charset, name, body string }
	var got []part
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		mt, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		var body io.Reader = p
		switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, p)
		case "quoted-printable":
			body = quotedprintable.NewReader(p)
		}
		data, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		_, disp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		got = append(got, part{mt, strings.ToLower(ps["charset"]), disp["filename"], string(data)})
	}
	want := []part{
		{"text/plain", "utf-8", "", strings.ReplaceAll(sample.Text, "\n", "\r\n")},
		{"text/plain", "utf-8", "almaden-removal-script.ps1", string(m.Attachments[0].Data)},
		{"application/pdf", "", "record.pdf", string(m.Attachments[1].Data)},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parts:\n got %q\nwant %q", got, want)
	}
}
