// Package slacksim is a Slack Web API server for tests. It keeps what is posted to it, serves
// it back through conversations.history with its metadata, and fails on demand (rate limits,
// answers lost after the message was stored), so that casebot's Slack client and the engine's
// recovery can be tested over real HTTP with slack-go.
//
// It serves auth.test, chat.postMessage, chat.update, chat.delete, chat.postEphemeral,
// conversations.history, conversations.replies and conversations.list, for the channels
// created with AddChannel. Like Slack, chat.postMessage takes a channel id or name ("#legal"
// or "legal"); the other methods take only ids. It serves Socket Mode too (see socket.go):
// apps.connections.open and a websocket on the same server, carrying the button presses and
// slash commands a test makes with Press and Slash.
package slacksim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure New.
type Options struct {
	Token string           // the only bot token accepted; "" accepts any non-empty one
	Now   func() time.Time // Slack's clock, which ts values follow; nil means time.Now
	Seed  uint64           // seeds the faults that fire with a probability

	// AppToken is the only app-level token (xapp-…) apps.connections.open accepts; "" accepts
	// any token starting with xapp-.
	AppToken string
	// AckTimeout is how long an envelope waits for its acknowledgement before it is delivered
	// again; 0 means Slack's 3 seconds.
	AckTimeout time.Duration
}

// Message is a message as the server keeps it.
type Message struct {
	Channel   string // the channel's id
	TS        string // unique across the server, increasing in the order of posting
	ThreadTS  string // the parent's ts for a thread reply, "" otherwise
	Text      string
	EventType string // the metadata's event_type, "" when the message has none
	Key       string // the metadata's event_payload "key", "" when it has none
	CaseID    string // the metadata's event_payload "case_id" (a thread's root), "" when none
	Edits     int    // how many times chat.update changed it
	Blocks    string // the Block Kit blocks, as the JSON posted; "" when none
	// Deleted marks a message chat.delete removed while it had replies: like Slack, the
	// channel keeps it as a tombstone, without its text, blocks or metadata.
	Deleted bool
}

// Ephemeral is a message chat.postEphemeral showed to one user.
type Ephemeral struct {
	Channel  string // the channel's id
	User     string // the user's id
	ThreadTS string
	Text     string
	Blocks   string
}

// Kind is what a Fault does to a call.
type Kind int

const (
	// RateLimit answers HTTP 429 without doing anything.
	RateLimit Kind = iota + 1
	// Lose500 does what the call asks (stores the message), then answers HTTP 500.
	Lose500
	// LoseConnection does what the call asks, then closes the connection without an answer.
	LoseConnection
	// Refuse answers Slack's {"ok": false, "error": Fault.Error} without doing anything, as
	// Slack does with "ratelimited" for some limits.
	Refuse
)

// Fault makes calls of a method fail. The next Next calls get it; after those, each call gets
// it with probability Rate, drawn from Options.Seed in the order the calls arrive.
type Fault struct {
	Method     string // Web API method ("chat.postMessage"); "" means every method
	Kind       Kind
	Next       int
	Rate       float64
	RetryAfter time.Duration // RateLimit: sent as Retry-After in whole seconds; 0 sends none
	Error      string        // Refuse: the error code
}

// Stats counts calls by Web API method.
type Stats struct {
	Calls       map[string]int // every call received, failed or not
	RateLimited map[string]int // stopped by a fault (RateLimit, Refuse)
	Lost        map[string]int // done, with the answer lost by a fault
}

// Server is a Slack Web API server on 127.0.0.1. It is safe for concurrent use.
type Server struct {
	http  *httptest.Server
	token string
	now   func() time.Time

	mu       sync.Mutex
	rand     *rand.Rand
	channels []*channel // in the order of creation, which is the order of their ids
	msgs     []*message // in ts order
	lastTS   int64      // in microseconds, so that every ts is new
	faults   []*Fault
	stats    Stats
	eph      []Ephemeral

	sock sockets // Socket Mode
	host string  // the host the last call came to, for websocket URLs
}

