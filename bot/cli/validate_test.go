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
