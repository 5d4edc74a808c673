package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"casebot/bot"
)

func TestRecordCalls(t *testing.T) {
	const p = "/services/data/v62.0/sobjects"
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.EscapedPath() {
		case "GET " + p + "/Case/500000000000001AAA":
			answer(200, `{"attributes":{"type":"Case","url":"/services/data/v62.0/sobjects/Case/500000000000001AAA"},"Id":"500000000000001AAA","Status":"New","IsClosed":false,"Priority":null}`)(w, r)
		case "POST " + p + "/Task":
			answer(201, `{"id":"00T000000000001AAA","success":true,"errors":[]}`)(w, r)
		case "PATCH " + p + "/Case/500000000000001AAA", "DELETE " + p + "/Task/00T000000000001AAA":
			w.WriteHeader(http.StatusNoContent)
		case "PATCH " + p + "/Task/Casebot_Key__c/sop%2Fattrition%2F1%2F500000000000001AAA":
			answer(201, `{"id":"00T000000000002AAA","success":true,"errors":[],"created":true}`)(w, r)
		case "PATCH " + p + "/Task/Casebot_Key__c/existing":
			answer(200, `{"id":"00T000000000003AAA","success":true,"errors":[],"created":false}`)(w, r)
		case "PATCH " + p + "/Task/Casebot_Key__c/twice":
			answer(300, `["/services/data/v62.0/sobjects/Task/00T000000000004AAA","/services/data/v62.0/sobjects/Task/00T000000000005AAA"]`)(w, r)
		default:
			sfErrors(w, 404, "NOT_FOUND", "The requested resource does not exist")
		}
	})
	env := newEnv(t, org, nil)
	c, ctx := env.client, t.Context()

	rec, err := c.Get(ctx, "Case", "500000000000001AAA", "Status", "IsClosed", "Priority")
	want := map[string]any{"Id": "500000000000001AAA", "Status": "New", "IsClosed": false, "Priority": nil}
	if err != nil || !reflect.DeepEqual(rec, want) {
		t.Errorf("Get = %v, %v; want %v", rec, err, want)
	}
	id, err := c.Create(ctx, "Task", map[string]any{"Subject": "Call", "WhatId": "500000000000001AAA"})
	if err != nil || id != "00T000000000001AAA" {
		t.Errorf("Create = %q, %v", id, err)
	}
	if err := c.Update(ctx, "Case", "500000000000001AAA", map[string]any{"Status": "Closed"}); err != nil {
		t.Errorf("Update: %v", err)
	}
	if err := c.Delete(ctx, "Task", "00T000000000001AAA"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	id, created, err := c.Upsert(ctx, "Task", "Casebot_Key__c", "sop/attrition/1/500000000000001AAA", map[string]any{"Subject": "Call"})
	if err != nil || id != "00T000000000002AAA" || !created {
		t.Errorf("Upsert new = %q, %v, %v", id, created, err)
	}
	id, created, err = c.Upsert(ctx, "Task", "Casebot_Key__c", "existing", map[string]any{"Subject": "Call"})
	if err != nil || id != "00T000000000003AAA" || created {
		t.Errorf("Upsert existing = %q, %v, %v", id, created, err)
	}
	_, _, err = c.Upsert(ctx, "Task", "Casebot_Key__c", "twice", map[string]any{"Subject": "Call"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "MULTIPLE_CHOICES" || bot.IsRetryable(err) {
		t.Errorf("Upsert matching two records: %v", err)
	}

	calls := org.dataCalls()
	want2 := []struct{ method, query, body string }{
		{"GET", "fields=Status%2CIsClosed%2CPriority", ""},
		{"POST", "", `{"Subject":"Call","WhatId":"500000000000001AAA"}`},
		{"PATCH", "", `{"Status":"Closed"}`},
		{"DELETE", "", ""},
		{"PATCH", "", `{"Subject":"Call"}`},
		{"PATCH", "", `{"Subject":"Call"}`},
		{"PATCH", "", `{"Subject":"Call"}`},
	}
	if len(calls) != len(want2) {
		t.Fatalf("%d calls, want %d", len(calls), len(want2))
	}
	for i, w := range want2 {
		got := calls[i]
		if got.Method != w.method || got.RawQuery != w.query || string(got.Body) != w.body {
			t.Errorf("call %d = %s ?%s %s, want %s ?%s %s", i, got.Method, got.RawQuery, got.Body, w.method, w.query, w.body)
		}
	}

	// Names and ids that could change the URL are refused before any call.
	refused := []error{
		func() error { _, err := c.Get(ctx, "Case", "500000000000001AAA/../../User"); return err }(),
		func() error { _, err := c.Get(ctx, "Case", "500000000000001AAA", "Status,(SELECT"); return err }(),
		func() error { _, err := c.Create(ctx, "Task/../User", nil); return err }(),
		c.Update(ctx, "Case", "500?x=1", nil),
		func() error { _, _, err := c.Upsert(ctx, "Task", "Key__c/x", "v", nil); return err }(),
		func() error { _, _, err := c.Upsert(ctx, "Task", "Key__c", "", nil); return err }(),
		func() error { _, err := c.DeleteRecords(ctx, []string{"00T000000000001AAA", "bad"}); return err }(),
		func() error { _, err := c.UpdateRecords(ctx, []Record{{Object: "Case"}}); return err }(),
		func() error {
			_, err := c.CreateRecords(ctx, []Record{{Object: "Task", ID: "00T000000000001AAA"}})
			return err
		}(),
		c.QueryMore(ctx, "https://evil.example.com/services/data/v62.0/query/01g-2", nil),
	}
	for i, err := range refused {
		var be *bot.Error
		if !errors.As(err, &be) || be.Code != "INVALID_INPUT" || be.Retryable {
			t.Errorf("refused call %d: error = %v, want a permanent INVALID_INPUT", i, err)
		}
	}
	if n := len(org.dataCalls()); n != len(want2) {
		t.Errorf("refused calls reached the server: %d calls", n-len(want2))
	}
}

// collectionBody is what a client sends to /composite/sobjects.
type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// collectionsHandler answers sObject Collections creates and updates: it fails a record whose
// Subject starts with "fail:" with the status code after the colon, and gives created records
// ids 00T + their Subject's number.
func collectionsHandler(w http.ResponseWriter, r *http.Request) {
	serveCollection(w, r, func(rec map[string]any) map[string]any { return collectionResult(r.Method, rec) })
}

// lockingCollections is collectionsHandler, but for the records whose Subjects are given: it
// answers UNABLE_TO_LOCK_ROW for each the first time it sees it.
func lockingCollections(subjects ...string) http.HandlerFunc {
	var mu sync.Mutex
	locked := map[string]bool{}
	for _, s := range subjects {
		locked[s] = true
	}
	return func(w http.ResponseWriter, r *http.Request) {
		serveCollection(w, r, func(rec map[string]any) map[string]any {
			subject, _ := rec["Subject"].(string)
			mu.Lock()
			lock := locked[subject]
			delete(locked, subject)
			mu.Unlock()
			if lock {
				return failedResult("UNABLE_TO_LOCK_ROW")
			}
			return collectionResult(r.Method, rec)
		})
	}
}

// serveCollection answers a collection create or update with result's answer for each record.
func serveCollection(w http.ResponseWriter, r *http.Request, result func(rec map[string]any) map[string]any) {
	if r.URL.Path != "/services/data/v62.0/composite/sobjects" || (r.Method != http.MethodPost && r.Method != http.MethodPatch) {
		sfErrors(w, 404, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	var body collectionBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		sfErrors(w, 400, "JSON_PARSER_ERROR", err.Error())
		return
	}
	if len(body.Records) > collectionSize {
		sfErrors(w, 400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
		return
	}
	out := make([]map[string]any, len(body.Records))
	for i, rec := range body.Records {
		out[i] = result(rec)
	}
	writeJSON(w, 200, out)
}

func collectionResult(method string, rec map[string]any) map[string]any {
	subject, _ := rec["Subject"].(string)
	if code, ok := strings.CutPrefix(subject, "fail:"); ok {
		return failedResult(code)
	}
	id, _ := rec["Id"].(string)
	if method == http.MethodPost {
		var n int
		fmt.Sscanf(subject, "t%d", &n)
		id = fmt.Sprintf("00T%015d", n)
	}
	return map[string]any{"id": id, "success": true, "errors": []any{}}
}

func failedResult(code string) map[string]any {
	return map[string]any{"success": false, "errors": []map[string]any{
		{"statusCode": code, "message": "failed: " + code, "fields": []string{"Subject"}},
	}}
}

// seq returns the ints from lo up to hi.
func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// subjects returns n Subjects "t0", "t1", … that collectionsHandler accepts, but for the
// indexes in fail, which it fails with the status code given.
func subjects(n int, fail map[int]string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%d", i)
		if code, ok := fail[i]; ok {
			out[i] = "fail:" + code
		}
	}
	return out
}

// sentRecords returns the records of the collection calls o received.
func sentRecords(t *testing.T, o *fakeOrg) (perCall [][]map[string]any) {
	t.Helper()
	for _, c := range o.dataCalls() {
		var body collectionBody
		if err := json.Unmarshal(c.Body, &body); err != nil {
			t.Fatalf("collection call body: %v", err)
		}
		if body.AllOrNone {
			t.Error("allOrNone is true; want false")
		}
		perCall = append(perCall, body.Records)
	}
	return perCall
}

func TestCreateRecordsChunksAndMapsErrors(t *testing.T) {
	org := newOrg(t, lockingCollections("t333", "t334"))
	env := newEnv(t, org, nil)
	records := make([]Record, 450)
	for i, subject := range subjects(len(records), map[int]string{7: "REQUIRED_FIELD_MISSING", 400: "UNABLE_TO_LOCK_ROW"}) {
		records[i] = Record{Object: []string{"Task", "Case"}[i%2], Fields: map[string]any{"Subject": subject}}
	}
	results, err := env.client.CreateRecords(t.Context(), records)
	if err != nil {
		t.Fatalf("CreateRecords: %v", err)
	}
	// The records Salesforce could not lock are sent again, alone: 333 and 334 once, 400 up
	// to MaxRetries times.
	var sent []int
	var sizes []int
	for _, recs := range sentRecords(t, org) {
		sizes = append(sizes, len(recs))
		for _, rec := range recs {
			n := slices.IndexFunc(records, func(r Record) bool { return r.Fields["Subject"] == rec["Subject"] })
			attrs, _ := rec["attributes"].(map[string]any)
			if n < 0 || attrs["type"] != records[n].Object || rec["Id"] != nil {
				t.Fatalf("record sent as %v", rec)
			}
			sent = append(sent, n)
		}
	}
	wantSent := slices.Concat(seq(0, 400), []int{333, 334}, seq(400, 450), []int{400, 400, 400})
	if !reflect.DeepEqual(sizes, []int{200, 200, 2, 50, 1, 1, 1}) || !slices.Equal(sent, wantSent) {
		t.Fatalf("collection calls of %v records, want [200 200 2 50 1 1 1]; records sent %v, want %v", sizes, sent, wantSent)
	}
	if n := len(env.Slept()); n != 4 {
		t.Errorf("%d backoff sleeps, want 4", n)
	}
	if len(results) != len(records) {
		t.Fatalf("%d results for %d records", len(results), len(records))
	}
	for i, res := range results {
		switch i {
		case 7, 400:
			var ae *APIError
			if !errors.As(res.Err, &ae) || ae.Status != 0 || !reflect.DeepEqual(ae.Fields, []string{"Subject"}) {
				t.Errorf("result %d = %+v, want a per-record *APIError", i, res)
			}
			wantCode, retryable := "REQUIRED_FIELD_MISSING", false
			if i == 400 {
				wantCode, retryable = "UNABLE_TO_LOCK_ROW", true
			}
			var be *bot.Error
			if !errors.As(res.Err, &be) || be.Code != wantCode || be.Retryable != retryable || be.Op != "create "+records[i].Object {
				t.Errorf("result %d error = %+v, want code %s, retryable %v", i, be, wantCode, retryable)
			}
		default:
			if want := fmt.Sprintf("00T%015d", i); res.Err != nil || res.ID != want {
				t.Errorf("result %d = %+v, want id %s", i, res, want)
			}
		}
	}
}

// limitOnSecondCall answers the second call with REQUEST_LIMIT_EXCEEDED and the others with h;
// it counts the calls.
func limitOnSecondCall(h http.HandlerFunc) (http.HandlerFunc, *atomic.Int32) {
	var calls atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			sfErrors(w, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
			return
		}
		h(w, r)
	}, &calls
}

func TestUpdateRecordsStopsAtAFailedCall(t *testing.T) {
	h, calls := limitOnSecondCall(collectionsHandler)
	org := newOrg(t, h)
	env := newEnv(t, org, nil)
	records := make([]Record, 401)
	for i := range records {
		records[i] = Record{Object: "Case", ID: fmt.Sprintf("500%015d", i), Fields: map[string]any{"Status": "Closed"}}
	}
	results, err := env.client.UpdateRecords(t.Context(), records)
	if !bot.IsRetryable(err) || len(results) != 200 || calls.Load() != 2 {
		t.Fatalf("UpdateRecords = %d results, %v after %d calls; want 200 results and a retryable error after 2", len(results), err, calls.Load())
	}
	for i, res := range results {
		if res.ID != records[i].ID || res.Err != nil {
			t.Fatalf("result %d = %+v", i, res)
		}
	}
	for _, rec := range sentRecords(t, org)[0] {
		if rec["Id"] == nil || rec["Status"] != "Closed" {
			t.Fatalf("update record sent as %v", rec)
		}
	}
}

func TestDeleteRecords(t *testing.T) {
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || r.URL.Query().Get("allOrNone") != "false" {
			sfErrors(w, 400, "INVALID_OPERATION", "unexpected request")
			return
		}
		var out []map[string]any
		for id := range strings.SplitSeq(r.URL.Query().Get("ids"), ",") {
			if strings.HasSuffix(id, "DEL") {
				out = append(out, map[string]any{"id": id, "success": false, "errors": []map[string]any{
					{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []string{}},
				}})
				continue
			}
			out = append(out, map[string]any{"id": id, "success": true, "errors": []any{}})
		}
		writeJSON(w, 200, out)
	})
	env := newEnv(t, org, nil)
	ids := make([]string, 250)
	for i := range ids {
		ids[i] = fmt.Sprintf("00T%015d", i)
	}
	ids[210] = "00T000000000000DEL"
	results, err := env.client.DeleteRecords(t.Context(), ids)
	if err != nil || len(results) != 250 || len(org.dataCalls()) != 2 {
		t.Fatalf("DeleteRecords = %d results, %v after %d calls", len(results), err, len(org.dataCalls()))
	}
	for i, res := range results {
		var be *bot.Error
		if failed := errors.As(res.Err, &be); res.ID != ids[i] || failed != (i == 210) {
			t.Errorf("result %d = %+v", i, res)
		} else if failed && (be.Code != "ENTITY_IS_DELETED" || be.Op != "delete "+ids[i]) {
			t.Errorf("result %d error = %+v", i, be)
		}
	}
}

func TestLockedRecordsWhoseRepeatFailsKeepTheFailure(t *testing.T) {
	h, calls := limitOnSecondCall(lockingCollections("t1"))
	org := newOrg(t, h)
	env := newEnv(t, org, nil)
	records := []Record{{Object: "Task", Fields: map[string]any{"Subject": "t0"}}, {Object: "Task", Fields: map[string]any{"Subject": "t1"}}}
	results, err := env.client.CreateRecords(t.Context(), records)
	if err != nil || len(results) != 2 || calls.Load() != 2 {
		t.Fatalf("CreateRecords = %+v, %v after %d calls; want 2 results after 2 calls", results, err, calls.Load())
	}
	var be *bot.Error
	if results[0].Err != nil || results[0].ID != "00T000000000000000" {
		t.Errorf("result 0 = %+v, want the record created", results[0])
	}
	if !errors.As(results[1].Err, &be) || be.Code != "REQUEST_LIMIT_EXCEEDED" || !be.Retryable {
		t.Errorf("result 1 = %+v, want the repeat's retryable REQUEST_LIMIT_EXCEEDED", results[1])
	}
}
