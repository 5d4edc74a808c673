package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
)

const token = "tok-3f9a1c-very-secret"

// seen is one request an endpoint received.
type seen struct {
	method, path, query string
	header              http.Header
	body                string
}

// server is an httptest endpoint on 127.0.0.1 that records requests and answers with h.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func serve(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func reply(status int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func client(t *testing.T, eps map[string]Endpoint) *Client {
	t.Helper()
	c, err := New(Options{Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// billing is a Client with one endpoint, "billing", at s under /api/v1/.
func billing(t *testing.T, s *server) *Client {
	return client(t, map[string]Endpoint{"billing": {URL: s.URL + "/api/v1/", Token: token}})
}

const key = "termination-sop/attrition/4/500A000001"

func TestCall(t *testing.T) {
	for _, tc := range []struct {
		name      string
		call      bot.HTTPCall
		noToken   bool
		wantPath  string
		wantQuery string
	}{
		{
			name:     "POST with a body",
			call:     bot.HTTPCall{Endpoint: "billing", Method: "POST", Path: "/tenants/acme/deactivate", Body: []byte(`{"reason":"terminated"}`)},
			wantPath: "/api/v1/tenants/acme/deactivate",
		},
		{
			name:     "escaped case value and a query",
			call:     bot.HTTPCall{Endpoint: "billing", Method: "PUT", Path: "tenants/acme%2Fcorp%20gmbh/state?force=true", Body: []byte(`{}`)},
			wantPath: "/api/v1/tenants/acme%2Fcorp%20gmbh/state", wantQuery: "force=true",
		},
		{
			name:     "GET without body or token",
			call:     bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "/tenants/acme"},
			noToken:  true,
			wantPath: "/api/v1/tenants/acme",
		},
		{
			name:     "the base URL itself",
			call:     bot.HTTPCall{Endpoint: "billing", Method: "DELETE"},
			wantPath: "/api/v1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, reply(200, map[string]string{"Content-Type": "application/json"},
				`{"id":"T-42","status":"deactivated","billing":{"final_invoice":"INV-9"},"amount":12.5}`))
			ep := Endpoint{URL: s.URL + "/api/v1/", Token: token}
			if tc.noToken {
				ep.Token = ""
			}
			got, err := client(t, map[string]Endpoint{"billing": ep}).Call(t.Context(), key, tc.call)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"id": "T-42", "status": "deactivated", "billing": map[string]any{"final_invoice": "INV-9"}, "amount": 12.5}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("result %v, want %v", got, want)
			}

			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("endpoint saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != tc.call.Method || r.path != tc.wantPath || r.query != tc.wantQuery || r.body != string(tc.call.Body) {
				t.Errorf("request %s %s ? %s body %q; want %s %s ? %s body %q", r.method, r.path, r.query, r.body, tc.call.Method, tc.wantPath, tc.wantQuery, tc.call.Body)
			}
			wantHeader := map[string]string{"Idempotency-Key": key, "Accept": "application/json", "Authorization": "Bearer " + token, "Content-Type": "application/json"}
			if tc.noToken {
				wantHeader["Authorization"] = ""
			}
			if tc.call.Body == nil {
				wantHeader["Content-Type"] = ""
			}
			for k, v := range wantHeader {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// The same key goes with every attempt of a call, so the endpoint can tell a retry.
func TestCallIdempotencyKey(t *testing.T) {
	s := serve(t, reply(503, nil, "busy"))
	c := billing(t, s)
	call := bot.HTTPCall{Endpoint: "billing", Method: "POST", Path: "/tenants/acme/deactivate", Body: []byte(`{}`)}
	for range 2 {
		if _, err := c.Call(t.Context(), key, call); !bot.IsRetryable(err) {
			t.Fatalf("error %v, want retryable", err)
		}
	}
	if _, err := c.Call(t.Context(), key+"-other", call); err == nil {
		t.Fatal("no error from a 503")
	}
	var keys []string
	for _, r := range s.requests() {
		keys = append(keys, r.header.Get("Idempotency-Key"))
	}
	if want := []string{key, key, key + "-other"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

func TestCallResponses(t *testing.T) {
	long := strings.Repeat("x", 600) + "END"
	for _, tc := range []struct {
		name       string
		handler    http.HandlerFunc
		want       map[string]any
		code       string // "" for success
		message    string // what the message must contain
		retryable  bool
		retryAfter time.Duration
	}{
		{name: "no content", handler: reply(204, nil, "")},
		{name: "blank body", handler: reply(200, nil, " \n")},
		{name: "object", handler: reply(201, nil, `{"ok":true}`), want: map[string]any{"ok": true}},
		{name: "not JSON", handler: reply(200, nil, "<html>proxy</html>"), code: "bad_response", message: "<html>proxy</html>"},
		{name: "JSON array", handler: reply(200, nil, `[1,2]`), code: "bad_response", message: "not a JSON object"},
		{name: "JSON null", handler: reply(200, nil, `null`), code: "bad_response", message: "not a JSON object"},
		{
			name: "too large", code: "too_large", message: "larger than 1048576 bytes",
			handler: reply(200, nil, `{"pad":"`+strings.Repeat("a", MaxResponse)+`"}`),
		},
		{
			name: "rate limited", handler: reply(429, map[string]string{"Retry-After": "7"}, `{"message":"slow down"}`),
			code: "http_429", message: "slow down", retryable: true, retryAfter: 7 * time.Second,
		},
		{
			name:    "rate limited until a date",
			handler: reply(429, map[string]string{"Retry-After": "Fri, 14 Mar 2025 09:27:30 GMT", "Date": "Fri, 14 Mar 2025 09:27:00 GMT"}, ""),
			code:    "http_429", retryable: true, retryAfter: 30 * time.Second,
		},
		{name: "rate limited without a hint", handler: reply(429, nil, ""), code: "http_429", retryable: true},
		{
			name: "unavailable", handler: reply(503, map[string]string{"Retry-After": "120"}, "maintenance"),
			code: "http_503", message: "maintenance", retryable: true, retryAfter: 2 * time.Minute,
		},
		{name: "server error", handler: reply(500, nil, `{"error":"boom"}`), code: "http_500", message: "boom", retryable: true},
		{name: "not found", handler: reply(404, nil, `{"message":"no tenant acme"}`), code: "http_404", message: "no tenant acme"},
		{name: "conflict", handler: reply(409, nil, `{"detail":"already deactivated"}`), code: "http_409", message: "already deactivated"},
		{name: "long plain text", handler: reply(400, nil, long), code: "http_400", message: strings.Repeat("x", 512-len("…")) + "…"},
		{name: "control characters", handler: reply(422, nil, "bad\x1b[2Jvalue\r\nmore"), code: "http_422", message: "bad�[2Jvalue��more"},
		{name: "token echoed", handler: reply(401, nil, "invalid token Bearer "+token), code: "http_401", message: "invalid token Bearer <secret>"},
		{name: "redirect", handler: reply(307, map[string]string{"Location": "https://elsewhere.test/x"}, ""), code: "http_307", message: "redirected to https://elsewhere.test/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.handler)
			got, err := billing(t, s).Call(t.Context(), key, bot.HTTPCall{Endpoint: "billing", Method: "POST", Path: "/tenants/acme/deactivate"})
			if tc.code == "" {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Call = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			checkError(t, err, tc.code, tc.message, tc.retryable)
			var e *bot.Error
			if errors.As(err, &e) && e.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter %v, want %v", e.RetryAfter, tc.retryAfter)
			}
			if tc.name == "long plain text" && strings.Contains(err.Error(), "END") {
				t.Errorf("message not cut to 512 bytes: %v", err)
			}
			if n := len(s.requests()); n != 1 {
				t.Errorf("endpoint saw %d requests, want 1 (redirects are not followed)", n)
			}
		})
	}
}

func checkError(t *testing.T, err error, code, message string, retryable bool) {
	t.Helper()
	var e *bot.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *bot.Error", err, err)
	}
	if e.Code != code || e.Retryable != retryable || !strings.Contains(e.Message, message) {
		t.Errorf("error %q: code %q retryable %v, want %q %v with %q", err, e.Code, e.Retryable, code, retryable, message)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the token: %v", err)
	}
}

func TestCallRefused(t *testing.T) {
	s := serve(t, reply(200, nil, ""))
	for _, tc := range []struct {
		name string
		call bot.HTTPCall
		code string
		want string
	}{
		{"unknown endpoint", bot.HTTPCall{Endpoint: "crm", Method: "POST"}, "unknown_endpoint", "no endpoint"},
		{"dot dot", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "/tenants/../../admin"}, "invalid_call", "leave"},
		{"escaped dot dot", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "/tenants/%2e%2e/admin"}, "invalid_call", "leave"},
		{"scheme", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "https://evil.test/steal"}, "invalid_call", "scheme or host"},
		{"scheme-relative host", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "//evil.test/steal"}, "invalid_call", "leave"},
		{"backslash", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: `/\evil.test`}, "invalid_call", "leave"},
		{"fragment", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "/a#b"}, "invalid_call", "leave"},
		{"line break", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "/a%0d%0aHost:evil"}, "invalid_call", "leave"},
		{"bad escape", bot.HTTPCall{Endpoint: "billing", Method: "GET", Path: "/a%zz"}, "invalid_call", "invalid URL escape"},
		{"method", bot.HTTPCall{Endpoint: "billing", Method: "TRACE", Path: "/a"}, "invalid_call", "not one of"},
		{"body", bot.HTTPCall{Endpoint: "billing", Method: "POST", Path: "/a", Body: []byte(`{"a":`)}, "invalid_call", "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := billing(t, s).Call(t.Context(), key, tc.call)
			checkError(t, err, tc.code, tc.want, false)
		})
	}
	t.Run("key with a line break", func(t *testing.T) {
		_, err := billing(t, s).Call(t.Context(), "k\r\nX-Evil: 1", bot.HTTPCall{Endpoint: "billing", Method: "GET"})
		checkError(t, err, "invalid_call", "idempotency key", false)
	})
	if n := len(s.requests()); n != 0 {
		t.Errorf("endpoint saw %d requests, want none", n)
	}
}

