// Package imap reads casebot's inbound mailbox over IMAP: it implements bot.Mailbox on
// go-imap v2 with one connection, opened on the first call and again on the call after it
// dropped.
package imap

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"casebot/bot"
)

// Defaults of Options.
const (
	DefaultPollInterval = time.Minute
	DefaultMaxSize      = 25 << 20
	DefaultTimeout      = time.Minute
)

// codeNetwork is the code of errors of the connection: refused, reset, closed, unreadable.
const codeNetwork = "network"

// Reconnecting waits between failed attempts from minBackoff, doubling up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// Options configure New.
type Options struct {
	Addr string // host:port
	// TLS is "tls" (TLS from the first byte, IMAPS; also when empty), "starttls" (a plain
	// connection upgraded with STARTTLS, which is required) or "none" (only to a loopback host).
	TLS      string
	Username string
	Password string

	TLSConfig *tls.Config // nil means the system roots; tests pass their own CA

	// PollInterval is how long Wait waits when the server has no IDLE; 0 means 1m.
	PollInterval time.Duration
	// MaxSize is the largest message Fetch reads; larger ones come with Raw nil. 0 means 25 MiB.
	MaxSize int64
	// Timeout bounds connecting (through the login) and each IMAP command but IDLE; 0 means 1m.
	Timeout time.Duration
	// DialContext opens the TCP connection; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	Logger *slog.Logger // nil discards
}

