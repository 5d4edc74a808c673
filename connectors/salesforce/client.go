// Package salesforce is casebot's Salesforce REST client and its bot.CRM adapter.
//
// The client speaks the REST API over net/http: OAuth2 login (password, client credentials, JWT
// bearer or refresh token grant), query with nextRecordsUrl paging, sObject
// get/create/update/delete/upsert, sObject Collections, composite, composite graph and limits.
// Errors are classified here, at the edge: every error a call returns
// wraps a *bot.Error that says whether a later attempt may succeed, and Salesforce's own errors
// are also reachable as *APIError.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casebot/bot"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The OAuth2 grants the client can log in with.
const (
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "jwt_bearer"    // grant_type urn:ietf:params:oauth:grant-type:jwt-bearer
	GrantRefreshToken      = "refresh_token" // with a refresh token issued to the connected app before
)

var grants = []string{GrantPassword, GrantClientCredentials, GrantJWTBearer, GrantRefreshToken}

const (
	defaultAPIVersion  = "62.0"
	defaultMaxRetries  = 3
	defaultRetryDelay  = 500 * time.Millisecond
	defaultHTTPTimeout = 60 * time.Second
	// maxRetryDelay caps the exponential backoff of one wait.
	maxRetryDelay = 30 * time.Second
	// maxRetryAfter is the longest Retry-After the client waits for itself; a longer hint is
	// handed to the caller in bot.Error.RetryAfter instead of holding the call.
	maxRetryAfter = 2 * time.Minute
	// loginTimeout bounds a login that no caller's context bounds (see Client.session).
	loginTimeout = 60 * time.Second
	// maxResponse bounds a response body; a 2,000-record query page is a few MiB.
	maxResponse = 256 << 20
)

// Options configure a Client.
type Options struct {
	// LoginURL is where to log in: "https://login.salesforce.com", "https://test.salesforce.com",
	// the org's My Domain URL (required for client credentials) or the sandbox's
	// "http://127.0.0.1:8090". Plain http is accepted for loopback hosts only.
	LoginURL   string
	APIVersion string // "62.0" when empty
	Grant      string // GrantPassword, GrantClientCredentials, GrantJWTBearer or GrantRefreshToken

	ClientID     string // the connected app's consumer key
	ClientSecret string // the connected app's consumer secret; optional for the refresh token grant, unused by JWT bearer
	Username     string // password and JWT bearer grants: the user to act as
	Password     string // password grant only: the password, followed by the security token if the org wants one

	// PrivateKey is the PEM-encoded RSA private key (PKCS #1 or #8) that signs the JWT bearer
	// grant's assertion; the connected app holds its certificate. JWT bearer grant only.
	PrivateKey []byte
	// JWTAudience is the assertion's aud. When empty it is derived from LoginURL the way the
	// Salesforce CLI derives it: "https://test.salesforce.com" for test.salesforce.com and
	// sandbox My Domains, "https://login.salesforce.com" for other salesforce.com hosts, and
	// LoginURL itself for anything else (the casebot sandbox, an Experience Cloud site). Set
	// it to the My Domain URL for an org that accepts no other audience.
	JWTAudience string
	// RefreshToken is a refresh token issued to the connected app: the refresh token grant's
	// credential.
	RefreshToken string

	HTTPClient *http.Client // a client with a 60s timeout when nil
	Logger     *slog.Logger // discards when nil

	// MaxRetries is how often a transient failure is retried: 3 when 0, never when negative.
	MaxRetries int
	// RetryDelay is the first backoff delay, doubled for each retry up to 30s and jittered
	// up by half; 500ms when 0.
	RetryDelay time.Duration
	// Sleep waits d or until ctx is done; tests inject it so that they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for Retry-After dates and deadlines; time.Now when nil.
	Now func() time.Time
}

// Client is a Salesforce REST client. It logs in lazily on first use and is safe for
// concurrent use; concurrent callers share one login.
type Client struct {
	opts   Options // with defaults applied
	log    *slog.Logger
	http   *http.Client
	token  tokenFunc // fetches a new token with the grant
	oauth  *oauth2.Config
	prefix string // "/services/data/vNN.N"

	mu     sync.Mutex
	sess   *session     // nil until logged in, and after the session was rejected
	flight *loginFlight // the login in progress, if any

	usage atomic.Pointer[apiUsage]
}

// tokenFunc asks the token endpoint for a token. ctx carries the HTTP client as
// oauth2.HTTPClient.
type tokenFunc func(ctx context.Context) (*oauth2.Token, error)

// session is what a login yields.
type session struct {
	token       *oauth2.Token
	instanceURL string // "https://mydomain.my.salesforce.com", no trailing slash
}

