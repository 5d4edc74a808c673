package imap

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"casebot/bot"
	"casebot/connectors/imap/dovecot"
)

// wait bounds what a test waits for: generous, as machines under load are slow, and never
// reached when the code works.
const wait = 10 * time.Second

// mail is a small message with the given Message-ID.
func mail(id string) []byte {
	return []byte("From: Anna <anna@customer.test>\r\nTo: casebot@example.test\r\nSubject: Kündigung " + id +
		"\r\nMessage-ID: <" + id + "@customer.test>\r\n\r\nWe terminate contract " + id + ".\r\n")
}

// dovecotClient starts a Dovecot and returns a client of it over STARTTLS.
func dovecotClient(t *testing.T) (*dovecot.Server, *Client) {
	t.Helper()
	s := dovecot.Start(t)
	return s, client(t, Options{Addr: s.Addr(), TLS: "starttls", Username: s.User(), Password: s.Password(),
		TLSConfig: &tls.Config{RootCAs: s.RootCAs()}})
}

// deliver delivers n messages to INBOX, m1 to mn.
func deliver(t *testing.T, s *dovecot.Server, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		s.Deliver(t, "INBOX", mail(fmt.Sprint("m", i)))
	}
}

func client(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = wait
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func fetch(t *testing.T, c *Client, folder string, after bot.MailboxPosition, max int) ([]bot.InboundMessage, uint32) {
	t.Helper()
	msgs, validity, err := c.Fetch(t.Context(), folder, after, max)
	if err != nil {
		t.Fatalf("Fetch(%s, %+v, %d): %v", folder, after, max, err)
	}
	return msgs, validity
}

func uids(msgs []bot.InboundMessage) []uint32 {
	var l []uint32
	for _, m := range msgs {
		l = append(l, m.UID)
	}
	return l
}

// messageIDs are the Message-IDs of the messages of a Dovecot folder.
func messageIDs(t *testing.T, s *dovecot.Server, folder string) []string {
	t.Helper()
	var l []string
	for _, m := range s.Messages(t, folder) {
		l = append(l, m.MessageID)
	}
	return l
}

func TestFetch(t *testing.T) {
	t.Parallel()
	s, c := dovecotClient(t)
	deliver(t, s, 5)
	validity := s.UIDValidity(t, "INBOX")

	msgs, v := fetch(t, c, "INBOX", bot.MailboxPosition{UIDValidity: validity}, 2)
	if v != validity || !slices.Equal(uids(msgs), []uint32{1, 2}) {
		t.Fatalf("first Fetch: UIDs %v under %d, want [1 2] under %d", uids(msgs), v, validity)
	}
	for i, m := range msgs {
		want := mail(fmt.Sprint("m", i+1))
		if m.Mailbox != "INBOX" || m.UIDValidity != validity || !bytes.Equal(m.Raw, want) || m.Size != int64(len(want)) {
			t.Errorf("message %d: %+v, want Raw %q of size %d", m.UID, m, want, len(want))
		}
	}
	msgs, _ = fetch(t, c, "INBOX", bot.MailboxPosition{UIDValidity: validity, UID: 2}, 10)
	if !slices.Equal(uids(msgs), []uint32{3, 4, 5}) {
		t.Errorf("Fetch after 2: UIDs %v, want [3 4 5]", uids(msgs))
	}
	// UID SEARCH UID 6:* matches UID 5, the highest: nothing is new.
	if msgs, _ = fetch(t, c, "INBOX", bot.MailboxPosition{UIDValidity: validity, UID: 5}, 10); len(msgs) != 0 {
		t.Errorf("Fetch after the last message: UIDs %v, want none", uids(msgs))
	}
	if msgs, _ = fetch(t, c, "INBOX", bot.MailboxPosition{UIDValidity: validity, UID: 1000}, 10); len(msgs) != 0 {
		t.Errorf("Fetch after UID 1000: UIDs %v, want none", uids(msgs))
	}

	for _, m := range s.Messages(t, "INBOX") {
		if m.Seen() {
			t.Errorf("message %d is \\Seen after Fetch: BODY.PEEK must leave it unseen", m.UID)
		}
	}
}

func TestFetchMaxSize(t *testing.T) {
	t.Parallel()
	s := dovecot.Start(t)
	c := client(t, Options{Addr: s.Addr(), TLS: "none", Username: s.User(), Password: s.Password(), MaxSize: 1000})
	big := append(mail("big"), bytes.Repeat([]byte("attachment line of a huge message\r\n"), 200)...)
	s.Deliver(t, "INBOX", mail("small"))
	s.Deliver(t, "INBOX", big)
	s.Deliver(t, "INBOX", mail("after"))

	msgs, _ := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)
	if !slices.Equal(uids(msgs), []uint32{1, 2, 3}) {
		t.Fatalf("UIDs %v, want [1 2 3]", uids(msgs))
	}
	if msgs[1].Raw != nil || msgs[1].Size != int64(len(big)) {
		t.Errorf("the message above MaxSize: Raw of %d bytes, Size %d; want Raw nil, Size %d", len(msgs[1].Raw), msgs[1].Size, len(big))
	}
	if !bytes.Equal(msgs[0].Raw, mail("small")) || !bytes.Equal(msgs[2].Raw, mail("after")) {
		t.Errorf("the messages below MaxSize were not read whole: %q, %q", msgs[0].Raw, msgs[2].Raw)
	}
}

