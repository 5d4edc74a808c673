package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

type graphResult struct {
	Graphs []struct {
		GraphID       string          `json:"graphId"`
		GraphResponse compositeResult `json:"graphResponse"`
		IsSuccessful  bool            `json:"isSuccessful"`
	} `json:"graphs"`
}

func graph(id string, nodes ...map[string]any) map[string]any {
	return map[string]any{"graphId": id, "compositeRequest": nodes}
}

func (o *org) graphs(graphs ...map[string]any) graphResult {
	o.t.Helper()
	var res graphResult
	o.do("POST", "/composite/graph", map[string]any{"graphs": graphs}).ok(o.t, http.StatusOK, &res)
	if len(res.Graphs) != len(graphs) {
		o.t.Fatalf("%d graph answers for %d graphs", len(res.Graphs), len(graphs))
	}
	return res
}

// accountGraph creates an account named name and a contact on it, whose last name is last ("":
// none, which fails the contact).
func accountGraph(id, name, last string) map[string]any {
	contact := map[string]any{"AccountId": "@{acct_" + id + ".id}"}
	if last != "" {
		contact["LastName"] = last
	}
	return graph(id,
		sub("POST", "/sobjects/Account", "acct_"+id, map[string]any{"Name": name}),
		sub("POST", "/sobjects/Contact", "contact_"+id, contact))
}

// TestGraphAtomicPerGraph: each graph of a call is all or nothing on its own: a graph whose
// second node fails keeps nothing of its first, and the graphs around it are kept; the call is
// one API call and one journal line per graph kept.
func TestGraphAtomicPerGraph(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.jsonl")
	o := newOrg(t, Options{DataFile: path, Seed: true})
	lines, calls := journalLines(t, path), o.sb.APICalls()
	res := o.graphs(accountGraph("g1", "Graph One", "One"), accountGraph("g2", "Graph Two", ""), accountGraph("g3", "Graph Three", "Three"))
	if n := o.sb.APICalls() - calls; n != 1 {
		t.Errorf("the call counted as %d API calls, want 1", n)
	}
	for i, want := range []bool{true, false, true} {
		g := res.Graphs[i]
		if g.GraphID != fmt.Sprintf("g%d", i+1) || g.IsSuccessful != want || len(g.GraphResponse.CompositeResponse) != 2 {
			t.Errorf("graph %d: %+v, want %s successful %v with two nodes", i, g, fmt.Sprintf("g%d", i+1), want)
		}
	}
	failed := res.Graphs[1].GraphResponse
	if failed.errorCode(t, 0) != "PROCESSING_HALTED" || failed.errorCode(t, 1) != "REQUIRED_FIELD_MISSING" {
		t.Errorf("the failed graph's nodes: %s / %s, want the account halted and the contact's own error",
			failed.CompositeResponse[0].Body, failed.CompositeResponse[1].Body)
	}
	for name, want := range map[string]int{"Graph One": 1, "Graph Two": 0, "Graph Three": 1} {
		if n := o.query("SELECT Id FROM Account WHERE Name = '" + name + "'").TotalSize; n != want {
			t.Errorf("%d accounts %q, want %d", n, name, want)
		}
	}
	if n := o.query("SELECT Id FROM Contact WHERE LastName IN ('One', 'Three')").TotalSize; n != 2 {
		t.Errorf("%d contacts of the graphs kept, want 2", n)
	}
	if n := journalLines(t, path) - lines; n != 2 {
		t.Errorf("the graphs wrote %d journal lines, want 2 (one a graph kept)", n)
	}
}

// TestGraphHalts: after 14 graphs failed, the rest are not run and answer PROCESSING_HALTED.
func TestGraphHalts(t *testing.T) {
	o := seededOrg(t)
	var graphs []map[string]any
	for i := range 20 {
		last := ""
		if i >= 15 {
			last = "Halted" // would succeed, but comes after 15 failures
		}
		graphs = append(graphs, accountGraph(fmt.Sprintf("g%d", i), fmt.Sprintf("Halt %02d", i), last))
	}
	res := o.graphs(graphs...)
	for i, g := range res.Graphs {
		code := g.GraphResponse.errorCode(t, 1)
		if g.IsSuccessful || (i < 15) != (code == "REQUIRED_FIELD_MISSING") || i >= 15 && code != "PROCESSING_HALTED" {
			t.Errorf("graph %d: successful %v, contact %s", i, g.IsSuccessful, g.GraphResponse.CompositeResponse[1].Body)
		}
	}
	if n := o.query("SELECT Id FROM Account WHERE Name LIKE 'Halt %'").TotalSize; n != 0 {
		t.Errorf("%d accounts kept, want none", n)
	}
}

