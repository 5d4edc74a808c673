// Package cli is casebot's command line: run, once, validate, sandbox and demo.
//
// It knows the connectors only through Wiring, which main fills in, so that the commands import
// the domain, the engine, the rules and the config but no provider.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/bot/intake"
	"casebot/config"
	"casebot/rules"
	"casebot/rules/playbooks"
	"casebot/templates"

	"github.com/prometheus/client_golang/prometheus"
)

// Sandbox is a running Salesforce-compatible sandbox.
type Sandbox interface {
	URL() string
	APICalls() int
	Close() error
}

// SandboxOptions say how to start a sandbox.
type SandboxOptions struct {
	Addr     string           // listen address on loopback; "127.0.0.1:0" picks a port
	DataFile string           // durable storage; "" keeps everything in memory
	Seed     bool             // seed an empty sandbox with demo accounts and cases
	Now      func() time.Time // the sandbox's clock
	Logger   *slog.Logger
	// Faults is a fault spec such as "unavailable=0.1,lock_row=0.05,latency=200ms,seed=7".
	Faults string
	// JWTCertificate is the PEM certificate JWT bearer assertions are checked against.
	JWTCertificate []byte
	// RefreshTokens makes the password grant return refresh tokens.
	RefreshTokens bool
}

// Wiring builds the connectors from their config. main fills it in.
type Wiring struct {
	CRM   func(cfg config.Salesforce, log *slog.Logger) (bot.CRM, error)
	Store func(ctx context.Context, cfg config.Store) (bot.Store, error)
	// ReadStore opens the ledger for plan and why, to read only: no schema change, no lock
	// that would stop a running daemon. No ledger yet is an error wrapping fs.ErrNotExist.
	ReadStore func(ctx context.Context, cfg config.Store) (bot.Store, error)
	// Schema returns the ledger's schema version (0 when there is no ledger yet) and the one
	// this casebot migrates it to, changing nothing.
	Schema func(ctx context.Context, cfg config.Store) (current, known int, err error)
	Chat   func(cfg config.Slack, out io.Writer, log *slog.Logger) bot.Chat
	// Mailer sends through cfg's relay, or prints to out when it names no host.
	Mailer  func(cfg config.SMTP, out io.Writer, log *slog.Logger) (bot.Mailer, error)
	Caller  func(endpoints map[string]config.Endpoint, log *slog.Logger) (bot.Caller, error)
	Sandbox func(ctx context.Context, opts SandboxOptions) (Sandbox, error)
	// Mailbox reads the inbound mailbox cfg names. ParseMail reads one of its messages, and
	// AuthenticateMail checks a message's sender, trusting cfg's receiving server.
	Mailbox          func(cfg config.IMAP, log *slog.Logger) (bot.Mailbox, error)
	ParseMail        func(raw []byte) (bot.ParsedMail, error)
	AuthenticateMail func(cfg config.IMAP) func(ctx context.Context, raw []byte) bot.MailAuth
	// DemoMailbox starts the demo's inbound mailbox: an IMAP server in the process, empty,
	// read over loopback. Its Close stops the server too.
	DemoMailbox func(ctx context.Context, log *slog.Logger) (DemoMailbox, error)
	// Listen receives presses and /casebot commands from Slack over Socket Mode with the
	// app-level token appToken, answering through chat (what Chat built); nil when chat
	// cannot (a terminal).
	Listen func(chat bot.Chat, appToken string, h bot.ChatHandler) Listener
}

// DemoMailbox is the demo's inbound mailbox, into which the demo delivers its sample mail.
type DemoMailbox interface {
	bot.Mailbox
	// Deliver puts a raw message in INBOX, as the receiving mail server would.
	Deliver(raw []byte) error
}

// IO is where a command reads and writes.
type IO struct {
	Out, Err io.Writer
}

const usage = `casebot runs customer-termination playbooks on Salesforce cases.

Usage: casebot <command> [flags]

Commands:
  demo       run the shipped playbooks end to end against an in-process sandbox on a virtual clock
  run        run the daemon: a reconcile cycle on the configured schedule
  once       run one reconcile cycle and exit (for cron jobs)
  validate   check the config and the playbooks, reporting every error with file:line:col
  sandbox    serve the Salesforce-compatible sandbox
  test       run the playbook tests (*.test.yaml) and report which steps no test reaches
  plan       show what will happen to each open case, when and why (reads only)
  why        explain why a step of a case ran, did not run, or will run when it will
  retry      run again what failed for good on a case, once its cause is fixed
  digest     show (or post) each Slack channel's digest: what comes due, what waits on whom
  migrate    upgrade the ledger's schema (-check: exit 3 when pending), or import a SQLite ledger

Run "casebot <command> -h" for a command's flags.
`

