package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// selfSigned returns a new RSA key and a self-signed certificate for it, in PEM.
func selfSigned(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "casebot"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestJWTBearer(t *testing.T) {
	key, cert := selfSigned(t)
	otherKey, _ := selfSigned(t)
	o := newOrg(t, Options{JWTCertificate: cert})
	good := jwt.RegisteredClaims{Issuer: "casebot-sandbox", Subject: "casebot@example.test",
		Audience: jwt.ClaimStrings{"https://login.salesforce.com"}, ExpiresAt: jwt.NewNumericDate(testNow.Add(3 * time.Minute))}
	with := func(change func(c *jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := good
		change(&c)
		return c
	}
	sign := func(c jwt.RegisteredClaims, k *rsa.PrivateKey) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, good).SignedString([]byte("casebot-sandbox"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		assertion string
		wantError string
		wantDesc  string
	}{
		{"good", sign(good, key), "", ""},
		{"own URL as audience", sign(with(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{o.http.URL} }), key), "", ""},
		{"test.salesforce.com", sign(with(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"https://test.salesforce.com"} }), key), "", ""},
		{"username in another case", sign(with(func(c *jwt.RegisteredClaims) { c.Subject = "CASEBOT@example.test" }), key), "", ""},
		{"wrong key", sign(good, otherKey), "invalid_grant", "invalid assertion"},
		{"HS256", hs256, "invalid_grant", "invalid assertion"},
		{"garbage", "not.a.jwt", "invalid_grant", "invalid assertion"},
		{"no assertion", "", "invalid_grant", "invalid assertion"},
		{"expired", sign(with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Second)) }), key),
			"invalid_grant", "expired authorization code"},
		{"expires too late", sign(with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(10 * time.Minute)) }), key),
			"invalid_grant", "invalid assertion"},
		{"no exp", sign(with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil }), key), "invalid_grant", "invalid assertion"},
		{"wrong audience", sign(with(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"https://evil.example"} }), key),
			"invalid_grant", "audience is invalid"},
		{"unknown user", sign(with(func(c *jwt.RegisteredClaims) { c.Subject = "nobody@example.test" }), key),
			"invalid_grant", "user hasn't approved this consumer"},
		{"wrong issuer", sign(with(func(c *jwt.RegisteredClaims) { c.Issuer = "other-app" }), key),
			"invalid_client_id", "client identifier invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, o.http.URL, url.Values{"grant_type": {jwtBearer}, "assertion": {tt.assertion}}, nil)
			if tt.wantError != "" {
				var e oauthError
				mustUnmarshal(t, body, &e)
				if status != http.StatusBadRequest || e.Error != tt.wantError || e.Description != tt.wantDesc {
					t.Fatalf("got %d %s, want %s %q", status, body, tt.wantError, tt.wantDesc)
				}
				return
			}
			var tok tokenResponse
			if status != http.StatusOK {
				t.Fatalf("got %d %s", status, body)
			}
			mustUnmarshal(t, body, &tok)
			if tok.RefreshToken != "" || tok.Scope != "api" {
				t.Errorf("JWT bearer token response %s: Salesforce issues no refresh token here", body)
			}
			o2 := *o
			o2.token = tok.AccessToken
			o2.do("GET", "/limits", nil).ok(t, http.StatusOK, nil)
		})
	}

	// Without a certificate the grant cannot succeed.
	plain := newOrg(t, Options{})
	status, body := postForm(t, plain.http.URL, url.Values{"grant_type": {jwtBearer}, "assertion": {sign(good, key)}}, nil)
	if status != http.StatusBadRequest {
		t.Errorf("JWT bearer without a configured certificate: %d %s", status, body)
	}
	for _, bad := range [][]byte{[]byte("not PEM"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})} {
		if _, err := New(Options{JWTCertificate: bad}); err == nil {
			t.Errorf("New accepted the certificate %q", bad)
		}
	}
}

func TestRefreshGrant(t *testing.T) {
	o := newOrg(t, Options{RefreshTokens: true})
	password := url.Values{"grant_type": {"password"}, "client_id": {"casebot-sandbox"},
		"client_secret": {"sandbox-secret"}, "username": {"casebot@example.test"}, "password": {"sandbox"}}
	status, body := postForm(t, o.http.URL, password, nil)
	var login tokenResponse
	mustUnmarshal(t, body, &login)
	if status != http.StatusOK || login.RefreshToken == "" || login.Scope != "refresh_token api" {
		t.Fatalf("password login with refresh tokens: %d %s", status, body)
	}

	// The session expires; the refresh token gets a new one, and no new refresh token.
	o.token = login.AccessToken
	o.sb.Inject(FaultExpireSession, 1)
	o.do("GET", "/limits", nil).wantError(t, http.StatusUnauthorized, "INVALID_SESSION_ID")
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken},
		"client_id": {"casebot-sandbox"}, "client_secret": {"sandbox-secret"}}
	status, body = postForm(t, o.http.URL, refresh, nil)
	var renewed tokenResponse
	mustUnmarshal(t, body, &renewed)
	if status != http.StatusOK || renewed.RefreshToken != "" || renewed.AccessToken == login.AccessToken || renewed.ID != login.ID {
		t.Fatalf("refresh: %d %s", status, body)
	}
	o.token = renewed.AccessToken
	o.do("GET", "/limits", nil).ok(t, http.StatusOK, nil)
	// The refresh token stays valid.
	if status, body := postForm(t, o.http.URL, refresh, nil); status != http.StatusOK {
		t.Errorf("second refresh: %d %s", status, body)
	}

	set := func(key, value string) url.Values {
		v := url.Values{}
		for k, vs := range refresh {
			v[k] = vs
		}
		v.Set(key, value)
		return v
	}
	for _, tt := range []struct {
		name string
		form url.Values
		want string
	}{
		{"unknown refresh token", set("refresh_token", "5Aep861xxx"), "invalid_grant"},
		{"access token as refresh token", set("refresh_token", renewed.AccessToken), "invalid_grant"},
		{"wrong secret", set("client_secret", "nope"), "invalid_client"},
		{"unknown client", set("client_id", "other"), "invalid_client_id"},
	} {
		status, body := postForm(t, o.http.URL, tt.form, nil)
		var e oauthError
		mustUnmarshal(t, body, &e)
		if status != http.StatusBadRequest || e.Error != tt.want {
			t.Errorf("%s: %d %s, want %s", tt.name, status, body, tt.want)
		}
	}

	// By default, as in Salesforce, the password grant gives no refresh token.
	plain := newOrg(t, Options{})
	_, body = postForm(t, plain.http.URL, password, nil)
	var tok tokenResponse
	mustUnmarshal(t, body, &tok)
	if tok.RefreshToken != "" {
		t.Errorf("password grant without RefreshTokens: %s", body)
	}
}
