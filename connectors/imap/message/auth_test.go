package message

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// dns is a fake resolver for DKIM keys: name → TXT record.
type dns map[string]string

func (d dns) LookupTXT(_ context.Context, name string) ([]string, error) {
	if txt, ok := d[name]; ok {
		return []string{txt}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// signer is a DKIM key of a domain, with its DNS record.
type signer struct {
	domain, selector string
	key              crypto.Signer
}

func (s signer) publish(d dns) {
	var rec string
	switch pub := s.key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			panic(err)
		}
		rec = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		rec = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	d[s.selector+"._domainkey."+s.domain] = rec
}

func (s signer) sign(t testing.TB, msg string) string {
	t.Helper()
	var b bytes.Buffer
	err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: s.domain, Selector: s.selector, Signer: s.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func ed25519Key() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

const headerOnly = "From: Customer IT <it@customer.example>\r\n" +
	"To: terminations@provider.example\r\n" +
	"Subject: Termination of contract 4711\r\n" +
	"Date: Tue, 14 Jan 2025 09:11:58 +0100\r\n" +
	"Message-ID: <dkim-1@customer.example>\r\n"

const unsigned = headerOnly + "\r\n" +
	"We terminate contract 4711 with effect from 31 March 2025.\r\n"

func TestAuthenticateDKIM(t *testing.T) {
	customerRSA := signer{"customer.example", "s2025", rsaKey()}
	customerEd := signer{"Customer.Example", "ed", ed25519Key()}
	other := signer{"bulk-sender.example", "k1", ed25519Key()}
	sub := signer{"mail.customer.example", "s1", ed25519Key()}
	unpublished := signer{"customer.example", "gone", ed25519Key()}
	d := dns{}
	for _, s := range []signer{customerRSA, customerEd, other, sub} {
		s.publish(d)
	}
	tamper := func(m string) string {
		return strings.Replace(m, "31 March 2025", "31 March 2024", 1)
	}
	for _, tc := range []struct {
		name    string
		msg     string
		domains []string
		errors  int  // how many entries in Errors
		aligned bool // with customer.example
	}{
		{name: "unsigned", msg: unsigned},
		{name: "rsa", msg: customerRSA.sign(t, unsigned), domains: []string{"customer.example"}, aligned: true},
		{name: "ed25519, domain lower-cased", msg: customerEd.sign(t, unsigned), domains: []string{"customer.example"}, aligned: true},
		{name: "tampered body", msg: tamper(customerRSA.sign(t, unsigned)), errors: 1},
		{name: "tampered header", msg: strings.Replace(customerRSA.sign(t, unsigned), "contract 4711", "contract 4712", 1), errors: 1},
		{name: "another domain", msg: other.sign(t, unsigned), domains: []string{"bulk-sender.example"}},
		{name: "a subdomain", msg: sub.sign(t, unsigned), domains: []string{"mail.customer.example"}, aligned: true},
		{name: "both", msg: other.sign(t, customerRSA.sign(t, unsigned)), domains: []string{"bulk-sender.example", "customer.example"}, aligned: true},
		{name: "same domain twice", msg: customerEd.sign(t, customerRSA.sign(t, unsigned)), domains: []string{"customer.example"}, aligned: true},
		{name: "one good, one tampered", msg: other.sign(t, tamper(customerRSA.sign(t, unsigned))), domains: []string{"bulk-sender.example"}, errors: 1},
		{name: "key not in DNS", msg: unpublished.sign(t, unsigned), errors: 1},
		{name: "malformed signature", msg: "DKIM-Signature: v=1; d=customer.example; nonsense\r\n" + unsigned, errors: 1},
		// The header alone, without the empty line that would begin a body.
		{name: "no body", msg: strings.TrimSuffix(customerEd.sign(t, headerOnly+"\r\n"), "\r\n"), domains: []string{"customer.example"}, aligned: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := Authenticate(t.Context(), []byte(tc.msg), AuthOptions{LookupTXT: d.LookupTXT})
			slices.Sort(auth.DKIM)
			if !slices.Equal(auth.DKIM, tc.domains) {
				t.Errorf("DKIM = %q, want %q", auth.DKIM, tc.domains)
			}
			if len(auth.Errors) != tc.errors {
				t.Errorf("Errors = %q, want %d", auth.Errors, tc.errors)
			}
			if got := auth.Aligned("customer.example"); got != tc.aligned {
				t.Errorf("Aligned(customer.example) = %v, want %v", got, tc.aligned)
			}
			if auth.DMARC != "" {
				t.Errorf("DMARC = %q without a trusted Authentication-Results", auth.DMARC)
			}
		})
	}
}

func TestAuthenticateTooManySignatures(t *testing.T) {
	d := dns{}
	msg := unsigned
	for _, sel := range []string{"a", "b", "c"} {
		s := signer{"customer.example", sel, ed25519Key()}
		s.publish(d)
		msg = s.sign(t, msg)
	}
	var lookups atomic.Int32 // the signatures are verified in parallel
	lookup := func(ctx context.Context, name string) ([]string, error) {
		lookups.Add(1)
		return d.LookupTXT(ctx, name)
	}
	auth := Authenticate(t.Context(), []byte(msg), AuthOptions{LookupTXT: lookup, MaxSignatures: 2})
	if lookups := lookups.Load(); lookups != 2 || !slices.Equal(auth.DKIM, []string{"customer.example"}) || len(auth.Errors) != 1 {
		t.Errorf("%d lookups, DKIM %q, Errors %q; want 2, the domain, and too many signatures", lookups, auth.DKIM, auth.Errors)
	}
}

func TestAuthenticateResults(t *testing.T) {
	const ours = "mx.provider.example"
	ar := func(id, results string) string {
		return "Authentication-Results: " + id + "; " + results + "\r\n"
	}
	for _, tc := range []struct {
		name          string
		headers       string // above unsigned
		trusted       string
		dmarc, domain string
		aligned       bool
		errors        int
	}{
		{name: "trusted pass", trusted: ours,
			headers: ar(ours, "spf=pass smtp.mailfrom=customer.example; dkim=pass header.d=customer.example; dmarc=pass (p=reject dis=none) header.from=customer.example"),
			dmarc:   "pass", domain: "customer.example", aligned: true},
		{name: "trusted fail", trusted: ours,
			headers: ar(ours, "dmarc=fail (p=none) header.from=customer.example"),
			dmarc:   "fail", domain: "customer.example"},
		{name: "authserv-id in other case", trusted: ours,
			headers: ar("MX.Provider.Example", "dmarc=PASS header.from=Customer.Example"),
			dmarc:   "pass", domain: "customer.example", aligned: true},
		{name: "with a version and comments holding semicolons", trusted: ours,
			headers: ar(ours+" 1", "dkim=pass (2048-bit key; unprotected) header.d=customer.example header.i=@customer.example; dmarc=pass (policy=reject; \"quoted ) paren\") header.from=customer.example"),
			dmarc:   "pass", domain: "customer.example", aligned: true},
		{name: "header.from as an address", trusted: ours,
			headers: ar(ours, "dmarc=pass header.from=it@customer.example"),
			dmarc:   "pass", domain: "customer.example", aligned: true},
		{name: "another authserv-id", trusted: ours,
			headers: ar("mx.customer.example", "dmarc=pass header.from=customer.example")},
		{name: "nothing trusted", trusted: "",
			headers: ar(ours, "dmarc=pass header.from=customer.example")},
		{name: "trusted header not topmost", trusted: ours,
			headers: ar("relay.example", "dmarc=none header.from=customer.example") + ar(ours, "dmarc=pass header.from=customer.example")},
		{name: "forged below the trusted one", trusted: ours,
			headers: ar(ours, "dmarc=fail header.from=customer.example") + "Received: from attacker\r\n" + ar(ours, "dmarc=pass header.from=customer.example"),
			dmarc:   "fail", domain: "customer.example"},
		{name: "trusted without dmarc", trusted: ours,
			headers: ar(ours, "spf=pass smtp.mailfrom=customer.example") + ar(ours, "dmarc=pass header.from=customer.example")},
		{name: "trusted but unreadable", trusted: ours,
			headers: ar(ours, "dmarc pass header.from=customer.example"), errors: 1},
		{name: "unknown version", trusted: ours,
			headers: "Authentication-Results: " + ours + " 2; dmarc=pass header.from=customer.example\r\n"},
		{name: "trusted pass for another domain", trusted: ours,
			headers: ar(ours, "dmarc=pass header.from=attacker.example"),
			dmarc:   "pass", domain: "attacker.example"},
		{name: "folded", trusted: ours,
			headers: "Authentication-Results: " + ours + ";\r\n\tdmarc=pass\r\n\theader.from=customer.example\r\n",
			dmarc:   "pass", domain: "customer.example", aligned: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := Authenticate(t.Context(), []byte(tc.headers+unsigned), AuthOptions{TrustedAuthServID: tc.trusted, LookupTXT: dns{}.LookupTXT})
			if auth.DMARC != tc.dmarc || auth.DMARCDomain != tc.domain {
				t.Errorf("DMARC %q for %q, want %q for %q", auth.DMARC, auth.DMARCDomain, tc.dmarc, tc.domain)
			}
			if got := auth.Aligned("customer.example"); got != tc.aligned {
				t.Errorf("Aligned(customer.example) = %v, want %v", got, tc.aligned)
			}
			if len(auth.Errors) != tc.errors {
				t.Errorf("Errors = %q, want %d", auth.Errors, tc.errors)
			}
		})
	}
}

func TestStripComments(t *testing.T) {
	for in, want := range map[string]string{
		"a (b) c":                   "a  c",
		"a (b (c) d) e":             "a  e",
		`a (b \) c) d`:              "a  d",
		`a "(b)" c`:                 `a "(b)" c`,
		`a "x \" (y)" (z)`:          `a "x \" (y)" `,
		"unclosed (comment; x=y":    "unclosed ",
		"stray ) paren; dmarc=pass": "stray ) paren; dmarc=pass",
	} {
		if got := stripComments(in); got != want {
			t.Errorf("stripComments(%q) = %q, want %q", in, got, want)
		}
	}
}
