// Package config is casebot's daemon configuration: its schema, defaults, loader and the
// example shipped with it.
//
// Parsing is strict and reports every problem at once as file:line:col. Unknown keys are
// errors (the decoder runs with KnownFields); positions come from a yaml.Node tree parsed
// alongside, because a struct with its own UnmarshalYAML would silently lose KnownFields.
// Secrets may be given inline, as ${ENV_VAR} references, or as <name>_file paths, and print
// as "<secret>". Relative paths are relative to the config file's directory.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the daemon's configuration.
type Config struct {
	Salesforce Salesforce `yaml:"salesforce"`
	Store      Store      `yaml:"store"`
	// Schedule is when a reconcile cycle runs, as a robfig/cron spec ("*/5 * * * *",
	// "@every 1m").
	Schedule string `yaml:"schedule"`
	// Playbooks are playbook files or directories; empty means the shipped playbooks.
	Playbooks []string `yaml:"playbooks"`
	// Roles are the names playbooks use for people and teams.
	Roles map[string]Role `yaml:"roles"`
	// Endpoints are the HTTP services playbooks call by name (tenant deactivation, support).
	Endpoints map[string]Endpoint `yaml:"endpoints"`
	Slack     Slack               `yaml:"slack"`
	Mail      Mail                `yaml:"mail"`
	HTTP      HTTP                `yaml:"http"`
	Log       Log                 `yaml:"log"`
}

// Grant is a Salesforce OAuth 2.0 flow.
type Grant string

const (
	GrantPassword          Grant = "password"
	GrantClientCredentials Grant = "client_credentials"
	GrantJWTBearer         Grant = "jwt_bearer"    // a certificate's private key signs the login
	GrantRefreshToken      Grant = "refresh_token" // a refresh token issued to the connected app
)

// Salesforce is how casebot reaches and logs in to the org.
type Salesforce struct {
	LoginURL         string   `yaml:"login_url"` // https://login.salesforce.com, or My Domain
	APIVersion       string   `yaml:"api_version"`
	Grant            Grant    `yaml:"grant"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     Secret   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Username         string   `yaml:"username"` // password grant only
	Password         Secret   `yaml:"password"` // password grant only, with the security token appended
	PasswordFile     string   `yaml:"password_file"`
	PrivateKey       Secret   `yaml:"private_key"` // jwt_bearer: the PEM RSA key of the connected app's certificate
	PrivateKeyFile   string   `yaml:"private_key_file"`
	JWTAudience      string   `yaml:"jwt_audience"` // jwt_bearer: overrides the aud derived from login_url
	RefreshToken     Secret   `yaml:"refresh_token"`
	RefreshTokenFile string   `yaml:"refresh_token_file"`
	Timeout          Duration `yaml:"timeout"` // per HTTP request
}

// Store is the ledger database.
type Store struct {
	Driver string `yaml:"driver"` // "sqlite" or "postgres"
	Path   string `yaml:"path"`   // sqlite: the file, or ":memory:"
	// DSN is postgres's connection string (postgres://user:password@host/db, or libpq's
	// key=value pairs): a secret, since it may hold the password.
	DSN     Secret `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	// Lease bounds a takeover (postgres): a replica that stops renewing the lease loses it
	// this long after its last renewal, and another acts.
	Lease Duration `yaml:"lease"`
}

// Where says where the ledger is, for messages: "at" its file, or "in" the PostgreSQL database
// (not shown: the DSN may hold a password).
func (s Store) Where() string {
	if s.Driver == "postgres" {
		return "in the PostgreSQL database of store.dsn"
	}
	return "at " + s.Path
}

// Role is who a playbook role reaches: a Salesforce user for task owners, a queue cases are
// given to, a Slack channel, mail addresses.
type Role struct {
	User  string   `yaml:"user"`  // Salesforce username or user id (005…)
	Queue string   `yaml:"queue"` // Salesforce queue name or id (00G…)
	Slack string   `yaml:"slack"` // "#channel" or a channel id
	Email []string `yaml:"email"`
	// Field resolves the role on each case through a field of the case or its account:
	// "Account.Owner.Email" sends the role's mail to the account's owner, a field holding a
	// user id makes that user the owner of the role's tasks.
	Field string `yaml:"field"`
}

// Endpoint is an HTTP service a playbook's http action calls. Its URL and credentials live
// here, never in a playbook.
type Endpoint struct {
	URL       string   `yaml:"url"`   // base URL; the action's path is appended
	Token     Secret   `yaml:"token"` // sent as "Authorization: Bearer …" when set
	TokenFile string   `yaml:"token_file"`
	Timeout   Duration `yaml:"timeout"` // per call; 30s when not set
}

