package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/config"
	"casebot/rules"
	"casebot/templates"
)

// DemoStart is the virtual clock's start: Monday 2 November 2026, 08:00 in New York. A fixed
// start makes every run of the demo print the same timeline; the chaos harness (test/chaos)
// runs the same timeline with the real binary.
var DemoStart = time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)

// demoLimit ends the demo if the cases have not closed by then.
const demoLimit = 60 * 24 * time.Hour

// demo runs the shipped playbooks against an in-process sandbox on a virtual clock: the engine
// runs a cycle whenever something is due, and scripted people (Legal, the Termination Team,
// Infrastructure) do their part in Salesforce in between, until every case is closed.
func demo(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("demo", std)
	verbose := fs.Bool("v", false, "log every request and cycle")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	wall := time.Now()
	clk := bot.NewManualClock(DemoStart)
	logOut := std.Err
	if !*verbose {
		logOut = io.Discard
	}
	log := newLogger(config.Log{Level: "info"}, logOut)

	sb, err := w.Sandbox(ctx, SandboxOptions{Addr: "127.0.0.1:0", Seed: true, Now: clk.Now, Logger: log})
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer sb.Close()
	cfg, err := config.Example(".")
	if err != nil {
		return err
	}
	cfg.Salesforce.LoginURL = sb.URL()
	cfg.Mail.IMAP = config.IMAP{AuthServID: demoAuthServID}
	servicesURL, stopServices, err := startServices(ctx, "127.0.0.1:0", clk.Now, log)
	if err != nil {
		return err
	}
	defer stopServices()
	pointEndpoints(cfg, servicesURL)
	caller, err := w.Caller(cfg.Endpoints, log)
	if err != nil {
		return err
	}
	crm, err := w.CRM(cfg.Salesforce, log)
	if err != nil {
		return err
	}
	store, err := w.Store(ctx, config.Store{Driver: "sqlite", Path: ":memory:"})
	if err != nil {
		return err
	}
	defer store.Close()
	tmpl, err := templates.Default()
	if err != nil {
		return err
	}
	pbs, intakeRules, err := loadRules(nil, tmpl, cfg)
	if err != nil {
		return err
	}
	set := &setup{cfg: cfg, log: log, tmpl: tmpl, pbs: pbs, intake: intakeRules, crm: crm}
	in, desk, stopMail, err := startIntake(ctx, set, store, clk.Now, w)
	if err != nil {
		return err
	}
	defer stopMail()
	printer, err := w.Mailer(config.SMTP{}, indent{std.Out}, log)
	if err != nil {
		return err
	}
	tl := newTimeline(std.Out, w.Chat(config.Slack{}, indent{std.Out}, log), printer, pbs)
	eng, err := engine.New(engine.Options{
		CRM: crm, Store: store, Chat: tl, Mailer: tl, Caller: caller,
		Playbooks: pbs, Templates: tmpl, Roles: engineRoles(cfg.Roles), Now: clk.Now, Logger: log,
		Observe: tl.event, ThreadField: cfg.Slack.ThreadField,
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(std.Out, "casebot demo: %d playbook(s) against a seeded sandbox at %s\n", len(pbs), sb.URL())
	fmt.Fprintf(std.Out, "virtual clock starts %s; people's actions in Salesforce are scripted\n", DemoStart.Format("Mon 2 Jan 2006 15:04 MST"))
	fmt.Fprintf(std.Out, "%d mail(s) wait in the intake mailbox (an IMAP server in this process)\n\n", len(demoMails))
	people := NewPeople(crm)
	presses := &presser{crm: crm, pb: pbs[slices.IndexFunc(pbs, func(p *rules.Playbook) bool { return p.Name == "termination-sop" })],
		h: NewChatHandler(ChatHandlerOptions{CRM: crm, Store: store, Playbooks: pbs, Approvers: cfg.Slack.Approvers, Now: clk.Now, Logger: log})}
	// The seeded cases are all open at the start, and those opened from mail are added as
	// they open: the demo runs these, and the summary reads them back at the end.
	seen := map[*rules.Playbook][]string{}
	if err := addOpenCases(ctx, crm, pbs, seen); err != nil {
		return err
	}
	var closed time.Time // the last cycle that did something
	for {
		now := clk.Now()
		if now.Sub(DemoStart) > demoLimit {
			return fmt.Errorf("the cases did not close within %v of virtual time", demoLimit)
		}
		notes, err := people.Act(ctx, pbs, now)
		if len(notes) > 0 {
			tl.people(now, notes)
		}
		if err != nil {
			return err
		}
		if err := presses.press(ctx, tl, now); err != nil {
			return err
		}
		// The mail first, as `casebot once` takes it, so that a request is acted on at once;
		// what was taken in before a failure is printed too.
		taken, stepErr := in.Step(ctx)
		if err := tl.mail(ctx, now, desk.drain(), intakeRules.Quarantine, crm, w.ParseMail); err != nil {
			return err
		}
		if stepErr != nil {
			return fmt.Errorf("mail intake: %w", stepErr)
		}
		if taken.Opened > 0 {
			if err := addOpenCases(ctx, crm, pbs, seen); err != nil {
				return err
			}
		}
		rep, err := eng.Cycle(ctx)
		if err != nil {
			return err
		}
		if err := tl.flush(ctx); err != nil {
			return err
		}
		if rep.Cases == 0 { // the engine found no open case: every one is closed
			break
		}
		if rep.Done+rep.Skipped > 0 {
			closed = now
		}
		next := people.Next(now)
		if !rep.Next.IsZero() && rep.Next.Before(next) {
			next = rep.Next
		}
		clk.Set(next)
	}
	fmt.Fprintf(std.Out, "\nAll cases closed on %s after %.0f virtual days; %d Salesforce API calls; %v of real time.\n",
		closed.UTC().Format("Mon 2 Jan 2006 15:04 MST"), closed.Sub(DemoStart).Hours()/24, sb.APICalls(),
		time.Since(wall).Round(time.Millisecond))
	return summary(ctx, std.Out, crm, pbs, seen)
}

// addOpenCases adds to ids the open cases of each playbook that it does not hold yet.
func addOpenCases(ctx context.Context, crm bot.CRM, pbs []*rules.Playbook, ids map[*rules.Playbook][]string) error {
	for _, p := range pbs {
		cs, err := crm.Cases(ctx, p.Query)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if !slices.Contains(ids[p], c.ID) {
				ids[p] = append(ids[p], c.ID)
			}
		}
	}
	return nil
}

// summary prints where each case the demo ran ended up, read back from Salesforce: its status,
// the tasks casebot created, and the account fields the SOP changes when the playbook reads
// them.
func summary(ctx context.Context, out io.Writer, crm bot.CRM, pbs []*rules.Playbook, seen map[*rules.Playbook][]string) error {
	for _, p := range pbs {
		ids := seen[p]
		if len(ids) == 0 {
			continue
		}
		q := p.Query
		q.Where = "Id IN ('" + strings.Join(ids, "', '") + "')" // ids come from Salesforce itself
		cases, err := crm.Cases(ctx, q)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\n%s:\n", p.Title)
		for _, c := range cases {
			line := fmt.Sprintf("   %-26s %-22v %d task(s) by casebot", caseLabel(c), c.Fields["Status"], len(c.Tasks))
			if c.Account != nil {
				for _, f := range []string{"Type", "Customer_Attrition__c"} {
					if v, ok := c.Account.Fields[f]; ok {
						line += fmt.Sprintf(", Account.%s = %v", f, v)
					}
				}
			}
			fmt.Fprintln(out, line)
		}
	}
	return nil
}

// People play the humans of the procedures: the scripted acts below, and every team
// completing its open casebot tasks on their due date. The demo and the chaos harness
// (test/chaos) run them between cycles.
type People struct {
	crm  bot.CRM
	done map[int]bool // the acts of the script already performed
}

// NewPeople returns the people of the script, acting in Salesforce through crm on the seeded
// sandbox's cases, on a clock that starts at DemoStart.
func NewPeople(crm bot.CRM) *People {
	return &People{crm: crm, done: map[int]bool{}}
}

const day = 24 * time.Hour

// act is something a person does on a case in Salesforce during the demo.
type act struct {
	after   time.Duration // from the demo's start
	account string        // the case's account
	note    string        // what happened, for the timeline
	set     func(now time.Time, loc *time.Location) bot.Fields
}

// script is what people do in the demo, in the seeded sandbox's cases.
var script = []act{
	{2*day + 2*time.Hour, "Initech KK", "Legal confirmed the termination terms and dates",
		func(now time.Time, loc *time.Location) bot.Fields {
			return bot.Fields{"Termination_Confirmed__c": now.In(loc).Format(bot.DateLayout)}
		}},
	{day + 2*time.Hour, "Northwind Traders", "the partner accepted the cancellation terms",
		func(time.Time, *time.Location) bot.Fields { return bot.Fields{"Terms_Accepted__c": true} }},
	{4*day + 2*time.Hour, "Northwind Traders", "the partner accepted the exgestion quote",
		func(time.Time, *time.Location) bot.Fields { return bot.Fields{"Exgestion_Quote_Accepted__c": true} }},
	{2*day + 2*time.Hour, "Lotus Trading", "the partner manager recorded the settlements, the data migration plan and the alternative service",
		func(time.Time, *time.Location) bot.Fields {
			return bot.Fields{"Settlements_Complete__c": true,
				"Data_Migration_Plan__c": "Export of the tenant's data to the customer's storage before the switch.",
				"Alternative_Service__c": "Direct billing by the platform"}
		}},
	{2*day + 2*time.Hour, "Magnolia Travel", "the partner manager recorded the settlements, the agreement's notice period and the billing after the removal",
		func(time.Time, *time.Location) bot.Fields {
			return bot.Fields{"Settlements_Complete__c": true, "Notice_Period_Days__c": 30.0,
				"Billing_Mode_After__c": "New Partner Billing"}
		}},
	{3*day + 2*time.Hour, "Tijuca Logistica", "the customer confirmed the agents are uninstalled",
		func(time.Time, *time.Location) bot.Fields {
			return bot.Fields{"Uninstall_Confirmed__c": true,
				"Uninstall_Evidence__c": "Removal script log sent by the customer's IT on the day it ran."}
		}},
	{17*day + 2*time.Hour, "Tijuca Logistica", "the technician checked: no device reports any more",
		func(now time.Time, _ *time.Location) bot.Fields {
			return bot.Fields{"Active_Devices__c": 0.0, "Devices_Checked_At__c": now.UTC().Format(bot.DateTimeLayout)}
		}},
}

// Next is the next time the people act: each afternoon (15:00 UTC) of the virtual clock.
func (p *People) Next(now time.Time) time.Time {
	t := time.Date(now.Year(), now.Month(), now.Day(), 15, 0, 0, 0, time.UTC)
	if !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// Act does what the people do at now on the open cases of pbs, and returns what they did, a
// note per change; the notes of writes that failed come with the error.
func (p *People) Act(ctx context.Context, pbs []*rules.Playbook, now time.Time) ([]string, error) {
	if now.Hour() != 15 || now.Minute() != 0 {
		return nil, nil
	}
	var ws []bot.Write
	var notes []string
	for _, pb := range pbs {
		cases, err := p.crm.Cases(ctx, pb.Query)
		if err != nil {
			return nil, err
		}
		for _, c := range cases {
			loc := pb.Zone(c)
			for i, a := range script {
				if p.done[i] || now.Sub(DemoStart) < a.after || c.Account == nil || c.Account.Fields["Name"] != a.account {
					continue
				}
				ws = append(ws, bot.Write{Op: bot.OpUpdate, Object: "Case", ID: c.ID, Fields: a.set(now, loc)})
				notes = append(notes, fmt.Sprintf("%s: %s", caseLabel(c), a.note))
				p.done[i] = true
			}
			today := now.In(loc).Format(bot.DateLayout)
			for _, t := range c.Tasks {
				if t.IsClosed || t.ActivityDate == "" || t.ActivityDate > today {
					continue
				}
				ws = append(ws, bot.Write{Op: bot.OpUpdate, Object: "Task", ID: t.ID, Fields: bot.Fields{"Status": "Completed"}})
				notes = append(notes, fmt.Sprintf("%s: completed task %q", caseLabel(c), t.Subject))
			}
		}
	}
	if len(ws) == 0 {
		return nil, nil
	}
	res, err := p.crm.Apply(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("people's updates: %w", err)
	}
	var errs []error
	for i, r := range res {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", notes[i], r.Err))
		}
	}
	return notes, errors.Join(errs...)
}

// timeline prints what happens, in order, with each case's local time. It is the demo's
// bot.Chat too: a message is printed once under the step that sent it, with every channel it
// went to, through the terminal printer of connectors/slack.
type timeline struct {
	mu      sync.Mutex
	out     io.Writer
	printer bot.Chat            // the terminal Slack printer
	mailer  bot.Mailer          // the terminal mail printer
	events  []engine.Event      // this cycle's, printed by flush
	posts   map[string]*post    // this cycle's messages by effect key
	mails   map[string]bot.Mail // this cycle's mails by effect key
	order   map[string]int      // playbook/step → the step's place in its playbook
	n       int
	last    string // the last heading printed, so consecutive events share one
	// lists are this cycle's checklists by case id, the latest a root was given: printed
	// once per case after its events, since every channel's root shows the same.
	lists map[string]*caseList
	boxes map[string]string // case id → the printer's id of its box, printed before
}

// caseList is a case's checklist and the channels whose roots show it.
type caseList struct {
	list     bot.Checklist
	channels []string
}

var _ bot.Threads = (*timeline)(nil)

func newTimeline(out io.Writer, printer bot.Chat, mailer bot.Mailer, pbs []*rules.Playbook) *timeline {
	t := &timeline{out: out, printer: printer, mailer: mailer, posts: map[string]*post{},
		mails: map[string]bot.Mail{}, order: map[string]int{}, lists: map[string]*caseList{}, boxes: map[string]string{}}
	for _, p := range pbs {
		for i, s := range p.Steps {
			t.order[p.Name+"/"+s.ID] = i
		}
	}
	return t
}

type post struct {
	channels []string
	text     string
}

func (t *timeline) Post(ctx context.Context, m bot.Message) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.posts[m.Key]
	if p == nil {
		p = &post{text: m.Text}
		t.posts[m.Key] = p
	}
	p.channels = append(p.channels, m.Channel)
	t.n++
	return fmt.Sprintf("demo-%d", t.n), nil
}

