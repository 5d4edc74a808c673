package rules_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"casebot/bot"
	"casebot/rules"
)

const filesHead = `playbook: files
applies_to: {object: Case, where: "IsClosed = false"}
fields: {Case: {D: date, SuppliedEmail: string}}
dates: {d: Case.D}
steps:
  - id: a
    at: d
    do:
`

// A playbook's files are read from files/ beside it when it is loaded, with their hashes; an
// email carries them and an attach files one, or a text rendered from a comment template.
func TestLoadFiles(t *testing.T) {
	script := []byte("Write-Output 'removed'\r\n")
	fsys := fstest.MapFS{
		"files.yaml": {Data: []byte(filesHead + `      - email: {to: [Case.SuppliedEmail], template: notice, attach: [scripts/remove.ps1]}
      - attach: {file: scripts/remove.ps1, title: Removal script}
      - attach: {template: note, name: guids.csv}
`)},
		"files/scripts/remove.ps1": {Data: script},
	}
	pbs, err := rules.Load(fsys, strictOptions)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(script)
	hash := hex.EncodeToString(sum[:])
	pb := pbs[0]
	if f := pb.Files["scripts/remove.ps1"]; f == nil || string(f.Data) != string(script) || f.SHA256 != hash {
		t.Fatalf("files %+v, want the script with its hash", pb.Files)
	}
	shipped := bot.File{Name: "remove.ps1", ContentType: "text/plain; charset=utf-8", Path: "scripts/remove.ps1", SHA256: hash}
	acts := pb.Steps[0].Actions
	withTitle := shipped
	withTitle.Title = "Removal script"
	for i, want := range []bot.File{shipped, withTitle, {Name: "guids.csv", ContentType: "text/csv; charset=utf-8", Template: "note", Title: "guids"}} {
		got := acts[0].Attachments
		if i > 0 {
			got = []bot.File{*acts[i].File}
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("action %d: files %+v, want %+v", i+1, got, want)
		}
	}
}

// Every problem with a file is reported where the playbook names it.
func TestLoadFilesBad(t *testing.T) {
	fsys := fstest.MapFS{"files.yaml": {Data: []byte(filesHead + `      - email: {to: [Case.SuppliedEmail], template: notice, attach: [missing.txt, ../secret, []]}
      - attach: {file: a.txt, template: note}
      - attach: {}
      - attach: {template: nope}
      - email: {to: [Case.SuppliedEmail], template: notice, attach: []}
`)}}
	_, err := rules.Load(fsys, strictOptions)
	want := []string{
		`files.yaml:9:70: step "a" action 1: email: attach: reading the file beside the playbook: open files/missing.txt: file does not exist`,
		`files.yaml:9:83: step "a" action 1: email: attach: "../secret": want a path relative to files/ beside the playbook, without .. or a leading /`,
		`files.yaml:9:94: step "a" action 1: email: attach: want a value, got a list`,
		`files.yaml:10:41: step "a" action 2: attach: file or template, not both`,
		`files.yaml:11:17: step "a" action 3: attach: want file (shipped beside the playbook) or template`,
		`files.yaml:12:28: step "a" action 4: attach: template: unknown comment template "nope"`,
		`files.yaml:13:69: step "a" action 5: email: attach: want at least one file`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("errors\n got: %v\nwant: %s", err, strings.Join(want, "\n"))
	}
}

// An email's attach takes files on the case too, by a title pattern, beside shipped files.
func TestLoadCaseFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"files.yaml": {Data: []byte(filesHead + `      - email:
          to: [Case.SuppliedEmail]
          template: notice
          attach: [{case_file: "Signed termination*"}, a.txt, {case_file: Removal log}]
`)},
		"files/a.txt": {Data: []byte("a")},
	}
	pbs, err := rules.Load(fsys, strictOptions)
	if err != nil {
		t.Fatal(err)
	}
	got := pbs[0].Steps[0].Actions[0].Attachments
	want := []bot.File{{CaseTitle: "Signed termination*"}, {Name: "a.txt", ContentType: "text/plain; charset=utf-8", Path: "a.txt",
		SHA256: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}, {CaseTitle: "Removal log"}}
	if !slices.Equal(got, want) {
		t.Errorf("files %+v, want %+v", got, want)
	}
}

// A file on the case is named by a title and nothing else.
func TestLoadCaseFilesBad(t *testing.T) {
	fsys := fstest.MapFS{"files.yaml": {Data: []byte(filesHead + `      - email:
          to: [Case.SuppliedEmail]
          template: notice
          attach:
            - {case_file: " "}
            - {case_file: Letter, name: letter.pdf}
            - {title: Letter}
            - {case_file: [Letter]}
            - {case_file: }
`)}}
	_, err := rules.Load(fsys, strictOptions)
	want := []string{
		`files.yaml:13:27: step "a" action 1: email: attach: case_file: must not be empty`,
		`files.yaml:14:35: step "a" action 1: email: attach: unknown key "name"; known keys: case_file`,
		`files.yaml:15:15: step "a" action 1: email: attach: missing required key "case_file"`,
		`files.yaml:15:16: step "a" action 1: email: attach: unknown key "title"; known keys: case_file`,
		`files.yaml:16:27: step "a" action 1: email: attach: case_file: want a value, got a list`,
		`files.yaml:17:27: step "a" action 1: email: attach: case_file: want a value, got nothing`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("errors\n got: %v\nwant: %s", err, strings.Join(want, "\n"))
	}
}

func TestMatchTitle(t *testing.T) {
	tests := []struct {
		pattern, title string
		want           bool
	}{
		{"Signed termination letter", "Signed termination letter", true},
		{"signed TERMINATION letter", "Signed termination letter", true},
		{"Signed termination letter", "Signed termination letter (copy)", false},
		{"Signed termination letter", "Signed termination", false},
		{"Signed termination*", "Signed termination letter (final)", true},
		{"Signed termination*", "signed termination", true},
		{"Signed termination*", "Unsigned termination letter", false},
		{"*letter", "Termination letter", true},
		{"*letter", "Termination letter v2", false},
		{"*removal*log*", "Agent removal script, log of run 3", true},
		{"*removal*log*", "Log of the removal", false},
		{"a*a", "a", false}, // the ends do not overlap
		{"a*a", "aa", true},
		{"*", "", true},
		{"*", "Anything", true},
		{"report?.pdf", "report1.pdf", false}, // only * is special
		{"report?.pdf", "Report?.PDF", true},
		{"[draft]*", "[DRAFT] letter", true},
	}
	for _, tt := range tests {
		if got := rules.MatchTitle(tt.pattern, tt.title); got != tt.want {
			t.Errorf("MatchTitle(%q, %q) = %v, want %v", tt.pattern, tt.title, got, tt.want)
		}
	}
}