// New returns a Mailbox reading from opts.Addr. It does not connect: the first call does. It
// refuses a configuration that would send the password in clear text over the network.
func New(opts Options) (*Client, error) {
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("imap: address %q: %w", opts.Addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("imap: address %q: port out of range", opts.Addr)
	}
	mode := cmp.Or(opts.TLS, "tls")
	switch mode {
	case "tls", "starttls":
	case "none":
		if !bot.IsLoopback(host) {
			return nil, fmt.Errorf(`imap: tls "none" is allowed only to a loopback host, not %q`, host)
		}
	default:
		return nil, fmt.Errorf(`imap: unknown tls mode %q (want "tls", "starttls" or "none")`, opts.TLS)
	}
	if opts.Username == "" {
		return nil, errors.New("imap: a username is required")
	}

	cfg := &tls.Config{}
	if opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	c := &Client{
		addr: opts.Addr, mode: mode, username: opts.Username, password: opts.Password,
		tlsConfig: cfg,
		poll:      cmp.Or(max(opts.PollInterval, 0), DefaultPollInterval),
		maxSize:   cmp.Or(max(opts.MaxSize, 0), DefaultMaxSize),
		timeout:   cmp.Or(max(opts.Timeout, 0), DefaultTimeout),
		dial:      opts.DialContext,
		logger:    opts.Logger,
		seen:      map[string]bot.MailboxPosition{},
	}
	if c.dial == nil {
		c.dial = (&net.Dialer{}).DialContext
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Client is a bot.Mailbox over one IMAP connection. Like the interface, it is for one
// goroutine at a time.
type Client struct {
	addr      string
	mode      string
	username  string
	password  string
	tlsConfig *tls.Config
	poll      time.Duration
	maxSize   int64
	timeout   time.Duration
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	logger    *slog.Logger

	conn     *conn     // nil until connected, and after the connection failed
	failures int       // connection attempts that failed in a row
	retryAt  time.Time // no connection attempt before then

	// seen is where the caller stands in each folder after its last Fetch, so that Wait can
	// tell whether mail arrived before it started to IDLE.
	seen map[string]bot.MailboxPosition

	idling func() // called once IDLE runs; tests use it to deliver mail only then
}

var _ bot.Mailbox = (*Client)(nil)

// conn is one logged-in connection.
type conn struct {
	c    *imapclient.Client
	caps goimap.CapSet
	// exists receives a value when the server reports the selected folder's message count
	// (EXISTS) outside of a SELECT: new mail, or the count after a MOVE.
	exists chan struct{}
}

// Fetch returns the messages of folder above after.UID (all of them when the folder's
// UIDVALIDITY is not after.UIDValidity), oldest first, at most limit, read with BODY.PEEK[]
// so that they stay unseen.
func (c *Client) Fetch(ctx context.Context, folder string, after bot.MailboxPosition, limit int) ([]bot.InboundMessage, uint32, error) {
	kept := c.conn != nil
	msgs, validity, err := c.fetchAfter(ctx, folder, after, limit)
	var e *bot.Error
	if kept && errors.As(err, &e) && e.Code == codeNetwork {
		// The server dropped the kept connection during the call (a kick that SELECT
		// outran): reading changes nothing, so it is read again on a new connection.
		c.logger.DebugContext(ctx, "imap connection lost during a fetch, reconnecting", "addr", c.addr, "err", err)
		return c.fetchAfter(ctx, folder, after, limit)
	}
	return msgs, validity, err
}

// fetchAfter is Fetch on the connection at hand.
func (c *Client) fetchAfter(ctx context.Context, folder string, after bot.MailboxPosition, limit int) ([]bot.InboundMessage, uint32, error) {
	op := "fetch mail from " + folder
	cn, validity, err := c.open(ctx, op, folder)
	if err != nil {
		return nil, 0, err
	}
	from := after.UID
	if validity != after.UIDValidity {
		from = 0 // renumbered: every message is new
	}
	pos := bot.MailboxPosition{UIDValidity: validity, UID: from}
	if limit <= 0 || from == ^uint32(0) {
		c.seen[folder] = pos
		return nil, validity, nil
	}

	uids, err := c.above(ctx, cn, op, from)
	if err != nil {
		return nil, 0, err
	}
	if len(uids) > limit {
		uids = uids[:limit]
	}
	var msgs []bot.InboundMessage
	if len(uids) > 0 {
		if msgs, err = c.fetch(ctx, cn, op, folder, validity, uids); err != nil {
			return nil, 0, err
		}
	}
	if len(msgs) > 0 {
		pos.UID = msgs[len(msgs)-1].UID
	}
	c.seen[folder] = pos
	return msgs, validity, nil
}

// above returns the UIDs of the selected folder above uid, in ascending order.
func (c *Client) above(ctx context.Context, cn *conn, op string, uid uint32) ([]goimap.UID, error) {
	var found []goimap.UID
	err := c.do(ctx, op, func() error {
		criteria := &goimap.SearchCriteria{UID: []goimap.UIDSet{{{Start: goimap.UID(uid + 1), Stop: 0}}}}
		data, err := cn.c.UIDSearch(criteria, nil).Wait()
		if err != nil {
			return err
		}
		found = data.AllUIDs()
		return nil
	})
	if err != nil {
		return nil, err
	}
	// "n:*" always includes the highest UID, even below n.
	found = slices.DeleteFunc(found, func(u goimap.UID) bool { return uint32(u) <= uid })
	slices.Sort(found)
	return found, nil
}

// fetch reads the sizes of the messages uids, then each message not above the size cap,
// one command each, so that the timeout bounds one message's transfer. A message expunged
// in the meantime is left out.
func (c *Client) fetch(ctx context.Context, cn *conn, op, folder string, validity uint32, uids []goimap.UID) ([]bot.InboundMessage, error) {
	sizes := map[goimap.UID]int64{}
	err := c.do(ctx, op, func() error {
		bufs, err := cn.c.Fetch(goimap.UIDSetNum(uids...), &goimap.FetchOptions{UID: true, RFC822Size: true}).Collect()
		for _, b := range bufs {
			sizes[b.UID] = b.RFC822Size
		}
		return err
	})
	if err != nil {
		return nil, err
	}

	body := &goimap.FetchItemBodySection{Peek: true}
	var msgs []bot.InboundMessage
	for _, uid := range uids {
		size, ok := sizes[uid]
		if !ok {
			continue
		}
		m := bot.InboundMessage{Mailbox: folder, UIDValidity: validity, UID: uint32(uid), Size: size}
		if size <= c.maxSize {
			var bufs []*imapclient.FetchMessageBuffer
			err := c.do(ctx, op, func() error {
				var err error
				bufs, err = cn.c.Fetch(goimap.UIDSetNum(uid), &goimap.FetchOptions{UID: true, BodySection: []*goimap.FetchItemBodySection{body}}).Collect()
				return err
			})
			if err != nil {
				return nil, err
			}
			i := slices.IndexFunc(bufs, func(b *imapclient.FetchMessageBuffer) bool { return b.UID == uid })
			if i < 0 {
				continue
			}
			// Raw nil means "too large to read": a body the server left out is an error.
			if m.Raw = bufs[i].FindBodySection(body); m.Raw == nil {
				return nil, &bot.Error{Op: op, Code: "no_body", Retryable: true,
					Message: fmt.Sprintf("the server sent message %d without its body", uid)}
			}
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// Wait returns when folder may have new mail: at once when it has mail above where the last
// Fetch left the caller, else when the server reports new mail in IDLE, or after the poll
// interval when the server has no IDLE.
func (c *Client) Wait(ctx context.Context, folder string) error {
	op := "wait for mail in " + folder
	cn, validity, err := c.open(ctx, op, folder)
	if err != nil {
		return err
	}
	// Counts reported before now were seen by the Fetch or Move that caused them; the check
	// below covers mail that arrived since the last Fetch, which IDLE would not report again.
	select {
	case <-cn.exists:
	default:
	}
	if pos, ok := c.seen[folder]; ok {
		if pos.UIDValidity != validity {
			return nil
		}
		newer, err := c.above(ctx, cn, op, pos.UID)
		if err != nil || len(newer) > 0 {
			return err
		}
	}

	if !cn.caps.Has(goimap.CapIdle) {
		t := time.NewTimer(c.poll)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case <-t.C:
			return nil
		}
	}

	var idle *imapclient.IdleCommand
	if err := c.do(ctx, op, func() (err error) { idle, err = cn.c.Idle(); return err }); err != nil {
		return err
	}
	if c.idling != nil {
		c.idling()
	}
	var result error
	select {
	case <-cn.exists:
	case <-ctx.Done():
		result = fmt.Errorf("%s: %w", op, ctx.Err())
	case <-cn.c.Closed():
		c.drop()
		return &bot.Error{Op: op, Code: codeNetwork, Message: "the server closed the connection", Retryable: true}
	}
	// Ending IDLE cleanly keeps the connection for the next call, also when ctx is done.
	err = c.do(context.WithoutCancel(ctx), op, func() error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
	if result != nil {
		return result
	}
	return err
}

// Move moves the messages uids of folder to the folder to, creating it when missing, with one
// MOVE of them all, or COPY, STORE \Deleted and UID EXPUNGE of those UIDs alone (UIDPLUS). A
// server with neither is refused: a plain EXPUNGE would also remove the messages someone else
// marked \Deleted.
func (c *Client) Move(ctx context.Context, folder string, uidValidity uint32, uids []uint32, to string) error {
	if len(uids) == 0 {
		return nil
	}
	want := make([]goimap.UID, len(uids))
	for i, u := range uids {
		want[i] = goimap.UID(u)
	}
	set := goimap.UIDSetNum(want...)
	op := fmt.Sprintf("move messages %s of %s to %s", set, folder, to)
	if to == folder {
		return &bot.Error{Op: op, Code: "same_folder", Message: "the messages are in that folder already"}
	}
	cn, validity, err := c.open(ctx, op, folder)
	if err != nil {
		return err
	}
	move := cn.caps.Has(goimap.CapMove)
	if !move && !cn.caps.Has(goimap.CapUIDPlus) {
		return &bot.Error{Op: op, Code: "unsupported", Message: "the server has neither MOVE nor UIDPLUS, so a message cannot be moved without touching others"}
	}
	if validity != uidValidity {
		return &bot.Error{Op: op, Code: "uidvalidity", Retryable: true, Message: fmt.Sprintf(
			"the mailbox was renumbered (UIDVALIDITY %d, not %d): fetch its messages again", validity, uidValidity)}
	}

	attempt := func(set goimap.UIDSet) error {
		if move {
			_, err := cn.c.Move(set, to).Wait()
			return err
		}
		// A retry after a failure between COPY and EXPUNGE copies again: a duplicate in the
		// target is better than a message lost.
		if _, err := cn.c.Copy(set, to).Wait(); err != nil {
			return err
		}
		store := &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}
		if err := cn.c.Store(set, store, nil).Close(); err != nil {
			return err
		}
		return cn.c.UIDExpunge(set).Close()
	}
	return c.do(ctx, op, func() error {
		// Only the messages still in folder: the others were moved by an earlier attempt.
		// Asked first, as servers answer a MOVE or COPY of nothing differently, some with a
		// COPYUID of empty sets that go-imap cannot read.
		data, err := cn.c.UIDSearch(&goimap.SearchCriteria{UID: []goimap.UIDSet{set}}, nil).Wait()
		if err != nil {
			return err
		}
		left := slices.DeleteFunc(data.AllUIDs(), func(u goimap.UID) bool { return !slices.Contains(want, u) })
		if len(left) == 0 {
			return nil
		}
		there := goimap.UIDSetNum(left...)
		err = attempt(there)
		if code(err) != goimap.ResponseCodeTryCreate {
			return err
		}
		if err := cn.c.Create(to, nil).Wait(); err != nil && code(err) != goimap.ResponseCodeAlreadyExists {
			return err
		}
		// Subscribed, so that the people who review the folder see it in their mail client.
		_ = cn.c.Subscribe(to).Wait()
		return attempt(there)
	})
}

// Close logs out. A connection that is gone already is not an error.
func (c *Client) Close() error {
	cn := c.conn
	if cn == nil {
		return nil
	}
	c.conn = nil
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = cn.c.Close() })
	_ = cn.c.Logout().Wait()
	stop()
	_ = cn.c.Close()
	return nil
}

// open returns a connection with folder selected, and folder's UIDVALIDITY. A kept
// connection that turns out to have died while unused is replaced at once: SELECT changes
// nothing, so trying it again is safe.
func (c *Client) open(ctx context.Context, op, folder string) (*conn, uint32, error) {
	kept := c.conn
	cn, err := c.connection(ctx, op)
	if err != nil {
		return nil, 0, err
	}
	validity, err := c.selectFolder(ctx, cn, op, folder)
	var e *bot.Error
	if cn == kept && errors.As(err, &e) && e.Code == codeNetwork {
		c.logger.DebugContext(ctx, "imap connection lost, reconnecting", "addr", c.addr, "err", err)
		if cn, err = c.connection(ctx, op); err != nil {
			return nil, 0, err
		}
		validity, err = c.selectFolder(ctx, cn, op, folder)
	}
	return cn, validity, err
}

func (c *Client) selectFolder(ctx context.Context, cn *conn, op, folder string) (uint32, error) {
	var validity uint32
	err := c.do(ctx, op, func() error {
		data, err := cn.c.Select(folder, nil).Wait()
		if err != nil {
			return err
		}
		validity = data.UIDValidity
		return nil
	})
	return validity, err
}

// connection returns the open connection, or connects, waiting first for the backoff after
// failed attempts.
func (c *Client) connection(ctx context.Context, op string) (*conn, error) {
	if c.conn != nil {
		select {
		case <-c.conn.c.Closed():
			c.drop()
		default:
			return c.conn, nil
		}
	}
	if wait := time.Until(c.retryAt); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		case <-t.C:
		}
	}
	cn, err := c.connect(ctx, op)
	if err != nil {
		if ctx.Err() == nil { // a caller who gave up says nothing about the server
			c.failures++
			c.retryAt = time.Now().Add(backoff(c.failures))
		}
		return nil, err
	}
	c.failures, c.retryAt = 0, time.Time{}
	c.conn = cn
	c.logger.DebugContext(ctx, "imap connected", "addr", c.addr, "tls", c.mode,
		"idle", cn.caps.Has(goimap.CapIdle), "move", cn.caps.Has(goimap.CapMove), "uidplus", cn.caps.Has(goimap.CapUIDPlus))
	return cn, nil
}

