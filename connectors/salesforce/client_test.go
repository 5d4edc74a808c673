package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"casebot/bot"
)

const limitsBody = `{"DailyApiRequests":{"Max":15000,"Remaining":14990,"casebot":{"Max":0,"Remaining":0}},"DataStorageMB":{"Max":5,"Remaining":4}}`

func limitsHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/services/data/v62.0/limits" {
		sfErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	answer(http.StatusOK, limitsBody)(w, r)
}

func TestNewValidatesOptions(t *testing.T) {
	_, keyPEM := newKey(t)
	valid := Options{
		LoginURL: "https://login.salesforce.com", Grant: GrantPassword,
		ClientID: testClientID, ClientSecret: testClientSecret, Username: testUsername, Password: testPassword,
	}
	tests := []struct {
		name string
		edit func(*Options)
		want string // in the error; "" for no error
	}{
		{"password grant", func(*Options) {}, ""},
		{"client credentials need no user", func(o *Options) {
			o.Grant, o.Username, o.Password = GrantClientCredentials, "", ""
			o.LoginURL = "https://acme.my.salesforce.com/"
		}, ""},
		{"sandbox on loopback over http", func(o *Options) { o.LoginURL = "http://127.0.0.1:8090" }, ""},
		{"no login URL", func(o *Options) { o.LoginURL = "" }, "login URL is required"},
		{"http to a remote host", func(o *Options) { o.LoginURL = "http://login.salesforce.com" }, "plain http is only allowed to a loopback host"},
		{"credentials in the URL", func(o *Options) { o.LoginURL = "https://u:p@login.salesforce.com" }, "want scheme://host"},
		{"not a URL", func(o *Options) { o.LoginURL = "login.salesforce.com" }, "want scheme://host"},
		{"no grant", func(o *Options) { o.Grant = "" }, "grant is required"},
		{"unknown grant", func(o *Options) { o.Grant = "jwt" }, `grant "jwt"`},
		{"no password", func(o *Options) { o.Password = "" }, `password is required for the "password" grant`},
		{"no secret", func(o *Options) { o.ClientSecret = "" }, "client secret is required"},
		{"bad API version", func(o *Options) { o.APIVersion = "v62" }, `API version "v62"`},
		{"negative retry delay", func(o *Options) { o.RetryDelay = -time.Second }, "retry delay"},
		{"JWT bearer needs no secret", func(o *Options) {
			o.Grant, o.ClientSecret, o.Password, o.PrivateKey = GrantJWTBearer, "", "", keyPEM
		}, ""},
		{"JWT bearer without a key", func(o *Options) { o.Grant = GrantJWTBearer }, `private key is required for the "jwt_bearer" grant`},
		{"JWT bearer without a user", func(o *Options) { o.Grant, o.Username, o.PrivateKey = GrantJWTBearer, "", keyPEM }, "username is required"},
		{"JWT bearer with a key that is not PEM", func(o *Options) { o.Grant, o.PrivateKey = GrantJWTBearer, []byte("not a key") }, "private key: "},
		{"refresh token without a secret", func(o *Options) {
			o.Grant, o.ClientSecret, o.RefreshToken = GrantRefreshToken, "", "5AepREFRESH0"
		}, ""},
		{"refresh token grant without the token", func(o *Options) { o.Grant = GrantRefreshToken }, `refresh token is required for the "refresh_token" grant`},
		{"client ID is always required", func(o *Options) { o.Grant, o.ClientID, o.RefreshToken = GrantRefreshToken, "", "5AepREFRESH0" }, "client ID is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := valid
			tt.edit(&opts)
			_, err := New(opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.want)
			}
			assertNoSecrets(t, "error", err.Error())
		})
	}
}

