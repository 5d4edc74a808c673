package salesforce_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"casebot/bot"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
)

// inbound is an incoming mail's EmailMessage fields.
func inbound(messageID string) bot.Fields {
	return bot.Fields{
		"Subject": "Please end our agent service", "FromAddress": "it@lotus.example", "FromName": "Wei Ling Tan",
		"ToAddress": "terminations@casebot.example", "Incoming": true, "Status": "0", "MessageIdentifier": messageID,
		"TextBody": "We are moving our cloud billing in-house.\n", "HtmlBody": "<p>We are moving our cloud billing in-house.</p>",
		"Headers": "Message-ID: " + messageID + "\nFrom: Wei Ling Tan <it@lotus.example>\n",
	}
}

// logMail keeps one mail with LogMails.
func logMail(t *testing.T, crm *salesforce.CRM, w bot.MailWrite) (string, error) {
	t.Helper()
	res := crm.LogMails(t.Context(), []bot.MailWrite{w})
	if len(res) != 1 {
		t.Fatalf("LogMails returned %d results for one mail", len(res))
	}
	return res[0].CaseID, res[0].Err
}

// checkRecord checks that the record has the fields as given.
func (o *sbOrg) checkRecord(t *testing.T, object, id string, want bot.Fields) {
	t.Helper()
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	got, err := o.client.Get(t.Context(), object, id, names...)
	if err != nil {
		t.Fatalf("reading %s %s: %v", object, id, err)
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s %s: %s = %v, want %v", object, id, name, got[name], v)
		}
	}
}

