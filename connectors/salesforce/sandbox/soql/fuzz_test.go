package soql

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, refuses only with *Error, and that whatever it
// accepts survives the round trip through String. Executing the accepted queries against the
// test fixture must not panic either.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"valid.soql", "invalid.soql"} {
		for _, q := range corpus(f, name) {
			f.Add(q)
		}
	}
	for _, name := range []string{"invalid-salesforce-only.soql", "unsupported.soql"} {
		for _, q := range queriesOf(annotatedCorpus(f, name)) {
			f.Add(q)
		}
	}
	d := newTestData()
	f.Fuzz(func(t *testing.T, query string) {
		q, err := Parse(query)
		if err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) || e.Code != CodeMalformedQuery {
				t.Fatalf("Parse(%q) = %v, want a MALFORMED_QUERY *Error", query, err)
			}
			return
		}
		again, err := Parse(q.String())
		if err != nil || again.String() != q.String() {
			t.Fatalf("Parse(%q).String() = %q does not round-trip: %v", query, q.String(), err)
		}
		if _, err := Execute(q, testEnv(d)); err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) {
				t.Fatalf("Execute(%q) = %v, want an *Error", query, err)
			}
		}
	})
}
