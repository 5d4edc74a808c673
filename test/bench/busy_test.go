// Package bench holds casebot's benchmarks against the sandbox over HTTP.
package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"casebot/bot"
	"casebot/bot/engine"
	"casebot/config"
	"casebot/connectors/endpoint"
	"casebot/connectors/salesforce"
	"casebot/connectors/smtp"
	"casebot/connectors/sqlite"
	"casebot/rules"
	"casebot/rules/playbooks"
	"casebot/templates"
	"casebot/test/testbin"
)

// binary is the casebot binary, built once for the benchmarks.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" {
		os.Exit(m.Run()) // no benchmark asked for (make test): nothing needs the binary
	}
	testbin.Main(m, &binary, "")
}

// busy measures the wall time during which at least one call is in flight: calls made at the
// same time (the engine decides the next chunk of cases while it performs this one) count once.
type busy struct {
	mu    sync.Mutex
	n     int
	since time.Time
	spent time.Duration
	calls int
}

func (b *busy) start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 {
		b.since = time.Now()
	}
	b.n++
	b.calls++
}

func (b *busy) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n--; b.n == 0 {
		b.spent += time.Since(b.since)
	}
}

// waiting tracks the calls to one provider and, with them, the calls to any.
type waiting struct{ own, any *busy }

// time starts timing a call and returns what ends it.
func (w waiting) time() func() {
	w.own.start()
	w.any.start()
	return func() {
		w.own.stop()
		w.any.stop()
	}
}

// timedTransport times Salesforce's answers: from the request, encoded, until its answer is
// read (before it is decoded), and counts the requests.
type timedTransport struct {
	http.RoundTripper
	waiting
}

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	stop := t.time()
	resp, err := t.RoundTripper.RoundTrip(r)
	if err != nil {
		stop()
		return nil, err
	}
	resp.Body = &readAnswer{ReadCloser: resp.Body, stop: stop}
	return resp, nil
}

// readAnswer stops its answer's timing when it is read to the end or closed.
type readAnswer struct {
	io.ReadCloser
	stop    func()
	stopped bool
}

func (b *readAnswer) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *readAnswer) Close() error {
	b.end()
	return b.ReadCloser.Close()
}

func (b *readAnswer) end() {
	if !b.stopped {
		b.stopped = true
		b.stop()
	}
}

type timedCaller struct {
	bot.Caller
	waiting
}

func (c timedCaller) Call(ctx context.Context, key string, call bot.HTTPCall) (map[string]any, error) {
	defer c.time()()
	return c.Caller.Call(ctx, key, call)
}

type timedMailer struct {
	bot.Mailer
	waiting
}

func (m timedMailer) Send(ctx context.Context, mail bot.Mail) (string, error) {
	defer m.time()()
	return m.Mailer.Send(ctx, mail)
}

// discard is a chat that posts to nowhere and keeps no threads: Slack takes about one message
// a second and channel, so a busy cycle's threads (a root a case and channel, edited as steps
// complete) wait for Slack, not for casebot or Salesforce, and are left out of the benchmark.
type discard struct{}

func (discard) Post(context.Context, bot.Message) (string, error)               { return "1.000001", nil }
func (discard) Find(context.Context, string, string, time.Time) (string, error) { return "", nil }

// countingStore counts the ledger's write transactions and the entries they carry.
type countingStore struct {
	bot.Store
	transactions, entries, payload int
	mails                          int // transactions that record a relay's acceptance of a mail
}

func (s *countingStore) Record(ctx context.Context, es ...bot.LedgerEntry) error {
	if slices.ContainsFunc(es, func(e bot.LedgerEntry) bool {
		return e.State == bot.StateClaimed && strings.Contains(e.Result, "sent=")
	}) {
		s.mails++
	}
	s.transactions++
	s.entries += len(es)
	for _, e := range es {
		s.payload += len(e.Payload)
	}
	return s.Store.Record(ctx, es...)
}

