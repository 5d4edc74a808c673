// Package sandbox is a Salesforce-compatible REST server: casebot's test peer and the embedded
// org of `casebot demo` and `casebot sandbox`.
//
// It speaks Salesforce's wire as documented, so that real clients (jsforce, the sf CLI) work
// against it unchanged: the OAuth token endpoint (password, client credentials, refresh token
// and JWT bearer grants), SOQL query with paging, sObject CRUD and upsert, sObject Collections,
// composite requests and composite graphs, files (ContentVersion with its document and links), describe and
// limits, 18-character ids with checksums, field types and picklists enforced with
// Salesforce's error codes, and the daily API allowance. Faults (503s, request limits, row
// locks, expired sessions, latency) can be given to data calls on demand; see Faults. It
// shares no code with casebot's Salesforce client, so a misreading of the documentation in one
// shows up as a failure in the other.
package sandbox

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"casebot/connectors/salesforce/sandbox/soql"
)

// Options configure a Server. The zero value is an empty in-memory org on 127.0.0.1.
type Options struct {
	Addr     string           // listen address for Start; default "127.0.0.1:0"
	DataFile string           // journal file for durable data; "" keeps data in memory
	Now      func() time.Time // the org's clock; default time.Now
	Seed     bool             // fill an empty org (or one with only the API user) with the demo data; see Server.Seed

	ClientID     string // default "casebot-sandbox"
	ClientSecret string // default "sandbox-secret"
	Username     string // the API user; default "casebot@example.test"
	Password     string // default "sandbox"

	// JWTCertificate is the connected app's X.509 certificate (PEM) that JWT bearer assertions
	// must be signed for; nil refuses the JWT bearer grant.
	JWTCertificate []byte
	// RefreshTokens makes the password grant return a refresh token, as a connected app whose
	// scopes include refresh_token would in the web-server flow; see Server.token.
	RefreshTokens bool

	DailyLimit int    // API calls allowed per day (UTC, by Now); default 15000
	Faults     Faults // faults from the start; see SetFaults
	Logger     *slog.Logger
}

func (o *Options) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Addr, "127.0.0.1:0")
	def(&o.ClientID, "casebot-sandbox")
	def(&o.ClientSecret, "sandbox-secret")
	def(&o.Username, "casebot@example.test")
	def(&o.Password, "sandbox")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DailyLimit <= 0 {
		o.DailyLimit = 15000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Request is one request the server answered, for tests and the demo to count calls.
type Request struct {
	Time    time.Time
	Method  string
	Path    string
	Status  int       // 0 when the client went away before the answer (during added latency)
	APICall bool      // an authenticated data API call, counted against the daily allowance
	Fault   FaultKind // the fault the call was given, or ""
}

// Supported API versions, as /services/data lists them.
const (
	minVersion = 31
	maxVersion = 66
)

// maxLoggedRequests bounds the request log of a long-running sandbox.
const maxLoggedRequests = 100_000

// Server is a Salesforce org. It is safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	schema  *schema
	orgID   string
	handler http.Handler
	sub     *http.ServeMux // the resources a composite subrequest may reach
	cert    *x509.Certificate

	// gate orders data calls against composite requests: a call holds it shared, a composite
	// holds it alone, so that a composite sees no other writes between its subrequests and
	// its rollback undoes only its own.
	gate sync.RWMutex

	mu       sync.Mutex
	store    *store
	journal  *journal // nil when in memory
	tokens   map[string]string
	cursors  cursors
	requests []Request
	apiCalls int
	usageDay string // the UTC date usage counts for
	usage    int
	faults   faultState
	batch    *[]soql.Record    // a running composite's writes, journaled as one line at its end
	refresh  map[string]string // refresh token → user id

	httpServer *http.Server
	url        string
}

// New returns a Server with its data loaded (and seeded when asked), ready to serve through
// Handler.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		schema:  newSchema(),
		orgID:   makeID(orgIDPrefix, orgCounter),
		tokens:  map[string]string{},
		refresh: map[string]string{},
	}
	if err := opts.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("configuring the sandbox's faults: %w", err)
	}
	s.faults.set(opts.Faults)
	if opts.JWTCertificate != nil {
		cert, err := parseCertificate(opts.JWTCertificate)
		if err != nil {
			return nil, fmt.Errorf("configuring the sandbox's JWT certificate: %w", err)
		}
		s.cert = cert
	}
	s.store = newStore(s.schema)
	if opts.DataFile != "" {
		j, err := openJournal(opts.DataFile, s.store.apply, s.log)
		if err != nil {
			return nil, err
		}
		s.journal = j
	}
	if opts.Seed {
		if err := s.Seed(opts.Now()); err != nil && !errors.Is(err, ErrNotEmpty) {
			return nil, errors.Join(err, s.closeJournal())
		}
	}
	if err := s.ensureAPIUser(); err != nil {
		return nil, errors.Join(err, s.closeJournal())
	}
	s.handler = s.routes()
	return s, nil
}

