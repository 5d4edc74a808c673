package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// minimal is the smallest valid config; cases below start from it.
const minimal = `salesforce:
  login_url: https://login.salesforce.com
  grant: client_credentials
  client_id: id
  client_secret: s
`

func TestParseDefaults(t *testing.T) {
	got, err := Parse("casebot.yaml", []byte(minimal), "/etc/casebot")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Salesforce.LoginURL = "https://login.salesforce.com"
	want.Salesforce.Grant = GrantClientCredentials
	want.Salesforce.ClientID = "id"
	want.Salesforce.ClientSecret = "s"
	want.Store.Path = "/etc/casebot/casebot.db"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(minimal) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseGood(t *testing.T) {
	for _, tc := range []struct {
		name  string
		yaml  string
		check func(*Config) any // returns the value to compare
		want  any
	}{
		{
			name: "password grant",
			yaml: "salesforce: {login_url: 'https://acme.my.salesforce.com', client_id: id, client_secret: s, username: bot@acme.com, password: pw}\n",
			check: func(c *Config) any {
				return []any{c.Salesforce.Grant, c.Salesforce.Username, c.Salesforce.Password.Value()}
			},
			want: []any{GrantPassword, "bot@acme.com", "pw"},
		},
		{
			name:  "http to loopback",
			yaml:  strings.Replace(minimal, "https://login.salesforce.com", "http://127.0.0.1:8090", 1),
			check: func(c *Config) any { return c.Salesforce.LoginURL },
			want:  "http://127.0.0.1:8090",
		},
		{
			name:  "schedule and timeout",
			yaml:  minimal + "  timeout: 2m\nschedule: '*/5 * * * *'\n",
			check: func(c *Config) any { return []any{c.Salesforce.Timeout, c.Schedule} },
			want:  []any{Duration(2 * time.Minute), "*/5 * * * *"},
		},
		{
			name:  "memory store stays",
			yaml:  minimal + "store: {path: ':memory:'}\n",
			check: func(c *Config) any { return c.Store.Path },
			want:  ":memory:",
		},
		{
			name: "relative and absolute paths",
			yaml: minimal + "store: {path: data/ledger.db}\nplaybooks: [playbooks/, /opt/casebot/extra.yaml, ../shared/x.yaml]\n",
			check: func(c *Config) any {
				return append([]string{c.Store.Path}, c.Playbooks...)
			},
			want: []string{"/etc/casebot/data/ledger.db", "/etc/casebot/playbooks", "/opt/casebot/extra.yaml", "/etc/shared/x.yaml"},
		},
		{
			name:  "role by user id and channel id",
			yaml:  minimal + "roles:\n  legal: {user: 005000000000001AAA, slack: C0123456789}\n",
			check: func(c *Config) any { return c.Roles["legal"] },
			want:  Role{User: "005000000000001AAA", Slack: "C0123456789"},
		},
		{
			name: "mail servers and their standard ports",
			yaml: minimal + `mail:
  imap: {host: imap.example.com, username: bot, password: pw, authserv_id: mx.example.com}
  smtp: {host: 127.0.0.1, port: 2525, tls: none, from: "casebot <bot@example.com>"}
`,
			check: func(c *Config) any {
				return []any{c.Mail.IMAP.Addr(), c.Mail.IMAP.AuthServID, c.Mail.SMTP.Addr()}
			},
			want: []any{"imap.example.com:993", "mx.example.com", "127.0.0.1:2525"},
		},
		{
			name:  "digest",
			yaml:  minimal + "slack:\n  digest: {schedule: '0 8 * * 1-5', zone: Europe/Berlin, days: 5}\n",
			check: func(c *Config) any { return c.Slack.Digest },
			want:  Digest{Schedule: "0 8 * * 1-5", Days: 5, Lines: 10, Zone: "Europe/Berlin"},
		},
		{
			name:  "starttls submission port",
			yaml:  minimal + "mail:\n  smtp: {host: smtp.example.com, from: bot@example.com}\n",
			check: func(c *Config) any { return c.Mail.SMTP.Addr() },
			want:  "smtp.example.com:587",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("casebot.yaml", []byte(tc.yaml), "/etc/casebot")
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "syntax",
			yaml: "salesforce:\n  login_url: x\n client_id: y\n",
			want: "c.yaml:2: did not find expected key", // the yaml package points at the mapping
		},
		{
			name: "unknown keys everywhere",
			yaml: minimal + "  clientid: x\nstores: {}\nroles:\n  legal: {slack: '#legal', channel: x}\nmail:\n  imap: {host: h, username: u, password: p, folder: x}\n",
			want: `c.yaml:6:3: salesforce: unknown key "clientid"
c.yaml:7:1: unknown key "stores"
c.yaml:9:28: roles.legal: unknown key "channel"
c.yaml:11:45: mail.imap: unknown key "folder"`,
		},
		{
			name: "types",
			yaml: minimal + "  timeout: soon\nplaybooks: x.yaml\nmail:\n  smtp: {host: h, port: abc, from: a@b.c}\nslack: [x]\n",
			want: `c.yaml:6:12: salesforce.timeout: invalid duration "soon": want a number with a unit, such as 30s or 2m
c.yaml:7:12: playbooks: want a list, not a string "x.yaml"
c.yaml:9:25: mail.smtp.port: want an integer, not a string "abc"
c.yaml:10:1: slack: want a mapping, not a list`,
		},
		{
			name: "grants",
			yaml: "salesforce:\n  login_url: https://login.salesforce.com\n  client_id: id\n  grant: jwt_bearer\n  password: p\n",
			want: `c.yaml:1:1: salesforce.username: required with grant jwt_bearer
c.yaml:1:1: salesforce.private_key: required with grant jwt_bearer
c.yaml:5:13: salesforce.password: not used with grant jwt_bearer`,
		},
		{
			name: "role fields",
			yaml: minimal + "roles:\n  owner: {field: Opportunity.OwnerId}\n  team: {field: Account.Owner.Email}\n",
			want: `c.yaml:7:18: roles.owner.field: want a field of the case or its account, such as Account.Owner.Email, not "Opportunity.OwnerId"`,
		},
		{
			name: "endpoints",
			yaml: minimal + "endpoints:\n  provisioning: {url: 'http://provisioning.example.com'}\n  support: {token: x}\n  Bad: {url: 'https://x.example.com', timeout: -1s}\n",
			want: `c.yaml:7:23: endpoints.provisioning.url: plain http is only allowed to a loopback host; use https
c.yaml:8:3: endpoints.support.url: required
c.yaml:9:3: endpoints.Bad: endpoint names are lowercase letters, digits and _, starting with a letter
c.yaml:9:48: endpoints.Bad.timeout: must not be negative (0 means 30s), not -1s`,
		},
		{
			name: "duplicate key",
			yaml: minimal + "roles:\n  legal: {slack: '#legal'}\n  legal: {slack: '#legal2'}\n",
			want: `c.yaml:8:3: roles: key "legal" already given at line 7`,
		},
		{
			name: "empty file",
			yaml: "",
			want: `c.yaml:1:1: salesforce.login_url: required
c.yaml:1:1: salesforce.client_id: required
c.yaml:1:1: salesforce.client_secret: required with grant password
c.yaml:1:1: salesforce.username: required with grant password
c.yaml:1:1: salesforce.password: required with grant password`,
		},
		{
			name: "salesforce values",
			yaml: "salesforce:\n  login_url: http://login.salesforce.com\n  api_version: v62\n  grant: jwt\n  client_id: id\n  timeout: 0s\n",
			want: `c.yaml:2:14: salesforce.login_url: plain http is only allowed to a loopback host; use https
c.yaml:3:16: salesforce.api_version: want a version such as 62.0, not "v62"
c.yaml:4:10: salesforce.grant: want one of "password", "client_credentials", "jwt_bearer", "refresh_token", not "jwt"
c.yaml:6:12: salesforce.timeout: must be more than 0, not 0s`,
		},
		{
			name: "password-grant fields with client credentials",
			yaml: minimal + "  username: u@example.com\n  password: p\n",
			want: `c.yaml:6:13: salesforce.username: not used with grant client_credentials
c.yaml:7:13: salesforce.password: not used with grant client_credentials`,
		},
		{
			name: "store, schedule, http, log",
			yaml: minimal + "store: {driver: postgres}\nschedule: every minute\nhttp: {listen: ':http'}\nlog: {level: verbose, format: xml}\n",
			want: `c.yaml:6:1: store.dsn: required
c.yaml:7:11: schedule: invalid schedule "every minute": expected exactly 5 fields, found 2: [every minute]
c.yaml:8:16: http.listen: invalid port "http"
c.yaml:9:14: log.level: want one of "debug", "info", "warn", "error", not "verbose"
c.yaml:9:31: log.format: want one of "text", "json", not "xml"`,
		},
		{
			name: "unknown driver",
			yaml: minimal + "store:\n  driver: mysql\n",
			want: `c.yaml:7:11: store.driver: unknown driver "mysql"; want "sqlite" or "postgres"`,
		},
		{
			name: "postgres with a path",
			yaml: minimal + "store:\n  driver: postgres\n  dsn: postgres://db/casebot\n  path: casebot.db\n",
			want: `c.yaml:9:9: store.path: not used with driver "postgres": it takes store.dsn`,
		},
		{
			name: "sqlite with a dsn",
			yaml: minimal + "store:\n  driver: sqlite\n  dsn_file: /etc/hostname\n",
			want: `c.yaml:8:13: store.dsn_file: not used with driver "sqlite"`,
		},
		{
			name: "roles",
			yaml: minimal + "roles:\n  Legal: {slack: '#legal'}\n  finance: {}\n  ops: {user: bob, slack: legal, email: [ops@example.com, 'not an address']}\n",
			want: `c.yaml:7:3: roles.Legal: role names are lowercase letters, digits and _, starting with a letter
c.yaml:8:3: roles.finance: give at least one of user, queue, slack, email, field
c.yaml:9:15: roles.ops.user: want a Salesforce username (user@example.com) or user id (005…), not "bob"
c.yaml:9:27: roles.ops.slack: want a channel such as #legal or a channel id, not "legal"
c.yaml:9:59: roles.ops.email[1]: invalid address "not an address": mail: no angle-addr`,
		},
		{
			name: "mail",
			yaml: minimal + "mail:\n  imap: {port: 993}\n  smtp:\n    host: smtp.example.com\n    tls: none\n    port: 70000\n    username: u\n",
			want: `c.yaml:7:3: mail.imap.host: required
c.yaml:8:3: mail.smtp: give both username and password, or neither
c.yaml:8:3: mail.smtp.from: required
c.yaml:10:10: mail.smtp.tls: none is only allowed to a loopback host; use tls or starttls
c.yaml:11:11: mail.smtp.port: invalid port 70000`,
		},
		{
			name: "imap needs credentials",
			yaml: minimal + "mail:\n  imap: {host: localhost, tls: starttls}\n",
			want: `c.yaml:7:3: mail.imap.username: required
c.yaml:7:3: mail.imap.password: required`,
		},
		{
			name: "slack api url",
			yaml: minimal + "slack: {api_url: 'localhost:8080'}\n",
			want: `c.yaml:6:18: slack.api_url: want an http or https URL, not "localhost:8080"`,
		},
		{
			name: "digest",
			yaml: minimal + "slack:\n  digest:\n    schedule: '0 25 * * *'\n    days: 0\n    lines: -1\n    zone: Mars/Olympus\n",
			want: `c.yaml:8:15: slack.digest.schedule: invalid schedule "0 25 * * *": end of range (25) above maximum (23): 25
c.yaml:9:11: slack.digest.days: want 1 to 30 business days, not 0
c.yaml:10:12: slack.digest.lines: want 1 or more, not -1
c.yaml:11:11: slack.digest.zone: want a time zone name such as Europe/Berlin, not "Mars/Olympus"`,
		},
		{
			name: "digest without a schedule",
			yaml: minimal + "slack:\n  digest: {days: 2}\n",
			want: `c.yaml:7:3: slack.digest.schedule: required`,
		},
		{
			name: "two documents",
			yaml: minimal + "---\nschedule: x\n",
			want: `c.yaml: more than one YAML document; a config file holds one`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml), "/etc/casebot")
			if err == nil {
				t.Fatalf("Parse succeeded, want\n%s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse error:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets/client", "from-file\n")
	write("secrets/slack", "xoxb-1\r\n")
	write("secrets/empty", "\n")
	write("casebot.yaml", `salesforce:
  login_url: https://login.salesforce.com
  grant: client_credentials
  client_id: id
  client_secret_file: secrets/client
slack:
  token_file: `+filepath.Join(dir, "secrets/slack")+`
endpoints:
  provisioning: {url: https://provisioning.example.com, token_file: secrets/client}
`)

	c, err := Load(filepath.Join(dir, "casebot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Salesforce.ClientSecret.Value(); got != "from-file" {
		t.Errorf("client secret = %q, want %q", got, "from-file")
	}
	if got := c.Salesforce.ClientSecretFile; got != filepath.Join(dir, "secrets/client") {
		t.Errorf("client_secret_file = %q, want it made absolute", got)
	}
	if got := c.Slack.Token.Value(); got != "xoxb-1" {
		t.Errorf("slack token = %q, want %q", got, "xoxb-1")
	}
	if got := c.Endpoints["provisioning"].Token.Value(); got != "from-file" {
		t.Errorf("endpoint token = %q, want %q", got, "from-file")
	}

	bad := `salesforce:
  login_url: https://login.salesforce.com
  grant: client_credentials
  client_id: id
  client_secret: inline
  client_secret_file: secrets/client
slack:
  token_file: secrets/missing
mail:
  imap: {host: h, username: u, password_file: secrets/empty}
`
	_, err = Parse("c.yaml", []byte(bad), dir)
	want := fmt.Sprintf(`c.yaml:6:3: salesforce.client_secret_file: give either client_secret or client_secret_file, not both
c.yaml:8:15: slack.token_file: open %[1]s/secrets/missing: no such file or directory
c.yaml:10:47: mail.imap.password_file: %[1]s/secrets/empty is empty`, dir)
	if err == nil || err.Error() != want {
		t.Errorf("Parse error:\n%v\nwant:\n%s", err, want)
	}
}

func TestSecretEnv(t *testing.T) {
	t.Setenv("CASEBOT_TEST_SECRET", "from-env")
	t.Setenv("CASEBOT_TEST_EMPTY", "")
	c, err := Parse("c.yaml", []byte(minimal+`slack: {token: "xoxb-${CASEBOT_TEST_SECRET}-$HOME-${CASEBOT_TEST_EMPTY}"}
log: {format: "${CASEBOT_TEST_SECRET}"}
`), "")
	if want := `c.yaml:7:15: log.format: want one of "text", "json", not "${CASEBOT_TEST_SECRET}"`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q: ${} is only expanded in secrets", err, want)
	}

	c, err = Parse("c.yaml", []byte(minimal+`slack: {token: "xoxb-${CASEBOT_TEST_SECRET}-$HOME-${CASEBOT_TEST_EMPTY}"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Slack.Token.Value(), "xoxb-from-env-$HOME-"; got != want {
		t.Errorf("token = %q, want %q", got, want)
	}

	_, err = Parse("c.yaml", []byte(minimal+"slack: {token: '${CASEBOT_TEST_UNSET} ${not-a-name}'}\n"), "")
	want := `c.yaml:6:16: slack.token: environment variable CASEBOT_TEST_UNSET is not set
c.yaml:6:16: slack.token: "not-a-name" is not an environment variable name`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error:\n%v\nwant:\n%s", err, want)
	}
}

// TestHideConfigSecrets checks that no way of printing or encoding a config shows a secret.
func TestHideConfigSecrets(t *testing.T) {
	t.Setenv("CASEBOT_TEST_TOKEN", "xoxb-env-token-5")
	c, err := Parse("c.yaml", []byte(`salesforce:
  login_url: https://login.salesforce.com
  client_id: id
  client_secret: hunter2-client-1
  username: bot@example.com
  password: hunter2-password-2
slack: {token: "${CASEBOT_TEST_TOKEN}"}
mail:
  imap: {host: h, username: u, password: hunter2-imap-3}
  smtp: {host: h, username: u, password: hunter2-smtp-4, from: a@example.com}
endpoints:
  provisioning: {url: https://provisioning.example.com/api, token: hunter2-endpoint-6}
store: {driver: postgres, dsn: "postgres://casebot:hunter2-dsn-7@db/casebot"}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"hunter2-client-1", "hunter2-password-2", "hunter2-imap-3", "hunter2-smtp-4", "xoxb-env-token-5", "hunter2-endpoint-6", "hunter2-dsn-7"}

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%10.3s"} {
		outputs["fmt "+verb+" config"] = fmt.Sprintf(verb, c)
		outputs["fmt "+verb+" secret"] = fmt.Sprintf(verb, c.Slack.Token)
	}
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	outputs["fmt endpoint"] = fmt.Sprintf("%+v", c.Endpoints["provisioning"])
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c, "token", c.Slack.Token)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", c, "token", c.Slack.Token)
	outputs["slog text"] = text.String()
	outputs["slog json"] = js.String()

	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows secret %q:\n%s", name, s, out)
			}
		}
	}
	for _, name := range []string{"fmt %v secret", "yaml", "json", "slog text", "slog json"} {
		// encoding/json writes < and > as \u003c and \u003e.
		if !strings.Contains(outputs[name], "<secret>") && !strings.Contains(outputs[name], `\u003csecret\u003e`) {
			t.Errorf("%s does not show <secret>:\n%s", name, outputs[name])
		}
	}
	if got, want := outputs["fmt %#v secret"], `config.Secret("<secret>")`; got != want {
		t.Errorf("%%#v = %s, want %s", got, want)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("an unset secret prints %q, want nothing", got)
	}
}

