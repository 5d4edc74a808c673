package rules_test

import (
	"crypto/sha256"
	"encoding/hex"
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
