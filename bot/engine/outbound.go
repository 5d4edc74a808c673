package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
	"casebot/templates"
)

// data is what templates see of a due effect.
func (e *Engine) data(d *pending) templates.Data {
	return templates.Data{
		Playbook: d.eff.Playbook, Step: d.eff.Step, StepTitle: d.title, Case: *d.c, Due: firstTime(d.at, d.eff.Due),
		Location: d.loc, NextStep: d.next.Title, NextDue: d.next.At, Now: d.now, Gate: d.gate,
	}
}

// post posts the claimed text to each channel of the effect: as a reply in the case's thread
// there when the chat keeps threads. Channels that already have the message, by the ledger or
// (after an interrupted attempt) by Slack's own answer, are not posted to again.
func (e *Engine) post(ctx context.Context, w *writer, d *pending) outcome {
	posted := parseResult(d.prev.Result)
	var firstErr error
	for _, ch := range d.cl.Channels {
		if _, ok := posted[ch]; ok {
			continue
		}
		ts, err := e.postTo(ctx, w, d, ch)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		posted[ch] = ts
	}
	return outcome{result: formatResult(posted), detail: "told " + strings.Join(d.cl.Channels, ", "), err: firstErr}
}

// postTo posts d's message to one channel, or finds the one an interrupted attempt posted.
func (e *Engine) postTo(ctx context.Context, w *writer, d *pending, ch string) (string, error) {
	find := func() (string, error) { return e.opts.Chat.Find(ctx, ch, d.eff.Key, d.since()) }
	send := func() (string, error) {
		return e.opts.Chat.Post(ctx, bot.Message{Channel: ch, Text: d.cl.Text, Key: d.eff.Key})
	}
	if th := w.threads; th != nil {
		root, err := th.root(ctx, d.c, ch)
		if err != nil {
			return "", err
		}
		find = func() (string, error) { return th.chat.FindReply(ctx, ch, root, d.eff.Key) }
		send = func() (string, error) {
			return th.chat.Reply(ctx, root, bot.Message{Channel: ch, Text: d.cl.Text, Key: d.eff.Key})
		}
	}
	if d.recovering() {
		ts, err := find()
		if err != nil {
			return "", fmt.Errorf("looking in %s for an earlier attempt: %w", ch, err)
		}
		if ts != "" {
			e.metrics.recovered.WithLabelValues(string(bot.KindSlack)).Inc()
			return ts, nil
		}
	}
	ts, err := send()
	if err != nil {
		return "", fmt.Errorf("posting to %s: %w", ch, err)
	}
	return ts, nil
}

