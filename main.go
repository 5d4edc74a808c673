// Command casebot runs customer-termination playbooks on Salesforce cases.
//
// main turns signals into a context and wires the connectors into the commands; everything
// else lives in the packages (see README.md).
package main

import (
	"context"
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
	"casebot/connectors/salesforce"
	"casebot/connectors/salesforce/sandbox"
	"casebot/connectors/slack"
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
			HTTPClient: &http.Client{Timeout: time.Duration(cfg.Timeout)}, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		return salesforce.NewCRM(c), nil
	},
	Store: func(ctx context.Context, cfg config.Store) (bot.Store, error) {
		return sqlite.Open(ctx, cfg.Path)
	},
	Chat: func(cfg config.Slack, out io.Writer, log *slog.Logger) bot.Chat {
		return slack.New(slack.Options{Token: cfg.Token.Value(), APIURL: cfg.APIURL, Out: out, Logger: log})
	},
	Sandbox: func(ctx context.Context, o cli.SandboxOptions) (cli.Sandbox, error) {
		return sandbox.Start(ctx, sandbox.Options{Addr: o.Addr, DataFile: o.DataFile, Seed: o.Seed, Now: o.Now, Logger: o.Logger})
	},
}