// TestPostgresStore: a PostgreSQL ledger takes its DSN inline, from the environment or from a
// file, and has no path (the default path is SQLite's).
func TestPostgresStore(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dsn"), []byte("postgres://casebot:from-file@db/casebot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CASEBOT_TEST_DSN", "host=db user=casebot password=from-env")
	for _, tt := range []struct{ store, want string }{
		{"{driver: postgres, dsn: postgres://db/casebot}", "postgres://db/casebot"},
		{"{driver: postgres, dsn: '${CASEBOT_TEST_DSN}'}", "host=db user=casebot password=from-env"},
		{"{driver: postgres, dsn_file: dsn}", "postgres://casebot:from-file@db/casebot"},
	} {
		c, err := Parse("c.yaml", []byte(minimal+"store: "+tt.store+"\n"), dir)
		if err != nil {
			t.Errorf("store %s: %v", tt.store, err)
			continue
		}
		if c.Store.DSN.Value() != tt.want || c.Store.Path != "" {
			t.Errorf("store %s: dsn %q, path %q; want dsn %q and no path", tt.store, c.Store.DSN.Value(), c.Store.Path, tt.want)
		}
	}
}

func TestExample(t *testing.T) {
	c, err := Example("/srv/casebot")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Salesforce.LoginURL, "http://127.0.0.1:8090"; got != want {
		t.Errorf("login_url = %q, want %q", got, want)
	}
	if got, want := c.Store.Path, "/srv/casebot/casebot.db"; got != want {
		t.Errorf("store path = %q, want %q", got, want)
	}
	// Every role reaches a seeded sandbox user, a channel and a mailbox; whether they cover
	// the shipped playbooks' roles is checked by validating those (test/).
	for name, r := range c.Roles {
		if !strings.HasSuffix(r.User, "@example.test") || r.Slack == "" || len(r.Email) == 0 && r.Field == "" {
			t.Errorf("role %s = %+v, want a sandbox user, a channel and an address or a field", name, r)
		}
	}
	if f := c.Roles["account_team"].Field; f != "Account.Owner.Email" {
		t.Errorf("account_team field = %q", f)
	}
	if q := c.Roles["infrastructure"].Queue; q != "Infrastructure_Engineering_Provisioning" {
		t.Errorf("infrastructure queue = %q", q)
	}
	for _, name := range []string{"provisioning", "support", "partner_platform"} {
		if u := c.Endpoints[name].URL; !strings.HasPrefix(u, "http://127.0.0.1:8091/") {
			t.Errorf("endpoint %s = %q, want the sandbox's simulation on 127.0.0.1:8091", name, u)
		}
	}

	// The file on disk is the one embedded, and loads the same way.
	loaded, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Store.Path != "casebot.db" {
		t.Errorf("Load(example.yaml) store path = %q, want casebot.db", loaded.Store.Path)
	}
}