// TestLogMailOpensCase: a mail that opens a case is kept in one call: the case with its
// fields, the mail on it and its files shared with it, each with its title, name and bytes.
func TestLogMailOpensCase(t *testing.T) {
	o := startSandbox(t, nil)
	account := o.create(t, "Account", bot.Fields{"Name": "Lotus Trading", "Email_Domains__c": "lotus.example"})[0]
	notice, devices := []byte("%PDF-1.7 notice\x00\xff\r\n"), []byte("guid\nf3b1c2d4\n")
	w := bot.MailWrite{
		Case: bot.Fields{"Subject": "Please end our agent service", "Description": "We are moving our cloud billing in-house.",
			"Origin": "Email", "Type": "Customer Removal", "Status": "New", "AccountId": account,
			"SuppliedEmail": "it@lotus.example", "SuppliedName": "Wei Ling Tan", "SuppliedCompany": "Lotus Trading"},
		Mail:  inbound("<end-1@lotus.example>"),
		Files: []bot.Attachment{{Name: "notice.pdf", ContentType: "application/pdf", Data: notice}, {Name: "devices.v2.csv", Data: devices}},
	}
	o.reset()
	caseID, err := logMail(t, o.crm, w)
	if err != nil {
		t.Fatalf("LogMails: %v", err)
	}
	if !bot.IsRecordID(caseID, "500") || len(caseID) != 18 {
		t.Fatalf("LogMails returned %q, want an 18-character case id", caseID)
	}
	if _, n := o.counts(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	o.checkRecord(t, "Case", caseID, w.Case)

	mails := o.ids(t, "SELECT Id FROM EmailMessage WHERE ParentId = "+salesforce.Quote(caseID))
	if len(mails) != 1 {
		t.Fatalf("%d mails on the case, want 1", len(mails))
	}
	o.checkRecord(t, "EmailMessage", mails[0], w.Mail)
	if got, err := o.crm.MailCases(t.Context(), []string{"<end-1@lotus.example>"}); err != nil || got["<end-1@lotus.example>"] != caseID {
		t.Errorf("MailCases = %v, %v; want the new case", got, err)
	}

	files, err := o.crm.CaseFiles(t.Context(), []string{caseID}) // through the ContentDocumentLinks
	if err != nil {
		t.Fatalf("CaseFiles: %v", err)
	}
	want := map[string]struct {
		title string
		data  []byte
	}{"notice.pdf": {"notice", notice}, "devices.v2.csv": {"devices.v2", devices}}
	if len(files[caseID]) != len(want) {
		t.Fatalf("files on the case: %+v, want %d", files, len(want))
	}
	for _, f := range files[caseID] {
		w, ok := want[f.Name]
		if !ok || f.Title != w.title || f.Size != int64(len(w.data)) {
			t.Errorf("file %+v, want %q titled %q of %d bytes", f, f.Name, w.title, len(w.data))
			continue
		}
		if data, err := o.crm.FileData(t.Context(), f.Version); err != nil || string(data) != string(w.data) {
			t.Errorf("the bytes of %s: %q, %v; want %q", f.Name, data, err, w.data)
		}
	}
}

// TestLogMailOnCase: a reply is kept on the case given, which it updates first; a case given
// by its 15-character id and nothing to update gets the mail and its file.
func TestLogMailOnCase(t *testing.T) {
	o := startSandbox(t, nil)
	id := o.create(t, "Case", bot.Fields{"Subject": "Terminate Lotus", "Status": "New"})[0]
	o.reset()
	got, err := logMail(t, o.crm, bot.MailWrite{CaseID: id, Case: bot.Fields{"Status": "Working"}, Mail: inbound("<end-2@lotus.example>")})
	if err != nil || got != id {
		t.Fatalf("LogMails = %q, %v; want %s", got, err, id)
	}
	if _, n := o.counts(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	o.checkRecord(t, "Case", id, bot.Fields{"Status": "Working", "Subject": "Terminate Lotus"})

	got, err = logMail(t, o.crm, bot.MailWrite{CaseID: id[:15], Mail: inbound("<end-3@lotus.example>"),
		Files: []bot.Attachment{{Name: "signed.pdf", Data: []byte("signed")}}})
	if err != nil || got != id[:15] {
		t.Fatalf("LogMails = %q, %v; want %s", got, err, id[:15])
	}
	if mails := o.ids(t, "SELECT Id FROM EmailMessage WHERE ParentId = "+salesforce.Quote(id)); len(mails) != 2 {
		t.Errorf("%d mails on the case, want 2", len(mails))
	}
	if files, err := o.crm.CaseFiles(t.Context(), []string{id}); err != nil || len(files[id]) != 1 || files[id][0].Title != "signed" {
		t.Errorf("files on the case: %+v, %v; want signed.pdf", files, err)
	}
}

// TestLogMailTitles: a file's title is its name without folder or extension, in at most the
// 255 characters of the field, cut between characters; the name is kept whole.
func TestLogMailTitles(t *testing.T) {
	o := startSandbox(t, nil)
	long := strings.Repeat("é", 300) + ".pdf"
	names := map[string]string{ // the name as given → the title
		`C:\Scans\notice.2026.pdf`: "notice.2026",
		"scans/devices.csv":        "devices",
		".profile":                 ".profile",
		"README":                   "README",
		long:                       strings.Repeat("é", 126) + "…",
	}
	var files []bot.Attachment
	for name := range names {
		files = append(files, bot.Attachment{Name: name, Data: []byte(name)})
	}
	id, err := logMail(t, o.crm, bot.MailWrite{Mail: inbound("<titles@lotus.example>"), Files: files})
	if err != nil {
		t.Fatalf("LogMails: %v", err)
	}
	got, err := o.crm.CaseFiles(t.Context(), []string{id})
	if err != nil || len(got[id]) != len(names) {
		t.Fatalf("CaseFiles = %v, %v; want %d files", got, err, len(names))
	}
	for _, f := range got[id] {
		data, err := o.crm.FileData(t.Context(), f.Version)
		if err != nil {
			t.Fatal(err)
		}
		name := string(data)
		if want := names[name]; f.Title != want || !utf8.ValidString(f.Title) || utf8.RuneCountInString(f.Title) > 255 {
			t.Errorf("%q titled %q, want %q", name, f.Title, want)
		}
		if f.Size != int64(len(name)) {
			t.Errorf("%q: %d bytes, want %d", name, f.Size, len(name))
		}
	}
}

// ids returns the ids of the records soql selects.
func (o *sbOrg) ids(t *testing.T, soql string) []string {
	t.Helper()
	var ids []string
	err := o.client.Query(t.Context(), soql, func(records []json.RawMessage) error {
		page, _ := json.Marshal(records) // a page of raw records is a JSON array as it is
		var recs []struct{ Id string }
		err := json.Unmarshal(page, &recs)
		for _, r := range recs {
			ids = append(ids, r.Id)
		}
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", soql, err)
	}
	return ids
}

// written counts the records LogMails writes.
func (o *sbOrg) written(t *testing.T) [4]int {
	t.Helper()
	var n [4]int
	for i, object := range []string{"Case", "EmailMessage", "ContentVersion", "ContentDocument"} {
		n[i] = len(o.ids(t, "SELECT Id FROM "+object))
	}
	return n
}

// TestLogMailAllOrNothing: whichever part Salesforce rejects, nothing of the mail is kept,
// not even the parts before it; the error is that part's, and permanent.
func TestLogMailAllOrNothing(t *testing.T) {
	long := strings.Repeat("n", 600) + ".pdf" // PathOnClient takes 500 characters
	tests := []struct {
		name     string
		onCase   bool
		w        bot.MailWrite
		wantPart string
	}{
		{"a new case's bad field", false, bot.MailWrite{Case: bot.Fields{"Subject": "x", "Nope__c": 1}, Mail: inbound("<a@x>")}, "(NewCase1)"},
		{"a bad mail after a new case", false, bot.MailWrite{Case: bot.Fields{"Subject": "x"},
			Mail: bot.Fields{"Status": "9", "MessageIdentifier": "<b@x>"}}, "(Mail1)"},
		{"a bad file last", false, bot.MailWrite{Case: bot.Fields{"Subject": "x"}, Mail: inbound("<c@x>"),
			Files: []bot.Attachment{{Name: "ok.txt", Data: []byte("ok")}, {Name: long, Data: []byte("x")}}}, "(File1_2)"},
		{"a bad update", true, bot.MailWrite{Case: bot.Fields{"Status": "Nope"}, Mail: inbound("<d@x>")}, "(UpdateCase1)"},
		{"a bad mail after an update", true, bot.MailWrite{Case: bot.Fields{"Status": "Working"}, Mail: bot.Fields{"Nope__c": true},
			Files: []bot.Attachment{{Name: "ok.txt", Data: []byte("ok")}}}, "(Mail1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startSandbox(t, nil)
			id := o.create(t, "Case", bot.Fields{"Subject": "Terminate Lotus", "Status": "New"})[0]
			if tt.onCase {
				tt.w.CaseID = id
			}
			before := o.written(t)
			_, err := logMail(t, o.crm, tt.w)
			var ae *salesforce.APIError
			if !errors.As(err, &ae) || bot.IsRetryable(err) || ae.Code == "PROCESSING_HALTED" || !strings.Contains(ae.Op, tt.wantPart) {
				t.Errorf("LogMails: %v, want a permanent error of %s", err, tt.wantPart)
			}
			if after := o.written(t); after != before {
				t.Errorf("cases, mails, versions and files: %v before, %v after; want no change", before, after)
			}
			o.checkRecord(t, "Case", id, bot.Fields{"Status": "New"})
		})
	}
}

// TestLogMailRefuses: what Salesforce could not take in one call, and what is not a mail on a
// case, is refused before any call, not even a login.
func TestLogMailRefuses(t *testing.T) {
	files := func(n, size int) []bot.Attachment {
		out := make([]bot.Attachment, n)
		for i := range out {
			out[i] = bot.Attachment{Name: fmt.Sprintf("f%d.txt", i), Data: make([]byte, size)}
		}
		return out
	}
	const caseID = "500000000000001AAA"
	tests := []struct {
		name string
		w    bot.MailWrite
		want string
	}{
		{"24 files on a new case", bot.MailWrite{Mail: inbound("<a@x>"), Files: files(24, 1)}, "24 files: a mail is kept all or nothing with at most 23"},
		{"24 files on a case updated", bot.MailWrite{CaseID: caseID, Case: bot.Fields{"Status": "Working"}, Mail: inbound("<a@x>"), Files: files(24, 1)}, "at most 23"},
		{"25 files on a case", bot.MailWrite{CaseID: caseID, Mail: inbound("<a@x>"), Files: files(25, 1)}, "at most 24"},
		{"too many bytes", bot.MailWrite{Mail: inbound("<a@x>"), Files: files(2, 14_100_000)}, "take 37600000 bytes base64-encoded: one call takes at most 37500000"},
		{"a file without a name", bot.MailWrite{Mail: inbound("<a@x>"), Files: []bot.Attachment{{Data: []byte("x")}}}, "file 1 has no name"},
		{"not a case", bot.MailWrite{CaseID: "001000000000001AAA", Mail: inbound("<a@x>")}, `invalid case id "001000000000001AAA"`},
		{"a mail naming its case", bot.MailWrite{Mail: bot.Fields{"parentid": caseID}}, "LogMails sets it"},
	}
	o := startSandbox(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := logMail(t, o.crm, tt.w)
			checkRefused(t, "LogMails", err, tt.want)
		})
	}
	if n := len(o.sb.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}

	// The most files that fit are taken.
	caseID23, err := logMail(t, o.crm, bot.MailWrite{Mail: inbound("<a@x>"), Files: files(23, 3)})
	if err != nil {
		t.Fatalf("LogMails with 23 files: %v", err)
	}
	if got, err := o.crm.CaseFiles(t.Context(), []string{caseID23}); err != nil || len(got[caseID23]) != 23 {
		t.Errorf("%d files on the case, %v; want 23", len(got[caseID23]), err)
	}
}