// Find finds nothing: the demo's cycles are never interrupted, so nothing is looked for.
func (t *timeline) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	return "", nil
}

// PostRoot keeps the checklist to print it after the case's events, once for all channels.
func (t *timeline) PostRoot(ctx context.Context, channel string, c bot.Checklist) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keepList(channel, c)
	t.n++
	return fmt.Sprintf("demo-%d", t.n), nil
}

// Update keeps the checklist like PostRoot.
func (t *timeline) Update(ctx context.Context, channel, ts string, c bot.Checklist) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keepList(channel, c)
	return nil
}

func (t *timeline) keepList(channel string, c bot.Checklist) {
	cl := t.lists[c.CaseID]
	if cl == nil {
		cl = &caseList{}
		t.lists[c.CaseID] = cl
	}
	cl.list = c
	if !slices.Contains(cl.channels, channel) {
		cl.channels = append(cl.channels, channel)
	}
}

// Reply is printed like a message, under the step that sent it.
func (t *timeline) Reply(ctx context.Context, threadTS string, m bot.Message) (string, error) {
	return t.Post(ctx, m)
}

// FindThread and FindReply find nothing, like Find.
func (t *timeline) FindThread(context.Context, string, string, time.Time) (string, error) {
	return "", nil
}
func (t *timeline) FindReply(context.Context, string, string, string) (string, error) { return "", nil }

