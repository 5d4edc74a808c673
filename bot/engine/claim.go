package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"casebot/bot"
	"casebot/rules"
)

// claim is an action as decided and rendered when its step came due: the ledger keeps it as
// the entry's Payload before anything is performed, so every attempt performs the same effect
// with the same bytes (a comment retried a minute later still shows the first minute), and a
// step once decided is never decided again.
type claim struct {
	Effect    bot.Effect `json:"-"`                    // its key, playbook, step, action and case come from the key
	Subject   string     `json:"subject,omitempty"`    // email
	Text      string     `json:"text,omitempty"`       // slack, email and comment bodies
	To        []string   `json:"to,omitempty"`         // email
	Cc        []string   `json:"cc,omitempty"`         // email
	Channels  []string   `json:"channels,omitempty"`   // slack
	MessageID string     `json:"message_id,omitempty"` // email
	// InReplyTo is, for an email that threads, the Message-ID of the first mail the case
	// received when it was decided: a retry answers that one, whatever came since.
	InReplyTo string `json:"in_reply_to,omitempty"`
	// Data is, for an attach of a rendered file, its content as rendered at claim time.
	Data string `json:"data,omitempty"`

	// What the effect does, as decided: a claim is written for every effect of a busy cycle,
	// so it leaves out what is empty and what its key says.
	Due       time.Time      `json:"due"`
	Kind      bot.EffectKind `json:"kind"`
	Object    string         `json:"object,omitempty"`
	RecordID  string         `json:"record,omitempty"`
	Fields    bot.Fields     `json:"fields,omitempty"`
	Tasks     []bot.TaskSpec `json:"tasks,omitempty"`
	Roles     []string       `json:"roles,omitempty"`
	Template  string         `json:"template,omitempty"`
	CcRoles   []string       `json:"cc_roles,omitempty"`
	Addresses []string       `json:"addresses,omitempty"`
	Public    bool           `json:"public,omitempty"`
	Files     []bot.File     `json:"files,omitempty"` // shipped ones by path and content hash, the case's by version
	Problem   string         `json:"problem,omitempty"`
	HTTP      *bot.HTTPCall  `json:"http,omitempty"`
}

// encode is the claim as the ledger keeps it.
func (cl *claim) encode() ([]byte, error) {
	e := cl.Effect
	cl.Due, cl.Kind, cl.Object, cl.RecordID, cl.Fields, cl.Tasks = e.Due, e.Kind, e.Object, e.RecordID, e.Fields, e.Tasks
	cl.Roles, cl.Template, cl.CcRoles, cl.Addresses, cl.Public, cl.Problem, cl.HTTP = e.Roles, e.Template, e.Cc, e.Addresses, e.Public, e.Problem, e.HTTP
	cl.Files = e.Files
	return json.Marshal(cl)
}

// decodeClaim reads the claim of the effect of eff's key (eff is what the playbook says now;
// the claim says what was decided).
func decodeClaim(payload string, eff bot.Effect) (*claim, error) {
	var cl claim
	if err := json.Unmarshal([]byte(payload), &cl); err != nil {
		return nil, err
	}
	cl.Effect = bot.Effect{Key: eff.Key, Playbook: eff.Playbook, Step: eff.Step, Action: eff.Action, CaseID: eff.CaseID,
		Due: cl.Due, Kind: cl.Kind, Object: cl.Object, RecordID: cl.RecordID, Fields: cl.Fields, Tasks: cl.Tasks,
		Roles: cl.Roles, Template: cl.Template, Cc: cl.CcRoles, Addresses: cl.Addresses, Public: cl.Public,
		Files: cl.Files, Problem: cl.Problem, HTTP: cl.HTTP}
	return &cl, nil
}

