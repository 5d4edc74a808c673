package slacksim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Socket Mode: apps.connections.open hands out a one-time URL of the websocket at linkPath;
// the server says hello on it, then sends the envelopes Press and Slash make, and delivers an
// envelope again, with retry_attempt one higher, when it is not acknowledged in time.

const (
	linkPath   = "/link/"
	appID      = "ASIM000001"
	maxRetries = 3 // deliveries after the first, as Slack makes for an envelope not acknowledged
	// pingEvery is how often a connection is pinged: well within slack-go's 30 seconds
	// without a ping, after which it connects again.
	pingEvery = 10 * time.Second
)

// Envelope is a Socket Mode envelope as the server keeps it.
type Envelope struct {
	ID         string
	Type       string // "interactive" or "slash_commands"
	Deliveries int    // how many times it was sent
	Acked      bool
}

type sockets struct {
	token      string
	ackTimeout time.Duration

	tickets map[string]bool // handed out by apps.connections.open, not yet used
	opened  int
	live    []*socket // open connections, newest last
	envs    []*envelope
	users   map[string]string // name → id
	closed  bool
}

type socket struct {
	conn *websocket.Conn
	wmu  sync.Mutex // gorilla/websocket allows one writer at a time
	done chan struct{}
}

type envelope struct {
	Envelope
	acked   chan struct{} // closed when acknowledged
	payload any
	sentOn  *socket // nil while it waits for a connection
	timer   *time.Timer
}

func newSockets(opts Options) sockets {
	s := sockets{token: opts.AppToken, ackTimeout: opts.AckTimeout, tickets: map[string]bool{}, users: map[string]string{}}
	if s.ackTimeout == 0 {
		s.ackTimeout = 3 * time.Second
	}
	return s
}

func (s *Server) openConnection(url.Values) answer {
	s.sock.opened++
	ticket := strconv.Itoa(s.sock.opened)
	s.sock.tickets[ticket] = true
	return answer{"ok": true, "url": "ws://" + s.host + linkPath + "?ticket=" + ticket + "&app_id=" + appID}
}

var upgrader = websocket.Upgrader{
	// slack-go sends Origin https://api.slack.com, which is not this server's origin.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveSocket runs one Socket Mode connection: hello, the envelopes waiting for one, then
// acknowledgements read until the connection ends.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.sock.tickets[ticket] && !s.sock.closed
	delete(s.sock.tickets, ticket) // a URL serves one connection
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	sk := &socket{conn: conn, done: make(chan struct{})}
	defer s.hangUp(sk)

	s.mu.Lock()
	s.sock.live = append(s.sock.live, sk)
	err = sk.send(map[string]any{"type": "hello", "num_connections": len(s.sock.live),
		"debug_info":      map[string]any{"host": "slacksim", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": appID}})
	for _, env := range s.sock.envs {
		if err == nil && !env.Acked && env.sentOn == nil {
			s.deliver(env)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return
	}
	go sk.pings()

	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		if i := slices.IndexFunc(s.sock.envs, func(e *envelope) bool { return e.ID == ack.EnvelopeID }); i >= 0 {
			env := s.sock.envs[i]
			if !env.Acked {
				env.Acked = true
				close(env.acked)
			}
			if env.timer != nil {
				env.timer.Stop()
			}
		}
		s.mu.Unlock()
	}
}

// hangUp forgets sk and closes it; the envelopes sent on it wait for their timers.
func (s *Server) hangUp(sk *socket) {
	s.mu.Lock()
	s.sock.live = slices.DeleteFunc(s.sock.live, func(o *socket) bool { return o == sk })
	s.mu.Unlock()
	sk.close()
}

func (sk *socket) close() {
	sk.wmu.Lock()
	defer sk.wmu.Unlock()
	select {
	case <-sk.done:
	default:
		close(sk.done)
		_ = sk.conn.Close() // an error means it was closed already
	}
}

func (sk *socket) send(v any) error {
	sk.wmu.Lock()
	defer sk.wmu.Unlock()
	_ = sk.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)) // fails only on a closed connection, which WriteJSON reports
	return sk.conn.WriteJSON(v)
}

// pings pings the client as Slack does; slack-go's client reconnects when pings stop.
func (sk *socket) pings() {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-sk.done:
			return
		case <-t.C:
			if sk.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)) != nil {
				return
			}
		}
	}
}