// TestLogMailFaults: a locked record fails the call with a retryable error and writes
// nothing; an outage is retried (nothing was done) and, when it lasts, retryable.
func TestLogMailFaults(t *testing.T) {
	w := bot.MailWrite{Case: bot.Fields{"Subject": "Please end our agent service"}, Mail: inbound("<f@lotus.example>"),
		Files: []bot.Attachment{{Name: "notice.pdf", Data: []byte("notice")}}}
	tests := []struct {
		fault     sandbox.FaultKind
		n         int
		wantCode  string // "" for success
		wantCalls int
	}{
		{sandbox.FaultLockRow, 1, "UNABLE_TO_LOCK_ROW", 1},
		{sandbox.FaultUnavailable, 4, "SERVER_UNAVAILABLE", 4}, // the first attempt and its three retries
		{sandbox.FaultUnavailable, 1, "", 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s×%d", tt.fault, tt.n), func(t *testing.T) {
			o := startSandbox(t, nil)
			before := o.written(t)
			o.reset()
			o.sb.Inject(tt.fault, tt.n)
			id, err := logMail(t, o.crm, w)
			if _, n := o.counts(); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			after := o.written(t)
			if tt.wantCode == "" {
				if err != nil || !salesforce.ValidID(id) || after[0] != before[0]+1 || after[1] != before[1]+1 || after[2] != before[2]+1 {
					t.Errorf("LogMails = %q, %v with %v written after %v; want the case, mail and file once", id, err, after, before)
				}
				return
			}
			var be *bot.Error
			if !errors.As(err, &be) || be.Code != tt.wantCode || !bot.IsRetryable(err) {
				t.Errorf("LogMails: %v, want a retryable %s", err, tt.wantCode)
			}
			if after != before {
				t.Errorf("%v written after %v, want nothing", after, before)
			}
		})
	}
}

