package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/templates"
)

// caseFilesPlaybook mails the customer's signed letter, a file on the case, with the removal
// script shipped beside the playbook.
const caseFilesPlaybook = lettersHead + `  - id: countersign
    title: Signed letter sent back
    at: day0 + 1d
    do:
      - email: {to: [Case.SuppliedEmail], template: notice, attach: [{case_file: "Signed termination*"}, removal.ps1]}
`

// lettersHead is the playbook letters up to its steps.
const lettersHead = `playbook: letters
applies_to: {object: Case, where: "Type = 'Termination'"}
fields:
  Case:
    SuppliedEmail: string
    Termination_Confirmed__c: date
dates:
  day0: Case.Termination_Confirmed__c
steps:
`

// letters is an engine running caseFilesPlaybook over some cases, on its own clock, with the
// events it observed.
type letters struct {
	eng    *Engine
	crm    *fakeCRM
	store  *memStore
	mailer *fakeMailer
	now    time.Time
	events []Event
}

func newLetters(t *testing.T, ids ...string) *letters {
	t.Helper()
	return newLettersOf(t, caseFilesPlaybook, ids...)
}

// newLettersOf is newLetters running another playbook named letters.
func newLettersOf(t *testing.T, playbook string, ids ...string) *letters {
	t.Helper()
	pbs, err := rules.Load(fstest.MapFS{"letters.yaml": {Data: []byte(playbook)},
		"files/removal.ps1": {Data: []byte(script)}}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load(fstest.MapFS{"email/notice.tmpl": {Data: []byte("Subject: Your letter\n\nSigned, and the script.\n")}})
	if err != nil {
		t.Fatal(err)
	}
	l := &letters{crm: &fakeCRM{fail: map[string]error{}}, store: newMemStore(), mailer: &fakeMailer{},
		now: time.Date(2026, 11, 3, 15, 0, 0, 0, time.UTC)}
	for _, id := range ids {
		l.crm.cases = append(l.crm.cases, &bot.Case{ID: id, Fields: bot.Fields{"SuppliedEmail": "it@" + id + ".example",
			"Termination_Confirmed__c": "2026-11-02"}})
	}
	l.eng, err = New(Options{CRM: l.crm, Store: l.store, Chat: &fakeChat{fail: map[string]error{}}, Mailer: l.mailer,
		Playbooks: pbs, Templates: tmpl, Now: func() time.Time { return l.now },
		Observe: func(ev Event) { l.events = append(l.events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func letterKey(caseID string) string { return bot.EffectKey("letters", "countersign", 1, caseID) }

// claimedFiles reads the files a claim holds from the ledger.
func claimedFiles(t *testing.T, store *memStore, key string) []bot.File {
	t.Helper()
	payloads, err := store.Payloads(t.Context(), []string{key})
	if err != nil {
		t.Fatal(err)
	}
	var cl claim
	if err := json.Unmarshal([]byte(payloads[key]), &cl); err != nil {
		t.Fatalf("claim of %s: %v", key, err)
	}
	return cl.Files
}

// attached is what a mail carries, by file name.
func attached(m bot.Mail) map[string]string {
	out := map[string]string{}
	for _, a := range m.Attachments {
		out[a.Name+" "+a.ContentType] = string(a.Data)
	}
	return out
}

// The mail carries the newest file on the case whose title matches, with its bytes and a type
// from its name, beside the shipped file; the claim names the version it chose.
func TestMailCarriesCaseFile(t *testing.T) {
	l := newLetters(t, actionsCase)
	l.crm.upload(actionsCase, "Signed termination letter", "letter.pdf", "%PDF old")
	signed := l.crm.upload(actionsCase, "SIGNED TERMINATION LETTER (final)", "letter-final.pdf", "%PDF final")
	l.crm.upload(actionsCase, "Invoice", "invoice.pdf", "%PDF invoice")
	if rep := cycle(t, l.eng); rep.Done != 1 || rep.Failed != 0 {
		t.Fatalf("report %+v, want the mail done", rep)
	}
	want := map[string]string{"letter-final.pdf application/pdf": "%PDF final", "removal.ps1 text/plain; charset=utf-8": script}
	if len(l.mailer.mails) != 1 || fmt.Sprint(attached(l.mailer.mails[0])) != fmt.Sprint(want) {
		t.Fatalf("mails %+v, want one carrying the final letter and the script", l.mailer.mails)
	}
	files := claimedFiles(t, l.store, letterKey(actionsCase))
	if len(files) != 2 || files[0] != (bot.File{Name: "letter-final.pdf", ContentType: "application/pdf",
		CaseTitle: "Signed termination*", Version: signed, Size: 10}) || files[1].Path != "removal.ps1" {
		t.Errorf("claimed files %+v, want the final letter's version and the script", files)
	}
	if len(l.events) != 1 || !strings.HasSuffix(l.events[0].Detail, "[letter-final.pdf] [removal.ps1]") {
		t.Errorf("events %+v, want the files named", l.events)
	}
}

// A retry sends the version chosen when the mail was claimed, even when a newer file that
// matches was uploaded since, and does not ask for the case's files again.
func TestRetrySendsClaimedVersion(t *testing.T) {
	l := newLetters(t, actionsCase)
	l.crm.upload(actionsCase, "Signed termination letter", "letter.pdf", "%PDF first")
	l.mailer.fail = &bot.Error{Op: "send", Code: "421", Retryable: true}
	cycle(t, l.eng)
	if e := l.store.get(letterKey(actionsCase)); e.State != bot.StateFailed || !e.Retryable {
		t.Fatalf("entry %+v, want a retryable failure", e)
	}
	l.crm.upload(actionsCase, "Signed termination letter v2", "letter-v2.pdf", "%PDF second")
	l.now = l.now.Add(time.Hour)
	cycle(t, l.eng)
	if len(l.mailer.mails) != 1 || attached(l.mailer.mails[0])["letter.pdf application/pdf"] != "%PDF first" {
		t.Fatalf("mails %+v, want the first letter sent", l.mailer.mails)
	}
	if e := l.store.get(letterKey(actionsCase)); e.State != bot.StateDone {
		t.Errorf("entry %+v, want done", e)
	}
	if len(l.crm.fileCalls) != 1 {
		t.Errorf("%d CaseFiles calls, want 1: the retry sends what was claimed", len(l.crm.fileCalls))
	}
}

// A mail whose file is not on the case fails for good, saying what to attach and how to go
// on; once a person has attached it and retried the step, the mail goes out.
func TestMissingCaseFileFailsForGood(t *testing.T) {
	l := newLetters(t, actionsCase)
	l.crm.upload(actionsCase, "Unsigned termination letter", "letter.pdf", "%PDF unsigned")
	if rep := cycle(t, l.eng); rep.Failed != 1 || rep.Done != 0 {
		t.Fatalf("report %+v, want the mail failed", rep)
	}
	e := l.store.get(letterKey(actionsCase))
	want := `FILE_NOT_ON_CASE: no file on the case has a title like "Signed termination*": attach it to the case, ` +
		"then run `casebot retry " + actionsCase + " countersign`"
	if e.State != bot.StateFailed || e.Retryable || !strings.Contains(e.Detail, want) || len(l.mailer.mails) != 0 {
		t.Fatalf("entry %+v with %d mails, want a permanent failure saying\n%s", e, len(l.mailer.mails), want)
	}
	if len(l.events) != 1 || l.events[0].Outcome != Failed || l.events[0].Detail != e.Detail {
		t.Errorf("events %+v, want the failure observed", l.events)
	}
	l.now = l.now.Add(time.Hour)
	cycle(t, l.eng)
	if len(l.mailer.mails) != 0 || len(l.crm.fileCalls) != 1 {
		t.Fatalf("%d mails, %d CaseFiles calls: a permanent failure waits for a person", len(l.mailer.mails), len(l.crm.fileCalls))
	}

	l.crm.upload(actionsCase, "Signed termination letter", "signed.pdf", "%PDF signed")
	e.Retryable, e.RetryAt, e.Attempts = true, time.Time{}, 0 // casebot retry
	if err := l.store.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	cycle(t, l.eng)
	if len(l.mailer.mails) != 1 || attached(l.mailer.mails[0])["signed.pdf application/pdf"] != "%PDF signed" {
		t.Errorf("mails %+v, want the signed letter sent after the retry", l.mailer.mails)
	}
}

// One call reads the files of every case whose mail is claimed in a pass, and each mail
// carries its own case's file.
func TestCaseFilesReadOnce(t *testing.T) {
	ids := []string{"500000000000011AAA", "500000000000012AAA", "500000000000013AAA"}
	l := newLetters(t, ids...)
	for _, id := range ids {
		l.crm.upload(id, "Signed termination letter", id+".pdf", "letter of "+id)
	}
	if rep := cycle(t, l.eng); rep.Done != 3 {
		t.Fatalf("report %+v, want 3 mails", rep)
	}
	if len(l.crm.fileCalls) != 1 || len(l.crm.fileCalls[0]) != 3 {
		t.Errorf("CaseFiles calls %v, want one for the 3 cases", l.crm.fileCalls)
	}
	for _, m := range l.mailer.mails {
		id := strings.TrimSuffix(strings.TrimPrefix(m.To[0], "it@"), ".example")
		if attached(m)[id+".pdf application/pdf"] != "letter of "+id {
			t.Errorf("mail to %s carries %v, want its case's letter", m.To[0], attached(m))
		}
	}
}

// Salesforce out of reach fails the mail for now, whether when its files are chosen or when
// their bytes are read; it goes out once Salesforce answers.
func TestCaseFilesUnreachable(t *testing.T) {
	l := newLetters(t, actionsCase)
	l.crm.upload(actionsCase, "Signed termination letter", "letter.pdf", "%PDF signed")
	unavailable := &bot.Error{Op: "query", Code: "SERVER_UNAVAILABLE", Retryable: true}
	for i, fail := range []*error{&l.crm.filesErr, &l.crm.dataErr} {
		*fail = unavailable
		cycle(t, l.eng)
		e := l.store.get(letterKey(actionsCase))
		if e.State != bot.StateFailed || !e.Retryable || !strings.Contains(e.Detail, "SERVER_UNAVAILABLE") || len(l.mailer.mails) != 0 {
			t.Fatalf("failure %d: entry %+v, want a retryable failure and no mail", i+1, e)
		}
		*fail = nil
		l.now = l.now.Add(time.Hour)
	}
	if len(l.crm.fileCalls) != 2 {
		t.Errorf("%d CaseFiles calls, want 2: asked again after it failed, not after the claim", len(l.crm.fileCalls))
	}
	cycle(t, l.eng)
	if e := l.store.get(letterKey(actionsCase)); e.State != bot.StateDone || len(l.mailer.mails) != 1 {
		t.Errorf("entry %+v with %d mails, want the mail sent", e, len(l.mailer.mails))
	}
}

// Bytes of another length than the claimed version's (a download cut short) are not sent:
// the mail fails for good rather than carry what was not decided.
func TestCaseFileOfAnotherSize(t *testing.T) {
	l := newLetters(t, actionsCase)
	version := l.crm.upload(actionsCase, "Signed termination letter", "letter.pdf", "%PDF signed")
	l.crm.data[version] = []byte("%PDF")
	cycle(t, l.eng)
	e := l.store.get(letterKey(actionsCase))
	if e.State != bot.StateFailed || e.Retryable || !strings.Contains(e.Detail, "FILE_SIZE: letter.pdf: read 4 bytes, the claimed version has 11") ||
		len(l.mailer.mails) != 0 {
		t.Errorf("entry %+v with %d mails, want a permanent FILE_SIZE failure", e, len(l.mailer.mails))
	}
}
