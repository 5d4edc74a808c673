package sandbox

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// oauthError is the token endpoint's error body (RFC 6749 style, as Salesforce sends it).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"`
	TokenType    string `json:"token_type"`
	IssuedAt     string `json:"issued_at"`
	Signature    string `json:"signature"`
	Scope        string `json:"scope"`
}

func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// jwtBearer is the grant type of the OAuth 2.0 JWT bearer flow (RFC 7523).
const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// token is POST /services/oauth2/token: the password, client_credentials, refresh_token and
// JWT bearer grants. Tokens stay valid while the server runs (unless an expire_session fault
// revokes one): a client that logs in again after a 401 must get a token that works, or
// clients like jsforce retry forever.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, oauthError{"invalid_request", "must use HTTP POST"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "malformed request body"})
		return
	}
	form := r.PostForm
	clientID, clientSecret := form.Get("client_id"), form.Get("client_secret")
	if id, secret, ok := r.BasicAuth(); ok && clientID == "" {
		clientID, clientSecret = id, secret
	}
	clientOK := secretEqual(clientID, s.opts.ClientID) && secretEqual(clientSecret, s.opts.ClientSecret)
	var (
		user    string
		failure *oauthError
	)
	grant := form.Get("grant_type")
	switch grant {
	case "password", "client_credentials":
		if !clientOK {
			failure = &oauthError{"invalid_client", "invalid client credentials"}
			break
		}
		username := s.opts.Username // client_credentials runs as the connected app's API user
		if grant == "password" {
			username = form.Get("username")
			if !secretEqual(form.Get("password"), s.opts.Password) {
				username = ""
			}
		}
		user = s.apiUser(username)
		if user == "" {
			failure = &oauthError{"invalid_grant", "authentication failure"}
		}
	case "refresh_token":
		user, failure = s.refreshGrant(form.Get("refresh_token"), clientID, clientOK)
	case jwtBearer:
		user, failure = s.jwtGrant(form.Get("assertion"), "http://"+r.Host)
	default:
		failure = &oauthError{"unsupported_grant_type", "grant type not supported"}
	}
	if failure != nil {
		writeJSON(w, http.StatusBadRequest, *failure)
		return
	}
	// Salesforce gives refresh tokens only in flows a user approves (web server, user
	// agent), never in the JWT bearer or client credentials flows; RefreshTokens lets the
	// password grant stand in for those, so that clients can exercise the refresh grant.
	withRefresh := grant == "password" && s.opts.RefreshTokens
	access, refresh := newToken(s.orgID), ""
	s.mu.Lock()
	s.tokens[access] = user
	if withRefresh {
		refresh = newToken(s.orgID)
		s.refresh[refresh] = user
	}
	s.mu.Unlock()
	instance := "http://" + r.Host
	id := s.identityURL(r, user)
	issued := strconv.FormatInt(s.opts.Now().UnixMilli(), 10)
	// Salesforce signs id+issued_at with the consumer secret so a client can check the id URL.
	mac := hmac.New(sha256.New, []byte(s.opts.ClientSecret))
	mac.Write([]byte(id + issued))
	scope := "api"
	if withRefresh || grant == "refresh_token" {
		scope = "refresh_token api"
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  access,
		RefreshToken: refresh,
		InstanceURL:  instance,
		ID:           id,
		TokenType:    "Bearer",
		IssuedAt:     issued,
		Signature:    base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		Scope:        scope,
	})
}

// newToken returns a fresh opaque token in Salesforce's shape: the org id, "!", random text.
func newToken(orgID string) string { return orgID[:15] + "!" + rand.Text() + rand.Text() }

// apiUser returns the id of the API user when username names it, or "".
func (s *Server) apiUser(username string) string {
	if username == "" || !strings.EqualFold(username, s.opts.Username) {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userByUsername(username)
}

// refreshGrant checks a refresh token grant and returns the user it logs in. The response
// carries a new access token and no new refresh token: the old one stays valid, as in
// Salesforce.
func (s *Server) refreshGrant(token, clientID string, clientOK bool) (string, *oauthError) {
	switch {
	case !secretEqual(clientID, s.opts.ClientID):
		return "", &oauthError{"invalid_client_id", "client identifier invalid"}
	case !clientOK: // "Require Secret for Refresh Token Flow", on by default
		return "", &oauthError{"invalid_client", "invalid client credentials"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.refresh[token]
	if ok {
		_, rec := (view{s: s.store}).ByID(user)
		ok = rec != nil && rec["IsActive"] == true
	}
	if !ok {
		return "", &oauthError{"invalid_grant", "expired access/refresh token"}
	}
	return user, nil
}

// authenticate returns a request's bearer token and the id of the user it belongs to.
func (s *Server) authenticate(r *http.Request) (token, user string, ok bool) {
	auth := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(auth, " ")
	if !found || (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "OAuth")) {
		return "", "", false
	}
	token = strings.TrimSpace(token)
	user, ok = s.userOfToken(token)
	return token, user, ok
}

// userOfToken returns the user an access token was issued to, if it is valid.
func (s *Server) userOfToken(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.tokens[token]
	return user, ok
}

// revoke ends an access token's session.
func (s *Server) revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}
