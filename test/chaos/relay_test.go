package chaos

import (
	"bytes"
	"io"
	"log"
	"mime"
	"net"
	"net/mail"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// delivery is one mail the relay accepted.
type delivery struct {
	messageID string
	to        []string
	subject   string
	child     *child // the casebot that sent it
	seq       int    // the trap's sequence number of its DATA
}

// relay is an SMTP relay on 127.0.0.1 that records every mail it accepts. Its DATA commands
// go through the trap: a kill after one is the window in which the relay has the mail and
// casebot does not know it.
type relay struct {
	trap *trap
	srv  *gosmtp.Server
	addr *net.TCPAddr

	mu    sync.Mutex
	mails []delivery
}

func startRelay(tr *trap) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{trap: tr, addr: ln.Addr().(*net.TCPAddr)}
	r.srv = gosmtp.NewServer(r)
	r.srv.Domain = "relay.chaos.test"
	r.srv.ReadTimeout = time.Minute
	r.srv.WriteTimeout = time.Minute
	r.srv.ErrorLog = log.New(io.Discard, "", 0) // killed clients leave broken connections behind
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *relay) Close() error { return r.srv.Close() }

func (r *relay) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.mails...)
}

// NewSession ties the connection to the casebot running when it opened.
func (r *relay) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &session{relay: r, child: r.trap.current()}, nil
}

type session struct {
	relay *relay
	child *child
	to    []string
}

func (s *session) Mail(string, *gosmtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(body io.Reader) error {
	v := s.relay.trap.enter(s.child, "smtp:data")
	if v.kill != nil && !v.kill.After {
		v.child.halt(v.kill)
		return &gosmtp.SMTPError{Code: 451, Message: "the sender is gone"}
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	d := delivery{to: s.to, child: s.child, seq: v.seq}
	if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		d.messageID = msg.Header.Get("Message-Id")
		d.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			d.subject = msg.Header.Get("Subject")
		}
	}
	s.relay.mu.Lock()
	s.relay.mails = append(s.relay.mails, d)
	s.relay.mu.Unlock()
	if v.kill != nil {
		v.child.halt(v.kill) // accepted, and the sender never hears so (or, frozen, not before the takeover)
	}
	s.Reset()
	return nil
}

func (s *session) Reset()        { s.to = nil }
func (s *session) Logout() error { return nil }
