package sandbox

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"casebot/connectors/salesforce/sandbox/soql"
)

// maxRetrieve is sObject Collections' limit of ids a retrieve takes.
const maxRetrieve = 2000

// collectionOp writes the i-th record of a collection call in t: it returns the record's id
// (when known, also on failure) and whether it was created (for an upsert).
type collectionOp func(t *tx, i int) (id string, created bool, err *apiError)

// collections is /composite/sobjects: create (POST), update (PATCH) or delete (DELETE ?ids=)
// up to 200 records in one call, each with its own result, or all or none.
func (s *Server) collections(w http.ResponseWriter, r *http.Request, c call) {
	var (
		allOrNone bool
		n         int
		op        collectionOp
	)
	switch r.Method {
	case http.MethodPost, http.MethodPatch:
		var body collectionBody
		if !decodeBody(w, r, &body) {
			return
		}
		allOrNone, n = body.AllOrNone, len(body.Records)
		update := r.Method == http.MethodPatch
		op = func(t *tx, i int) (string, bool, *apiError) {
			id, err := s.collectionWrite(t, body.Records[i], update)
			return id, false, err
		}
	case http.MethodDelete:
		q := r.URL.Query()
		var ids []string
		if v := q.Get("ids"); v != "" {
			ids = strings.Split(v, ",")
		}
		allOrNone, n = q.Get("allOrNone") == "true", len(ids)
		op = func(t *tx, i int) (string, bool, *apiError) {
			id, err := t.delete(nil, ids[i])
			if err != nil {
				if norm, ok := normalizeID(ids[i]); ok {
					id = norm
				}
			}
			return id, false, err
		}
	default:
		writeError(w, errMethod(r.Method, "POST", "PATCH", "DELETE"))
		return
	}
	s.runCollection(w, c, n, allOrNone, op, false)
}

// collectionBody is the body of a collection create, update or upsert.
type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// runCollection runs op on each of n records in one transaction and answers their results in
// order. With allOrNone a failure rolls back every record; without, the records that failed
// are left out and the others committed. withCreated adds upsert's "created" to successes.
func (s *Server) runCollection(w http.ResponseWriter, c call, n int, allOrNone bool, op collectionOp, withCreated bool) {
	if n > maxCollection {
		writeError(w, newError(http.StatusBadRequest, "EXCEEDED_ID_LIMIT",
			"record limit reached. cannot submit more than %d records into this call", maxCollection))
		return
	}
	results := make([]saveResult, n)
	failed := false
	s.mu.Lock()
	t := s.begin(c)
	for i := range n {
		id, created, err := op(t, i)
		results[i] = saveResult{ID: id, Success: err == nil, Errors: []recordError{}}
		switch {
		case err != nil:
			failed = true
			results[i].Errors = []recordError{recordErr(err)}
		case withCreated:
			results[i].Created = &created
		}
	}
	var commitErr *apiError
	if failed && allOrNone {
		for i := range results {
			if results[i].Success {
				results[i] = saveResult{Errors: []recordError{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
					Message: "Record rolled back because not all records were valid and the request was using AllOrNone header",
					Fields:  []string{}}}}
			}
		}
	} else {
		commitErr = s.commit(t)
	}
	s.mu.Unlock()
	if commitErr != nil {
		writeError(w, commitErr)
		return
	}
	writeJSON(w, http.StatusOK, results)
}

// collectionWrite creates or updates one record of a collection.
func (s *Server) collectionWrite(t *tx, rec map[string]any, update bool) (string, *apiError) {
	typeName := recordType(rec)
	if typeName == "" {
		return "", fieldError("INVALID_TYPE", "Must send a concrete entity type.")
	}
	obj := s.schema.sobject(typeName)
	if obj == nil {
		return "", fieldError("INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", typeName))
	}
	if !update {
		return t.create(obj, rec)
	}
	var id string
	for k, v := range rec {
		if strings.EqualFold(k, "Id") {
			id, _ = v.(string)
		}
	}
	if id == "" {
		return "", fieldError("MISSING_ARGUMENT", "Id not specified in an update call", "Id")
	}
	return t.update(obj, id, rec)
}

// recordType is the type a collection's record names in its attributes, or "".
func recordType(rec map[string]any) string {
	attrs, _ := rec["attributes"].(map[string]any)
	name, _ := attrs["type"].(string)
	return name
}

