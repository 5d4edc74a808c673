package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxAssertionLife is how far ahead a JWT bearer assertion may expire: Salesforce asks for an
// exp within 3 minutes.
const maxAssertionLife = 3 * time.Minute

// loginAudiences are the audiences a JWT bearer assertion may name besides the sandbox's own
// URL: production and sandbox login hosts.
var loginAudiences = []string{"https://login.salesforce.com", "https://test.salesforce.com"}

// parseCertificate reads the connected app's certificate: PEM, with an RSA key (RS256).
func parseCertificate(pemBytes []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("the certificate's key is %T, want RSA for RS256", cert.PublicKey)
	}
	return cert, nil
}

// jwtGrant checks a JWT bearer assertion, in the order and with the errors Salesforce gives:
// the consumer key (iss), the signature against the connected app's certificate, the expiry,
// the audience, then the user (sub).
func (s *Server) jwtGrant(assertion, ownURL string) (string, *oauthError) {
	invalid := &oauthError{"invalid_grant", "invalid assertion"}
	if s.cert == nil || assertion == "" {
		return "", invalid
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithTimeFunc(s.opts.Now), jwt.WithExpirationRequired())
	var claims jwt.RegisteredClaims
	if _, _, err := parser.ParseUnverified(assertion, &claims); err != nil {
		return "", invalid
	}
	if !secretEqual(claims.Issuer, s.opts.ClientID) {
		return "", &oauthError{"invalid_client_id", "client identifier invalid"}
	}
	_, err := parser.ParseWithClaims(assertion, &claims, func(*jwt.Token) (any, error) { return s.cert.PublicKey, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "", &oauthError{"invalid_grant", "expired authorization code"}
	case err != nil, claims.ExpiresAt.After(s.opts.Now().Add(maxAssertionLife)):
		return "", invalid
	}
	if !slices.ContainsFunc(claims.Audience, func(aud string) bool {
		return aud == ownURL || slices.Contains(loginAudiences, aud)
	}) {
		return "", &oauthError{"invalid_grant", "audience is invalid"}
	}
	user := s.apiUser(claims.Subject)
	if user == "" {
		return "", &oauthError{"invalid_grant", "user hasn't approved this consumer"}
	}
	return user, nil
}