// claims gives every due effect its claim: the one in the ledger (read in one call for the
// effects that have an entry), or, for an effect that has none yet, a new one rendered now and
// returned as an entry to write before anything is done.
// An effect that cannot be rendered fails for good: it is returned as a failed entry and left
// out of the effects to perform.
func (e *Engine) claims(ctx context.Context, due []*pending, now time.Time, rep *Report) (ready []*pending, entries []bot.LedgerEntry, events []Event, err error) {
	var keys []string
	for _, d := range due {
		if d.prev.State != "" {
			keys = append(keys, d.eff.Key)
		}
	}
	var payloads map[string]string
	if len(keys) > 0 {
		if payloads, err = e.opts.Store.Payloads(ctx, keys); err != nil {
			return nil, nil, nil, &LedgerError{Err: fmt.Errorf("reading %d claim(s): %w", len(keys), err)}
		}
	}
	files := caseLookup(ctx, due, payloads, "files on", func(eff bot.Effect) bool { return slices.ContainsFunc(eff.Files, isCaseFile) },
		e.opts.CRM.CaseFiles)
	mails := caseLookup(ctx, due, payloads, "mails received on", func(eff bot.Effect) bool { return eff.Kind == bot.KindEmail && eff.Thread },
		e.opts.CRM.CaseMails)
	// Rendering is most of the work of a busy pass, and each effect's is its own: on every
	// processor, in the order of due.
	type rendered struct {
		cl      claim
		payload []byte
		err     error
	}
	fresh := make([]rendered, len(due))
	parallel(len(due), func(_, lo, hi int) {
		for i, d := range due[lo:hi] {
			if _, ok := payloads[d.eff.Key]; ok {
				continue
			}
			r := &fresh[lo+i]
			if r.cl, r.err = e.render(d, files, mails); r.err != nil {
				continue
			}
			if r.payload, r.err = r.cl.encode(); r.err != nil {
				r.err = fmt.Errorf("encode claim: %w", r.err)
			}
		}
	})
	ready, entries = make([]*pending, 0, len(due)), make([]bot.LedgerEntry, 0, len(due))
	for i, d := range due {
		if payload, ok := payloads[d.eff.Key]; ok {
			cl, err := decodeClaim(payload, d.eff)
			if err != nil {
				ent, ev := e.failedEntry(d, &bot.Error{Op: "read claim " + d.eff.Key, Code: "BAD_CLAIM", Message: err.Error()}, now, rep)
				entries, events = append(entries, ent), append(events, ev)
				continue
			}
			d.cl, d.eff = cl, cl.Effect
			ready = append(ready, d)
			continue
		}
		r := &fresh[i]
		if r.err != nil {
			ent, ev := e.failedEntry(d, r.err, now, rep)
			entries, events = append(entries, ent), append(events, ev)
			continue
		}
		d.cl, d.eff, d.fresh = &r.cl, r.cl.Effect, true
		d.prev.Claimed = now
		ent := d.entry(bot.StateClaimed, "", now)
		ent.Payload = string(r.payload)
		entries = append(entries, ent)
		ready = append(ready, d)
	}
	return ready, entries, events, nil
}

// failedEntry is the entry and the event of an effect that failed with err.
func (e *Engine) failedEntry(d *pending, err error, now time.Time, rep *Report) (bot.LedgerEntry, Event) {
	entry := d.entry(bot.StateFailed, "", now)
	e.failure(&entry, err, now)
	rep.Failed++
	return entry, Event{At: now, Location: d.loc, Case: *d.c, Step: d.eff.Step, Title: d.title, Effect: d.eff,
		Outcome: Failed, Detail: entry.Detail}
}

// entry is the ledger entry of d in state with result. It carries no payload: the store keeps
// the claim's.
func (d *pending) entry(state bot.EntryState, result string, now time.Time) bot.LedgerEntry {
	attempts := d.prev.Attempts
	if state != bot.StateClaimed {
		attempts++
	}
	return bot.LedgerEntry{Key: d.eff.Key, CaseID: d.c.ID, Playbook: d.eff.Playbook, Step: d.eff.Step,
		State: state, Result: result, Attempts: attempts, At: now, Claimed: d.prev.Claimed}
}

