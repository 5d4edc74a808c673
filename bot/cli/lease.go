package cli

import (
	"context"
	"errors"
	"time"

	"casebot/bot"
	"casebot/config"

	"github.com/prometheus/client_golang/prometheus"
)

// leaseOf is the daemon's right to act: the shared ledger's lease, or one always held when
// the ledger is this process's alone (SQLite).
func leaseOf(cfg config.Store, store bot.Store) bot.Lease {
	if ls, ok := store.(bot.LeasedStore); ok {
		return ls.Lease(time.Duration(cfg.Lease))
	}
	return bot.SoleLease{}
}

// registerLeader exports whether this replica acts, so that an alert can fire when none does
// or, briefly during a takeover, two believe they do.
func registerLeader(reg prometheus.Registerer, lease bot.Lease) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "casebot_leader",
		Help: "1 while this replica holds the lease and acts, 0 while it stands by.",
	}, func() float64 {
		if lease.Held() {
			return 1
		}
		return 0
	}))
}

// lead runs act while this replica holds the lease, renewing it every third of its term, and
// stands by, trying to take it over as often, while another does. It returns when ctx is done,
// or with act's error when act ends by itself.
func (d *daemon) lead(ctx context.Context, lease bot.Lease, act func(context.Context) error) error {
	if _, ok := lease.(bot.SoleLease); ok {
		return act(ctx)
	}
	every := time.Duration(d.cfg.Store.Lease) / 3
	standby := true
	for {
		held, err := lease.Acquire(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			d.log.Warn("lease: cannot reach the ledger; standing by", "error", err)
		case held:
			d.log.Info("lease acquired: acting")
			ended, err := d.hold(ctx, lease, every, act)
			if ended || ctx.Err() != nil {
				return err
			}
			d.log.Warn("lease lost: another replica acts; standing by", "error", err)
			standby = true
		case standby:
			d.log.Info("standing by: another replica holds the lease")
			standby = false // said once, not at every try
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// hold runs act until the lease is lost or ctx is done, and waits for act to stop. ended says
// that act stopped by itself; err is act's error however it stopped. A failed renewal keeps acting while the lease is not
// due to expire: the database may be back before then.
func (d *daemon) hold(ctx context.Context, lease bot.Lease, every time.Duration, act func(context.Context) error) (ended bool, err error) {
	actx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- act(actx) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return ctx.Err() == nil, err
		case <-ctx.Done():
			return false, <-done
		case <-tick.C:
		}
		// Held first: after a pause past the term, stop before anything else is tried.
		held := lease.Held()
		if held {
			var err error
			if held, err = lease.Acquire(ctx); err != nil {
				d.log.Warn("lease: renewal failed", "error", err)
				held = lease.Held()
			}
		}
		if !held {
			stop()
			return false, <-done
		}
	}
}

// errNotLeader is what an effect attempted without the lease returns: retryable, so that the
// replica that holds the lease performs it (its recovery asks the provider first).
var errNotLeader = &bot.Error{Op: "act", Code: "lease_lost", Message: "this replica no longer holds the lease: nothing was sent", Retryable: true}

// bounded returns ctx ending when the lease does unless renewed, and whether the lease is
// held: a call, with the retries a connector makes within it, ends with the lease instead of
// sending a request that could land after a takeover.
func bounded(ctx context.Context, lease bot.Lease) (context.Context, context.CancelFunc, bool) {
	if !lease.Held() {
		return ctx, func() {}, false
	}
	if until := lease.Until(); !until.IsZero() {
		c, cancel := context.WithDeadline(ctx, until)
		return c, cancel, true
	}
	return ctx, func() {}, true
}

// The guarded connectors refuse the engine's writes to Salesforce, Slack, mail and HTTP while
// the lease is not held by this process's clock. The database refuses ledger writes after a
// takeover, but a replica resumed after a pause would otherwise send the effects it had
// claimed before recording that it cannot: the new leader recovers and sends them too.
type (
	guardedCRM struct {
		bot.CRM
		lease bot.Lease
	}
	// guardedSalesforce is a guarded CRM that also takes in mail: intake's cases and logged
	// mails are writes too.
	guardedSalesforce struct {
		guardedCRM
		bot.IntakeCRM
	}
	guardedChat struct {
		bot.Chat
		lease bot.Lease
	}
	guardedThreads struct {
		bot.Threads
		lease bot.Lease
	}
	guardedMailer struct {
		bot.Mailer
		lease bot.Lease
	}
	guardedCaller struct {
		bot.Caller
		lease bot.Lease
	}
)

// guard runs call, bounded by the lease, or refuses it when the lease is not held.
func guard[T any](ctx context.Context, lease bot.Lease, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel, held := bounded(ctx, lease)
	if !held {
		var zero T
		return zero, errNotLeader
	}
	defer cancel()
	return call(ctx)
}

// guardErr is guard for a call that returns only an error.
func guardErr(ctx context.Context, lease bot.Lease, call func(context.Context) error) error {
	_, err := guard(ctx, lease, func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx) })
	return err
}

