package salesforce

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"casebot/bot"
)

// Error codes that mean "try again later".
const (
	codeRequestLimit   = "REQUEST_LIMIT_EXCEEDED" // the org's daily API allowance is used up
	codeLockRow        = "UNABLE_TO_LOCK_ROW"     // another transaction holds the record: not done
	codeInvalidSession = "INVALID_SESSION_ID"     // the session ended: a new login answers it, not done
)

// APIError is an error Salesforce answered with: a data call's
// [{"message","errorCode","fields"}], one record's error in a collection, or the token
// endpoint's {"error","error_description"}.
//
// It unwraps to a *bot.Error carrying the same Op, Code and Message and whether a later attempt
// may succeed, so the engine can classify it without knowing Salesforce.
type APIError struct {
	Op         string        // what was being done: "update Case 500…"
	Status     int           // the HTTP status; 0 for one record's error in a collection
	Code       string        // errorCode (statusCode in collections), "HTTP_nnn" when the body has none
	Message    string        // Salesforce's message; several errors' messages joined with "; "
	Fields     []string      // the fields the error is about, when Salesforce names them
	RetryAfter time.Duration // from the Retry-After header, zero when none
}

func (e *APIError) Error() string {
	s := e.Op + ": " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if len(e.Fields) > 0 {
		s += " [fields " + strings.Join(e.Fields, ", ") + "]"
	}
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	return s
}

// Unwrap returns the error as the engine sees it.
func (e *APIError) Unwrap() error {
	return &bot.Error{Op: e.Op, Code: e.Code, Message: e.Message, Retryable: e.Retryable(), RetryAfter: e.RetryAfter,
		Login: e.Op == opLogin && !e.Retryable()}
}

// Retryable reports whether a later attempt may succeed: Salesforce is unavailable or
// overloaded (5xx), the daily API allowance is used up, a record was locked, or the session
// kept being rejected after new logins (only the token endpoint refusing the credentials
// means that logging in cannot work, and that error has another code).
func (e *APIError) Retryable() bool {
	return e.Status >= 500 || e.Code == codeRequestLimit || e.Code == codeLockRow || e.Code == codeInvalidSession
}

// transient reports whether the client itself retries the call that failed with e at once.
// REQUEST_LIMIT_EXCEEDED is retryable but not transient: the daily allowance does not come
// back within seconds. A create is retried only when the answer means "not done": a rejected
// session is checked before anything is processed.
func (e *APIError) transient(create bool) bool {
	if e.Code == codeLockRow || e.Code == codeInvalidSession || e.Status == http.StatusServiceUnavailable {
		return true
	}
	return !create && e.Status >= 500
}

// sfError is one error in a Salesforce error body. Data calls name the code errorCode;
// Collections' per-record errors name it statusCode.
type sfError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

// newAPIError makes one error of errs, which Salesforce returned for one request or record.
func newAPIError(op string, status int, errs []sfError) *APIError {
	e := &APIError{Op: op, Status: status, Code: "UNKNOWN_ERROR"}
	msgs := make([]string, 0, len(errs))
	for i, se := range errs {
		if i == 0 {
			e.Code = se.ErrorCode + se.StatusCode // only one of them is set
			e.Fields = se.Fields
		}
		if se.Message != "" {
			msgs = append(msgs, se.Message)
		}
	}
	e.Message = strings.Join(msgs, "; ")
	return e
}

// newHTTPError reads the error in a failed response.
func newHTTPError(op string, resp *response, now time.Time) *APIError {
	var e *APIError
	var list []sfError
	var one sfError
	switch {
	case resp.status == http.StatusMultipleChoices:
		// Upsert by external id: the body lists the matching records' URLs.
		e = &APIError{Op: op, Status: resp.status, Code: "MULTIPLE_CHOICES",
			Message: "several records have this external id: " + snippet(resp.body)}
	case json.Unmarshal(resp.body, &list) == nil && len(list) > 0:
		e = newAPIError(op, resp.status, list)
	case json.Unmarshal(resp.body, &one) == nil && one.ErrorCode+one.StatusCode != "":
		e = newAPIError(op, resp.status, []sfError{one})
	default:
		// Proxies and maintenance pages answer in HTML or plain text.
		e = &APIError{Op: op, Status: resp.status, Code: httpCode(resp.status), Message: snippet(resp.body)}
	}
	e.RetryAfter = parseRetryAfter(resp.header.Get("Retry-After"), now)
	return e
}

func httpCode(status int) string { return "HTTP_" + strconv.Itoa(status) }

// snippet returns the start of a body for an error message.
func snippet(b []byte) string {
	return bot.Truncate(strings.TrimSpace(string(b)), 200, "…")
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(h); err == nil {
		const year = 365 * 24 * 60 * 60 // keeps the product from overflowing
		return time.Duration(min(max(secs, 0), year)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// transportError is a failure to get an answer from Salesforce: the connection failed or timed
// out, or the response could not be read. It unwraps both to the underlying error and to a
// retryable *bot.Error.
type transportError struct {
	Op  string
	Err error
}

func (e *transportError) Error() string { return e.Op + ": " + e.Err.Error() }

func (e *transportError) Unwrap() []error {
	return []error{e.Err, &bot.Error{Op: e.Op, Code: "TRANSPORT", Message: e.Err.Error(), Retryable: true}}
}

// invalidInput is the error for a call the client refuses to send.
func invalidInput(op, msg string) error {
	return &bot.Error{Op: op, Code: "INVALID_INPUT", Message: msg}
}
