package salesforce_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"casebot/bot"
	"casebot/connectors/salesforce"
)

// comment is a CaseComment body that ends with the marker of key, as casebot writes them.
func comment(text, key string) bot.Fields {
	return bot.Fields{"CommentBody": text + "\n\n" + bot.CommentMarker(key)}
}

// on puts a record on a case.
func on(caseID string, f bot.Fields) bot.Fields {
	f["ParentId"] = caseID
	return f
}

func email(caseID, messageID string) bot.Fields {
	return bot.Fields{"ParentId": caseID, "Status": "3", "Subject": "Termination", "MessageIdentifier": messageID}
}

// TestFind: Find finds the comments and logged mails an earlier attempt created, by marker
// and Message-ID, and nothing else: not a marker quoted inside a comment, not a marker on
// another case, not a comment older than the claim (less the clock skew it allows).
func TestFind(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Case", bot.Fields{"Subject": "A"}, bot.Fields{"Subject": "B"})
	a, b := ids[0], ids[1]
	claimed := sbNow.Add(time.Hour)
	m := bot.CommentMarker

	old := o.create(t, "CaseComment", on(b, comment("Before the claim.", "old")))[0]
	o.clock.Set(claimed.Add(-3 * time.Minute)) // within the clock skew before the claim
	skewed := o.create(t, "CaseComment", on(b, comment("Just before the claim.", "skewed")))[0]
	o.clock.Set(claimed)
	found := o.create(t, "CaseComment",
		on(a, comment("Legal was told.", "told")),
		on(a, bot.Fields{"CommentBody": "Asked about " + m("quoted") + " on the phone.\nNothing to do."}),
		on(a, comment("On the wrong case.", "cross")),
		on(a, comment("Told twice.", "told")), // a later duplicate: the first one is found
	)
	mails := o.create(t, "EmailMessage", email(a, "<k1@casebot.example>"), email(b, "<o'brien+k2@casebot.example>"))

	o.reset()
	q := bot.FindQuery{
		Comments: map[string][]string{
			a: {m("told"), m("quoted"), m("absent")},
			b: {m("old"), m("skewed"), m("cross")},
		},
		MessageIDs: []string{"<k1@casebot.example>", "<o'brien+k2@casebot.example>", "<k3@casebot.example>"},
		Since:      claimed,
	}
	got, err := o.crm.Find(t.Context(), q)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	want := map[string]string{
		m("told"):                      found[0],
		m("skewed"):                    skewed,
		"<k1@casebot.example>":         mails[0],
		"<o'brien+k2@casebot.example>": mails[1],
	}
	if !maps.Equal(got, want) {
		t.Errorf("Find = %v, want %v", got, want)
	}
	if _, n := o.counts(); n != 2 {
		t.Errorf("%d calls, want 2: one query for the mails, one for the comments", n)
	}

	// Without a time every comment counts; a case may be named by its 15-character id.
	q = bot.FindQuery{Comments: map[string][]string{b[:15]: {m("old")}}}
	if got, err := o.crm.Find(t.Context(), q); err != nil || !maps.Equal(got, map[string]string{m("old"): old}) {
		t.Errorf("Find without Since = %v, %v; want the old comment %s", got, err, old)
	}
}