func TestFetchRenumbered(t *testing.T) {
	t.Parallel()
	s, c := dovecotClient(t)
	deliver(t, s, 3)
	msgs, old := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)
	if len(msgs) != 3 {
		t.Fatalf("Fetch: UIDs %v, want 3 messages", uids(msgs))
	}

	renumbered := s.Renumber(t, "INBOX")
	msgs, v := fetch(t, c, "INBOX", bot.MailboxPosition{UIDValidity: old, UID: 3}, 10)
	if v != renumbered || !slices.Equal(uids(msgs), []uint32{1, 2, 3}) {
		t.Errorf("after renumbering: UIDs %v under %d, want [1 2 3] under %d", uids(msgs), v, renumbered)
	}
	for _, m := range msgs {
		if m.UIDValidity != renumbered {
			t.Errorf("message %d carries UIDVALIDITY %d, want %d", m.UID, m.UIDValidity, renumbered)
		}
	}
}

// TestWaitIdle checks that Wait wakes up on a delivery while in IDLE, and at once for mail
// that came after the last Fetch.
func TestWaitIdle(t *testing.T) {
	t.Parallel()
	s, c := dovecotClient(t)
	idling := make(chan struct{}, 1)
	c.idling = func() { idling <- struct{}{} }
	fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)

	done := make(chan error, 1)
	go func() { done <- c.Wait(t.Context(), "INBOX") }()
	select {
	case <-idling:
	case err := <-done:
		t.Fatalf("Wait returned %v before any mail", err)
	case <-time.After(wait):
		t.Fatal("Wait did not start IDLE")
	}
	delivered := time.Now()
	s.Deliver(t, "INBOX", mail("m1"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		t.Logf("Wait returned %v after the delivery", time.Since(delivered))
	case <-time.After(wait):
		t.Fatalf("Wait did not return within %v of a delivery", wait)
	}

	// Mail that came before Wait started (after the last Fetch) is reported without IDLE.
	msgs, v := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)
	s.Deliver(t, "INBOX", mail("m2"))
	if err := c.Wait(t.Context(), "INBOX"); err != nil {
		t.Fatalf("Wait with mail waiting: %v", err)
	}
	select {
	case <-idling:
		t.Error("Wait started IDLE although mail had arrived since the last Fetch")
	default:
	}
	if msgs, _ = fetch(t, c, "INBOX", bot.MailboxPosition{UIDValidity: v, UID: msgs[len(msgs)-1].UID}, 10); len(msgs) != 1 {
		t.Errorf("Fetch after Wait: UIDs %v, want the new one", uids(msgs))
	}

	// A cancelled Wait ends IDLE and keeps the connection.
	conn := c.conn
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- c.Wait(ctx, "INBOX") }()
	<-idling
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Wait returned %v, want context.Canceled", err)
	}
	fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)
	if c.conn != conn {
		t.Error("the connection was replaced after a cancelled Wait")
	}
}