// TestGraphLimits: a payload beyond the limits, or with a node no graph takes, is refused
// whole, before anything runs.
func TestGraphLimits(t *testing.T) {
	o := seededOrg(t)
	many := func(n int) []map[string]any {
		var gs []map[string]any
		for i := range n {
			gs = append(gs, graph(fmt.Sprintf("g%d", i), sub("POST", "/sobjects/Account", "a", map[string]any{"Name": "Limit"})))
		}
		return gs
	}
	nodes := func(n int) []map[string]any {
		var ns []map[string]any
		for i := range n {
			ns = append(ns, sub("POST", "/sobjects/Account", fmt.Sprintf("a%d", i), map[string]any{"Name": "Limit"}))
		}
		return ns
	}
	chain := func(n int) []map[string]any { // each account names the one before it
		ns := []map[string]any{sub("POST", "/sobjects/Account", "a0", map[string]any{"Name": "Limit"})}
		for i := 1; i < n; i++ {
			ns = append(ns, sub("POST", "/sobjects/Account", fmt.Sprintf("a%d", i), map[string]any{"Name": "Limit", "Description": fmt.Sprintf("after @{a%d.id}", i-1)}))
		}
		return ns
	}
	kinds := func(n int) []map[string]any {
		var ns []map[string]any
		for i := range n {
			ns = append(ns, map[string]any{"method": "POST", "url": fmt.Sprintf("/services/data/v%d.0/sobjects/Account", 40+i),
				"referenceId": fmt.Sprintf("a%d", i), "body": map[string]any{"Name": "Limit"}})
		}
		return ns
	}
	for _, tc := range []struct {
		name   string
		graphs []map[string]any
		says   string
	}{
		{"76 graphs", many(76), "up to 75 graphs"},
		{"501 nodes", []map[string]any{graph("g1", nodes(300)...), graph("g2", nodes(201)...)}, "up to 500 nodes"},
		{"16 deep", []map[string]any{graph("g1", chain(16)...)}, "deeper than 15"},
		{"16 kinds", []map[string]any{graph("g1", kinds(16)...)}, "up to 15 different nodes"},
		{"a query", []map[string]any{graph("g1", sub("GET", "/query?q=SELECT+Id+FROM+Account", "q", nil))}, "not a resource a graph takes"},
		{"a collection", []map[string]any{graph("g1", sub("POST", "/composite/sobjects", "c", map[string]any{"records": []any{}}))}, "not a resource a graph takes"},
		{"a put", []map[string]any{graph("g1", sub("PUT", "/sobjects/Account/001000000000000AAA", "p", map[string]any{}))}, "not a resource a graph takes"},
		{"a graphId twice", []map[string]any{graph("g1", nodes(1)...), graph("g1", nodes(1)...)}, "Duplicate graphId"},
		{"a graphId with a period", []map[string]any{graph("g.1", nodes(1)...)}, "no period"},
		{"an empty graph", []map[string]any{graph("g1")}, "at least one node"},
		{"no graphs", nil, "at least one graph"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := o.do("POST", "/composite/graph", map[string]any{"graphs": tc.graphs}).wantError(t, http.StatusBadRequest, "INVALID_INPUT")
			if !strings.Contains(e.Message, tc.says) {
				t.Errorf("message %q, want it to say %q", e.Message, tc.says)
			}
		})
	}
	if n := o.query("SELECT Id FROM Account WHERE Name = 'Limit'").TotalSize; n != 0 {
		t.Errorf("%d accounts written by refused payloads", n)
	}
	// 15 deep, 15 kinds (v62.0's and 14 others) and 500 nodes in 75 graphs are taken.
	ok := []map[string]any{graph("deep", chain(15)...), graph("kinds", kinds(14)...)}
	for i, rest := 0, 500-15-14; i < 73; i++ {
		n := rest / (73 - i)
		rest -= n
		ok = append(ok, graph(fmt.Sprintf("g%d", i), nodes(n)...))
	}
	res := o.graphs(ok...)
	for _, g := range res.Graphs {
		if !g.IsSuccessful {
			body, _ := json.Marshal(g.GraphResponse)
			t.Fatalf("graph %s failed: %s", g.GraphID, body)
		}
	}
	if n := o.query("SELECT Id FROM Account WHERE Name = 'Limit'").TotalSize; n != 500 {
		t.Errorf("%d accounts, want 500", n)
	}
}
