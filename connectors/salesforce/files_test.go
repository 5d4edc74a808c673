package salesforce_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
)

// upload puts a file on a case as a person does, or, with doc, a new version of a file, and
// returns the version's id.
func (o *sbOrg) upload(t *testing.T, caseID, doc, title, path string, data []byte) string {
	t.Helper()
	f := bot.Fields{"Title": title, "PathOnClient": path, "VersionData": base64.StdEncoding.EncodeToString(data)}
	if doc != "" {
		f["ContentDocumentId"] = doc
	} else {
		f["FirstPublishLocationId"] = caseID
	}
	return o.create(t, "ContentVersion", f)[0]
}

// document returns the id of the file a version belongs to.
func (o *sbOrg) document(t *testing.T, version string) string {
	t.Helper()
	var doc string
	err := o.client.Query(t.Context(), "SELECT ContentDocumentId FROM ContentVersion WHERE Id = "+salesforce.Quote(version),
		func(records []json.RawMessage) error {
			var rec struct{ ContentDocumentId string }
			err := json.Unmarshal(records[0], &rec)
			doc = rec.ContentDocumentId
			return err
		})
	if err != nil {
		t.Fatalf("reading the document of %s: %v", version, err)
	}
	return doc
}

// TestCaseFiles: CaseFiles reads the files on several cases in one query, each file in its
// latest version with its title, name and size, newest first, under the case ids as asked
// (15 or 18 characters); FileData reads the bytes of any version, the older ones too.
func TestCaseFiles(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Case", bot.Fields{"Subject": "A"}, bot.Fields{"Subject": "B"}, bot.Fields{"Subject": "C"})
	a, b, c := ids[0], ids[1], ids[2]
	unsigned, signed := []byte("%PDF-1.7 unsigned\x00\xff"), []byte("%PDF-1.7 signed\x00\xfe\r\n")
	letter1 := o.upload(t, a, "", "Termination letter", "C:\\Letters\\letter.pdf", unsigned)
	o.clock.Set(sbNow.Add(time.Hour))
	log := o.upload(t, a, "", "Removal log", "removal.log", []byte("removed\n"))
	other := o.upload(t, b, "", "Termination letter", "b.pdf", []byte("B's"))
	o.clock.Set(sbNow.Add(2 * time.Hour))
	letter2 := o.upload(t, a, o.document(t, letter1), "Termination letter, signed", "letters/signed.pdf", signed)

	o.reset()
	got, err := o.crm.CaseFiles(t.Context(), []string{a, b[:15], c})
	if err != nil {
		t.Fatalf("CaseFiles: %v", err)
	}
	want := map[string][]bot.CaseFile{
		a: {{Version: letter2, Title: "Termination letter, signed", Name: "signed.pdf", Size: int64(len(signed))},
			{Version: log, Title: "Removal log", Name: "removal.log", Size: 8}},
		b[:15]: {{Version: other, Title: "Termination letter", Name: "b.pdf", Size: 3}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CaseFiles =\n %+v\nwant\n %+v", got, want)
	}
	if _, n := o.counts(); n != 1 {
		t.Errorf("%d calls, want 1: one query for the files of every case", n)
	}

	for version, data := range map[string][]byte{letter1: unsigned, letter2: signed} {
		if got, err := o.crm.FileData(t.Context(), version); err != nil || string(got) != string(data) {
			t.Errorf("FileData(%s) = %q, %v; want %q", version, got, err, data)
		}
	}
}

// TestCaseFilesChunks: the ids of many cases go in several queries, each with a short URL.
func TestCaseFilesChunks(t *testing.T) {
	o := startSandbox(t, nil)
	a := o.create(t, "Case", bot.Fields{"Subject": "A"})[0]
	version := o.upload(t, a, "", "Letter", "letter.txt", []byte("hello"))
	ids := []string{a}
	for i := range 499 {
		ids = append(ids, fmt.Sprintf("500%012dAAA", i))
	}
	o.reset()
	got, err := o.crm.CaseFiles(t.Context(), ids)
	if err != nil {
		t.Fatalf("CaseFiles: %v", err)
	}
	if len(got) != 1 || len(got[a]) != 1 || got[a][0].Version != version {
		t.Errorf("CaseFiles = %+v, want the one file on %s", got, a)
	}
	queries := 0
	for _, r := range o.sb.Requests() {
		if strings.HasSuffix(r.Path, "/query") {
			queries++
		}
	}
	// 500 quoted ids of 20 characters and their separators: 4,000 characters a query.
	if queries != 3 {
		t.Errorf("%d queries, want 3", queries)
	}
}

// TestFileDataErrors: reading a file's bytes fails as every call fails: an outage is retried
// and then retryable, a version that is not there is not, and a bad id is not sent at all.
func TestFileDataErrors(t *testing.T) {
	o := startSandbox(t, nil)
	a := o.create(t, "Case", bot.Fields{"Subject": "A"})[0]
	version := o.upload(t, a, "", "Letter", "letter.txt", []byte("hello"))

	o.reset()
	o.sb.Inject(sandbox.FaultUnavailable, 1)
	if data, err := o.crm.FileData(t.Context(), version); err != nil || string(data) != "hello" {
		t.Errorf("after one outage: %q, %v; want the bytes", data, err)
	}
	if len(o.Slept()) != 1 {
		t.Errorf("slept %v, want one backoff", o.Slept())
	}
	o.sb.Inject(sandbox.FaultUnavailable, 4) // the first attempt and its three retries
	if _, err := o.crm.FileData(t.Context(), version); !bot.IsRetryable(err) {
		t.Errorf("during an outage: %v, want a retryable error", err)
	}

	var be *bot.Error
	if _, err := o.crm.FileData(t.Context(), "068000000000000AAA"); !errors.As(err, &be) || be.Code != "NOT_FOUND" || be.Retryable {
		t.Errorf("an unknown version: %v, want a permanent NOT_FOUND", err)
	}
	o.reset()
	for _, id := range []string{"", "068' OR Id != '", "../../limits"} {
		if _, err := o.crm.FileData(t.Context(), id); !errors.As(err, &be) || be.Code != "INVALID_INPUT" {
			t.Errorf("FileData(%q): %v, want INVALID_INPUT", id, err)
		}
		if _, err := o.crm.CaseFiles(t.Context(), []string{id}); !errors.As(err, &be) || be.Code != "INVALID_INPUT" {
			t.Errorf("CaseFiles(%q): %v, want INVALID_INPUT", id, err)
		}
	}
	if _, n := o.counts(); n != 0 {
		t.Errorf("%d calls with bad ids, want none", n)
	}
}
