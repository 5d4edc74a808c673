package engine

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"casebot/bot"
	"casebot/rules"
	"casebot/templates"
)

// filesPlaybook mails a file shipped beside it and attaches that file and a rendered list to
// the case.
const filesPlaybook = `playbook: files
title: Files
applies_to: {object: Case, where: "Type = 'Termination'"}
fields:
  Case:
    SuppliedEmail: string
    Termination_Confirmed__c: date
    Tenant_GUIDs__c: string
dates:
  day0: Case.Termination_Confirmed__c
steps:
  - id: instruct
    title: Removal script sent and filed
    at: day0 + 1d
    do:
      - email: {to: [Case.SuppliedEmail], template: notice, attach: [scripts/removal.ps1]}
      - attach: {file: scripts/removal.ps1}
      - attach: {template: guids, name: guids.txt, title: Tenant GUIDs}
`

const script = "# Removes the agent.\r\nUninstall-Agent -Force\r\n"

// newFiles returns an engine running filesPlaybook over one case, its files read from fsys.
func newFiles(t *testing.T, clock *time.Time, fsys fstest.MapFS) (*Engine, *fakeCRM, *memStore, *fakeMailer) {
	t.Helper()
	pbs, err := rules.Load(fsys, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load(fstest.MapFS{
		"email/notice.tmpl":  {Data: []byte("Subject: Removal\n\nThe script is attached.\n")},
		"comment/guids.tmpl": {Data: []byte(`GUIDs: {{.Case "Tenant_GUIDs__c"}}, listed {{.Now}}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	crm := &fakeCRM{fail: map[string]error{}, cases: []*bot.Case{{ID: actionsCase, Fields: bot.Fields{
		"SuppliedEmail": "it@globex.example", "Termination_Confirmed__c": "2026-11-02", "Tenant_GUIDs__c": "g-1, g-2"}}}}
	store, mailer := newMemStore(), &fakeMailer{}
	eng, err := New(Options{CRM: crm, Store: store, Chat: &fakeChat{fail: map[string]error{}}, Mailer: mailer,
		Playbooks: pbs, Templates: tmpl, Now: func() time.Time { return *clock }, MessageIDDomain: "bot.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	return eng, crm, store, mailer
}

func filesFS(script string) fstest.MapFS {
	return fstest.MapFS{"files.yaml": {Data: []byte(filesPlaybook)}, "files/scripts/removal.ps1": {Data: []byte(script)}}
}

func filesKey(action int) string { return bot.EffectKey("files", "instruct", action, actionsCase) }

// The mail carries the shipped file with its type; the case gets the file and the list
// rendered at claim time as ContentVersions published to it, each ending its Description with
// its marker.
func TestMailAndAttachCarryFiles(t *testing.T) {
	now := time.Date(2026, 11, 3, 15, 0, 0, 0, time.UTC)
	eng, crm, _, mailer := newFiles(t, &now, filesFS(script))
	if rep := cycle(t, eng); rep.Done != 3 || rep.Failed != 0 {
		t.Fatalf("report %+v, want 3 effects done", rep)
	}
	want := []bot.Attachment{{Name: "removal.ps1", ContentType: "text/plain; charset=utf-8", Data: []byte(script)}}
	if len(mailer.mails) != 1 || !slices.EqualFunc(mailer.mails[0].Attachments, want, func(a, b bot.Attachment) bool {
		return a.Name == b.Name && a.ContentType == b.ContentType && string(a.Data) == string(b.Data)
	}) {
		t.Fatalf("mails %+v, want one with the script attached", mailer.mails)
	}
	type file struct{ title, name, data string }
	var got []file
	for _, w := range crm.created {
		if w.Object != "ContentVersion" {
			continue
		}
		data, _ := base64.StdEncoding.DecodeString(w.Fields["VersionData"].(string))
		if w.Fields["FirstPublishLocationId"] != actionsCase || !strings.HasSuffix(w.Fields["Description"].(string), "["+bot.CommentMarker(bot.EffectKey("files", "instruct", len(got)+2, actionsCase))+"]") {
			t.Errorf("file %v is not published to the case with its marker", w.Fields)
		}
		got = append(got, file{w.Fields["Title"].(string), w.Fields["PathOnClient"].(string), string(data)})
	}
	wantFiles := []file{{"removal", "removal.ps1", script}, {"Tenant GUIDs", "guids.txt", "GUIDs: g-1, g-2, listed Tue 3 Nov 2026 15:00 UTC\n"}}
	if !slices.Equal(got, wantFiles) {
		t.Errorf("files %q, want %q", got, wantFiles)
	}
}

// An attach whose outcome a crash kept from the ledger is found on the case by its marker on
// restart, not attached twice.
func TestInterruptedAttachIsFound(t *testing.T) {
	now := time.Date(2026, 11, 3, 15, 0, 0, 0, time.UTC)
	eng, crm, store, _ := newFiles(t, &now, filesFS(script))
	restart := crashOnDone(t, eng, filesKey(3))
	eng.Cycle(t.Context())
	if e := store.get(filesKey(3)); e.State != bot.StateClaimed {
		t.Fatalf("before the restart: %+v, want claimed", e)
	}
	finds := len(crm.finds)
	cycle(t, restart())
	var ids []string
	for _, w := range crm.created {
		if w.Object == "ContentVersion" && w.Fields["PathOnClient"] == "guids.txt" {
			ids = append(ids, w.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d GUID lists attached, want 1", len(ids))
	}
	if e := store.get(filesKey(3)); e.State != bot.StateDone || e.Result != ids[0] {
		t.Errorf("after the restart: %+v, want done with %s", e, ids[0])
	}
	if !slices.ContainsFunc(crm.finds[finds:], func(f bot.FindQuery) bool { return len(f.Files[actionsCase]) == 1 }) {
		t.Errorf("finds %+v, want the file's marker asked for", crm.finds[finds:])
	}
}

// A mail claimed with a file that the playbooks no longer ship as claimed fails for good:
// what was decided is sent, or nothing.
func TestChangedShippedFileFailsTheClaim(t *testing.T) {
	now := time.Date(2026, 11, 3, 15, 0, 0, 0, time.UTC)
	eng, _, store, mailer := newFiles(t, &now, filesFS(script))
	mailer.fail = &bot.Error{Op: "send", Code: "421", Retryable: true}
	cycle(t, eng)
	pbs, err := rules.Load(filesFS("# Another script.\r\n"), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := eng.opts
	opts.Playbooks = pbs // a new release whose script differs
	changed, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	cycle(t, changed)
	e := store.get(filesKey(1))
	if e.State != bot.StateFailed || e.Retryable || !strings.Contains(e.Detail, "FILE_CHANGED") || len(mailer.mails) != 0 {
		t.Errorf("mail entry %+v with %d mails sent, want a permanent FILE_CHANGED failure", e, len(mailer.mails))
	}
}
