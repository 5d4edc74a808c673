package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"casebot/bot"
	"casebot/connectors/slack/slacksim"
)

// The kinds of effect compared, in the order of the report.
const (
	kindTask         = "Task"
	kindComment      = "CaseComment"
	kindEmailMessage = "EmailMessage"
	kindFile         = "ContentVersion"
	kindMail         = "mail (SMTP)"
	kindSlack        = "Slack post"
	kindThread       = "Slack thread"
	kindCall         = "endpoint call"
)

var kinds = []string{kindTask, kindComment, kindEmailMessage, kindFile, kindMail, kindSlack, kindThread, kindCall}

// sighting is one effect a run left where the harness can see it.
type sighting struct {
	id    string // the identity it carries: effect key, Message-ID, comment marker, Idempotency-Key
	alias string // what else tells it apart, to recognise one sent again under a new identity
	// resend marks a repetition the design allows: a mail sent again in the documented window
	// (the relay took it, casebot died before recording so), an endpoint called again with the
	// same Idempotency-Key.
	resend bool
}

// kill is a kill that happened.
type kill struct {
	point killPoint
	at    time.Time // the cycle's virtual time
	child int
}

// outcome is what a run left: the effects by kind, the final Case and Account records, and
// what the harness did to it.
type outcome struct {
	plan     plan
	effects  map[string][]sighting
	records  map[string]map[string]any // "Case 500…" → fields
	requests map[string]int            // the children's requests by kind
	faults   map[fault]int             // faults given, by kind
	// threadFaults are the ways the run's Slack messages are not one thread per case and
	// channel: a reply outside its case's thread, a root never edited in place.
	threadFaults []string
	kills        []kill
	history      *history
	elapsed      time.Duration
}

// ignoredFields change with every write, whenever it happens.
var ignoredFields = []string{"attributes", "LastModifiedDate", "LastModifiedById", "SystemModstamp"}

var markerRE = regexp.MustCompile(`\[(casebot ref [a-z2-7]+)\]\s*$`)

// collect reads what the run left once its timeline is over.
func (w *world) collect(h *history, pre map[string]bool) *outcome {
	t := w.t
	ctx := context.Background()
	o := &outcome{plan: w.plan, effects: map[string][]sighting{},
		records: map[string]map[string]any{}, history: h}
	query := func(soql string) []map[string]any {
		var out []map[string]any
		for _, r := range w.query(soql) {
			if id, _ := r["Id"].(string); !pre[id] {
				out = append(out, r)
			}
		}
		return out
	}
	str := func(r map[string]any, f string) string { s, _ := r[f].(string); return s }

	for _, r := range query("SELECT Id, Casebot_Key__c FROM Task WHERE Casebot_Key__c != null") {
		o.add(kindTask, sighting{id: str(r, "Casebot_Key__c")})
	}
	for _, r := range query("SELECT Id, ParentId, CommentBody FROM CaseComment") {
		body, parent := str(r, "CommentBody"), str(r, "ParentId")
		s := sighting{id: parent + " " + body, alias: parent + " " + markerRE.ReplaceAllString(body, "")}
		if m := markerRE.FindStringSubmatch(body); m != nil {
			s.id = m[1]
		}
		o.add(kindComment, s)
	}
	for _, r := range query("SELECT Id, FirstPublishLocationId, Title, Description FROM ContentVersion") {
		desc, parent := str(r, "Description"), str(r, "FirstPublishLocationId")
		s := sighting{id: parent + " " + str(r, "Title"), alias: parent + " " + str(r, "Title")}
		if m := markerRE.FindStringSubmatch(desc); m != nil {
			s.id = m[1]
		}
		o.add(kindFile, s)
	}
	for _, r := range query("SELECT Id, ParentId, MessageIdentifier, Subject FROM EmailMessage") {
		o.add(kindEmailMessage, sighting{id: str(r, "MessageIdentifier"), alias: str(r, "ParentId") + " " + str(r, "Subject")})
	}

	last := map[string]delivery{}
	for _, d := range w.relay.deliveries() {
		s := sighting{id: d.messageID, alias: strings.Join(d.to, ",") + " " + d.subject}
		if prev, ok := last[d.messageID]; ok {
			s.resend = w.inWindow(prev)
		}
		last[d.messageID] = d
		o.add(kindMail, s)
	}
	msgs := w.slack.All()
	roots := map[string]slacksim.Message{} // by ts
	for _, m := range msgs {
		if m.CaseID != "" {
			roots[m.TS] = m
			o.add(kindThread, sighting{id: w.channels[m.Channel] + " " + m.CaseID})
		}
	}
	for _, m := range msgs {
		if m.CaseID != "" {
			if m.Edits == 0 {
				o.threadFaults = append(o.threadFaults, fmt.Sprintf("the root of case %s in %s was never edited", m.CaseID, w.channels[m.Channel]))
			}
			continue
		}
		key := m.Key
		if key == "" {
			key = "(no key) " + m.Text
		}
		ch := w.channels[m.Channel]
		o.add(kindSlack, sighting{id: ch + " " + key, alias: ch + " " + m.Text})
		if r, ok := roots[m.ThreadTS]; m.Key != "" && (!ok || r.CaseID != bot.CaseOfKey(m.Key) || r.Channel != m.Channel) {
			o.threadFaults = append(o.threadFaults, fmt.Sprintf("%s %s is not in its case's thread (thread_ts %q)", ch, m.Key, m.ThreadTS))
		}
	}
	called := map[string]bool{}
	for _, c := range w.calls.all() {
		s := sighting{id: c.key, alias: c.method + " " + c.path}
		if c.key == "" {
			s.id = "(no key) " + s.alias
		}
		s.resend = c.key != "" && called[c.key]
		called[c.key] = true
		o.add(kindCall, s)
	}

	for _, object := range []string{"Case", "Account"} {
		for _, r := range query("SELECT Id FROM " + object) {
			fields, err := w.client.Get(ctx, object, str(r, "Id"))
			if err != nil {
				t.Fatalf("%s: reading %s %s: %v", w.plan.name, object, str(r, "Id"), err)
			}
			for _, f := range ignoredFields {
				delete(fields, f)
			}
			o.records[object+" "+str(r, "Id")] = fields
		}
	}

	o.requests, o.faults = w.trap.stats()
	o.kills = h.kills
	return o
}

