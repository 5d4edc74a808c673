package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestTokenGrants(t *testing.T) {
	o := newOrg(t, Options{})
	password := url.Values{"grant_type": {"password"}, "client_id": {"casebot-sandbox"},
		"client_secret": {"sandbox-secret"}, "username": {"casebot@example.test"}, "password": {"sandbox"}}
	clientForm := url.Values{"grant_type": {"client_credentials"}, "client_id": {"casebot-sandbox"},
		"client_secret": {"sandbox-secret"}}
	with := func(v url.Values, key, value string) url.Values {
		c := url.Values{}
		for k, vs := range v {
			c[k] = vs
		}
		c.Set(key, value)
		return c
	}
	tests := []struct {
		name      string
		form      url.Values
		basic     []string
		status    int
		wantError string
	}{
		{"password", password, nil, 200, ""},
		{"password with other username case", with(password, "username", "Casebot@Example.test"), nil, 200, ""},
		{"client credentials in the form", clientForm, nil, 200, ""},
		{"client credentials with HTTP Basic", url.Values{"grant_type": {"client_credentials"}},
			[]string{"casebot-sandbox", "sandbox-secret"}, 200, ""},
		{"wrong password", with(password, "password", "nope"), nil, 400, "invalid_grant"},
		{"unknown user", with(password, "username", "om@example.test"), nil, 400, "invalid_grant"},
		{"wrong client secret", with(password, "client_secret", "nope"), nil, 400, "invalid_client"},
		{"unknown client", with(clientForm, "client_id", "other"), nil, 400, "invalid_client"},
		{"wrong Basic secret", url.Values{"grant_type": {"client_credentials"}},
			[]string{"casebot-sandbox", "nope"}, 400, "invalid_client"},
		{"unsupported grant", with(password, "grant_type", "authorization_code"), nil, 400, "unsupported_grant_type"},
	}
	idURL := regexp.MustCompile(`^` + regexp.QuoteMeta(o.http.URL) + `/id/00D[A-Za-z0-9]{15}/005[A-Za-z0-9]{15}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, o.http.URL, tt.form, tt.basic)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.wantError != "" {
				var e oauthError
				mustUnmarshal(t, body, &e)
				if e.Error != tt.wantError || e.Description == "" {
					t.Fatalf("got %s, want error %s", body, tt.wantError)
				}
				return
			}
			var tok tokenResponse
			mustUnmarshal(t, body, &tok)
			if tok.InstanceURL != o.http.URL || tok.TokenType != "Bearer" || tok.Scope != "api" || !idURL.MatchString(tok.ID) {
				t.Fatalf("token response %s", body)
			}
			if ms, err := strconv.ParseInt(tok.IssuedAt, 10, 64); err != nil || ms != testNow.UnixMilli() {
				t.Errorf("issued_at %q, want %d", tok.IssuedAt, testNow.UnixMilli())
			}
			mac := hmac.New(sha256.New, []byte("sandbox-secret"))
			mac.Write([]byte(tok.ID + tok.IssuedAt))
			if tok.Signature != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
				t.Errorf("signature %q does not sign id+issued_at", tok.Signature)
			}
			// The token works, and keeps working after later logins.
			o2 := *o
			o2.token = tok.AccessToken
			o2.login()
			if r := o2.do("GET", "/limits", nil); r.status != http.StatusOK {
				t.Errorf("data call with the new token: %d %s", r.status, r.body)
			}
		})
	}
}

func TestUnauthenticated(t *testing.T) {
	o := newOrg(t, Options{})
	for _, token := range []string{"", "garbage", o.token + "x"} {
		o2 := *o
		o2.token = token
		e := o2.do("GET", "/query?q=SELECT+Id+FROM+Case", nil).wantError(t, http.StatusUnauthorized, "INVALID_SESSION_ID")
		if e.Message != "Session expired or invalid" {
			t.Errorf("message %q", e.Message)
		}
	}
	if r := o.do("GET", "/services/oauth2/token", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %d", r.status)
	}
}

func TestCustomCredentials(t *testing.T) {
	sb, err := New(Options{ClientID: "id", ClientSecret: "secret", Username: "api@corp.test", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	o := &org{t: t, sb: sb}
	o.http = newHTTPTest(t, sb)
	status, body := postForm(t, o.http.URL, url.Values{"grant_type": {"password"}, "client_id": {"id"},
		"client_secret": {"secret"}, "username": {"api@corp.test"}, "password": {"pw"}}, nil)
	if status != http.StatusOK {
		t.Fatalf("login with custom credentials: %d %s", status, body)
	}
	var tok tokenResponse
	mustUnmarshal(t, body, &tok)
	o.token = tok.AccessToken
	res := o.query("SELECT Username, Name FROM User")
	if res.TotalSize != 1 || res.Records[0]["Username"] != "api@corp.test" {
		t.Fatalf("users of an unseeded org: %+v", res.Records)
	}
}

func TestIdentity(t *testing.T) {
	o := seededOrg(t)
	status, body := postForm(t, o.http.URL, url.Values{"grant_type": {"client_credentials"},
		"client_id": {"casebot-sandbox"}, "client_secret": {"sandbox-secret"}}, nil)
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	var tok tokenResponse
	mustUnmarshal(t, body, &tok)
	var id map[string]any
	o.do("GET", strings.TrimPrefix(tok.ID, o.http.URL), nil).ok(t, http.StatusOK, &id)
	if id["username"] != "casebot@example.test" || id["id"] != tok.ID || id["display_name"] != "Casebot Integration" {
		t.Errorf("identity: %v", id)
	}
	// The token may come as a parameter instead of a header.
	unauth := *o
	unauth.token = ""
	id = nil
	unauth.do("GET", strings.TrimPrefix(tok.ID, o.http.URL)+"?format=json&oauth_token="+url.QueryEscape(tok.AccessToken), nil).ok(t, http.StatusOK, &id)
	if id["id"] != tok.ID {
		t.Errorf("identity with oauth_token: %v", id)
	}
	var info map[string]any
	o.do("GET", "/services/oauth2/userinfo", nil).ok(t, http.StatusOK, &info)
	if info["preferred_username"] != "casebot@example.test" || info["sub"] != tok.ID {
		t.Errorf("userinfo: %v", info)
	}
	// Another user's identity URL is not this token's.
	om := o.query("SELECT Id FROM User WHERE Username = 'om@example.test'").Records[0]["Id"].(string)
	o.do("GET", "/id/"+o.sb.orgID+"/"+om, nil).wantError(t, http.StatusNotFound, "NOT_FOUND")
	unauth.token = "bad"
	if r := unauth.do("GET", "/services/oauth2/userinfo", nil); r.status != http.StatusForbidden || string(r.body) != "Bad_OAuth_Token" {
		t.Errorf("userinfo without a session: %d %s", r.status, r.body)
	}
	if r := unauth.do("GET", "/services/oauth2/userinfo?oauth_token=bad", nil); r.status != http.StatusForbidden {
		t.Errorf("userinfo with a bad oauth_token: %d %s", r.status, r.body)
	}
	for _, r := range o.sb.Requests() {
		if r.APICall && !strings.HasPrefix(r.Path, "/services/data/") {
			t.Errorf("%s counted as an API call", r.Path)
		}
	}
}
