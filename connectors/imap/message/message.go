// Package message reads inbound mail: Parse makes a bot.ParsedMail of a raw message, and
// Authenticate says what vouches for its sender (DKIM signatures, the receiving server's DMARC
// verdict). Both take any bytes: what cannot be read is an error for Parse (the caller
// quarantines the mail with it) and an entry in MailAuth.Errors for Authenticate.
package message

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"

	"casebot/bot"
)

// The defaults of Options.
const (
	DefaultMaxSize            = 25 << 20
	DefaultMaxAttachments     = 100
	DefaultMaxAttachmentBytes = 25 << 20
	DefaultMaxParts           = 250
	DefaultMaxMultiparts      = 16
)

// maxProblems bounds ParsedMail.Problems: a mangled message can yield one per line.
const maxProblems = 20

// The errors of Parse, for errors.Is; each says why the mail is quarantined.
var (
	ErrTooLarge            = errors.New("message too large")
	ErrTooManyAttachments  = errors.New("too many attachments")
	ErrTooManyParts        = errors.New("too many MIME parts")
	ErrNoFrom              = errors.New("no From address")
	ErrAmbiguousFrom       = errors.New("more than one From header")
	ErrUnreadable          = errors.New("unreadable message")
	errAttachmentsTooLarge = fmt.Errorf("attachments too large: %w", ErrTooLarge)
)

// Options configure Parse; a zero field takes its default.
type Options struct {
	MaxSize            int64 // bytes of the raw message; DefaultMaxSize when 0
	MaxAttachments     int   // DefaultMaxAttachments when 0
	MaxAttachmentBytes int64 // all attachments together, decoded; DefaultMaxAttachmentBytes when 0
	// MaxParts bounds the MIME parts, counted before parsing as the lines that begin with "--"
	// (as a part's delimiter does): enmime's work grows with the square of their number.
	// DefaultMaxParts when 0.
	MaxParts int
	// MaxMultiparts bounds the multipart containers: enmime's work grows exponentially with
	// the nesting of unclosed ones, and real mail has a handful. DefaultMaxMultiparts when 0.
	MaxMultiparts int
}

