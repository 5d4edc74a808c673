package playtest

import (
	"encoding/base64"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"casebot/bot"
	"casebot/templates"
)

// A test puts files on its case; a mail finds them there, and the files casebot attached,
// or fails for good when the one it needs is missing (testdata/letters).
func TestCaseFiles(t *testing.T) {
	tmpl, err := templates.Load(fstest.MapFS{
		"email/notice.tmpl":  {Data: []byte("Subject: Your letter\n\nSigned, with the GUIDs.\n")},
		"comment/guids.tmpl": {Data: []byte("g-1, g-2")},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), Options{FS: os.DirFS("testdata/letters"), Templates: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tests) != 2 {
		t.Fatalf("%d tests, want 2", len(rep.Tests))
	}
	for _, r := range rep.Tests {
		if !r.Passed() {
			t.Errorf("%s: %s", r.Name, strings.Join(r.Problems, "\n"))
		}
	}
}

// The world's files are those the test put on the case and those casebot attached, newest
// first, with their bytes.
func TestWorldFiles(t *testing.T) {
	m := newCRM(bot.Case{ID: defaultCaseID}, nil)
	m.addFiles([]file{{CaseFile: bot.CaseFile{Version: "068000000000000001", Title: "Letter", Name: "letter.pdf", Size: 4}, data: []byte("%PDF")}})
	res, err := m.Apply(t.Context(), []bot.Write{{Op: bot.OpCreate, Object: "ContentVersion", Fields: bot.Fields{
		"Title": "GUIDs", "PathOnClient": "guids.txt", "VersionData": base64.StdEncoding.EncodeToString([]byte("g-1")),
		"FirstPublishLocationId": defaultCaseID, "Description": "Attached by casebot."}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("attaching: %v, %+v", err, res)
	}
	got, err := m.CaseFiles(t.Context(), []string{defaultCaseID, "500000000000009AAA"})
	want := map[string][]bot.CaseFile{defaultCaseID: {{Version: res[0].ID, Title: "GUIDs", Name: "guids.txt", Size: 3},
		{Version: "068000000000000001", Title: "Letter", Name: "letter.pdf", Size: 4}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("CaseFiles = %+v, %v; want %+v", got, err, want)
	}
	if res[0].ID == "068000000000000001" {
		t.Errorf("casebot's file got the id of the test's")
	}
	if data, err := m.FileData(t.Context(), res[0].ID); err != nil || string(data) != "g-1" {
		t.Errorf("FileData = %q, %v; want the attached bytes", data, err)
	}
}