// newCases are n mails that each open a case, with files files of size bytes each.
func newCases(prefix string, n, files, size int) []bot.MailWrite {
	ws := make([]bot.MailWrite, n)
	for i := range ws {
		ws[i] = bot.MailWrite{Case: bot.Fields{"Subject": fmt.Sprintf("%s %d", prefix, i)}, Mail: inbound(fmt.Sprintf("<%s-%d@lotus.example>", prefix, i))}
		for j := range files {
			ws[i].Files = append(ws[i].Files, bot.Attachment{Name: fmt.Sprintf("f%d.txt", j), Data: make([]byte, size)})
		}
	}
	return ws
}

// checkLogged checks that each mail of ws is logged once on a case of its own: that of its
// result.
func (o *sbOrg) checkLogged(t *testing.T, ws []bot.MailWrite, res []bot.MailResult) {
	t.Helper()
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.Mail["MessageIdentifier"].(string)
	}
	logged, err := o.crm.MailCases(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{}
	for i, id := range ids {
		if res[i].Err != nil || logged[id] == "" || logged[id] != res[i].CaseID {
			t.Errorf("mail %d: %+v, logged on %q", i, res[i], logged[id])
		}
		cases[logged[id]] = true
	}
	if len(cases) != len(ws) {
		t.Errorf("%d mails on %d cases", len(ws), len(cases))
	}
}

// TestLogMailsBacklog: a backlog goes in as few calls as the limits allow: 75 graphs a call,
// 500 nodes a call, 37.5 MB of base64 a call.
func TestLogMailsBacklog(t *testing.T) {
	for _, tt := range []struct {
		name      string
		ws        []bot.MailWrite
		wantCalls int
	}{
		{"160 mails of 3 nodes", newCases("graphs", 160, 1, 10), 3},   // 75 + 75 + 10
		{"100 mails of 12 nodes", newCases("nodes", 100, 10, 10), 3},  // 41 + 41 + 18
		{"3 mails of 17 MB base64", newCases("bytes", 3, 1, 13e6), 2}, // 2 + 1
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := startSandbox(t, nil)
			o.reset()
			res := o.crm.LogMails(t.Context(), tt.ws)
			if _, n := o.counts(); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			o.checkLogged(t, tt.ws, res)
		})
	}
}

