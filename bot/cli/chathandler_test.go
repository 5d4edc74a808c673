package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"casebot/bot"
	"casebot/bot/memledger"
	"casebot/config"
	"casebot/rules"
	"casebot/rules/playbooks"
)

// pressCRM keeps open cases of the shipped playbooks in memory, with the comments written on
// them, and fails its calls on demand.
type pressCRM struct {
	bot.CRM
	mu       sync.Mutex
	cases    []*bot.Case
	comments map[string][]string // CommentBody by case id, in order
	applies  [][]bot.Write
	reads    int
	// slow makes every read of cases take this long, so that presses handled at once meet.
	slow time.Duration
	// crash, when set, is told of each Apply call (1-based) before it is performed: perform
	// says whether it reaches Salesforce; a non-nil err is returned to the caller either way,
	// as from a process that crashed or a connection cut before the answer came.
	crash func(call int) (perform bool, err error)
}

// Cases returns the open cases the query's playbook applies to (its Type is in the
// condition), those of q.IDs only when it names some.
func (f *pressCRM) Cases(ctx context.Context, q bot.CaseQuery) ([]bot.Case, error) {
	time.Sleep(f.slow)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	var out []bot.Case
	for _, c := range f.cases {
		if strings.Contains(q.Where, "'"+c.Fields["Type"].(string)+"'") && (len(q.IDs) == 0 || slices.Contains(q.IDs, c.ID)) {
			cp := *c
			cp.Fields = bot.Fields{}
			for k, v := range c.Fields {
				cp.Fields[k] = v
			}
			out = append(out, cp)
		}
	}
	return out, nil
}

func (f *pressCRM) Apply(ctx context.Context, ws []bot.Write) ([]bot.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies = append(f.applies, ws)
	var crashed error
	if f.crash != nil {
		perform, err := f.crash(len(f.applies))
		if !perform {
			return nil, err
		}
		crashed = err
	}
	res := make([]bot.WriteResult, len(ws))
	for i, w := range ws {
		switch {
		case w.Object == "Case" && w.Op == bot.OpUpdate:
			for _, c := range f.cases {
				if c.ID == w.ID {
					for k, v := range w.Fields {
						c.Fields[k] = v
					}
				}
			}
			res[i].ID = w.ID
		case w.Object == "CaseComment" && w.Op == bot.OpCreate:
			parent := w.Fields["ParentId"].(string)
			f.comments[parent] = append(f.comments[parent], w.Fields["CommentBody"].(string))
			res[i].ID = fmt.Sprintf("00a%012dAAA", len(f.comments[parent]))
		default:
			res[i].Err = fmt.Errorf("unexpected write %+v", w)
		}
	}
	if crashed != nil {
		return nil, crashed
	}
	return res, nil
}

// Find finds the comments whose last line carries a marker, as Salesforce's CRM does.
func (f *pressCRM) Find(ctx context.Context, q bot.FindQuery) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for id, markers := range q.Comments {
		for i, body := range f.comments[id] {
			last := body[strings.LastIndex(body, "\n")+1:]
			for _, m := range markers {
				if strings.Contains(last, m) {
					out[m] = fmt.Sprintf("00a%012dAAA", i+1)
				}
			}
		}
	}
	return out, nil
}

// writes returns the writes made so far, and the comments on caseID.
func (f *pressCRM) writes(caseID string) (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ws := range f.applies {
		n += len(ws)
	}
	return n, slices.Clone(f.comments[caseID])
}

func (f *pressCRM) field(caseID, name string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cases {
		if c.ID == caseID {
			return c.Fields[name]
		}
	}
	return nil
}

const (
	sopCase  = "500000000000001AAA"
	rvp      = "U0RVP00001"
	legal    = "U0LEGAL001"
	stranger = "U0EVE00001"
)