func (g guardedCRM) Apply(ctx context.Context, ws []bot.Write) ([]bot.WriteResult, error) {
	return guard(ctx, g.lease, func(ctx context.Context) ([]bot.WriteResult, error) { return g.CRM.Apply(ctx, ws) })
}

func (g guardedSalesforce) LogMails(ctx context.Context, ws []bot.MailWrite) []bot.MailResult {
	ctx, cancel, held := bounded(ctx, g.lease)
	if !held {
		res := make([]bot.MailResult, len(ws))
		for i := range res {
			res[i].Err = errNotLeader
		}
		return res
	}
	defer cancel()
	return g.IntakeCRM.LogMails(ctx, ws)
}

func (g guardedChat) Post(ctx context.Context, m bot.Message) (string, error) {
	return guard(ctx, g.lease, func(ctx context.Context) (string, error) { return g.Chat.Post(ctx, m) })
}

func (g guardedThreads) Post(ctx context.Context, m bot.Message) (string, error) {
	return guard(ctx, g.lease, func(ctx context.Context) (string, error) { return g.Threads.Post(ctx, m) })
}

func (g guardedThreads) PostRoot(ctx context.Context, channel string, c bot.Checklist) (string, error) {
	return guard(ctx, g.lease, func(ctx context.Context) (string, error) { return g.Threads.PostRoot(ctx, channel, c) })
}

func (g guardedThreads) Update(ctx context.Context, channel, ts string, c bot.Checklist) error {
	return guardErr(ctx, g.lease, func(ctx context.Context) error { return g.Threads.Update(ctx, channel, ts, c) })
}

func (g guardedThreads) Reply(ctx context.Context, threadTS string, m bot.Message) (string, error) {
	return guard(ctx, g.lease, func(ctx context.Context) (string, error) { return g.Threads.Reply(ctx, threadTS, m) })
}

func (g guardedMailer) Send(ctx context.Context, m bot.Mail) (string, error) {
	return guard(ctx, g.lease, func(ctx context.Context) (string, error) { return g.Mailer.Send(ctx, m) })
}

func (g guardedCaller) Call(ctx context.Context, key string, c bot.HTTPCall) (map[string]any, error) {
	return guard(ctx, g.lease, func(ctx context.Context) (map[string]any, error) { return g.Caller.Call(ctx, key, c) })
}

// guardEffects returns the engine's connectors guarded by lease; unchanged under a lease
// always held. A Slack chat stays one that keeps threads, and a CRM that takes in mail one
// that does: intake writes through them too.
func guardEffects(lease bot.Lease, crm bot.CRM, chat bot.Chat, mailer bot.Mailer, caller bot.Caller) (bot.CRM, bot.Chat, bot.Mailer, bot.Caller) {
	if _, ok := lease.(bot.SoleLease); ok {
		return crm, chat, mailer, caller
	}
	if th, ok := chat.(bot.Threads); ok {
		chat = guardedThreads{th, lease}
	} else {
		chat = guardedChat{chat, lease}
	}
	if sf, ok := crm.(bot.IntakeCRM); ok {
		crm = guardedSalesforce{guardedCRM{crm, lease}, sf}
	} else {
		crm = guardedCRM{crm, lease}
	}
	return crm, chat, guardedMailer{mailer, lease}, guardedCaller{caller, lease}
}

// leadOnce takes the lease for `casebot once`, which acts only when no replica does: its
// writes are fenced like a daemon's. It runs act while it holds it, renewing it every third
// of its term, so that a cycle longer than the lease keeps acting; losing it stops act.
func (d *daemon) leadOnce(ctx context.Context, act func(context.Context) error) error {
	held, err := d.lease.Acquire(ctx)
	if err != nil {
		return err
	}
	if !held {
		return errors.New("another replica holds the lease of the ledger and acts: once runs only when none does")
	}
	if _, ok := d.lease.(bot.SoleLease); ok {
		return act(ctx)
	}
	ended, err := d.hold(ctx, d.lease, time.Duration(d.cfg.Store.Lease)/3, act)
	if !ended && ctx.Err() == nil {
		return errors.Join(errors.New("the lease was lost (another replica took over, or the ledger was unreachable for its term): this run stopped; the next run or replica does the rest"), err)
	}
	return err
}

// release gives the lease up when the daemon or once ends, so that a standby replica takes
// over at once. Not with ctx, which is done by then.
func (d *daemon) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.lease.Release(ctx); err != nil {
		d.log.Warn("lease: not released; another replica takes over when it expires", "error", err)
	}
}