// TestLogMailsRefusalInBatch: a mail Salesforce refuses, and one refused before any call, fail
// alone: the mails around them are kept, in one call, and nothing of the refused ones is.
func TestLogMailsRefusalInBatch(t *testing.T) {
	o := startSandbox(t, nil)
	ws := newCases("refusal", 5, 1, 10)
	ws[1].Case["Status"] = "Nope"                  // not a value of the picklist
	ws[3].Files = newCases("x", 1, 24, 1)[0].Files // more than a mail takes
	before := o.written(t)
	o.reset()
	res := o.crm.LogMails(t.Context(), ws)
	if _, n := o.counts(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	var ae *salesforce.APIError
	if err := res[1].Err; !errors.As(err, &ae) || bot.IsRetryable(err) || ae.Code == "PROCESSING_HALTED" || !strings.Contains(ae.Op, "(NewCase2)") {
		t.Errorf("mail 1: %v, want Salesforce's permanent refusal of its case", err)
	}
	checkRefused(t, "mail 3", res[3].Err, "24 files")
	kept := []bot.MailWrite{ws[0], ws[2], ws[4]}
	o.checkLogged(t, kept, []bot.MailResult{res[0], res[2], res[4]})
	if after := o.written(t); after[0]-before[0] != 3 || after[1]-before[1] != 3 || after[2]-before[2] != 3 {
		t.Errorf("cases, mails, versions and files: %v before, %v after; want 3 of each more", before, after)
	}
}

// TestLogMailsHalted: after 14 failed graphs Salesforce halts the rest of the call; those are
// sent again, so that each mail ends with its own answer.
func TestLogMailsHalted(t *testing.T) {
	o := startSandbox(t, nil)
	ws := newCases("halted", 25, 0, 0)
	for i := range 20 {
		ws[i].Mail["Status"] = "9" // not a status of an EmailMessage
	}
	o.reset()
	res := o.crm.LogMails(t.Context(), ws)
	if _, n := o.counts(); n != 2 {
		t.Errorf("%d calls, want 2: the halted graphs again", n)
	}
	for i := range 20 {
		var ae *salesforce.APIError
		if err := res[i].Err; !errors.As(err, &ae) || ae.Code == "PROCESSING_HALTED" || bot.IsRetryable(err) {
			t.Errorf("mail %d: %v, want its own permanent error", i, err)
		}
	}
	o.checkLogged(t, ws[20:], res[20:])
}

// TestLogMailsFaults: a locked record fails the graph that met it, retryably, and the others
// are kept; an outage that outlasts the retries fails every mail, retryably, after one call
// and its retries, not one per call.
func TestLogMailsFaults(t *testing.T) {
	o := startSandbox(t, nil)
	ws := newCases("lock", 3, 1, 10)
	o.reset()
	o.sb.Inject(sandbox.FaultLockRow, 1)
	res := o.crm.LogMails(t.Context(), ws)
	var be *bot.Error
	if !errors.As(res[0].Err, &be) || be.Code != "UNABLE_TO_LOCK_ROW" || !bot.IsRetryable(res[0].Err) {
		t.Errorf("mail 0: %v, want a retryable UNABLE_TO_LOCK_ROW", res[0].Err)
	}
	o.checkLogged(t, ws[1:], res[1:])

	ws = newCases("outage", 100, 0, 0)
	before := o.written(t)
	o.reset()
	o.sb.Inject(sandbox.FaultUnavailable, 4)
	res = o.crm.LogMails(t.Context(), ws)
	if _, n := o.counts(); n != 4 { // the first attempt and its three retries
		t.Errorf("%d calls, want 4", n)
	}
	for i, r := range res {
		if !errors.As(r.Err, &be) || be.Code != "SERVER_UNAVAILABLE" || !bot.IsRetryable(r.Err) {
			t.Errorf("mail %d: %v, want a retryable SERVER_UNAVAILABLE", i, r.Err)
		}
	}
	if after := o.written(t); after != before {
		t.Errorf("%v written after %v, want nothing", after, before)
	}
}