// pressAt is the handler's clock: day 46 of a termination confirmed on 5 October, the data
// purge due since 5 November and waiting for its approval.
var pressAt = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// pressWorld is a handler over the shipped playbooks, one termination case and an empty
// ledger, with the RVP allowed to hold and release and Legal to approve data deletion.
func pressWorld(t *testing.T) (*ChatHandler, *pressCRM, *memledger.Store, *int) {
	t.Helper()
	pbs, err := rules.Load(playbooks.FS, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	crm := &pressCRM{comments: map[string][]string{}, cases: []*bot.Case{{ID: sopCase,
		Fields: bot.Fields{"Type": "Termination", "CaseNumber": "00001001", "Subject": "Termination: <!channel> Acme",
			"Status": "Legal Review", "CreatedDate": "2026-10-01T13:00:00.000+0000", "Contract_End_Date__c": "2026-12-31",
			"Termination_Confirmed__c": "2026-10-05", "Deprovision_Date__c": "2026-10-20T13:00:00.000+0000",
			"Termination_Hold__c": false, "Data_Deletion_Approved__c": false},
		Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{"Name": "Acme <@U999> Corp",
			"Time_Zone__c": "America/New_York", "BillingCountry": "United States", "Tenant_Id__c": "acme"}}}}}
	store := &memledger.Store{}
	kicks := 0
	h := NewChatHandler(ChatHandlerOptions{CRM: crm, Store: store, Playbooks: pbs,
		Approvers: config.Approvers{"*": {"hold": {rvp}, "release": {rvp}}, "termination-sop": {"approve_deletion": {legal}}},
		Now:       func() time.Time { return pressAt }, Kick: func() { kicks++ }})
	return h, crm, store, &kicks
}

func press(action bot.Action, step, user, ts string) bot.Press {
	return bot.Press{Action: action, CaseID: sopCase, Playbook: "termination-sop", Step: step, UserID: user,
		UserName: map[string]string{rvp: "rachel", legal: "lena", stranger: "eve"}[user], Channel: "C0LEGAL001",
		MessageTS: "1700000000.000100", ActionTS: ts, Key: "slack-press/" + user + "/" + ts}
}