// Start returns a Server listening on opts.Addr (a loopback address). It stops when ctx ends
// or Close is called.
func Start(ctx context.Context, opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(s.opts.Addr)
	if err == nil && host != "127.0.0.1" && host != "localhost" && host != "::1" {
		err = fmt.Errorf("address %s is not a loopback address", s.opts.Addr)
	}
	var ln net.Listener
	if err == nil {
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", s.opts.Addr)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("starting the Salesforce sandbox: %w", err), s.closeJournal())
	}
	s.httpServer = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	go func() {
		if err := s.httpServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("salesforce sandbox stopped serving", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = s.Close() })
	s.log.Info("salesforce sandbox listening", "url", s.url)
	return s, nil
}

// Handler returns the server's HTTP handler (for httptest).
func (s *Server) Handler() http.Handler { return s.handler }

// URL returns the base URL the server listens on, or "" when it was not started with Start.
func (s *Server) URL() string { return s.url }

// Close stops listening (when started) and closes the data file.
func (s *Server) Close() error {
	var err error
	if s.httpServer != nil {
		err = s.httpServer.Close()
	}
	s.mu.Lock()
	s.cursors.close()
	s.mu.Unlock()
	return errors.Join(err, s.closeJournal())
}

func (s *Server) closeJournal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil {
		return nil
	}
	err := s.journal.close()
	s.journal = nil
	return err
}

// Requests returns the requests answered since the start or the last ResetRequests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// APICalls returns how many data API calls were answered since the start or the last
// ResetRequests.
func (s *Server) APICalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiCalls
}

// ResetRequests clears the request log. The daily allowance is not affected.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.apiCalls = nil, 0
}

// persist is the commit hook of a transaction: the journal when durable, or the batch of the
// running composite. Call with mu.
func (s *Server) persist(recs []soql.Record) error {
	if s.batch != nil {
		*s.batch = append(*s.batch, recs...)
		return nil
	}
	switch {
	case s.journal != nil:
		return s.journal.append(recs)
	case s.opts.DataFile != "":
		return errors.New("the sandbox is closed: its data file no longer takes writes")
	}
	return nil
}

// ensureAPIUser creates the API user when the org does not have it yet.
func (s *Server) ensureAPIUser() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userByUsername(s.opts.Username) != "" {
		return nil
	}
	t := s.store.begin(s.opts.Now(), "")
	if _, err := t.create(s.schema.sobject("User"), map[string]any{"Username": s.opts.Username,
		"Email": s.opts.Username, "FirstName": "Casebot", "LastName": "Integration"}); err != nil {
		return fmt.Errorf("creating the API user: %w", err)
	}
	if err := t.commit(s.persist); err != nil {
		return fmt.Errorf("creating the API user: %w", err)
	}
	return nil
}

// userByUsername returns the id of the active user with that username, or "". Call with mu.
func (s *Server) userByUsername(username string) string {
	for _, rec := range (view{s: s.store}).All("User", false) {
		if u, _ := rec["Username"].(string); strings.EqualFold(u, username) && rec["IsActive"] == true {
			return rec["Id"].(string)
		}
	}
	return ""
}

// call is what the data API middleware found out about a request.
type call struct {
	version string // "62.0"
	user    string // the caller's user id
	lock    *lockFault
}

type dataHandler func(w http.ResponseWriter, r *http.Request, c call)

