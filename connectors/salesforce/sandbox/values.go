package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"casebot/connectors/salesforce/sandbox/soql"
)

// Salesforce's wire layouts. Datetimes go out in UTC with "+0000" (not RFC 3339).
const (
	dateLayout     = "2006-01-02"
	dateTimeLayout = "2006-01-02T15:04:05.000-0700"
)

func formatDateTime(t time.Time) string { return t.UTC().Format(dateTimeLayout) }

// dateTimeInputs are the ISO 8601 forms Salesforce accepts for a datetime: Z, ±hh:mm or ±hhmm,
// with or without fractional seconds (Go's parser accepts fractions after seconds in any
// layout).
var dateTimeInputs = [...]string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
}

func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range dateTimeInputs {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if t, err := time.Parse(dateLayout, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// coerce converts a JSON value written to field f into its stored form (see soql.Record), or
// returns the error Salesforce gives for it. References are checked against the store by the
// caller; here they are only normalized.
func coerce(f *soql.Field, v any) (any, *apiError) {
	if v == nil {
		if f.Type == soql.TypeBoolean {
			return false, nil // a checkbox is never null
		}
		return nil, nil
	}
	wrongType := func() *apiError {
		return fieldError("INVALID_TYPE_ON_FIELD_IN_RECORD",
			fmt.Sprintf("%s: value not of required type: %v", f.Label, v), f.Name)
	}
	switch f.Type {
	case soql.TypeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if p, err := strconv.ParseBool(b); err == nil {
				return p, nil
			}
		}
		return nil, wrongType()
	case soql.TypeDouble, soql.TypeInt, soql.TypeCurrency:
		var n float64
		switch x := v.(type) {
		case float64:
			n = x
		case string:
			p, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, wrongType()
			}
			n = p
		default:
			return nil, wrongType()
		}
		if f.Type == soql.TypeInt && n != float64(int64(n)) {
			return nil, wrongType()
		}
		return n, nil
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		if f.Type != soql.TypeString && f.Type != soql.TypeTextArea {
			return nil, wrongType()
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return nil, wrongType()
	}
	switch f.Type {
	case soql.TypeDate:
		if s == "" {
			return nil, nil
		}
		if t, ok := parseDateTime(s); ok {
			return t.Format(dateLayout), nil // a datetime given for a date keeps its date
		}
		return nil, wrongType()
	case soql.TypeDateTime:
		if s == "" {
			return nil, nil
		}
		if t, ok := parseDateTime(s); ok {
			return formatDateTime(t), nil
		}
		return nil, wrongType()
	case soql.TypeReference, soql.TypeID:
		if s == "" {
			return nil, nil
		}
		id, ok := normalizeID(s)
		if !ok {
			return nil, fieldError("MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, s), f.Name)
		}
		return id, nil
	case soql.TypeBase64:
		// Salesforce decodes base64 while it reads the JSON body, so bad base64 is a parse
		// error of the request, not a field error.
		if _, err := decodeBase64(s); err != nil {
			return nil, newError(http.StatusBadRequest, "JSON_PARSER_ERROR",
				"Cannot deserialize instance of base64 from VALUE_STRING value %s or request may be missing a required field", abbreviate(s))
		}
		return s, nil
	}
	if s == "" {
		return nil, nil // Salesforce stores an empty text value as null
	}
	if f.Length > 0 && utf8.RuneCountInString(s) > f.Length {
		return nil, fieldError("STRING_TOO_LONG",
			fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, abbreviate(s), f.Length), f.Name)
	}
	switch f.Type {
	case soql.TypePicklist:
		if f.Restricted && !slices.Contains(f.Picklist, s) {
			return nil, fieldError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
				fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label, s), f.Name)
		}
	case soql.TypeEmail:
		if at := strings.IndexByte(s, '@'); at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " ,;<>") {
			return nil, fieldError("INVALID_EMAIL_ADDRESS", fmt.Sprintf("%s: invalid email address: %s", f.Label, s), f.Name)
		}
	}
	return s, nil
}

// abbreviate shortens a value quoted in an error message.
func abbreviate(s string) string {
	const limit = 100
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "..."
}
