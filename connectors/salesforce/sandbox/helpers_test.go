package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of most tests: a Saturday afternoon in UTC.
var testNow = time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)

// org is a sandbox behind httptest, with a logged-in plain HTTP client.
type org struct {
	t     *testing.T
	sb    *Server
	http  *httptest.Server
	token string
}

func newOrg(t *testing.T, opts Options) *org {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	sb, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	o := &org{t: t, sb: sb, http: newHTTPTest(t, sb)}
	o.token = o.login()
	return o
}

func seededOrg(t *testing.T) *org { return newOrg(t, Options{Seed: true}) }

func (o *org) login() string {
	o.t.Helper()
	status, body := postForm(o.t, o.http.URL, url.Values{"grant_type": {"password"}, "client_id": {"casebot-sandbox"},
		"client_secret": {"sandbox-secret"}, "username": {"casebot@example.test"}, "password": {"sandbox"}}, nil)
	if status != http.StatusOK {
		o.t.Fatalf("login: %d %s", status, body)
	}
	var tok tokenResponse
	mustUnmarshal(o.t, body, &tok)
	return tok.AccessToken
}

// postForm posts a form to the token endpoint. The body has no length, so it goes chunked,
// as jsforce sends it.
func postForm(t *testing.T, base string, form url.Values, basic []string) (int, []byte) {
	t.Helper()
	// A MultiReader hides the length, so net/http sends the body chunked.
	req, err := http.NewRequest(http.MethodPost, base+"/services/oauth2/token",
		io.MultiReader(strings.NewReader(form.Encode())))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends an authenticated request; path is relative to /services/data/v62.0 unless it
// starts with /services.
func (o *org) do(method, path string, body any, header ...string) response {
	o.t.Helper()
	if !strings.HasPrefix(path, "/services") && !strings.HasPrefix(path, "/id/") {
		path = "/services/data/v62.0" + path
	}
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			o.t.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, o.http.URL+path, r)
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		o.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// ok fails the test unless the response has the wanted status, and decodes its body into v.
func (r response) ok(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if v != nil {
		mustUnmarshal(t, r.body, v)
	}
}

// wantError fails the test unless the response is a REST error with that status and code,
// and returns its message.
func (r response) wantError(t *testing.T, status int, code string) restError {
	t.Helper()
	var errs []restError
	if r.status != status || json.Unmarshal(r.body, &errs) != nil || len(errs) != 1 || errs[0].ErrorCode != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	return errs[0]
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// create creates a record and returns its id.
func (o *org) create(object string, fields map[string]any) string {
	o.t.Helper()
	var res saveResult
	o.do("POST", "/sobjects/"+object, fields).ok(o.t, http.StatusCreated, &res)
	if !res.Success || len(res.ID) != 18 {
		o.t.Fatalf("create %s: %+v", object, res)
	}
	return res.ID
}

// get reads a record's fields.
func (o *org) get(object, id string) map[string]any {
	o.t.Helper()
	var rec map[string]any
	o.do("GET", "/sobjects/"+object+"/"+id, nil).ok(o.t, http.StatusOK, &rec)
	return rec
}

type queryResult struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

func (o *org) query(q string) queryResult {
	o.t.Helper()
	var res queryResult
	o.do("GET", "/query?q="+url.QueryEscape(q), nil).ok(o.t, http.StatusOK, &res)
	return res
}

func newHTTPTest(t *testing.T, sb *Server) *httptest.Server {
	hs := httptest.NewServer(sb.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return hs
}
