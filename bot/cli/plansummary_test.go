package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/templates"
)

// summaryCases are digestStates' cases at summaryNow and two more: one whose tasks failed for
// now and are retried, and one whose every step is done.
func summaryCases() ([]bot.Case, []bot.LedgerEntry) {
	now := summaryNow
	cases, es := digestStates(now)
	stark := digestCase(6, "Stark", "2026-10-27")
	stark.Fields["Approved__c"] = true
	wayne := digestCase(7, "Wayne", "2026-10-27")
	wayne.Fields["Approved__c"] = true
	before := now.Add(-4 * 24 * time.Hour)
	es = append(es, done(stark, "notice", 1, before)...)
	retrying := entry(stark, bot.EffectKey("digest", "tasks", 1, stark.ID), "tasks", bot.StateFailed, before)
	retrying.Detail, retrying.Attempts, retrying.Retryable, retrying.RetryAt = "ratelimited", 3, true, now.Add(time.Hour)
	es = append(es, retrying)
	es = append(es, done(stark, "approval", 1, before)...)
	es = append(es, done(wayne, "notice", 1, before)...)
	es = append(es, done(wayne, "tasks", 2, before)...)
	es = append(es, done(wayne, "approval", 1, before)...)
	return append(cases, stark, wayne), es
}

var summaryNow = time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC) // Mon 2 Nov 08:00 in Berlin

func writeSummary(t *testing.T, src *source, now time.Time, days int) string {
	t.Helper()
	sum, err := src.summarize(t.Context(), now, days, berlin)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum.write(&out)
	return out.String()
}

// TestPlanSummary is the golden summary of cases in every state: each counted once by where
// it stands, what comes due by day and step, whom they wait on, what failed.
func TestPlanSummary(t *testing.T) {
	cases, es := summaryCases()
	src, _ := digestSource(t, cases, es...)
	got := writeSummary(t, src, summaryNow, 3)
	want := `Plan at Mon 2 Nov 2026 07:00 UTC: a summary of 7 open cases. Nothing is written.

Open cases by playbook, each counted once by its most pressing step
  digest  7: 1 failed, 1 retrying, 1 waiting on a gate, 1 held, 2 scheduled, 1 finished
  steps   9 done, 1 retrying, 1 failed, 1 waiting, 3 held, 6 scheduled

Coming due from today to Wed 4 Nov (3 days in Europe/Berlin; plan -days N for more)
  Mon 2 Nov: 2 steps
        1  Notice sent: 00001001
        1  Tasks created: 00001006
  Tue 3 Nov: 3 steps
        1  Deletion approved: 00001001
        1  Notice sent: 00001002
        1  Tasks created: 00001001
  Wed 4 Nov: 2 steps
        1  Deletion approved: 00001002
        1  Tasks created: 00001002

Waiting on someone, the longest wait first
  legal    Deletion approved: 1 case, waiting since Thu 29 Oct 08:00 CET (00001003 Initech, 4
             days)
  on hold  1 case, waiting since Fri 30 Oct 08:00 CET (00001004 Umbrella, 3 days)

Failed, waiting for their cause to be fixed and casebot retry
  00001005 Hooli: Notice sent: action 1 (slack) failed: channel_not_found; then casebot retry
    00001005 notice

The plan of each of the 7 cases, with why each date is what it is: casebot plan -full; of one case:
casebot plan -case ID; why a step runs when it does: casebot why CASE STEP.
`
	if got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

// TestPlanSummarySize sums up 50 and 2,000 open cases over the same days and states: the
// summary has as many lines either way, give or take a line a day where a longer count
// wraps.
func TestPlanSummarySize(t *testing.T) {
	summary := func(n int) string {
		var cases []bot.Case
		var es []bot.LedgerEntry
		before := summaryNow.Add(-4 * 24 * time.Hour)
		for i := 1; i <= n; i++ {
			// Dated over 20 days around now: steps due on each of the coming days, gates
			// waiting, holds; every fourth case's notice failed for good.
			day0 := summaryNow.AddDate(0, 0, i%20-10).Format(time.DateOnly)
			c := digestCase(i, fmt.Sprintf("Account %d", i), day0)
			c.ID = fmt.Sprintf("5000000000%05dAAA", i)
			c.Fields["Hold__c"] = i%7 == 0
			cases = append(cases, c)
			if i%4 == 0 && i%7 != 0 && i%20 < 10 {
				failed := entry(c, bot.EffectKey("digest", "notice", 1, c.ID), "notice", bot.StateFailed, before)
				failed.Detail, failed.Attempts = "channel_not_found", 1
				es = append(es, failed)
			}
		}
		src, _ := digestSource(t, cases, es...)
		return writeSummary(t, src, summaryNow, summaryDays)
	}
	small, large := summary(50), summary(2000)
	for _, want := range []string{"a summary of 2,000 open cases", "Coming due", "Waiting on someone", "Failed", "and 247 more: 247 Notice sent"} {
		if !strings.Contains(large, want) {
			t.Errorf("the summary of 2,000 cases lacks %q:\n%s", want, large)
		}
	}
	days := strings.Count(large, "\n  Mon ") + strings.Count(large, "\n  Tue ") + strings.Count(large, "\n  Wed ") +
		strings.Count(large, "\n  Thu ") + strings.Count(large, "\n  Fri ") + strings.Count(large, "\n  Sat ") + strings.Count(large, "\n  Sun ")
	if days == 0 {
		t.Fatalf("the summary of 2,000 cases has no day coming due:\n%s", large)
	}
	ns, nl := strings.Count(small, "\n"), strings.Count(large, "\n")
	if nl < ns-days || nl > ns+days {
		t.Errorf("the summary of 50 cases has %d lines, of 2,000 %d: want the same ± %d (a line a day)\n%s\n\n%s", ns, nl, days, small, large)
	}
	if nl > 80 {
		t.Errorf("the summary of 2,000 cases has %d lines: not a screen or two\n%s", nl, large)
	}
}

// recordingStore is a ledger that remembers which cases it was asked for.
type recordingStore struct {
	bot.Store
	asked [][]string
}

func (s *recordingStore) Entries(ctx context.Context, ids []string) (map[string]bot.Ledger, error) {
	s.asked = append(s.asked, slices.Clone(ids))
	return s.Store.Entries(ctx, ids)
}

// queryCRM serves the cases a query's CaseNumber condition names, and remembers the queries.
type queryCRM struct {
	bot.CRM
	cases   []bot.Case
	queries []bot.CaseQuery
}

func (c *queryCRM) Cases(ctx context.Context, q bot.CaseQuery) ([]bot.Case, error) {
	c.queries = append(c.queries, q)
	var out []bot.Case
	for _, cs := range c.cases {
		if !strings.Contains(q.Where, "CaseNumber") || strings.Contains(q.Where, "'"+cs.Fields["CaseNumber"].(string)+"'") {
			out = append(out, cs)
		}
	}
	return out, nil
}

// TestWhyReadsOneCase asks why and plan -case about one case of many: Salesforce is asked for
// that case alone, within the playbook's condition, and the ledger for its entries alone.
func TestWhyReadsOneCase(t *testing.T) {
	cases, es := summaryCases()
	src, _ := digestSource(t, cases, es...)
	crm := &queryCRM{cases: cases}
	store := &recordingStore{Store: src.store}
	src.crm, src.store = crm, store

	var out bytes.Buffer
	if _, err := src.writeWhy(t.Context(), &out, "1003", "approval", summaryNow); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Case 00001003") || strings.Contains(out.String(), "00001001") {
		t.Errorf("why 1003 approval:\n%s", out.String())
	}
	out.Reset()
	if _, err := src.writePlans(t.Context(), &out, "00001003", planDays*24*time.Hour, summaryNow); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\nCase ") != 1 {
		t.Errorf("plan -case 00001003:\n%s", out.String())
	}
	for _, q := range crm.queries {
		if !strings.HasPrefix(q.Where, "(Type = 'Termination') AND CaseNumber IN (") || !strings.Contains(q.Where, "'00001003'") {
			t.Errorf("query where %q, want the playbook's condition and the case's number", q.Where)
		}
	}
	for _, ids := range store.asked {
		if !slices.Equal(ids, []string{cases[2].ID}) {
			t.Errorf("the ledger was asked for %q, want case %s's entries alone", ids, cases[2].ID)
		}
	}
	if len(crm.queries) != 2 || len(store.asked) != 2 {
		t.Errorf("%d queries and %d ledger reads for why and plan -case, want 2 and 2", len(crm.queries), len(store.asked))
	}
}