// routes builds the server's handler. Every data API route goes through data(), which is
// where cross-cutting behaviour (authentication, the allowance, and later fault injection)
// belongs.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/services/oauth2/token", s.token)
	mux.HandleFunc("/services/oauth2/userinfo", s.identity(true))
	mux.HandleFunc("/id/{org}/{user}", s.identity(false))
	mux.HandleFunc("/services/data/{$}", s.versions)
	// Every data route, and what a composite subrequest may call there (nil: nothing):
	// all the sObject resources but the blob get, the queries and sObject Collections.
	// Anything else is NOT_FOUND in a composite, as Salesforce answers.
	s.sub = http.NewServeMux()
	query, queryAll := s.queryHandler(false), s.queryHandler(true)
	for _, rt := range []struct {
		pattern string
		h, sub  dataHandler
	}{
		{"", s.resources, nil},
		{"/{$}", s.resources, nil},
		{"/query", query, query},
		{"/queryAll", queryAll, queryAll},
		{"/query/{locator}", s.nextPage, s.nextPage},
		{"/queryAll/{locator}", s.nextPage, s.nextPage},
		{"/limits", s.limits, nil},
		{"/sobjects", s.globalDescribe, nil},
		{"/sobjects/{type}", s.sobjectRoot, s.sobjectRoot},
		{"/sobjects/{type}/describe", s.describe, s.describe},
		{"/sobjects/{type}/{id}", s.record, s.record},
		{"/sobjects/{type}/{field}/{value}", s.byExternalID, s.externalIDRecord},
		{"/composite/sobjects", s.collections, s.collections},
		{"/composite/sobjects/{type}", s.collectionRetrieve, s.collectionRetrieve},
		{"/composite/sobjects/{type}/{field}", s.collectionUpsert, s.collectionUpsert},
		{"/{rest...}", func(w http.ResponseWriter, _ *http.Request, _ call) { writeError(w, errNotFound()) }, nil},
	} {
		mux.Handle("/services/data/{version}"+rt.pattern, s.data(rt.h))
		if rt.sub != nil {
			s.sub.Handle("/services/data/{version}"+rt.pattern, s.subrequest(rt.sub))
		}
	}
	mux.Handle("/services/data/{version}/composite", s.dataCall(s.composite, true))
	mux.Handle("/services/data/{version}/composite/graph", s.dataCall(s.compositeGraph, true))
	notFound := func(w http.ResponseWriter, _ *http.Request) { writeError(w, errNotFound()) }
	mux.HandleFunc("/", notFound)
	s.sub.HandleFunc("/", notFound)
	return s.logRequests(mux)
}

// recorder captures the status of a response for the request log.
type recorder struct {
	http.ResponseWriter
	status  int
	apiCall bool
	fault   FaultKind
	gone    bool // the client went away before it was answered
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 && !rec.gone {
			rec.status = http.StatusOK
		}
		s.mu.Lock()
		if len(s.requests) == maxLoggedRequests {
			// Drop the older half at once, so that a full log costs no copy per request.
			s.requests = append(s.requests[:0], s.requests[maxLoggedRequests/2:]...)
		}
		// The method and path are cloned: they may share the memory of the request line,
		// whose query string can be a long SOQL query.
		s.requests = append(s.requests, Request{Time: s.opts.Now(), Method: strings.Clone(r.Method),
			Path: strings.Clone(r.URL.Path), Status: rec.status, APICall: rec.apiCall, Fault: rec.fault})
		if rec.apiCall {
			s.apiCalls++
		}
		s.mu.Unlock()
		s.log.Debug("salesforce sandbox request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"fault", rec.fault)
	})
}

// data wraps a data API handler: it checks the version, authenticates the caller, gives the
// call its fault (if any), and counts the call against the daily allowance.
func (s *Server) data(h dataHandler) http.Handler { return s.dataCall(h, false) }

// dataCall is data for a handler that holds the gate alone when exclusive (a composite).
func (s *Server) dataCall(h dataHandler, exclusive bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, _ := w.(*recorder)
		note := func(f FaultKind) {
			if rec != nil {
				rec.fault = f
			}
		}
		version, apiErr := parseVersion(r.PathValue("version"))
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		token, user, ok := s.authenticate(r)
		if !ok {
			writeError(w, errSession())
			return
		}
		fault, delay := s.drawFault(isWrite(r.Method))
		if delay > 0 {
			note(FaultLatency)
			if !sleep(r.Context(), delay) {
				if rec != nil {
					rec.gone = true
				}
				return
			}
		}
		if fault != "" {
			note(fault)
		}
		c := call{version: version, user: user}
		// A faulted call is refused before it is counted, as Salesforce counts neither a
		// 503 nor a 401 nor a refused call; a lock failure is an answered call and counts.
		switch fault {
		case FaultUnavailable:
			writeError(w, newError(http.StatusServiceUnavailable, "SERVER_UNAVAILABLE",
				"Server temporarily unavailable. Please try again later."))
			return
		case FaultExpireSession:
			s.revoke(token)
			writeError(w, errSession())
			return
		case FaultLockRow:
			c.lock = &lockFault{}
		}
		used, allowed := s.countCall(fault != FaultRequestLimit)
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, s.opts.DailyLimit))
		if !allowed {
			writeError(w, newError(http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
			return
		}
		if rec != nil {
			rec.apiCall = true
		}
		if r.Method == http.MethodHead {
			// HEAD is GET without a body; net/http drops the body it writes.
			r = r.Clone(r.Context())
			r.Method = http.MethodGet
		}
		if exclusive {
			s.gate.Lock()
			defer s.gate.Unlock()
		} else {
			s.gate.RLock()
			defer s.gate.RUnlock()
		}
		h(w, r, c)
		if c.lock != nil && !c.lock.taken {
			// The call wrote nothing, so it had nothing to lock.
			note("")
			if delay > 0 {
				note(FaultLatency)
			}
		}
	})
}

