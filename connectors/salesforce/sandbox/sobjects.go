package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"casebot/connectors/salesforce/sandbox/soql"
)

// maxBody bounds a request body; Salesforce's REST limit is about 50 MB.
const maxBody = 50 << 20

// maxCollection is sObject Collections' limit of records (or ids) per call.
const maxCollection = 200

// saveResult is the body of a create or upsert, and one element of a collection's answer.
type saveResult struct {
	ID      string        `json:"id,omitempty"`
	Success bool          `json:"success"`
	Errors  []recordError `json:"errors"`
	Created *bool         `json:"created,omitempty"` // upsert only
}

// decodeBody decodes a JSON request body into v, or answers JSON_PARSER_ERROR and reports
// false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(w, r, v); err != nil {
		writeError(w, err)
		return false
	}
	return true
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return errJSON(err)
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "JSON_PARSER_ERROR", "unexpected content after the JSON body")
	}
	return nil
}

// objectFor returns the object a URL names, or writes NOT_FOUND.
func (s *Server) objectFor(w http.ResponseWriter, r *http.Request) *sobject {
	obj := s.schema.sobject(r.PathValue("type"))
	if obj == nil {
		writeError(w, errNotFound())
	}
	return obj
}

// transact runs op in a transaction and commits it when op succeeds.
func (s *Server) transact(c call, op func(t *tx) *apiError) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.begin(c)
	if err := op(t); err != nil {
		return err
	}
	return s.commit(t)
}

// begin starts the transaction of a call. Call with mu.
func (s *Server) begin(c call) *tx {
	t := s.store.begin(s.opts.Now(), c.user)
	t.lock = c.lock
	return t
}

// commit commits t. Call with mu.
func (s *Server) commit(t *tx) *apiError {
	if err := t.commit(s.persist); err != nil {
		s.log.Error("salesforce sandbox: committing a write", "err", err)
		return newError(http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "the write could not be saved")
	}
	return nil
}

// sobjectRoot is /sobjects/{type}: GET its basic information, POST a new record.
func (s *Server) sobjectRoot(w http.ResponseWriter, r *http.Request, c call) {
	obj := s.objectFor(w, r)
	if obj == nil {
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": objectSummary(obj, c.version), "recentItems": []any{}})
	case http.MethodPost:
		var body map[string]any
		if !decodeBody(w, r, &body) {
			return
		}
		var id string
		err := s.transact(c, func(t *tx) (err *apiError) {
			id, err = t.create(obj, body)
			return err
		})
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Location", recordURL(c.version, obj.Name, id))
		writeJSON(w, http.StatusCreated, saveResult{ID: id, Success: true, Errors: []recordError{}})
	default:
		writeError(w, errMethod(r.Method, "GET", "HEAD", "POST"))
	}
}

// record is /sobjects/{type}/{id}: GET, PATCH, DELETE one record.
func (s *Server) record(w http.ResponseWriter, r *http.Request, c call) {
	obj := s.objectFor(w, r)
	if obj == nil {
		return
	}
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		e, err := s.store.begin(s.opts.Now(), c.user).lookup(obj, id)
		s.mu.Unlock()
		if err != nil {
			if err.Code == "ENTITY_IS_DELETED" {
				err = errNotFound() // a deleted record cannot be read, only queried with queryAll
			}
			writeError(w, err)
			return
		}
		s.writeRecord(w, obj, e.rec, r.URL.Query().Get("fields"), c.version)
	case http.MethodPatch:
		var body map[string]any
		if !decodeBody(w, r, &body) {
			return
		}
		if err := s.transact(c, func(t *tx) (err *apiError) {
			_, err = t.update(obj, id, body)
			return err
		}); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if err := s.transact(c, func(t *tx) (err *apiError) {
			_, err = t.delete(obj, id)
			return err
		}); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, errMethod(r.Method, "GET", "HEAD", "PATCH", "DELETE"))
	}
}

// writeRecord answers a record GET: all fields, or those named in ?fields=a,b.
func (s *Server) writeRecord(w http.ResponseWriter, obj *sobject, rec soql.Record, fieldList, version string) {
	row := &soql.Row{Object: obj.Name, ID: rec["Id"].(string)}
	if fieldList == "" {
		for _, f := range obj.Fields {
			row.Fields = append(row.Fields, soql.Value{Name: f.Name, Scalar: rec[f.Name]})
		}
	} else {
		for name := range strings.SplitSeq(fieldList, ",") {
			f := obj.Field(strings.TrimSpace(name))
			if f == nil {
				writeError(w, newError(http.StatusBadRequest, "INVALID_FIELD",
					"No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
					strings.TrimSpace(name), obj.Name))
				return
			}
			row.Fields = append(row.Fields, soql.Value{Name: f.Name, Scalar: rec[f.Name]})
		}
	}
	writeRaw(w, http.StatusOK, s.schema.encodeRow(row, version))
}