// TestPlanDiffCounts moves a step of 30 open cases: plan -diff counts them by playbook and
// step first, then shows the first diffShown cases and says how to see the rest; -full shows
// them all.
func TestPlanDiffCounts(t *testing.T) {
	var cases []bot.Case
	for i := 1; i <= 30; i++ {
		cases = append(cases, digestCase(i, "Case", "2026-11-10"))
	}
	src, _ := digestSource(t, cases)
	tmpl, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	src.tmpl = tmpl
	oldDir := t.TempDir()
	// The tasks came a business day later, and mailed a template that is shipped.
	old := strings.NewReplacer(
		"at: day0 + 1bd\n    do:\n      - slack: {to: [finance]", "at: day0 + 2bd\n    do:\n      - slack: {to: [finance]",
		"template: final}", "template: sop-final-termination}",
	).Replace(digestPlaybook)
	if err := os.WriteFile(filepath.Join(oldDir, "digest.yaml"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		var out bytes.Buffer
		if err := planDiff(t.Context(), &out, src, oldDir, "", full, summaryNow); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if !strings.Contains(got, "30 open cases change:\n  digest: 30 cases: 30 tasks\n") {
			t.Errorf("plan -diff (full %v) does not count the cases first:\n%s", full, got)
		}
		shown, more := strings.Count(got, "\nCase "), strings.Contains(got, "10 more changed cases: casebot plan -diff "+oldDir+" -full")
		if want := map[bool]int{false: diffShown, true: 30}[full]; shown != want || more == full {
			t.Errorf("plan -diff (full %v) shows %d cases (want %d), says how to see the rest: %v\n%s", full, shown, want, more, got)
		}
	}
}