// planOf is the plan of the test case at the handler's time.
func planOf(t *testing.T, h *ChatHandler) string {
	t.Helper()
	var out bytes.Buffer
	if _, err := h.src.writePlans(t.Context(), &out, "00001001", planDays*24*time.Hour, pressAt); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// An approver's press writes the field and a comment saying who and when, is recorded once
// under its key, asks the engine for a cycle, and the plan moves.
func TestPressHoldAndRelease(t *testing.T) {
	h, crm, store, kicks := pressWorld(t)
	before := planOf(t, h)
	ans, err := h.Press(t.Context(), press(bot.ActionHold, "", rvp, "1763650800.000001"))
	if err != nil {
		t.Fatal(err)
	}
	want := "Held by <@U0RVP00001>: nothing on case 00001001 Acme &lt;@U999&gt; Corp comes due until it is released."
	if ans.Ephemeral || ans.Text != want || ans.ThreadTS != "" {
		t.Errorf("answer %+v, want %q in the thread", ans, want)
	}
	n, comments := crm.writes(sopCase)
	marker := bot.CommentMarker("slack-press/U0RVP00001/1763650800.000001")
	if held := crm.field(sopCase, "Termination_Hold__c"); held != true || n != 2 ||
		!slices.Equal(comments, []string{"Held in Slack by @rachel (U0RVP00001) at 2026-11-20 15:00 UTC.\n\n[" + marker + "]"}) {
		t.Errorf("hold field %v, %d writes, comments %q", held, n, comments)
	}
	l, _ := store.Entries(t.Context(), []string{sopCase})
	if e := l[sopCase]["slack-press/U0RVP00001/1763650800.000001"]; e.State != bot.StateDone || e.Playbook != pressPlaybook || e.Result == "" {
		t.Errorf("ledger entry %+v, want done under the press's key", e)
	}
	if *kicks != 1 {
		t.Errorf("%d kicks, want 1", *kicks)
	}
	after := planOf(t, h)
	if after == before || !strings.Contains(after, "the hold (Case.Termination_Hold__c set since") {
		t.Errorf("the plan does not show the hold:\n%s", after)
	}

	// Held, the case has Release instead of Hold.
	ans, _ = h.Press(t.Context(), press(bot.ActionHold, "", rvp, "1763650801.000001"))
	if !ans.Ephemeral || !strings.Contains(ans.Text, "is on hold already: nothing changed") {
		t.Errorf("a second Hold: %+v", ans)
	}
	ans, err = h.Press(t.Context(), press(bot.ActionRelease, "", rvp, "1763650802.000001"))
	if err != nil || ans.Ephemeral || !strings.HasPrefix(ans.Text, "Released by <@U0RVP00001>: case 00001001") {
		t.Errorf("release: %+v, %v", ans, err)
	}
	if _, comments := crm.writes(sopCase); crm.field(sopCase, "Termination_Hold__c") != false || len(comments) != 2 ||
		!strings.HasPrefix(comments[1], "Hold released in Slack by @rachel (U0RVP00001) at 2026-11-20 15:00 UTC.") {
		t.Errorf("after the release: hold %v, comments %q", crm.field(sopCase, "Termination_Hold__c"), comments)
	}
	ans, _ = h.Press(t.Context(), press(bot.ActionRelease, "", rvp, "1763650803.000001"))
	if !ans.Ephemeral || !strings.Contains(ans.Text, "is not on hold: nothing changed") {
		t.Errorf("a second Release: %+v", ans)
	}
}

// Legal approves the data deletion the purge waits for: the gate's field is set and the
// purge waits for its guard instead. The button applies only while the step waits for it.
func TestPressApproveDeletion(t *testing.T) {
	h, crm, _, _ := pressWorld(t)
	if before := planOf(t, h); !strings.Contains(before, "Case.Data_Deletion_Approved__c — false") {
		t.Fatalf("the purge does not wait for the approval:\n%s", before)
	}
	ans, err := h.Press(t.Context(), press(bot.ActionApproveDeletion, "purge-handoff", legal, "1763650800.000001"))
	if err != nil || ans.Ephemeral || ans.Text != "Data deletion approved by <@U0LEGAL001> for case 00001001 Acme &lt;@U999&gt; Corp: "+
		"Case moved to Infrastructure Engineering Provisioning for data purge." {
		t.Errorf("answer %+v, %v", ans, err)
	}
	if _, comments := crm.writes(sopCase); crm.field(sopCase, "Data_Deletion_Approved__c") != true || len(comments) != 1 ||
		!strings.HasPrefix(comments[0], "Data deletion approved in Slack by @lena (U0LEGAL001) at 2026-11-20 15:00 UTC: Case moved to") {
		t.Errorf("approved %v, comments %q", crm.field(sopCase, "Data_Deletion_Approved__c"), comments)
	}
	if after := planOf(t, h); strings.Contains(after, "Case.Data_Deletion_Approved__c — false") {
		t.Errorf("the purge still waits for the approval:\n%s", after)
	}
	ans, _ = h.Press(t.Context(), press(bot.ActionApproveDeletion, "purge-handoff", legal, "1763650801.000001"))
	if !ans.Ephemeral || !strings.HasPrefix(ans.Text, "Step purge-handoff of case 00001001 Acme &lt;@U999&gt; Corp does not wait for this now: Waiting") {
		t.Errorf("a second approval: %+v", ans)
	}
}

// A press that is not an approver's, or not of a button the case can have, changes nothing
// and is told why, to the presser alone.
func TestPressRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		press bot.Press
		want  string
	}{
		{"stranger", press(bot.ActionHold, "", stranger, "1.1"),
			"You are not an approver of holds on termination-sop cases: nothing changed. casebot's admin names the approvers (slack.approvers in its config)."},
		{"approver of another action", press(bot.ActionApproveDeletion, "purge-handoff", rvp, "1.2"),
			"You are not an approver of data deletion approvals on termination-sop cases"},
		{"unknown playbook", func() bot.Press { p := press(bot.ActionHold, "", rvp, "1.3"); p.Playbook = "<!here>"; return p }(),
			"casebot runs no playbook \"&lt;!here&gt;\": nothing changed."},
		{"not a case id", func() bot.Press { p := press(bot.ActionHold, "", rvp, "1.4"); p.CaseID = "x' OR Id != '"; return p }(),
			"There is no case"},
		{"closed case", func() bot.Press {
			p := press(bot.ActionHold, "", rvp, "1.5")
			p.CaseID = "500000000000002AAA"
			return p
		}(),
			"Case 500000000000002AAA is not an open case of termination-sop any more: nothing changed."},
		{"a step without this button", press(bot.ActionApproveDeletion, "deletion-approval", legal, "1.6"),
			"Playbook termination-sop has no such button: nothing changed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, crm, store, kicks := pressWorld(t)
			ans, err := h.Press(t.Context(), tc.press)
			if err != nil || !ans.Ephemeral || !strings.HasPrefix(ans.Text, tc.want) {
				t.Errorf("answer %+v, %v; want an ephemeral %q", ans, err, tc.want)
			}
			n, _ := crm.writes(sopCase)
			l, _ := store.Entries(t.Context(), []string{sopCase, tc.press.CaseID})
			if n != 0 || len(l) != 0 || *kicks != 0 {
				t.Errorf("a refused press made %d writes, %d ledger entries, %d kicks", n, len(l), *kicks)
			}
		})
	}
	// Refused before anything is read: a stranger's presses cost nothing.
	h, crm, _, _ := pressWorld(t)
	if _, err := h.Press(t.Context(), press(bot.ActionHold, "", stranger, "1.7")); err != nil || crm.reads != 0 {
		t.Errorf("a stranger's press read %d times (%v)", crm.reads, err)
	}
}

