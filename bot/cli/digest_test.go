package cli

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"casebot/bot"
	"casebot/bot/memledger"
	"casebot/config"
	"casebot/rules"
)

const digestPlaybook = `playbook: digest
applies_to: {object: Case, where: "Type = 'Termination'"}
fields:
  Case: {CaseNumber: string, Day0__c: date, Hold__c: bool, Approved__c: bool}
  Account: {Name: string}
timezone: {default: Europe/Berlin}
run_at: "09:00"
hold: Case.Hold__c
escalate_to: [order_management]
dates:
  day0: Case.Day0__c
steps:
  - id: notice
    title: Notice sent
    at: day0
    do:
      - slack: {to: [legal], template: step-done}
  - id: tasks
    title: Tasks created
    at: day0 + 1bd
    do:
      - slack: {to: [finance], template: step-done}
      - email: {to: [account_team], template: final}
  - id: approval
    title: Deletion approved
    at: day0 + 1bd
    require: "Case.Approved__c"
    remind: {every: 1bd, to: [legal], template: gate-reminder}
    do:
      - status: Approved
`

// digestRoles are the roles of digestPlaybook: account_team has no channel.
var digestRoles = map[string]config.Role{
	"legal":            {Slack: "#legal"},
	"finance":          {Slack: "#finance"},
	"order_management": {Slack: "#order-management"},
	"account_team":     {Email: []string{"team@example.test"}},
}

// casesCRM serves a fixed list of cases, and counts how often it was asked.
type casesCRM struct {
	bot.CRM
	mu    sync.Mutex
	cases []bot.Case
	reads int
}

func (c *casesCRM) Cases(ctx context.Context, q bot.CaseQuery) ([]bot.Case, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.cases, nil
}

// digestSource is a source over cases and ledger entries, with digestPlaybook and its roles.
func digestSource(t *testing.T, cases []bot.Case, entries ...bot.LedgerEntry) (*source, *casesCRM) {
	t.Helper()
	pb, err := rules.Parse("digest.yaml", []byte(digestPlaybook), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	crm := &casesCRM{cases: cases}
	store := &memledger.Store{}
	if err := store.Record(t.Context(), entries...); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Roles = digestRoles
	set := &setup{cfg: cfg, log: slog.New(slog.DiscardHandler), pbs: []*rules.Playbook{pb}, crm: crm}
	return &source{setup: set, store: store}, crm
}

// digestCase is a case of digestPlaybook dated day0.
func digestCase(n int, account, day0 string) bot.Case {
	return bot.Case{
		ID:      fmt.Sprintf("500000000000%03dAAA", n),
		Fields:  bot.Fields{"CaseNumber": fmt.Sprintf("%08d", 1000+n), "Day0__c": day0, "Hold__c": false, "Approved__c": false},
		Account: &bot.Account{ID: fmt.Sprintf("001000000000%03dAAA", n), Fields: bot.Fields{"Name": account}},
	}
}

func entry(c bot.Case, key, step string, state bot.EntryState, at time.Time) bot.LedgerEntry {
	return bot.LedgerEntry{Key: key, CaseID: c.ID, Playbook: "digest", Step: step, State: state, At: at}
}

func done(c bot.Case, step string, actions int, at time.Time) []bot.LedgerEntry {
	var es []bot.LedgerEntry
	for a := 1; a <= actions; a++ {
		es = append(es, entry(c, bot.EffectKey("digest", step, a, c.ID), step, bot.StateDone, at))
	}
	return es
}

// berlinDay is the date token of a day of November 2026 in Berlin (UTC+1): noon there.
func berlinDay(day int, fallback string) string {
	return fmt.Sprintf("*<!date^%d^{date_short_pretty}|%s>*", time.Date(2026, 11, day, 11, 0, 0, 0, time.UTC).Unix(), fallback)
}

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// TestDigest renders a channel's digest over cases in every state: steps coming due on two
// days, a gate waiting on its reminder's role, a hold, an effect failed for good.
func TestDigest(t *testing.T) {
	now := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC) // Mon 2 Nov 08:00 in Berlin
	cases, es := digestStates(now)
	src, crm := digestSource(t, cases, es...)

	ds, err := src.digests(t.Context(), now, digestOptions{days: 2, lines: 10, zone: berlin}, "")
	if err != nil {
		t.Fatal(err)
	}
	var channels []string
	for _, d := range ds {
		channels = append(channels, d.channel)
	}
	if got, want := strings.Join(channels, " "), "#finance #legal #order-management"; got != want {
		t.Errorf("digests for %s, want %s: the channels of the slack actions, the reminders and escalate_to", got, want)
	}
	if crm.reads != 1 {
		t.Errorf("the playbook's cases were read %d times for 3 channels, want once", crm.reads)
	}
	want := `*Digest for #finance*: 5 open cases of digest

*Coming due in the next 2 business days*
` + berlinDay(2, "Mon 2 Nov") + `
• 00001001 Acme: Notice sent
` + berlinDay(3, "Tue 3 Nov") + `
• 00001001 Acme: Tasks created
• 00001001 Acme: Deletion approved
• 00001002 Globex: Notice sent

*Waiting on someone*, longest first
• 00001003 Initech: Deletion approved: waits on legal for 4 days (Approved is not checked)
• 00001004 Umbrella: on hold (Hold) for 3 days

*Failed*, waiting for their cause to be fixed and ` + "`casebot retry`" + `
• 00001005 Hooli: Notice sent: action 1 (slack) failed: channel_not_found; then ` + "`casebot retry 00001005 notice`" + `
`
	if got := ds[0].render(); got != want {
		t.Errorf("digest:\n%s\nwant:\n%s", got, want)
	}

	only, err := src.digests(t.Context(), now, digestOptions{days: 2, lines: 10, zone: berlin}, "legal")
	if err != nil {
		t.Fatal(err)
	}
	if len(only) != 1 || only[0].channel != "#legal" || only[0].key() != "digest/#legal/2026-11-02" {
		t.Errorf("the digest of channel legal: %v", only)
	}
}

