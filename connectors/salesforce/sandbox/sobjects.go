package sandbox

import (
	"encoding/json"
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
	row, err := recordRow(obj, rec, splitList(fieldList))
	if err != nil {
		writeError(w, err)
		return
	}
	writeRaw(w, http.StatusOK, s.schema.encodeRow(row, version))
}

// recordRow is rec as a record resource shows it: with all of obj's fields, or those named.
func recordRow(obj *sobject, rec soql.Record, names []string) (*soql.Row, *apiError) {
	row := &soql.Row{Object: obj.Name, ID: rec["Id"].(string)}
	if len(names) == 0 {
		for _, f := range obj.Fields {
			row.Fields = append(row.Fields, soql.Value{Name: f.Name, Scalar: rec[f.Name]})
		}
		return row, nil
	}
	for _, name := range names {
		f := obj.Field(strings.TrimSpace(name))
		if f == nil {
			return nil, newError(http.StatusBadRequest, "INVALID_FIELD",
				"No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
				strings.TrimSpace(name), obj.Name)
		}
		row.Fields = append(row.Fields, soql.Value{Name: f.Name, Scalar: rec[f.Name]})
	}
	return row, nil
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
	f, value := externalIDField(w, r, obj), r.PathValue("value")
	if f == nil {
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
		switch r.Method {
		case http.MethodGet, http.MethodDelete:
			matches = t.matchExternal(obj, f, value)
			switch {
			case len(matches) == 0:
				return errNotFound()
			case len(matches) > 1:
				return nil
			case r.Method == http.MethodGet:
				rec = t.get(matches[0]).rec
				return nil
			}
			_, err := t.delete(obj, matches[0])
			return err
		}
		var (
			id      string
			created bool
			err     *apiError
		)
		id, created, matches, err = t.upsert(obj, f, value, body)
		result = saveResult{ID: id, Success: true, Errors: []recordError{}, Created: &created}
		return err
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

// externalIDField returns the field of obj a URL's {field} names for an upsert: an external id
// or Id. Otherwise it writes NOT_FOUND and returns nil.
func externalIDField(w http.ResponseWriter, r *http.Request, obj *sobject) *soql.Field {
	f := obj.Field(r.PathValue("field"))
	if f == nil || !(f.ExternalID || f.Name == "Id") {
		writeError(w, newError(http.StatusNotFound, "NOT_FOUND",
			"Provided external ID field does not exist or is not accessible: %s", r.PathValue("field")))
		return nil
	}
	return f
}
