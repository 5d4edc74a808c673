package salesforce

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"testing"
	"time"

	"casebot/bot"
)

// newKey returns an RSA key and its PEM (PKCS #8) encoding.
func newKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestJWTAudience(t *testing.T) {
	tests := []struct{ loginURL, want string }{
		{"https://login.salesforce.com", "https://login.salesforce.com"},
		{"https://test.salesforce.com", "https://test.salesforce.com"},
		{"https://acme.my.salesforce.com", "https://login.salesforce.com"},
		{"https://ACME--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"},
		{"http://127.0.0.1:8090", "http://127.0.0.1:8090"},
		{"https://acme.my.site.com/customers", "https://acme.my.site.com/customers"},
	}
	for _, tt := range tests {
		if got := jwtAudience(tt.loginURL); got != tt.want {
			t.Errorf("jwtAudience(%q) = %q, want %q", tt.loginURL, got, tt.want)
		}
	}
}

func TestJWTBearerLogin(t *testing.T) {
	key, keyPEM := newKey(t)
	_, otherPEM := newKey(t)
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		keyPEM   []byte
		audience string // Options.JWTAudience
		orgAud   string // the audience the org wants; its login URL when empty
		wantCode string // "" for success
	}{
		{"signed with the certificate's key", keyPEM, "", "", ""},
		{"an audience set by hand", keyPEM, "https://acme.my.salesforce.com", "https://acme.my.salesforce.com", ""},
		{"signed with another key", otherPEM, "", "", "invalid_grant"},
		{"the wrong audience", keyPEM, "", "https://login.salesforce.com", "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(t, limitsHandler)
			org.jwtKey, org.jwtNow, org.jwtAudience = &key.PublicKey, now, tt.orgAud
			env := newEnv(t, org, func(o *Options) {
				o.Grant, o.ClientSecret, o.Password = GrantJWTBearer, "", ""
				o.PrivateKey, o.JWTAudience = tt.keyPEM, tt.audience
				o.Now = func() time.Time { return now }
			})
			_, err := env.client.Limits(t.Context())
			form := org.tokenForm(0)
			if len(form) != 2 || form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || form.Get("assertion") == "" {
				t.Errorf("token form = %v, want just the grant type and the assertion", form)
			}
			if tt.wantCode != "" {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Code != tt.wantCode || bot.IsRetryable(err) {
					t.Fatalf("error = %v, want a permanent %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Limits: %v", err)
			}
			c := org.claims[0]
			wantAud := tt.audience
			if wantAud == "" {
				wantAud = org.LoginURL
			}
			// aud is a string, not a one-element array: Salesforce documents it so.
			if c["aud"] != wantAud || c["exp"] != float64(now.Add(3*time.Minute).Unix()) || len(c) != 4 {
				t.Errorf("claims = %v, want iss, sub, aud %q and exp 3 minutes ahead", c, wantAud)
			}
		})
	}
}

func TestRefreshAfterExpiry(t *testing.T) {
	tests := []struct {
		name       string
		grant      string
		revoke     bool // the refresh token is revoked before the session expires
		wantGrants []string
	}{
		{"the session's refresh token", GrantPassword, false, []string{"password", "refresh_token"}},
		{"a full login when the refresh fails", GrantPassword, true, []string{"password", "refresh_token", "password"}},
		{"the refresh token grant refreshes once", GrantRefreshToken, false, []string{"refresh_token", "refresh_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := newOrg(t, limitsHandler)
			org.issueRefresh = true
			org.refreshes["5AepREFRESH0"] = true
			env := newEnv(t, org, func(o *Options) {
				o.Grant = tt.grant
				if tt.grant == GrantRefreshToken {
					o.Username, o.Password, o.RefreshToken = "", "", "5AepREFRESH0"
				}
			})
			ctx := t.Context()
			if _, err := env.client.Limits(ctx); err != nil {
				t.Fatalf("Limits: %v", err)
			}
			if tt.revoke {
				org.revokeRefreshTokens()
			}
			org.expire()
			if _, err := env.client.Limits(ctx); err != nil {
				t.Fatalf("Limits after the session expired: %v", err)
			}
			if got := org.grants(); !slices.Equal(got, tt.wantGrants) {
				t.Errorf("token requests = %v, want %v", got, tt.wantGrants)
			}
			form := org.tokenForm(1)
			if form.Get("refresh_token") == "" || form.Get("client_id") != testClientID || form.Get("client_secret") != testClientSecret {
				t.Errorf("refresh form = %v, want the refresh token and the client's credentials", form)
			}
			if n := len(org.dataCalls()); n != 3 {
				t.Errorf("%d data calls, want 3: one, then one rejected and its one repeat", n)
			}
		})
	}
}

func TestPersistent401WithRefreshTokenIsBounded(t *testing.T) {
	org := newOrg(t, limitsHandler)
	org.issueRefresh = true
	env := newEnv(t, org, nil)
	if _, err := env.client.Limits(t.Context()); err != nil {
		t.Fatalf("Limits: %v", err)
	}
	org.mu.Lock()
	org.reject = true
	org.mu.Unlock()
	_, err := env.client.Limits(t.Context())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "INVALID_SESSION_ID" || !bot.IsRetryable(err) {
		t.Fatalf("error = %v, want a retryable INVALID_SESSION_ID", err)
	}
	// Each rejected session but the last is refreshed: once at once, then MaxRetries times.
	want := []string{"password", "refresh_token", "refresh_token", "refresh_token", "refresh_token"}
	if got := org.grants(); !slices.Equal(got, want) || len(org.dataCalls()) != 6 {
		t.Errorf("token requests = %v, data calls = %d; want %v and 6 calls", got, len(org.dataCalls()), want)
	}
}