// Slack is where messages go. Without a token they are printed to the terminal.
type Slack struct {
	Token     Secret `yaml:"token"` // bot token, xoxb-…
	TokenFile string `yaml:"token_file"`
	// AppToken is the app-level token (xapp-…, scope connections:write) with which run
	// receives presses of the checklists' buttons and /casebot commands over Socket Mode.
	AppToken     Secret `yaml:"app_token"`
	AppTokenFile string `yaml:"app_token_file"`
	APIURL       string `yaml:"api_url"` // for tests; empty means Slack's own
	// Pace is the time between two messages (or edits) to one channel: Slack's one a second
	// when not set; a simulator that does not limit may take "-1s" (none).
	Pace Duration `yaml:"pace"`
	// ThreadField is the Case field (a long text) where casebot writes each case's threads,
	// "#legal 1700000000.000100" a line, for people in Salesforce; empty writes none.
	ThreadField string `yaml:"thread_field"`
	// Print prints messages to the terminal instead of posting them: for trying casebot
	// against the sandbox. Without a token and without print, run and once refuse to start
	// when a playbook posts to Slack.
	Print bool `yaml:"print"`
	// Digest is the summary each channel gets on a schedule. Left out, run posts none;
	// casebot digest shows one with the defaults.
	Digest Digest `yaml:"digest"`
	// Approvers say who may press which button, by playbook and action.
	Approvers Approvers `yaml:"approvers"`
	// approversAt is where the approvers are written, for CheckApprovers; nil without any.
	approversAt *index
}

// Digest is a channel's summary of its playbooks' open cases: what comes due in the coming
// business days, what waits on whom, what failed for good.
type Digest struct {
	// Schedule is when run posts the digests, a robfig/cron spec read in Zone
	// ("0 8 * * 1-5"). Required when the digest is configured.
	Schedule string `yaml:"schedule"`
	Days     int    `yaml:"days"`  // business days ahead, today included when it is one
	Lines    int    `yaml:"lines"` // cases listed per day and per section; the rest are counted
	// Zone is the readers' zone: where their days begin and end, and the zone of Schedule.
	Zone string `yaml:"zone"`
}

// Mail is the inbound mailbox and the outbound relay. A server without a host is not used.
type Mail struct {
	IMAP IMAP `yaml:"imap"`
	SMTP SMTP `yaml:"smtp"`
	// Print prints outgoing mail to the terminal instead of sending it, like slack.print.
	Print bool `yaml:"print"`
}

// TLSMode is how a mail connection is protected.
type TLSMode string

const (
	TLSImplicit TLSMode = "tls"      // TLS from the first byte (IMAPS 993, SMTPS 465)
	TLSStartTLS TLSMode = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSNone     TLSMode = "none"     // only to a loopback host
)

// Server is what IMAP and SMTP have in common.
type Server struct {
	Host         string  `yaml:"host"`
	Port         int     `yaml:"port"` // 0: the standard port of the TLS mode
	Username     string  `yaml:"username"`
	Password     Secret  `yaml:"password"`
	PasswordFile string  `yaml:"password_file"`
	TLS          TLSMode `yaml:"tls"`
}

// IMAP is the mailbox inbound requests arrive in; which folders intake reads and fills is
// in the intake rules (intake.yaml beside the playbooks).
type IMAP struct {
	Server `yaml:",inline"`
	// AuthServID is the authserv-id of the receiving mail server: intake trusts the DMARC
	// verdict of the topmost Authentication-Results header only when it bears this id. ""
	// trusts none, and only DKIM signatures vouch for a sender.
	AuthServID string `yaml:"authserv_id"`
}

// SMTP is the relay casebot sends mail through.
type SMTP struct {
	Server `yaml:",inline"`
	From   string `yaml:"from"`
}

// Addr is host:port, with the standard IMAP port of the TLS mode when Port is 0.
func (i IMAP) Addr() string { return i.addr(993, 143) }

// Addr is host:port, with the standard submission port of the TLS mode when Port is 0.
func (s SMTP) Addr() string { return s.addr(465, 587) }

func (s Server) addr(implicitPort, plainPort int) string {
	port := s.Port
	if port == 0 {
		port = plainPort
		if s.TLS == TLSImplicit {
			port = implicitPort
		}
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(port))
}

// HTTP is the status server (health, metrics).
type HTTP struct {
	Listen string `yaml:"listen"`
}

// Log is the daemon's logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Default returns a configuration with every default set. Parse decodes a file over it, so
// this is the one place defaults live.
func Default() *Config {
	return &Config{
		Salesforce: Salesforce{
			APIVersion: "62.0",
			Grant:      GrantPassword,
			Timeout:    Duration(30 * time.Second),
		},
		Store:    Store{Driver: "sqlite", Path: "casebot.db", Lease: Duration(15 * time.Second)},
		Schedule: "@every 1m",
		Slack:    Slack{Digest: Digest{Days: 3, Lines: 10, Zone: "UTC"}},
		Mail: Mail{
			IMAP: IMAP{Server: Server{TLS: TLSImplicit}},
			SMTP: SMTP{Server: Server{TLS: TLSStartTLS}},
		},
		HTTP: HTTP{Listen: "127.0.0.1:9090"},
		Log:  Log{Level: "info", Format: "text"},
	}
}

// Load reads and parses the config file at path; relative paths in it are relative to its
// directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, filepath.Dir(path))
}

