package templates

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"casebot/bot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func shipped(t *testing.T) *Set {
	t.Helper()
	set, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func fixture(t *testing.T) Data {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return Data{
		Playbook:  "termination-sop",
		Step:      "attrition",
		StepTitle: "Customer Attrition box checked on the account",
		Case: bot.Case{
			ID: "500000000000001AAA",
			Fields: bot.Fields{
				"CaseNumber":                "00001026",
				"Subject":                   "Termination of the Acme subscription",
				"Status":                    "Attrition Confirmed",
				"Contract_End_Date__c":      "2026-12-31",
				"Termination_Confirmed__c":  "2026-11-02",
				"Deprovision_Date__c":       "2026-12-04T14:00:00.000+0000",
				"Termination_Hold__c":       false,
				"Data_Deletion_Approved__c": false,
			},
			Account: &bot.Account{ID: "001000000000001AAA", Fields: bot.Fields{
				"Name":                  "Acme Corp",
				"Type":                  "Customer",
				"Customer_Attrition__c": true,
				"Time_Zone__c":          "America/New_York",
			}},
		},
		Due:      time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC),
		Location: ny,
		CaseURL:  "https://acme.my.salesforce.com/lightning/r/Case/500000000000001AAA/view",
		NextStep: "Termination notification sent",
		NextDue:  time.Date(2026, 11, 4, 14, 0, 0, 0, time.UTC),
	}
}

// TestGolden renders every shipped template for the step of the SOP playbook that uses it;
// go test -update rewrites testdata/*.golden.
func TestGolden(t *testing.T) {
	set := shipped(t)
	day0 := time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC) // 09:00 in New York
	for _, tc := range []struct {
		template, step, title, next string
		due, nextDue                time.Time
	}{
		{"case-opened", "case-opened", "Termination case opened; Legal to confirm terms and dates", "", day0.AddDate(0, 0, -3), time.Time{}},
		{"step-done", "attrition", "Customer Attrition box checked on the account", "Termination notification sent", day0.AddDate(0, 0, 1), day0.AddDate(0, 0, 2)},
		{"termination-notice", "termination-notice", "Termination notification sent", "Off-boarding tasks assigned to the Termination Team", day0.AddDate(0, 0, 2), day0.AddDate(0, 0, 3)},
		{"final-notice", "final-notice", "Final termination notice with data purge information", "Data approved for deletion", time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), day0.AddDate(0, 0, 30)},
		{"hold-reminder", "hold-reminder", "Reminder to the account team that data deletion is approved on day 30 unless held", "Data approved for deletion", day0.AddDate(0, 0, 25), day0.AddDate(0, 0, 30)},
		{"case-closed", "close", "Case closed, account type set to Former Customer", "", day0.AddDate(0, 0, 33), time.Time{}},
	} {
		t.Run(tc.template, func(t *testing.T) {
			d := fixture(t)
			d.Step, d.StepTitle, d.NextStep, d.Due, d.NextDue = tc.step, tc.title, tc.next, tc.due, tc.nextDue
			if tc.step == "case-opened" {
				d.Case.Fields["Termination_Confirmed__c"] = nil
				d.Case.Fields["Deprovision_Date__c"] = nil
			}
			got, err := set.Render(tc.template, d)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.template+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got+"\n" != string(want) {
				t.Errorf("%s renders\n%s\nwant (%s)\n%s", tc.template, got, golden, want)
			}
		})
	}
	want := []string{"case-closed", "case-opened", "final-notice", "hold-reminder", "step-done", "termination-notice"}
	if got := set.Names(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Names() = %v, want %v: every template needs a golden test", got, want)
	}
}