// TestWaitPolls checks that Wait waits the poll interval on a server without IDLE.
func TestWaitPolls(t *testing.T) {
	t.Parallel()
	srv := startMem(t, goimap.CapSet{goimap.CapIMAP4rev1: {}}, goimap.CapIdle)
	poll := 50 * time.Millisecond
	c := client(t, srv.options(Options{PollInterval: poll}))
	c.idling = func() { t.Error("Wait used IDLE, which the server does not offer") }
	fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)

	start := time.Now()
	if err := c.Wait(t.Context(), "INBOX"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < poll {
		t.Errorf("Wait returned after %v, before the poll interval %v", d, poll)
	}
	if c.conn.caps.Has(goimap.CapIdle) {
		t.Error("the test server offers IDLE")
	}
}

func TestMove(t *testing.T) {
	t.Parallel()
	s, c := dovecotClient(t)
	deliver(t, s, 5)
	_, v := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)
	// Someone deleted message 1 without expunging it: moving others must leave it.
	s.Doveadm(t, "flags", "add", "-u", s.User(), `\Deleted`, "mailbox", "INBOX", "uid", "1")

	ctx := t.Context()
	if err := c.Move(ctx, "INBOX", v, []uint32{2, 4, 5}, "Processed"); err != nil {
		t.Fatalf("Move to a missing folder: %v", err)
	}
	if err := c.Move(ctx, "INBOX", v, []uint32{2, 4, 5}, "Processed"); err != nil {
		t.Errorf("Move of messages moved already: %v", err)
	}
	// Some moved already, some not: those left are moved.
	if err := c.Move(ctx, "INBOX", v, []uint32{2, 3}, "Quarantine"); err != nil {
		t.Fatalf("Move to Quarantine: %v", err)
	}
	if err := c.Move(ctx, "INBOX", v, nil, "Quarantine"); err != nil {
		t.Errorf("Move of nothing: %v", err)
	}
	for folder, want := range map[string][]string{
		"INBOX":      {"<m1@customer.test>"},
		"Processed":  {"<m2@customer.test>", "<m4@customer.test>", "<m5@customer.test>"},
		"Quarantine": {"<m3@customer.test>"},
	} {
		if got := messageIDs(t, s, folder); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", folder, got, want)
		}
	}
	if subscribed := s.Doveadm(t, "mailbox", "list", "-u", s.User(), "-s"); !strings.Contains(subscribed, "Quarantine") {
		t.Errorf("Quarantine is not subscribed; subscriptions:\n%s", subscribed)
	}

	// UIDs under another UIDVALIDITY name other messages: refuse, to be fetched again.
	s.Deliver(t, "INBOX", mail("m6"))
	renumbered := s.Renumber(t, "INBOX")
	err := c.Move(ctx, "INBOX", v, []uint32{6}, "Processed")
	var e *bot.Error
	if !errors.As(err, &e) || !e.Retryable || !strings.Contains(e.Message, "renumbered") {
		t.Errorf("Move under an old UIDVALIDITY: %v, want a retryable error saying the mailbox was renumbered", err)
	}
	if got := messageIDs(t, s, "INBOX"); len(got) != 2 {
		t.Errorf("INBOX holds %v after the refused Move, want m1 and m6", got)
	}
	if err := c.Move(ctx, "INBOX", renumbered, []uint32{6}, "Processed"); err != nil {
		t.Errorf("Move under the new UIDVALIDITY: %v", err)
	}
}

// TestMoveUIDPlus checks the move on a server without MOVE: COPY, then \Deleted and UID
// EXPUNGE of that message alone.
func TestMoveUIDPlus(t *testing.T) {
	t.Parallel()
	srv := startMem(t, goimap.CapSet{goimap.CapIMAP4rev1: {}, goimap.CapUIDPlus: {}})
	srv.append(t, "INBOX", mail("m1"), goimap.FlagDeleted) // deleted by someone, not expunged
	srv.append(t, "INBOX", mail("m2"))
	srv.append(t, "INBOX", mail("m3"))
	srv.append(t, "INBOX", mail("m4"))
	c := client(t, srv.options(Options{}))
	_, v := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)

	for range 2 { // the second time, the messages are gone already
		if err := c.Move(t.Context(), "INBOX", v, []uint32{2, 4}, "Processed"); err != nil {
			t.Fatalf("Move: %v", err)
		}
	}
	if got := srv.messageIDs(t, "INBOX"); !slices.Equal(got, []string{"m1", "m3"}) {
		t.Errorf("INBOX holds %v, want [m1 m3]: the other \\Deleted message must stay", got)
	}
	if got := srv.messageIDs(t, "Processed"); !slices.Equal(got, []string{"m2", "m4"}) {
		t.Errorf("Processed holds %v, want [m2 m4]", got)
	}
}