func TestGrants(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CASEBOT_TEST_REFRESH", "5Aep861-refresh")
	for _, tc := range []struct{ name, yaml string }{
		{"jwt bearer", "grant: jwt_bearer\n  username: bot@example.com\n  private_key_file: key.pem\n  jwt_audience: https://test.salesforce.com\n"},
		{"refresh token", "grant: refresh_token\n  refresh_token: ${CASEBOT_TEST_REFRESH}\n"},
		{"refresh token with a secret", "grant: refresh_token\n  client_secret: s\n  refresh_token: ${CASEBOT_TEST_REFRESH}\n"},
	} {
		c, err := Parse("c.yaml", []byte("salesforce:\n  login_url: https://login.salesforce.com\n  client_id: id\n  "+tc.yaml), dir)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		sf := c.Salesforce
		switch sf.Grant {
		case GrantJWTBearer:
			if !strings.Contains(sf.PrivateKey.Value(), "BEGIN PRIVATE KEY") || fmt.Sprint(sf.PrivateKey) != "<secret>" {
				t.Errorf("%s: private key %q not read from the file or not hidden", tc.name, sf.PrivateKey)
			}
		case GrantRefreshToken:
			if sf.RefreshToken.Value() != "5Aep861-refresh" {
				t.Errorf("%s: refresh token %q", tc.name, sf.RefreshToken.Value())
			}
		}
	}
}
