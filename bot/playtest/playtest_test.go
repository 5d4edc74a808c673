package playtest

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"casebot/rules"
	"casebot/rules/playbooks"
	"casebot/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func testTemplates(t *testing.T) *templates.Set {
	t.Helper()
	tmpl, err := templates.Load(os.DirFS("testdata/templates"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// writeTo returns an Update that writes golden files under dir.
func writeTo(dir string) func(string, []byte) error {
	return func(name string, data []byte) error {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	}
}

// TestRun runs the small playbook's tests, four that pass and three that fail on purpose, and
// compares the whole report (PASS/FAIL lines, timeline and golden diffs, coverage) with
// testdata/small.out.
func TestRun(t *testing.T) {
	opts := Options{FS: os.DirFS("testdata/small"), Templates: testTemplates(t)}
	if *update {
		// broken.test.yaml's golden file differs on purpose.
		write := writeTo("testdata/small")
		up := opts
		up.Update = func(name string, data []byte) error {
			if strings.HasPrefix(name, "testdata/broken/") {
				return nil
			}
			return write(name, data)
		}
		if _, err := Run(t.Context(), up); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Write(&out)
	if len(rep.Tests) != 7 || rep.Failed() != 3 {
		t.Errorf("%d tests, %d failed; want 7 and 3:\n%s", len(rep.Tests), rep.Failed(), out.String())
	}
	for _, r := range rep.Tests {
		if broken := r.File == "broken.test.yaml"; r.Passed() == broken {
			t.Errorf("%s: %s: passed = %v", r.File, r.Name, r.Passed())
		}
	}
	golden := "testdata/small.out"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("report differs from %s (go test -update rewrites it):\n%s", golden,
			diffLines(strings.Split(string(want), "\n"), strings.Split(got, "\n")))
	}
}

// Without golden files the tests that name them fail; -update writes them, and then they pass.
func TestUpdateWritesGoldenFiles(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, name := range []string{"refund.yaml", "refund.test.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata/small", name))
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data}
	}
	opts := Options{FS: fsys, Templates: testTemplates(t)}
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 1 || !strings.Contains(rep.Tests[0].Problems[0], "acknowledged.golden: file does not exist") {
		t.Fatalf("without golden files: %+v", rep.Tests)
	}

	opts.Update = func(name string, data []byte) error {
		fsys[name] = &fstest.MapFile{Data: data}
		return nil
	}
	if rep, err = Run(t.Context(), opts); err != nil || rep.Failed() != 0 {
		t.Fatalf("with -update: %v, %+v", err, rep.Tests)
	}
	for _, name := range []string{"testdata/refund/acknowledged.golden", "testdata/refund/closed.golden"} {
		want, err := os.ReadFile(filepath.Join("testdata/small", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fsys[name]; got == nil || string(got.Data) != string(want) {
			t.Errorf("%s written as %q, want %q", name, got, want)
		}
	}
	opts.Update = nil
	if rep, err = Run(t.Context(), opts); err != nil || rep.Failed() != 0 {
		t.Fatalf("after -update: %v, %+v", err, rep.Tests)
	}
}

// Every problem of every test file is reported at once, with its position.
func TestLoadErrors(t *testing.T) {
	playbook, err := os.ReadFile("testdata/small/refund.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const head = "playbook: refund\ntests:\n  - name: t\n"
	const fixture = "    case: {Status: New, Requested__c: 2026-03-02}\n    account: {Name: A}\n"
	const clock = "    start: 2026-03-02T09:00\n    until: 2026-03-09T09:00\n"
	tests := []struct {
		name, file string
		want       []string
	}{
		{"unknown playbook", "playbook: nope\ntests: []\n",
			[]string{`x.test.yaml:1:11: playbook: no playbook "nope" next to this file`}},
		{"unknown keys", head + fixture + clock + "    expect: []\n    expected: []\n",
			[]string{`x.test.yaml:9:5: test "t": unknown key "expected"`}},
		{"undeclared field", head + "    case: {Stauts: New}\n" + clock + "    expect: []\n",
			[]string{`x.test.yaml:4:12: test "t": case: Case.Stauts is not a field refund declares`}},
		{"value of the wrong type", head + "    case: {Amount__c: lots, Requested__c: 2026-02-30}\n" + clock + "    expect: []\n",
			[]string{`x.test.yaml:4:23: test "t": case: Case.Amount__c: "lots" is not a number`,
				`x.test.yaml:4:43: test "t": case: Case.Requested__c: "2026-02-30" is not a date`}},
		{"no clock", head + fixture + "    expect: []\n",
			[]string{`x.test.yaml:3:5: test "t": needs start and until`}},
		{"at with start", head + fixture + "    start: 2026-03-02T09:00\n    at: [2026-03-02T09:00]\n    expect: []\n",
			[]string{`x.test.yaml:7:9: test "t": at: lists every cycle time; it goes without start and until`}},
		{"bad times", head + fixture + "    start: monday\n    until: 2026-03-09T09:00\n    expect: []\n",
			[]string{`x.test.yaml:6:12: test "t": start: "monday" is not a time`}},
		{"event before start and unknown task", head + fixture + clock +
			"    events:\n      - {at: 2026-03-01T09:00, complete_tasks: [refund]}\n    expect: []\n",
			[]string{`x.test.yaml:9:14: test "t": event: at 2026-03-01T09:00 is before the test starts`,
				`x.test.yaml:9:49: test "t": event: complete_tasks: "refund" is neither a step nor a task`}},
		{"bad expected lines", head + fixture + clock +
			"    expect: |\n      2026-03-02T10:00Z\n      yesterday acknowledge/1 status New\n      2026-03-02T10:00Z acknowledge/2 slack #x golden:a/b\n",
			[]string{`x.test.yaml:9:7: test "t": expect: want "TIME STEP WHAT"`,
				`x.test.yaml:10:7: test "t": expect: "yesterday" is not a time`,
				`x.test.yaml:11:7: test "t": expect: golden name "a/b"`}},
		{"comment in a list line", head + fixture + clock + "    expect:\n      - 2026-03-02T10:00Z acknowledge/2 slack #finance\n",
			[]string{`x.test.yaml:9:9: test "t": expect: " #" starts a YAML comment here`}},
		{"duplicate test", head + fixture + clock + "    expect: []\n  - name: t\n" + fixture + clock + "    expect: []\n",
			[]string{`x.test.yaml:9:5: test "t": duplicate name (first at line 3)`}},
		{"bad files", head + fixture + "    files:\n      - {title: Letter}\n      - {name: a.pdf, size: 3}\n" + clock + "    expect: []\n",
			[]string{`x.test.yaml:7:9: test "t": files: missing name`,
				`x.test.yaml:8:23: test "t": files: unknown key "size"; known keys: name, title, text`}},
		{"final of an undeclared field", head + fixture + clock + "    expect: []\n    final: {Case: {IsClosed: true}}\n",
			[]string{`x.test.yaml:9:20: test "t": final: Case.IsClosed is not a field refund declares`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"refund.yaml":    {Data: playbook},
				"x.test.yaml":    {Data: []byte(tt.file)},
				"ok.test.yaml":   {Data: []byte("playbook: refund\ntests: []\n")},
				"testdata/x.txt": {Data: []byte("not a test")},
			}
			_, err := Run(t.Context(), Options{FS: fsys, Templates: testTemplates(t)})
			var errs rules.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v, want rules.Errors", err)
			}
			if len(errs) != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, want := range tt.want {
				if i < len(errs) && !strings.HasPrefix(errs[i].Error(), want) {
					t.Errorf("error %d:\n got %s\nwant %s…", i, errs[i], want)
				}
			}
		})
	}
}

// TestShippedPlaybooks runs the tests of the playbooks casebot ships, so that `make test` runs
// them, and requires every shipped playbook to have tests that reach each of its steps.
func TestShippedPlaybooks(t *testing.T) {
	tmpl, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), Options{FS: playbooks.FS, Templates: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Write(&out)
	t.Log("\n" + out.String())
	if rep.Failed() > 0 {
		t.Errorf("%d shipped playbook tests failed (casebot test shows why)", rep.Failed())
	}
	if len(rep.Coverage) == 0 {
		t.Error("no shipped playbooks")
	}
	for _, c := range rep.Coverage {
		switch {
		case c.Tests == 0:
			t.Errorf("%s has no tests: add %s.test.yaml next to it", c.Playbook, c.Playbook)
		case len(c.NotReached) > 0:
			t.Errorf("%s: no test reaches %s", c.Playbook, strings.Join(c.NotReached, ", "))
		}
	}
}
