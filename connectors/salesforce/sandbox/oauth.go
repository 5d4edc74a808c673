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
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	ID          string `json:"id"`
	TokenType   string `json:"token_type"`
	IssuedAt    string `json:"issued_at"`
	Signature   string `json:"signature"`
	Scope       string `json:"scope"`
}

func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// token is POST /services/oauth2/token: the password and client_credentials grants. Tokens
// stay valid while the server runs: a client that logs in again after a 401 must get a token
// that works, or clients like jsforce retry forever.
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
	grant := form.Get("grant_type")
	if grant != "password" && grant != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "grant type not supported"})
		return
	}
	if !secretEqual(clientID, s.opts.ClientID) || !secretEqual(clientSecret, s.opts.ClientSecret) {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_client", "invalid client credentials"})
		return
	}
	username := s.opts.Username // client_credentials runs as the connected app's API user
	if grant == "password" {
		username = form.Get("username")
		if !secretEqual(form.Get("password"), s.opts.Password) {
			username = ""
		}
	}
	s.mu.Lock()
	user := ""
	if username != "" && strings.EqualFold(username, s.opts.Username) {
		user = s.userByUsername(username)
	}
	var token string
	if user != "" {
		token = s.orgID[:15] + "!" + rand.Text() + rand.Text()
		s.tokens[token] = user
	}
	s.mu.Unlock()
	if user == "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", "authentication failure"})
		return
	}
	instance := "http://" + r.Host
	id := instance + "/id/" + s.orgID + "/" + user
	issued := strconv.FormatInt(s.opts.Now().UnixMilli(), 10)
	// Salesforce signs id+issued_at with the consumer secret so a client can check the id URL.
	mac := hmac.New(sha256.New, []byte(s.opts.ClientSecret))
	mac.Write([]byte(id + issued))
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: token,
		InstanceURL: instance,
		ID:          id,
		TokenType:   "Bearer",
		IssuedAt:    issued,
		Signature:   base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		Scope:       "api",
	})
}

// authenticate returns the user id of a request's bearer token.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "OAuth")) {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.tokens[strings.TrimSpace(token)]
	return user, ok
}
