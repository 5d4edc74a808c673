package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// idleQueries are the queries of casebot's idle cycle with the four shipped playbooks, as an
// engine cycle against the sandbox sends them: one per playbook, nothing else when no case
// has anything due.
var idleQueries = []string{
	"SELECT Id, Active_Devices__c, Cancellation_Confirmed__c, CaseNumber, Commercial_Contact__c, Contract_End_Date__c, CreatedDate, " +
		"Devices_Checked_At__c, Pending_Matters__c, Status, Subject, SuppliedEmail, SuppliedName, Support_Case_Number__c, " +
		"Technical_Contact__c, Tenant_Deactivated_At__c, Termination_Hold__c, Uninstall_Confirmed__c, Uninstall_Evidence__c, " +
		"Uninstall_Instructions_Sent__c, Account.Id, Account.BillingCountry, Account.Name, Account.Tenant_Id__c, Account.Time_Zone__c, " +
		idleTasks + " FROM Case WHERE (Type = 'Partner Cancellation' AND IsClosed = false) ORDER BY Id",
	"SELECT Id, Alternative_Service__c, Billing_Mode_After__c, CaseNumber, Contract_End_Date__c, CreatedDate, Customer_Email__c, " +
		"Data_Migration_Plan__c, Description, Former_Partner__c, Notice_Given_Date__c, Notice_Period_Days__c, Origin, " +
		"Partner_Quota_Remaining__c, Removal_Confirmed__c, Removal_Effective_Date__c, Removal_Scenario__c, Settlements_Complete__c, " +
		"Status, Subject, SuppliedEmail, Termination_Hold__c, Termination_Reason__c, Account.Id, Account.BillingCountry, " +
		"Account.Billing_Mode__c, Account.Name, Account.Partner_Email__c, Account.Partner__c, Account.Time_Zone__c, " +
		idleTasks + " FROM Case WHERE (Type = 'Customer Removal' AND IsClosed = false) ORDER BY Id",
	"SELECT Id, Cancellation_Type__c, CaseNumber, Commitment_End_Date__c, CreatedDate, Data_Export_Required__c, " +
		"Exgestion_Quote_Accepted__c, New_Partner__c, Service_Withdrawal_Date__c, Status, Subject, SuppliedEmail, Termination_Hold__c, " +
		"Terms_Accepted__c, Account.Id, Account.BillingCountry, Account.MSP_Partner__c, Account.Name, Account.Partner_Email__c, " +
		"Account.Subscription_Start_Date__c, Account.Subscription_Status__c, Account.Time_Zone__c, " +
		idleTasks + " FROM Case WHERE (Type = 'MSP Cancellation' AND IsClosed = false) ORDER BY Id",
	idleTermination,
}

// idleTermination is the termination playbook's query, the one that reads every open case of
// the busy benchmark's org.
const idleTermination = "SELECT Id, CaseNumber, Contract_End_Date__c, CreatedDate, Data_Deletion_Approved__c, Deactivated_GUIDs__c, " +
	"Deletion_Window_Days__c, Deprovision_Date__c, Status, Subject, Termination_Confirmed__c, Termination_Hold__c, Account.Id, " +
	"Account.BillingCountry, Account.Customer_Attrition__c, Account.Name, Account.Tenant_Id__c, Account.Time_Zone__c, Account.Type, " +
	"Account.Owner.Email, " + idleTasks + " FROM Case WHERE (Type = 'Termination' AND IsClosed = false) ORDER BY Id"

const idleTasks = "(SELECT Id, Casebot_Key__c, Subject, Status, ActivityDate, IsClosed FROM Tasks WHERE Casebot_Key__c != null " +
	"ORDER BY Casebot_Key__c)"

// bigOrg is a sandbox with n open termination cases, each of its own account and with one
// task of casebot's, as the busy benchmark seeds them (test/bench), and a session for direct
// calls of its handler.
type bigOrg struct {
	sb    *Server
	token string
	batch string // the Sforce-Query-Options of queries; "" for pages of 2,000
}

func newBigOrg(tb testing.TB, n int) *bigOrg {
	tb.Helper()
	sb, err := New(Options{DailyLimit: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sb.Close() })
	day0 := time.Now().UTC().Truncate(24 * time.Hour)
	sb.mu.Lock()
	defer sb.mu.Unlock()
	user := sb.userByUsername(sb.opts.Username)
	t := sb.store.begin(time.Now(), user)
	create := func(object string, fields map[string]any) string {
		id, err := t.create(sb.schema.sobject(object), fields)
		if err != nil {
			tb.Fatalf("creating %s: %v", object, err)
		}
		return id
	}
	for i := range n {
		account := create("Account", map[string]any{"Name": fmt.Sprintf("Customer %05d", i), "Type": "Customer - Direct",
			"Time_Zone__c": "America/New_York", "Customer_Attrition__c": false, "Tenant_Id__c": fmt.Sprintf("tenant-%05d", i)})
		c := create("Case", map[string]any{"AccountId": account, "Type": "Termination", "Origin": "Email", "Status": "New",
			"Subject": fmt.Sprintf("Termination: Customer %05d", i), "SuppliedEmail": fmt.Sprintf("it@customer%05d.example", i),
			"Termination_Confirmed__c": day0.Format(dateLayout), "Contract_End_Date__c": day0.AddDate(0, 0, 40).Format(dateLayout),
			"Deprovision_Date__c": formatDateTime(day0.AddDate(0, 0, 28).Add(22 * time.Hour))})
		create("Task", map[string]any{"WhatId": c, "Subject": "Confirm customer attrition", "Casebot_Key__c": "termination/attrition/" + c})
	}
	if err := t.commit(sb.persist); err != nil {
		tb.Fatal(err)
	}
	sb.tokens["big-org-token"] = user
	return &bigOrg{sb: sb, token: "big-org-token"}
}