// printList prints the case's checklist kept this cycle, if any: the whole box the first
// time, the lines that changed after.
func (t *timeline) printList(ctx context.Context, caseID string) error {
	cl := t.lists[caseID]
	if cl == nil {
		return nil
	}
	delete(t.lists, caseID)
	printer, ok := t.printer.(bot.Threads)
	if !ok {
		return nil
	}
	channels := strings.Join(cl.channels, " ")
	if box, ok := t.boxes[caseID]; ok {
		return printer.Update(ctx, channels, box, cl.list)
	}
	box, err := printer.PostRoot(ctx, channels, cl.list)
	t.boxes[caseID] = box
	return err
}

// Send keeps the mail to print it under the step that sent it.
func (t *timeline) Send(ctx context.Context, m bot.Mail) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mails[m.Key] = m
	return "casebot@example.test", nil
}

func (t *timeline) event(ev engine.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, ev)
}

// flush prints the cycle's events grouped by case, each case's in step and action order.
func (t *timeline) flush(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	sort.SliceStable(t.events, func(i, j int) bool {
		a, b := t.events[i], t.events[j]
		if la, lb := caseLabel(a.Case), caseLabel(b.Case); la != lb {
			return la < lb
		}
		if sa, sb := t.order[a.Effect.Playbook+"/"+a.Step], t.order[b.Effect.Playbook+"/"+b.Step]; sa != sb {
			return sa < sb
		}
		return a.Effect.Action < b.Effect.Action
	})
	step, caseID := "", ""
	for _, ev := range t.events {
		if ev.Case.ID != caseID {
			if err := t.printList(ctx, caseID); err != nil {
				return err
			}
			caseID = ev.Case.ID
		}
		local := ev.At.In(ev.Location)
		if t.heading(fmt.Sprintf("── %s (%s) · case %s", local.Format("Mon 2 Jan 15:04 MST"), ev.At.UTC().Format("15:04 UTC"), caseLabel(ev.Case))) {
			step = ""
		}
		if ev.Step != step {
			title := ev.Title
			if title == "" {
				title = ev.Step
			}
			fmt.Fprintf(t.out, "   %s: %s\n", ev.Step, title)
			if ev.Outcome == engine.Skipped {
				fmt.Fprintf(t.out, "     – skipped: %s\n", ev.Detail)
			}
		}
		step = ev.Step
		switch ev.Outcome {
		case engine.Skipped:
		case engine.Failed:
			fmt.Fprintf(t.out, "     ✗ %s failed: %s\n", ev.Effect.Kind, ev.Detail)
		default:
			detail := ev.Detail
			if m, ok := t.mails[ev.Effect.Key]; ok {
				detail = m.Subject // the recipients are in the mail printed below
			}
			fmt.Fprintf(t.out, "     ✓ %s: %s\n", ev.Effect.Kind, detail)
		}
		if ev.Outcome != engine.Done {
			continue
		}
		if p := t.posts[ev.Effect.Key]; p != nil {
			if _, err := t.printer.Post(ctx, bot.Message{Channel: strings.Join(p.channels, " "), Text: p.text, Key: ev.Effect.Key}); err != nil {
				return err
			}
		}
		if m, ok := t.mails[ev.Effect.Key]; ok {
			if _, err := t.mailer.Send(ctx, m); err != nil {
				return err
			}
		}
	}
	if err := t.printList(ctx, caseID); err != nil {
		return err
	}
	// Checklists that changed without an event (a hold pressed in Slack, a step now due).
	for _, id := range slices.Sorted(maps.Keys(t.lists)) {
		t.heading("── checklist · case " + caseLabelOf(t.lists[id].list))
		if err := t.printList(ctx, id); err != nil {
			return err
		}
	}
	t.events, t.posts, t.mails = t.events[:0], map[string]*post{}, map[string]bot.Mail{}
	return nil
}