// backoff is the wait after the failures-th failed connection attempt in a row: doubling
// from minBackoff up to maxBackoff, less a random part of up to half, so that clients that
// lost the server together do not come back together.
func backoff(failures int) time.Duration {
	d := maxBackoff
	if failures < 16 {
		d = min(minBackoff<<(failures-1), maxBackoff)
	}
	return d - rand.N(d/2+1)
}

// connect dials, sets up TLS, logs in and reads the capabilities, all within the timeout.
func (c *Client) connect(ctx context.Context, op string) (cn *conn, err error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	raw, err := c.dial(tctx, "tcp", c.addr)
	if err != nil {
		return nil, c.interrupted(ctx, tctx, op, c.classify(op, err))
	}
	// go-imap takes no context: closing the connection is what ends its calls.
	stop := context.AfterFunc(tctx, func() { _ = raw.Close() })
	defer func() {
		if !stop() || err != nil {
			_ = raw.Close()
			err = c.interrupted(ctx, tctx, op, err)
		}
	}()

	cn = &conn{exists: make(chan struct{}, 1)}
	opts := &imapclient.Options{
		TLSConfig: c.tlsConfig.Clone(),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine, which must not wait for the client.
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					select {
					case cn.exists <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	switch c.mode {
	case "tls":
		cfg := c.tlsConfig.Clone()
		if cfg.NextProtos == nil {
			cfg.NextProtos = []string{"imap"}
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(tctx); err != nil {
			return nil, c.classify(op, err)
		}
		cn.c = imapclient.New(tc, opts)
	case "starttls":
		// NewStartTLS fails when the server refuses STARTTLS: there is no going on without.
		if cn.c, err = imapclient.NewStartTLS(raw, opts); err != nil {
			var refused *goimap.Error
			if errors.As(err, &refused) {
				return nil, &bot.Error{Op: op, Code: "starttls", Message: "the server refused STARTTLS: " + c.redact(refused.Error())}
			}
			return nil, c.classify(op, err)
		}
	default:
		cn.c = imapclient.New(raw, opts)
	}
	if err := cn.c.WaitGreeting(); err != nil {
		// A greeting of BYE: the server is overloaded or shutting down.
		return nil, &bot.Error{Op: op, Code: "unavailable", Message: c.redact(err.Error()), Retryable: true}
	}
	if cn.c.State() == goimap.ConnStateNotAuthenticated {
		if err := cn.c.Login(c.username, c.password).Wait(); err != nil {
			return nil, c.loginError(op, err)
		}
	}
	if cn.caps = cn.c.Caps(); cn.caps == nil {
		return nil, &bot.Error{Op: op, Code: codeNetwork, Message: "the server did not list its capabilities", Retryable: true}
	}
	return cn, nil
}

// loginError classifies a failed LOGIN: refused credentials (or a login the server does not
// allow this way) need a person; a server that cannot check them now does not.
func (c *Client) loginError(op string, err error) error {
	var refused *goimap.Error
	if !errors.As(err, &refused) {
		return c.classify(op, err)
	}
	if transient(refused.Code) {
		return &bot.Error{Op: op, Code: string(refused.Code), Message: c.redact(refused.Error()), Retryable: true}
	}
	return &bot.Error{Op: op, Code: "auth_failed", Login: true, Message: fmt.Sprintf(
		"the server refused the login of user %q: %s", c.username, c.redact(refused.Error()))}
}

// interrupted returns the error of a call whose time ran out (tctx) or whose caller gave up
// (ctx), and err when neither happened.
func (c *Client) interrupted(ctx, tctx context.Context, op string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", op, ctx.Err())
	case tctx.Err() != nil:
		return &bot.Error{Op: op, Code: "timeout", Message: "no answer within " + c.timeout.String(), Retryable: true}
	}
	return err
}

// do runs f, which sends IMAP commands and waits for them, bounded by ctx and the timeout:
// when either ends first, the connection is closed, which ends f. Errors are classified; one
// that leaves the connection unusable drops it, for the next call to connect again.
func (c *Client) do(ctx context.Context, op string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err) // before the connection is closed for nothing
	}
	cn := c.conn
	if cn == nil {
		return &bot.Error{Op: op, Code: codeNetwork, Message: "not connected", Retryable: true}
	}
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stop := context.AfterFunc(tctx, func() { _ = cn.c.Close() })
	err := f()
	if !stop() {
		c.drop()
		if err == nil {
			return nil // done just as the time ran out
		}
		return c.interrupted(ctx, tctx, op, err)
	}
	if err == nil {
		return nil
	}
	var refused *goimap.Error
	if !errors.As(err, &refused) {
		c.drop()
	}
	return c.classify(op, err)
}

