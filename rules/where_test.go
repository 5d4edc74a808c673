package rules_test

import (
	"testing"

	"casebot/rules"
)

// TestWherePosition checks that a problem in applies_to.where is reported where it is in the
// file, whatever the style of the YAML scalar holding the condition.
func TestWherePosition(t *testing.T) {
	const head = `playbook: p
fields: {Case: {D: date}}
dates: {d: Case.D}
steps: [{id: a, at: d, do: [status: A]}]
applies_to:
  object: Case
`
	const problem = "applies_to.where: expected a value after =, found ="
	tests := []struct{ name, where, want string }{
		{"plain", "  where: Type = = 'x'", "p.yaml:7:17: " + problem},
		{"double-quoted", `  where: "Type = = 'x'"`, "p.yaml:7:18: " + problem},
		{"single-quoted", `  where: 'Type = = ''x'''`, "p.yaml:7:18: " + problem},
		{"literal", "  where: |\n    IsClosed = false AND\n    Type = = 'x'", "p.yaml:9:12: " + problem},
		{"literal, more indented", "  where: |-\n    IsClosed = false\n      AND Type = = 'x'", "p.yaml:9:18: " + problem},
		{"runes before", `  where: "Subject = 'déjà' AND Type = = 'x'"`, "p.yaml:7:39: " + problem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.where + "\n"
			_, err := rules.Parse("p.yaml", []byte(src), rules.Options{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}
