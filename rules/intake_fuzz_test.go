package rules_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"casebot/bot"
	"casebot/rules"
	"casebot/rules/playbooks"
)

// FuzzClassify classifies mails of any subject, text and sender with the intake tests' rules
// and the shipped ones: no panic, the same answer twice, and a request or a reason for the
// quarantine, never both. Its seed corpus is in testdata/fuzz/FuzzClassify.
func FuzzClassify(f *testing.F) {
	_, shipped, err := rules.LoadWithIntake(playbooks.FS, rules.Options{})
	if err != nil {
		f.Fatal(err)
	}
	intakes := []*rules.Intake{testIntake(f), shipped}
	f.Add("Termination of Service", "Exit reason: costs\nTermination date: 31/12/2026\nAccount number: ACME-0042", "it@acme.example")
	f.Add("Re: [ref 004711] (case 00001234)", "Uninstall is done.\n\nOn Mon, Ada <a@b.example> wrote:\n> we accept the terms", "a@b.example")
	f.Fuzz(func(t *testing.T, subject, text, from string) {
		m := bot.ParsedMail{
			Subject: subject, Text: text,
			From:       bot.Address{Address: from},
			To:         []bot.Address{{Address: "us-terminations@provider.example"}},
			References: []string{"<a@x>", subject},
		}
		m.Auth.DKIM = []string{m.From.Domain()}
		for _, in := range intakes {
			c := in.Classify(m)
			if again := in.Classify(m); !reflect.DeepEqual(c, again) {
				t.Fatalf("not deterministic:\n%+v\n%+v", c, again)
			}
			if (c.Rule == nil) == (c.Quarantine == "") {
				t.Fatalf("rule %+v and quarantine %q", c.Rule, c.Quarantine)
			}
			if c.Rule == nil {
				continue
			}
			if len(c.Rule.Accounts) == 0 || c.Rule.Case["Origin"] != "Email" {
				t.Fatalf("request %+v", c.Rule)
			}
			for name, v := range c.Rule.Case {
				if s, ok := v.(string); ok && !utf8.ValidString(s) {
					t.Fatalf("Case.%s = %q: not UTF-8", name, s)
				}
			}
		}
	})
}

// FuzzLoadIntake parses any bytes as intake rules: no panic, rules or errors with positions,
// and rules that classify a mail. Its seed corpus is in testdata/fuzz/FuzzLoadIntake, with the
// intake files of testdata/intake added here.
func FuzzLoadIntake(f *testing.F) {
	pbs := intakePlaybooks(f)
	files, _ := filepath.Glob(intakeDir + "/bad/*.yaml")
	for _, file := range append(files, intakeDir+"/"+rules.IntakeFile) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := rules.LoadIntake(fstest.MapFS{rules.IntakeFile: {Data: data}}, pbs, intakeOptions)
		if (in == nil) == (err == nil) {
			t.Fatalf("intake %v and error %v", in, err)
		}
		if err != nil {
			for _, e := range err.(rules.Errors) {
				if e.File != rules.IntakeFile || e.Line < 0 || e.Col < 0 || e.Msg == "" {
					t.Fatalf("error %#v", e)
				}
			}
			return
		}
		in.Classify(mail("Termination of Service [ref 123456]", "Exit reason: x\nTenant: abcdef-1\n> quoted"))
	})
}