// caseLookup reads, in one call of read, what the due effects to be claimed that need it (a
// mail that carries a file on the case, one that threads) need of their cases. The error, if
// any, is every such effect's.
func caseLookup[T any](ctx context.Context, due []*pending, payloads map[string]string, what string,
	needs func(bot.Effect) bool, read func(context.Context, []string) (map[string]T, error)) lookup[T] {
	var ids []string
	for _, d := range due {
		if _, claimed := payloads[d.eff.Key]; !claimed && needs(d.eff) {
			ids = appendNew(ids, d.c.ID)
		}
	}
	var l lookup[T]
	if len(ids) > 0 {
		if l.found, l.err = read(ctx, ids); l.err != nil {
			l.err = fmt.Errorf("reading the %s %d case(s): %w", what, len(ids), l.err)
		}
	}
	return l
}

func isCaseFile(f bot.File) bool { return f.CaseTitle != "" }

// chooseFiles gives each file on the case that a mail carries the version it sends: that of
// the newest file whose title matches. A file missing from the case fails the mail for good,
// until a person attaches it and retries the step.
func chooseFiles(d *pending, files lookup[[]bot.CaseFile]) ([]bot.File, error) {
	if !slices.ContainsFunc(d.eff.Files, isCaseFile) {
		return d.eff.Files, nil
	}
	if files.err != nil {
		return nil, files.err
	}
	out := slices.Clone(d.eff.Files)
	for i, f := range out {
		if !isCaseFile(f) {
			continue
		}
		j := slices.IndexFunc(files.found[d.c.ID], func(cf bot.CaseFile) bool { return rules.MatchTitle(f.CaseTitle, cf.Title) })
		if j < 0 {
			return nil, &bot.Error{Op: "email " + d.eff.Key, Code: "FILE_NOT_ON_CASE",
				Message: fmt.Sprintf("no file on the case has a title like %q: attach it to the case, then run `casebot retry %s %s`",
					f.CaseTitle, d.c.ID, d.eff.Step)}
		}
		cf := files.found[d.c.ID][j]
		out[i].Name, out[i].ContentType, out[i].Version, out[i].Size = cf.Name, rules.ContentType(cf.Name), cf.Version, cf.Size
	}
	return out, nil
}

