package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
	"casebot/config"
	"casebot/rules"

	"github.com/robfig/cron/v3"
)

// A digest is one channel's morning summary of the open cases of the playbooks that post to
// it: which steps come due in the next business days, what waits on whom, and what failed
// for good. It is computed from the evaluation plan uses and says things with plan's labels.
// At 10,000 cases a channel must still read a summary: each day and section lists a few
// cases and counts the rest by step.

// digestCmd prints each channel's digest now, or posts it with -post.
func digestCmd(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("digest", std)
	rf := addReadFlags(fs, "summarise")
	channel := fs.String("channel", "", "only this channel's digest (#legal or a channel id)")
	post := fs.Bool("post", false, "post the digests to Slack, each once a day, instead of printing them")
	fs.Usage = func() {
		fmt.Fprintln(std.Err, "usage: casebot digest [-config FILE] [-at TIME] [-channel C] [-post]")
		fmt.Fprintln(std.Err, "Shows each channel's digest: what comes due in the coming business days, what waits on whom, what failed.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	src, now, err := rf.open(ctx, std, w)
	if err != nil {
		return err
	}
	defer src.Close()
	opts, err := newDigestOptions(src.cfg.Slack.Digest)
	if err != nil {
		return err
	}
	if *post {
		// Checked before reading the cases: a digest that cannot be posted is not worth them.
		if src.cfg.Slack.Token == "" && !src.cfg.Slack.Print {
			return errors.New("-post: give slack.token, or slack.print: true to print the digests instead")
		}
		if *rf.at != "" {
			if err := virtualClock(src.cfg); err != nil {
				return err
			}
		}
	}
	ds, err := src.digests(ctx, now, opts, *channel)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		if *channel != "" {
			return fmt.Errorf("no playbook posts to %s: %s", *channel, strings.Join(src.digestChannels(), ", "))
		}
		return errors.New("no playbook posts to Slack: there is no digest")
	}
	if !*post {
		for i, d := range ds {
			if i > 0 {
				fmt.Fprintln(std.Out)
			}
			fmt.Fprintf(std.Out, "── %s ──\n%s", d.channel, d.render())
		}
		return nil
	}
	chat := w.Chat(src.cfg.Slack, std.Out, src.log)
	return postDigests(ctx, chat, ds, func(d *digest, posted bool) {
		if posted {
			fmt.Fprintf(std.Out, "%s: digest posted\n", d.channel)
		} else {
			fmt.Fprintf(std.Out, "%s: today's digest was posted already\n", d.channel)
		}
	})
}

// digestOptions say what a digest covers.
type digestOptions struct {
	days  int            // business days ahead, today included when it is one
	lines int            // lines listed per day and per section; the rest are counted
	zone  *time.Location // the readers' zone: where their days begin and end
}

func newDigestOptions(c config.Digest) (digestOptions, error) {
	loc, err := time.LoadLocation(c.Zone)
	if err != nil {
		return digestOptions{}, fmt.Errorf("slack.digest.zone: %w", err)
	}
	return digestOptions{days: c.Days, lines: c.Lines, zone: loc}, nil
}

// digest is one channel's digest, its lines gathered before they are sorted and cut.
type digest struct {
	channel   string
	now       time.Time
	opts      digestOptions
	playbooks []string
	cases     int
	due       []digestLine
	waiting   []digestLine
	failed    []digestLine
}

// digestLine is one line of a digest about one case.
type digestLine struct {
	at    time.Time // when it comes due, or since when it waits or failed: lines go by it
	num   string    // the case's number, to order lines of the same time
	step  string    // the step's title: the lines left out are counted by it
	text  string    // every value from the case or the ledger escaped as linesOf was told
	about string    // the case, as caseLabel names it, not escaped
	who   string    // of a waiting line, whom it waits on: roles, or onHold; not escaped
}

// textFormat is how lines are written: mrkdwn for Slack, plain text for a terminal.
type textFormat struct {
	esc  func(string) string // makes a value from a case or the ledger safe to show
	code string              // around a command
}

var (
	mrkdwnText = textFormat{esc: bot.EscapeMrkdwn, code: "`"}
	plainText  = textFormat{esc: func(s string) string { return s }}
)

// caseLines are the lines of one case, the same for every channel that follows its playbook.
type caseLines struct{ due, waiting, failed []digestLine }

// linesOf sorts the steps of a case into a digest's sections: those coming due before end,
// those waiting for a gate (with whom it reminds) or on hold, those failed for good, written
// in f. plan's summary counts the same lines.
func linesOf(cs caseState, end time.Time, f textFormat) caseLines {
	var out caseLines
	esc := f.esc
	about := caseLabel(cs.c)
	num, _ := cs.c.Fields["CaseNumber"].(string)
	line := func(at time.Time, title, text string) digestLine {
		return digestLine{at: at, num: num, step: title, text: esc(about) + ": " + text, about: about}
	}
	held := false
	for i, st := range cs.res.Steps {
		title := st.Title
		if title == "" {
			title = st.Step
		}
		switch label := cs.label(st); label {
		case labelScheduled, labelDue, labelRetrying:
			if !st.At.Before(end) {
				continue
			}
			text := esc(title)
			if label != labelScheduled {
				text += " (" + label + ")"
			}
			at := st.At
			if at.Before(cs.now) { // due already: it happens at the next cycle, today
				at = cs.now
			}
			out.due = append(out.due, line(at, title, text))
		case labelWaiting:
			// Only a gate that reminds someone waits on someone: a date still to be set, a
			// guard's date still to come or a gate on another step chase no one.
			r := cs.pb.Steps[i].Reminder(st.Gate.Kind)
			if r == nil || len(r.To) == 0 || !st.Gate.Until.IsZero() {
				continue
			}
			since := st.Gate.Since
			if since.IsZero() { // first found closed by this evaluation
				since = cs.now
			}
			text := esc(title) + ": waits on " + esc(strings.Join(r.To, ", ")) +
				" for " + humanDuration(cs.now.Sub(since))
			if what := st.Gate.Waiting(); what != "" {
				text += " (" + esc(clip(what, 120)) + ")"
			}
			l := line(since, title, text)
			l.who = strings.Join(r.To, ", ")
			out.waiting = append(out.waiting, l)
		case labelHeld:
			if held { // every step after the hold waits for it: one line says so
				continue
			}
			held = true
			text := "on hold (" + esc(cs.pb.Hold.Label()) + ") for " + humanDuration(cs.now.Sub(st.HeldSince))
			l := line(st.HeldSince, onHold, text)
			l.who = onHold
			out.waiting = append(out.waiting, l)
		case labelFailed:
			n, a, e, ok := cs.failure(st.Step, false)
			if !ok { // not an effect that failed: a date casebot refuses, which retry does not mend
				continue
			}
			text := fmt.Sprintf("%s: action %d (%s) failed: %s; then %scasebot retry %s %s%s",
				esc(title), n, a.Kind, esc(clip(e.Detail, 160)),
				f.code, esc(cmp.Or(num, cs.c.ID)), esc(st.Step), f.code)
			out.failed = append(out.failed, line(e.At, title, text))
		}
	}
	return out
}

// onHold is what held cases are counted as when they are left out.
const onHold = "on hold"

// clip cuts s to at most n runes, with "…" when it was longer.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// channelsOf returns the channels a playbook posts to, sorted: those of the roles its slack
// actions, its reminders and its escalations tell.
func channelsOf(pb *rules.Playbook, roles map[string]config.Role) []string {
	var names []string
	names = append(names, pb.EscalateTo...)
	for _, s := range pb.Steps {
		for _, r := range s.Reminders() {
			names = append(names, r.To...)
		}
		for _, a := range s.Actions {
			if a.Kind == bot.KindSlack {
				names = append(names, a.Roles...)
			}
		}
	}
	var channels []string
	for _, n := range names {
		if ch := roles[n].Slack; ch != "" && !slices.Contains(channels, ch) {
			channels = append(channels, ch)
		}
	}
	slices.Sort(channels)
	return channels
}

// digestChannels lists every channel a playbook posts to, for an error naming them.
func (s *source) digestChannels() []string {
	var all []string
	for _, pb := range s.pbs {
		all = append(all, channelsOf(pb, s.cfg.Roles)...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// digests evaluates the playbooks at now and returns the digest of each channel they post to
// (only of channel when it is not ""), by channel. A playbook is read once, whatever the
// number of its channels.
func (s *source) digests(ctx context.Context, now time.Time, opts digestOptions, channel string) ([]*digest, error) {
	end := windowEnd(now, opts.days, opts.zone)
	byChannel := map[string]*digest{}
	for _, pb := range s.pbs {
		var ds []*digest
		for _, ch := range channelsOf(pb, s.cfg.Roles) {
			if channel != "" && ch != channel && ch != "#"+channel {
				continue
			}
			d := byChannel[ch]
			if d == nil {
				d = &digest{channel: ch, now: now, opts: opts}
				byChannel[ch] = d
			}
			d.playbooks = append(d.playbooks, pb.Name)
			ds = append(ds, d)
		}
		if len(ds) == 0 {
			continue
		}
		css, err := s.cases(ctx, pb, now)
		if err != nil {
			return nil, err
		}
		for _, cs := range css {
			ls := linesOf(cs, end, mrkdwnText)
			for _, d := range ds {
				d.cases++
				d.due = append(d.due, ls.due...)
				d.waiting = append(d.waiting, ls.waiting...)
				d.failed = append(d.failed, ls.failed...)
			}
		}
	}
	out := make([]*digest, 0, len(byChannel))
	for _, ch := range slices.Sorted(maps.Keys(byChannel)) {
		out = append(out, byChannel[ch])
	}
	return out, nil
}

// windowEnd is the end of the days-th business day (Monday to Friday) in loc, counting now's
// day when it is one. Holidays are the cases' own (their playbooks' calendars), and a channel
// reads cases of many: its days are weekdays.
func windowEnd(now time.Time, days int, loc *time.Location) time.Time {
	day := startOfDay(now, loc)
	for n := 0; ; day = day.AddDate(0, 0, 1) {
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
			if n++; n >= days {
				return day.AddDate(0, 0, 1)
			}
		}
	}
}

func startOfDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// key is the key the digest is posted with: one a channel and day, found again in the
// channel's history so that a restart does not post it twice.
func (d *digest) key() string {
	return "digest/" + d.channel + "/" + d.now.In(d.opts.zone).Format(time.DateOnly)
}

// render writes the digest as Slack mrkdwn.
func (d *digest) render() string {
	var b strings.Builder
	cases := thousands(d.cases) + " open cases"
	if d.cases == 1 {
		cases = "1 open case"
	}
	fmt.Fprintf(&b, "*Digest for %s*: %s of %s\n", bot.EscapeMrkdwn(d.channel), cases,
		bot.EscapeMrkdwn(strings.Join(d.playbooks, ", ")))
	days := plural(d.opts.days, "business day")
	if d.opts.days == 1 {
		days = "business day"
	}
	fmt.Fprintf(&b, "\n*Coming due in the next %s*\n", days)
	if len(d.due) == 0 {
		b.WriteString("Nothing.\n")
	}
	byTime(d.due)
	for rest := d.due; len(rest) > 0; {
		next := startOfDay(rest[0].at, d.opts.zone).AddDate(0, 0, 1)
		n := slices.IndexFunc(rest, func(l digestLine) bool { return !l.at.Before(next) })
		if n < 0 {
			n = len(rest)
		}
		fmt.Fprintf(&b, "%s\n", dayToken(rest[0].at, d.opts.zone))
		writeLines(&b, rest[:n], d.opts.lines, "• ", mrkdwnText)
		rest = rest[n:]
	}
	if len(d.waiting) > 0 {
		b.WriteString("\n*Waiting on someone*, longest first\n")
		byTime(d.waiting)
		writeLines(&b, d.waiting, d.opts.lines, "• ", mrkdwnText)
	}
	if len(d.failed) > 0 {
		b.WriteString("\n*Failed*, waiting for their cause to be fixed and `casebot retry`\n")
		byTime(d.failed)
		writeLines(&b, d.failed, d.opts.lines, "• ", mrkdwnText)
	}
	return b.String()
}

// byTime orders lines by their time, then by case number; a case's lines keep their step
// order.
func byTime(ls []digestLine) {
	slices.SortStableFunc(ls, lineOrder)
}

// dayToken is a day as a Slack date token, which each reader's client shows in their own
// zone. It names noon of the day in loc, so that readers up to eleven hours off see the same
// date; the fallback is for clients that cannot.
func dayToken(t time.Time, loc *time.Location) string {
	day := startOfDay(t, loc)
	noon := time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, loc)
	return fmt.Sprintf("*<!date^%d^{date_short_pretty}|%s>*", noon.Unix(), day.Format("Mon 2 Jan"))
}

// writeLines writes at most max lines, each after bullet, then one that counts the others by
// step, the most frequent first: "and 1,234 more: 800 Final notice sent, 434 Attrition
// confirmed". One line more than max is written rather than counted. The steps' titles are
// written in f, as the lines' texts are.
func writeLines(b *strings.Builder, ls []digestLine, max int, bullet string, f textFormat) {
	shown := min(max, len(ls))
	if len(ls) == max+1 {
		shown = len(ls)
	}
	for _, l := range ls[:shown] {
		b.WriteString(bullet + l.text + "\n")
	}
	rest := ls[shown:]
	if len(rest) == 0 {
		return
	}
	count := map[string]int{}
	for _, l := range rest {
		count[l.step]++
	}
	steps := slices.SortedFunc(maps.Keys(count), func(a, b string) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = thousands(count[s]) + " " + f.esc(s)
	}
	indent := bullet[:len(bullet)-len(strings.TrimLeft(bullet, " "))] // the bullet's, without its mark
	fmt.Fprintf(b, "%sand %s more: %s\n", indent, thousands(len(rest)), strings.Join(parts, ", "))
}

// thousands writes n with commas between thousands: 1,234.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// postDigests posts each digest unless the channel has it already: it looks for the digest's
// key in the channel's history since the start of its day, as effects are looked for, so a
// restart in the same minute, or a second run, does not post it twice. told hears of each
// channel done. A channel that fails does not stop the others.
func postDigests(ctx context.Context, chat bot.Chat, ds []*digest, told func(d *digest, posted bool)) error {
	var errs []error
	for _, d := range ds {
		key := d.key()
		ts, err := chat.Find(ctx, d.channel, key, startOfDay(d.now, d.opts.zone))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: looking for today's digest: %w", d.channel, err))
			continue
		}
		if ts != "" {
			told(d, false)
			continue
		}
		if _, err := chat.Post(ctx, bot.Message{Channel: d.channel, Text: d.render(), Key: key}); err != nil {
			errs = append(errs, fmt.Errorf("%s: posting the digest: %w", d.channel, err))
			continue
		}
		told(d, true)
	}
	return errors.Join(errs...)
}

// postDigestsOnSchedule posts the channels' digests at each time of the configured schedule,
// read in the digest's zone, until ctx is done; it returns at once when there is none. A
// round that fails with an error worth retrying (Salesforce or Slack out of reach) is tried
// again every digestRetry the same day: the channels that have their digest keep it.
func (d *daemon) postDigestsOnSchedule(ctx context.Context) {
	dc := d.cfg.Slack.Digest
	if dc.Schedule == "" {
		return
	}
	log := d.log.With("digest_schedule", dc.Schedule)
	sched, err := cron.ParseStandard(dc.Schedule) // checked when the config was read
	if err != nil {
		log.Error("no digest", "err", err)
		return
	}
	opts, err := newDigestOptions(dc)
	if err != nil {
		log.Error("no digest", "err", err)
		return
	}
	src := &source{setup: d.set, store: d.store}
	var retryAt time.Time // zero unless the last round failed and may be tried again today
	for {
		wake := sched.Next(time.Now().In(opts.zone))
		if !retryAt.IsZero() && retryAt.Before(wake) {
			wake = retryAt
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := time.Now()
		retryAt = time.Time{}
		ds, err := src.digests(ctx, now, opts, "")
		if err == nil {
			err = postDigests(ctx, d.chat, ds, func(dg *digest, posted bool) {
				log.Info("digest", "channel", dg.channel, "posted", posted, "cases", dg.cases)
			})
		}
		if err == nil {
			continue
		}
		again := now.Add(digestRetry)
		if bot.IsRetryable(err) && startOfDay(again, opts.zone).Equal(startOfDay(now, opts.zone)) {
			retryAt = again
			log.Warn("digest failed; trying again", "at", again, "err", err)
			continue
		}
		log.Error("digest failed", "err", err)
	}
}

// digestRetry is how long a digest that failed for a passing reason waits to be tried again.
const digestRetry = 5 * time.Minute
