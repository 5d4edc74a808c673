package salesforce

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"sync"
	"testing"
	"time"
)

// The credentials the fake org accepts. The secrets must never show in an error or a log line.
const (
	testClientID     = "3MVG9casebotConsumerKey"
	testClientSecret = "client-secret-5up3r"
	testUsername     = "casebot@example.com"
	testPassword     = "pa55word-and-T0KEN"
)

// fakeOrg answers as Salesforce does: an OAuth token endpoint that issues a new session per
// login, and data endpoints that accept only the latest session, count calls in
// Sforce-Limit-Info and hand accepted requests to data.
type fakeOrg struct {
	LoginURL string           // where to log in
	URL      string           // the instance_url its token responses name
	data     http.HandlerFunc // answers data requests with a valid session

	mu          sync.Mutex
	forms       []url.Values  // token requests' forms
	tokenFaults []int         // statuses to answer token requests with before succeeding
	tokenGate   chan struct{} // when set, token requests wait for it to close
	token       string        // the session the org accepts; "" accepts none
	reject      bool          // rejects every session, as an org whose user lost API access
	calls       []recorded    // data requests, accepted or not

	jwtKey       *rsa.PublicKey  // the certificate's key that JWT bearer assertions must be signed with
	jwtAudience  string          // the aud assertions must name; LoginURL when empty
	jwtNow       time.Time       // the org's clock for assertions' exp
	claims       []jwt.MapClaims // the verified assertions' claims
	issueRefresh bool            // password logins return a refresh token
	refreshes    map[string]bool // the refresh tokens the org accepts
}

type recorded struct {
	Method, Path, RawQuery, Auth string
	Body                         []byte
}

// newOrg serves a fake org on 127.0.0.1.
func newOrg(t *testing.T, data http.HandlerFunc) *fakeOrg {
	o := &fakeOrg{data: data, refreshes: map[string]bool{}}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	o.LoginURL, o.URL = srv.URL, srv.URL
	return o
}

func (o *fakeOrg) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/services/oauth2/token":
		o.serveToken(w, r)
	case strings.HasPrefix(r.URL.Path, "/services/data/"):
		o.serveData(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (o *fakeOrg) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	o.mu.Lock()
	o.forms = append(o.forms, r.PostForm)
	gate := o.tokenGate
	var fault int
	if len(o.tokenFaults) > 0 {
		fault, o.tokenFaults = o.tokenFaults[0], o.tokenFaults[1:]
	}
	o.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fault != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(fault)
		io.WriteString(w, "<html><body>Service Unavailable</body></html>")
		return
	}
	f := r.PostForm
	clientOK := f.Get("client_id") == testClientID && f.Get("client_secret") == testClientSecret
	switch f.Get("grant_type") {
	case "password":
		if !clientOK || f.Get("username") != testUsername || f.Get("password") != testPassword {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "authentication failure"})
			return
		}
	case "client_credentials":
		if !clientOK {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "invalid client credentials"})
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if !o.verifyAssertion(f.Get("assertion")) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "invalid assertion"})
			return
		}
	case "refresh_token":
		o.mu.Lock()
		ok := o.refreshes[f.Get("refresh_token")]
		o.mu.Unlock()
		if f.Get("client_id") != testClientID || !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "expired access/refresh token"})
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant type not supported"})
		return
	}
	o.mu.Lock()
	o.token = fmt.Sprintf("00DSESSION!%d", len(o.forms))
	resp := map[string]string{
		"access_token": o.token,
		"instance_url": o.URL,
		"id":           o.URL + "/id/00D000000000001EAA/005000000000001AAA",
		"token_type":   "Bearer",
		"issued_at":    "1763750000000",
		"signature":    "c2lnbmF0dXJl",
		"scope":        "api",
	}
	if o.issueRefresh && f.Get("grant_type") == "password" {
		rt := fmt.Sprintf("5AepREFRESH%d", len(o.forms))
		o.refreshes[rt] = true
		resp["refresh_token"] = rt
	}
	o.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func (o *fakeOrg) serveData(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	o.mu.Lock()
	o.calls = append(o.calls, recorded{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Auth: auth, Body: body})
	n := len(o.calls)
	ok := !o.reject && o.token != "" && auth == "Bearer "+o.token
	o.mu.Unlock()
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/15000", n))
	if !ok {
		sfErrors(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	o.data(w, r)
}

// verifyAssertion checks a JWT bearer assertion as Salesforce does: signed with RS256 by the
// key of the connected app's certificate, issued by its consumer key for the user, for this
// authorization server, and not expired.
func (o *fakeOrg) verifyAssertion(assertion string) bool {
	o.mu.Lock()
	key, aud, now := o.jwtKey, o.jwtAudience, o.jwtNow
	if aud == "" {
		aud = o.LoginURL
	}
	o.mu.Unlock()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(testClientID), jwt.WithSubject(testUsername),
		jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil || key == nil {
		return false
	}
	o.mu.Lock()
	o.claims = append(o.claims, claims)
	o.mu.Unlock()
	return true
}

// revokeRefreshTokens makes every refresh token issued so far invalid.
func (o *fakeOrg) revokeRefreshTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.refreshes)
}