// loginFlight is one login that every caller who needs a session meanwhile waits for.
type loginFlight struct {
	done chan struct{}
	sess *session
	err  error
}

type apiUsage struct{ used, max int }

var apiVersionRE = regexp.MustCompile(`^[0-9]{2,3}\.[0-9]$`)

// New validates opts and returns a client. It does not contact Salesforce.
func New(opts Options) (*Client, error) {
	if opts.APIVersion == "" {
		opts.APIVersion = defaultAPIVersion
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = defaultMaxRetries
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = defaultRetryDelay
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("salesforce options: %w", err)
	}
	base, err := checkBaseURL(opts.LoginURL)
	if err != nil {
		return nil, fmt.Errorf("salesforce options: login URL: %w", err)
	}
	tokenURL := base + "/services/oauth2/token"
	c := &Client{
		opts:   opts,
		log:    opts.Logger,
		http:   opts.HTTPClient,
		prefix: "/services/data/v" + opts.APIVersion,
		// Salesforce takes the client credentials as form parameters (HTTP Basic only for
		// client credentials); fixing the style avoids x/oauth2 probing with a failed request.
		oauth: &oauth2.Config{
			ClientID:     opts.ClientID,
			ClientSecret: opts.ClientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
	}
	switch opts.Grant {
	case GrantPassword:
		c.token = func(ctx context.Context) (*oauth2.Token, error) {
			return c.oauth.PasswordCredentialsToken(ctx, opts.Username, opts.Password)
		}
	case GrantClientCredentials:
		cfg := &clientcredentials.Config{
			ClientID:     opts.ClientID,
			ClientSecret: opts.ClientSecret,
			TokenURL:     tokenURL,
			AuthStyle:    oauth2.AuthStyleInParams,
		}
		c.token = cfg.Token
	case GrantJWTBearer:
		key, err := jwt.ParseRSAPrivateKeyFromPEM(opts.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("salesforce options: private key: %w", err)
		}
		aud := opts.JWTAudience
		if aud == "" {
			aud = jwtAudience(base)
		}
		c.token = c.jwtBearer(tokenURL, aud, key)
	case GrantRefreshToken:
		c.token = func(ctx context.Context) (*oauth2.Token, error) { return c.refresh(ctx, opts.RefreshToken) }
	}
	return c, nil
}

// validate checks opts after defaults; its errors name fields, never their values.
func (o *Options) validate() error {
	var errs []error
	if o.LoginURL == "" {
		errs = append(errs, errors.New("login URL is required"))
	}
	if !apiVersionRE.MatchString(o.APIVersion) {
		errs = append(errs, fmt.Errorf("API version %q: want a version like %q", o.APIVersion, defaultAPIVersion))
	}
	type field struct{ name, value string }
	required := []field{{"client ID", o.ClientID}}
	switch o.Grant {
	case GrantPassword:
		required = append(required, field{"client secret", o.ClientSecret}, field{"username", o.Username}, field{"password", o.Password})
	case GrantClientCredentials:
		required = append(required, field{"client secret", o.ClientSecret})
	case GrantJWTBearer:
		required = append(required, field{"username", o.Username}, field{"private key", string(o.PrivateKey)})
	case GrantRefreshToken:
		required = append(required, field{"refresh token", o.RefreshToken})
	case "":
		errs = append(errs, fmt.Errorf("grant is required (one of %q)", grants))
	default:
		errs = append(errs, fmt.Errorf("grant %q: want one of %q", o.Grant, grants))
	}
	for _, r := range required {
		if r.value == "" {
			errs = append(errs, fmt.Errorf("%s is required for the %q grant", r.name, o.Grant))
		}
	}
	if o.RetryDelay < 0 {
		errs = append(errs, errors.New("retry delay must not be negative"))
	}
	return errors.Join(errs...)
}

// checkBaseURL checks a login or instance URL and returns it without a trailing slash.
// Credentials and tokens travel to it, so plain http is only for this machine.
func checkBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want scheme://host[:port][/path]", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !bot.IsLoopback(u.Hostname()) {
			return "", fmt.Errorf("%q: plain http is only allowed to a loopback host", raw)
		}
	default:
		return "", fmt.Errorf("%q: want an https URL", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// APIUsage returns the org's API usage from the last response's Sforce-Limit-Info header:
// the calls used in the last 24 hours and the daily allowance. Both are 0 before any response.
func (c *Client) APIUsage() (used, max int) {
	if u := c.usage.Load(); u != nil {
		return u.used, u.max
	}
	return 0, 0
}

// parseLimitInfo reads "api-usage=18/5000" from a Sforce-Limit-Info header, which may carry
// more comma-separated entries such as "per-app-api-usage=2/250(appName=casebot)".
func parseLimitInfo(h string) (used, max int, ok bool) {
	for part := range strings.SplitSeq(h, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found || k != "api-usage" {
			continue
		}
		u, m, found := strings.Cut(v, "/")
		if !found {
			return 0, 0, false
		}
		used, err1 := strconv.Atoi(u)
		max, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil || used < 0 || max < 0 {
			return 0, 0, false
		}
		return used, max, true
	}
	return 0, 0, false
}

// session returns the current session, logging in when there is none or when the current one
// is stale (Salesforce rejected it). Concurrent callers share one login: a session rejected by
// many requests at once is replaced once.
func (c *Client) session(ctx context.Context, stale *session) (*session, error) {
	c.mu.Lock()
	if c.sess != nil && c.sess != stale {
		s := c.sess
		c.mu.Unlock()
		return s, nil
	}
	c.sess = nil
	f := c.flight
	if f == nil {
		f = &loginFlight{done: make(chan struct{})}
		c.flight = f
		go c.runLogin(ctx, f, stale)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.sess, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runLogin performs the login f stands for, replacing stale (nil for a first login). It is
// detached from the caller that started it, so that the callers who joined do not fail when
// that one gives up; loginTimeout bounds it.
func (c *Client) runLogin(ctx context.Context, f *loginFlight, stale *session) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loginTimeout)
	defer cancel()
	s, err := c.renew(ctx, stale)
	c.mu.Lock()
	if err == nil {
		c.sess = s
	}
	c.flight = nil
	f.sess, f.err = s, err
	c.mu.Unlock()
	close(f.done)
}

// renew returns a new session in place of stale. A session that came with a refresh token is
// refreshed first, which needs no credentials; when that fails, or there is none, the client
// logs in with its grant.
func (c *Client) renew(ctx context.Context, stale *session) (*session, error) {
	if stale != nil && stale.token.RefreshToken != "" &&
		// With the refresh token grant the login below is this same refresh.
		(c.opts.Grant != GrantRefreshToken || stale.token.RefreshToken != c.opts.RefreshToken) {
		rt := stale.token.RefreshToken
		s, err := c.login(ctx, GrantRefreshToken, func(ctx context.Context) (*oauth2.Token, error) { return c.refresh(ctx, rt) })
		if err == nil || ctx.Err() != nil {
			return s, err
		}
		c.log.Warn("salesforce session refresh failed; logging in with the grant", "grant", c.opts.Grant, "err", err)
	}
	return c.login(ctx, c.opts.Grant, c.token)
}

const opLogin = "log in to Salesforce"

// login fetches a token with fetch, which uses grant, and makes a session of it.
func (c *Client) login(ctx context.Context, grant string, fetch tokenFunc) (*session, error) {
	tok, err := fetch(context.WithValue(ctx, oauth2.HTTPClient, c.http))
	if err != nil {
		var re *oauth2.RetrieveError
		var be *bot.Error
		switch {
		case errors.As(err, &re) && re.Response != nil:
			e := &APIError{Op: opLogin, Status: re.Response.StatusCode, Code: re.ErrorCode, Message: re.ErrorDescription}
			if e.Code == "" {
				e.Code, e.Message = httpCode(e.Status), snippet(re.Body)
			}
			c.log.Warn("salesforce login failed", "grant", grant, "status", e.Status, "code", e.Code)
			return nil, e
		case errors.As(err, &be):
			return nil, err
		}
		// x/oauth2 returns the transport's error as is; nothing in it carries the credentials,
		// which travel in the request body.
		return nil, &transportError{Op: opLogin, Err: err}
	}
	instance, _ := tok.Extra("instance_url").(string)
	base, err := checkBaseURL(instance)
	if err != nil {
		return nil, &bot.Error{Op: opLogin, Code: "BAD_TOKEN_RESPONSE", Message: "instance_url: " + err.Error()}
	}
	c.log.Info("logged in to salesforce", "grant", grant, "instance", base)
	return &session{token: tok, instanceURL: base}, nil
}

// call is one REST request.
type call struct {
	op     string // what is being done, for errors and logs: "update Case 500…"
	method string
	path   string // from the instance URL: "/services/data/v62.0/…"
	body   any    // sent as JSON when not nil
	// create marks a request that creates records: repeating it after the server may have
	// processed it would create them twice, so it is retried only on answers that mean
	// "not done" (503, UNABLE_TO_LOCK_ROW) and on errors before it was sent.
	create bool
	// raw marks a request answered with bytes of any type rather than JSON (a blob): do
	// hands them over as they are, in out, a *[]byte.
	raw bool
}

// response is a response read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do performs r and decodes a successful response's JSON body into out (when not nil; see
// call.raw for bytes).
// It retries transient failures with backoff (see call.create). A rejected session is
// answered by a new login every time: the first at once, as sessions time out in the normal
// course, and any further one in a row as a retry with backoff, so that a session Salesforce
// keeps rejecting ends in a retryable error after MaxRetries, never in a loop.
func (c *Client) do(ctx context.Context, r call, out any) (status int, err error) {
	var body []byte
	if r.body != nil {
		if body, err = json.Marshal(r.body); err != nil {
			return 0, fmt.Errorf("%s: encode request: %w", r.op, err)
		}
	}
	var stale *session
	relogged := false
	for attempt := 0; ; attempt++ {
		var failure error
		s, err := c.session(ctx, stale)
		stale = nil
		if err != nil {
			if ctx.Err() != nil {
				// Nothing was sent: a later attempt may do it.
				return 0, &transportError{Op: r.op, Err: err}
			}
			failure = fmt.Errorf("%s: %w", r.op, err)
		} else {
			resp, sent, err := c.send(ctx, s, r, body)
			switch {
			case err != nil:
				failure = &transportError{Op: r.op, Err: err}
				if r.create && sent {
					return 0, fmt.Errorf("%w (not retried: the request was sent and may have been processed)", failure)
				}
				if ctx.Err() != nil { // the caller gave up; a later attempt may still succeed
					return 0, failure
				}
			case resp.status >= 200 && resp.status < 300 && r.raw:
				*out.(*[]byte) = resp.body
				return resp.status, nil
			case resp.status >= 200 && resp.status < 300:
				if out != nil && len(bytes.TrimSpace(resp.body)) > 0 {
					if err := json.Unmarshal(resp.body, out); err != nil {
						return resp.status, fmt.Errorf("%s: decode response: %w", r.op, err)
					}
				}
				return resp.status, nil
			default:
				e := newHTTPError(r.op, resp, c.opts.Now())
				if e.Status == http.StatusUnauthorized {
					stale = s
					if !relogged {
						relogged = true
						attempt-- // a first new session is not a retry
						c.log.Info("salesforce rejected the session; logging in again", "op", r.op, "code", e.Code)
						continue
					}
				}
				if !e.transient(r.create) {
					return e.Status, e
				}
				failure = e
			}
		}
		if !bot.IsRetryable(failure) || attempt >= c.opts.MaxRetries {
			return 0, failure
		}
		delay, ok := c.backoff(ctx, attempt, failure)
		if !ok {
			return 0, failure
		}
		c.log.Warn("salesforce call failed; retrying", "op", r.op, "attempt", attempt+1, "delay", delay, "err", failure)
		if err := c.opts.Sleep(ctx, delay); err != nil {
			return 0, fmt.Errorf("%w (gave up waiting to retry: %w)", failure, err)
		}
	}
}

// backoff returns how long to wait before retry attempt+1 of failure: an exponential delay
// with jitter, or the server's Retry-After when longer. It reports false when the wait would
// outlast ctx's deadline or the longest Retry-After the client waits for itself.
func (c *Client) backoff(ctx context.Context, attempt int, failure error) (time.Duration, bool) {
	d := c.opts.RetryDelay << attempt
	if d <= 0 || d > maxRetryDelay {
		d = maxRetryDelay
	}
	d += rand.N(d/2 + 1)
	var be *bot.Error
	if errors.As(failure, &be) && be.RetryAfter > 0 {
		if be.RetryAfter > maxRetryAfter {
			return 0, false
		}
		d = max(d, be.RetryAfter)
	}
	if deadline, ok := ctx.Deadline(); ok && c.opts.Now().Add(d).After(deadline) {
		return 0, false
	}
	return d, true
}

// send performs one attempt of r with session s. sent reports whether the request was
// written to the server, which may then have processed it.
func (c *Client) send(ctx context.Context, s *session, r call, body []byte) (resp *response, sent bool, err error) {
	// Whether the request was written, even with an error, counts as sent: a create is then
	// never repeated when the server might have seen all of it.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, s.instanceURL+r.path, rd)
	if err != nil {
		return nil, false, err
	}
	accept := "application/json"
	if r.raw {
		accept = "*/*"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "casebot")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	s.token.SetAuthHeader(req)
	hr, err := c.http.Do(req)
	if err != nil {
		return nil, wrote.Load(), err
	}
	defer hr.Body.Close()
	if used, max, ok := parseLimitInfo(hr.Header.Get("Sforce-Limit-Info")); ok {
		c.usage.Store(&apiUsage{used: used, max: max})
	}
	b, err := io.ReadAll(io.LimitReader(hr.Body, maxResponse))
	if err != nil {
		return nil, true, fmt.Errorf("read response: %w", err)
	}
	return &response{status: hr.StatusCode, header: hr.Header, body: b}, true, nil
}