func TestLoginGrants(t *testing.T) {
	tests := []struct {
		grant string
		want  map[string]string // the token request's form
	}{
		{GrantPassword, map[string]string{
			"grant_type": "password", "client_id": testClientID, "client_secret": testClientSecret,
			"username": testUsername, "password": testPassword,
		}},
		{GrantClientCredentials, map[string]string{
			"grant_type": "client_credentials", "client_id": testClientID, "client_secret": testClientSecret,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.grant, func(t *testing.T) {
			org := newOrg(t, limitsHandler)
			env := newEnv(t, org, func(o *Options) { o.Grant = tt.grant })
			if org.logins() != 0 {
				t.Fatal("New logged in; want a lazy login")
			}
			limits, err := env.client.Limits(t.Context())
			if err != nil {
				t.Fatalf("Limits: %v", err)
			}
			if got := limits["DailyApiRequests"]; got != (Limit{Max: 15000, Remaining: 14990}) {
				t.Errorf("DailyApiRequests = %+v", got)
			}
			if _, err := env.client.Limits(t.Context()); err != nil {
				t.Fatalf("second Limits: %v", err)
			}
			if org.logins() != 1 {
				t.Fatalf("logins = %d, want 1 for two calls", org.logins())
			}
			form := org.tokenForm(0)
			if len(form) != len(tt.want) {
				t.Errorf("token form has %d fields, want %d: %v", len(form), len(tt.want), form.Encode())
			}
			for k, v := range tt.want {
				if form.Get(k) != v {
					t.Errorf("token form %s = %q, want %q", k, form.Get(k), v)
				}
			}
			for _, c := range org.dataCalls() {
				if c.Auth != "Bearer 00DSESSION!1" {
					t.Errorf("data call authorization = %q", c.Auth)
				}
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(*Options)
		tokenFaults []int
		org         func(*fakeOrg)
		wantCode    string
		wantMsg     string
		retryable   bool
		wantLogins  int
	}{
		{name: "wrong password", edit: func(o *Options) { o.Password = "wrong-" + testPassword },
			wantCode: "invalid_grant", wantMsg: "authentication failure", wantLogins: 1},
		{name: "wrong client secret", edit: func(o *Options) {
			o.Grant, o.ClientSecret = GrantClientCredentials, "wrong-"+testClientSecret
		}, wantCode: "invalid_client", wantMsg: "invalid client credentials", wantLogins: 1},
		{name: "token endpoint down", tokenFaults: []int{503, 503, 503, 503},
			wantCode: "HTTP_503", wantMsg: "Service Unavailable", retryable: true, wantLogins: 4},
		{name: "no instance_url", org: func(o *fakeOrg) { o.URL = "" },
			wantCode: "BAD_TOKEN_RESPONSE", wantMsg: "instance_url", wantLogins: 1},
		{name: "instance_url over http to a remote host", org: func(o *fakeOrg) { o.URL = "http://na1.salesforce.com" },
			wantCode: "BAD_TOKEN_RESPONSE", wantMsg: "plain http", wantLogins: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(t, limitsHandler)
			org.tokenFaults = tt.tokenFaults
			if tt.org != nil {
				tt.org(org)
			}
			env := newEnv(t, org, tt.edit)
			_, err := env.client.Limits(t.Context())
			if err == nil {
				t.Fatal("Limits succeeded; want a login error")
			}
			assertNoSecrets(t, "error", err.Error())
			if strings.Contains(err.Error(), "wrong-") {
				t.Errorf("error shows the credential: %v", err)
			}
			var be *bot.Error
			if !errors.As(err, &be) {
				t.Fatalf("error %v does not wrap a *bot.Error", err)
			}
			if be.Code != tt.wantCode || !strings.Contains(be.Message, tt.wantMsg) || be.Retryable != tt.retryable {
				t.Errorf("bot.Error = %+v, want code %q, message containing %q, retryable %v", be, tt.wantCode, tt.wantMsg, tt.retryable)
			}
			if !strings.Contains(err.Error(), "read limits: log in to Salesforce") {
				t.Errorf("error %q does not say what was being done", err)
			}
			if org.logins() != tt.wantLogins {
				t.Errorf("logins = %d, want %d", org.logins(), tt.wantLogins)
			}
			if n := len(org.dataCalls()); n != 0 {
				t.Errorf("%d data calls without a session", n)
			}
		})
	}
}

func TestLoginRecoversFromTransientTokenFailure(t *testing.T) {
	org := newOrg(t, limitsHandler)
	org.tokenFaults = []int{503, 502}
	env := newEnv(t, org, nil)
	if _, err := env.client.Limits(t.Context()); err != nil {
		t.Fatalf("Limits: %v", err)
	}
	if org.logins() != 3 || len(env.Slept()) != 2 {
		t.Errorf("logins = %d, sleeps = %v; want 3 logins and 2 sleeps", org.logins(), env.Slept())
	}
}

func TestReloginOnceWhenSessionExpires(t *testing.T) {
	org := newOrg(t, limitsHandler)
	env := newEnv(t, org, nil)
	ctx := t.Context()
	if _, err := env.client.Limits(ctx); err != nil {
		t.Fatalf("Limits: %v", err)
	}
	org.expire()
	if _, err := env.client.Limits(ctx); err != nil {
		t.Fatalf("Limits after the session expired: %v", err)
	}
	calls := org.dataCalls()
	auths := []string{}
	for _, c := range calls {
		auths = append(auths, c.Auth)
	}
	want := []string{"Bearer 00DSESSION!1", "Bearer 00DSESSION!1", "Bearer 00DSESSION!2"}
	if !slices.Equal(auths, want) {
		t.Errorf("data calls' sessions = %v, want %v", auths, want)
	}
	if org.logins() != 2 || len(env.Slept()) != 0 {
		t.Errorf("logins = %d, sleeps = %v; want 2 logins, no sleep", org.logins(), env.Slept())
	}
}

// A session Salesforce keeps rejecting is logged in again after every 401, the first time at
// once and then with backoff, up to MaxRetries; then the call fails, retryable, for a create
// too: Salesforce checks the session before it processes anything.
func TestPersistent401IsBoundedAndRetryable(t *testing.T) {
	const base = 500 * time.Millisecond
	for _, tt := range []struct {
		name string
		op   func(*Client) error
	}{
		{"limits", func(c *Client) error { _, err := c.Limits(t.Context()); return err }},
		{"create", func(c *Client) error {
			_, err := c.Create(t.Context(), "Task", map[string]any{"Subject": "Call"})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(t, limitsHandler)
			org.reject = true
			env := newEnv(t, org, nil)
			err := tt.op(env.client)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != "INVALID_SESSION_ID" {
				t.Fatalf("error = %v, want a 401 INVALID_SESSION_ID *APIError", err)
			}
			if !bot.IsRetryable(err) || !ae.Retryable() {
				t.Error("a session rejected after new logins is permanent; want retryable")
			}
			// The first call, one at once with a new session, then MaxRetries (3) with backoff.
			if org.logins() != 5 || len(org.dataCalls()) != 5 {
				t.Errorf("logins = %d, data calls = %d; want 5 and 5", org.logins(), len(org.dataCalls()))
			}
			CheckBackoff(t, env.Slept(), []time.Duration{base, 2 * base, 4 * base})
		})
	}
}

// handlerTransport serves requests in memory, so that a synctest bubble sees the goroutines
// that wait in the handler as blocked.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil { // a server's request always has a body
		r = r.Clone(r.Context())
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestConcurrentCallersShareOneLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		org := &fakeOrg{LoginURL: "http://127.0.0.1:8090", URL: "http://127.0.0.1:8090", data: limitsHandler}
		env := newEnv(t, org, func(o *Options) { o.HTTPClient = &http.Client{Transport: handlerTransport{org}} })
		const callers = 8
		run := func() {
			gate := make(chan struct{})
			org.mu.Lock()
			org.tokenGate = gate
			org.mu.Unlock()
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for range callers {
				wg.Go(func() {
					_, err := env.client.Limits(t.Context())
					errs <- err
				})
			}
			synctest.Wait() // every caller now waits for the one login in flight
			close(gate)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("Limits: %v", err)
				}
			}
		}
		run()
		if org.logins() != 1 {
			t.Errorf("logins = %d for %d concurrent first calls, want 1", org.logins(), callers)
		}
		org.expire()
		run()
		if org.logins() != 2 {
			t.Errorf("logins = %d after %d concurrent calls saw the session expire, want 2", org.logins(), callers)
		}
	})
}

