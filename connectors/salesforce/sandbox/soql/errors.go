package soql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error codes, as Salesforce returns them in "errorCode".
const (
	CodeMalformedQuery     = "MALFORMED_QUERY"
	CodeInvalidField       = "INVALID_FIELD"
	CodeInvalidType        = "INVALID_TYPE"
	CodeInvalidFilterOp    = "INVALID_QUERY_FILTER_OPERATOR"
	CodeNumberOutsideRange = "NUMBER_OUTSIDE_VALID_RANGE"
)

// Error is a query refused the way Salesforce refuses it: the server answers
// HTTP 400 with [{"message": Message, "errorCode": Code}].
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errAt builds an error located in the query text. Salesforce prefixes such messages with the
// offending line, a caret under the column and "ERROR at Row:r:Column:c" (both 1-based).
func errAt(src string, pos Pos, code, format string, args ...any) *Error {
	if src == "" { // a Query built in code rather than parsed has no text to point into
		return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
	}
	row, col, line := locate(src, pos)
	return &Error{Code: code, Message: fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s",
		line, strings.Repeat(" ", col-1), row, col, fmt.Sprintf(format, args...))}
}

// locate turns a byte offset into a 1-based row and column (in characters) and the text of
// that row.
func locate(src string, pos Pos) (row, col int, line string) {
	p := min(max(int(pos), 0), len(src))
	start := strings.LastIndexByte(src[:p], '\n') + 1
	end := strings.IndexByte(src[p:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += p
	}
	return strings.Count(src[:p], "\n") + 1, utf8.RuneCountInString(src[start:p]) + 1, src[start:end]
}

// Salesforce's messages for unknown names, word for word: clients and admins search for them.
const (
	customFieldHint  = "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
	customObjectHint = "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
	customRelHint    = "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
)
