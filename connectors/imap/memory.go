package imap

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Memory is an IMAP server in this process that keeps its mail in memory, on 127.0.0.1, with
// a Client logged in to it: the inbound mailbox of `casebot demo`, read over IMAP by the same
// client as a real mailbox, so that the demo shows intake as it runs.
type Memory struct {
	*Client
	srv  *imapserver.Server
	user *imapmemserver.User
}

// inbox is the folder Deliver delivers to.
const inbox = "INBOX"

// StartMemory serves an empty INBOX on a free port of 127.0.0.1 and returns the client of it.
// Close logs the client out and stops the server.
func StartMemory(ctx context.Context, log *slog.Logger) (*Memory, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A password of its own each time: the port is open to every user of the machine.
	password := rand.Text()
	const username = "casebot"
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(username, password)
	if err := user.Create(inbox, nil); err != nil {
		return nil, fmt.Errorf("imap: creating the in-memory INBOX: %w", err)
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		// IMAP4rev2 brings MOVE and UIDPLUS, which intake's moves need.
		Caps:         goimap.CapSet{goimap.CapIMAP4rev1: {}, goimap.CapIMAP4rev2: {}},
		InsecureAuth: true, // loopback only, as the client's tls "none" is
		Logger:       serverLog{log},
	})
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("imap: listening for the in-memory server: %w", err)
	}
	go func() { _ = srv.Serve(ln) }()
	c, err := New(Options{Addr: ln.Addr().String(), TLS: "none", Username: username, Password: password, Logger: log})
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	return &Memory{Client: c, srv: srv, user: user}, nil
}

// Deliver appends a raw message to INBOX, as the receiving mail server would.
func (m *Memory) Deliver(raw []byte) error {
	if _, err := m.user.Append(inbox, bytes.NewReader(raw), &goimap.AppendOptions{}); err != nil {
		return fmt.Errorf("imap: delivering to the in-memory INBOX: %w", err)
	}
	return nil
}

// Close logs the client out and stops the server.
func (m *Memory) Close() error {
	_ = m.Client.Close()
	return m.srv.Close()
}

// serverLog passes what the server reports (a connection that broke) to the debug log.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Printf(format string, args ...any) {
	l.log.Debug("in-memory imap server: " + fmt.Sprintf(format, args...))
}