func TestEscaping(t *testing.T) {
	set := shipped(t)
	d := fixture(t)
	d.Case.Fields["Subject"] = "<!channel> hi & <https://evil.test|click> <@U123>"
	d.Case.Fields["CaseNumber"] = "<!here>"
	d.Case.Account.Fields["Name"] = "Acme <!everyone>"
	d.StepTitle = "Done <b>"
	d.CaseURL = "https://x.test/a?b=1&c=2|<!channel>"
	for _, name := range set.Names() {
		got, err := set.Render(name, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<!", "<@", "<https://evil", "<b>", "& ", "|<"} {
			if strings.Contains(got, bad) {
				t.Errorf("%s renders unescaped %q:\n%s", name, bad, got)
			}
		}
	}
	got, err := set.Render("step-done", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"&lt;!channel&gt; hi &amp; &lt;https://evil.test|click&gt; &lt;@U123&gt;",
		"<https://x.test/a?b=1&amp;c=2%7C&lt;!channel&gt;|&lt;!here&gt;>",
		"Acme &lt;!everyone&gt;",
		"*Done &lt;b&gt;*",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("step-done renders\n%s\nwant it to contain %q", got, want)
		}
	}
}

func TestValues(t *testing.T) {
	set, err := Load(fstest.MapFS{"slack/v.tmpl": {Data: []byte(
		`{{.Case "Amount"}}|{{.Case "Flag"}}|{{.Case "Empty"}}|{{.Date "Day"}}|{{.Date "At"}}|{{.Date "Empty"}}|{{.Account "Name"}}|{{.Due}}|{{.NextDue}}`,
	)}})
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	d := Data{
		Case: bot.Case{Fields: bot.Fields{
			"Amount": 1250.5, "Flag": true, "Empty": nil,
			"Day": "2026-03-01", "At": "2026-02-28T23:30:00.000+0000",
		}},
		Due:      time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Location: tokyo,
	}
	got, err := set.Render("v", d)
	if err != nil {
		t.Fatal(err)
	}
	// The datetime is shown in the case's zone; the date-only field is the same day everywhere;
	// a case without an account shows no account name; an unknown next date shows nothing.
	want := "1250.5|yes||Sun 1 Mar 2026|Sun 1 Mar 2026 08:30 JST|||Sun 1 Mar 2026 09:00 JST|"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

func TestRenderErrors(t *testing.T) {
	set := shipped(t)
	d := fixture(t)
	delete(d.Case.Account.Fields, "Name")
	if _, err := set.Render("step-done", d); err == nil || !strings.Contains(err.Error(), "account field Name is not in the record") {
		t.Errorf("Render without Account.Name: error %v, want it to name the missing field", err)
	}

	d = fixture(t)
	d.Case.Fields["Deprovision_Date__c"] = "next week"
	if _, err := set.Render("final-notice", d); err == nil || !strings.Contains(err.Error(), `case field Deprovision_Date__c: "next week" is neither a date nor a datetime`) {
		t.Errorf("Render with a bad date: error %v", err)
	}

	if _, err := set.Render("no-such", fixture(t)); err == nil || err.Error() != `render slack template "no-such": no such template` {
		t.Errorf("Render of an unknown template: error %v", err)
	}
	if set.Has("no-such") || !set.Has("final-notice") {
		t.Error("Has does not match the shipped templates")
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown accessor", "hi {{.Case \"Subject\"}}\n{{if .Case \"X\"}}{{.Acount \"Name\"}}{{end}}", "slack/t.tmpl: t:2:18: unknown accessor .Acount"},
		{"unknown accessor via $", "{{with .Case \"X\"}}{{$.Nope}}{{end}}", "slack/t.tmpl: t:1:21: unknown accessor .Nope"},
		{"raw field through a chain", "{{.StepTitle.Len}}", "slack/t.tmpl: t:1:12: .StepTitle is text; it has no field Len"},
		{"in a define", `{{define "x"}}{{.Fields}}{{end}}{{template "x" .}}`, "slack/t.tmpl: t:1:16: unknown accessor .Fields"},
		{"syntax", "{{.Case", "parse slack/t.tmpl: template: t:1: unclosed action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(fstest.MapFS{"slack/t.tmpl": {Data: []byte(tc.text)}})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Load error %v, want %q", err, tc.want)
			}
		})
	}
}

// The files on disk are the ones embedded.
func TestEmbedded(t *testing.T) {
	names, err := filepath.Glob("slack/*.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range names {
		disk, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := files.ReadFile(p)
		if err != nil || !bytes.Equal(disk, embedded) {
			t.Errorf("%s: embedded copy differs (%v)", p, err)
		}
	}
}
