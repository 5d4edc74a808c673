package soql

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConformanceWithSoqlParserJS checks the parser against soql-parser-js, a SOQL parser
// nobody here wrote (test/soqljs pins the version): every query of valid.soql parses in both to
// the same structure (see jsshape_test.go for what is normalized), and every query of
// invalid.soql is refused by both. Where soql-parser-js is more lenient than Salesforce, the
// queries are in invalid-salesforce-only.soql, each with the reason Salesforce refuses it, and
// only our parser must refuse them. unsupported.soql is SOQL a real org accepts but the sandbox
// does not implement: soql-parser-js must accept it, which keeps that list honest.
func TestConformanceWithSoqlParserJS(t *testing.T) {
	js := soqlParserJS(t)

	valid := corpus(t, "valid.soql")
	invalid := corpus(t, "invalid.soql")
	sfOnly := annotatedCorpus(t, "invalid-salesforce-only.soql")
	if len(valid) < 150 || len(invalid) < 60 || len(valid)+len(invalid)+len(sfOnly) < 200 {
		t.Fatalf("corpus too small: %d valid, %d invalid, %d refused by Salesforce only", len(valid), len(invalid), len(sfOnly))
	}

	for i, res := range js(valid) {
		q := valid[i]
		ours, err := Parse(q)
		if err != nil || !res.OK {
			t.Errorf("valid query refused:\n  %s\n  ours: %v\n  soql-parser-js: %s", q, err, res.Error)
			continue
		}
		want, got := roundTripJSON(t, jsShape(ours, false)), normalizeJS(res.Query)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("different structure for\n  %s\n  ours:           %s\n  soql-parser-js: %s", q, mustJSON(t, want), mustJSON(t, got))
		}
	}
	for i, res := range js(invalid) {
		if _, err := Parse(invalid[i]); err == nil || res.OK {
			t.Errorf("invalid query accepted:\n  %s\n  our error: %v\n  soql-parser-js accepts: %v", invalid[i], err, res.OK)
		}
	}
	for i, res := range js(queriesOf(sfOnly)) {
		a := sfOnly[i]
		if _, err := Parse(a.query); err == nil {
			t.Errorf("we accept a query Salesforce refuses (%s):\n  %s", a.why, a.query)
		}
		if !res.OK {
			t.Errorf("soql-parser-js refuses it too, so it belongs in invalid.soql:\n  %s", a.query)
		}
	}
	unsupported := annotatedCorpus(t, "unsupported.soql")
	for i, res := range js(queriesOf(unsupported)) {
		a := unsupported[i]
		if _, err := Parse(a.query); err == nil {
			t.Errorf("unsupported.soql holds a query we now accept; move it to valid.soql:\n  %s", a.query)
		}
		if !res.OK {
			t.Errorf("unsupported.soql should hold only valid SOQL (%s), but soql-parser-js refuses\n  %s\n  %s", a.why, a.query, res.Error)
		}
	}
}

// jsResult is what test/soqljs/parse.js prints for one query.
type jsResult struct {
	OK    bool   `json:"ok"`
	Query any    `json:"query"`
	Error string `json:"error"`
}

// soqlParserJS finds Node.js and the soql-parser-js package and returns a function that
// parses queries with it. Without them the test is skipped, except in CI (CI non-empty),
// where that is a failure: make test installs both.
func soqlParserJS(t *testing.T) func([]string) []jsResult {
	t.Helper()
	dir := os.Getenv("CASEBOT_SOQLJS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "test", "soqljs")
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "soql-parser-js", "package.json"))
	}
	if err != nil {
		msg := "needs Node.js and soql-parser-js installed in test/soqljs (make test does both): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return func(queries []string) []jsResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "parse.js")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(strings.Join(queries, "\n"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("running soql-parser-js: %v\n%s", err, stderr.String())
		}
		var results []jsResult
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var r jsResult
			if err := dec.Decode(&r); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("reading soql-parser-js output: %v", err)
			}
			results = append(results, r)
		}
		if len(results) != len(queries) {
			t.Fatalf("soql-parser-js answered %d of %d queries", len(results), len(queries))
		}
		return results
	}
}

// annotated is a query with the comment that explains why it is in its file.
type annotated struct{ query, why string }

// annotatedCorpus reads a testdata file in which every query directly follows its own # comment
// line saying why it is there.
func annotatedCorpus(t testing.TB, name string) []annotated {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []annotated
	why := ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		switch l := s.Text(); {
		case strings.TrimSpace(l) == "":
			why = ""
		case strings.HasPrefix(l, "#"):
			why = strings.TrimSpace(strings.TrimPrefix(l, "#"))
		case why == "":
			t.Fatalf("%s: no comment says why this query is here: %s", name, l)
		default:
			out = append(out, annotated{query: l, why: why})
			why = ""
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func queriesOf(as []annotated) []string {
	qs := make([]string, len(as))
	for i, a := range as {
		qs[i] = a.query
	}
	return qs
}

// roundTripJSON passes v through JSON so that it compares with decoded JSON (numbers as
// float64, nil maps as null).
func roundTripJSON(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(mustJSON(t, v)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