// digestStates are five cases of digestPlaybook at now (Mon 2 Nov 08:00 in Berlin) and their
// ledger entries: steps coming due on two days (Acme, Globex), a gate waiting on its
// reminder's role (Initech), a hold (Umbrella), an effect failed for good (Hooli).
func digestStates(now time.Time) ([]bot.Case, []bot.LedgerEntry) {
	acme, globex := digestCase(1, "Acme", "2026-11-02"), digestCase(2, "Globex", "2026-11-03")
	initech := digestCase(3, "Initech", "2026-10-28")
	umbrella := digestCase(4, "Umbrella", "2026-11-02")
	umbrella.Fields["Hold__c"] = true
	hooli := digestCase(5, "Hooli", "2026-10-28")
	hooli.Fields["Approved__c"] = true
	before := now.Add(-4 * 24 * time.Hour)
	var es []bot.LedgerEntry
	es = append(es, done(initech, "notice", 1, before)...)
	es = append(es, done(initech, "tasks", 2, before)...)
	es = append(es, entry(initech, bot.StepKey("digest", "approval", "gate", initech.ID), "approval", bot.StateMarked, before))
	es = append(es, entry(umbrella, bot.StepKey("digest", "hold", "start-1", umbrella.ID), "hold", bot.StateMarked, before.Add(24*time.Hour)))
	failed := entry(hooli, bot.EffectKey("digest", "notice", 1, hooli.ID), "notice", bot.StateFailed, before)
	failed.Detail, failed.Attempts = "channel_not_found", 1
	es = append(es, failed)
	es = append(es, done(hooli, "tasks", 2, before)...)
	es = append(es, done(hooli, "approval", 1, before)...)
	return []bot.Case{acme, globex, initech, umbrella, hooli}, es
}

