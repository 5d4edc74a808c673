package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"casebot/bot"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

const (
	jwtBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// jwtLifetime is how long an assertion is valid; Salesforce wants exp within 3 minutes.
	jwtLifetime = 3 * time.Minute
	// maxTokenResponse bounds a token endpoint's answer, which is a few hundred bytes.
	maxTokenResponse = 1 << 20

	productionAudience = "https://login.salesforce.com"
	sandboxAudience    = "https://test.salesforce.com"
)

// jwtAudience derives the JWT bearer assertion's aud from a login URL: Salesforce's own
// authorization servers take login.salesforce.com or test.salesforce.com even when the token
// request goes to a My Domain; any other server (the sandbox, an Experience Cloud site)
// takes its own URL.
func jwtAudience(loginURL string) string {
	u, err := url.Parse(loginURL)
	if err != nil {
		return loginURL
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "test.salesforce.com", strings.HasSuffix(host, ".sandbox.my.salesforce.com"):
		return sandboxAudience
	case host == "login.salesforce.com", strings.HasSuffix(host, ".my.salesforce.com"):
		return productionAudience
	}
	return loginURL
}

// jwtBearer returns the JWT bearer grant: a fresh RS256 assertion for each login, as
// Salesforce issues no refresh token for it.
func (c *Client) jwtBearer(tokenURL, aud string, key *rsa.PrivateKey) tokenFunc {
	return func(ctx context.Context) (*oauth2.Token, error) {
		// MapClaims rather than RegisteredClaims: jwt/v5 writes a single audience as an array
		// by default, and Salesforce documents aud as a string.
		assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": c.opts.ClientID,
			"sub": c.opts.Username,
			"aud": aud,
			"exp": c.opts.Now().Add(jwtLifetime).Unix(),
		}).SignedString(key)
		if err != nil {
			return nil, &bot.Error{Op: opLogin, Code: "JWT_SIGNING_FAILED", Message: err.Error()}
		}
		return c.postToken(ctx, tokenURL, url.Values{"grant_type": {jwtBearerGrantType}, "assertion": {assertion}})
	}
}

// refresh asks for a new access token with a refresh token. The answer carries no new refresh
// token unless the connected app rotates them; x/oauth2 keeps the old one then.
func (c *Client) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return c.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// postToken posts a grant x/oauth2 has no method for to the token endpoint. Its failures are
// *oauth2.RetrieveError, as x/oauth2's are, so that login classifies every grant alike.
func (c *Client) postToken(ctx context.Context, tokenURL string, form url.Values) (*oauth2.Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "casebot")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, fmt.Errorf("read token response: %w", err)
	}
	var tr struct {
		AccessToken      string `json:"access_token"`
		TokenType        string `json:"token_type"`
		RefreshToken     string `json:"refresh_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	var extra map[string]any
	decodeErr := json.Unmarshal(body, &tr)
	if decodeErr == nil {
		decodeErr = json.Unmarshal(body, &extra)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || tr.Error != "" {
		return nil, &oauth2.RetrieveError{Response: resp, Body: body, ErrorCode: tr.Error, ErrorDescription: tr.ErrorDescription}
	}
	if decodeErr != nil || tr.AccessToken == "" {
		return nil, &bot.Error{Op: opLogin, Code: "BAD_TOKEN_RESPONSE", Message: "no access_token in the token response"}
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken}
	return tok.WithExtra(extra), nil
}
