package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"casebot/bot"
	"casebot/bot/intake"
	"casebot/connectors/imap"
	"casebot/connectors/imap/dovecot"
	"casebot/connectors/imap/message"
	"casebot/connectors/salesforce"
	"casebot/connectors/sqlite"
	"casebot/rules"
	"casebot/rules/playbooks"
	"casebot/templates"
)

// authServID is the receiving server whose Authentication-Results the benchmarks' intake
// trusts.
const authServID = "mx.casebot.bench"

// BenchmarkIntakeLatency runs mail intake (intake.Run, waiting for mail with IDLE) over a real
// Dovecot and the sandbox, and delivers requests one at a time, each from an account of its
// own and each once intake is idle again. It reports, at the median and the 99th percentile,
// the time from the start of a request's delivery (its APPEND) to its case existing in
// Salesforce (the sandbox answered the call that opened it: case-*), and to the end of its
// intake (recorded in the ledger and moved to Processed: done-*); and how the first splits:
// from delivery until IDLE woke intake and it began to fetch (wake-*: Dovecot's part), and
// from then until the case existed (wake-to-case-*: casebot's and Salesforce's). One request
// before them warms up (the Salesforce login) and is not counted.
func BenchmarkIntakeLatency(b *testing.B) {
	const k = 50
	for range b.N {
		b.StopTimer()
		w := intakeWorld(b, k+1)
		ctx, cancel := context.WithCancel(b.Context())
		ran := make(chan error, 1)
		go func() { ran <- w.in.Run(ctx) }()
		deliver := w.deliverer(b)
		var wakeTook, takeTook, caseTook, doneTook []time.Duration
		for i := range k + 1 {
			select { // idle: waiting for mail in IDLE
			case <-w.mailbox.waiting:
			case <-time.After(time.Minute):
				b.Fatalf("intake did not wait for mail again after request %d", i)
			}
			time.Sleep(50 * time.Millisecond)
			if i > 0 {
				b.StartTimer()
			}
			start := time.Now()
			deliver(request(i))
			opened, moved := when(b, w.crm.opened, i), when(b, w.mailbox.moved, i)
			b.StopTimer()
			if i > 0 {
				wakeTook, takeTook = append(wakeTook, moved.fetched.Sub(start)), append(takeTook, opened.Sub(moved.fetched))
				caseTook, doneTook = append(caseTook, opened.Sub(start)), append(doneTook, moved.at.Sub(start))
			}
		}
		cancel()
		<-ran
		w.check(b, k+1)
		b.ReportMetric(ms(percentile(wakeTook, 50)), "wake-p50-ms")
		b.ReportMetric(ms(percentile(wakeTook, 99)), "wake-p99-ms")
		b.ReportMetric(ms(percentile(takeTook, 50)), "wake-to-case-p50-ms")
		b.ReportMetric(ms(percentile(takeTook, 99)), "wake-to-case-p99-ms")
		b.ReportMetric(ms(percentile(caseTook, 50)), "case-p50-ms")
		b.ReportMetric(ms(percentile(caseTook, 99)), "case-p99-ms")
		b.ReportMetric(ms(percentile(doneTook, 50)), "done-p50-ms")
		b.ReportMetric(ms(percentile(doneTook, 99)), "done-p99-ms")
	}
}

// when waits for what events tells of request i.
func when[T any](b *testing.B, events chan T, i int) T {
	b.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(time.Minute):
		b.Fatalf("request %d was not taken in within a minute", i)
		var zero T
		return zero
	}
}