// TestDigestTruncates lists at most lines cases a day and counts the rest by step, most first.
func TestDigestTruncates(t *testing.T) {
	now := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		cases, lines int
		count        string // of the open cases, as the digest's first line says it
		day          string // the lines under the day
	}{
		{"fits", 2, 10, "2 open cases", `• 00001001 Case: Notice sent
• 00001002 Case: Notice sent
`},
		{"one more is shown, not counted", 3, 2, "3 open cases", `• 00001001 Case: Notice sent
• 00001002 Case: Notice sent
• 00001003 Case: Notice sent
`},
		{"cut", 5, 2, "5 open cases", `• 00001001 Case: Notice sent
• 00001002 Case: Notice sent
and 3 more: 3 Notice sent
`},
		{"thousands", 1234, 1, "1,234 open cases", `• 00001001 Case: Notice sent
and 1,233 more: 1,233 Notice sent
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cases []bot.Case
			for i := 1; i <= tc.cases; i++ {
				cases = append(cases, digestCase(i, "Case", "2026-11-02"))
			}
			src, _ := digestSource(t, cases)
			ds, err := src.digests(t.Context(), now, digestOptions{days: 1, lines: tc.lines, zone: berlin}, "#legal")
			if err != nil {
				t.Fatal(err)
			}
			want := "*Digest for #legal*: " + tc.count + " of digest\n\n*Coming due in the next business day*\n" +
				berlinDay(2, "Mon 2 Nov") + "\n" + tc.day
			if got := ds[0].render(); got != want {
				t.Errorf("digest:\n%s\nwant:\n%s", got, want)
			}
		})
	}

	// Over two days and two steps: each day is cut on its own, its rest counted per step.
	var cases []bot.Case
	for i := 1; i <= 5; i++ {
		cases = append(cases, digestCase(i, "Case", "2026-11-02"))
	}
	src, _ := digestSource(t, cases)
	ds, err := src.digests(t.Context(), now, digestOptions{days: 2, lines: 3, zone: berlin}, "#legal")
	if err != nil {
		t.Fatal(err)
	}
	want := berlinDay(3, "Tue 3 Nov") + `
• 00001001 Case: Tasks created
• 00001001 Case: Deletion approved
• 00001002 Case: Tasks created
and 7 more: 4 Deletion approved, 3 Tasks created
`
	if got := ds[0].render(); !strings.HasSuffix(got, want) {
		t.Errorf("digest:\n%s\nwant it to end with:\n%s", got, want)
	}
}

// TestDigestEscapes renders cases whose fields and errors try to mention everyone, a user,
// or to link: all of it is shown as written, nothing is a control sequence.
func TestDigestEscapes(t *testing.T) {
	now := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	hostile := digestCase(1, "<!channel> & <http://x|y>", "2026-11-02")
	hostile.Fields["CaseNumber"] = "<@U123>"
	failing := digestCase(2, "<!here>", "2026-10-28")
	failing.Fields["Approved__c"] = true
	failed := entry(failing, bot.EffectKey("digest", "notice", 1, failing.ID), "notice", bot.StateFailed, now.Add(-time.Hour))
	failed.Detail = "refused <http://evil.example|click> by <@U999>"
	es := append(done(failing, "tasks", 2, now), failed)
	es = append(es, done(failing, "approval", 1, now)...)
	src, _ := digestSource(t, []bot.Case{hostile, failing}, es...)
	ds, err := src.digests(t.Context(), now, digestOptions{days: 3, lines: 10, zone: berlin}, "#legal")
	if err != nil {
		t.Fatal(err)
	}
	got := ds[0].render()
	for _, want := range []string{
		"• &lt;@U123&gt; &lt;!channel&gt; &amp; &lt;http://x|y&gt;: Notice sent",
		"• 00001002 &lt;!here&gt;: Notice sent: action 1 (slack) failed: refused &lt;http://evil.example|click&gt; by &lt;@U999&gt;",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("digest lacks %q:\n%s", want, got)
		}
	}
	// What is left once the date tokens are taken out holds no control sequence at all.
	rest := regexp.MustCompile(`<!date\^\d+\^\{date_short_pretty\}\|[^<>|&]*>`).ReplaceAllString(got, "")
	if strings.ContainsAny(rest, "<>") {
		t.Errorf("digest holds a control sequence besides its date tokens:\n%s", got)
	}
}

func TestWindowEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  time.Time
		days int
		want string // the first day after the window, in Berlin
	}{
		{"monday morning", time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC), 3, "Thu 5 Nov"},
		{"friday spans the weekend", time.Date(2026, 11, 6, 7, 0, 0, 0, time.UTC), 3, "Wed 11 Nov"},
		{"saturday starts on monday", time.Date(2026, 11, 7, 7, 0, 0, 0, time.UTC), 1, "Tue 10 Nov"},
		// Sunday 23:30 UTC is Monday already in Berlin: Monday counts.
		{"the readers' zone decides the day", time.Date(2026, 11, 8, 23, 30, 0, 0, time.UTC), 1, "Tue 10 Nov"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end := windowEnd(tc.now, tc.days, berlin)
			if got := end.In(berlin).Format("Mon 2 Jan 15:04"); got != tc.want+" 00:00" {
				t.Errorf("windowEnd = %s, want %s 00:00", got, tc.want)
			}
		})
	}
}

// recordingChat keeps what is posted to it, and finds it again by key like Slack's history.
// It refuses the first outage posts as an unreachable Slack would.
type recordingChat struct {
	mu     sync.Mutex
	posts  []posted
	outage int
}

type posted struct {
	bot.Message
	at time.Time
}

func (c *recordingChat) Post(ctx context.Context, m bot.Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outage > 0 {
		c.outage--
		return "", &bot.Error{Op: "post to " + m.Channel, Code: "503", Retryable: true}
	}
	c.posts = append(c.posts, posted{m, time.Now()})
	return fmt.Sprint(len(c.posts)), nil
}

func (c *recordingChat) Find(ctx context.Context, channel, key string, since time.Time) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.posts {
		if p.Channel == channel && p.Key == key && !p.at.Before(since) {
			return fmt.Sprint(i + 1), nil
		}
	}
	return "", nil
}

func (c *recordingChat) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for _, p := range c.posts {
		keys = append(keys, p.Key)
	}
	return keys
}

// TestDigestsOnSchedule runs the daemon's digest loop on a fake clock: at 08:00 in the readers'
// zone each channel gets one digest, not before, and again the next day; a second post the
// same day (a restart, an admin's casebot digest -post) finds it and posts nothing.
func TestDigestsOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts at Sat 1 Jan 2000 00:00 UTC, 01:00 in Berlin.
		src, _ := digestSource(t, []bot.Case{digestCase(1, "Acme", "2000-01-03")})
		src.cfg.Slack.Digest = config.Digest{Schedule: "0 8 * * *", Days: 3, Lines: 10, Zone: "Europe/Berlin"}
		chat := &recordingChat{}
		d := &daemon{cfg: src.cfg, log: src.log, store: src.store, set: src.setup, chat: chat}
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			d.postDigestsOnSchedule(ctx)
		}()

		time.Sleep(7*time.Hour - time.Second) // 07:59:59 in Berlin
		synctest.Wait()
		if keys := chat.keys(); len(keys) > 0 {
			t.Fatalf("posted before the schedule: %q", keys)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		want := "digest/#finance/2000-01-01 digest/#legal/2000-01-01 digest/#order-management/2000-01-01"
		if got := strings.Join(chat.keys(), " "); got != want {
			t.Errorf("posted %s, want %s", got, want)
		}

		ds, err := src.digests(ctx, time.Now(), digestOptions{days: 3, lines: 10, zone: berlin}, "")
		if err != nil {
			t.Fatal(err)
		}
		var again []string
		if err := postDigests(ctx, chat, ds, func(d *digest, posted bool) {
			if posted {
				again = append(again, d.channel)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if len(again) > 0 || len(chat.keys()) != 3 {
			t.Errorf("posted again the same day to %q", again)
		}

		// The next day Slack is out at first: the channel it refused gets its digest five
		// minutes later, the others keep theirs.
		chat.mu.Lock()
		chat.outage = 1
		chat.mu.Unlock()
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		if got := chat.keys(); len(got) != 5 {
			t.Errorf("the next day, with Slack refusing one post, posted %q", got[3:])
		}
		time.Sleep(digestRetry)
		synctest.Wait()
		want = "digest/#legal/2000-01-02 digest/#order-management/2000-01-02 digest/#finance/2000-01-02"
		if got := strings.Join(chat.keys()[3:], " "); got != want {
			t.Errorf("the next day posted %s, want %s", got, want)
		}
		cancel()
		<-stopped
	})
}