// Main runs the command in args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, std IO, w Wiring) int {
	if len(args) == 0 {
		fmt.Fprint(std.Err, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, IO, Wiring) error{
		"demo":     demo,
		"run":      run,
		"once":     once,
		"validate": validate,
		"sandbox":  sandbox,
		"test":     testCmd,
		"plan":     plan,
		"why":      why,
		"retry":    retry,
		"digest":   digestCmd,
		"migrate":  migrate,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(std.Out, usage)
			return 0
		}
		fmt.Fprintf(std.Err, "casebot: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, args[1:], std, w); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if code, ok := exitCode(err); ok {
			fmt.Fprintf(std.Err, "casebot %s: %v\n", args[0], err)
			return code
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(std.Err, "casebot %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(std.Err, "casebot %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newFlags(name string, std IO) *flag.FlagSet {
	fs := flag.NewFlagSet("casebot "+name, flag.ContinueOnError)
	fs.SetOutput(std.Err)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// loadConfig reads the config file, or the embedded example config when path is empty.
func loadConfig(path string, std IO) (*config.Config, error) {
	if path == "" {
		fmt.Fprintln(std.Err, "casebot: no -config given: using the example config (the sandbox on 127.0.0.1:8090)")
		return config.Example(".")
	}
	return config.Load(path)
}

// loadPlaybooks loads the configured playbooks, or the shipped ones when none are configured,
// reporting every error of every file at once.
func loadPlaybooks(paths []string, tmpl *templates.Set, cfg *config.Config) ([]*rules.Playbook, error) {
	pbs, _, err := loadRules(paths, tmpl, cfg)
	return pbs, err
}

// loadRules loads the playbooks as loadPlaybooks does, and the intake rules beside them (the
// intake file of the shipped playbooks, or of a configured directory, or a configured intake
// file); nil when there are none.
func loadRules(paths []string, tmpl *templates.Set, cfg *config.Config) ([]*rules.Playbook, *rules.Intake, error) {
	opts := rules.Options{
		KnownTemplateKind: tmpl.HasKind,
		KnownRole:         func(r string) bool { _, ok := cfg.Roles[r]; return ok },
		KnownEndpoint:     func(e string) bool { _, ok := cfg.Endpoints[e]; return ok },
	}
	if len(paths) == 0 {
		return rules.LoadWithIntake(playbooks.FS, opts)
	}
	files, err := playbookFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	var pbs []*rules.Playbook
	var errs []error
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fileOpts := opts
		fileOpts.Files = os.DirFS(filepath.Dir(f)) // the files it ships sit beside it
		p, err := rules.Parse(f, data, fileOpts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := seen[p.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: playbook %q is also defined in %s", f, p.Name, other))
			continue
		}
		seen[p.Name] = f
		pbs = append(pbs, p)
	}
	in, err := loadIntake(paths, pbs, opts)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return pbs, in, nil
}

// loadIntake reads the one intake file of the configured paths (a directory's, or one named),
// validated against the playbooks loaded from them.
func loadIntake(paths []string, pbs []*rules.Playbook, opts rules.Options) (*rules.Intake, error) {
	var found []string
	for _, p := range paths {
		if rules.IsIntakeFile(p) {
			found = append(found, p)
			continue
		}
		for _, name := range []string{rules.IntakeFile, "intake.yml"} {
			if st, err := os.Stat(filepath.Join(p, name)); err == nil && !st.IsDir() {
				found = append(found, filepath.Join(p, name))
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("%s: intake rules are also in %s: keep one intake file", found[1], found[0])
	}
	data, err := os.ReadFile(found[0])
	if err != nil {
		return nil, err
	}
	return rules.ParseIntake(found[0], data, pbs, opts)
}

// playbookFiles expands directories into their playbook files (*.yaml, *.yml, not tests),
// sorted.
func playbookFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("playbooks: %w", err)
		}
		if !st.IsDir() {
			if !rules.IsIntakeFile(p) { // loadIntake reads it
				files = append(files, p)
			}
			continue
		}
		var inDir []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p {
				return filepath.SkipDir
			}
			if !d.IsDir() && rules.IsPlaybookFile(path) {
				inDir = append(inDir, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("playbooks: %w", err)
		}
		sort.Strings(inDir)
		files = append(files, inDir...)
	}
	return files, nil
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func engineRoles(roles map[string]config.Role) map[string]engine.Role {
	out := make(map[string]engine.Role, len(roles))
	for name, r := range roles {
		out[name] = engine.Role{User: r.User, Queue: r.Queue, Channel: r.Slack, Emails: r.Email, Field: r.Field}
	}
	return out
}

// mailDomain is the domain of the From address, for the Message-IDs of the mail casebot sends;
// "" (the engine's default) when there is none.
func mailDomain(from string) string {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return ""
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	return domain
}

// daemon is everything run and once need.
type daemon struct {
	cfg    *config.Config
	log    *slog.Logger
	engine *engine.Engine
	store  bot.Store
	lease  bot.Lease // held while this replica acts
	// intake takes in the mailbox's mail; nil without mail.imap.
	intake  *intake.Intake
	mailbox bot.Mailbox
	// set and chat are what the scheduled digests read and post with.
	set  *setup
	chat bot.Chat
}

func (d *daemon) Close() error {
	if d.mailbox != nil {
		d.mailbox.Close()
	}
	return d.store.Close()
}

// newDaemon loads everything run and once need. virtual says that now is not the real clock,
// which is only allowed against a sandbox on this machine: a real org would get real mail
// early, and holds would be measured on a made-up clock.
func newDaemon(ctx context.Context, configPath string, now func() time.Time, virtual bool, reg prometheus.Registerer, std IO, w Wiring) (*daemon, error) {
	set, err := loadSetup(configPath, std, w)
	if err != nil {
		return nil, err
	}
	cfg, log, tmpl, pbs, crm := set.cfg, set.log, set.tmpl, set.pbs, set.crm
	if err := runnable(cfg, pbs, set.intake, virtual); err != nil {
		return nil, err
	}
	if u, ok := crm.(apiUsage); ok && reg != nil {
		registerAPIUsage(reg, u)
	}
	mailer, err := w.Mailer(cfg.Mail.SMTP, std.Out, log)
	if err != nil {
		return nil, err
	}
	caller, err := w.Caller(cfg.Endpoints, log)
	if err != nil {
		return nil, err
	}
	store, err := w.Store(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	chat := w.Chat(cfg.Slack, std.Out, log)
	lease := leaseOf(cfg.Store, store)
	crm, chat, mailer, caller = guardEffects(lease, crm, chat, mailer, caller)
	eng, err := engine.New(engine.Options{
		CRM: crm, Store: store, Chat: chat, Mailer: mailer, Caller: caller,
		Playbooks: pbs, Templates: tmpl, Roles: engineRoles(cfg.Roles), Now: now, Logger: log,
		Registerer: reg, MessageIDDomain: mailDomain(cfg.Mail.SMTP.From), ThreadField: cfg.Slack.ThreadField,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	d := &daemon{cfg: cfg, log: log, engine: eng, store: store, lease: lease, set: set, chat: chat}
	if cfg.Mail.IMAP.Host == "" {
		return d, nil
	}
	if d.intake, d.mailbox, err = newIntake(set, crm, store, chat, mailer, now, w); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// newIntake builds mail intake over the configured mailbox, with the engine's Salesforce,
// ledger, Slack and relay: guarded by the lease like the engine's.
func newIntake(set *setup, crm bot.CRM, store bot.Store, chat bot.Chat, mailer bot.Mailer, now func() time.Time, w Wiring) (*intake.Intake, bot.Mailbox, error) {
	cfg := set.cfg
	sf, ok := crm.(bot.IntakeCRM)
	if !ok || w.Mailbox == nil {
		return nil, nil, errors.New("mail.imap: this casebot cannot take in mail")
	}
	mailbox, err := w.Mailbox(cfg.Mail.IMAP, set.log)
	if err != nil {
		return nil, nil, err
	}
	in, err := intake.New(intakeOptions(set, mailbox, crm, sf, store, chat, mailer, now, w))
	if err != nil {
		mailbox.Close()
		return nil, nil, err
	}
	return in, mailbox, nil
}

// intakeOptions are the options of mail intake over mailbox, crm and sf, which the demo watches.
func intakeOptions(set *setup, mailbox bot.Mailbox, crm bot.CRM, sf bot.IntakeCRM, store bot.Store, chat bot.Chat, mailer bot.Mailer,
	now func() time.Time, w Wiring) intake.Options {
	cfg := set.cfg
	var notify []string
	if r, ok := cfg.Roles[set.intake.Notify]; ok && r.Slack != "" {
		notify = []string{r.Slack}
	}
	return intake.Options{Mailbox: mailbox, CRM: crm, Salesforce: sf, Store: store, Mailer: mailer,
		Chat: chat, Rules: set.intake, Playbooks: set.pbs, Templates: set.tmpl, Notify: notify,
		Parse: w.ParseMail, Authenticate: w.AuthenticateMail(cfg.Mail.IMAP),
		MessageIDDomain: mailDomain(cfg.Mail.SMTP.From), Now: now, Logger: set.log}
}

func run(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("run", std)
	configPath := fs.String("config", "", "config file (required: the daemon runs only on a config written for it)")
	clockPath := fs.String("clock", "", "read the time from this file (RFC 3339), which a test or demo moves between cycles, against a sandbox on this machine only; default: the system clock")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return usageError{errors.New("-config is required; to try casebot against the sandbox: casebot run -config config/example.yaml")}
	}
	now := time.Now
	if *clockPath != "" {
		c, err := newFileClock(*clockPath, std.Err)
		if err != nil {
			return err
		}
		now = c.Now
	}
	reg := newRegistry()
	d, err := newDaemon(ctx, *configPath, now, *clockPath != "", reg, std, w)
	if err != nil {
		return err
	}
	defer d.Close()
	sctx, stopStatus := context.WithCancel(ctx)
	defer stopStatus()
	registerLeader(reg, d.lease)
	stopped, err := serveStatus(sctx, d.cfg.HTTP.Listen, statusHandler(d.engine, reg, d.lease), d.log)
	if err != nil {
		return err
	}
	d.log.Info("casebot running", "schedule", d.cfg.Schedule, "mail_intake", d.intake != nil)
	// Registered for the whole run: SIGUSR1's default is to end the process, a standby's too.
	kicks := make(chan struct{}, 1)
	kickOnSignal(ctx, kicks)
	err = d.lead(ctx, d.lease, func(ctx context.Context) error { return d.act(ctx, w, kicks) })
	d.release()
	stopStatus()
	<-stopped
	d.log.Info("casebot stopped")
	return err
}

// act runs the engine, mail intake, the scheduled digests and the Slack listener until ctx is
// done: what only the replica holding the lease does. A kick runs a cycle now.
func (d *daemon) act(ctx context.Context, w Wiring, kicks chan struct{}) error {
	select {
	case <-kicks: // asked for while standing by: the cycle act begins with serves it
	default:
	}
	taken := make(chan struct{})
	if d.intake != nil {
		go func() {
			defer close(taken)
			d.intake.Run(ctx)
		}()
	} else {
		close(taken)
	}
	digested := make(chan struct{})
	go func() {
		defer close(digested)
		d.postDigestsOnSchedule(ctx)
	}()
	listened := d.listen(ctx, kicks, w)
	err := d.engine.RunKicked(ctx, d.cfg.Schedule, kicks)
	<-taken
	<-listened
	<-digested
	return err
}

// kick asks the engine for a cycle now.
func kick(kicks chan<- struct{}) {
	select {
	case kicks <- struct{}{}:
	default: // a kick is waiting already: one cycle serves both
	}
}

// kickOnSignal has SIGUSR1 ask for a cycle now, until ctx ends: an operator's (or a test's)
// way not to wait for the schedule. act drops a kick a replica got while it stood by.
func kickOnSignal(ctx context.Context, kicks chan<- struct{}) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(usr1)
		for {
			select {
			case <-ctx.Done():
				return
			case <-usr1:
				kick(kicks)
			}
		}
	}()
}

func once(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("once", std)
	configPath := fs.String("config", "", "config file (default: the example config)")
	at := fs.String("at", "", "run as if it were this time (RFC 3339, or 2006-01-02T15:04 in UTC), against a sandbox on this machine only; default: now")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	now := time.Now
	if *at != "" {
		t, err := parseAt(*at)
		if err != nil {
			return err
		}
		now = func() time.Time { return t }
	}
	d, err := newDaemon(ctx, *configPath, now, *at != "", nil, std, w)
	if err != nil {
		return err
	}
	defer d.Close()
	defer d.release()
	return d.leadOnce(ctx, func(ctx context.Context) error {
		if d.intake != nil {
			// The mail first, so that a request is acted on in the same run.
			in, err := d.intake.Step(ctx)
			fmt.Fprintf(std.Out, "%d mail(s) read: %d case(s) opened, %d kept on a case, %d quarantined, %d taken in before\n",
				in.Read, in.Opened, in.Kept, in.Quarantined, in.Known)
			if err != nil {
				return fmt.Errorf("mail intake: %w", err)
			}
		}
		rep, err := d.engine.CycleUntil(ctx)
		if rep.Read == 0 && err != nil {
			return err // no case was read: there is nothing to sum up
		}
		fmt.Fprintf(std.Out, "%d open case(s): %d effect(s) done, %d skipped, %d failed", rep.Cases, rep.Done, rep.Skipped, rep.Failed)
		if !rep.Next.IsZero() {
			fmt.Fprintf(std.Out, "; next due %s", rep.Next.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(std.Out)
		if err == nil && rep.Failed > 0 {
			err = fmt.Errorf("%d effect(s) failed (see the log; retryable ones are retried by the next cycle)", rep.Failed)
		}
		return err
	})
}

// runnable refuses a config the daemon would run wrongly with: parts that do nothing yet,
// messages that would only be printed without anyone having asked for it, a virtual clock
// against a real org.
func runnable(cfg *config.Config, pbs []*rules.Playbook, in *rules.Intake, virtual bool) error {
	var errs []error
	if cfg.Mail.IMAP.Host != "" && in == nil {
		errs = append(errs, errors.New("mail.imap is set, but there are no intake rules (intake.yaml beside the playbooks) to say what to make of the mail"))
	}
	if usesKind(pbs, bot.KindSlack) && cfg.Slack.Token == "" && !cfg.Slack.Print {
		errs = append(errs, errors.New("the playbooks post to Slack: give slack.token, or slack.print: true to print the messages instead"))
	}
	if usesKind(pbs, bot.KindEmail) && cfg.Mail.SMTP.Host == "" && !cfg.Mail.Print {
		errs = append(errs, errors.New("the playbooks send mail: give mail.smtp, or mail.print: true to print the mail instead"))
	}
	if cfg.Slack.Digest.Schedule != "" && cfg.Slack.Token == "" && !cfg.Slack.Print {
		errs = append(errs, errors.New("slack.digest posts to Slack: give slack.token, or slack.print: true to print the digests instead"))
	}
	if virtual {
		errs = append(errs, virtualClock(cfg))
	}
	return errors.Join(errs...)
}

// virtualClock refuses a clock other than the real one unless Salesforce is a sandbox on this
// machine: a real org would get real mail and posts early, and holds would be measured on a
// made-up clock.
func virtualClock(cfg *config.Config) error {
	u, err := url.Parse(cfg.Salesforce.LoginURL)
	if err != nil || !bot.IsLoopback(u.Hostname()) {
		return errors.New("-at and -clock move casebot's clock, which only a sandbox on this machine may see: salesforce.login_url is not on loopback")
	}
	return nil
}

// usesKind reports whether a playbook has an effect of the kind: an action, or for Slack a
// gate reminder or an escalation.
func usesKind(pbs []*rules.Playbook, kind bot.EffectKind) bool {
	for _, p := range pbs {
		if kind == bot.KindSlack && len(p.EscalateTo) > 0 {
			return true
		}
		for _, s := range p.Steps {
			if kind == bot.KindSlack && len(s.Reminders()) > 0 {
				return true
			}
			for _, a := range s.Actions {
				if a.Kind == kind {
					return true
				}
			}
		}
	}
	return false
}

func validate(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("validate", std)
	configPath := fs.String("config", "", "config file whose roles and playbooks to check")
	fs.Usage = func() {
		fmt.Fprintln(std.Err, "usage: casebot validate [-config FILE] [PLAYBOOK_FILE_OR_DIR ...]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := config.Default()
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return err
		}
	} else {
		var err error
		if cfg, err = config.Example("."); err != nil {
			return err
		}
	}
	paths := cfg.Playbooks
	if fs.NArg() > 0 {
		paths = fs.Args()
	}
	tmpl, err := templates.Default()
	if err != nil {
		return err
	}
	// A path that does not exist is one more problem to report, not the end: the others are
	// still validated, so that one run shows everything to fix.
	var problems []error
	found := make([]string, 0, len(paths))
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			problems = append(problems, &rules.Error{File: p, Msg: err.Error()})
			continue
		}
		found = append(found, p)
	}
	var pbs []*rules.Playbook
	var in *rules.Intake
	// With every path missing there is nothing to load: no paths would mean the shipped
	// playbooks.
	if len(found) > 0 || len(paths) == 0 {
		if pbs, in, err = loadRules(found, tmpl, cfg); err != nil {
			problems = append(problems, err)
		}
	}
	// The approvers name the config's own playbooks, not those given to check instead.
	if fs.NArg() == 0 && pbs != nil {
		if err := checkApprovers(cfg, pbs); err != nil {
			problems = append(problems, err)
		}
	}
	for _, p := range pbs {
		fmt.Fprintf(std.Out, "ok  %s (%s): %d steps\n", p.Name, p.File, len(p.Steps))
		// Warnings do not fail validate: the playbook runs as written.
		for _, w := range p.Warnings {
			fmt.Fprintf(std.Out, "warning: %s\n", w)
		}
	}
	if in != nil {
		fmt.Fprintf(std.Out, "ok  intake (%s): %d rules, %d replies\n", in.File, len(in.Rules), len(in.Replies))
	}
	if len(problems) > 0 {
		fmt.Fprintln(std.Out, errors.Join(problems...))
		return errors.New("invalid playbooks")
	}
	return nil
}

func sandbox(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("sandbox", std)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	data := fs.String("data", "sandbox.jsonl", `file that keeps the sandbox's records across restarts ("" keeps them in memory)`)
	noSeed := fs.Bool("no-seed", false, "start empty instead of with the demo accounts and cases")
	faults := fs.String("faults", "", "inject faults into data calls, e.g. unavailable=0.1,request_limit=0.01,lock_row=0.05,expire_session=0.01,latency=200ms@0.3,seed=7")
	cert := fs.String("jwt-cert", "", "PEM certificate that JWT bearer assertions are checked against")
	refresh := fs.Bool("refresh-tokens", false, "issue refresh tokens on the password grant")
	services := fs.String("services", strings.TrimPrefix(exampleServices, "http://"),
		`listen address of the simulated services the playbooks' http actions call ("" for none)`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := SandboxOptions{Addr: *addr, DataFile: *data, Seed: !*noSeed, Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(std.Err, nil)), Faults: *faults, RefreshTokens: *refresh}
	if *cert != "" {
		pem, err := os.ReadFile(*cert)
		if err != nil {
			return usageError{err}
		}
		opts.JWTCertificate = pem
	}
	sb, err := w.Sandbox(ctx, opts)
	if err != nil {
		return err
	}
	defer sb.Close()
	fmt.Fprintf(std.Out, "Salesforce sandbox on %s\n", sb.URL())
	fmt.Fprintf(std.Out, "OAuth token endpoint: %s/services/oauth2/token\n", sb.URL())
	fmt.Fprintln(std.Out, "client id casebot-sandbox, client secret sandbox-secret, user casebot@example.test, password sandbox")
	if *data != "" {
		fmt.Fprintf(std.Out, "records kept in %s\n", *data)
	}
	if *faults != "" {
		fmt.Fprintf(std.Out, "injecting faults: %s\n", *faults)
	}
	if *services != "" {
		url, stop, err := startServices(ctx, *services, time.Now, opts.Logger)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(std.Out, "simulated provisioning, support and partner platform services on %s\n", url)
	}
	<-ctx.Done()
	return nil
}

// caseLabel names a case for people: its number and account.
func caseLabel(c bot.Case) string {
	label := c.ID
	if n, ok := c.Fields["CaseNumber"].(string); ok && n != "" {
		label = n
	}
	if c.Account != nil {
		if n, ok := c.Account.Fields["Name"].(string); ok && n != "" {
			label += " " + n
		}
	}
	return strings.TrimSpace(label)
}