func TestMoveRefusedWithoutMoveOrUIDPlus(t *testing.T) {
	t.Parallel()
	srv := startMem(t, goimap.CapSet{goimap.CapIMAP4rev1: {}})
	srv.append(t, "INBOX", mail("m1"))
	c := client(t, srv.options(Options{}))
	_, v := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)

	err := c.Move(t.Context(), "INBOX", v, []uint32{1}, "Processed")
	var e *bot.Error
	if !errors.As(err, &e) || e.Retryable || e.Code != "unsupported" {
		t.Errorf("Move: %v, want a permanent error", err)
	}
	if got := srv.messageIDs(t, "INBOX"); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("INBOX holds %v, want [m1]", got)
	}
}

// TestReconnect checks that a connection the server dropped is replaced on the next call,
// whether it dropped between calls or during IDLE.
func TestReconnect(t *testing.T) {
	t.Parallel()
	s, c := dovecotClient(t)
	s.Deliver(t, "INBOX", mail("m1"))
	fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)

	s.Kick(t)
	if msgs, _ := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10); len(msgs) != 1 {
		t.Errorf("Fetch after the kick: UIDs %v, want [1]", uids(msgs))
	}

	idling := make(chan struct{}, 1)
	c.idling = func() { idling <- struct{}{} }
	done := make(chan error, 1)
	go func() { done <- c.Wait(t.Context(), "INBOX") }()
	select {
	case <-idling:
	case <-time.After(wait):
		t.Fatal("Wait did not start IDLE")
	}
	s.Kick(t)
	if err := <-done; !bot.IsRetryable(err) {
		t.Errorf("Wait when the server dropped the connection: %v, want a retryable error", err)
	}
	if msgs, _ := fetch(t, c, "INBOX", bot.MailboxPosition{}, 10); len(msgs) != 1 {
		t.Errorf("Fetch after the kick in IDLE: UIDs %v, want [1]", uids(msgs))
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	s := dovecot.Start(t)
	const wrong = "not-the-password-42"
	c := client(t, Options{Addr: s.Addr(), TLS: "starttls", Username: s.User(), Password: wrong,
		TLSConfig: &tls.Config{RootCAs: s.RootCAs()}})
	_, _, err := c.Fetch(t.Context(), "INBOX", bot.MailboxPosition{}, 10)
	var e *bot.Error
	if !errors.As(err, &e) || e.Retryable || !e.Login {
		t.Fatalf("Fetch with a wrong password: %#v, want a permanent login error", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestTLS connects to Dovecot with TLS from the first byte and with STARTTLS, trusting its
// certificate, and checks that an untrusted certificate and a server without STARTTLS are
// refused for good.
func TestTLS(t *testing.T) {
	t.Parallel()
	s := dovecot.Start(t)
	s.Deliver(t, "INBOX", mail("m1"))
	for _, tc := range []struct {
		mode, addr string
	}{{"tls", s.TLSAddr()}, {"starttls", s.Addr()}} {
		opts := Options{Addr: tc.addr, TLS: tc.mode, Username: s.User(), Password: s.Password()}
		opts.TLSConfig = &tls.Config{RootCAs: s.RootCAs()}
		if msgs, _ := fetch(t, client(t, opts), "INBOX", bot.MailboxPosition{}, 10); len(msgs) != 1 {
			t.Errorf("%s: UIDs %v, want [1]", tc.mode, uids(msgs))
		}
		opts.TLSConfig = nil // the system's roots do not know the test CA
		_, _, err := client(t, opts).Fetch(t.Context(), "INBOX", bot.MailboxPosition{}, 10)
		var e *bot.Error
		if !errors.As(err, &e) || e.Retryable || e.Code != "tls" {
			t.Errorf("%s with an untrusted certificate: %v, want a permanent tls error", tc.mode, err)
		}
	}

	srv := startMem(t, goimap.CapSet{goimap.CapIMAP4rev1: {}}) // no TLS at all
	opts := srv.options(Options{})
	opts.TLS = "starttls"
	_, _, err := client(t, opts).Fetch(t.Context(), "INBOX", bot.MailboxPosition{}, 10)
	var e *bot.Error
	if !errors.As(err, &e) || e.Retryable || e.Code != "starttls" {
		t.Errorf("STARTTLS to a server without it: %v, want a permanent starttls error", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		err  string // "" when New must succeed
	}{
		{Options{Addr: "imap.example.com:143", TLS: "none", Username: "bot"}, "only to a loopback host"},
		{Options{Addr: "192.0.2.1:143", TLS: "none", Username: "bot"}, "only to a loopback host"},
		{Options{Addr: "127.0.0.1:143", TLS: "none", Username: "bot"}, ""},
		{Options{Addr: "localhost:143", TLS: "none", Username: "bot"}, ""},
		{Options{Addr: "[::1]:143", TLS: "none", Username: "bot"}, ""},
		{Options{Addr: "imap.example.com:993", Username: "bot"}, ""},
		{Options{Addr: "imap.example.com:143", TLS: "ssl", Username: "bot"}, "unknown tls mode"},
		{Options{Addr: "imap.example.com", Username: "bot"}, "address"},
		{Options{Addr: "imap.example.com:0", Username: "bot"}, "port out of range"},
		{Options{Addr: "imap.example.com:993"}, "username"},
	} {
		c, err := New(tc.opts)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("New(%+v): %v", tc.opts, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("New(%+v) = %v, want an error saying %q", tc.opts, err, tc.err)
		case err == nil && c.mode == "":
			t.Errorf("New(%+v) left the TLS mode empty", tc.opts)
		}
	}
}

// TestCancel checks that a cancelled ctx, and the timeout, end a call to a server that never
// answers: go-imap takes no context.
func TestCancel(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
			accepted <- conn // and never greet
		}
	}()

	c := client(t, Options{Addr: ln.Addr().String(), TLS: "none", Username: "bot", Timeout: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, _, err := c.Fetch(ctx, "INBOX", bot.MailboxPosition{}, 10); done <- err }()
	<-accepted
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Fetch: %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("a cancelled Fetch did not return")
	}

	c = client(t, Options{Addr: ln.Addr().String(), TLS: "none", Username: "bot", Timeout: 50 * time.Millisecond})
	_, _, err = c.Fetch(t.Context(), "INBOX", bot.MailboxPosition{}, 10)
	var e *bot.Error
	if !errors.As(err, &e) || !e.Retryable || e.Code != "timeout" {
		t.Errorf("Fetch from a silent server: %v, want a retryable timeout", err)
	}
}

// memServer is go-imap's in-memory server, for what Dovecot cannot be made to lack: MOVE,
// UIDPLUS, IDLE, STARTTLS.
type memServer struct {
	addr string
	user *imapmemserver.User
}

const (
	memUser     = "bot"
	memPassword = "memory-secret"
)

// startMem serves an in-memory mailbox with an INBOX on 127.0.0.1:0 with the given
// capabilities, hiding those in hide from its capability lists (it always offers IDLE).
func startMem(t *testing.T, caps goimap.CapSet, hide ...goimap.Cap) memServer {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(memUser, memPassword)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       quiet{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(&hiding{ln, hide}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return memServer{addr: ln.Addr().String(), user: u}
}

func (m memServer) options(opts Options) Options {
	opts.Addr, opts.TLS, opts.Username, opts.Password = m.addr, "none", memUser, memPassword
	return opts
}

func (m memServer) append(t *testing.T, folder string, raw []byte, flags ...goimap.Flag) {
	t.Helper()
	if _, err := m.user.Append(folder, bytes.NewReader(raw), &goimap.AppendOptions{Flags: flags}); err != nil {
		t.Fatal(err)
	}
}

// messageIDs lists a folder's messages by the token of their Message-ID ("m1"), read with
// a client of its own.
func (m memServer) messageIDs(t *testing.T, folder string) []string {
	t.Helper()
	c := client(t, m.options(Options{}))
	msgs, _ := fetch(t, c, folder, bot.MailboxPosition{}, 100)
	var l []string
	for _, msg := range msgs {
		_, rest, _ := bytes.Cut(msg.Raw, []byte("Message-ID: <"))
		id, _, _ := bytes.Cut(rest, []byte("@"))
		l = append(l, string(id))
	}
	return l
}

// quiet drops what the server logs: the tests provoke the errors it reports.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// hiding is a listener whose connections leave some capabilities out of what they send.
type hiding struct {
	net.Listener
	caps []goimap.Cap
}

func (h *hiding) Accept() (net.Conn, error) {
	conn, err := h.Listener.Accept()
	if err != nil || len(h.caps) == 0 {
		return conn, err
	}
	return hidingConn{conn, h.caps}, nil
}

type hidingConn struct {
	net.Conn
	caps []goimap.Cap
}

func (c hidingConn) Write(b []byte) (int, error) {
	out := b
	if bytes.Contains(b, []byte("CAPABILITY")) {
		for _, cp := range c.caps {
			out = bytes.ReplaceAll(out, []byte(" "+string(cp)), nil)
		}
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// TestBackoff checks that failed connection attempts are spaced out, doubling up to a bound
// with jitter, and that a cancelled ctx ends the wait.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var dials []time.Time
		c := client(t, Options{Addr: "127.0.0.1:143", TLS: "none", Username: "bot",
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				dials = append(dials, time.Now())
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
			}})
		for range 10 {
			if _, _, err := c.Fetch(t.Context(), "INBOX", bot.MailboxPosition{}, 10); !bot.IsRetryable(err) {
				t.Fatalf("Fetch with the server down: %v, want a retryable error", err)
			}
		}
		for i := 1; i < len(dials); i++ {
			d := min(minBackoff<<(i-1), maxBackoff)
			if gap := dials[i].Sub(dials[i-1]); gap < d/2 || gap > d {
				t.Errorf("attempt %d came %v after the one before, want between %v and %v", i+1, gap, d/2, d)
			}
		}

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, _, err := c.Fetch(ctx, "INBOX", bot.MailboxPosition{}, 10); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Fetch whose ctx ends during the backoff: %v, want context.DeadlineExceeded", err)
		}
		if len(dials) != 10 {
			t.Errorf("%d attempts, want 10: none while waiting out the backoff", len(dials))
		}
	})
}

// TestCommandRefused checks that a NO the server answers a command with is permanent unless
// its code says otherwise, and keeps the connection.
func TestCommandRefused(t *testing.T) {
	t.Parallel()
	srv := startMem(t, goimap.CapSet{goimap.CapIMAP4rev1: {}})
	c := client(t, srv.options(Options{}))
	fetch(t, c, "INBOX", bot.MailboxPosition{}, 10)
	conn := c.conn

	_, _, err := c.Fetch(t.Context(), "Archive", bot.MailboxPosition{}, 10)
	var e *bot.Error
	if !errors.As(err, &e) || e.Retryable || e.Code != string(goimap.ResponseCodeNonExistent) {
		t.Errorf("Fetch from a missing folder: %#v, want a permanent NONEXISTENT error", err)
	}
	if c.conn != conn {
		t.Error("a refused command dropped the connection")
	}
	for _, code := range []goimap.ResponseCode{goimap.ResponseCodeUnavailable, goimap.ResponseCodeInUse, goimap.ResponseCodeOverQuota} {
		if err := c.classify("x", &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: code}); !bot.IsRetryable(err) {
			t.Errorf("NO [%s] is permanent: %v", code, err)
		}
	}
	if err := c.classify("x", &goimap.Error{Type: goimap.StatusResponseTypeBad, Text: "parse error"}); bot.IsRetryable(err) {
		t.Errorf("BAD is retryable: %v", err)
	}
}