// caseLabelOf names a checklist's case as caseLabel names a case.
func caseLabelOf(l bot.Checklist) string {
	return strings.TrimSpace(l.CaseNumber + " " + l.AccountName)
}

// heading prints h unless it is the last heading printed, and reports whether it printed it.
func (t *timeline) heading(h string) bool {
	if h == t.last {
		return false
	}
	fmt.Fprintf(t.out, "\n%s\n", h)
	t.last = h
	return true
}

// mail prints what became of the mail intake took in at now, a line each, with the notices
// and acknowledgements it sent under it.
func (t *timeline) mail(ctx context.Context, now time.Time, taken []takenMail, quarantine string, crm bot.CRM,
	parse func([]byte) (bot.ParsedMail, error)) error {
	if len(taken) == 0 {
		return nil
	}
	var ids []string
	for _, m := range taken {
		if m.caseID != "" {
			ids = append(ids, m.caseID)
		}
	}
	labels := map[string]string{}
	if len(ids) > 0 {
		cases, err := crm.Cases(ctx, bot.CaseQuery{Object: "Case", IDs: ids, AnyState: true,
			Fields: []string{"CaseNumber", "Type"}, AccountFields: []string{"Name"}})
		if err != nil {
			return fmt.Errorf("reading the cases of the mail: %w", err)
		}
		for _, c := range cases {
			typ, _ := c.Fields["Type"].(string)
			labels[c.ID] = strings.TrimSpace(typ + " case " + caseLabel(c))
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.heading(fmt.Sprintf("── %s · mail taken in from the intake mailbox", now.UTC().Format("Mon 2 Jan 15:04 MST")))
	for _, m := range taken {
		from, subject := "(unreadable)", ""
		if p, err := parse(m.raw); err == nil {
			from, subject = p.From.Address, p.Subject
		}
		label := labels[m.caseID]
		if label == "" {
			label = "case " + m.caseID
		}
		var became string
		switch {
		case m.opened:
			became = "opened " + label
		case m.caseID != "":
			became = "kept on " + label
		case m.folder == quarantine:
			became = "quarantined" // the notice below says why
		default:
			became = "moved to " + m.folder
		}
		fmt.Fprintf(t.out, "   ✉ %s %q → %s\n", from, subject, became)
		for _, p := range m.posts {
			if _, err := t.printer.Post(ctx, p); err != nil {
				return err
			}
		}
		for _, ml := range m.mails {
			if _, err := t.mailer.Send(ctx, ml); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *timeline) people(now time.Time, notes []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sort.Strings(notes)
	t.heading(fmt.Sprintf("── %s · people in Salesforce", now.UTC().Format("Mon 2 Jan 15:04 MST")))
	for _, n := range notes {
		fmt.Fprintf(t.out, "   ☺ %s\n", n)
	}
}

// indent shifts the Slack printer's lines under the event that sent them.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	lines := strings.Split(s, "\n")
	for j := range lines {
		lines[j] = "       " + lines[j]
	}
	if _, err := io.WriteString(i.w, strings.Join(lines, "\n")+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}