func (o Options) withDefaults() Options {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxAttachments <= 0 {
		o.MaxAttachments = DefaultMaxAttachments
	}
	if o.MaxAttachmentBytes <= 0 {
		o.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if o.MaxParts <= 0 {
		o.MaxParts = DefaultMaxParts
	}
	if o.MaxMultiparts <= 0 {
		o.MaxMultiparts = DefaultMaxMultiparts
	}
	return o
}

// Parse reads a raw message (RFC 5322, MIME). What the parser tolerated is listed in
// Problems; an error means the message cannot be handled as a mail at all: above a cap, no
// From address, more than one From header (which one DKIM and DMARC vouch for is then
// unclear), or unparseable. ParsedMail.Auth is left empty: see Authenticate.
func Parse(raw []byte, opts Options) (pm bot.ParsedMail, err error) {
	// A parser bug must quarantine one mail, not stop intake.
	defer func() {
		if r := recover(); r != nil {
			pm, err = bot.ParsedMail{}, fmt.Errorf("%w: parser panicked: %v", ErrUnreadable, r)
		}
	}()
	return parse(raw, opts)
}

// parse is Parse without the recover, for the fuzzer to see panics.
func parse(raw []byte, opts Options) (bot.ParsedMail, error) {
	opts = opts.withDefaults()
	if int64(len(raw)) > opts.MaxSize {
		return bot.ParsedMail{}, fmt.Errorf("%w: %d bytes, the cap is %d", ErrTooLarge, len(raw), opts.MaxSize)
	}
	if n := dashLines(raw); n > opts.MaxParts {
		return bot.ParsedMail{}, fmt.Errorf("%w: about %d, the cap is %d", ErrTooManyParts, n, opts.MaxParts)
	}
	mt := &mediaTypes{max: opts.MaxMultiparts, boundaries: map[string]bool{}}
	parser := enmime.NewParser(
		enmime.MaxStoredPartErrors(maxProblems),
		enmime.SetCustomParseMediaType(mt.parse),
		// enmime guesses a text's charset and prefers its guess to the declared one when
		// confident, which turned valid UTF-8 into mojibake (the fuzzer found it): trust the
		// declaration, and guess only where there is none.
		enmime.DisableCharacterDetection(true),
	)
	env, err := parser.ReadEnvelope(bytes.NewReader(raw))
	if mt.over {
		return bot.ParsedMail{}, fmt.Errorf("%w: more than %d multiparts", ErrTooManyParts, opts.MaxMultiparts)
	}
	if err != nil {
		return bot.ParsedMail{}, fmt.Errorf("%w: %s", ErrUnreadable, clean(err.Error()))
	}
	p := &parsed{env: env}
	if err := p.from(); err != nil {
		return bot.ParsedMail{}, err
	}
	p.mail.ReplyTo = p.addresses("Reply-To")
	p.mail.To = p.addresses("To")
	p.mail.Cc = p.addresses("Cc")
	p.mail.MessageID = first(messageIDs(p.header("Message-ID")))
	p.mail.InReplyTo = messageIDs(p.header("In-Reply-To"))
	p.mail.References = messageIDs(p.header("References"))
	p.mail.Subject = strings.TrimSpace(clean(env.GetHeader("Subject")))
	if p.header("Date") != "" {
		if d, err := env.Date(); err == nil {
			p.mail.Date = d
		} else {
			p.problem("Date header unreadable: " + err.Error())
		}
	}
	// Intake rules match lines: one line ending, whatever the sender's.
	p.mail.Text = lineEnds.Replace(clean(env.Text))
	if err := p.attachments(opts); err != nil {
		return bot.ParsedMail{}, err
	}
	for _, e := range env.Errors {
		// Every HTML-only mail carries this warning: it is how the text was made, no fault.
		if e.Name == enmime.ErrorPlainTextFromHTML && !e.Severe {
			continue
		}
		p.problem(e.Error())
	}
	return p.mail, nil
}

// lineEnds makes "\n" of every line end, CRLF or a lone CR.
var lineEnds = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// parsed is a ParsedMail being filled from an envelope.
type parsed struct {
	env     *enmime.Envelope
	mail    bot.ParsedMail
	dropped int // problems beyond maxProblems
}

func (p *parsed) problem(s string) {
	if len(p.mail.Problems) >= maxProblems {
		p.dropped++
		if p.dropped == 1 {
			p.mail.Problems = append(p.mail.Problems, "… and more problems")
		}
		return
	}
	p.mail.Problems = append(p.mail.Problems, clean(s))
}

// header is the first value of a header field, as it stands (no encoded words decoded).
func (p *parsed) header(name string) string {
	if p.env.Root == nil {
		return ""
	}
	return p.env.Root.Header.Get(name)
}

func (p *parsed) from() error {
	if n := len(p.env.Root.Header.Values("From")); n > 1 {
		return fmt.Errorf("%w: %d of them", ErrAmbiguousFrom, n)
	}
	v := p.header("From")
	list, err := p.env.AddressList("From")
	if err != nil || len(list) == 0 || !(&addressScan{v: clean(v)}).literal(address(list[0]).Address) {
		// A sender address is all intake needs: take it from a header net/mail refuses.
		a, ok := looseAddress(v)
		if !ok {
			return fmt.Errorf("%w: %q", ErrNoFrom, clean(v))
		}
		p.problem(fmt.Sprintf("From header %q unreadable, took %q", v, a.Address))
		p.mail.From = a
		return nil
	}
	if len(list) > 1 {
		p.problem(fmt.Sprintf("From header has %d addresses, took the first", len(list)))
	}
	p.mail.From = address(list[0])
	return nil
}

func (p *parsed) addresses(name string) []bot.Address {
	v := p.header(name)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	list, err := p.env.AddressList(name)
	if err != nil {
		if !errors.Is(err, mail.ErrHeaderNotPresent) {
			p.problem(fmt.Sprintf("%s header unreadable: %v", name, err))
		}
		return nil
	}
	var as []bot.Address
	h := &addressScan{v: clean(v)}
	for _, a := range list {
		if a := address(a); h.literal(a.Address) {
			as = append(as, a)
		} else {
			p.problem(fmt.Sprintf("%s address %q dropped", name, a.Address))
		}
	}
	return as
}

func address(a *mail.Address) bot.Address {
	return bot.Address{Name: strings.TrimSpace(clean(a.Name)), Address: strings.TrimSpace(clean(a.Address))}
}

// addressScan finds the addresses a parser read from a header in the header, in order: enmime
// decodes encoded words in addresses too, where RFC 2047 allows none, and
// "=?utf-8?q?ceo?=@customer.example" is not ceo@customer.example.
type addressScan struct {
	v  string
	at int // where the address before ended
}

// literal reports whether a is a plausible address that stands as it is, as a whole, in the
// header after the address before.
func (h *addressScan) literal(a string) bool {
	if !plausible(a) {
		return false
	}
	const delims = " \t<>,:;()"
	for i := h.at; ; {
		j := strings.Index(h.v[i:], a)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(a)
		if (j == 0 || strings.IndexByte(delims, h.v[j-1]) >= 0) && (end == len(h.v) || strings.IndexByte(delims, h.v[end]) >= 0) {
			h.at = end
			return true
		}
		i = j + 1
	}
}

// looseAddress finds an address in a From header that net/mail cannot parse: the last
// "<…@…>", else the last word with an "@".
func looseAddress(v string) (bot.Address, bool) {
	v = clean(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			if a := strings.TrimSpace(v[i+1 : i+j]); plausible(a) {
				name := strings.TrimFunc(v[:i], func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
				return bot.Address{Name: name, Address: a}, true
			}
		}
	}
	words := strings.FieldsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`<>,;"()`, r) })
	for i := len(words) - 1; i >= 0; i-- {
		if plausible(words[i]) {
			return bot.Address{Address: words[i]}, true
		}
	}
	return bot.Address{}, false
}

