package message

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/jhillyerd/enmime/v2"

	"casebot/bot"
)

// DefaultMaxSignatures is AuthOptions.MaxSignatures when it is 0.
const DefaultMaxSignatures = 5

// AuthOptions configure Authenticate.
type AuthOptions struct {
	// TrustedAuthServID is the authserv-id that the receiving server writes into the
	// Authentication-Results header it adds on top of the message; "" trusts no such header.
	TrustedAuthServID string
	// LookupTXT resolves the DNS TXT records of DKIM keys, for several signatures at once;
	// nil uses net.DefaultResolver.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// MaxSignatures bounds the DKIM signatures verified, each a DNS lookup; the rest are
	// ignored. DefaultMaxSignatures when 0.
	MaxSignatures int
}

// Authenticate verifies the DKIM signatures of a raw message and reads the DMARC verdict of
// the receiving server from the topmost Authentication-Results header, when that header bears
// opts.TrustedAuthServID: a sender can write any header below it, and the receiving server
// adds its own on top. Whether the result vouches for the From address is for the caller to
// ask (bot.MailAuth.Aligned).
func Authenticate(ctx context.Context, raw []byte, opts AuthOptions) (auth bot.MailAuth) {
	// A bug must leave one mail unauthenticated, not stop intake.
	defer func() {
		if r := recover(); r != nil {
			auth = bot.MailAuth{Errors: []string{clean(fmt.Sprintf("authentication panicked: %v", r))}}
		}
	}()
	return authenticate(ctx, raw, opts)
}

// authenticate is Authenticate without the recover, for the fuzzer to see panics.
func authenticate(ctx context.Context, raw []byte, opts AuthOptions) (auth bot.MailAuth) {
	auth.DKIM, auth.Errors = verifyDKIM(ctx, raw, opts)
	var err error
	auth.DMARC, auth.DMARCDomain, err = trustedDMARC(raw, opts.TrustedAuthServID)
	if err != nil {
		auth.Errors = append(auth.Errors, clean(err.Error()))
	}
	return auth
}

// verifyDKIM returns the domains of the signatures that verified, lower-cased, once each, and
// why the others did not.
func verifyDKIM(ctx context.Context, raw []byte, opts AuthOptions) (domains, problems []string) {
	lookup := opts.LookupTXT
	if lookup == nil {
		lookup = net.DefaultResolver.LookupTXT
	}
	limit := opts.MaxSignatures
	if limit <= 0 {
		limit = DefaultMaxSignatures
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(withBody(raw)), &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return lookup(ctx, name) },
		MaxVerifications: limit,
	})
	if err != nil {
		problems = append(problems, clean("dkim: "+err.Error()))
	}
	for _, v := range verifs {
		d := strings.ToLower(clean(v.Domain))
		if v.Err != nil {
			problems = append(problems, clean(fmt.Sprintf("dkim d=%s: %v", d, v.Err)))
			continue
		}
		if d != "" && !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	return domains, problems
}

// withBody returns raw with an empty line after its header when it has none (a message
// without a body), which the DKIM verifier needs to find the end of the header; an empty body
// hashes the same either way.
func withBody(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("\n")) || bytes.HasPrefix(raw, []byte("\r\n")) ||
		bytes.Contains(raw, []byte("\n\n")) || bytes.Contains(raw, []byte("\n\r\n")) {
		return raw
	}
	b := append([]byte(nil), raw...)
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// trustedDMARC returns the dmarc result and its header.from of the topmost
// Authentication-Results header, when its authserv-id is trusted.
func trustedDMARC(raw []byte, trusted string) (result, domain string, err error) {
	if trusted == "" {
		return "", "", nil
	}
	h, err := enmime.ReadHeader(bufio.NewReader(bytes.NewReader(raw)), ignoreProblems{})
	if err != nil && len(h) == 0 {
		return "", "", nil // Parse reports an unreadable header
	}
	values := h.Values("Authentication-Results")
	if len(values) == 0 {
		return "", "", nil
	}
	id, results, err := authres.Parse(stripComments(values[0]))
	if !strings.EqualFold(id, trusted) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("authentication-results of %s unreadable: %v", trusted, err)
	}
	for _, r := range results {
		if r, ok := r.(*authres.DMARCResult); ok {
			from := r.From
			from = from[strings.LastIndexByte(from, '@')+1:] // some servers write the address
			return strings.ToLower(clean(string(r.Value))), strings.ToLower(clean(from)), nil
		}
	}
	return "", "", nil
}

// stripComments removes the RFC 5322 comments of a header value: authres does not, and a
// comment holding a ";" ("dkim=pass (2048-bit key; unprotected)") breaks its parsing.
func stripComments(v string) string {
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for _, r := range v {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case quoted:
			quoted = r != '"'
		case r == '"' && depth == 0:
			quoted = true
		case r == '(':
			depth++
			continue
		case r == ')' && depth > 0:
			depth--
			continue
		}
		if depth == 0 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ignoreProblems is an enmime.ErrorCollector for a header already read by Parse, which
// reports its problems.
type ignoreProblems struct{}

func (ignoreProblems) AddError(string, string, ...any)   {}
func (ignoreProblems) AddWarning(string, string, ...any) {}
