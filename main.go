// Command casebot runs customer-termination playbooks on Salesforce cases.
//
// main turns signals into a context and wires the connectors into the commands; everything
// else lives in the packages (see README.md).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"casebot/bot"
	"casebot/bot/cli"
	"casebot/config"
	"casebot/connectors/endpoint"
	"casebot/connectors/imap"
	"casebot/connectors/imap/message"
	"casebot/connectors/postgres"
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
	"casebot/connectors/slack"
	"casebot/connectors/smtp"
	"casebot/connectors/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.IO{Out: os.Stdout, Err: os.Stderr}, wiring)
	stop()
	os.Exit(code)
}

var wiring = cli.Wiring{
	CRM: func(cfg config.Salesforce, log *slog.Logger) (bot.CRM, error) {
		c, err := salesforce.New(salesforce.Options{
			LoginURL: cfg.LoginURL, APIVersion: cfg.APIVersion, Grant: string(cfg.Grant),
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret.Value(),
			Username: cfg.Username, Password: cfg.Password.Value(),
			PrivateKey: []byte(cfg.PrivateKey.Value()), JWTAudience: cfg.JWTAudience, RefreshToken: cfg.RefreshToken.Value(),
			HTTPClient: &http.Client{Timeout: time.Duration(cfg.Timeout)}, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		return salesforce.NewCRM(c), nil
	},
	Store: func(ctx context.Context, cfg config.Store) (bot.Store, error) {
		if cfg.Driver == "postgres" {
			return postgres.Open(ctx, cfg.DSN.Value())
		}
		return sqlite.Open(ctx, cfg.Path)
	},
	ReadStore: func(ctx context.Context, cfg config.Store) (bot.Store, error) {
		if cfg.Driver == "postgres" {
			return postgres.OpenReadOnly(ctx, cfg.DSN.Value())
		}
		return sqlite.OpenReadOnly(ctx, cfg.Path)
	},
	Schema: func(ctx context.Context, cfg config.Store) (int, int, error) {
		if cfg.Driver == "postgres" {
			return postgres.SchemaVersion(ctx, cfg.DSN.Value())
		}
		return sqlite.SchemaVersion(ctx, cfg.Path)
	},
	Chat: func(cfg config.Slack, out io.Writer, log *slog.Logger) bot.Chat {
		return slack.New(slack.Options{Token: cfg.Token.Value(), APIURL: cfg.APIURL, Pace: time.Duration(cfg.Pace), Out: out, Logger: log})
	},
	Mailer: func(cfg config.SMTP, out io.Writer, log *slog.Logger) (bot.Mailer, error) {
		return smtp.New(smtp.Options{Host: cfg.Host, Port: cfg.Port, TLS: string(cfg.TLS),
			Username: cfg.Username, Password: cfg.Password.Value(), From: cfg.From, Out: out, Logger: log})
	},
	Caller: func(eps map[string]config.Endpoint, log *slog.Logger) (bot.Caller, error) {
		m := make(map[string]endpoint.Endpoint, len(eps))
		for name, e := range eps {
			m[name] = endpoint.Endpoint{URL: e.URL, Token: e.Token.Value(), Timeout: time.Duration(e.Timeout)}
		}
		return endpoint.New(endpoint.Options{Endpoints: m, Logger: log})
	},
	Mailbox: func(cfg config.IMAP, log *slog.Logger) (bot.Mailbox, error) {
		return imap.New(imap.Options{Addr: cfg.Addr(), TLS: string(cfg.TLS), Username: cfg.Username,
			Password: cfg.Password.Value(), Logger: log})
	},
	DemoMailbox: func(ctx context.Context, log *slog.Logger) (cli.DemoMailbox, error) {
		return imap.StartMemory(ctx, log)
	},
	Listen: func(chat bot.Chat, appToken string, h bot.ChatHandler) cli.Listener {
		c, ok := chat.(*slack.Client)
		if !ok {
			return nil
		}
		return c.Listener(appToken, h)
	},
	ParseMail: func(raw []byte) (bot.ParsedMail, error) { return message.Parse(raw, message.Options{}) },
	AuthenticateMail: func(cfg config.IMAP) func(ctx context.Context, raw []byte) bot.MailAuth {
		return func(ctx context.Context, raw []byte) bot.MailAuth {
			return message.Authenticate(ctx, raw, message.AuthOptions{TrustedAuthServID: cfg.AuthServID})
		}
	},
	Sandbox: func(ctx context.Context, o cli.SandboxOptions) (cli.Sandbox, error) {
		faults, err := sandbox.ParseFaults(o.Faults)
		if err != nil {
			return nil, fmt.Errorf("-faults: %w", err)
		}
		return sandbox.Start(ctx, sandbox.Options{Addr: o.Addr, DataFile: o.DataFile, Seed: o.Seed, Now: o.Now,
			Logger: o.Logger, Faults: faults, JWTCertificate: o.JWTCertificate, RefreshTokens: o.RefreshTokens})
	},
}