type channel struct {
	id, name string
	member   bool
	created  time.Time
}

type message struct {
	Message
	micro      int64          // TS in microseconds, for comparisons
	payload    map[string]any // the metadata's event_payload
	editClosed bool           // chat.update answers edit_window_closed
}

// The bot the token belongs to, as auth.test and messages name it.
const (
	teamID = "TSIM000001"
	userID = "USIM000001"
	botID  = "BSIM000001"
)

// New returns a running server configured by opts.
func New(opts Options) *Server {
	s := &Server{
		token: opts.Token,
		now:   opts.Now,
		rand:  rand.New(rand.NewPCG(opts.Seed, opts.Seed)),
		stats: Stats{Calls: map[string]int{}, RateLimited: map[string]int{}, Lost: map[string]int{}},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.sock = newSockets(opts)
	s.http = httptest.NewServer(s)
	return s
}

// URL returns the Web API's base URL, for slack-go's OptionAPIURL.
func (s *Server) URL() string { return s.http.URL + "/api/" }

// Close shuts the server down, waiting for the calls in progress.
func (s *Server) Close() {
	s.mu.Lock()
	s.sock.close()
	s.mu.Unlock()
	s.http.Close()
}

// AddChannel creates a public channel named name ("legal" or "#legal"), with the bot in it
// when member, and returns its id. For an existing name it only sets whether the bot is in it.
func (s *Server) AddChannel(name string, member bool) string {
	name = strings.TrimPrefix(name, "#")
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.byName(name); ch != nil {
		ch.member = member
		return ch.id
	}
	ch := &channel{id: fmt.Sprintf("CSIM%06d", len(s.channels)+1), name: name, member: member, created: s.now()}
	s.channels = append(s.channels, ch)
	return ch.id
}

// Inject adds f to the faults; the first of them that fires decides a call's fate.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Heal removes every fault.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Messages returns the messages of a channel, given by id or name, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.lookup(channel, true)
	if ch == nil {
		return nil
	}
	var out []Message
	for _, m := range s.msgs {
		if m.Channel == ch.id {
			out = append(out, m.Message)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages shown so far, in order.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.eph)
}

// CloseEditWindow makes chat.update of the message ts in channel (an id or name) answer
// edit_window_closed, as Slack does for messages older than a workspace allows editing.
func (s *Server) CloseEditWindow(channel, ts string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.lookup(channel, true)
	if ch == nil {
		return fmt.Errorf("no channel %s", channel)
	}
	m := s.find(ch.id, ts)
	if m == nil {
		return fmt.Errorf("no message %s in %s", ts, channel)
	}
	m.editClosed = true
	return nil
}

// All returns the messages of every channel, oldest first.
func (s *Server) All() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = m.Message
	}
	return out
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Calls: maps.Clone(s.stats.Calls), RateLimited: maps.Clone(s.stats.RateLimited), Lost: maps.Clone(s.stats.Lost)}
}

// answer is a Web API response body.
type answer map[string]any

func fail(code string) answer { return answer{"ok": false, "error": code} }

var methods = map[string]func(*Server, url.Values) answer{
	"auth.test":             (*Server).authTest,
	"chat.postMessage":      (*Server).postMessage,
	"chat.update":           (*Server).update,
	"chat.delete":           (*Server).delete,
	"chat.postEphemeral":    (*Server).postEphemeral,
	"conversations.history": (*Server).history,
	"conversations.replies": (*Server).replies,
	"conversations.list":    (*Server).list,
	"apps.connections.open": (*Server).openConnection,
}

