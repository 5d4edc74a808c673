package salesforce

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"casebot/bot"
)

func TestComposite(t *testing.T) {
	const answer = `{"compositeResponse":[
		{"body":{"id":"001000000000001AAA","success":true,"errors":[]},"httpHeaders":{"Location":"/services/data/v62.0/sobjects/Account/001000000000001AAA"},"httpStatusCode":201,"referenceId":"NewAccount"},
		{"body":[{"errorCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [Subject]","fields":["Subject"]}],"httpHeaders":{},"httpStatusCode":400,"referenceId":"NewTask"},
		{"body":null,"httpHeaders":{},"httpStatusCode":204,"referenceId":"Touch"}]}`
	var got map[string]any
	org := newOrg(t, postAnswer("/services/data/v62.0/composite", &got, answer))
	env := newEnv(t, org, nil)
	resps, err := env.client.Composite(t.Context(), false, []CompositeRequest{
		{Method: "post", URL: "/sobjects/Account", ReferenceID: "NewAccount", Body: map[string]any{"Name": "Acme"}},
		{Method: "POST", URL: "/services/data/v62.0/sobjects/Task", ReferenceID: "NewTask", Body: map[string]any{"WhatId": "@{NewAccount.id}"}},
		{Method: "PATCH", URL: "/sobjects/Account/@{NewAccount.id}", ReferenceID: "Touch", Body: map[string]any{"Type": "Prospect"}},
	})
	if err != nil {
		t.Fatalf("Composite: %v", err)
	}
	want := map[string]any{"allOrNone": false, "compositeRequest": []any{
		map[string]any{"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "NewAccount", "body": map[string]any{"Name": "Acme"}},
		map[string]any{"method": "POST", "url": "/services/data/v62.0/sobjects/Task", "referenceId": "NewTask", "body": map[string]any{"WhatId": "@{NewAccount.id}"}},
		map[string]any{"method": "PATCH", "url": "/services/data/v62.0/sobjects/Account/@{NewAccount.id}", "referenceId": "Touch", "body": map[string]any{"Type": "Prospect"}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request body = %v\nwant %v", got, want)
	}
	if len(resps) != 3 {
		t.Fatalf("%d responses, want 3", len(resps))
	}
	if r := resps[0]; r.Err != nil || r.Status != 201 || r.ReferenceID != "NewAccount" ||
		r.Headers["Location"] != "/services/data/v62.0/sobjects/Account/001000000000001AAA" || !strings.Contains(string(r.Body), `"001000000000001AAA"`) {
		t.Errorf("response 0 = %+v", r)
	}
	var ae *APIError
	if r := resps[1]; !errors.As(r.Err, &ae) || ae.Code != "REQUIRED_FIELD_MISSING" || ae.Status != 400 || bot.IsRetryable(r.Err) ||
		ae.Op != "POST /services/data/v62.0/sobjects/Task (NewTask)" {
		t.Errorf("response 1's error = %v (%+v), want a permanent REQUIRED_FIELD_MISSING for NewTask", r.Err, ae)
	}
	if r := resps[2]; r.Err != nil || r.Status != 204 {
		t.Errorf("response 2 = %+v", r)
	}
}

func TestCompositeRefusesBadRequests(t *testing.T) {
	ok := CompositeRequest{Method: "GET", URL: "/limits", ReferenceID: "Limits"}
	many := make([]CompositeRequest, 26)
	for i := range many {
		many[i] = CompositeRequest{Method: "GET", URL: "/limits", ReferenceID: fmt.Sprintf("L%d", i)}
	}
	tests := []struct {
		name string
		reqs []CompositeRequest
		want string
	}{
		{"none", nil, "0 subrequests: want 1 to 25"},
		{"26", many, "26 subrequests: want 1 to 25"},
		{"bad method", []CompositeRequest{{Method: "HEAD", URL: "/limits", ReferenceID: "L"}}, `method "HEAD"`},
		{"URL not a path", []CompositeRequest{ok, {Method: "GET", URL: "https://evil.example.com/x", ReferenceID: "L2"}}, "subrequest 1: URL"},
		{"URL with //", []CompositeRequest{{Method: "GET", URL: "//evil.example.com/x", ReferenceID: "L"}}, "URL"},
		{"reference id with a dot", []CompositeRequest{{Method: "GET", URL: "/limits", ReferenceID: "a.b"}}, `reference id "a.b"`},
		{"no reference id", []CompositeRequest{{Method: "GET", URL: "/limits"}}, `reference id ""`},
		{"reference id twice", []CompositeRequest{ok, ok}, `"Limits" is used twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(t, limitsHandler)
			env := newEnv(t, org, nil)
			_, err := env.client.Composite(t.Context(), true, tt.reqs)
			var be *bot.Error
			if !errors.As(err, &be) || be.Code != "INVALID_INPUT" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want INVALID_INPUT containing %q", err, tt.want)
			}
			if org.logins() != 0 || len(org.dataCalls()) != 0 {
				t.Errorf("the client called Salesforce for a refused request")
			}
		})
	}
}

func TestCompositeChecksTheAnswer(t *testing.T) {
	reqs := []CompositeRequest{{Method: "GET", URL: "/limits", ReferenceID: "A"}, {Method: "GET", URL: "/limits", ReferenceID: "B"}}
	tests := []struct{ name, answer, want string }{
		{"too few responses", `{"compositeResponse":[{"body":{},"httpHeaders":{},"httpStatusCode":200,"referenceId":"A"}]}`, "returned 1 responses"},
		{"out of order", `{"compositeResponse":[{"body":{},"httpStatusCode":200,"referenceId":"B"},{"body":{},"httpStatusCode":200,"referenceId":"A"}]}`, `response 0 is for "B", want "A"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, newOrg(t, answer(http.StatusOK, tt.answer)), nil)
			_, err := env.client.Composite(t.Context(), false, reqs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCompositeWithCreatesIsNotRepeatedAfter500(t *testing.T) {
	org := newOrg(t, answer(http.StatusInternalServerError, `[{"message":"An unexpected error occurred","errorCode":"UNKNOWN_EXCEPTION"}]`))
	env := newEnv(t, org, nil)
	_, err := env.client.Composite(t.Context(), true, []CompositeRequest{{Method: "POST", URL: "/sobjects/Task", ReferenceID: "T", Body: map[string]any{"Subject": "Call"}}})
	if !bot.IsRetryable(err) || len(org.dataCalls()) != 1 {
		t.Fatalf("error = %v after %d calls, want a retryable error after 1 call", err, len(org.dataCalls()))
	}
}