func errSession() *apiError {
	return newError(http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
}

// isWrite reports whether a method may change data (and so may fail to lock a row).
func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead
}

// parseVersion checks a "vNN.N" path segment against the supported versions.
func parseVersion(seg string) (string, *apiError) {
	num, ok := strings.CutPrefix(seg, "v")
	major, minorOK := strings.CutSuffix(num, ".0")
	n, err := strconv.Atoi(major)
	switch {
	case !ok || !minorOK || err != nil || n > maxVersion:
		return "", errNotFound()
	case n < minVersion:
		return "", newError(http.StatusGone, "UNSUPPORTED_API_VERSION", "Version %s of the API is retired", num)
	}
	return num, nil
}

// countCall counts one call against today's allowance and reports the usage and whether the
// call is allowed. A refused call is not counted, as Salesforce does not count it; a call that
// may not run (a request_limit fault) is refused.
func (s *Server) countCall(mayRun bool) (used int, allowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if day := s.opts.Now().UTC().Format(dateLayout); day != s.usageDay {
		s.usageDay, s.usage = day, 0
	}
	if !mayRun || s.usage >= s.opts.DailyLimit {
		return s.usage, false
	}
	s.usage++
	return s.usage, true
}

// versions lists the API versions (GET /services/data/), which needs no session.
func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod(r.Method, "GET", "HEAD"))
		return
	}
	type version struct {
		Label   string `json:"label"`
		URL     string `json:"url"`
		Version string `json:"version"`
	}
	var out []version
	for n := minVersion; n <= maxVersion; n++ {
		v := strconv.Itoa(n) + ".0"
		out = append(out, version{Label: releaseName(n), URL: "/services/data/v" + v, Version: v})
	}
	writeJSON(w, http.StatusOK, out)
}

// releaseName names the release of an API version: three a year, v31.0 was Summer '14.
func releaseName(v int) string {
	steps := v - minVersion + 1 // Summer '14 is step 1 of the 2014 cycle Spring, Summer, Winter
	season := [...]string{"Winter", "Spring", "Summer"}[(steps+1)%3]
	year := 14 + (steps+1)/3
	return fmt.Sprintf("%s '%02d", season, year)
}

func (s *Server) resources(w http.ResponseWriter, r *http.Request, c call) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod(r.Method, "GET", "HEAD"))
		return
	}
	base := "/services/data/v" + c.version
	out := map[string]string{}
	for _, name := range []string{"sobjects", "query", "queryAll", "limits", "composite"} {
		out[name] = base + "/" + name
	}
	// Clients with only a token (jsforce's identity()) find who they are through it.
	out["identity"] = s.identityURL(r, c.user)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) limits(w http.ResponseWriter, r *http.Request, _ call) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod(r.Method, "GET", "HEAD"))
		return
	}
	s.mu.Lock()
	used := s.usage
	records := len(s.store.byID)
	s.mu.Unlock()
	type limit struct {
		Max       int `json:"Max"`
		Remaining int `json:"Remaining"`
	}
	// Salesforce counts about 2 KB of data storage per record.
	const storageMB = 5
	writeJSON(w, http.StatusOK, map[string]limit{
		"DailyApiRequests":                  {Max: s.opts.DailyLimit, Remaining: s.opts.DailyLimit - used},
		"DataStorageMB":                     {Max: storageMB, Remaining: storageMB - records*2/1024},
		"DailyBulkApiBatches":               {Max: 15000, Remaining: 15000},
		"SingleEmail":                       {Max: 15, Remaining: 15},
		"ConcurrentAsyncGetReportInstances": {Max: 200, Remaining: 200},
	})
}
