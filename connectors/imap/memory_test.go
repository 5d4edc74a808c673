package imap

import (
	"bytes"
	"slices"
	"testing"

	"casebot/bot"
)

// TestMemory: mail delivered to the in-memory server is fetched by its client, moved out of
// INBOX with one command (creating the folder), and gone from INBOX after; Close stops the
// server.
func TestMemory(t *testing.T) {
	t.Parallel()
	m, err := StartMemory(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, id := range []string{"m1", "m2", "m3"} {
		if err := m.Deliver(mail(id)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, validity := fetch(t, m.Client, "INBOX", bot.MailboxPosition{}, 10)
	if !slices.Equal(uids(msgs), []uint32{1, 2, 3}) || !bytes.Equal(msgs[0].Raw, mail("m1")) {
		t.Fatalf("fetched %v, want messages 1 to 3 as delivered", uids(msgs))
	}
	if err := m.Move(t.Context(), "INBOX", validity, []uint32{1, 3}, "Processed"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if left, _ := fetch(t, m.Client, "INBOX", bot.MailboxPosition{}, 10); !slices.Equal(uids(left), []uint32{2}) {
		t.Errorf("INBOX holds %v after the move, want [2]", uids(left))
	}
	if moved, _ := fetch(t, m.Client, "Processed", bot.MailboxPosition{}, 10); len(moved) != 2 || !bytes.Equal(moved[0].Raw, mail("m1")) ||
		!bytes.Equal(moved[1].Raw, mail("m3")) {
		t.Errorf("Processed holds %d message(s), want m1 and m3", len(moved))
	}

	addr := m.addr
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c := client(t, Options{Addr: addr, TLS: "none", Username: "casebot", Timeout: wait})
	if _, _, err := c.Fetch(t.Context(), "INBOX", bot.MailboxPosition{}, 10); !bot.IsRetryable(err) {
		t.Errorf("Fetch after Close: %v, want a retryable error: the server is gone", err)
	}
}
