package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestValidateMissingPath checks that a path that does not exist is reported with the
// problems of the other files, which are still validated, and that the exit code says so.
func TestValidateMissingPath(t *testing.T) {
	dir := t.TempDir()
	const pb = `playbook: %s
applies_to: {object: Case, where: "%s"}
fields: {Case: {D: date}}
dates: {d: Case.D}
steps:
  - {id: a, at: d, do: [status: A]}
`
	write := func(name, where string) string {
		file := filepath.Join(dir, name+".yaml")
		data := []byte(fmt.Sprintf(pb, name, where))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	good := write("good", "IsClosed = false")
	bad := write("bad", "Type = = 'x'")
	missing := filepath.Join(dir, "missing.yaml")

	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"between two files", []string{bad, missing, good},
			missing + ": no such file or directory\n" +
				bad + ":2:43: applies_to.where: expected a value after =, found =\n"},
		{"beside a valid file", []string{good, missing},
			"ok  good (" + good + "): 1 steps\n" + missing + ": no such file or directory\n"},
		{"alone", []string{missing}, missing + ": no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := Main(context.Background(), append([]string{"validate"}, tt.paths...), IO{Out: &out, Err: &errs}, Wiring{})
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", code, errs.String())
			}
			if out.String() != tt.want {
				t.Errorf("output\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

// TestValidateWarns: an action that does harm in a step without a guard is a warning, printed
// with its position, and validate still succeeds.
func TestValidateWarns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "harm.yaml")
	const pb = `playbook: harm
applies_to: {object: Case, where: "IsClosed = false"}
fields: {Case: {D: date}}
dates: {d: Case.D}
steps:
  - {id: a, at: d, do: [status: A, close: {}]}
  - {id: b, at: d, guard: {not_before: d, owner: legal}, do: [close: {}]}
`
	if err := os.WriteFile(file, []byte(pb), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"validate", file}, IO{Out: &out, Err: &errs}, Wiring{}); code != 0 {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, errs.String())
	}
	want := "ok  harm (" + file + "): 2 steps\n" +
		"warning: " + file + `:6:36: step "a" action 2 closes the case, and the step has no guard: ` +
		"say what must hold before it runs (guard: with not_before, fresh, after or condition)\n"
	if out.String() != want {
		t.Errorf("output\n%s\nwant\n%s", out.String(), want)
	}
}
