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

// TestGraph: graphs are sent as the composite graph resource takes them, and each graph's
// answer is read on its own: a graph kept, and a graph whose node failed, with that node's
// error and the others halted.
func TestGraph(t *testing.T) {
	const answer = `{"graphs":[
		{"graphId":"g2","graphResponse":{"compositeResponse":[
			{"body":[{"errorCode":"PROCESSING_HALTED","message":"The transaction was rolled back since another operation in the same transaction failed."}],"httpHeaders":{},"httpStatusCode":400,"referenceId":"Acct2"},
			{"body":[{"errorCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}],"httpHeaders":{},"httpStatusCode":400,"referenceId":"Contact2"}]},
		 "isSuccessful":false},
		{"graphId":"g1","graphResponse":{"compositeResponse":[
			{"body":{"id":"001000000000001AAA","success":true,"errors":[]},"httpHeaders":{"Location":"/services/data/v62.0/sobjects/Account/001000000000001AAA"},"httpStatusCode":201,"referenceId":"Acct1"},
			{"body":{"id":"003000000000001AAA","success":true,"errors":[]},"httpHeaders":{},"httpStatusCode":201,"referenceId":"Contact1"}]},
		 "isSuccessful":true}]}`
	var got map[string]any
	org := newOrg(t, postAnswer("/services/data/v62.0/composite/graph", &got, answer))
	env := newEnv(t, org, nil)
	graph := func(n string, last any) Graph {
		return Graph{ID: "g" + n, Requests: []CompositeRequest{
			{Method: "POST", URL: "/sobjects/Account", ReferenceID: "Acct" + n, Body: map[string]any{"Name": "Acme " + n}},
			{Method: "POST", URL: "/sobjects/Contact", ReferenceID: "Contact" + n, Body: map[string]any{"AccountId": "@{Acct" + n + ".id}", "LastName": last}},
		}}
	}
	results, err := env.client.Graph(t.Context(), []Graph{graph("1", "One"), graph("2", nil)})
	if err != nil {
		t.Fatalf("Graph: %v", err)
	}
	node := func(n, object, ref string, body map[string]any) any {
		return map[string]any{"method": "POST", "url": "/services/data/v62.0/sobjects/" + object, "referenceId": ref + n, "body": body}
	}
	want := map[string]any{"graphs": []any{
		map[string]any{"graphId": "g1", "compositeRequest": []any{
			node("1", "Account", "Acct", map[string]any{"Name": "Acme 1"}),
			node("1", "Contact", "Contact", map[string]any{"AccountId": "@{Acct1.id}", "LastName": "One"}),
		}},
		map[string]any{"graphId": "g2", "compositeRequest": []any{
			node("2", "Account", "Acct", map[string]any{"Name": "Acme 2"}),
			node("2", "Contact", "Contact", map[string]any{"AccountId": "@{Acct2.id}", "LastName": nil}),
		}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request body = %v\nwant %v", got, want)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	if r := results[0]; r.ID != "g1" || !r.Successful || len(r.Responses) != 2 || r.Responses[0].Err != nil ||
		r.Responses[0].Status != 201 || !strings.Contains(string(r.Responses[0].Body), "001000000000001AAA") {
		t.Errorf("result 0 = %+v, want g1 kept", r)
	}
	r := results[1]
	if r.ID != "g2" || r.Successful || len(r.Responses) != 2 {
		t.Fatalf("result 1 = %+v, want g2 failed", r)
	}
	var ae *APIError
	if !errors.As(r.Responses[1].Err, &ae) || ae.Code != "REQUIRED_FIELD_MISSING" || bot.IsRetryable(r.Responses[1].Err) ||
		ae.Op != "POST /services/data/v62.0/sobjects/Contact (Contact2)" {
		t.Errorf("the failed node's error = %v, want a permanent REQUIRED_FIELD_MISSING of Contact2", r.Responses[1].Err)
	}
	if !errors.As(r.Responses[0].Err, &ae) || ae.Code != codeHalted {
		t.Errorf("the halted node's error = %v", r.Responses[0].Err)
	}
	if calls := org.dataCalls(); len(calls) != 1 {
		t.Errorf("%d calls, want 1", len(calls))
	}
}

func TestGraphRefusesBadRequests(t *testing.T) {
	node := func(version, object, ref string) CompositeRequest {
		return CompositeRequest{Method: "POST", URL: "/services/data/v" + version + "/sobjects/" + object, ReferenceID: ref, Body: map[string]any{}}
	}
	graphs := func(n, nodes int) []Graph {
		gs := make([]Graph, n)
		for i := range gs {
			gs[i].ID = fmt.Sprintf("g%d", i)
			for j := range nodes {
				gs[i].Requests = append(gs[i].Requests, node("62.0", "Task", fmt.Sprintf("T%d", j)))
			}
		}
		return gs
	}
	kinds := func(n int) []Graph {
		g := Graph{ID: "kinds"}
		for i := range n {
			g.Requests = append(g.Requests, node(fmt.Sprintf("%d.0", 40+i), "Task", fmt.Sprintf("T%d", i)))
		}
		return []Graph{g}
	}
	tests := []struct {
		name   string
		graphs []Graph
		want   string
	}{
		{"none", nil, "0 graphs: want 1 to 75"},
		{"76 graphs", graphs(76, 1), "76 graphs: want 1 to 75"},
		{"501 nodes", graphs(3, 167), "501 nodes: one call takes at most 500"},
		{"501 nodes in a graph", graphs(1, 501), "501 subrequests: want 1 to 500"},
		{"16 kinds", kinds(16), "16 different nodes"},
		{"an empty graph", []Graph{{ID: "g1"}}, "graph g1: 0 subrequests"},
		{"an id twice", append(graphs(1, 1), graphs(1, 1)...), `id "g0" is used twice`},
		{"an id with a period", []Graph{{ID: "g.1", Requests: graphs(1, 1)[0].Requests}}, `id "g.1"`},
		{"an id of 40", []Graph{{ID: strings.Repeat("g", 40), Requests: graphs(1, 1)[0].Requests}}, "at most 39"},
		{"a bad node", []Graph{{ID: "g1", Requests: []CompositeRequest{{Method: "HEAD", URL: "/limits", ReferenceID: "L"}}}}, `graph g1: subrequest 0: method "HEAD"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(t, limitsHandler)
			env := newEnv(t, org, nil)
			_, err := env.client.Graph(t.Context(), tt.graphs)
			var be *bot.Error
			if !errors.As(err, &be) || be.Code != "INVALID_INPUT" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want INVALID_INPUT containing %q", err, tt.want)
			}
			if org.logins() != 0 || len(org.dataCalls()) != 0 {
				t.Errorf("the client called Salesforce for a refused request")
			}
		})
	}
	// At the limits: 75 graphs, 500 nodes, 15 kinds (v62.0's and 14 others).
	org := newOrg(t, answer(http.StatusOK, `{"graphs":[]}`))
	env := newEnv(t, org, nil)
	full := kinds(14)
	for i, rest := 0, 500-14; i < 74; i++ {
		g := graphs(1, rest/(74-i))[0]
		rest -= len(g.Requests)
		g.ID = fmt.Sprintf("g%d", i+1)
		full = append(full, g)
	}
	_, err := env.client.Graph(t.Context(), full)
	if err == nil || !strings.Contains(err.Error(), `did not answer graph "kinds"`) {
		t.Errorf("Graph at the limits: %v, want it sent (and the empty answer refused)", err)
	}
}

// TestGraphWithCreatesIsNotRepeatedAfter500: a graph call that creates records and fails with
// a 500 may have been done: it is not sent again, and its error is retryable.
func TestGraphWithCreatesIsNotRepeatedAfter500(t *testing.T) {
	org := newOrg(t, answer(http.StatusInternalServerError, `[{"message":"An unexpected error occurred","errorCode":"UNKNOWN_EXCEPTION"}]`))
	env := newEnv(t, org, nil)
	_, err := env.client.Graph(t.Context(), []Graph{{ID: "g1", Requests: []CompositeRequest{{Method: "POST", URL: "/sobjects/Task", ReferenceID: "T", Body: map[string]any{"Subject": "Call"}}}}})
	if !bot.IsRetryable(err) || len(org.dataCalls()) != 1 {
		t.Fatalf("error = %v after %d calls, want a retryable error after 1 call", err, len(org.dataCalls()))
	}
}