// TestFindWithoutQuestions: nothing to look for costs no call, not even a login; a malformed
// case id is refused before any call.
func TestFindWithoutQuestions(t *testing.T) {
	o := startSandbox(t, nil)
	for _, q := range []bot.FindQuery{{}, {Comments: map[string][]string{"500000000000001AAA": nil}, MessageIDs: []string{""}}} {
		got, err := o.crm.Find(t.Context(), q)
		if err != nil || len(got) != 0 {
			t.Errorf("Find(%+v) = %v, %v; want nothing", q, got, err)
		}
	}
	for _, id := range []string{"500' OR Id != null", "001000000000001AAA", ""} {
		_, err := o.crm.Find(t.Context(), bot.FindQuery{Comments: map[string][]string{id: {"casebot ref x"}}, MessageIDs: []string{"<k@casebot.example>"}})
		var be *bot.Error
		if !errors.As(err, &be) || be.Code != "INVALID_INPUT" || be.Retryable {
			t.Errorf("Find on case %q: %v, want INVALID_INPUT", id, err)
		}
	}
	if n := len(o.sb.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestFindChunksAndPages: many cases and Message-IDs take several queries, each with a short
// URL, and a case with more comments than a page holds is read to its last page.
func TestFindChunksAndPages(t *testing.T) {
	o := startSandbox(t, nil)
	cases := make([]bot.Fields, 250)
	for i := range cases {
		cases[i] = bot.Fields{"Subject": fmt.Sprintf("case %d", i)}
	}
	caseIDs := o.create(t, "Case", cases...)
	comments := make([]bot.Fields, 2100) // more than one page of 2,000
	for i := range comments {
		comments[i] = on(caseIDs[0], comment(fmt.Sprintf("Note %d.", i), fmt.Sprint(i)))
	}
	commentIDs := o.create(t, "CaseComment", comments...)
	mails := make([]bot.Fields, 300)
	q := bot.FindQuery{Comments: map[string][]string{}, Since: sbNow}
	for i := range mails {
		id := fmt.Sprintf("<mail-%d@casebot.example>", i)
		mails[i] = email(caseIDs[1], id)
		q.MessageIDs = append(q.MessageIDs, id)
	}
	mailIDs := o.create(t, "EmailMessage", mails...)

	want := map[string]string{}
	for _, i := range []int{0, 1999, 2099} {
		q.Comments[caseIDs[0]] = append(q.Comments[caseIDs[0]], bot.CommentMarker(fmt.Sprint(i)))
		want[bot.CommentMarker(fmt.Sprint(i))] = commentIDs[i]
	}
	for _, id := range caseIDs[1:] {
		q.Comments[id] = []string{bot.CommentMarker("absent")}
	}
	for i, id := range q.MessageIDs {
		want[id] = mailIDs[i]
	}
	o.reset()
	got, err := o.crm.Find(t.Context(), q)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("Find found %d records, want %d", len(got), len(want))
	}
	var queries, pages int
	for _, r := range o.sb.Requests() {
		switch {
		case strings.HasSuffix(r.Path, "/query"):
			queries++
		case strings.Contains(r.Path, "/query/"):
			pages++
		}
	}
	// 300 Message-IDs take three IN lists and 250 case ids two; the comments a second page.
	if queries != 5 || pages != 1 {
		t.Errorf("%d queries and %d further pages, want 5 and 1", queries, pages)
	}
}

// TestFindFiles: a file casebot attaches through Apply, a ContentVersion published to the
// case with its marker ending the Description, is linked to the case as Salesforce links it
// and found again by its marker; a file on another case, or one quoting the marker
// elsewhere, is not.
func TestFindFiles(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Case", bot.Fields{"Subject": "A"}, bot.Fields{"Subject": "B"})
	a, b := ids[0], ids[1]
	file := func(caseID, description string) bot.Fields {
		return bot.Fields{"Title": "Deactivated GUIDs", "PathOnClient": "guids.txt", "VersionData": "ZjNiMWMyZDQK", // "f3b1c2d4\n"
			"FirstPublishLocationId": caseID, "Description": description}
	}
	m := bot.CommentMarker
	files := o.create(t, "ContentVersion",
		file(a, "Attached by casebot.\n\n["+m("guids")+"]"),
		file(b, "Attached by casebot.\n\n["+m("other")+"]"),
		file(a, "About "+m("quoted")+".\nA person's file."),
	)
	linked := 0
	err := o.client.Query(t.Context(), "SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId = "+salesforce.Quote(o.document(t, files[0]))+
		" AND LinkedEntityId = "+salesforce.Quote(a), func(records []json.RawMessage) error {
		linked += len(records)
		return nil
	})
	if err != nil || linked != 1 {
		t.Fatalf("links of the file to its case: %d, %v; want 1", linked, err)
	}
	o.reset()
	got, err := o.crm.Find(t.Context(), bot.FindQuery{
		Files: map[string][]string{a: {m("guids"), m("other"), m("quoted")}, b: {m("other")}},
		Since: sbNow,
	})
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if want := map[string]string{m("guids"): files[0], m("other"): files[1]}; !maps.Equal(got, want) {
		t.Errorf("Find = %v, want %v", got, want)
	}
	if _, n := o.counts(); n != 1 {
		t.Errorf("%d calls, want 1: one query for the files of both cases", n)
	}
}

// TestMailCases: logged mails are found by Message-ID without regard to case, under the
// Message-IDs as given, with their cases' 18-character ids; a Message-ID logged on two cases
// gives the case it was logged on first, whatever the ids' order.
func TestMailCases(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Case", bot.Fields{"Subject": "A"}, bot.Fields{"Subject": "B"})
	a, b := ids[0], ids[1]
	o.create(t, "EmailMessage",
		email(a, "<m1@casebot.example>"),
		email(b[:15], "<M2@Customer.example>"),
		bot.Fields{"Status": "0", "MessageIdentifier": "<orphan@customer.example>"},
	)
	// Logged on a first: the older has the lower id in <dup1> and the higher in <dup2>.
	o.clock.Set(sbNow.Add(time.Hour))
	o.create(t, "EmailMessage", email(a, "<dup1@customer.example>"))
	o.clock.Set(sbNow.Add(2 * time.Hour))
	o.create(t, "EmailMessage", email(b, "<dup1@customer.example>"), email(b, "<dup2@customer.example>"))
	o.clock.Set(sbNow.Add(time.Hour))
	o.create(t, "EmailMessage", email(a, "<dup2@customer.example>"))

	o.reset()
	got, err := o.crm.MailCases(t.Context(), []string{"<m1@casebot.example>", "<m2@customer.example>", "<M2@CUSTOMER.EXAMPLE>",
		"<dup1@customer.example>", "<dup2@customer.example>", "<orphan@customer.example>", "<unknown@customer.example>", ""})
	if err != nil {
		t.Fatalf("MailCases: %v", err)
	}
	want := map[string]string{"<m1@casebot.example>": a, "<m2@customer.example>": b, "<M2@CUSTOMER.EXAMPLE>": b,
		"<dup1@customer.example>": a, "<dup2@customer.example>": a}
	if !maps.Equal(got, want) {
		t.Errorf("MailCases = %v, want %v", got, want)
	}
	if n := o.queries(); n != 1 {
		t.Errorf("%d queries, want 1", n)
	}
}