// get calls the handler directly, without a connection, and returns the status and body.
func (o *bigOrg) get(tb testing.TB, path string) (int, []byte) {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+o.token)
	if o.batch != "" {
		req.Header.Set("Sforce-Query-Options", o.batch)
	}
	rec := httptest.NewRecorder()
	o.sb.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// readAll reads every page of a query and returns how many records it got in how many calls.
// Only the pages' heads are decoded unless decode is set (the records' cost is the client's):
// records are then counted by their attributes.
func (o *bigOrg) readAll(tb testing.TB, soql string, decode bool) (records, calls int) {
	tb.Helper()
	path := "/services/data/v62.0/query?q=" + url.QueryEscape(soql)
	for path != "" {
		status, body := o.get(tb, path)
		calls++
		if status != http.StatusOK {
			tb.Fatalf("GET %s: %d %s", path, status, body)
		}
		var page queryResult
		if decode {
			if err := json.Unmarshal(body, &page); err != nil {
				tb.Fatalf("decoding a page: %v", err)
			}
		} else {
			head, recs, ok := bytes.Cut(body, []byte(`,"records":[`))
			if err := json.Unmarshal(append(head, '}'), &page); !ok || err != nil {
				tb.Fatalf("page head of %.200s: %v", body, err)
			}
			records += bytes.Count(recs, []byte(`{"attributes":{"type":"Case"`))
		}
		records += len(page.Records)
		path = page.NextRecordsURL
	}
	return records, calls
}

// idleCycle runs the queries of one idle cycle and returns the records read.
func (o *bigOrg) idleCycle(tb testing.TB) int {
	n := 0
	for _, q := range idleQueries {
		got, _ := o.readAll(tb, q, false)
		n += got
	}
	return n
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestIdleCyclesKeepMemoryFlat runs 100 idle cycles of casebot against an org of open cases
// and requires the sandbox's live heap after the last to be within 10% of that after the
// first: reads leave nothing behind (cursors, logs, caches). Pages of 200 make a small org
// take as many pages as a large one does; BenchmarkIdleCycles runs it at 50,000 cases.
func TestIdleCyclesKeepMemoryFlat(t *testing.T) {
	const cases, cycles = 1000, 100
	o := newBigOrg(t, cases)
	o.batch = "batchSize=200"
	if n, calls := o.readAll(t, idleTermination, true); n != cases || calls != 5 {
		t.Fatalf("full read: %d records in %d calls, want %d in 5", n, calls, cases)
	}
	var first uint64
	for i := 1; i <= cycles; i++ {
		if n := o.idleCycle(t); n != cases {
			t.Fatalf("cycle %d read %d cases, want %d", i, n, cases)
		}
		if i == 1 {
			first = heapInUse()
		}
	}
	last := heapInUse()
	t.Logf("live heap after cycle 1: %.1f MB, after cycle %d: %.1f MB", mb(first), cycles, mb(last))
	if float64(last) > 1.1*float64(first) {
		t.Errorf("live heap grew from %.1f MB after cycle 1 to %.1f MB after cycle %d: more than 10%%", mb(first), mb(last), cycles)
	}
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// benchOrgs runs bench as a sub-benchmark over orgs of 10,000 and 50,000 open cases.
func benchOrgs(b *testing.B, bench func(b *testing.B, o *bigOrg, cases int)) {
	for _, n := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			o := newBigOrg(b, n)
			b.ResetTimer()
			bench(b, o, n)
		})
	}
}

// BenchmarkFullRead reads every open case through query and nextRecordsUrl pages of 2,000,
// as casebot's full read does.
func BenchmarkFullRead(b *testing.B) {
	benchOrgs(b, func(b *testing.B, o *bigOrg, cases int) {
		for range b.N {
			if got, _ := o.readAll(b, idleTermination, false); got != cases {
				b.Fatalf("read %d cases, want %d", got, cases)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/read")
	})
}

// BenchmarkIdleCycles runs 100 idle cycles and reports the live heap and, where /proc tells
// it, the resident set after the first and the last.
func BenchmarkIdleCycles(b *testing.B) {
	benchOrgs(b, func(b *testing.B, o *bigOrg, _ int) {
		for range b.N {
			var first, firstRSS uint64
			for i := 1; i <= 100; i++ {
				o.idleCycle(b)
				if i == 1 {
					first, firstRSS = heapInUse(), rss()
				}
			}
			last, lastRSS := heapInUse(), rss()
			b.ReportMetric(mb(first), "MB-heap-cycle-1")
			b.ReportMetric(mb(last), "MB-heap-cycle-100")
			if firstRSS > 0 && lastRSS > 0 {
				b.ReportMetric(mb(firstRSS), "MB-RSS-cycle-1")
				b.ReportMetric(mb(lastRSS), "MB-RSS-cycle-100")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(100*b.N), "ms/cycle")
	})
}

// rss is the process's resident set in bytes, or 0 where /proc/self/status does not say.
func rss() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
