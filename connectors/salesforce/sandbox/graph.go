package sandbox

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// Composite graph limits, from the REST API Developer Guide's "Composite Graph Limits".
const (
	maxGraphs        = 75
	maxGraphNodes    = 500 // in one graph, and in the whole payload
	maxGraphDepth    = 15
	maxGraphKinds    = 15 // different nodes: API version, HTTP method, object
	maxGraphFailures = 14 // failed graphs after which the rest are not run
)

// graphIDPattern: a graphId starts with a letter or a number, is under 40 characters and has
// no period.
var graphIDPattern = regexp.MustCompile(`^[A-Za-z0-9][^.]{0,38}$`)

type graphPayload struct {
	Graphs []graphRequest `json:"graphs"`
}

type graphRequest struct {
	GraphID          string       `json:"graphId"`
	CompositeRequest []subrequest `json:"compositeRequest"`
}

type graphAnswer struct {
	GraphID       string `json:"graphId"`
	GraphResponse struct {
		CompositeResponse []subresponse `json:"compositeResponse"`
	} `json:"graphResponse"`
	IsSuccessful bool `json:"isSuccessful"`
}

// compositeGraph is /composite/graph: POST runs graphs of subrequests (nodes) as one API call,
// each graph a transaction of its own, all or nothing, in order. Once more than 14 graphs
// failed, the rest are not run and answer PROCESSING_HALTED. The data middleware holds the
// gate alone for it, as for a composite.
func (s *Server) compositeGraph(w http.ResponseWriter, r *http.Request, c call) {
	if r.Method != http.MethodPost {
		writeError(w, errMethod(r.Method, "POST"))
		return
	}
	var req graphPayload
	if !decodeBody(w, r, &req) {
		return
	}
	if err := checkGraphs(req.Graphs); err != nil {
		writeError(w, err)
		return
	}
	answers := make([]graphAnswer, len(req.Graphs))
	failures := 0
	for i, g := range req.Graphs {
		a := &answers[i]
		a.GraphID = g.GraphID
		if failures > maxGraphFailures {
			for _, sr := range g.CompositeRequest {
				a.GraphResponse.CompositeResponse = append(a.GraphResponse.CompositeResponse,
					haltedResponse(sr.ReferenceID, "Processing was halted: more than 14 graphs of the request failed."))
			}
			continue
		}
		results, ok, commitErr := s.transaction(r.Context(), c, g.CompositeRequest, true)
		if commitErr != nil {
			body, _ := json.Marshal([]restError{{ErrorCode: commitErr.Code, Message: commitErr.Message}})
			for j := range results {
				results[j] = subresponse{Body: body, HTTPHeaders: map[string]string{}, HTTPStatusCode: commitErr.Status,
					ReferenceID: g.CompositeRequest[j].ReferenceID}
			}
			ok = false
		}
		a.GraphResponse.CompositeResponse, a.IsSuccessful = results, ok
		if !ok {
			failures++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"graphs": answers})
}

// checkGraphs refuses a payload of graphs beyond the limits, or with a node no graph takes,
// before any graph runs.
func checkGraphs(graphs []graphRequest) *apiError {
	switch {
	case len(graphs) == 0:
		return errInvalid("The composite graph request must contain at least one graph (graphs)")
	case len(graphs) > maxGraphs:
		return errInvalid("A composite graph request may have up to %d graphs: it has %d", maxGraphs, len(graphs))
	}
	ids := map[string]bool{}
	kinds := map[string]bool{}
	nodes := 0
	for _, g := range graphs {
		switch {
		case !graphIDPattern.MatchString(g.GraphID):
			return errInvalid("Provided graphId ('%s') must start with a letter or a number, have fewer than 40 characters and no period.", g.GraphID)
		case ids[g.GraphID]:
			return errInvalid("Duplicate graphId provided in the request: %s", g.GraphID)
		case len(g.CompositeRequest) == 0:
			return errInvalid("Graph %s must contain at least one node (compositeRequest)", g.GraphID)
		}
		ids[g.GraphID] = true
		nodes += len(g.CompositeRequest)
		if nodes > maxGraphNodes {
			return errInvalid("A composite graph request may have up to %d nodes", maxGraphNodes)
		}
		if err := checkSubrequests(g.CompositeRequest); err != nil {
			return err
		}
		depth := map[string]int{} // referenceId → the node's depth in its graph
		for _, sr := range g.CompositeRequest {
			kind, ok := graphNode(sr)
			if !ok {
				return errInvalid("Graph %s: node %s: %s %s is not a resource a graph takes (sObject create, rows, and rows by external id)",
					g.GraphID, sr.ReferenceID, sr.Method, sr.URL)
			}
			kinds[kind] = true
			d := 1
			for _, m := range referencePattern.FindAllStringSubmatch(sr.URL+string(sr.Body), -1) {
				ref := m[1]
				if end := strings.IndexAny(ref, ".["); end >= 0 {
					ref = ref[:end]
				}
				d = max(d, depth[ref]+1)
			}
			if depth[sr.ReferenceID] = d; d > maxGraphDepth {
				return errInvalid("Graph %s is deeper than %d nodes", g.GraphID, maxGraphDepth)
			}
		}
	}
	if len(kinds) > maxGraphKinds {
		return errInvalid("A composite graph request may have up to %d different nodes: it has %d", maxGraphKinds, len(kinds))
	}
	return nil
}

// graphNode reports whether a graph takes sr (an sObject create, a row's get, update or
// delete, a row by external id) and what kind of node it is: its API version, method and
// object.
func graphNode(sr subrequest) (kind string, ok bool) {
	version := subVersionPath.FindString(sr.URL)
	path, _, _ := strings.Cut(strings.TrimPrefix(sr.URL, version), "?")
	parts := strings.Split(path, "/")
	if parts[0] != "sobjects" || len(parts) < 2 || len(parts) > 4 || parts[1] == "" {
		return "", false
	}
	switch len(parts) {
	case 2:
		ok = sr.Method == http.MethodPost
	case 3:
		ok = sr.Method == http.MethodGet || sr.Method == http.MethodPatch || sr.Method == http.MethodDelete
	default:
		ok = sr.Method != http.MethodPut
	}
	return version + " " + sr.Method + " " + strings.ToLower(parts[1]), ok
}