// BenchmarkIntakeBacklog delivers 1,000 requests, from 1,000 accounts, while intake is not
// running, then times intake.Step until the mailbox is empty: the backlog a restart after an
// outage finds. Against it, in the same run, the same 1,000 messages are fetched from the
// same Dovecot with the bare IMAP client: one UID FETCH BODY.PEEK[] of them all.
//
// It reports mails/s of both and their ratio, intake's Salesforce API calls per mail, its
// time split between waiting for Salesforce, for Dovecot and for the ledger, and the rest
// (casebot's own work: parsing, authenticating, classifying, encoding), and the process's
// peak resident memory during the intake.
func BenchmarkIntakeBacklog(b *testing.B) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		w := intakeWorld(b, n)
		deliver := w.deliverer(b)
		for i := range n {
			deliver(request(i))
		}

		fetchTook := plainFetch(b, w.dv, n)

		resetPeakRSS()
		ctx := b.Context()
		b.StartTimer()
		start := time.Now()
		read := 0
		for {
			rep, err := w.in.Step(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Read == 0 {
				break
			}
			read += rep.Read
		}
		took := time.Since(start)
		b.StopTimer()
		rss := peakRSS()
		if read != n {
			b.Fatalf("intake read %d messages, want %d", read, n)
		}
		w.check(b, n)

		sf, fetch, move, st := w.sf.spent, w.mailbox.fetching, w.mailbox.moving, w.store.spent
		b.ReportMetric(n/took.Seconds(), "intake-mails/s")
		b.ReportMetric(n/fetchTook.Seconds(), "fetch-mails/s")
		b.ReportMetric(took.Seconds()/fetchTook.Seconds(), "intake/fetch")
		b.ReportMetric(float64(w.sf.calls)/n, "sf-calls/mail")
		b.ReportMetric(sf.Seconds(), "salesforce-s/op")
		b.ReportMetric(fetch.Seconds(), "imap-fetch-s/op")
		b.ReportMetric(move.Seconds(), "imap-move-s/op")
		b.ReportMetric(st.Seconds(), "ledger-s/op")
		b.ReportMetric((took - sf - fetch - move - st).Seconds(), "casebot-s/op")
		if rss > 0 {
			b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
		}
	}
}

// mailWorld is intake over a Dovecot and the sandbox, with accounts that have no case, and
// what it measures.
type mailWorld struct {
	dv      *dovecot.Server
	admin   *salesforce.CRM // the benchmark's own client: setting up and checking
	in      *intake.Intake
	mailbox *watchedMailbox
	crm     openedHook
	sf      *countingTransport
	store   *timedLedger
}