// inWindow reports whether a mail sent again after d was sent in the window the design
// allows: the relay accepted d, and the casebot that sent it died (or was frozen past its
// lease) before recording so. It recorded so at once (before any other request) if it lived
// on: so it must have been halted with d's DATA as its last request.
func (w *world) inWindow(d delivery) bool {
	if d.child == nil {
		return false
	}
	w.trap.mu.Lock()
	defer w.trap.mu.Unlock()
	return d.child.halted() && d.child.lastSeq == d.seq
}

// existing returns the ids of the records the seed made, which are no effect of casebot.
func (w *world) existing() map[string]bool {
	ids := map[string]bool{}
	for _, object := range []string{"Task", "CaseComment", "EmailMessage", "ContentVersion"} {
		for _, r := range w.query("SELECT Id FROM " + object) {
			ids[r["Id"].(string)] = true
		}
	}
	return ids
}

// query reads records from the sandbox.
func (w *world) query(soql string) []map[string]any {
	var out []map[string]any
	err := w.client.Query(context.Background(), soql, func(recs []json.RawMessage) error {
		for _, raw := range recs {
			var r map[string]any
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		w.t.Fatalf("%s: reading the sandbox: %v", w.plan.name, err)
	}
	return out
}

func (o *outcome) add(kind string, s sighting) { o.effects[kind] = append(o.effects[kind], s) }

// tally is how a run's effects of one kind compare with the reference's.
type tally struct {
	expected, performed, duplicated, missing, unexpected, resent int
	examples                                                     []string // a few of the problems, for the report
}

func (tl tally) bad() bool { return tl.duplicated+tl.missing+tl.unexpected > 0 }

// compare tallies got against want, the reference's effects of the same kind. An effect seen
// again under its identity is a duplicate, unless the design allows the repetition; one with
// an identity the reference does not have is a duplicate when it repeats a reference effect
// under a new identity (a mail with a new Message-ID), and unexpected otherwise.
func compare(want, got []sighting) tally {
	var tl tally
	expected, aliases := map[string]bool{}, map[string]bool{}
	for _, s := range want {
		expected[s.id] = true
		aliases[s.alias] = true
	}
	tl.expected = len(expected)
	tl.performed = len(got)
	seen := map[string]int{}
	note := func(what, id string) {
		if len(tl.examples) < 3 {
			tl.examples = append(tl.examples, what+" "+id)
		}
	}
	for _, s := range got {
		switch {
		case s.resend:
			tl.resent++
		case expected[s.id]:
			if seen[s.id]++; seen[s.id] > 1 {
				tl.duplicated++
				note("duplicated", s.id)
			}
		case s.alias != "" && aliases[s.alias]:
			tl.duplicated++
			note("duplicated under a new identity", s.id)
		default:
			tl.unexpected++
			note("unexpected", s.id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(expected)) {
		if seen[id] == 0 {
			tl.missing++
			note("missing", id)
		}
	}
	return tl
}

// diffRecords lists the fields of the final Case and Account records that differ from the
// reference's. A datetime may lag the reference's by up to lag.
func diffRecords(want, got map[string]map[string]any, lag time.Duration) []string {
	var diffs []string
	for _, rec := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[rec]
		if !ok {
			diffs = append(diffs, rec+": missing")
			continue
		}
		w := want[rec]
		fields := map[string]bool{}
		for f := range w {
			fields[f] = true
		}
		for f := range g {
			fields[f] = true
		}
		for _, f := range slices.Sorted(maps.Keys(fields)) {
			if !reflect.DeepEqual(w[f], g[f]) && !lags(w[f], g[f], lag) {
				diffs = append(diffs, fmt.Sprintf("%s %s: %v, want %v", rec, f, g[f], w[f]))
			}
		}
	}
	for _, rec := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[rec]; !ok {
			diffs = append(diffs, rec+": not in the reference")
		}
	}
	return diffs
}

// lags reports whether got is a datetime at most lag after want.
func lags(want, got any, lag time.Duration) bool {
	ws, ok := want.(string)
	gs, ok2 := got.(string)
	if !ok || !ok2 {
		return false
	}
	wt, err := time.Parse(bot.DateTimeLayout, ws)
	gt, err2 := time.Parse(bot.DateTimeLayout, gs)
	d := gt.Sub(wt)
	return err == nil && err2 == nil && d >= 0 && d <= lag
}

// judgement is a run's comparison with the reference.
type judgement struct {
	tallies map[string]tally
	diffs   []string
}

func (j judgement) bad() bool {
	for _, tl := range j.tallies {
		if tl.bad() {
			return true
		}
	}
	return len(j.diffs) > 0
}

func judge(ref, run *outcome) judgement {
	j := judgement{tallies: map[string]tally{}, diffs: diffRecords(ref.records, run.records, run.plan.lag)}
	for _, k := range kinds {
		j.tallies[k] = compare(ref.effects[k], run.effects[k])
	}
	return j
}

// report writes a run's table: per kind, expected, performed, duplicated, missing, unexpected
// and re-sent effects, then the field differences.
func report(b *strings.Builder, o *outcome, j judgement) {
	fmt.Fprintf(b, "\n%s (seed %d): %d cycles, %d children, %d failed, %v\n", o.plan.name, o.plan.seed, len(o.history.cycles),
		o.history.children, o.history.failures, o.elapsed.Round(100*time.Millisecond))
	var reqs []string
	for _, k := range slices.Sorted(maps.Keys(o.requests)) {
		reqs = append(reqs, fmt.Sprintf("%s %d", k, o.requests[k]))
	}
	fmt.Fprintf(b, "  requests: %s\n", strings.Join(reqs, ", "))
	if len(o.kills) > 0 {
		fmt.Fprintf(b, "  %d kills:", len(o.kills))
		for i, k := range o.kills {
			if i%3 == 0 {
				b.WriteString("\n   ")
			}
			fmt.Fprintf(b, " %s (%s, child %d);", k.point, k.at.UTC().Format("Jan 2 15:04"), k.child)
		}
		b.WriteString("\n")
	}
	if len(o.faults) > 0 {
		var fs []string
		for _, f := range slices.Sorted(maps.Keys(o.faults)) {
			fs = append(fs, fmt.Sprintf("%s ×%d", f, o.faults[f]))
		}
		fmt.Fprintf(b, "  faults: %s\n", strings.Join(fs, ", "))
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  kind\texpected\tperformed\tduplicated\tmissing\tunexpected\tre-sent\t")
	var examples []string
	for _, k := range kinds {
		tl := j.tallies[k]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", k, tl.expected, tl.performed, tl.duplicated, tl.missing, tl.unexpected, tl.resent)
		for _, e := range tl.examples {
			examples = append(examples, k+": "+e)
		}
	}
	tw.Flush()
	for _, e := range examples {
		fmt.Fprintf(b, "  · %s\n", e)
	}
	fmt.Fprintf(b, "  final Case and Account fields: %d difference(s)\n", len(j.diffs))
	for i, d := range j.diffs {
		if i == 5 {
			fmt.Fprintf(b, "  · … and %d more\n", len(j.diffs)-i)
			break
		}
		fmt.Fprintf(b, "  · %s\n", d)
	}
}