// ServeHTTP answers Web API calls under /api/. The server is a handler too, so that a test can
// also put it behind a listener of its own (to count or cut requests), besides URL's.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == linkPath {
		s.serveSocket(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "read the form: "+err.Error(), http.StatusBadRequest)
		return
	}

	s.mu.Lock()
	s.host = r.Host
	body, fault := s.call(method, r)
	s.mu.Unlock()

	switch {
	case fault == nil:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(body) // an error means the client has gone
	case fault.Kind == RateLimit:
		if fault.RetryAfter > 0 {
			secs := int64((fault.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		http.Error(w, "ratelimited", http.StatusTooManyRequests)
	case fault.Kind == Refuse:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(fail(fault.Error)) // an error means the client has gone
	case fault.Kind == Lose500:
		http.Error(w, "<html>500 Internal Server Error</html>", http.StatusInternalServerError)
	default:
		// The documented way to make net/http close the connection without an answer.
		panic(http.ErrAbortHandler)
	}
}

// call does one call under s.mu and returns its answer, or the fault that replaces it.
func (s *Server) call(method string, r *http.Request) (answer, *Fault) {
	s.stats.Calls[method]++
	if f := s.fire(method, true); f != nil {
		s.stats.RateLimited[method]++
		return nil, f
	}
	body := s.authorize(method, r)
	if body == nil {
		if handle, ok := methods[method]; ok {
			body = handle(s, r.Form)
		} else {
			body = fail("unknown_method")
		}
	}
	if f := s.fire(method, false); f != nil {
		s.stats.Lost[method]++
		return nil, f
	}
	return body, nil
}

// fire returns the first fault for method that fires on this call: one that stops the call
// (RateLimit, Refuse) when limit, one that loses the answer otherwise. It returns a copy, which ServeHTTP reads without s.mu.
func (s *Server) fire(method string, limit bool) *Fault {
	for _, f := range s.faults {
		if (f.Method != "" && f.Method != method) || (f.Kind == RateLimit || f.Kind == Refuse) != limit {
			continue
		}
		if f.Next > 0 || f.Rate > 0 && s.rand.Float64() < f.Rate {
			fired := *f
			f.Next = max(f.Next-1, 0)
			return &fired
		}
	}
	return nil
}

// authorize returns Slack's answer to a call without a valid token, nil for a valid one.
// slack-go sends the token in the form; other clients send it as a bearer token. Only
// apps.connections.open takes an app-level token, and it takes only that.
func (s *Server) authorize(method string, r *http.Request) answer {
	token := r.Form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	app := strings.HasPrefix(token, "xapp-")
	switch {
	case token == "":
		return fail("not_authed")
	case app != (method == "apps.connections.open"):
		return fail("not_allowed_token_type")
	case app && s.sock.token != "" && token != s.sock.token:
		return fail("invalid_auth")
	case !app && s.token != "" && token != s.token:
		return fail("invalid_auth")
	}
	return nil
}

func (s *Server) authTest(url.Values) answer {
	return answer{"ok": true, "url": "https://casebot-sim.slack.com/", "team": "casebot sim", "user": "casebot",
		"team_id": teamID, "user_id": userID, "bot_id": botID}
}

func (s *Server) postMessage(form url.Values) answer {
	ch, refusal := s.channelFor(form, true)
	if refusal != nil {
		return refusal
	}
	m := &message{Message: Message{Channel: ch.id, ThreadTS: form.Get("thread_ts"), Text: form.Get("text")}}
	if m.Text == "" && form.Get("blocks") == "" && form.Get("attachments") == "" {
		return fail("no_text")
	}
	if refusal := m.setBlocks(form); refusal != nil {
		return refusal
	}
	if refusal := m.setMetadata(form.Get("metadata")); refusal != nil {
		return refusal
	}
	m.micro = s.nextTS()
	m.TS = formatTS(m.micro)
	s.msgs = append(s.msgs, m)
	return answer{"ok": true, "channel": ch.id, "ts": m.TS, "message": m.wire(true)}
}

// nextTS returns a new time in microseconds for a ts: now on Slack's clock, or just after
// the last one, so that every ts is new.
func (s *Server) nextTS() int64 {
	now := s.now().UnixMicro()
	if now <= s.lastTS {
		now = s.lastTS + 1
	}
	s.lastTS = now
	return now
}

// setBlocks keeps the blocks form carries, refusing what is not a JSON array.
func (m *message) setBlocks(form url.Values) answer {
	raw := form.Get("blocks")
	if raw == "" {
		return nil
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return fail("invalid_blocks_format")
	}
	m.Blocks = raw
	return nil
}

func (s *Server) postEphemeral(form url.Values) answer {
	ch, refusal := s.channelFor(form, false)
	if refusal != nil {
		return refusal
	}
	e := Ephemeral{Channel: ch.id, User: form.Get("user"), ThreadTS: form.Get("thread_ts"), Text: form.Get("text"), Blocks: form.Get("blocks")}
	switch {
	case e.User == "":
		return fail("user_not_found")
	case e.Text == "" && e.Blocks == "":
		return fail("no_text")
	}
	s.eph = append(s.eph, e)
	return answer{"ok": true, "message_ts": formatTS(s.nextTS())}
}

func (s *Server) delete(form url.Values) answer {
	ch, refusal := s.channelFor(form, false)
	if refusal != nil {
		return refusal
	}
	m := s.find(ch.id, form.Get("ts"))
	if m == nil || m.Deleted {
		return fail("message_not_found")
	}
	if s.hasReplies(m) {
		m.Message = Message{Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS, Deleted: true, Edits: m.Edits}
		m.payload = nil
	} else {
		s.msgs = slices.DeleteFunc(s.msgs, func(o *message) bool { return o == m })
	}
	return answer{"ok": true, "channel": ch.id, "ts": m.TS}
}

// find returns the message ts of the channel with id channel, nil when there is none.
func (s *Server) find(channel, ts string) *message {
	i := slices.IndexFunc(s.msgs, func(m *message) bool { return m.Channel == channel && m.TS == ts })
	if i < 0 {
		return nil
	}
	return s.msgs[i]
}

// hasReplies reports whether m is the root of a thread with replies.
func (s *Server) hasReplies(m *message) bool {
	return slices.ContainsFunc(s.msgs, func(o *message) bool { return o.Channel == m.Channel && o.ThreadTS == m.TS && o != m })
}

func (s *Server) update(form url.Values) answer {
	ch, refusal := s.channelFor(form, false)
	if refusal != nil {
		return refusal
	}
	m := s.find(ch.id, form.Get("ts"))
	switch {
	case m == nil:
		return fail("message_not_found")
	case m.Deleted:
		return fail("cant_update_message")
	case m.editClosed:
		return fail("edit_window_closed")
	}
	if refusal := m.setBlocks(form); refusal != nil {
		return refusal
	}
	if refusal := m.setMetadata(form.Get("metadata")); refusal != nil {
		return refusal
	}
	if form.Has("text") {
		m.Text = form.Get("text")
	}
	m.Edits++
	return answer{"ok": true, "channel": ch.id, "ts": m.TS, "text": m.Text, "message": m.wire(true)}
}

func (s *Server) history(form url.Values) answer {
	ch, refusal := s.channelFor(form, false)
	if refusal != nil {
		return refusal
	}
	oldest, latest, limit, refusal := bounds(form)
	if refusal != nil {
		return refusal
	}
	if c := form.Get("cursor"); c != "" {
		// The cursor names the newest message of the page.
		next, ok := cursorTS(c)
		if !ok {
			return fail("invalid_cursor")
		}
		latest = min(latest, next)
	}

	var found []*message // newest first, as Slack lists them
	for _, m := range slices.Backward(s.msgs) {
		reply := m.ThreadTS != "" && m.ThreadTS != m.TS // replies live in conversations.replies
		if m.Channel == ch.id && !reply && oldest <= m.micro && m.micro <= latest {
			found = append(found, m)
		}
	}
	return s.messages(form, found, limit, answer{"pin_count": 0})
}

func (s *Server) replies(form url.Values) answer {
	ch, refusal := s.channelFor(form, false)
	if refusal != nil {
		return refusal
	}
	root := s.find(ch.id, form.Get("ts"))
	if root == nil {
		return fail("thread_not_found")
	}
	oldest, latest, limit, refusal := bounds(form)
	if refusal != nil {
		return refusal
	}
	var found []*message // the root, then its replies oldest first
	if c := form.Get("cursor"); c != "" {
		// The cursor names the oldest reply of the page; the root opens the first page only.
		next, ok := cursorTS(c)
		if !ok {
			return fail("invalid_cursor")
		}
		oldest = max(oldest, next)
	} else {
		found = append(found, root)
	}
	for _, m := range s.msgs {
		if m.Channel == ch.id && m.ThreadTS == root.TS && m != root && oldest <= m.micro && m.micro <= latest {
			found = append(found, m)
		}
	}
	return s.messages(form, found, limit, nil)
}

// bounds reads the oldest, latest (both in microseconds, made inclusive) and limit of a
// history call, or Slack's refusal.
func bounds(form url.Values) (oldest, latest int64, limit int, refusal answer) {
	oldest, err := parseTS(form.Get("oldest"), 0)
	if err != nil {
		return 0, 0, 0, fail("invalid_ts_oldest")
	}
	latest, err = parseTS(form.Get("latest"), 1<<62)
	if err != nil {
		return 0, 0, 0, fail("invalid_ts_latest")
	}
	if !flag(form, "inclusive") {
		oldest, latest = oldest+1, latest-1
	}
	limit, ok := limitOf(form, 100, 999)
	if !ok {
		return 0, 0, 0, fail("invalid_limit")
	}
	return oldest, latest, limit, nil
}

func cursorTS(cursor string) (int64, bool) {
	ts, ok := decodeCursor("next_ts:", cursor)
	micro, err := parseTS(ts, 0)
	return micro, ok && err == nil
}

// messages answers a page of found, with more's fields, and the cursor of the next page.
func (s *Server) messages(form url.Values, found []*message, limit int, more answer) answer {
	found, next := page(found, limit, "next_ts:", func(m *message) string { return m.TS })
	withMetadata := flag(form, "include_all_metadata")
	wire := make([]answer, len(found))
	for i, m := range found {
		wire[i] = m.wire(withMetadata)
	}
	a := answer{"ok": true, "messages": wire, "has_more": next != "", "response_metadata": answer{"next_cursor": next}}
	maps.Copy(a, more)
	return a
}

func (s *Server) list(form url.Values) answer {
	limit, ok := limitOf(form, 100, 1000)
	if !ok {
		return fail("invalid_limit")
	}
	var from string
	if c := form.Get("cursor"); c != "" {
		if from, ok = decodeCursor("next_id:", c); !ok {
			return fail("invalid_cursor")
		}
	}
	var found []*channel
	if types := form.Get("types"); types == "" || slices.Contains(strings.Split(types, ","), "public_channel") {
		for _, ch := range s.channels {
			if ch.id >= from {
				found = append(found, ch)
			}
		}
	}
	found, next := page(found, limit, "next_id:", func(ch *channel) string { return ch.id })
	wire := make([]answer, len(found))
	for i, ch := range found {
		wire[i] = answer{"id": ch.id, "name": ch.name, "name_normalized": ch.name, "created": ch.created.Unix(),
			"is_channel": true, "is_private": false, "is_archived": false, "is_member": ch.member}
	}
	return answer{"ok": true, "channels": wire, "response_metadata": answer{"next_cursor": next}}
}

// channelFor returns the channel form names, or Slack's refusal. Only chat.postMessage
// takes names.
func (s *Server) channelFor(form url.Values, names bool) (*channel, answer) {
	ch := s.lookup(form.Get("channel"), names)
	switch {
	case ch == nil:
		return nil, fail("channel_not_found")
	case !ch.member:
		return nil, fail("not_in_channel")
	}
	return ch, nil
}

// lookup finds a channel by id or, when names, by name with or without "#".
func (s *Server) lookup(channel string, names bool) *channel {
	for _, ch := range s.channels {
		if ch.id == channel {
			return ch
		}
	}
	if names {
		return s.byName(strings.TrimPrefix(channel, "#"))
	}
	return nil
}

func (s *Server) byName(name string) *channel {
	for _, ch := range s.channels {
		if ch.name == name {
			return ch
		}
	}
	return nil
}

// setMetadata replaces m's metadata with raw, Slack's JSON {event_type, event_payload}; an
// empty raw keeps it. It returns Slack's refusal of a malformed one.
func (m *message) setMetadata(raw string) answer {
	if raw == "" {
		return nil
	}
	var meta struct {
		EventType    string         `json:"event_type"`
		EventPayload map[string]any `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(raw), &meta); err != nil || meta.EventType == "" {
		return fail("invalid_metadata_format")
	}
	key, _ := meta.EventPayload["key"].(string)
	caseID, _ := meta.EventPayload["case_id"].(string)
	m.EventType, m.Key, m.CaseID, m.payload = meta.EventType, key, caseID, meta.EventPayload
	return nil
}

// wire returns m as Slack's JSON shows it; conversations.history shows metadata only when
// asked to.
func (m *message) wire(withMetadata bool) answer {
	w := answer{"type": "message", "ts": m.TS}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	}
	if m.Deleted {
		w["subtype"], w["user"], w["text"] = "tombstone", "USLACKBOT", "This message was deleted."
		return w
	}
	w["user"], w["bot_id"], w["text"] = userID, botID, m.Text
	if m.Blocks != "" {
		w["blocks"] = json.RawMessage(m.Blocks)
	}
	if withMetadata && m.EventType != "" {
		w["metadata"] = answer{"event_type": m.EventType, "event_payload": m.payload}
	}
	return w
}

// formatTS writes a time in microseconds as Slack's ts, "1700000000.000100".
func formatTS(micro int64) string { return fmt.Sprintf("%d.%06d", micro/1e6, micro%1e6) }

// parseTS reads a ts ("1700000000", "1700000000.0001") in microseconds, exactly: float64
// would round the last digits. An empty ts is def.
func parseTS(ts string, def int64) (int64, error) {
	if ts == "" {
		return def, nil
	}
	secs, frac, _ := strings.Cut(ts, ".")
	if len(frac) > 6 {
		return 0, fmt.Errorf("ts %q has more than 6 decimals", ts)
	}
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read ts %q: %w", ts, err)
	}
	f, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read ts %q: %w", ts, err)
	}
	return s*1e6 + f, nil
}

// flag reads a boolean parameter, which clients send as "1" or "true".
func flag(form url.Values, name string) bool {
	return form.Get(name) == "1" || form.Get(name) == "true"
}

// limitOf reads the limit parameter: def when absent, at most max.
func limitOf(form url.Values, def, max int) (int, bool) {
	if !form.Has("limit") {
		return def, true
	}
	n, err := strconv.Atoi(form.Get("limit"))
	if err != nil || n < 0 {
		return 0, false
	}
	if n == 0 {
		return def, true
	}
	return min(n, max), true
}

// page cuts items to limit and returns the cursor of the rest, "" when none. Cursors name the
// first item of the next page, as Slack's opaque base64 cursors do.
func page[T any](items []T, limit int, prefix string, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	return items[:limit], base64.StdEncoding.EncodeToString([]byte(prefix + key(items[limit])))
}

func decodeCursor(prefix, cursor string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), prefix)
}