// Slack delivers a press again when it missed the acknowledgement, even while the first
// delivery is being handled: it is applied once.
func TestPressRedelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, crm, _, kicks := pressWorld(t)
		crm.slow = time.Second
		p := press(bot.ActionHold, "", rvp, "1763650800.000001")
		answers := make([]bot.Answer, 4)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() {
				var err error
				if answers[i], err = h.Press(t.Context(), p); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		again, err := h.Press(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		applied := 0
		for _, ans := range append(answers, again) {
			switch {
			case !ans.Ephemeral && strings.HasPrefix(ans.Text, "Held by <@U0RVP00001>"):
				applied++
			case ans != bot.Answer{Ephemeral: true, Text: "Your press was applied already: nothing more changed."}:
				t.Errorf("a delivery answered %+v", ans)
			}
		}
		if n, comments := crm.writes(sopCase); applied != 1 || n != 2 || len(comments) != 1 || *kicks != 1 {
			t.Errorf("one press delivered five times: applied %d times, %d writes, %d comments, %d kicks", applied, n, len(comments), *kicks)
		}
	})
}

// A press interrupted after its claim (a crash, a lost answer) is completed by its next
// delivery without writing anything twice, whatever of it was written.
func TestPressAfterACrash(t *testing.T) {
	lost := errors.New("connection reset")
	for _, tc := range []struct {
		name string
		// the Apply call that crashes (1: the field, 2: the comment), and whether it was
		// performed before the crash
		call    int
		perform bool
		// the writes the next delivery makes
		want int
	}{
		{"before the field", 1, false, 2},
		{"after the field", 1, true, 1}, // the field is set: only the comment
		{"before the comment", 2, false, 1},
		{"after the comment", 2, true, 0}, // the comment is found: nothing
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, crm, store, _ := pressWorld(t)
			crm.crash = func(call int) (bool, error) {
				if call == tc.call {
					return tc.perform, lost
				}
				return true, nil
			}
			p := press(bot.ActionHold, "", rvp, "1763650800.000001")
			if _, err := h.Press(t.Context(), p); !errors.Is(err, lost) {
				t.Fatalf("the interrupted press returned %v", err)
			}
			l, _ := store.Entries(t.Context(), []string{sopCase})
			if e := l[sopCase][p.Key]; e.State != bot.StateClaimed {
				t.Fatalf("after the crash the press is %q, want claimed", e.State)
			}
			crm.crash = nil
			n, _ := crm.writes(sopCase)
			performed := n - tc.call
			if tc.perform {
				performed++
			}
			ans, err := h.Press(t.Context(), p)
			if err != nil || ans.Ephemeral || !strings.HasPrefix(ans.Text, "Held by <@U0RVP00001>") {
				t.Fatalf("the next delivery: %+v, %v", ans, err)
			}
			after, comments := crm.writes(sopCase)
			if after-n != tc.want || len(comments) != 1 || crm.field(sopCase, "Termination_Hold__c") != true {
				t.Errorf("the next delivery made %d writes (want %d) after %d performed; comments %q", after-n, tc.want, performed, comments)
			}
			l, _ = store.Entries(t.Context(), []string{sopCase})
			if e := l[sopCase][p.Key]; e.State != bot.StateDone {
				t.Errorf("the press is %q, want done", e.State)
			}
		})
	}
}