// Parse parses a config file. name is used in error messages; baseDir is what relative paths
// are relative to. The error, when there is one, joins an *Error for every problem found, in
// file order.
func Parse(name string, data []byte, baseDir string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, joinErrors(newIndex(name, &doc).yamlErrors(err))
	}
	x := newIndex(name, &doc)

	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs []*Error
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		errs = x.yamlErrors(err)
	}
	var extra struct{}
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		errs = append(errs, &Error{File: name, Msg: "more than one YAML document; a config file holds one"})
	}

	errs = append(errs, c.resolve(x, baseDir, os.LookupEnv)...)
	errs = append(errs, c.validate(x)...)
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return c, nil
}

// joinErrors puts errs in file order and joins them, one a line.
func joinErrors(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

func (x *index) yamlErrors(err error) []*Error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []*Error{x.yamlError(err.Error())}
	}
	errs := make([]*Error, len(te.Errors))
	for i, msg := range te.Errors {
		errs[i] = x.yamlError(msg)
	}
	return errs
}

// secretField is a secret with its optional _file variant.
type secretField struct {
	path   string // "salesforce.client_secret"
	secret *Secret
	file   *string
}

// secrets lists the secret fields to resolve. Endpoints are map values, which cannot be
// pointed to: resolve works on copies and done writes them back.
func (c *Config) secrets() (fields []secretField, done func()) {
	fields = []secretField{
		{"salesforce.client_secret", &c.Salesforce.ClientSecret, &c.Salesforce.ClientSecretFile},
		{"salesforce.password", &c.Salesforce.Password, &c.Salesforce.PasswordFile},
		{"salesforce.private_key", &c.Salesforce.PrivateKey, &c.Salesforce.PrivateKeyFile},
		{"salesforce.refresh_token", &c.Salesforce.RefreshToken, &c.Salesforce.RefreshTokenFile},
		{"slack.token", &c.Slack.Token, &c.Slack.TokenFile},
		{"slack.app_token", &c.Slack.AppToken, &c.Slack.AppTokenFile},
		{"mail.imap.password", &c.Mail.IMAP.Password, &c.Mail.IMAP.PasswordFile},
		{"mail.smtp.password", &c.Mail.SMTP.Password, &c.Mail.SMTP.PasswordFile},
		{"store.dsn", &c.Store.DSN, &c.Store.DSNFile},
	}
	copies := map[string]*Endpoint{}
	for _, name := range slices.Sorted(maps.Keys(c.Endpoints)) {
		e := c.Endpoints[name]
		copies[name] = &e
		fields = append(fields, secretField{"endpoints." + name + ".token", &e.Token, &e.TokenFile})
	}
	return fields, func() {
		for name, e := range copies {
			c.Endpoints[name] = *e
		}
	}
}

// envRef is a ${NAME} reference. Only this braced form is expanded, so a password with a bare
// "$" in it stays as written.
var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// resolve makes relative paths absolute against baseDir and fills secrets from their files
// and environment references.
func (c *Config) resolve(x *index, baseDir string, lookupEnv func(string) (string, bool)) []*Error {
	var errs []*Error
	secrets, done := c.secrets()
	defer done()
	for _, s := range secrets {
		switch {
		case *s.file != "" && *s.secret != "":
			errs = append(errs, x.keyErrorf(s.path+"_file", "give either %s or %s_file, not both", lastKey(s.path), lastKey(s.path)))
		case *s.file != "":
			*s.file = relativeTo(baseDir, *s.file)
			data, err := os.ReadFile(*s.file)
			switch {
			case err != nil:
				errs = append(errs, x.errorf(s.path+"_file", "%v", err))
			case len(strings.TrimRight(string(data), "\r\n")) == 0:
				errs = append(errs, x.errorf(s.path+"_file", "%s is empty", *s.file))
			default:
				*s.secret = Secret(strings.TrimRight(string(data), "\r\n"))
			}
		default:
			var problems []string
			expanded := envRef.ReplaceAllStringFunc(string(*s.secret), func(ref string) string {
				name := ref[2 : len(ref)-1]
				if !envName.MatchString(name) {
					problems = append(problems, fmt.Sprintf("%q is not an environment variable name", name))
					return ref
				}
				v, ok := lookupEnv(name)
				if !ok {
					problems = append(problems, fmt.Sprintf("environment variable %s is not set", name))
				}
				return v
			})
			for _, p := range problems {
				errs = append(errs, x.errorf(s.path, "%s", p))
			}
			*s.secret = Secret(expanded)
		}
	}

	// The default path is SQLite's: a PostgreSQL ledger has none unless one was written, which
	// validate reports.
	if _, given := x.lookup("store.path"); c.Store.Driver == "postgres" && !given {
		c.Store.Path = ""
	}
	if c.Store.Path != ":memory:" {
		c.Store.Path = relativeTo(baseDir, c.Store.Path)
	}
	for i, p := range c.Playbooks {
		c.Playbooks[i] = relativeTo(baseDir, p)
	}
	return errs
}

func relativeTo(baseDir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(baseDir, path)
}

func lastKey(path string) string { return path[strings.LastIndex(path, ".")+1:] }
