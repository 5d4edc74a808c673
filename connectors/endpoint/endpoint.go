// Package endpoint calls the HTTP endpoints an admin configures (tenant deactivation, support
// systems) on behalf of playbooks. A playbook names an endpoint and a path; the base URL and
// the token come from the config, so a playbook can neither reach another host nor see a token.
package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"casebot/bot"
)

const (
	// DefaultTimeout bounds a call when its endpoint sets no timeout.
	DefaultTimeout = 30 * time.Second
	// MaxResponse is the largest response body read.
	MaxResponse = 1 << 20
	// maxMessage is how much of an error response goes into the error.
	maxMessage = 512
)

// Endpoint is one configured endpoint.
type Endpoint struct {
	URL     string        // base URL: https, or http to a loopback host; the call's path is appended
	Token   string        // sent as "Authorization: Bearer …" when set
	Timeout time.Duration // per call; 0 means DefaultTimeout
}

// Options configure New.
type Options struct {
	Endpoints  map[string]Endpoint // by the name playbooks use
	HTTPClient *http.Client        // nil means a client like http.DefaultClient
	Logger     *slog.Logger        // nil discards
}

// Client calls the configured endpoints.
type Client struct {
	endpoints map[string]endpoint
	http      *http.Client
	logger    *slog.Logger
}

type endpoint struct {
	base    *url.URL
	token   string
	timeout time.Duration
}

var _ bot.Caller = (*Client)(nil)

// New checks the endpoints and returns a Client for them.
func New(opts Options) (*Client, error) {
	c := &Client{endpoints: make(map[string]endpoint, len(opts.Endpoints)), logger: opts.Logger}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	for name, ep := range opts.Endpoints {
		base, err := baseURL(ep.URL)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", name, err)
		}
		if strings.ContainsFunc(ep.Token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return nil, fmt.Errorf("endpoint %q: the token has characters a header cannot carry", name)
		}
		timeout := ep.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		c.endpoints[name] = endpoint{base: base, token: ep.Token, timeout: timeout}
	}

	// A copy, so that refusing redirects does not change the caller's client: a redirect
	// would take the call, and for a POST turn it into a GET, somewhere the config did not name.
	client := http.Client{}
	if opts.HTTPClient != nil {
		client = *opts.HTTPClient
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &client
	return c, nil
}

// baseURL parses an endpoint's URL: https, or http to a loopback host, without credentials,
// query or fragment.
func baseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	switch {
	case u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("url %q has no host", s)
	case u.User != nil:
		return nil, errors.New("url: put credentials in the token, not in the URL")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("url %q: a base URL takes no query or fragment", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && bot.IsLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("url %q: http is allowed only to a loopback host; use https", s)
	default:
		return nil, fmt.Errorf("url %q: scheme %q, want https", s, u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	return u, nil
}

// Call performs hc against its endpoint with key as the Idempotency-Key and returns the JSON
// object the endpoint answered, nil for an empty body.
func (c *Client) Call(ctx context.Context, key string, hc bot.HTTPCall) (map[string]any, error) {
	op := bot.Printable("call " + hc.Endpoint + " " + hc.Method + " " + hc.Path)
	ep, ok := c.endpoints[hc.Endpoint]
	if !ok {
		return nil, &bot.Error{Op: op, Code: "unknown_endpoint", Message: "no endpoint of that name is configured"}
	}
	req, err := ep.request(key, hc)
	if err != nil {
		return nil, &bot.Error{Op: op, Code: "invalid_call", Message: err.Error()}
	}
	callCtx, cancel := context.WithTimeout(ctx, ep.timeout)
	defer cancel()

	resp, err := c.http.Do(req.WithContext(callCtx))
	if err != nil {
		return nil, ep.transportError(ctx, callCtx, op, err)
	}
	defer resp.Body.Close()
	// One byte over the cap tells a body at the cap from a longer one.
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, ep.transportError(ctx, callCtx, op, err)
	}
	c.logger.DebugContext(ctx, "called endpoint", "endpoint", hc.Endpoint, "method", hc.Method,
		"path", hc.Path, "key", key, "status", resp.StatusCode, "bytes", len(body))
	return ep.result(op, resp, body)
}

// request builds the request for hc. The path is appended to the base URL as it is (the
// renderer escaped case values in it) and must stay below it.
func (ep endpoint) request(key string, hc bot.HTTPCall) (*http.Request, error) {
	switch hc.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, fmt.Errorf("method %q is not one of GET, POST, PUT, PATCH, DELETE", hc.Method)
	}
	target, err := ep.join(hc.Path)
	if err != nil {
		return nil, err
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r >= 0x7f }) {
		return nil, fmt.Errorf("idempotency key %q has characters a header cannot carry", key)
	}
	var body io.Reader
	if hc.Body != nil {
		if !json.Valid(hc.Body) {
			return nil, errors.New("the body is not valid JSON")
		}
		body = bytes.NewReader(hc.Body)
	}
	// The context comes in Call, with the endpoint's timeout.
	req, err := http.NewRequestWithContext(context.Background(), hc.Method, target.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "casebot")
	if hc.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if ep.token != "" {
		req.Header.Set("Authorization", "Bearer "+ep.token)
	}
	return req, nil
}

