package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"casebot/bot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; got:\n%s\nwant:\n%s", path, got, want)
	}
}

var newYork = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// checklist is a case with a step in every state and every button.
func checklist() bot.Checklist {
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, newYork) }
	return bot.Checklist{
		CaseID: "500A000000000001AAA", CaseNumber: "00001026", AccountName: "Acme Corp", Playbook: "termination-sop",
		Location: newYork,
		Items: []bot.ChecklistItem{
			{Step: "attrition", Title: "Customer attrition confirmed", State: bot.ItemDone, At: day(2, 10)},
			{Step: "final-notice", Title: "Final termination notice", State: bot.ItemDue, At: day(19, 9)},
			{Step: "data-export", Title: "Data export", State: bot.ItemSkipped, Detail: "the customer asked for no export"},
			{Step: "legal-terms", Title: "Legal confirms the terms", State: bot.ItemWaiting, Detail: "Terms Confirmed is false"},
			{Step: "purge-approval", Title: "Data deletion approved", State: bot.ItemWaiting},
			{Step: "deprovision", Title: "Deprovision the tenant", State: bot.ItemScheduled, At: day(23, 9)},
			{Step: "suspend", State: bot.ItemFailed, Detail: "the tenant service answered 404"},
			{Step: "purge", Title: "Purge the data", State: bot.ItemHeld, At: day(20, 14), Detail: "held by jdoe"},
			{Step: "close", Title: "Close the case", State: bot.ItemScheduled},
		},
		Buttons: []bot.Button{
			{Action: bot.ActionHold},
			{Action: bot.ActionRelease},
			{Action: bot.ActionApproveDeletion, Step: "purge-approval"},
			{Action: bot.ActionConfirm, Step: "legal-terms"},
		},
	}
}

// rendered is the root message of c as chat.postMessage sends it, indented.
func rendered(t *testing.T, c bot.Checklist) []byte {
	t.Helper()
	text, blocks := render(c)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // for reading: "<!date…>", not "\u003c!date…\u003e"
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"text": text, "blocks": blocks}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRenderChecklist(t *testing.T) {
	golden(t, "checklist.golden", rendered(t, checklist()))
}

func TestRenderWithoutButtonsOrAccount(t *testing.T) {
	c := checklist()
	c.Buttons, c.AccountName, c.Location = nil, "", nil
	c.Items = c.Items[:2]
	golden(t, "checklist-closed.golden", rendered(t, c))
}

// hostile are values that Slack would turn into mentions, links or markup if not escaped.
var hostile = []string{"<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C1>", "<http://x|y>", "<!subteam^S1>", "a & b", "x > y < z"}

// hostileChecklist has hostile values in every field.
func hostileChecklist(v string) bot.Checklist {
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	c := bot.Checklist{CaseID: v, CaseNumber: v, AccountName: v, Playbook: v}
	for _, s := range []bot.ItemState{bot.ItemDone, bot.ItemDue, bot.ItemScheduled, bot.ItemWaiting, bot.ItemHeld, bot.ItemSkipped, bot.ItemFailed, bot.ItemState(v)} {
		c.Items = append(c.Items, bot.ChecklistItem{Step: v, Title: v, State: s, At: at, Detail: v})
	}
	c.Items = append(c.Items, bot.ChecklistItem{Step: v, State: bot.ItemDone}) // the step id as the title
	for _, a := range []bot.Action{bot.ActionHold, bot.ActionRelease, bot.ActionApproveDeletion, bot.ActionConfirm, bot.Action(v)} {
		c.Buttons = append(c.Buttons, bot.Button{Action: a, Step: v})
	}
	return c
}

func TestRenderEscapes(t *testing.T) {
	for _, v := range hostile {
		text, blocks := render(hostileChecklist(v))
		b, err := json.Marshal(blocks)
		if err != nil {
			t.Fatal(err)
		}
		shown := append(shownTexts(t, b), text)
		escaped, found := bot.EscapeMrkdwn(v), 0
		for _, s := range shown {
			if !safe(s) {
				t.Errorf("value %q: text %q has a control sequence", v, s)
			}
			found += strings.Count(s, escaped)
		}
		// The header, the context line (case and playbook), every item, the fallback text.
		if want := 2 + 2 + len(hostileChecklist(v).Items) + 1; found < want {
			t.Errorf("value %q: shown escaped %d times, want at least %d, in %q", v, found, want, shown)
		}
	}
}

// shownTexts returns every text Slack shows of blocks, their JSON: not the button values
// (JSON for casebot, never shown).
func shownTexts(t *testing.T, blocks []byte) []string {
	t.Helper()
	var tree any
	if err := json.Unmarshal(blocks, &tree); err != nil {
		t.Fatal(err)
	}
	var shown []string
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			for k, c := range n {
				if s, ok := c.(string); ok && k == "text" {
					shown = append(shown, s)
				}
				if k != "value" {
					walk(c)
				}
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(tree)
	return shown
}

// dateTokens are the date tokens casebot writes itself.
var dateTokens = regexp.MustCompile(`<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>|&]*>`)

// safe reports whether s, but for its date tokens, has no control sequence: no < or >, and
// no & but those of the three escapes.
func safe(s string) bool {
	s = strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(dateTokens.ReplaceAllString(s, ""))
	return !strings.ContainsAny(s, "&<>")
}