func TestCallTimeout(t *testing.T) {
	s := serve(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := client(t, map[string]Endpoint{"slow": {URL: s.URL, Token: token, Timeout: 20 * time.Millisecond}})
	_, err := c.Call(t.Context(), key, bot.HTTPCall{Endpoint: "slow", Method: "POST", Path: "/x", Body: []byte(`{}`)})
	checkError(t, err, "timeout", "no answer within 20ms", true)
}

func TestCallUnreachable(t *testing.T) {
	s := serve(t, reply(200, nil, ""))
	c := billing(t, s)
	s.Close() // nothing listens there any more
	_, err := c.Call(t.Context(), key, bot.HTTPCall{Endpoint: "billing", Method: "POST", Path: "/x"})
	checkError(t, err, "network", "connection refused", true)
}

func TestCallCanceled(t *testing.T) {
	s := serve(t, reply(200, nil, ""))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := billing(t, s).Call(ctx, key, bot.HTTPCall{Endpoint: "billing", Method: "POST", Path: "/x"})
	if !errors.Is(err, context.Canceled) || bot.IsRetryable(err) {
		t.Fatalf("error %v, want context.Canceled and not retryable", err)
	}
}

// New must not change the caller's client when it refuses redirects.
func TestNewKeepsCallersClient(t *testing.T) {
	hc := &http.Client{Timeout: time.Minute}
	if _, err := New(Options{HTTPClient: hc}); err != nil {
		t.Fatal(err)
	}
	if hc.CheckRedirect != nil {
		t.Error("New changed the caller's http.Client")
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		ep   Endpoint
		want string // "" for success
	}{
		{"https", Endpoint{URL: "https://billing.example.test/api/"}, ""},
		{"http to loopback", Endpoint{URL: "http://127.0.0.1:8080"}, ""},
		{"http to localhost", Endpoint{URL: "http://localhost/api"}, ""},
		{"http to ::1", Endpoint{URL: "http://[::1]:9000/"}, ""},
		{"http elsewhere", Endpoint{URL: "http://billing.example.test/api"}, "only to a loopback host"},
		{"other scheme", Endpoint{URL: "ftp://billing.example.test/"}, `scheme "ftp"`},
		{"no host", Endpoint{URL: "/api/v1"}, "no host"},
		{"credentials in the URL", Endpoint{URL: "https://user:pw@billing.example.test/"}, "credentials"},
		{"query", Endpoint{URL: "https://billing.example.test/api?x=1"}, "no query"},
		{"token with a line break", Endpoint{URL: "https://billing.example.test/", Token: "a\r\nX-Evil: 1"}, "token"},
		{"unparsable", Endpoint{URL: "https://bad host/"}, "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Endpoints: map[string]Endpoint{"billing": tc.ep}})
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		header map[string]string
		want   time.Duration
	}{
		{nil, 0},
		{map[string]string{"Retry-After": "0"}, 0},
		{map[string]string{"Retry-After": "-5"}, 0},
		{map[string]string{"Retry-After": "90"}, 90 * time.Second},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "Fri, 14 Mar 2025 09:28:00 GMT", "Date": "Fri, 14 Mar 2025 09:27:00 GMT"}, time.Minute},
		{map[string]string{"Retry-After": "Fri, 14 Mar 2025 09:26:00 GMT", "Date": "Fri, 14 Mar 2025 09:27:00 GMT"}, 0},
	} {
		h := http.Header{}
		for k, v := range tc.header {
			h.Set(k, v)
		}
		if got := retryAfter(h); got != tc.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// The decoded numbers are float64, as bot.Fields expects.
func TestCallNumbers(t *testing.T) {
	s := serve(t, reply(200, nil, `{"n":3}`))
	got, err := billing(t, s).Call(t.Context(), key, bot.HTTPCall{Endpoint: "billing", Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["n"].(float64); !ok {
		b, _ := json.Marshal(got)
		t.Errorf("n is %T in %s, want float64", got["n"], b)
	}
}