// deliver sends env on the newest connection, or leaves it for the next one when there is
// none, and delivers it again when it is not acknowledged in time. It runs under s.mu.
func (s *Server) deliver(env *envelope) {
	env.sentOn = nil
	if len(s.sock.live) == 0 || s.sock.closed {
		return
	}
	sk := s.sock.live[len(s.sock.live)-1]
	wire := map[string]any{"envelope_id": env.ID, "type": env.Type, "payload": env.payload,
		"accepts_response_payload": env.Type == "slash_commands", "retry_attempt": env.Deliveries, "retry_reason": ""}
	if env.Deliveries > 0 {
		wire["retry_reason"] = "timeout"
	}
	env.Deliveries++
	if sk.send(wire) != nil {
		return // the connection is going: the envelope waits for the next one
	}
	env.sentOn = sk
	if env.timer != nil {
		env.timer.Stop()
	}
	env.timer = time.AfterFunc(s.sock.ackTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !env.Acked && env.Deliveries <= maxRetries {
			s.deliver(env)
		}
	})
}

// enqueue adds an envelope and delivers it.
func (s *Server) enqueue(kind string, payload any) string {
	env := &envelope{Envelope: Envelope{ID: fmt.Sprintf("env-%04d", len(s.sock.envs)+1), Type: kind}, payload: payload, acked: make(chan struct{})}
	s.sock.envs = append(s.sock.envs, env)
	s.deliver(env)
	return env.ID
}

// Envelopes returns every envelope so far, in order.
func (s *Server) Envelopes() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Envelope, len(s.sock.envs))
	for i, e := range s.sock.envs {
		out[i] = e.Envelope
	}
	return out
}

// Redeliver sends the envelope id again, acknowledged or not, as Slack does when an
// acknowledgement was lost on its way.
func (s *Server) Redeliver(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.sock.envs, func(e *envelope) bool { return e.ID == id })
	if i < 0 {
		return fmt.Errorf("no envelope %s", id)
	}
	env := s.sock.envs[i]
	if env.Acked {
		env.Acked, env.acked = false, make(chan struct{})
	}
	s.deliver(env)
	return nil
}

// Acked returns a channel closed once the envelope id is acknowledged (again, after
// Redeliver); nil for an id not known.
func (s *Server) Acked(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.sock.envs {
		if e.ID == id {
			return e.acked
		}
	}
	return nil
}

// Drop cuts every Socket Mode connection without a word, as a network failure does.
func (s *Server) Drop() {
	s.mu.Lock()
	live := s.sock.live
	s.sock.live = nil
	s.mu.Unlock()
	for _, sk := range live {
		sk.close()
	}
}

// close ends Socket Mode for good, under s.mu.
func (sk *sockets) close() {
	sk.closed = true
	for _, env := range sk.envs {
		if env.timer != nil {
			env.timer.Stop()
		}
	}
	for _, c := range sk.live {
		c.close()
	}
	sk.live = nil
}

// UserID returns the id of the user named name, as Press and Slash send it.
func (s *Server) UserID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user(name)
}

// user returns the id of the user named name, making one up the first time.
func (s *Server) user(name string) string {
	id, ok := s.sock.users[name]
	if !ok {
		id = fmt.Sprintf("USR%06d", len(s.sock.users)+1)
		s.sock.users[name] = id
	}
	return id
}

