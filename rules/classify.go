package rules

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"casebot/bot"
)

// Classification is what the intake rules make of one mail, from the mail alone. What it
// leaves to the caller, which does the I/O: finding the case a reply answers (CaseNumbers,
// then MessageIDs), the account a request names (Rule.Accounts, in order), and then applying
// a reply's fields to its case (ReplyUpdate).
type Classification struct {
	From string // the sender's address, lower-case
	// Authenticated says that the sender's domain is vouched for: an aligned DKIM signature
	// verified, or the trusted server's DMARC check passed.
	Authenticated bool

	// CaseNumbers are the case numbers the subject refers to, in order.
	CaseNumbers []string
	// MessageIDs are the Message-IDs the mail answers: In-Reply-To's, then References' from
	// the newest; the case of a logged EmailMessage with one of them is the case it answers.
	MessageIDs []string

	// Keys are every account key the mail holds, in the order of the file's account:.
	Keys []AccountKey

	// Rule is the request rule that matched, the first in file order; nil when none did or
	// when the mail cannot be taken as a request (see Quarantine).
	Rule *RuleMatch
	// Quarantine says why the mail is no request, when Rule is nil: no rule matches, or the
	// one that does cannot be applied. A mail that answers a known case is kept on it anyway.
	Quarantine string

	// Replies are the reply rules that match, in file order, when the mail is a reply
	// (IsReply). Each applies only to a case of its playbook (ReplyUpdate).
	Replies []ReplyMatch

	// Notes are what people should know: values that could not be read from the mail (the
	// field is left blank, and the playbook's needs: chases it), rules that matched but
	// could not apply.
	Notes []string
}

// IsReply reports whether the mail refers to a case or answers a mail: a case number in its
// subject, or an In-Reply-To or References header.
func (c Classification) IsReply() bool { return len(c.CaseNumbers) > 0 || len(c.MessageIDs) > 0 }

// AccountKey is what a lookup read from a mail: values its Account field may hold.
type AccountKey struct {
	Lookup string // the lookup's name under account:
	Field  string // the Account field's API name
	Values []string
	List   bool // see Lookup.List
}

// Query returns the query that finds the accounts of the key, reading fields.
func (k AccountKey) Query(fields []string) bot.AccountQuery {
	return bot.AccountQuery{Field: k.Field, Values: k.Values, List: k.List, Fields: fields}
}

// RuleMatch is a request rule that matched, and the case it opens.
type RuleMatch struct {
	Rule, Playbook string
	// Case is every field of the new case but AccountId: Origin (Email), Subject,
	// Description (the text), SuppliedEmail and SuppliedName from the mail, and the rule's
	// fields that it could read.
	Case bot.Fields
	// Accounts are the keys of the rule's lookups that the mail holds, in the rule's order:
	// the first that finds exactly one account names the case's account.
	Accounts []AccountKey
	// Acknowledge is the email template that acknowledges the request; "" for none.
	Acknowledge string
	// Senders are the Account fields whose addresses' domains may send the request besides
	// the account's own domains (see MailRule.Senders).
	Senders []FieldRef
}

// ReplyMatch is a reply rule that matched, and the fields it sets.
type ReplyMatch struct {
	Rule, Playbook string
	Case           bot.Fields
	// Senders are the fields of the case or its account holding the addresses whose replies
	// may set Case.
	Senders []FieldRef
}

// Limits on what a mail makes the caller look up.
const (
	maxKeyValues  = 10 // per account lookup
	maxMessageIDs = 20 // the newest of In-Reply-To and References
	maxCaseRefs   = 5
)

// Salesforce's lengths of the Case fields filled from the mail, in characters; the bytes cut
// here are never more.
const (
	subjectMax     = 255
	descriptionMax = 32000
	suppliedMax    = 80
	// textMax bounds a text read by a rule's pattern: a long text area's default length. A
	// pattern for a shorter field bounds its group itself: (.{1,80}).
	textMax = 32000
)