// render renders what an effect sends and resolves whom to, and chooses the files on the case
// it sends: what its claim holds. A panic (a template's function, say) is an error of this
// effect alone.
func (e *Engine) render(d *pending, files lookup[[]bot.CaseFile], mails lookup[string]) (cl claim, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = e.panicked("render "+d.eff.Key, v)
		}
	}()
	cl = claim{Effect: d.eff}
	switch d.eff.Kind {
	case bot.KindSlack:
		text, err := e.opts.Templates.Render(d.eff.Template, e.data(d))
		if err != nil {
			return cl, &bot.Error{Op: "render " + d.eff.Template, Code: "TEMPLATE", Message: err.Error()}
		}
		cl.Text = text
		for _, role := range d.eff.Roles {
			r, ok := e.opts.Roles[role]
			if !ok || r.Channel == "" {
				return cl, &bot.Error{Op: "slack " + d.eff.Key, Code: "UNKNOWN_ROLE",
					Message: fmt.Sprintf("role %q has no Slack channel configured", role)}
			}
			cl.Channels = appendNew(cl.Channels, r.Channel)
		}
	case bot.KindEmail:
		subject, text, err := e.opts.Templates.RenderEmail(d.eff.Template, e.data(d))
		if err != nil {
			return cl, &bot.Error{Op: "render email " + d.eff.Template, Code: "TEMPLATE", Message: err.Error()}
		}
		to, err := e.addresses(d.eff.Key, d.eff.Roles, d.c)
		if err != nil {
			return cl, err
		}
		to = appendNew(to, d.eff.Addresses...)
		cc, err := e.addresses(d.eff.Key, d.eff.Cc, d.c)
		if err != nil {
			return cl, err
		}
		if len(to) == 0 {
			return cl, &bot.Error{Op: "email " + d.eff.Key, Code: "NO_RECIPIENT",
				Message: "no address to send to (the case fields it names are empty)"}
		}
		if cl.Effect.Files, err = chooseFiles(d, files); err != nil {
			return cl, err
		}
		if d.eff.Thread {
			if mails.err != nil {
				return cl, mails.err
			}
			cl.InReplyTo = mails.found[d.c.ID] // none received: the mail starts its own thread
		}
		cl.Subject, cl.Text, cl.To, cl.Cc = subject, text, to, cc
		cl.MessageID = bot.MessageID(d.eff.Key, e.opts.MessageIDDomain)
	case bot.KindComment:
		text, err := e.opts.Templates.RenderComment(d.eff.Template, e.data(d))
		if err != nil {
			return cl, &bot.Error{Op: "render comment " + d.eff.Template, Code: "TEMPLATE", Message: err.Error()}
		}
		cl.Text = withMarker(text, bot.CommentMarker(d.eff.Key))
	case bot.KindAttach:
		f := d.eff.Files[0]
		if f.Template == "" {
			break // a shipped file: its bytes are the playbook's, checked against the claimed hash
		}
		text, err := e.opts.Templates.RenderComment(f.Template, e.data(d))
		if err != nil {
			return cl, &bot.Error{Op: "render file " + f.Template, Code: "TEMPLATE", Message: err.Error()}
		}
		cl.Data = text + "\n"
	}
	return cl, nil
}

// maxComment is the longest CommentBody Salesforce takes.
const maxComment = 4000

// withMarker ends a comment with its marker on a line of its own, shortening the text so that
// the marker always fits.
func withMarker(text, marker string) string {
	tail := "\n\n[" + marker + "]"
	return bot.Truncate(strings.TrimRight(text, "\n"), maxComment-len(tail), "") + tail
}

// recovering reports whether an earlier attempt of d may have been performed without its
// outcome being recorded: it was claimed before this pass, or it failed in a way that may
// hide a success (a lost answer). The provider is asked before it is done again.
func (d *pending) recovering() bool {
	return !d.fresh && (d.prev.State == bot.StateClaimed || d.prev.State == bot.StateFailed)
}

// since is the earliest time an earlier attempt of d can have left a record.
func (d *pending) since() time.Time {
	if !d.prev.Claimed.IsZero() {
		return d.prev.Claimed
	}
	return d.prev.At
}

// find asks the CRM, in one call, which of the comments, files and logged mails of the
// phase's recovering effects an earlier attempt created. The error, if any, is every such
// effect's.
func (e *Engine) find(ctx context.Context, phase []*pending) (map[string]string, error) {
	q := bot.FindQuery{Comments: map[string][]string{}, Files: map[string][]string{}}
	for _, d := range phase {
		if !d.recovering() || d.cl == nil {
			continue
		}
		switch d.eff.Kind {
		case bot.KindComment:
			q.Comments[d.c.ID] = append(q.Comments[d.c.ID], bot.CommentMarker(d.eff.Key))
		case bot.KindAttach:
			q.Files[d.c.ID] = append(q.Files[d.c.ID], bot.CommentMarker(d.eff.Key))
		case bot.KindEmail:
			q.MessageIDs = append(q.MessageIDs, d.cl.MessageID)
		default:
			continue
		}
		if q.Since.IsZero() || d.since().Before(q.Since) {
			q.Since = d.since()
		}
	}
	if len(q.Comments) == 0 && len(q.Files) == 0 && len(q.MessageIDs) == 0 {
		return nil, nil
	}
	slices.Sort(q.MessageIDs)
	found, err := e.opts.CRM.Find(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("looking for what an earlier attempt created: %w", err)
	}
	return found, nil
}
