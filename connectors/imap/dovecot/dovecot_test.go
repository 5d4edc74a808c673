package dovecot

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
)

// TestServer checks what the helper promises: a server that accepts TLS under RootCAs,
// delivery into new folders, the listing with flags and Message-IDs, and a new UIDVALIDITY.
func TestServer(t *testing.T) {
	t.Parallel()
	s := Start(t)

	conn, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{RootCAs: s.RootCAs(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS to %s: %v", s.TLSAddr(), err)
	}
	greeting := make([]byte, 4)
	if _, err := conn.Read(greeting); err != nil || string(greeting) != "* OK" {
		t.Errorf("greeting %q, %v", greeting, err)
	}
	conn.Close()
	if host, _, _ := net.SplitHostPort(s.Addr()); host != "127.0.0.1" {
		t.Errorf("Addr() = %s, want one on 127.0.0.1", s.Addr())
	}

	if got := s.Messages(t, "Archive/2025"); got != nil {
		t.Errorf("a missing folder lists %v", got)
	}
	s.Deliver(t, "INBOX", []byte("Message-ID: <one@test>\r\nSubject: one\r\n\r\nHello\r\n"))
	s.Deliver(t, "Archive/2025", []byte("Message-ID: <two@test>\r\nSubject: two\r\n\r\nHello\r\n"))
	s.Deliver(t, "Archive/2025", []byte("Message-ID: <three@test>\r\nSubject: three\r\n\r\nHello\r\n"))
	s.Doveadm(t, "flags", "add", "-u", s.User(), `\Seen`, "mailbox", "Archive/2025", "uid", "2")
	got := s.Messages(t, "Archive/2025")
	want := []Message{{UID: 1, MessageID: "<two@test>"}, {UID: 2, Flags: []string{`\Seen`}, MessageID: "<three@test>"}}
	if !slices.EqualFunc(got, want, func(a, b Message) bool {
		return a.UID == b.UID && a.MessageID == b.MessageID && a.Seen() == b.Seen()
	}) {
		t.Errorf("Messages = %+v, want %+v", got, want)
	}

	before := s.UIDValidity(t, "INBOX")
	if after := s.Renumber(t, "INBOX"); after == before || s.UIDValidity(t, "INBOX") != after {
		t.Errorf("UIDVALIDITY %d, after Renumber %d (status says %d)", before, after, s.UIDValidity(t, "INBOX"))
	}
	if out := s.Doveadm(t, "mailbox", "list", "-u", s.User()); !strings.Contains(out, "Archive/2025") {
		t.Errorf("mailbox list:\n%s", out)
	}

	// A logged-in connection, which Kick drops.
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := fmt.Fprintf(c, "a LOGIN %s %s\r\n", s.User(), s.Password()); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		if strings.HasPrefix(line, "a ") {
			if !strings.HasPrefix(line, "a OK") {
				t.Fatalf("login: %s", line)
			}
			break
		}
	}
	s.Kick(t)
	if rest, err := io.ReadAll(r); err != nil || !strings.Contains(string(rest), "BYE") {
		t.Errorf("after Kick the connection read %q, %v; want a BYE and the end", rest, err)
	}
}
