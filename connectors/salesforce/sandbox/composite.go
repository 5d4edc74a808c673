package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"casebot/connectors/salesforce/sandbox/soql"
)

// Composite limits: 25 subrequests, of which at most 5 may be queries or sObject Collections.
const (
	maxSubrequests   = 25
	maxHeavyRequests = 5
)

type compositeRequest struct {
	AllOrNone bool `json:"allOrNone"`
	// CollateSubrequests lets Salesforce run independent subrequests together; it changes
	// nothing in what the answer says, and the sandbox runs them in order anyway.
	CollateSubrequests bool         `json:"collateSubrequests"`
	CompositeRequest   []subrequest `json:"compositeRequest"`
}

type subrequest struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        json.RawMessage   `json:"body"`
	HTTPHeaders map[string]string `json:"httpHeaders"`
}

type subresponse struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

var (
	referenceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]*$`)
	// referencePattern finds "@{ref.field}", "@{ref.records[0].Id}", "@{ref[0].id}".
	referencePattern = regexp.MustCompile(`@\{([^{}]*)\}`)
	subVersionPath   = regexp.MustCompile(`^/services/data/v[0-9]+\.[0-9]+/`)
)

// subCallKey carries a composite's call to its subrequests' handlers, which run behind the
// sub-router rather than the data middleware.
type subCallKey struct{}

// subrequest wraps a data handler for a composite subrequest: the composite has authenticated
// and counted the call; only the subrequest's own API version is read.
func (s *Server) subrequest(h dataHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(subCallKey{}).(call)
		version, err := parseVersion(r.PathValue("version"))
		if err != nil {
			writeError(w, err)
			return
		}
		c.version = version
		h(w, r, c)
	})
}

// composite is /composite: POST runs up to 25 subrequests in order as one API call, later
// ones naming earlier results with @{referenceId.path}. With allOrNone, a failure rolls back
// every subrequest. The data middleware holds the gate alone for it, so no other call writes
// in between; its writes are journaled as one line.
func (s *Server) composite(w http.ResponseWriter, r *http.Request, c call) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"sobjects": "/services/data/v" + c.version + "/composite/sobjects"})
		return
	case http.MethodPost:
	default:
		writeError(w, errMethod(r.Method, "GET", "HEAD", "POST"))
		return
	}
	var req compositeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := checkComposite(req.CompositeRequest); err != nil {
		writeError(w, err)
		return
	}

	results, _, commitErr := s.transaction(r.Context(), c, req.CompositeRequest, req.AllOrNone)
	if commitErr != nil {
		writeError(w, commitErr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"compositeResponse": results})
}

// transaction runs subrequests in order as one transaction, whose writes are journaled as one
// line. With allOrNone, the first failure stops the rest and rolls back every write, and the
// others answer PROCESSING_HALTED. It returns the responses, whether all succeeded, and the
// error of a commit that failed (and was rolled back). Call with the gate held alone.
func (s *Server) transaction(ctx context.Context, c call, reqs []subrequest, allOrNone bool) ([]subresponse, bool, *apiError) {
	s.mu.Lock()
	snap := s.store.snapshot()
	var batch []soql.Record
	s.batch = &batch
	s.mu.Unlock()

	results := make([]subresponse, len(reqs))
	bodies := map[string]any{} // referenceId → decoded body of a subrequest that succeeded
	failed := -1
	for i, sr := range reqs {
		if allOrNone && failed >= 0 {
			break
		}
		res, ok := s.runSubrequest(ctx, c, sr, bodies, allOrNone)
		res.ReferenceID = sr.ReferenceID
		results[i] = res
		if !ok && failed < 0 {
			failed = i
		}
	}

	rollback := allOrNone && failed >= 0
	s.mu.Lock()
	s.batch = nil
	var commitErr *apiError
	switch {
	case rollback:
		s.store.restore(snap)
	case len(batch) > 0:
		if err := s.persist(batch); err != nil {
			s.store.restore(snap)
			s.log.Error("salesforce sandbox: committing a composite", "err", err)
			commitErr = newError(http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "the write could not be saved")
		}
	}
	s.mu.Unlock()
	if rollback {
		for i, sr := range reqs {
			if i != failed {
				results[i] = haltedResponse(sr.ReferenceID, "The transaction was rolled back since another operation in the same transaction failed.")
			}
		}
	}
	return results, failed < 0, commitErr
}

// haltedResponse is the answer of a subrequest rolled back or never run because of another.
func haltedResponse(referenceID, why string) subresponse {
	body, _ := json.Marshal([]restError{{ErrorCode: "PROCESSING_HALTED", Message: why}})
	return subresponse{Body: body, HTTPHeaders: map[string]string{}, HTTPStatusCode: http.StatusBadRequest, ReferenceID: referenceID}
}

// checkComposite refuses a malformed composite before any subrequest runs, as Salesforce does.
func checkComposite(reqs []subrequest) *apiError {
	switch {
	case len(reqs) == 0:
		return errInvalid("The composite request must contain at least one subrequest (compositeRequest)")
	case len(reqs) > maxSubrequests:
		return errInvalid("Composite request may only have up to %d subrequests: it has %d", maxSubrequests, len(reqs))
	}
	if err := checkSubrequests(reqs); err != nil {
		return err
	}
	heavy := 0
	for _, sr := range reqs {
		if resource := resourceOf(sr.URL); resource == "query" || resource == "queryAll" || resource == "composite" {
			heavy++
		}
	}
	if heavy > maxHeavyRequests {
		return errInvalid("Composite request may only have up to %d query or sObject Collections subrequests: it has %d", maxHeavyRequests, heavy)
	}
	return nil
}

// errInvalid is the error of a request malformed as a whole.
func errInvalid(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "INVALID_INPUT", format, args...)
}

// checkSubrequests refuses subrequests whose reference ids, methods, URLs or headers no
// composite takes.
func checkSubrequests(reqs []subrequest) *apiError {
	seen := map[string]bool{}
	for _, sr := range reqs {
		switch {
		case !referenceIDPattern.MatchString(sr.ReferenceID):
			return errInvalid("Provided referenceId ('%s') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').", sr.ReferenceID)
		case seen[sr.ReferenceID]:
			return errInvalid("Duplicate referenceId provided in the request: %s", sr.ReferenceID)
		case !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, sr.Method):
			return errInvalid("Invalid HTTP method '%s' for subrequest %s", sr.Method, sr.ReferenceID)
		case !subVersionPath.MatchString(sr.URL):
			return errInvalid("The url of subrequest %s must start with /services/data/vXX.X/: %s", sr.ReferenceID, sr.URL)
		}
		seen[sr.ReferenceID] = true
		for name := range sr.HTTPHeaders {
			switch http.CanonicalHeaderKey(name) {
			case "Accept", "Authorization", "Content-Type":
				return errInvalid("The %s header of subrequest %s is inherited from the composite request and cannot be set", name, sr.ReferenceID)
			}
		}
	}
	return nil
}

// resourceOf returns the first path segment after /services/data/vNN.N/ ("sobjects", "query").
func resourceOf(url string) string {
	rest := subVersionPath.ReplaceAllString(url, "")
	rest, _, _ = strings.Cut(rest, "?")
	first, _, _ := strings.Cut(rest, "/")
	return first
}

// runSubrequest resolves a subrequest's references and runs it through the sub-router. It
// reports whether the subrequest succeeded; a successful one's body is added to bodies.
func (s *Server) runSubrequest(ctx context.Context, c call, sr subrequest, bodies map[string]any, allOrNone bool) (subresponse, bool) {
	fail := func(status int, code, msg string) (subresponse, bool) {
		body, _ := json.Marshal([]restError{{ErrorCode: code, Message: msg}})
		return subresponse{Body: body, HTTPHeaders: map[string]string{}, HTTPStatusCode: status}, false
	}
	url, err := resolveString(sr.URL, bodies)
	if err != nil {
		return fail(http.StatusBadRequest, "PROCESSING_HALTED", err.Error())
	}
	var body []byte
	if len(sr.Body) > 0 && string(sr.Body) != "null" {
		dec := json.NewDecoder(bytes.NewReader(sr.Body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fail(http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
		}
		if v, err = resolveValue(v, bodies); err != nil {
			return fail(http.StatusBadRequest, "PROCESSING_HALTED", err.Error())
		}
		collection := resourceOf(sr.URL) == "composite"
		if m, ok := v.(map[string]any); ok && collection && allOrNone {
			m["allOrNone"] = true // the composite's allOrNone overrides its collections'
		}
		body, _ = json.Marshal(v)
	}
	if allOrNone && resourceOf(sr.URL) == "composite" && sr.Method == http.MethodDelete {
		url = setQuery(url, "allOrNone", "true")
	}
	req, reqErr := http.NewRequestWithContext(context.WithValue(ctx, subCallKey{}, c), sr.Method, url, bytes.NewReader(body))
	if reqErr != nil {
		return fail(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range sr.HTTPHeaders {
		req.Header.Set(k, v)
	}
	bw := &bufferWriter{header: http.Header{}}
	s.sub.ServeHTTP(bw, req)

	res := subresponse{Body: json.RawMessage("null"), HTTPHeaders: map[string]string{}, HTTPStatusCode: bw.status}
	if loc := bw.header.Get("Location"); loc != "" {
		res.HTTPHeaders["Location"] = loc
	}
	if bw.body.Len() > 0 {
		res.Body = json.RawMessage(bw.body.Bytes())
	}
	ok := bw.status < 400
	var decoded any
	if ok && bw.body.Len() > 0 {
		dec := json.NewDecoder(bytes.NewReader(bw.body.Bytes()))
		dec.UseNumber()
		ok = dec.Decode(&decoded) == nil
	}
	if list, isList := decoded.([]any); ok && isList && resourceOf(sr.URL) == "composite" {
		for _, item := range list { // a collection's records fail one by one
			if m, _ := item.(map[string]any); m["success"] == false {
				ok = false
			}
		}
	}
	if bw.status < 400 {
		bodies[sr.ReferenceID] = decoded
	}
	return res, ok
}

// setQuery sets one query parameter of a URL given as path?query.
func setQuery(url, name, value string) string {
	path, query, _ := strings.Cut(url, "?")
	parts := []string{name + "=" + value}
	for p := range strings.SplitSeq(query, "&") {
		if p != "" && !strings.HasPrefix(p, name+"=") {
			parts = append(parts, p)
		}
	}
	return path + "?" + strings.Join(parts, "&")
}

// bufferWriter collects a subrequest's response.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// resolveValue replaces the references in the strings of a decoded JSON body. A string that
// is exactly one reference takes the referenced value with its JSON type.
func resolveValue(v any, bodies map[string]any) (any, error) {
	switch x := v.(type) {
	case string:
		if m := referencePattern.FindStringSubmatchIndex(x); m != nil && m[0] == 0 && m[1] == len(x) {
			return lookupReference(x[m[2]:m[3]], bodies)
		}
		return resolveString(x, bodies)
	case map[string]any:
		for k, e := range x {
			r, err := resolveValue(e, bodies)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := resolveValue(e, bodies)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}

// resolveString replaces every reference in s by the text of its value.
func resolveString(s string, bodies map[string]any) (string, error) {
	var firstErr error
	out := referencePattern.ReplaceAllStringFunc(s, func(ref string) string {
		v, err := lookupReference(ref[2:len(ref)-1], bodies)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return ref
		}
		switch x := v.(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		case bool:
			return strconv.FormatBool(x)
		}
		if firstErr == nil {
			firstErr = referenceError(fmt.Sprintf("Invalid reference specified. %s is not a text, number or boolean value.", ref[2:len(ref)-1]))
		}
		return ref
	})
	return out, firstErr
}

// referenceError is a reference that cannot be resolved, worded as Salesforce words it.
type referenceError string

func (e referenceError) Error() string { return string(e) }

// lookupReference evaluates "ref.a.b[0].c" against the bodies of earlier subrequests.
func lookupReference(expr string, bodies map[string]any) (any, error) {
	end := strings.IndexAny(expr, ".[")
	if end < 0 {
		end = len(expr)
	}
	ref := expr[:end]
	noValue := referenceError(fmt.Sprintf("Invalid reference specified. No value for %s found in %s.", expr, ref))
	v, ok := bodies[ref]
	if !ok {
		return nil, noValue
	}
	for rest := expr[end:]; rest != ""; {
		switch rest[0] {
		case '.':
			name := rest[1:]
			if i := strings.IndexAny(name, ".["); i >= 0 {
				name = name[:i]
			}
			m, isMap := v.(map[string]any)
			if !isMap {
				return nil, noValue
			}
			if v, ok = m[name]; !ok {
				return nil, noValue
			}
			rest = rest[1+len(name):]
		case '[':
			close := strings.IndexByte(rest, ']')
			if close < 0 {
				return nil, noValue
			}
			n, err := strconv.Atoi(rest[1:close])
			list, isList := v.([]any)
			if err != nil || !isList || n < 0 || n >= len(list) {
				return nil, noValue
			}
			v, rest = list[n], rest[close+1:]
		default:
			return nil, noValue
		}
	}
	if v == nil {
		return nil, noValue
	}
	return v, nil
}