// parseResult reads "channel=ts,channel=ts" as written by formatResult.
func parseResult(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func formatResult(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// mail sends the claimed mail and adds its EmailMessage to the batch, so Order Management
// sees on the case what casebot sent. The relay's acceptance is recorded at once: a crash
// between the two is the only way the same mail (with the same Message-ID) is sent twice,
// since mail cannot be asked whether it arrived. An earlier attempt whose mail was logged on
// the case (found by its MessageIdentifier) is confirmed instead.
func (e *Engine) mail(ctx context.Context, w *writer, after *batch, i int, d *pending, found map[string]string, findErr error, now time.Time) outcome {
	if e.opts.Mailer == nil {
		return outcome{err: &bot.Error{Op: "email " + d.eff.Key, Code: "NO_MAILER", Message: "no mailer configured"}}
	}
	cl := d.cl
	state := parseResult(d.prev.Result)
	from, sent := state["from"], state["sent"] == cl.MessageID
	detail := fmt.Sprintf("mailed %s", strings.Join(cl.To, ", "))
	if len(cl.Cc) > 0 {
		detail += fmt.Sprintf(" cc %s", strings.Join(cl.Cc, ", "))
	}
	detail += ": " + cl.Subject
	for _, f := range d.eff.Files {
		detail += " [" + f.Name + "]"
	}
	if d.recovering() {
		if findErr != nil {
			return outcome{err: findErr}
		}
		if id, ok := found[cl.MessageID]; ok {
			e.metrics.recovered.WithLabelValues(string(bot.KindEmail)).Inc()
			return outcome{result: formatResult(map[string]string{"from": from, "sent": cl.MessageID}) + "," + id,
				detail: detail + " (sent and logged by an interrupted attempt)"}
		}
	}
	if !sent {
		m := bot.Mail{To: cl.To, Cc: cl.Cc, Subject: cl.Subject, Text: cl.Text, MessageID: cl.MessageID, Key: d.eff.Key}
		if cl.InReplyTo != "" {
			m.InReplyTo, m.References = cl.InReplyTo, []string{cl.InReplyTo}
		}
		for _, f := range d.eff.Files {
			data, err := e.attachment(ctx, d.eff, f)
			if err != nil {
				return outcome{err: err}
			}
			m.Attachments = append(m.Attachments, bot.Attachment{Name: f.Name, ContentType: f.ContentType, Data: data})
		}
		var err error
		from, err = e.opts.Mailer.Send(ctx, m)
		if err != nil {
			return outcome{err: fmt.Errorf("sending mail: %w", err)}
		}
		res := formatResult(map[string]string{"from": from, "sent": cl.MessageID})
		// Written before any other request: a crash between the relay's answer and this write
		// is the only way the mail is sent again.
		if err := w.submit([]bot.LedgerEntry{d.entry(bot.StateClaimed, res, now)}, nil).wait(); err != nil {
			e.log.Error("the relay took a mail that the ledger could not record: a crash now sends it again",
				"key", d.eff.Key, "message_id", cl.MessageID, "err", err)
		}
	}
	fromName, fromAddress := "", from
	if a, err := mail.ParseAddress(from); err == nil { // "casebot <casebot@example.com>"
		fromName, fromAddress = a.Name, a.Address
	}
	after.create(i, "EmailMessage", bot.Fields{
		"ParentId": d.c.ID, "FromAddress": fromAddress, "FromName": fromName, "ToAddress": strings.Join(cl.To, "; "),
		"CcAddress": strings.Join(cl.Cc, "; "), "Subject": cl.Subject, "TextBody": cl.Text,
		"MessageIdentifier": cl.MessageID, "Status": "3", "Incoming": false,
		"MessageDate": d.now.UTC().Format(bot.DateTimeLayout), // when it was sent, not when it was due
	})
	return outcome{result: formatResult(map[string]string{"from": from, "sent": cl.MessageID}), detail: detail}
}

// attachment returns the bytes of a file a mail carries: the version of a file on the case
// its claim chose, or a file shipped beside the playbook.
func (e *Engine) attachment(ctx context.Context, eff bot.Effect, f bot.File) ([]byte, error) {
	if f.Version == "" {
		return e.shipped(eff, f)
	}
	data, err := e.opts.CRM.FileData(ctx, f.Version)
	if err != nil {
		return nil, fmt.Errorf("reading %s from the case: %w", f.Name, err)
	}
	// A version's bytes never change: fewer or more are not what was decided.
	if int64(len(data)) != f.Size {
		return nil, &bot.Error{Op: "read file " + f.Version, Code: "FILE_SIZE",
			Message: fmt.Sprintf("%s: read %d bytes, the claimed version has %d", f.Name, len(data), f.Size)}
	}
	return data, nil
}

// addresses are the mail addresses of roles on a case: the configured ones and those in the
// role's field (several may be separated by ";" or ",").
func (e *Engine) addresses(key string, roles []string, c *bot.Case) ([]string, error) {
	var out []string
	for _, role := range roles {
		r := e.opts.Roles[role]
		found := r.Emails
		if r.Field != "" {
			v, _ := fieldValue(c, r.Field).(string)
			for _, a := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
				if a = strings.TrimSpace(a); a != "" {
					found = append(found, a)
				}
			}
		}
		if len(found) == 0 {
			msg := fmt.Sprintf("role %q has no email addresses configured", role)
			if r.Field != "" {
				msg = fmt.Sprintf("role %q: %s is empty on the case", role, r.Field)
			}
			return nil, &bot.Error{Op: "email " + key, Code: "UNKNOWN_ROLE", Message: msg}
		}
		out = appendNew(out, found...)
	}
	return out, nil
}

func appendNew(list []string, items ...string) []string {
	for _, s := range items {
		if s != "" && !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// call performs the effect's HTTP call and adds the response values it stores to the batch.
// A retry calls again with the same Idempotency-Key, which the endpoint deduplicates.
func (e *Engine) call(ctx context.Context, after *batch, i int, d *pending) outcome {
	c := d.eff.HTTP
	if e.opts.Caller == nil || c == nil {
		return outcome{err: &bot.Error{Op: "http " + d.eff.Key, Code: "NO_CALLER", Message: "no endpoints configured"}}
	}
	resp, err := e.opts.Caller.Call(ctx, d.eff.Key, *c)
	if err != nil {
		return outcome{err: fmt.Errorf("calling %s: %w", c.Endpoint, err)}
	}
	fields := bot.Fields{}
	for field, path := range c.Store {
		v, ok := lookupPath(resp, path)
		if !ok {
			return outcome{err: &bot.Error{Op: "http " + d.eff.Key, Code: "BAD_RESPONSE",
				Message: fmt.Sprintf("%s %s%s answered without %q", c.Method, c.Endpoint, c.Path, path)}}
		}
		fields[strings.TrimPrefix(field, "Case.")] = v
	}
	detail := fmt.Sprintf("%s %s%s", c.Method, c.Endpoint, c.Path)
	if len(fields) > 0 {
		after.update(i, "Case", d.c.ID, fields)
		detail += "; stored " + describeFields("Case", fields)
	}
	return outcome{detail: detail}
}

// lookupPath finds a dot path ("tenant.guids", "items.0.id") in a decoded JSON object. Lists
// and objects are stored as text: lists of scalars joined with ", ", anything else as JSON.
func lookupPath(v map[string]any, path string) (any, bool) {
	var cur any = v
	for _, part := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			var ok bool
			if cur, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	switch x := cur.(type) {
	case []any:
		parts := make([]string, 0, len(x))
		for _, item := range x {
			switch item.(type) {
			case string, float64, bool:
				parts = append(parts, fmt.Sprint(item))
			default:
				b, _ := json.Marshal(x)
				return string(b), true
			}
		}
		return strings.Join(parts, ", "), true
	case map[string]any:
		b, _ := json.Marshal(x)
		return string(b), true
	}
	return cur, true
}

var (
	userID  = regexp.MustCompile(`^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$`)
	queueID = regexp.MustCompile(`^00G[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$`)
)

// missTTL is how long a name the CRM did not know is not asked again: a user or queue created
// meanwhile is found after at most this long.
const missTTL = 10 * time.Minute

// resolver turns names (usernames, queue names) into Salesforce ids, asking the CRM only for
// names it has not resolved before, nor found unknown in the last missTTL (on the engine's
// clock), so an idle cycle, or one retrying effects whose owner does not exist, costs no
// call. Ids pass through.
type resolver struct {
	what    string
	lookup  func(ctx context.Context, names []string) (map[string]string, error)
	isID    func(string) bool
	known   map[string]string
	missing map[string]time.Time // names the CRM did not know, and when it said so
}

// resolve returns the ids of the names known so far, asking the CRM, in one call, for those
// it has to. Unknown names are absent.
func (r *resolver) resolve(ctx context.Context, now time.Time, names []string) (map[string]string, error) {
	if r.known == nil {
		r.known, r.missing = map[string]string{}, map[string]time.Time{}
	}
	var ask []string
	for _, n := range names {
		if _, ok := r.known[n]; ok {
			continue
		}
		if r.isID(n) {
			r.known[n] = n
			continue
		}
		if at, ok := r.missing[n]; ok && now.Sub(at) < missTTL {
			continue
		}
		ask = appendNew(ask, n)
	}
	if len(ask) > 0 {
		got, err := r.lookup(ctx, ask)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", r.what, err)
		}
		for _, n := range ask {
			if id, ok := got[n]; ok {
				r.known[n] = id
				delete(r.missing, n)
			} else {
				r.missing[n] = now
			}
		}
	}
	return r.known, nil
}

// firstTime returns a, or b when a is zero.
func firstTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