// grants returns the grant_type of each token request so far.
func (o *fakeOrg) grants() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, f := range o.forms {
		out = append(out, f.Get("grant_type"))
	}
	return out
}

// expire ends the current session, as Salesforce does after the session timeout.
func (o *fakeOrg) expire() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.token = ""
}

func (o *fakeOrg) logins() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.forms)
}

func (o *fakeOrg) tokenForm(i int) url.Values {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.forms[i]
}

func (o *fakeOrg) dataCalls() []recorded {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]recorded(nil), o.calls...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// postAnswer answers a POST to path with answer, decoding its body into got; anything else is
// NOT_FOUND.
func postAnswer(path string, got *map[string]any, answer string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != path {
			sfErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
			return
		}
		if err := json.NewDecoder(r.Body).Decode(got); err != nil {
			sfErrors(w, http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, json.RawMessage(answer))
	}
}

// sfErrors answers with Salesforce's error body.
func sfErrors(w http.ResponseWriter, status int, code, msg string, fields ...string) {
	if fields == nil {
		fields = []string{}
	}
	writeJSON(w, status, []map[string]any{{"message": msg, "errorCode": code, "fields": fields}})
}

// testEnv is a client of a fake org, with what it slept and logged.
type testEnv struct {
	SleepLog
	org    *fakeOrg
	client *Client
	logs   lockedBuffer
}

// SleepLog is a client's Sleep that records the backoff instead of sleeping. It is exported
// for the tests of package salesforce_test, which run the client against the sandbox.
type SleepLog struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

// Sleep records d.
func (l *SleepLog) Sleep(ctx context.Context, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sleeps = append(l.sleeps, d)
	return ctx.Err()
}

// Slept returns the sleeps recorded since the start or the last Reset.
func (l *SleepLog) Slept() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.sleeps...)
}

// Reset forgets the sleeps so far.
func (l *SleepLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sleeps = nil
}

// CheckBackoff fails t unless slept are the waits want: each at least its wanted delay and at
// most half again as long, the backoff's jitter (a Retry-After above the backoff is exact).
func CheckBackoff(t *testing.T, slept, want []time.Duration) {
	t.Helper()
	if len(slept) != len(want) {
		t.Errorf("sleeps = %v, want %d of them", slept, len(want))
	}
	for i, d := range slept[:min(len(slept), len(want))] {
		if lo := want[i]; d < lo || d > lo+lo/2 {
			t.Errorf("sleep %d = %v, want within [%v, %v]", i, d, lo, lo+lo/2)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newEnv returns a password-grant client of o; edit adjusts its options. The client's
// sleeps are recorded instead of slept, and its log is checked for secrets at the end.
func newEnv(t *testing.T, o *fakeOrg, edit func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{org: o}
	opts := Options{
		LoginURL:     o.LoginURL,
		Grant:        GrantPassword,
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		Username:     testUsername,
		Password:     testPassword,
		Logger:       slog.New(slog.NewTextHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:        e.Sleep,
	}
	if edit != nil {
		edit(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.client = c
	t.Cleanup(func() {
		assertNoSecrets(t, "log", e.logs.String())
		if t.Failed() {
			t.Logf("client log:\n%s", e.logs.String())
		}
	})
	return e
}

func assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{testClientSecret, testPassword, "00DSESSION!", "5AepREFRESH", "PRIVATE KEY", "eyJhbGci"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains a secret %q: %s", what, secret, s)
		}
	}
}

// scripted answers the requests it gets with its responses in turn, then with the last one.
type scripted struct {
	mu    sync.Mutex
	resps []func(w http.ResponseWriter, r *http.Request)
	n     int
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(s.n, len(s.resps)-1)
	s.n++
	s.mu.Unlock()
	s.resps[i](w, r)
}

func answer(status int, body string, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// hangUp drops the connection after reading the request: the server may have processed it.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}
