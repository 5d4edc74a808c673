package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Composite graph limits (REST API Developer Guide, "Composite Graph Limits").
const (
	maxGraphs     = 75  // graphs in one call
	maxGraphNodes = 500 // nodes in one graph, and in one call
	// maxGraphKinds is how many different nodes one call may hold: nodes differ by API
	// version, HTTP method or object.
	maxGraphKinds = 15
	// maxGraphFailures is how many graphs of a call may fail before Salesforce halts the rest
	// (they answer PROCESSING_HALTED without having run).
	maxGraphFailures = 14
)

// graphIDRE is Salesforce's rule for a graphId: it starts with a letter or a digit, has fewer
// than 40 characters and no period. Underscores are the only other characters casebot uses.
var graphIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]{0,38}$`)

// Graph is one graph of a composite graph call: its nodes are done all or nothing,
// whatever becomes of the other graphs of the call.
type Graph struct {
	// ID names the graph in the answer: unique in the call, letters, digits and _, starting
	// with a letter or digit, at most 39 characters.
	ID string
	// Requests are its nodes, in order; a node may refer to an earlier one's result as in a
	// composite (@{ReferenceID.field}). Graphs take only sObject resources: POST
	// /sobjects/Object, GET, PATCH or DELETE /sobjects/Object/id, and those by external id.
	Requests []CompositeRequest
}

// GraphResult is Salesforce's answer to one graph.
type GraphResult struct {
	ID string
	// Successful says that every node was done. When false, nothing of the graph was: the
	// node that failed has its error, and the others PROCESSING_HALTED.
	Successful bool
	Responses  []CompositeResponse // the nodes' answers, as Salesforce lists them
}

// graphWire is a graph as sent.
type graphWire struct {
	GraphID          string         `json:"graphId"`
	CompositeRequest []compositeSub `json:"compositeRequest"`
}

// Graph runs graphs in one API call (POST /composite/graph): up to 75 graphs of up to 500
// nodes in all, of at most 15 different kinds; each graph is done all or nothing on its own.
// It returns one result per graph, in order. After 14 graphs failed, Salesforce runs no more:
// the rest answer PROCESSING_HALTED, and may be sent again. The error is for the call as a
// whole.
func (c *Client) Graph(ctx context.Context, graphs []Graph) ([]GraphResult, error) {
	op := fmt.Sprintf("composite graph of %d graphs", len(graphs))
	wire, subs, err := c.graphWire(graphs)
	if err != nil {
		return nil, invalidInput(op, err.Error())
	}
	var out struct {
		Graphs []struct {
			GraphID       string `json:"graphId"`
			GraphResponse struct {
				CompositeResponse []compositeResult `json:"compositeResponse"`
			} `json:"graphResponse"`
			IsSuccessful bool `json:"isSuccessful"`
		} `json:"graphs"`
	}
	r := call{op: op, method: http.MethodPost, path: c.prefix + "/composite/graph", create: creates(subs),
		body: map[string]any{"graphs": wire}}
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	byID := make(map[string]int, len(out.Graphs))
	for i, g := range out.Graphs {
		byID[g.GraphID] = i
	}
	results := make([]GraphResult, len(graphs))
	for i, g := range wire {
		j, ok := byID[g.GraphID]
		if !ok {
			return nil, fmt.Errorf("%s: Salesforce did not answer graph %q", op, g.GraphID)
		}
		answer := out.Graphs[j]
		res := GraphResult{ID: g.GraphID, Successful: answer.IsSuccessful}
		for _, cr := range answer.GraphResponse.CompositeResponse {
			sub := compositeSub{Method: "?", URL: "?"}
			for _, s := range g.CompositeRequest {
				if s.ReferenceID == cr.ReferenceID {
					sub = s
				}
			}
			res.Responses = append(res.Responses, c.compositeResponse(sub, cr))
		}
		results[i] = res
	}
	return results, nil
}

// graphWire checks graphs against the limits and returns them as sent, with all their nodes.
func (c *Client) graphWire(graphs []Graph) ([]graphWire, []compositeSub, error) {
	if len(graphs) == 0 || len(graphs) > maxGraphs {
		return nil, nil, fmt.Errorf("%d graphs: want 1 to %d", len(graphs), maxGraphs)
	}
	wire := make([]graphWire, len(graphs))
	var all []compositeSub
	ids := map[string]bool{}
	kinds := map[string]bool{}
	for i, g := range graphs {
		switch {
		case !graphIDRE.MatchString(g.ID):
			return nil, nil, fmt.Errorf("graph %d: id %q: want letters, digits and _ starting with a letter or digit, at most 39", i, g.ID)
		case ids[g.ID]:
			return nil, nil, fmt.Errorf("graph %d: id %q is used twice", i, g.ID)
		}
		ids[g.ID] = true
		subs, err := c.compositeSubs(g.Requests, maxGraphNodes)
		if err != nil {
			return nil, nil, fmt.Errorf("graph %s: %w", g.ID, err)
		}
		for _, s := range subs {
			kinds[nodeKind(s)] = true
		}
		all = append(all, subs...)
		wire[i] = graphWire{GraphID: g.ID, CompositeRequest: subs}
	}
	switch {
	case len(all) > maxGraphNodes:
		return nil, nil, fmt.Errorf("%d nodes: one call takes at most %d", len(all), maxGraphNodes)
	case len(kinds) > maxGraphKinds:
		return nil, nil, fmt.Errorf("%d different nodes (API version, method, object): one call takes at most %d", len(kinds), maxGraphKinds)
	}
	return wire, all, nil
}

// nodeKind is what makes nodes different to the limit on them: the API version, the method
// and the object ("POST v62.0 case").
func nodeKind(s compositeSub) string {
	parts := strings.SplitN(strings.TrimPrefix(s.URL, "/services/data/"), "/", 4)
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return s.Method + " " + strings.ToLower(strings.Join(parts, " "))
}