// Press presses, as the user named user, the button of the message ts in channel (an id or
// name) whose action_id is actionID and value is value, and returns the envelope's id. Like
// Slack, it fails for a button the message does not have.
func (s *Server) Press(user, channel, ts, actionID, value string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.lookup(channel, true)
	if ch == nil {
		return "", fmt.Errorf("press: no channel %s", channel)
	}
	m := s.find(ch.id, ts)
	if m == nil || m.Deleted {
		return "", fmt.Errorf("press: no message %s in %s", ts, channel)
	}
	btn, err := findButton(m.Blocks, actionID, value)
	if err != nil {
		return "", fmt.Errorf("press on %s in %s: %w", ts, channel, err)
	}
	uid := s.user(user)
	action := map[string]any{"type": "button", "action_id": actionID, "block_id": btn.blockID, "value": value,
		"text": btn.Text, "action_ts": formatTS(s.nextTS())}
	msg := m.wire(true)
	payload := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": uid, "username": user, "name": user, "team_id": teamID},
		"api_app_id":   appID,
		"token":        "verification-token",
		"container":    map[string]any{"type": "message", "message_ts": m.TS, "channel_id": ch.id, "is_ephemeral": false},
		"trigger_id":   fmt.Sprintf("trigger-%d", s.lastTS),
		"team":         map[string]any{"id": teamID, "domain": "casebot-sim"},
		"channel":      map[string]any{"id": ch.id, "name": ch.name},
		"message":      msg,
		"response_url": "https://hooks.slack.com/actions/" + teamID + "/" + strconv.FormatInt(s.lastTS, 10),
		"actions":      []any{action},
		"state":        map[string]any{"values": map[string]any{}},
	}
	return s.enqueue("interactive", payload), nil
}

type button struct {
	blockID string
	Text    json.RawMessage `json:"text"`
}

// findButton finds the button with actionID and value among blocks, the JSON of a message's
// blocks: in an actions block or as a section's accessory.
func findButton(blocks, actionID, value string) (button, error) {
	type element struct {
		Type     string          `json:"type"`
		ActionID string          `json:"action_id"`
		Value    string          `json:"value"`
		Text     json.RawMessage `json:"text"`
	}
	var bs []struct {
		Type      string    `json:"type"`
		BlockID   string    `json:"block_id"`
		Elements  []element `json:"elements"`
		Accessory *element  `json:"accessory"`
	}
	if blocks == "" || json.Unmarshal([]byte(blocks), &bs) != nil {
		return button{}, errors.New("the message has no blocks")
	}
	for _, b := range bs {
		els := b.Elements
		if b.Accessory != nil {
			els = append(els, *b.Accessory)
		}
		for _, e := range els {
			if e.Type == "button" && e.ActionID == actionID {
				if e.Value != value {
					return button{}, fmt.Errorf("button %s has the value %q, not %q", actionID, e.Value, value)
				}
				return button{blockID: b.BlockID, Text: e.Text}, nil
			}
		}
	}
	return button{}, fmt.Errorf("the message has no button %s", actionID)
}

// Slash types a slash command ("/casebot why 00001026 purge") as the user named user in
// channel (an id or name), and returns the envelope's id.
func (s *Server) Slash(user, channel, line string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.lookup(channel, true)
	if ch == nil {
		return "", fmt.Errorf("slash: no channel %s", channel)
	}
	command, text, _ := strings.Cut(strings.TrimSpace(line), " ")
	if !strings.HasPrefix(command, "/") {
		return "", fmt.Errorf("slash: %q is not a command", line)
	}
	n := s.nextTS()
	payload := map[string]any{
		"token": "verification-token", "team_id": teamID, "team_domain": "casebot-sim",
		"channel_id": ch.id, "channel_name": ch.name, "user_id": s.user(user), "user_name": user,
		"command": command, "text": strings.TrimSpace(text), "api_app_id": appID,
		"response_url": "https://hooks.slack.com/commands/" + teamID + "/" + strconv.FormatInt(n, 10),
		"trigger_id":   fmt.Sprintf("trigger-%d", n),
	}
	return s.enqueue("slash_commands", payload), nil
}
