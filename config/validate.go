package config

import (
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"casebot/bot"

	"github.com/robfig/cron/v3"
)

var (
	apiVersionRe = regexp.MustCompile(`^[1-9][0-9]*\.0$`)
	roleNameRe   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fieldNameRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	roleFieldRe  = regexp.MustCompile(`^(Case|Account)(\.[A-Za-z][A-Za-z0-9_]*){1,4}$`)
	channelRe    = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{8,})$`)
)

// validate checks the decoded, resolved config and returns every problem.
func (c *Config) validate(x *index) []*Error {
	v := &validator{x: x}
	c.Salesforce.validate(v)

	switch c.Store.Driver {
	case "sqlite":
		v.required("store.path", c.Store.Path)
		switch {
		case c.Store.DSNFile != "":
			v.errorf("store.dsn_file", `not used with driver "sqlite"`)
		case c.Store.DSN != "":
			v.errorf("store.dsn", `not used with driver "sqlite"`)
		}
	case "postgres":
		v.requiredSecret("store.dsn", c.Store.DSN, c.Store.DSNFile)
		if c.Store.Path != "" {
			v.errorf("store.path", `not used with driver "postgres": it takes store.dsn`)
		}
		if c.Store.Lease < Duration(time.Second) {
			v.errorf("store.lease", "%s is too short: renewals come every third of it; want 1s or more", time.Duration(c.Store.Lease))
		}
	default:
		v.errorf("store.driver", `unknown driver %q; want "sqlite" or "postgres"`, c.Store.Driver)
	}

	if _, err := cron.ParseStandard(c.Schedule); err != nil {
		v.errorf("schedule", "invalid schedule %q: %v", c.Schedule, err)
	}
	for i, p := range c.Playbooks {
		v.required(fmt.Sprintf("playbooks[%d]", i), p)
	}

	names := make([]string, 0, len(c.Roles))
	for name := range c.Roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.Roles[name].validate(v, name)
	}

	for _, name := range slices.Sorted(maps.Keys(c.Endpoints)) {
		c.Endpoints[name].validate(v, name)
	}

	if c.Slack.APIURL != "" {
		if u, err := url.Parse(c.Slack.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("slack.api_url", "want an http or https URL, not %q", c.Slack.APIURL)
		}
	}

	c.Slack.Digest.validate(v)
	c.Slack.validatePresses(v)
	if f := c.Slack.ThreadField; f != "" && !fieldNameRe.MatchString(f) {
		v.errorf("slack.thread_field", "want a Case field's API name such as Slack_Threads__c, not %q", f)
	}

	c.Mail.IMAP.Server.validate(v, "mail.imap")
	if c.Mail.IMAP.Host != "" {
		v.required("mail.imap.username", c.Mail.IMAP.Username)
		v.requiredSecret("mail.imap.password", c.Mail.IMAP.Password, c.Mail.IMAP.PasswordFile)
	}
	if c.Slack.Print && (c.Slack.Token != "" || c.Slack.TokenFile != "") {
		v.errorf("slack.print", "print is for running without Slack: give a token or print, not both")
	}
	if c.Mail.Print && c.Mail.SMTP.Host != "" {
		v.errorf("mail.print", "print is for running without a relay: give mail.smtp or print, not both")
	}
	c.Mail.SMTP.Server.validate(v, "mail.smtp")
	if c.Mail.SMTP.Host != "" {
		if (c.Mail.SMTP.Username == "") != (c.Mail.SMTP.Password == "" && c.Mail.SMTP.PasswordFile == "") {
			v.errorf("mail.smtp", "give both username and password, or neither")
		}
		if v.required("mail.smtp.from", c.Mail.SMTP.From) {
			if _, err := mail.ParseAddress(c.Mail.SMTP.From); err != nil {
				v.errorf("mail.smtp.from", "invalid address %q: %v", c.Mail.SMTP.From, err)
			}
		}
	}

	// Any host is accepted: listening beyond loopback is the operator's decision.
	if _, port, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		v.errorf("http.listen", "want host:port, not %q", c.HTTP.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf("http.listen", "invalid port %q", port)
	}

	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
	return v.errs
}

func (s *Salesforce) validate(v *validator) {
	if v.required("salesforce.login_url", s.LoginURL) {
		u, err := url.Parse(s.LoginURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			v.errorf("salesforce.login_url", "want an https URL such as https://login.salesforce.com, not %q", s.LoginURL)
		case u.Scheme == "http" && !bot.IsLoopback(u.Hostname()):
			v.errorf("salesforce.login_url", "plain http is only allowed to a loopback host; use https")
		}
	}
	if !apiVersionRe.MatchString(s.APIVersion) {
		v.errorf("salesforce.api_version", "want a version such as 62.0, not %q", s.APIVersion)
	}
	v.required("salesforce.client_id", s.ClientID)
	// What each grant needs, and what it must not be given (a value that is ignored is a
	// mistake waiting to happen).
	needs := map[Grant][]string{
		GrantPassword:          {"client_secret", "username", "password"},
		GrantClientCredentials: {"client_secret"},
		GrantJWTBearer:         {"username", "private_key"},
		GrantRefreshToken:      {"refresh_token"},
	}
	want, known := needs[s.Grant]
	if !known {
		v.oneOf("salesforce.grant", string(s.Grant), string(GrantPassword), string(GrantClientCredentials),
			string(GrantJWTBearer), string(GrantRefreshToken))
	}
	given := map[string]bool{
		"client_secret": s.ClientSecret != "" || s.ClientSecretFile != "",
		"username":      s.Username != "",
		"password":      s.Password != "" || s.PasswordFile != "",
		"private_key":   s.PrivateKey != "" || s.PrivateKeyFile != "",
		"refresh_token": s.RefreshToken != "" || s.RefreshTokenFile != "",
		"jwt_audience":  s.JWTAudience != "",
	}
	for _, f := range []string{"client_secret", "username", "password", "private_key", "refresh_token", "jwt_audience"} {
		switch {
		case !known:
		case slices.Contains(want, f) && !given[f]:
			v.errorf("salesforce."+f, "required with grant %s", s.Grant)
		case !slices.Contains(want, f) && given[f] && !(f == "client_secret" && s.Grant == GrantRefreshToken) &&
			!(f == "jwt_audience" && s.Grant == GrantJWTBearer):
			v.errorf("salesforce."+f, "not used with grant %s", s.Grant)
		}
	}
	if s.Timeout <= 0 {
		v.errorf("salesforce.timeout", "must be more than 0, not %s", s.Timeout)
	}
}

func (d Digest) validate(v *validator) {
	if _, given := v.x.lookup("slack.digest"); given && v.required("slack.digest.schedule", d.Schedule) {
		if _, err := cron.ParseStandard(d.Schedule); err != nil {
			v.errorf("slack.digest.schedule", "invalid schedule %q: %v", d.Schedule, err)
		}
	}
	if d.Days < 1 || d.Days > 30 {
		v.errorf("slack.digest.days", "want 1 to 30 business days, not %d", d.Days)
	}
	if d.Lines < 1 {
		v.errorf("slack.digest.lines", "want 1 or more, not %d", d.Lines)
	}
	if _, err := time.LoadLocation(d.Zone); err != nil || d.Zone == "" || d.Zone == "Local" {
		v.errorf("slack.digest.zone", "want a time zone name such as Europe/Berlin, not %q", d.Zone)
	}
}

func (r Role) validate(v *validator, name string) {
	path := "roles." + name
	if !roleNameRe.MatchString(name) {
		v.keyErrorf(path, "role names are lowercase letters, digits and _, starting with a letter")
	}
	if r.User == "" && r.Queue == "" && r.Slack == "" && len(r.Email) == 0 && r.Field == "" {
		v.errorf(path, "give at least one of user, queue, slack, email, field")
	}
	if r.Field != "" && !roleFieldRe.MatchString(r.Field) {
		v.errorf(path+".field", "want a field of the case or its account, such as Account.Owner.Email, not %q", r.Field)
	}
	if r.User != "" && !bot.IsRecordID(r.User, "005") && !strings.Contains(r.User, "@") {
		v.errorf(path+".user", "want a Salesforce username (user@example.com) or user id (005…), not %q", r.User)
	}
	if r.Slack != "" && !channelRe.MatchString(r.Slack) {
		v.errorf(path+".slack", "want a channel such as #legal or a channel id, not %q", r.Slack)
	}
	for i, addr := range r.Email {
		if _, err := mail.ParseAddress(addr); err != nil {
			v.errorf(fmt.Sprintf("%s.email[%d]", path, i), "invalid address %q: %v", addr, err)
		}
	}
}

func (e Endpoint) validate(v *validator, name string) {
	path := "endpoints." + name
	if !roleNameRe.MatchString(name) {
		v.keyErrorf(path, "endpoint names are lowercase letters, digits and _, starting with a letter")
	}
	if v.required(path+".url", e.URL) {
		u, err := url.Parse(e.URL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			v.errorf(path+".url", "want an https URL, not %q", e.URL)
		case u.Scheme == "http" && !bot.IsLoopback(u.Hostname()):
			v.errorf(path+".url", "plain http is only allowed to a loopback host; use https")
		}
	}
	if e.Timeout < 0 {
		v.errorf(path+".timeout", "must not be negative (0 means 30s), not %s", e.Timeout)
	}
}

// validate checks what IMAP and SMTP share. A section left out of the file is not used; one
// that is there needs a host.
func (s Server) validate(v *validator, path string) {
	if s.Host == "" {
		if _, given := v.x.lookup(path); given {
			v.errorf(path+".host", "required")
		}
		return
	}
	if v.oneOf(path+".tls", string(s.TLS), string(TLSImplicit), string(TLSStartTLS), string(TLSNone)) &&
		s.TLS == TLSNone && !bot.IsLoopback(s.Host) {
		v.errorf(path+".tls", "none is only allowed to a loopback host; use tls or starttls")
	}
	if s.Port < 0 || s.Port > 65535 {
		v.errorf(path+".port", "invalid port %d", s.Port)
	}
}

// validator collects errors with the positions of the values they are about.
type validator struct {
	x    *index
	errs []*Error
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, v.x.errorf(path, format, args...))
}

func (v *validator) keyErrorf(path, format string, args ...any) {
	v.errs = append(v.errs, v.x.keyErrorf(path, format, args...))
}

// required reports an empty value and says whether the value is there.
func (v *validator) required(path, value string) bool {
	if value == "" {
		v.errorf(path, "required")
		return false
	}
	return true
}

// requiredSecret is required for a secret that may come from a file: a file that could not be
// read has been reported already.
func (v *validator) requiredSecret(path string, s Secret, file string) {
	if file == "" {
		v.required(path, s.Value())
	}
}

// oneOf reports a value outside allowed and says whether the value is allowed.
func (v *validator) oneOf(path, value string, allowed ...string) bool {
	if slices.Contains(allowed, value) {
		return true
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	v.errorf(path, "want one of %s, not %q", strings.Join(quoted, ", "), value)
	return false
}