// plausible reports whether a is local@domain, both dot-atoms (RFC 5322: nothing that needs
// quoting): intake matches plain addresses, and a stranger one is more likely a misreading.
func plausible(a string) bool {
	local, domain, ok := strings.Cut(a, "@")
	return ok && dotAtom(local) && dotAtom(domain)
}

func dotAtom(s string) bool {
	return s != "" && s[0] != '.' && s[len(s)-1] != '.' && !strings.Contains(s, "..") &&
		!strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError || strings.ContainsRune(`@<>"(),;:\[]`, r)
		})
}

// attachments collects the files of the message in the order they stand: the parts marked as
// attachments, the inline ones (pictures, and files some mailers mark inline), and the other
// non-text parts, which are files sent without a Content-Disposition; not the body's own text
// and HTML.
func (p *parsed) attachments(opts Options) error {
	files := map[*enmime.Part]bool{}
	for _, list := range [][]*enmime.Part{p.env.Attachments, p.env.Inlines, p.env.OtherParts} {
		for _, part := range list {
			// A part with a boundary that was read as a multipart holds parts, not a file.
			container := part.Boundary != "" && part.Content == nil
			files[part] = !body(part) && !container
		}
	}
	var total int64
	for _, part := range p.env.Root.DepthMatchAll(func(part *enmime.Part) bool { return files[part] }) {
		if len(p.mail.Attachments) == opts.MaxAttachments {
			return fmt.Errorf("%w: more than %d", ErrTooManyAttachments, opts.MaxAttachments)
		}
		if total += int64(len(part.Content)); total > opts.MaxAttachmentBytes {
			return fmt.Errorf("%w: more than %d bytes", errAttachmentsTooLarge, opts.MaxAttachmentBytes)
		}
		ct := part.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		p.mail.Attachments = append(p.mail.Attachments, bot.Attachment{
			Name:        fileName(part),
			ContentType: clean(ct),
			Data:        part.Content,
		})
	}
	return nil
}

// body reports whether part is the text or HTML of the message rather than a file.
func body(part *enmime.Part) bool {
	return (part.ContentType == "text/plain" || part.ContentType == "text/html") &&
		part.Disposition != "attachment" && part.FileName == ""
}

// fileName is the base name of part's file name: the name may be used as a path where the
// file is stored, so no directories, no control characters. A part without one is named after
// its place in the message.
func fileName(part *enmime.Part) string {
	n := clean(part.FileName)
	n = n[strings.LastIndexAny(n, `/\`)+1:]
	n = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, n))
	if n == "" || n == "." || n == ".." {
		return "part-" + path.Clean(clean(part.PartID))
	}
	return n
}

// messageIDs returns the message ids of a Message-ID, In-Reply-To or References header,
// "<…>" each, in order. Folding whitespace inside an id is dropped; a header without any
// "<" (some mailers omit them) gives its words that hold an "@".
func messageIDs(v string) []string {
	v = clean(v)
	var ids []string
	if strings.ContainsRune(v, '<') {
		var id strings.Builder
		open := false
		for _, r := range v {
			switch {
			case r == '<':
				open = true
				id.Reset()
			case r == '>':
				if open && id.Len() > 0 {
					ids = append(ids, "<"+id.String()+">")
				}
				open = false
			case open && !unicode.IsSpace(r) && !unicode.IsControl(r):
				id.WriteRune(r)
			}
		}
		return ids
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || r == ',' }) {
		if strings.ContainsRune(w, '@') && !strings.ContainsFunc(w, func(r rune) bool { return r == '>' || unicode.IsControl(r) }) {
			ids = append(ids, "<"+w+">")
		}
	}
	return ids
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// clean makes s valid UTF-8, as every text of a ParsedMail must be.
func clean(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

// mediaTypes parses media types for enmime as it does itself, but lets through no more than
// max multipart boundaries: counting them in the raw message would miss those enmime finds in
// encoded words.
type mediaTypes struct {
	max        int
	boundaries map[string]bool
	over       bool // a boundary beyond max was dropped
}

func (m *mediaTypes) parse(ctype string) (string, map[string]string, []string, error) {
	mtype, params, invalid, err := mediatype.Parse(ctype)
	if b, ok := params["boundary"]; ok && !m.boundaries[b] {
		if len(m.boundaries) < m.max {
			m.boundaries[b] = true
		} else {
			// Read as data: the mail is refused anyway, and must be so quickly.
			m.over = true
			delete(params, "boundary")
			mtype = "application/octet-stream"
		}
	}
	return mtype, params, invalid, err
}

// dashLines counts the lines that begin with "--".
func dashLines(b []byte) int {
	n := bytes.Count(b, []byte("\n--"))
	if bytes.HasPrefix(b, []byte("--")) {
		n++
	}
	return n
}