// Classify applies the intake rules to a mail. It does no I/O and is deterministic; a nil
// Intake matches nothing.
func (in *Intake) Classify(m bot.ParsedMail) Classification {
	c := Classification{From: strings.ToLower(strings.TrimSpace(m.From.Address))}
	if in == nil {
		c.Quarantine = "there are no intake rules"
		return c
	}
	domain := m.From.Domain()
	c.Authenticated = m.Auth.Aligned(domain)
	for _, g := range in.CaseReference.FindAllStringSubmatch(m.Subject, maxCaseRefs) {
		if n := strings.TrimSpace(g[1]); n != "" && !slices.Contains(c.CaseNumbers, n) {
			c.CaseNumbers = append(c.CaseNumbers, n)
		}
	}
	c.MessageIDs = threadIDs(m)
	c.Keys = in.keys(m, domain)
	c.request(in, m, domain)
	if c.IsReply() {
		c.replies(in, m, domain)
	}
	return c
}

// threadIDs returns the Message-IDs a mail answers, the nearest first.
func threadIDs(m bot.ParsedMail) []string {
	var ids []string
	add := func(id string) {
		if id = strings.TrimSpace(id); id != "" && len(ids) < maxMessageIDs && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, id := range m.InReplyTo {
		add(id)
	}
	for _, id := range slices.Backward(m.References) {
		add(id)
	}
	return ids
}

// keys reads every lookup's values from the mail.
func (in *Intake) keys(m bot.ParsedMail, domain string) []AccountKey {
	text := m.Subject + "\n" + m.Text
	var keys []AccountKey
	for _, l := range in.Lookups {
		var vals []string
		if l.Pattern == nil {
			vals = domains(domain)
		} else {
			for _, g := range l.Pattern.FindAllStringSubmatch(text, 10*maxKeyValues) {
				v := strings.TrimSpace(g[1])
				if v != "" && utf8.ValidString(v) && !slices.ContainsFunc(vals, func(s string) bool { return strings.EqualFold(s, v) }) {
					vals = append(vals, v)
				}
				if len(vals) == maxKeyValues {
					break
				}
			}
		}
		if len(vals) > 0 {
			keys = append(keys, AccountKey{Lookup: l.Name, Field: l.Field.Name, Values: vals, List: l.List})
		}
	}
	return keys
}

// domains returns a sender's domain and its parents of two labels or more, so that mail from
// eu.acme.example finds the account of acme.example.
func domains(d string) []string {
	labels := strings.Split(d, ".")
	if d == "" || slices.Contains(labels, "") {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(labels); i++ {
		out = append(out, strings.Join(labels[i:], "."))
	}
	if len(out) == 0 {
		out = []string{d}
	}
	return out
}

// request finds the first request rule that matches and what it makes of the mail.
func (c *Classification) request(in *Intake, m bot.ParsedMail, domain string) {
	i := slices.IndexFunc(in.Rules, func(r *MailRule) bool { return r.matches(m, m.Text) })
	if i < 0 {
		c.Quarantine = "no intake rule matches"
		return
	}
	r := in.Rules[i]
	if r.RequireAuth && !c.Authenticated {
		c.Quarantine = fmt.Sprintf("rule %s matches, but %s", r.Name, unauthenticated(m.Auth, domain))
		return
	}
	var accounts []AccountKey
	for _, l := range r.Accounts {
		if k := slices.IndexFunc(c.Keys, func(k AccountKey) bool { return k.Lookup == l.Name }); k >= 0 {
			accounts = append(accounts, c.Keys[k])
		}
	}
	if len(accounts) == 0 {
		names := make([]string, len(r.Accounts))
		for i, l := range r.Accounts {
			names[i] = l.Name
		}
		c.Quarantine = fmt.Sprintf("rule %s matches, but the mail holds no account key (%s)", r.Name, strings.Join(names, ", "))
		return
	}
	fields := mailFields(m)
	c.read(r, m.Subject, m.Text, fields)
	c.Rule = &RuleMatch{Rule: r.Name, Playbook: r.Playbook, Case: fields, Accounts: accounts, Acknowledge: r.Acknowledge,
		Senders: r.Senders}
}

// replies finds the reply rules that match what the sender wrote.
func (c *Classification) replies(in *Intake, m bot.ParsedMail, domain string) {
	own := ownText(m.Text)
	for _, r := range in.Replies {
		if !r.matches(m, own) {
			continue
		}
		if r.RequireAuth && !c.Authenticated {
			c.Notes = append(c.Notes, fmt.Sprintf("reply rule %s matches, but %s: it sets nothing", r.Name, unauthenticated(m.Auth, domain)))
			continue
		}
		fields := bot.Fields{}
		if c.read(r, m.Subject, own, fields); len(fields) > 0 {
			c.Replies = append(c.Replies, ReplyMatch{Rule: r.Name, Playbook: r.Playbook, Case: fields, Senders: r.Senders})
		}
	}
}

// unauthenticated says why a sender's domain is not vouched for.
func unauthenticated(a bot.MailAuth, domain string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the sender's domain %q is not authenticated (DMARC: %s; verified DKIM domains: %s)",
		bot.Printable(domain), orNone(a.DMARC), orNone(strings.Join(a.DKIM, ", ")))
	if len(a.Errors) > 0 {
		b.WriteString(": " + strings.Join(a.Errors, "; "))
	}
	return bot.Truncate(bot.Printable(b.String()), 500, "…")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ReplyUpdate returns the fields the reply sets on case k, a case of playbook: those of the
// matching reply rules of that playbook whose senders include the mail's sender, the first
// rule to set a field winning; and a note for each such rule whose senders do not. k must
// carry the senders' fields (the playbook declares them).
func (c Classification) ReplyUpdate(playbook string, k bot.Case) (bot.Fields, []string) {
	fields := bot.Fields{}
	var notes []string
	for _, r := range c.Replies {
		if r.Playbook != playbook {
			continue
		}
		if !sentBy(c.From, r.Senders, k) {
			names := make([]string, len(r.Senders))
			for i, s := range r.Senders {
				names[i] = s.String()
			}
			notes = append(notes, fmt.Sprintf("reply rule %s matches, but %s is not in %s: it sets nothing",
				r.Rule, bot.Printable(c.From), strings.Join(names, ", ")))
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(r.Case)) {
			if _, set := fields[name]; !set {
				fields[name] = r.Case[name]
			}
		}
	}
	return fields, notes
}

// sentBy reports whether from is one of the addresses the fields hold (several separated by
// ",", ";" or spaces).
func sentBy(from string, senders []FieldRef, k bot.Case) bool {
	if from == "" {
		return false
	}
	for _, ref := range senders {
		var v any
		switch {
		case ref.Object == ObjectCase:
			v = k.Fields[ref.Name]
		case k.Account != nil:
			v = k.Account.Fields[ref.Name]
		}
		s, _ := v.(string)
		for _, a := range bot.ListValues(s) {
			if strings.EqualFold(strings.Trim(a, "<>"), from) {
				return true
			}
		}
	}
	return false
}

// matches reports whether a rule applies to a mail whose text (the reply's own, for a reply
// rule) is body.
func (r *MailRule) matches(m bot.ParsedMail, body string) bool {
	return r.When.test(m, body, false) && !r.Unless.test(m, body, true)
}

// test reports whether all of mm's patterns match (any false), or one does (any true).
func (mm MailMatch) test(m bot.ParsedMail, body string, any bool) bool {
	var to []string
	if mm.To != nil {
		for _, a := range slices.Concat(m.To, m.Cc) {
			to = append(to, strings.ToLower(a.Address))
		}
	}
	for _, t := range []struct {
		re    *regexp.Regexp
		texts []string
	}{{mm.Subject, []string{m.Subject}}, {mm.Body, []string{body}}, {mm.From, []string{strings.ToLower(m.From.Address)}}, {mm.To, to}} {
		if t.re == nil {
			continue
		}
		if hit := slices.ContainsFunc(t.texts, t.re.MatchString); hit == any {
			return any
		}
	}
	return !any
}

// mailFields are the fields of a new case that come from the mail itself.
func mailFields(m bot.ParsedMail) bot.Fields {
	f := bot.Fields{"Origin": "Email"}
	if s := oneLine(m.Subject); s != "" {
		f["Subject"] = bot.Truncate(s, subjectMax, "…")
	}
	if s := cleanText(m.Text); s != "" {
		f["Description"] = bot.Truncate(s, descriptionMax, "…")
	}
	// An address cut short would be someone else's.
	if a := strings.TrimSpace(m.From.Address); a != "" && len(a) <= suppliedMax {
		f["SuppliedEmail"] = bot.Printable(a)
	}
	if s := oneLine(m.From.Name); s != "" {
		f["SuppliedName"] = bot.Truncate(s, suppliedMax, "…")
	}
	return f
}

// oneLine is a header's text on one line, without control characters.
func oneLine(s string) string {
	return bot.Printable(strings.Join(strings.Fields(s), " "))
}

// cleanText is a text with its line ends as "\n", without other control characters but tabs,
// and trimmed.
func cleanText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r != '\n' && r != '\t' && unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// read sets the values of a rule's fields into fields, noting those it cannot read.
func (c *Classification) read(r *MailRule, subject, body string, fields bot.Fields) {
	for _, v := range r.Case {
		val, why := v.read(subject, body, r.DateOrder)
		if why != "" {
			c.Notes = append(c.Notes, fmt.Sprintf("rule %s: %s left blank: %s", r.Name, v.Field, why))
		}
		if val != nil {
			fields[v.Field.Name] = val
		}
	}
}

// read returns a field's value for a mail, nil when it sets none, and why not when the mail
// has a value it cannot read.
func (v *MailValue) read(subject, body string, order DateOrder) (any, string) {
	if v.Pattern == nil {
		return v.Value, ""
	}
	src := body
	if v.In == "subject" {
		src = subject
	}
	g := v.Pattern.FindStringSubmatch(src)
	// A mail that does not say is no problem: the field stays blank, as it would on a case
	// opened by hand, and the playbook's needs: chases it. A mail that says something
	// unreadable is noted.
	switch {
	case g == nil:
		return nil, ""
	case len(g) == 1: // a bool that reads no group: its pattern matched
		return true, ""
	}
	text := g[1]
	if v.Map != nil {
		if val, ok := v.Map[foldText(text)]; ok {
			return val, ""
		}
		return nil, fmt.Sprintf("%q is none of %s", clip(text), strings.Join(slices.Sorted(maps.Keys(v.Map)), ", "))
	}
	switch v.Type {
	case TypeBool:
		switch foldText(text) {
		case "yes", "y", "true", "1", "x":
			return true, ""
		case "no", "n", "false", "0":
			return false, ""
		}
		return nil, fmt.Sprintf("%q is neither yes nor no", clip(text))
	case TypeNumber:
		s := strings.TrimSpace(text)
		if !soqlNumberRE.MatchString(s) {
			return nil, fmt.Sprintf("%q is no number", clip(text))
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f, ""
	case TypeDate:
		t, err := ReadDate(text, order)
		if err != nil {
			return nil, err.Error()
		}
		return t.Format(bot.DateLayout), ""
	}
	s := cleanText(text)
	if s == "" {
		return nil, fmt.Sprintf("%s captured nothing", v.Pattern)
	}
	return bot.Truncate(s, textMax, "…"), ""
}

// Lines where a reply's quoted mail begins: "On … wrote:" (and its translations, on one line
// or wrapped on two), "-----Original Message-----", and Outlook's "From: …" block followed by
// "Sent:", "Date:", "To:" or "Subject:".
var (
	quoteHeaderRE = regexp.MustCompile(`(?i)^(?:on|em|am|le|el)\s.{0,300}\b(?:wrote|escreveu|schrieb|a écrit|escribió)\s*:$`)
	originalRE    = regexp.MustCompile(`(?i)^-{2,}\s*(?:original message|mensagem original|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}$`)
	outlookFromRE = regexp.MustCompile(`(?i)^\*?(?:from|de|von)\*?\s*:\s*\S`)
	outlookNextRE = regexp.MustCompile(`(?i)^\*?(?:sent|date|to|subject|enviado|data|para|assunto|gesendet|datum|an|betreff|envoyé|à|objet)\*?\s*:`)
)

// ownText is what the sender of a reply wrote: the text above the quoted mail, without the
// lines quoted with ">". A reply rule reads only that, so that the words of the mail it
// answers (casebot's own: "accept the terms") never count as the sender's.
func ownText(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var own []string
	for i, line := range lines {
		t := strings.TrimSpace(line)
		next := ""
		if i+1 < len(lines) {
			next = strings.TrimSpace(lines[i+1])
		}
		switch {
		case quoteHeaderRE.MatchString(t), quoteHeaderRE.MatchString(t+" "+next) && !strings.HasPrefix(next, ">") && next != "",
			originalRE.MatchString(t),
			outlookFromRE.MatchString(t) && outlookNextRE.MatchString(next),
			len(t) >= 10 && strings.Trim(t, "_") == "" && outlookFromRE.MatchString(next):
			return strings.Join(own, "\n")
		case strings.HasPrefix(t, ">"):
			continue
		}
		own = append(own, line)
	}
	return strings.Join(own, "\n")
}