// join appends an escaped path (with an optional query) to the base URL, keeping the caller's
// escaping: an escaped "/" in a case value stays one. It refuses what could leave the base: a
// scheme, a host, "..", a backslash, a fragment, control characters.
func (ep endpoint) join(p string) (*url.URL, error) {
	unescaped, err := url.PathUnescape(p)
	switch {
	case err != nil:
		return nil, fmt.Errorf("path %q: %w", bot.Printable(p), err)
	case strings.Contains(unescaped, ".."), strings.Contains(unescaped, "\\"), strings.Contains(p, "#"),
		strings.HasPrefix(p, "//"), strings.ContainsFunc(unescaped, unicode.IsControl):
		return nil, fmt.Errorf("path %q could leave the endpoint's base URL", bot.Printable(p))
	}
	ref, err := url.Parse(p)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", bot.Printable(p), err)
	}
	if ref.Scheme != "" || ref.Host != "" || ref.User != nil || ref.Opaque != "" {
		return nil, fmt.Errorf("path %q names a scheme or host; only the config may", bot.Printable(p))
	}
	u := *ep.base
	if rel := strings.TrimPrefix(ref.EscapedPath(), "/"); rel != "" {
		u.RawPath = ep.base.EscapedPath() + "/" + rel
		if u.Path, err = url.PathUnescape(u.RawPath); err != nil {
			return nil, fmt.Errorf("path %q: %w", bot.Printable(p), err)
		}
	}
	u.RawQuery = ref.RawQuery
	return &u, nil
}

// transportError classifies a failure to get a response. The caller's own cancellation is
// returned as such; the endpoint's timeout and network failures are retryable.
func (ep endpoint) transportError(ctx, callCtx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return &bot.Error{Op: op, Code: "timeout", Message: "no answer within " + ep.timeout.String(), Retryable: true}
	}
	// A *url.Error names the URL, which carries no secret; the token is in a header.
	return &bot.Error{Op: op, Code: "network", Message: ep.redact(err.Error()), Retryable: true}
}

// result turns a response into the decoded object or a classified error.
func (ep endpoint) result(op string, resp *http.Response, body []byte) (map[string]any, error) {
	code := "http_" + strconv.Itoa(resp.StatusCode)
	switch status := resp.StatusCode; {
	case status >= 200 && status < 300:
		if len(body) > MaxResponse {
			return nil, &bot.Error{Op: op, Code: "too_large", Message: fmt.Sprintf("the response is larger than %d bytes", MaxResponse)}
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, nil
		}
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
			return nil, &bot.Error{Op: op, Code: "bad_response", Message: "the response is not a JSON object: " + ep.message(body)}
		}
		return obj, nil
	case status == http.StatusTooManyRequests:
		return nil, &bot.Error{Op: op, Code: code, Message: ep.message(body), Retryable: true, RetryAfter: retryAfter(resp.Header)}
	case status >= 500:
		return nil, &bot.Error{Op: op, Code: code, Message: ep.message(body), Retryable: true, RetryAfter: retryAfter(resp.Header)}
	case status >= 300 && status < 400:
		return nil, &bot.Error{Op: op, Code: code, Message: "redirected to " + bot.Printable(resp.Header.Get("Location")) + "; configure the final URL"}
	default:
		return nil, &bot.Error{Op: op, Code: code, Message: ep.message(body)}
	}
}

// message is what an error response says: the "message" (or "error", "error_description",
// "detail") of a JSON object, else the body itself, at most maxMessage bytes, printable and
// without the token should the endpoint echo it.
func (ep endpoint) message(body []byte) string {
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		for _, k := range []string{"message", "error_description", "error", "detail"} {
			if s, ok := obj[k].(string); ok && s != "" {
				body = []byte(s)
				break
			}
		}
	}
	return bot.Printable(strings.TrimSpace(bot.Truncate(ep.redact(string(body)), maxMessage, "…")))
}

func (ep endpoint) redact(s string) string {
	if ep.token == "" {
		return s
	}
	return strings.ReplaceAll(s, ep.token, "<secret>")
}

// retryAfter reads Retry-After: seconds, or an HTTP date taken relative to the response's own
// Date so that clock skew between the hosts does not matter.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(n)*time.Second, 0)
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	now, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		now = time.Now()
	}
	return max(at.Sub(now), 0)
}