// byExternalID is /sobjects/{type}/{field}/{value}, which is also /sobjects/{type}/{id}/{blob}:
// the bytes of a blob field when the middle segment is an id rather than a field.
func (s *Server) byExternalID(w http.ResponseWriter, r *http.Request, c call) {
	if obj := s.schema.sobject(r.PathValue("type")); obj != nil && obj.Field(r.PathValue("field")) == nil {
		if _, ok := normalizeID(r.PathValue("field")); ok {
			s.blob(w, r, c, obj)
			return
		}
	}
	s.externalIDRecord(w, r, c)
}

// externalIDRecord is /sobjects/{type}/{field}/{value}: GET, upsert (PATCH) or DELETE the
// record whose external id field has that value.
func (s *Server) externalIDRecord(w http.ResponseWriter, r *http.Request, c call) {
	obj := s.objectFor(w, r)
	if obj == nil {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodPatch, http.MethodDelete:
	default:
		writeError(w, errMethod(r.Method, "GET", "HEAD", "PATCH", "DELETE"))
		return
	}
	fieldName, value := r.PathValue("field"), r.PathValue("value")
	f := obj.Field(fieldName)
	if f == nil || !(f.ExternalID || f.Name == "Id") {
		writeError(w, newError(http.StatusNotFound, "NOT_FOUND",
			"Provided external ID field does not exist or is not accessible: %s", fieldName))
		return
	}
	var body map[string]any
	if r.Method == http.MethodPatch {
		if !decodeBody(w, r, &body) {
			return
		}
		for k := range body {
			if strings.EqualFold(k, f.Name) {
				delete(body, k) // the URL names the value
			}
		}
	}
	var (
		matches []string
		result  saveResult
		rec     soql.Record
	)
	err := s.transact(c, func(t *tx) *apiError {
		matches = t.matchExternal(obj, f, value)
		switch {
		case len(matches) > 1:
			return nil
		case r.Method == http.MethodGet:
			if len(matches) == 0 {
				return errNotFound()
			}
			rec = t.get(matches[0]).rec
			return nil
		case r.Method == http.MethodDelete:
			if len(matches) == 0 {
				return errNotFound()
			}
			_, err := t.delete(obj, matches[0])
			return err
		case len(matches) == 1:
			id, err := t.update(obj, matches[0], body)
			created := false
			result = saveResult{ID: id, Success: true, Errors: []recordError{}, Created: &created}
			return err
		case f.Name == "Id":
			return errNotFound() // upsert by Id only updates
		default:
			body[f.Name] = value
			id, err := t.create(obj, body)
			created := true
			result = saveResult{ID: id, Success: true, Errors: []recordError{}, Created: &created}
			return err
		}
	})
	switch {
	case err != nil:
		writeError(w, err)
	case len(matches) > 1:
		urls := make([]string, len(matches))
		for i, id := range matches {
			urls[i] = recordURL(c.version, obj.Name, id)
		}
		writeJSON(w, http.StatusMultipleChoices, urls)
	case r.Method == http.MethodGet:
		s.writeRecord(w, obj, rec, r.URL.Query().Get("fields"), c.version)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case *result.Created:
		w.Header().Set("Location", recordURL(c.version, obj.Name, result.ID))
		writeJSON(w, http.StatusCreated, result)
	default:
		writeJSON(w, http.StatusOK, result)
	}
}

// collections is /composite/sobjects: create (POST), update (PATCH) or delete (DELETE ?ids=)
// up to 200 records in one call, each with its own result, or all or none.
func (s *Server) collections(w http.ResponseWriter, r *http.Request, c call) {
	var (
		allOrNone bool
		n         int
		op        func(t *tx, i int) (string, *apiError)
	)
	switch r.Method {
	case http.MethodPost, http.MethodPatch:
		var body struct {
			AllOrNone bool             `json:"allOrNone"`
			Records   []map[string]any `json:"records"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		allOrNone, n = body.AllOrNone, len(body.Records)
		update := r.Method == http.MethodPatch
		op = func(t *tx, i int) (string, *apiError) { return s.collectionWrite(t, body.Records[i], update) }
	case http.MethodDelete:
		q := r.URL.Query()
		var ids []string
		if v := q.Get("ids"); v != "" {
			ids = strings.Split(v, ",")
		}
		allOrNone, n = q.Get("allOrNone") == "true", len(ids)
		op = func(t *tx, i int) (string, *apiError) {
			id, err := t.delete(nil, ids[i])
			if err != nil {
				if norm, ok := normalizeID(ids[i]); ok {
					id = norm
				}
			}
			return id, err
		}
	default:
		writeError(w, errMethod(r.Method, "POST", "PATCH", "DELETE"))
		return
	}
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
		id, err := op(t, i)
		results[i] = saveResult{ID: id, Success: err == nil, Errors: []recordError{}}
		if err != nil {
			failed = true
			results[i].Errors = []recordError{recordErr(err)}
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
	attrs, _ := rec["attributes"].(map[string]any)
	typeName, _ := attrs["type"].(string)
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

// recordErr is a per-record error of a collection; a record that does not exist is an
// invalid reference there, not a 404.
func recordErr(e *apiError) recordError {
	if e.Code == "NOT_FOUND" {
		e = fieldError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
	}
	return e.record()
}