// collectionUpsert is /composite/sobjects/{type}/{field}: PATCH upserts up to 200 records of
// one object by an external id field, each with its own result. A record that matches several
// records fails with DUPLICATE_EXTERNAL_ID (where a single upsert answers 300), and records
// that share a value within the call all fail with DUPLICATE_VALUE: Salesforce cannot tell in
// which order to apply them.
func (s *Server) collectionUpsert(w http.ResponseWriter, r *http.Request, c call) {
	obj := s.objectFor(w, r)
	if obj == nil {
		return
	}
	if r.Method != http.MethodPatch {
		writeError(w, errMethod(r.Method, "PATCH"))
		return
	}
	f := externalIDField(w, r, obj)
	if f == nil {
		return
	}
	var body collectionBody
	if !decodeBody(w, r, &body) {
		return
	}
	values := make([]string, len(body.Records))
	seen := map[string]int{}
	for i, rec := range body.Records {
		for k, v := range rec {
			if strings.EqualFold(k, f.Name) {
				values[i], _ = v.(string)
				delete(rec, k)
			}
		}
		if values[i] != "" {
			seen[strings.ToLower(values[i])]++
		}
	}
	op := func(t *tx, i int) (string, bool, *apiError) {
		rec, value := body.Records[i], values[i]
		if typeName := recordType(rec); typeName != "" && !strings.EqualFold(typeName, obj.Name) {
			return "", false, fieldError("INVALID_TYPE",
				fmt.Sprintf("The record's type %s is not the %s of the request's URL.", typeName, obj.Name))
		}
		switch {
		case value == "":
			return "", false, fieldError("MISSING_ARGUMENT",
				fmt.Sprintf("%s not specified in an upsert call", f.Name), f.Name)
		case seen[strings.ToLower(value)] > 1:
			return "", false, fieldError("DUPLICATE_VALUE", "Duplicate external id specified: "+value, f.Name)
		}
		id, created, ambiguous, err := t.upsert(obj, f, value, rec)
		if len(ambiguous) > 0 {
			return "", false, fieldError("DUPLICATE_EXTERNAL_ID", fmt.Sprintf(
				"%s: more than one record found for external id field: [%s]", f.Label, strings.Join(ambiguous, ", ")), f.Name)
		}
		return id, created, err
	}
	s.runCollection(w, c, len(body.Records), body.AllOrNone, op, true)
}

// collectionRetrieve is /composite/sobjects/{type}: up to 2,000 records of one object by id,
// with the fields asked for, through POST {"ids","fields"} or GET ?ids=&fields=. A record
// that does not exist (or is deleted) is null in its place.
func (s *Server) collectionRetrieve(w http.ResponseWriter, r *http.Request, c call) {
	obj := s.objectFor(w, r)
	if obj == nil {
		return
	}
	var req struct {
		IDs    []string `json:"ids"`
		Fields []string `json:"fields"`
	}
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req.IDs, req.Fields = splitList(q.Get("ids")), splitList(q.Get("fields"))
	case http.MethodPost:
		if !decodeBody(w, r, &req) {
			return
		}
	default:
		writeError(w, errMethod(r.Method, "GET", "HEAD", "POST"))
		return
	}
	switch {
	case len(req.IDs) == 0:
		writeError(w, fieldError("MISSING_ARGUMENT", "ids not specified", "ids"))
		return
	case len(req.Fields) == 0:
		writeError(w, fieldError("MISSING_ARGUMENT", "fields not specified", "fields"))
		return
	case len(req.IDs) > maxRetrieve:
		writeError(w, newError(http.StatusBadRequest, "EXCEEDED_ID_LIMIT",
			"record limit reached. cannot submit more than %d records into this call", maxRetrieve))
		return
	}
	recs := make([]soql.Record, len(req.IDs))
	s.mu.Lock()
	t := s.store.begin(s.opts.Now(), c.user)
	var lookupErr *apiError
	for i, id := range req.IDs {
		e, err := t.lookup(obj, id)
		switch {
		case err == nil:
			recs[i] = e.rec
		case err.Code == "MALFORMED_ID" && lookupErr == nil:
			lookupErr = err
		}
	}
	s.mu.Unlock()
	if lookupErr != nil {
		writeError(w, lookupErr)
		return
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, rec := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		if rec == nil {
			b.WriteString("null")
			continue
		}
		row, err := recordRow(obj, rec, req.Fields)
		if err != nil {
			writeError(w, err)
			return
		}
		s.schema.writeRow(&b, row, c.version)
	}
	b.WriteByte(']')
	writeRaw(w, http.StatusOK, b.Bytes())
}

// splitList splits a comma-separated query parameter; "" is no items.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// recordErr is a per-record error of a collection; a record that does not exist is an
// invalid reference there, not a 404.
func recordErr(e *apiError) recordError {
	if e.Code == "NOT_FOUND" {
		e = fieldError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
	}
	return e.record()
}