func TestStaleSessionIsReplacedOnce(t *testing.T) {
	org := newOrg(t, limitsHandler)
	env := newEnv(t, org, nil)
	ctx := t.Context()
	s1, err := env.client.session(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two requests were sent with s1 and both were rejected: the first to ask replaces it,
	// the second gets the replacement.
	s2, err := env.client.session(ctx, s1)
	if err != nil || s2 == s1 {
		t.Fatalf("session(stale s1) = %v, %v; want a new session", s2, err)
	}
	s3, err := env.client.session(ctx, s1)
	if err != nil || s3 != s2 {
		t.Fatalf("second session(stale s1) = %v, %v; want the replacement", s3, err)
	}
	if org.logins() != 2 {
		t.Errorf("logins = %d, want 2", org.logins())
	}
}

func TestQueryFollowsNextRecordsURL(t *testing.T) {
	const soql = "SELECT Id, Subject FROM Case WHERE Subject LIKE 'Term%'"
	pages := map[string]string{
		"/services/data/v62.0/query":                   `{"totalSize":5,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gRM000000a1b2-2","records":[{"attributes":{"type":"Case"},"Id":"500000000000001AAA"},{"attributes":{"type":"Case"},"Id":"500000000000002AAA"}]}`,
		"/services/data/v62.0/query/01gRM000000a1b2-2": `{"totalSize":5,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gRM000000a1b2-4","records":[{"attributes":{"type":"Case"},"Id":"500000000000003AAA"},{"attributes":{"type":"Case"},"Id":"500000000000004AAA"}]}`,
		"/services/data/v62.0/query/01gRM000000a1b2-4": `{"totalSize":5,"done":true,"records":[{"attributes":{"type":"Case"},"Id":"500000000000005AAA"}]}`,
		"/services/data/v62.0/queryAll":                `{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Case"},"Id":"500000000000009AAA","IsDeleted":true}]}`,
	}
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			sfErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
			return
		}
		if strings.HasSuffix(r.URL.Path, "/query") || strings.HasSuffix(r.URL.Path, "/queryAll") {
			if got := r.URL.Query().Get("q"); got != soql {
				sfErrors(w, http.StatusBadRequest, "MALFORMED_QUERY", "unexpected query "+got)
				return
			}
		}
		answer(http.StatusOK, body)(w, r)
	})
	env := newEnv(t, org, nil)
	var ids []string
	var pageSizes []int
	err := env.client.Query(t.Context(), soql, func(records []json.RawMessage) error {
		pageSizes = append(pageSizes, len(records))
		for _, raw := range records {
			var rec struct{ Id string }
			if err := json.Unmarshal(raw, &rec); err != nil {
				return err
			}
			ids = append(ids, rec.Id)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	wantIDs := []string{"500000000000001AAA", "500000000000002AAA", "500000000000003AAA", "500000000000004AAA", "500000000000005AAA"}
	if !slices.Equal(ids, wantIDs) || !slices.Equal(pageSizes, []int{2, 2, 1}) {
		t.Errorf("ids = %v in pages %v, want %v in pages [2 2 1]", ids, pageSizes, wantIDs)
	}
	if n := len(org.dataCalls()); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}

	stop := errors.New("enough")
	err = env.client.Query(t.Context(), soql, func([]json.RawMessage) error { return stop })
	if !errors.Is(err, stop) || len(org.dataCalls()) != 4 {
		t.Errorf("Query with a failing fn = %v after %d calls, want %v after 4", err, len(org.dataCalls()), stop)
	}

	err = env.client.QueryAll(t.Context(), soql, func(records []json.RawMessage) error {
		if len(records) != 1 {
			t.Errorf("QueryAll got %d records, want 1", len(records))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("QueryAll: %v", err)
	}
}

func TestQueryRejectsForeignNextRecordsURL(t *testing.T) {
	org := newOrg(t, answer(http.StatusOK, `{"totalSize":4,"done":false,"nextRecordsUrl":"https://evil.example.com/services/data/v62.0/query/01g-2","records":[]}`))
	env := newEnv(t, org, nil)
	err := env.client.Query(t.Context(), "SELECT Id FROM Case", func([]json.RawMessage) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "nextRecordsUrl") {
		t.Fatalf("Query error = %v, want a refused nextRecordsUrl", err)
	}
	if n := len(org.dataCalls()); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestRetries(t *testing.T) {
	const (
		unavailable = `[{"message":"Server is busy","errorCode":"SERVER_UNAVAILABLE"}]`
		locked      = `[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]`
		limit       = `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`
		malformed   = `[{"message":"unexpected token: FORM","errorCode":"MALFORMED_QUERY"}]`
		created     = `{"id":"00T000000000001AAA","success":true,"errors":[]}`
		internal    = `[{"message":"An unexpected error occurred","errorCode":"UNKNOWN_EXCEPTION"}]`
	)
	query := func(c *Client) error {
		return c.Query(t.Context(), "SELECT Id FROM Case", func([]json.RawMessage) error { return nil })
	}
	create := func(c *Client) error {
		_, err := c.Create(t.Context(), "Task", map[string]any{"Subject": "Call"})
		return err
	}
	update := func(c *Client) error {
		return c.Update(t.Context(), "Case", "500000000000001AAA", map[string]any{"Status": "Closed"})
	}
	ok := answer(http.StatusOK, `{"totalSize":0,"done":true,"records":[]}`)
	const base = 500 * time.Millisecond
	tests := []struct {
		name      string
		op        func(*Client) error
		resps     []func(http.ResponseWriter, *http.Request)
		wantCalls int
		// each sleep must lie in [min, min*1.5]; a sleep equal to a Retry-After must be exact
		wantSleeps []time.Duration
		wantCode   string // of the error; "" for success
		retryable  bool
	}{
		{"503 twice then success", query, []func(http.ResponseWriter, *http.Request){
			answer(503, unavailable), answer(503, unavailable), ok}, 3, []time.Duration{base, 2 * base}, "", false},
		{"Retry-After is honoured", query, []func(http.ResponseWriter, *http.Request){
			answer(503, unavailable, "Retry-After", "7"), ok}, 2, []time.Duration{7 * time.Second}, "", false},
		{"a Retry-After of an hour is left to the caller", query, []func(http.ResponseWriter, *http.Request){
			answer(503, unavailable, "Retry-After", "3600"), ok}, 1, nil, "SERVER_UNAVAILABLE", true},
		{"UNABLE_TO_LOCK_ROW is retried", update, []func(http.ResponseWriter, *http.Request){
			answer(400, locked), answer(204, "")}, 2, []time.Duration{base}, "", false},
		{"UNABLE_TO_LOCK_ROW honours Retry-After", update, []func(http.ResponseWriter, *http.Request){
			answer(400, locked, "Retry-After", "5"), answer(204, "")}, 2, []time.Duration{5 * time.Second}, "", false},
		{"gives up after MaxRetries", query, []func(http.ResponseWriter, *http.Request){
			answer(503, unavailable)}, 4, []time.Duration{base, 2 * base, 4 * base}, "SERVER_UNAVAILABLE", true},
		{"REQUEST_LIMIT_EXCEEDED is returned at once, retryable", query, []func(http.ResponseWriter, *http.Request){
			answer(403, limit)}, 1, nil, "REQUEST_LIMIT_EXCEEDED", true},
		{"MALFORMED_QUERY is permanent", query, []func(http.ResponseWriter, *http.Request){
			answer(400, malformed)}, 1, nil, "MALFORMED_QUERY", false},
		{"an HTML 502 from a proxy is retried", query, []func(http.ResponseWriter, *http.Request){
			answer(502, ""), ok}, 2, []time.Duration{base}, "", false},
		{"a create is retried on 503", create, []func(http.ResponseWriter, *http.Request){
			answer(503, unavailable), answer(201, created)}, 2, []time.Duration{base}, "", false},
		{"a create is retried on UNABLE_TO_LOCK_ROW", create, []func(http.ResponseWriter, *http.Request){
			answer(400, locked), answer(201, created)}, 2, []time.Duration{base}, "", false},
		{"a create is not retried on 500, which may have created it", create, []func(http.ResponseWriter, *http.Request){
			answer(500, internal), answer(201, created)}, 1, nil, "UNKNOWN_EXCEPTION", true},
		{"an update is retried on 500", update, []func(http.ResponseWriter, *http.Request){
			answer(500, internal), answer(204, "")}, 2, []time.Duration{base}, "", false},
		{"a dropped connection is retried for a query", query, []func(http.ResponseWriter, *http.Request){
			hangUp, ok}, 2, []time.Duration{base}, "", false},
		{"a create is not retried after a dropped connection", create, []func(http.ResponseWriter, *http.Request){
			hangUp, answer(201, created)}, 1, nil, "TRANSPORT", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(t, (&scripted{resps: tt.resps}).ServeHTTP)
			// Without keep-alive, net/http cannot retry a dropped GET on its own (it does so on
			// a reused connection), so the calls counted are the client's.
			env := newEnv(t, org, func(o *Options) {
				o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			})
			err := tt.op(env.client)
			if n := len(org.dataCalls()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			CheckBackoff(t, env.Slept(), tt.wantSleeps)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				return
			}
			var be *bot.Error
			if !errors.As(err, &be) || be.Code != tt.wantCode || be.Retryable != tt.retryable {
				t.Fatalf("error = %v (bot.Error %+v), want code %s, retryable %v", err, be, tt.wantCode, tt.retryable)
			}
			if bot.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v", !tt.retryable)
			}
		})
	}
}

func TestRetryAfterBeyondDeadlineIsNotWaited(t *testing.T) {
	org := newOrg(t, (&scripted{resps: []func(http.ResponseWriter, *http.Request){
		answer(503, `[{"message":"busy","errorCode":"SERVER_UNAVAILABLE"}]`, "Retry-After", "30"),
	}}).ServeHTTP)
	env := newEnv(t, org, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := env.client.Limits(ctx)
	var be *bot.Error
	if !errors.As(err, &be) || !be.Retryable || be.RetryAfter != 30*time.Second {
		t.Fatalf("error = %v, want a retryable *bot.Error with RetryAfter 30s", err)
	}
	if len(org.dataCalls()) != 1 || len(env.Slept()) != 0 {
		t.Errorf("calls = %d, sleeps = %v; want 1 call and no sleep", len(org.dataCalls()), env.Slept())
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	org := newOrg(t, answer(503, `[{"message":"busy","errorCode":"SERVER_UNAVAILABLE"}]`))
	ctx, cancel := context.WithCancel(t.Context())
	env := newEnv(t, org, func(o *Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
	})
	_, err := env.client.Limits(ctx)
	if !errors.Is(err, context.Canceled) || !bot.IsRetryable(err) {
		t.Fatalf("error = %v, want it to wrap context.Canceled and the retryable 503", err)
	}
	if len(org.dataCalls()) != 1 {
		t.Errorf("%d calls, want 1", len(org.dataCalls()))
	}
}

func TestCreateIsRetriedWhenNeverSent(t *testing.T) {
	// A port nothing listens on: connections are refused before the request is written.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	org := newOrg(t, limitsHandler)
	org.URL = dead // the instance the token response names
	env := newEnv(t, org, nil)
	_, err = env.client.Create(t.Context(), "Task", map[string]any{"Subject": "Call"})
	if !bot.IsRetryable(err) {
		t.Fatalf("error = %v, want a retryable transport error", err)
	}
	if n := len(env.Slept()); n != 3 || org.logins() != 1 {
		t.Errorf("%d sleeps after %d logins, want 3 after 1: a create that was never sent is retried", n, org.logins())
	}
}

// TestErrorClassification: which answers a later attempt may turn into success (retryable),
// which the client itself tries again at once (transient, for a create and for other calls),
// and the Retry-After each hands on.
func TestErrorClassification(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name                   string
		status                 int
		body                   string
		retryAfter             string // the header
		code                   string
		retryable              bool
		transientCreate, other bool
		wait                   time.Duration
	}{
		{"expired session", 401, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, "",
			"INVALID_SESSION_ID", true, true, true, 0},
		{"daily allowance used up", 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, "120",
			"REQUEST_LIMIT_EXCEEDED", true, false, false, 2 * time.Minute},
		{"busy", 503, `[{"message":"Server is busy","errorCode":"SERVER_UNAVAILABLE"}]`, "7",
			"SERVER_UNAVAILABLE", true, true, true, 7 * time.Second},
		{"busy proxy", 503, "<html>down for maintenance</html>", "Sat, 21 Nov 2026 10:01:00 GMT",
			"HTTP_503", true, true, true, time.Minute},
		{"locked row", 400, `[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW"}]`, "3",
			"UNABLE_TO_LOCK_ROW", true, true, true, 3 * time.Second},
		{"internal error: a create may be done", 500, `[{"message":"An unexpected error occurred","errorCode":"UNKNOWN_EXCEPTION"}]`, "",
			"UNKNOWN_EXCEPTION", true, false, true, 0},
		{"bad field", 400, `[{"message":"No such column","errorCode":"INVALID_FIELD"}]`, "",
			"INVALID_FIELD", false, false, false, 0},
		{"no access", 403, `[{"message":"insufficient access rights","errorCode":"INSUFFICIENT_ACCESS"}]`, "",
			"INSUFFICIENT_ACCESS", false, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &response{status: tt.status, header: http.Header{}, body: []byte(tt.body)}
			if tt.retryAfter != "" {
				resp.header.Set("Retry-After", tt.retryAfter)
			}
			e := newHTTPError("op", resp, now)
			if e.Code != tt.code || e.Retryable() != tt.retryable || bot.IsRetryable(e) != tt.retryable ||
				e.transient(true) != tt.transientCreate || e.transient(false) != tt.other || e.RetryAfter != tt.wait {
				t.Errorf("%+v: retryable %v, transient %v/%v; want %s, %v, %v/%v, RetryAfter %v", e, e.Retryable(),
					e.transient(true), e.transient(false), tt.code, tt.retryable, tt.transientCreate, tt.other, tt.wait)
			}
			var be *bot.Error
			if !errors.As(e, &be) || be.RetryAfter != tt.wait {
				t.Errorf("bot.Error = %+v, want RetryAfter %v", be, tt.wait)
			}
		})
	}
}

func TestAPIErrorIsReachableBothWays(t *testing.T) {
	org := newOrg(t, answer(400, `[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]},{"message":"Second problem","errorCode":"STRING_TOO_LONG","fields":["Site"]}]`))
	env := newEnv(t, org, nil)
	_, err := env.client.Create(t.Context(), "Account", map[string]any{"Site": "x"})
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *APIError", err)
	}
	want := APIError{Op: "create Account", Status: 400, Code: "REQUIRED_FIELD_MISSING",
		Message: "Required fields are missing: [Name]; Second problem", Fields: []string{"Name"}}
	if ae.Op != want.Op || ae.Status != want.Status || ae.Code != want.Code || ae.Message != want.Message || !slices.Equal(ae.Fields, want.Fields) {
		t.Errorf("APIError = %+v, want %+v", ae, want)
	}
	var be *bot.Error
	if !errors.As(err, &be) || be.Code != "REQUIRED_FIELD_MISSING" || be.Op != "create Account" || be.Retryable {
		t.Errorf("bot.Error = %+v", be)
	}
	wantText := "create Account: REQUIRED_FIELD_MISSING: Required fields are missing: [Name]; Second problem [fields Name] (HTTP 400)"
	if err.Error() != wantText {
		t.Errorf("error text = %q, want %q", err.Error(), wantText)
	}
}

func TestParseLimitInfo(t *testing.T) {
	tests := []struct {
		header    string
		used, max int
		ok        bool
	}{
		{"api-usage=18/5000", 18, 5000, true},
		{"api-usage=25/5000, per-app-api-usage=17/250(appName=sample-connected-app)", 25, 5000, true},
		{"per-app-api-usage=17/250(appName=x), api-usage=3/15000", 3, 15000, true},
		{"", 0, 0, false},
		{"api-usage=18", 0, 0, false},
		{"api-usage=a/5000", 0, 0, false},
		{"api-usage=-1/5000", 0, 0, false},
		{"per-app-api-usage=17/250", 0, 0, false},
	}
	for _, tt := range tests {
		used, max, ok := parseLimitInfo(tt.header)
		if used != tt.used || max != tt.max || ok != tt.ok {
			t.Errorf("parseLimitInfo(%q) = %d, %d, %v; want %d, %d, %v", tt.header, used, max, ok, tt.used, tt.max, tt.ok)
		}
	}
}

func TestAPIUsageFollowsResponses(t *testing.T) {
	org := newOrg(t, func(w http.ResponseWriter, r *http.Request) {
		sfErrors(w, 404, "NOT_FOUND", "The requested resource does not exist")
	})
	env := newEnv(t, org, nil)
	if used, max := env.client.APIUsage(); used != 0 || max != 0 {
		t.Errorf("APIUsage before any call = %d/%d", used, max)
	}
	for want := 1; want <= 2; want++ {
		_, err := env.client.Get(t.Context(), "Case", "500000000000001AAA")
		if err == nil {
			t.Fatal("Get succeeded; want NOT_FOUND")
		}
		// error responses carry the header too
		if used, max := env.client.APIUsage(); used != want || max != 15000 {
			t.Errorf("APIUsage = %d/%d, want %d/15000", used, max, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"-3", 0},
		{"99999999999999", 365 * 24 * time.Hour},
		{"Sat, 21 Nov 2026 10:01:00 GMT", time.Minute},
		{"Sat, 21 Nov 2026 09:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.h, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.h, got, tt.want)
		}
	}
}