// /casebot why and /casebot plan answer with the words casebot why and casebot plan print,
// every untrusted character escaped; a case or step that is not there is said to the asker.
func TestCommands(t *testing.T) {
	h, crm, store, _ := pressWorld(t)
	cliOut := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		w := Wiring{
			CRM: func(config.Salesforce, *slog.Logger) (bot.CRM, error) { return crm, nil },
			ReadStore: func(context.Context, config.Store) (bot.Store, error) {
				return store, nil
			},
		}
		if code := Main(t.Context(), append(args[:1:1], append([]string{"-at", pressAt.Format(time.RFC3339)}, args[1:]...)...),
			IO{Out: &out, Err: &errs}, w); code != 0 {
			t.Fatalf("casebot %v: exit %d: %s", args, code, errs.String())
		}
		return out.String()
	}
	for _, tc := range []struct {
		cmd bot.Command
		cli []string
	}{
		{bot.Command{Name: "why", Args: []string{"00001001", "purge-handoff"}}, []string{"why", "00001001", "purge-handoff"}},
		{bot.Command{Name: "plan", Args: []string{sopCase}}, []string{"plan", "-case", sopCase}},
	} {
		ans, err := h.Command(t.Context(), tc.cmd)
		if err != nil || ans.Ephemeral {
			t.Fatalf("%v: %+v, %v", tc.cmd, ans, err)
		}
		want := "`/casebot " + tc.cmd.Name + " " + strings.Join(tc.cmd.Args, " ") + "`\n```\n" +
			bot.EscapeMrkdwn(strings.TrimRight(cliOut(tc.cli...), "\n")) + "\n```"
		if ans.Text != want {
			t.Errorf("/casebot %v answered\n%s\nwant casebot %v's words:\n%s", tc.cmd, ans.Text, tc.cli, want)
		}
		if strings.Contains(ans.Text, "<!") || strings.Contains(ans.Text, "<@") {
			t.Errorf("/casebot %v answered with unescaped text:\n%s", tc.cmd, ans.Text)
		}
	}
	for _, tc := range []struct {
		cmd  bot.Command
		want string
	}{
		{bot.Command{Name: "why", Args: []string{"<!channel>", "<http://x|y>"}},
			"/casebot why &lt;!channel&gt; &lt;http://x|y&gt;: case \"&lt;!channel&gt;\": want a case id or a case number"},
		{bot.Command{Name: "why", Args: []string{"00001001", "<@U1>"}},
			"/casebot why 00001001 &lt;@U1&gt;: case 00001001 has no step \"&lt;@U1&gt;\": playbook termination-sop has case-opened, "},
		{bot.Command{Name: "plan", Args: []string{"<!here>"}},
			"/casebot plan &lt;!here&gt;: case \"&lt;!here&gt;\": want a case id or a case number"},
	} {
		ans, err := h.Command(t.Context(), tc.cmd)
		if err != nil || !ans.Ephemeral || !strings.HasPrefix(ans.Text, tc.want) {
			t.Errorf("%v: %+v, %v; want an ephemeral %q", tc.cmd, ans, err, tc.want)
		}
	}
}

// The example config's approvers name the shipped playbooks' buttons.
func TestExampleApprovers(t *testing.T) {
	cfg, err := config.Example(".")
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := rules.Load(playbooks.FS, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkApprovers(cfg, pbs); err != nil {
		t.Error(err)
	}
	if len(cfg.Slack.Approvers) == 0 {
		t.Error("the example config names no approvers: the demo's presses would all be refused")
	}
}

// validate checks the approvers against the config's playbooks, and plan refuses to run on
// approvers that name what is not there.
func TestValidateApprovers(t *testing.T) {
	example, err := os.ReadFile("../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(example), "confirm/pending-cancellation:", "confirm/pending-cancelation:", 1)
	file := filepath.Join(t.TempDir(), "casebot.yaml")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(conf[:strings.Index(conf, "confirm/pending-cancelation:")], "\n")
	want := fmt.Sprintf("%s:%d:7: slack.approvers.mimecast-msp-cancellation.confirm/pending-cancelation: no case of playbook "+
		"mimecast-msp-cancellation has this button; the keys that apply: hold, release, confirm, confirm/pending-cancellation", file, line)
	var out, errs bytes.Buffer
	if code := Main(t.Context(), []string{"validate", "-config", file}, IO{Out: &out, Err: &errs}, Wiring{}); code != 1 ||
		!strings.Contains(out.String(), want) {
		t.Errorf("validate: exit %d, output\n%s\nwant %s", code, out.String(), want)
	}
	out.Reset()
	if code := Main(t.Context(), []string{"plan", "-config", file}, IO{Out: &out, Err: &errs}, Wiring{}); code != 1 ||
		!strings.Contains(errs.String(), want) {
		t.Errorf("plan: exit %d, stderr\n%s\nwant %s", code, errs.String(), want)
	}
}

// threadsOf is a chat whose only thread is the test case's root in one channel.
type threadsOf struct {
	bot.Threads
	channel, caseID, ts string
}

func (f threadsOf) FindThread(ctx context.Context, channel, caseID string, since time.Time) (string, error) {
	if channel == f.channel && caseID == f.caseID {
		return f.ts, nil
	}
	return "", nil
}

// A command about a case is answered in the case's thread in the channel it was typed in, and
// in the channel itself where the case has no thread.
func TestCommandAnswersInTheThread(t *testing.T) {
	h, _, _, _ := pressWorld(t)
	h.threads = threadsOf{channel: "C0LEGAL001", caseID: sopCase, ts: "1700000000.000100"}
	for channel, want := range map[string]string{"C0LEGAL001": "1700000000.000100", "C0OTHER01": ""} {
		ans, err := h.Command(t.Context(), bot.Command{Name: "plan", Args: []string{"00001001"}, Channel: channel})
		if err != nil || ans.ThreadTS != want {
			t.Errorf("in %s: thread %q, %v; want %q", channel, ans.ThreadTS, err, want)
		}
	}
}