// BenchmarkBusyCycle runs busy cycles of the termination SOP over N cases against the
// sandbox, with the SQLite ledger on disk:
//
//   - backlog: Legal confirmed every case five days before and nothing ran since, so attrition,
//     notice, tasks and deactivation all come due in one cycle;
//   - day: the cycles before have run, and the next step of every case comes due (the day-2
//     termination notice: a mail, a status, Slack posts).
//
// It reports the ledger's write transactions per cycle (the batches of the cycle's passes and
// phases, and one per mail the relay accepted) against the entries they carry, and the cycle's
// time split between waiting for Salesforce (the sandbox's answers, over HTTP), waiting for the
// endpoints and the relay, and casebot.
func BenchmarkBusyCycle(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, kind := range []string{"backlog", "day"} {
			b.Run(fmt.Sprintf("cases=%d/%s", n, kind), func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					w := busyWorld(b, n)
					if kind == "day" {
						w.now = w.day0.AddDate(0, 0, 1).Add(15 * time.Hour)
					}
					// Cycle at each next due time until the one where every case moves: the cases
					// of the sandbox's other playbooks may come due between.
					var (
						rep  engine.Report
						took time.Duration
						err  error
					)
					for range 20 {
						w.reset()
						b.StartTimer()
						start := time.Now()
						rep, err = w.eng.Cycle(b.Context())
						took = time.Since(start)
						b.StopTimer()
						if err != nil {
							b.Fatal(err)
						}
						if kind == "backlog" || rep.Done >= n || rep.Next.IsZero() {
							break
						}
						w.now = rep.Next
					}
					if most := map[string]int{"backlog": 4 * n, "day": n}[kind]; rep.Done < most {
						b.Fatalf("%+v: not a busy cycle", rep)
					}
					store := w.store
					b.ReportMetric(float64(store.transactions), "ledger-tx/op")
					b.ReportMetric(float64(store.mails), "ledger-mail-tx/op")
					b.ReportMetric(float64(store.entries), "ledger-entries/op")
					b.ReportMetric(float64(store.payload)/float64(n), "payload-bytes/case")
					b.ReportMetric(w.sf.spent.Seconds(), "salesforce-s/op")
					b.ReportMetric(w.others.spent.Seconds(), "endpoints+relay-s/op")
					b.ReportMetric((took - w.any.spent).Seconds(), "casebot-s/op")
					b.ReportMetric(float64(w.sf.calls), "salesforce-requests/op")
				}
			})
		}
	}
}

// world is a busy cycle's engine over the sandbox, with what it measures.
type world struct {
	eng   *engine.Engine
	day0  time.Time // when Legal confirmed every case
	now   time.Time // the engine's clock, 15:00 UTC five days after day0 unless set
	store *countingStore
	// Wall time with a call in flight: to Salesforce, to the endpoints or the relay, to any.
	sf, others, any *busy
}

// reset forgets what was measured so far.
func (w *world) reset() {
	*w.store = countingStore{Store: w.store.Store}
	*w.sf, *w.others, *w.any = busy{}, busy{}, busy{}
}