// drop closes and forgets the connection.
func (c *Client) drop() {
	if c.conn != nil {
		_ = c.conn.c.Close()
		c.conn = nil
	}
}

// classify turns an error of a command into a *bot.Error that says whether to try again.
// Errors other than the server's answers are the connection's: go-imap ends every pending
// command with one when the connection breaks.
func (c *Client) classify(op string, err error) error {
	var (
		refused *goimap.Error
		verify  *tls.CertificateVerificationError
		record  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &refused):
		code := string(refused.Code)
		if code == "" {
			code = "imap_" + string(refused.Type)
		}
		return &bot.Error{Op: op, Code: code, Message: c.redact(refused.Text),
			Retryable: refused.Type == goimap.StatusResponseTypeNo && transient(refused.Code)}
	case errors.As(err, &verify):
		return &bot.Error{Op: op, Code: "tls", Message: "the server's certificate is not trusted: " + c.redact(err.Error())}
	case errors.As(err, &record):
		return &bot.Error{Op: op, Code: "tls", Message: "the server does not speak TLS on this port: " + c.redact(err.Error())}
	default:
		return &bot.Error{Op: op, Code: codeNetwork, Message: c.redact(err.Error()), Retryable: true}
	}
}

// transient reports whether a NO with this response code may pass: the server or the
// mailbox is busy or briefly unavailable, or over quota until someone cleans up.
func transient(code goimap.ResponseCode) bool {
	switch code {
	case goimap.ResponseCodeUnavailable, goimap.ResponseCodeInUse, goimap.ResponseCodeServerBug,
		goimap.ResponseCodeLimit, goimap.ResponseCodeOverQuota:
		return true
	}
	return false
}

// code is the IMAP response code of err, "" when it has none.
func code(err error) goimap.ResponseCode {
	var refused *goimap.Error
	if errors.As(err, &refused) {
		return refused.Code
	}
	return ""
}

func (c *Client) redact(s string) string {
	if c.password == "" {
		return s
	}
	return strings.ReplaceAll(s, c.password, "<secret>")
}
