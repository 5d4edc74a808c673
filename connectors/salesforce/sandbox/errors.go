package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// apiError is one Salesforce error: the REST API sends it as
// [{"message","errorCode","fields"}], sObject Collections as {"statusCode","message","fields"}.
type apiError struct {
	Status  int // HTTP status when the error ends the whole request
	Code    string
	Message string
	Fields  []string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// fieldError is a 400 error about particular fields of a record.
func fieldError(code, message string, fields ...string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: message, Fields: fields}
}

func errNotFound() *apiError {
	return newError(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

func errDeleted() *apiError {
	return newError(http.StatusNotFound, "ENTITY_IS_DELETED", "entity is deleted")
}

func errMalformedID(id string) *apiError {
	return newError(http.StatusBadRequest, "MALFORMED_ID", "malformed id %s", id)
}

func errMethod(method string, allowed ...string) *apiError {
	return newError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
		"HTTP Method '%s' not allowed. Allowed are %s", method, strings.Join(allowed, ","))
}

func errJSON(err error) *apiError {
	return newError(http.StatusBadRequest, "JSON_PARSER_ERROR", "%v", err)
}

// restError is the REST API's shape of an error.
type restError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

// recordError is sObject Collections' shape of a per-record error.
type recordError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func (e *apiError) record() recordError {
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	return recordError{StatusCode: e.Code, Message: e.Message, Fields: fields}
}

func writeError(w http.ResponseWriter, e *apiError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, []restError{{Message: e.Message, ErrorCode: e.Code, Fields: e.Fields}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value written here is built by this package from JSON-safe types.
		panic(fmt.Sprintf("sandbox: encoding a response: %v", err))
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
