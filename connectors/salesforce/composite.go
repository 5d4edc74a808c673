package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// maxComposite is the most subrequests one composite call takes.
const maxComposite = 25

// referenceIDRE is Salesforce's rule for a referenceId: letters, digits and underscores,
// starting with a letter.
var referenceIDRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

// CompositeRequest is one subrequest of a composite call.
type CompositeRequest struct {
	Method string // GET, POST, PATCH, PUT or DELETE
	// URL is the resource: from the API version ("/sobjects/Task") or in full
	// ("/services/data/v62.0/sobjects/Task"). It and Body may use an earlier subrequest's
	// result as @{ReferenceID.field}, e.g. "/sobjects/Case/@{NewCase.id}".
	URL string
	// ReferenceID names the subrequest's result for the subrequests after it: unique in the
	// call, letters, digits and underscores, starting with a letter.
	ReferenceID string
	Body        any // sent as JSON when not nil
}

// CompositeResponse is Salesforce's answer to one subrequest.
type CompositeResponse struct {
	ReferenceID string
	Status      int               // the subrequest's HTTP status
	Headers     map[string]string // such as Location for a created record
	Body        json.RawMessage   // the subrequest's response body; null for a 204
	// Err is nil for a 2xx status, else an *APIError read from Body. With allOrNone, the
	// subrequests rolled back or never run because another failed have PROCESSING_HALTED.
	Err error
}

// compositeSub is a subrequest on the wire.
type compositeSub struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	ReferenceID string `json:"referenceId"`
	Body        any    `json:"body,omitempty"`
}

// Composite runs up to 25 subrequests in one API call (POST /composite), in order; later ones
// may refer to earlier results. With allOrNone, one failure rolls back every write of the
// call. It returns one response per subrequest, in order; a subrequest's failure is in its
// response's Err, and the error is for the call as a whole.
func (c *Client) Composite(ctx context.Context, allOrNone bool, reqs []CompositeRequest) ([]CompositeResponse, error) {
	op := fmt.Sprintf("composite of %d subrequests", len(reqs))
	subs, err := c.compositeSubs(reqs, maxComposite)
	if err != nil {
		return nil, invalidInput(op, err.Error())
	}
	var out struct {
		CompositeResponse []compositeResult `json:"compositeResponse"`
	}
	r := call{op: op, method: http.MethodPost, path: c.prefix + "/composite", create: creates(subs),
		body: map[string]any{"allOrNone": allOrNone, "compositeRequest": subs}}
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	if len(out.CompositeResponse) != len(reqs) {
		return nil, fmt.Errorf("%s: Salesforce returned %d responses", op, len(out.CompositeResponse))
	}
	resps := make([]CompositeResponse, len(reqs))
	for i, cr := range out.CompositeResponse {
		if cr.ReferenceID != reqs[i].ReferenceID {
			return nil, fmt.Errorf("%s: response %d is for %q, want %q", op, i, cr.ReferenceID, reqs[i].ReferenceID)
		}
		resps[i] = c.compositeResponse(subs[i], cr)
	}
	return resps, nil
}

// compositeResult is Salesforce's answer to a subrequest on the wire.
type compositeResult struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// compositeResponse reads the answer cr to the subrequest sub.
func (c *Client) compositeResponse(sub compositeSub, cr compositeResult) CompositeResponse {
	resp := CompositeResponse{ReferenceID: cr.ReferenceID, Status: cr.HTTPStatusCode, Headers: cr.HTTPHeaders, Body: cr.Body}
	if cr.HTTPStatusCode < 200 || cr.HTTPStatusCode > 299 {
		header := http.Header{}
		for k, v := range cr.HTTPHeaders {
			header.Set(k, v)
		}
		subOp := sub.Method + " " + sub.URL + " (" + cr.ReferenceID + ")"
		resp.Err = newHTTPError(subOp, &response{status: cr.HTTPStatusCode, header: header, body: cr.Body}, c.opts.Now())
	}
	return resp
}

// creates reports whether subrequests create records: such a call is retried only on answers
// that mean "not done".
func creates(subs []compositeSub) bool {
	for _, s := range subs {
		if s.Method == http.MethodPost {
			return true
		}
	}
	return false
}

// compositeSubs checks reqs, at most limit of them, and returns them as sent.
func (c *Client) compositeSubs(reqs []CompositeRequest, limit int) ([]compositeSub, error) {
	if len(reqs) == 0 || len(reqs) > limit {
		return nil, fmt.Errorf("%d subrequests: want 1 to %d", len(reqs), limit)
	}
	subs := make([]compositeSub, len(reqs))
	seen := map[string]bool{}
	for i, r := range reqs {
		method := strings.ToUpper(r.Method)
		switch {
		case method != http.MethodGet && method != http.MethodPost && method != http.MethodPatch &&
			method != http.MethodPut && method != http.MethodDelete:
			return nil, fmt.Errorf("subrequest %d: method %q: want GET, POST, PATCH, PUT or DELETE", i, r.Method)
		case !strings.HasPrefix(r.URL, "/") || strings.Contains(r.URL, "//") || strings.ContainsAny(r.URL, " \t\r\n"):
			return nil, fmt.Errorf("subrequest %d: URL %q: want a path such as /sobjects/Case", i, r.URL)
		case !referenceIDRE.MatchString(r.ReferenceID):
			return nil, fmt.Errorf("subrequest %d: reference id %q: want letters, digits and _ starting with a letter", i, r.ReferenceID)
		case seen[r.ReferenceID]:
			return nil, fmt.Errorf("subrequest %d: reference id %q is used twice", i, r.ReferenceID)
		}
		seen[r.ReferenceID] = true
		u := r.URL
		if !strings.HasPrefix(u, "/services/data/") {
			u = c.prefix + u
		}
		subs[i] = compositeSub{Method: method, URL: u, ReferenceID: r.ReferenceID, Body: r.Body}
	}
	return subs, nil
}