// busyWorld seeds a sandbox with n SOP cases confirmed today and returns an engine over it at
// 15:00 UTC five days later.
func busyWorld(b *testing.B, n int) *world {
	b.Helper()
	ctx := b.Context()
	// The sandbox's clock is the real one (its records' CreatedDate): Legal confirms today,
	// and the cycle runs as if five days later.
	day0 := time.Now().UTC().Truncate(24 * time.Hour)
	w := &world{day0: day0, now: day0.AddDate(0, 0, 5).Add(15 * time.Hour)}
	w.sf, w.others, w.any = &busy{}, &busy{}, &busy{}
	sandboxURL, _ := startSandbox(b)
	cfg, err := config.Example(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	sf := sandboxCRM(b, sandboxURL, timedTransport{http.DefaultTransport, waiting{w.sf, w.any}})
	seedTermination(b, sf, n, day0)

	services := standIn(b)
	eps := map[string]endpoint.Endpoint{}
	for name := range cfg.Endpoints {
		eps[name] = endpoint.Endpoint{URL: services}
	}
	caller, err := endpoint.New(endpoint.Options{Endpoints: eps})
	if err != nil {
		b.Fatal(err)
	}
	mailer, err := smtp.New(smtp.Options{Out: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := templates.Default()
	if err != nil {
		b.Fatal(err)
	}
	pbs, err := rules.Load(playbooks.FS, rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ledger, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ledger.Close() })
	roles := map[string]engine.Role{}
	for name, r := range cfg.Roles {
		roles[name] = engine.Role{User: r.User, Queue: r.Queue, Channel: r.Slack, Emails: r.Email, Field: r.Field}
	}
	w.store = &countingStore{Store: ledger}
	crm, store := sf, w.store
	others := waiting{w.others, w.any}
	w.eng, err = engine.New(engine.Options{CRM: crm, Store: store, Chat: discard{},
		Mailer: timedMailer{mailer, others}, Caller: timedCaller{caller, others}, Playbooks: pbs, Templates: tmpl, Roles: roles,
		Now: func() time.Time { return w.now }})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// seedTermination creates n accounts and an open case of the termination SOP on each, 200 to
// a call (sObject Collections): Legal confirmed every case on day0, the contract ends 40 days
// after and the de-provision date is 28 days after.
func seedTermination(b *testing.B, crm bot.CRM, n int, day0 time.Time) {
	b.Helper()
	var accounts []bot.Write
	for i := range n {
		accounts = append(accounts, bot.Write{Op: bot.OpCreate, Object: "Account", Fields: bot.Fields{
			"Name": fmt.Sprintf("Customer %05d", i), "Type": "Customer - Direct", "Time_Zone__c": "America/New_York",
			"Customer_Attrition__c": false, "Tenant_Id__c": fmt.Sprintf("tenant-%05d", i)}})
	}
	ids := apply(b, crm, accounts)
	var cases []bot.Write
	for i, id := range ids {
		cases = append(cases, bot.Write{Op: bot.OpCreate, Object: "Case", Fields: bot.Fields{
			"AccountId": id, "Type": "Termination", "Origin": "Email", "Status": "New",
			"Subject": fmt.Sprintf("Termination: Customer %05d", i), "SuppliedEmail": fmt.Sprintf("it@customer%05d.example", i),
			"Termination_Confirmed__c": day0.Format(bot.DateLayout), "Contract_End_Date__c": day0.AddDate(0, 0, 40).Format(bot.DateLayout),
			"Deprovision_Date__c": day0.AddDate(0, 0, 28).Add(22 * time.Hour).Format(bot.DateTimeLayout)}})
	}
	apply(b, crm, cases)
}

// sandboxCRM logs in to the sandbox at url with its demo client credentials, over rt.
func sandboxCRM(b *testing.B, url string, rt http.RoundTripper) *salesforce.CRM {
	b.Helper()
	c, err := salesforce.New(salesforce.Options{LoginURL: url, Grant: salesforce.GrantClientCredentials,
		ClientID: "casebot-sandbox", ClientSecret: "sandbox-secret", HTTPClient: &http.Client{Transport: rt, Timeout: time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	return salesforce.NewCRM(c)
}

// standIn serves every endpoint the playbooks' http actions call with one canned answer (what
// the provisioning, support and partner services answer that the playbooks read), and returns
// its URL.
func standIn(b *testing.B) string {
	b.Helper()
	services := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"guids": ["guid-1", "guid-2"], "caseNumber": "SUP-04101", "deactivatedAt": "2026-11-06T15:00:00Z", "remaining": 26}`)
	}))
	b.Cleanup(services.Close)
	return services.URL
}

// startSandbox runs `casebot sandbox` in a process of its own, so that its work (and its
// garbage) is not counted as casebot's, and returns its URL and process.
func startSandbox(b *testing.B) (string, *os.Process) {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), binary, "sandbox", "-addr", "127.0.0.1:0", "-data", "", "-services", "")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "Salesforce sandbox on "); ok {
			go io.Copy(io.Discard, out)
			return url, cmd.Process
		}
	}
	b.Fatalf("casebot sandbox did not say where it listens: %v", sc.Err())
	return "", nil
}

// apply creates records and returns their ids.
func apply(b *testing.B, crm bot.CRM, ws []bot.Write) []string {
	b.Helper()
	res, err := crm.Apply(b.Context(), ws)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(res))
	for i, r := range res {
		if r.Err != nil {
			b.Fatalf("creating %s: %v", ws[i].Object, r.Err)
		}
		ids[i] = r.ID
	}
	return ids
}