// intakeWorld starts a Dovecot and the sandbox, creates n accounts of their own mail domains
// (in batches of 200), and assembles intake as the daemon does (bot/cli's newIntake): the
// shipped playbooks and intake rules, the SQLite ledger on disk, no acknowledgements (the
// customer removal playbook sends its own) and no Slack.
func intakeWorld(b *testing.B, n int) *mailWorld {
	b.Helper()
	ctx := b.Context()
	dv := dovecot.Start(b)
	url, _ := startSandbox(b)
	w := &mailWorld{dv: dv, admin: sandboxCRM(b, url, http.DefaultTransport), sf: &countingTransport{next: http.DefaultTransport}}
	for from := 0; from < n; from += 200 {
		var accounts []bot.Write
		for i := from; i < min(from+200, n); i++ {
			accounts = append(accounts, bot.Write{Op: bot.OpCreate, Object: "Account", Fields: bot.Fields{
				"Name": fmt.Sprintf("Mailco %04d", i), "Type": "Customer - Direct", "AccountNumber": fmt.Sprintf("MC-%04d", i),
				"Email_Domains__c": domain(i), "Time_Zone__c": "Europe/Berlin"}})
		}
		apply(b, w.admin, accounts)
	}

	sf := sandboxCRM(b, url, w.sf)
	w.crm = openedHook{IntakeCRM: sf, opened: make(chan time.Time, n)}
	mb, err := imap.New(imap.Options{Addr: dv.Addr(), TLS: "none", Username: dv.User(), Password: dv.Password()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mb.Close() })
	w.mailbox = &watchedMailbox{Mailbox: mb, moved: make(chan moved, n), waiting: make(chan struct{}, 1)}
	ledger, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ledger.Close() })
	w.store = &timedLedger{Store: ledger}
	tmpl, err := templates.Default()
	if err != nil {
		b.Fatal(err)
	}
	pbs, rs, err := rules.LoadWithIntake(playbooks.FS, rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	w.in, err = intake.New(intake.Options{Mailbox: w.mailbox, CRM: sf, Salesforce: w.crm, Store: w.store,
		Rules: rs, Playbooks: pbs, Templates: tmpl,
		Parse: func(raw []byte) (bot.ParsedMail, error) { return message.Parse(raw, message.Options{}) },
		Authenticate: func(ctx context.Context, raw []byte) bot.MailAuth {
			return message.Authenticate(ctx, raw, message.AuthOptions{TrustedAuthServID: authServID})
		}})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

func domain(i int) string { return fmt.Sprintf("mailco%04d.example", i) }

// request is the termination request of account i (about 1.5 KB): the customer removal rule's
// subject, an exit reason, and the receiving server's dmarc=pass for the sender's domain. It
// has no DKIM signature, so authenticating it asks DNS nothing.
func request(i int) []byte {
	d := domain(i)
	var s strings.Builder
	fmt.Fprintf(&s, "Authentication-Results: %s; dmarc=pass header.from=%s; spf=pass smtp.mailfrom=%s\r\n", authServID, d, d)
	fmt.Fprintf(&s, "Received: from mail.%s (mail.%s [192.0.2.%d]) by %s with ESMTPS id %06d; Thu, 03 Dec 2026 10:00:01 +0100\r\n",
		d, d, i%250+1, authServID, i)
	fmt.Fprintf(&s, "From: Nora Example <nora@%s>\r\nTo: terminations@vendor.example\r\nSubject: Termination of service\r\n", d)
	fmt.Fprintf(&s, "Message-ID: <req-%04d@%s>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\n", i, d)
	s.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	s.WriteString("Hello,\r\n\r\nwe want to end the service at the end of our current term, and ask you to\r\n" +
		"remove our company from our partner's account.\r\n\r\nExit reason: we are moving to another provider\r\n\r\n" +
		"Data migration plan: we export our records ourselves before the end of the month and need\r\n" +
		"no help from your side for it.\r\n\r\nPlease confirm the date of the removal and what you need from us.\r\n\r\n" +
		"Kind regards,\r\nNora Example\r\nIT Operations\r\n")
	s.WriteString(strings.Repeat("-- \r\nThis message and its attachments are confidential and meant for their addressees only.\r\n", 5))
	return []byte(s.String())
}

// deliverer returns a function that delivers a mail to the INBOX as an MTA's local delivery
// would, with IMAP APPEND over a connection of its own (doveadm save, one process a mail,
// would take longer than the intake it feeds).
func (w *mailWorld) deliverer(b *testing.B) func(raw []byte) {
	b.Helper()
	c := dial(b, w.dv)
	return func(raw []byte) {
		cmd := c.Append("INBOX", int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			b.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// dial logs in to Dovecot with the bare IMAP client.
func dial(b *testing.B, dv *dovecot.Server) *imapclient.Client {
	b.Helper()
	c, err := imapclient.DialInsecure(dv.Addr(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.Login(dv.User(), dv.Password()).Wait(); err != nil {
		b.Fatal(err)
	}
	return c
}

// plainFetch reads the n messages of the INBOX as plainly as IMAP can: connect, log in,
// select, one UID FETCH 1:* BODY.PEEK[]. It returns how long that took.
func plainFetch(b *testing.B, dv *dovecot.Server, n int) time.Duration {
	b.Helper()
	start := time.Now()
	c := dial(b, dv)
	if _, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	body := &goimap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(goimap.UIDSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{UID: true,
		BodySection: []*goimap.FetchItemBodySection{body}}).Collect()
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if len(msgs) != n || len(msgs[n-1].FindBodySection(body)) == 0 {
		b.Fatalf("the plain fetch read %d messages, want %d with their bodies", len(msgs), n)
	}
	return took
}

// check verifies that the first n requests are each logged on a case of its own, and that the
// INBOX is empty.
func (w *mailWorld) check(b *testing.B, n int) {
	b.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("<req-%04d@%s>", i, domain(i))
	}
	logged, err := w.admin.MailCases(b.Context(), ids)
	if err != nil {
		b.Fatal(err)
	}
	cases := map[string]bool{}
	for _, id := range ids {
		if logged[id] == "" {
			b.Fatalf("%s is logged on no case", id)
		}
		cases[logged[id]] = true
	}
	if len(cases) != n {
		b.Fatalf("%d requests opened %d cases", n, len(cases))
	}
	if left := w.dv.Messages(b, "INBOX"); len(left) != 0 {
		b.Fatalf("%d messages left in the INBOX", len(left))
	}
}

// openedHook tells when a case was opened: when Salesforce answered the call that opened it.
type openedHook struct {
	bot.IntakeCRM
	opened chan time.Time
}

func (h openedHook) LogMails(ctx context.Context, ws []bot.MailWrite) []bot.MailResult {
	res := h.IntakeCRM.LogMails(ctx, ws)
	for i, r := range res {
		if r.Err == nil && ws[i].CaseID == "" {
			h.opened <- time.Now()
		}
	}
	return res
}

// watchedMailbox times intake's IMAP commands (outside IDLE), tells when a message was moved
// out of the INBOX, and when intake waits for mail.
type watchedMailbox struct {
	bot.Mailbox
	fetching, moving time.Duration // spent in Fetch and in Move
	fetched          time.Time     // when the last Fetch began
	moved            chan moved
	waiting          chan struct{}
}

func (m *watchedMailbox) Fetch(ctx context.Context, folder string, after bot.MailboxPosition, limit int) ([]bot.InboundMessage, uint32, error) {
	m.fetched = time.Now()
	defer func() { m.fetching += time.Since(m.fetched) }()
	return m.Mailbox.Fetch(ctx, folder, after, limit)
}

func (m *watchedMailbox) Move(ctx context.Context, folder string, uidValidity uint32, uids []uint32, to string) error {
	start := time.Now()
	err := m.Mailbox.Move(ctx, folder, uidValidity, uids, to)
	end := time.Now()
	m.moving += end.Sub(start)
	if err == nil {
		for range uids {
			m.moved <- moved{fetched: m.fetched, at: end}
		}
	}
	return err
}

// moved is when a message was moved out, and when the Fetch that read it began.
type moved struct{ fetched, at time.Time }

func (m *watchedMailbox) Wait(ctx context.Context, folder string) error {
	select {
	case m.waiting <- struct{}{}:
	default:
	}
	return m.Mailbox.Wait(ctx, folder)
}

// timedLedger times intake's use of the ledger.
type timedLedger struct {
	bot.Store
	spent time.Duration
}

func (s *timedLedger) time(start time.Time) { s.spent += time.Since(start) }

func (s *timedLedger) Entries(ctx context.Context, caseIDs []string) (map[string]bot.Ledger, error) {
	defer s.time(time.Now())
	return s.Store.Entries(ctx, caseIDs)
}

func (s *timedLedger) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	defer s.time(time.Now())
	return s.Store.Record(ctx, es...)
}

func (s *timedLedger) Position(ctx context.Context, mailbox string) (bot.MailboxPosition, error) {
	defer s.time(time.Now())
	return s.Store.Position(ctx, mailbox)
}

func (s *timedLedger) SetPosition(ctx context.Context, mailbox string, p bot.MailboxPosition) error {
	defer s.time(time.Now())
	return s.Store.SetPosition(ctx, mailbox, p)
}

// countingTransport counts Salesforce's API calls (its data API, not the login) and times
// every request.
type countingTransport struct {
	next  http.RoundTripper
	mu    sync.Mutex
	calls int
	spent time.Duration
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		// The body is read after RoundTrip returns: its time is counted as the caller's.
		resp.Body = &timedBody{resp.Body, t}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spent += time.Since(start)
	if strings.HasPrefix(r.URL.Path, "/services/data/") {
		t.calls++
	}
	return resp, err
}

// timedBody adds the time a response's body takes to arrive, up to its end, to its transport.
type timedBody struct {
	io.ReadCloser
	t *countingTransport
}

func (b *timedBody) Read(p []byte) (int, error) {
	start := time.Now()
	n, err := b.ReadCloser.Read(p)
	b.t.mu.Lock()
	b.t.spent += time.Since(start)
	b.t.mu.Unlock()
	return n, err
}

// percentile is the p-th percentile of ds by nearest rank.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max((len(s)*p+99)/100-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// resetPeakRSS returns what memory it can to the system and starts peakRSS anew from there
// (Linux: 5 to clear_refs resets VmHWM).
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the process's peak resident memory (VmHWM) in bytes; 0 where unknown.
func peakRSS() int64 {
	kb, _ := statusKB("self", "VmHWM")
	return kb << 10
}

// statusKB reads a field in kB of /proc/PROC/status (PROC: a pid or self).
func statusKB(proc, field string) (int64, error) {
	status, err := os.ReadFile("/proc/" + proc + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%s/status", field, proc)
}
