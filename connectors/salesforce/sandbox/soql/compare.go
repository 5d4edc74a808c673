package soql

import (
	"cmp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// category groups field types by how their values compare.
type category int

const (
	catText     category = iota // case-insensitive strings
	catID                       // ids: case-sensitive, 15- and 18-character forms equal
	catBool                     // checkboxes: never null, false < true
	catNumber                   // float64
	catDate                     // "2006-01-02": ordered as strings
	catDateTime                 // UTC in dateTimeLayout: ordered as strings
)

// dateTimeLayout is how records store datetimes (always UTC).
const dateTimeLayout = "2006-01-02T15:04:05.000-0700"

func categoryOf(t FieldType) category {
	switch t {
	case TypeID, TypeReference:
		return catID
	case TypeBoolean:
		return catBool
	case TypeDouble, TypeInt, TypeCurrency:
		return catNumber
	case TypeDate:
		return catDate
	case TypeDateTime:
		return catDateTime
	}
	return catText
}

// soapType is how Salesforce names a type in filter error messages.
func soapType(t FieldType) string {
	switch t {
	case TypeID, TypeReference:
		return "id"
	case TypeBoolean, TypeDate:
		return string(t)
	case TypeDateTime:
		return "dateTime"
	case TypeDouble, TypeCurrency:
		return "double"
	case TypeInt:
		return "integer"
	}
	return "string"
}

// key is a value normalised for comparison: s for the string categories, f for numbers and
// booleans. Normalising once per record keeps comparisons free of allocations.
type key struct {
	s string
	f float64
}

// toKey normalises a stored value; ok is false when it is null (or not of the field's type,
// which Salesforce's typed storage never produces). Empty strings are null, as in Salesforce.
func toKey(c category, v any) (k key, ok bool) {
	switch c {
	case catNumber:
		switch n := v.(type) {
		case float64:
			return key{f: n}, true
		case int:
			return key{f: float64(n)}, true
		}
		return key{}, false
	case catBool:
		if b, _ := v.(bool); b {
			return key{f: 1}, true
		}
		return key{}, true
	}
	s, _ := v.(string)
	if s == "" {
		return key{}, false
	}
	switch c {
	case catID:
		s = idKey(s)
	case catDateTime:
		s = normDateTime(s)
	}
	return key{s: s}, true
}

func compareKeys(c category, a, b key) int {
	switch c {
	case catNumber, catBool:
		return cmp.Compare(a.f, b.f)
	case catText:
		return compareFold(a.s, b.s)
	}
	return strings.Compare(a.s, b.s)
}

// idKey reduces an id to its case-sensitive 15-character form: the 18-character form only
// appends a checksum of the letter case.
func idKey(id string) string {
	if len(id) == 18 {
		return id[:15]
	}
	return id
}

func validID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && !('a' <= s[i] && s[i] <= 'z') && !('A' <= s[i] && s[i] <= 'Z') {
			return false
		}
	}
	return true
}

// normDateTime brings a stored datetime into dateTimeLayout in UTC. Records already hold that
// form, so the common case returns its argument untouched.
func normDateTime(s string) string {
	if len(s) == len(dateTimeLayout)-1 && strings.HasSuffix(s, "+0000") {
		return s
	}
	for _, layout := range []string{dateTimeLayout, time.RFC3339Nano, "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(dateTimeLayout)
		}
	}
	return s
}

// compareFold orders strings case-insensitively without allocating.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		a, b = a[na:], b[nb:]
		if ra == rb {
			continue
		}
		if la, lb := unicode.ToLower(ra), unicode.ToLower(rb); la != lb {
			return cmp.Compare(la, lb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

// likePattern is a compiled LIKE pattern: % matches any run, _ one character, and the rest
// matches case-insensitively.
type likePattern []likeElem

type likeElem struct {
	anyRun, one bool
	r           rune // lower case
}

// compileLike compiles a pattern in which a backslash escapes the next character (Literal.Str
// of a LIKE).
func compileLike(p string) likePattern {
	var lp likePattern
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		i += n
		switch {
		case r == '\\' && i < len(p):
			r, n = utf8.DecodeRuneInString(p[i:])
			i += n
			lp = append(lp, likeElem{r: unicode.ToLower(r)})
		case r == '%':
			lp = append(lp, likeElem{anyRun: true})
		case r == '_':
			lp = append(lp, likeElem{one: true})
		default:
			lp = append(lp, likeElem{r: unicode.ToLower(r)})
		}
	}
	return lp
}

// match runs the classic wildcard matcher, backtracking only to the last %.
func (lp likePattern) match(s string) bool {
	pi, si := 0, 0
	star, starS := -1, 0
	for si < len(s) {
		r, n := utf8.DecodeRuneInString(s[si:])
		switch {
		case pi < len(lp) && lp[pi].anyRun:
			star, starS = pi, si
			pi++
		case pi < len(lp) && (lp[pi].one || lp[pi].r == unicode.ToLower(r)):
			pi++
			si += n
		case star >= 0:
			_, sn := utf8.DecodeRuneInString(s[starS:])
			starS += sn
			pi, si = star+1, starS
		default:
			return false
		}
	}
	for pi < len(lp) && lp[pi].anyRun {
		pi++
	}
	return pi == len(lp)
}
