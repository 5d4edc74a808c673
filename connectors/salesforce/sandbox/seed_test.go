package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// What Seed creates, for the tests that count records or CaseNumbers after it.
const (
	seededCases = 11
	seededUsers = 20 // the API user and the teams
)

// caseNumber is the CaseNumber of the org's n-th case.
func caseNumber(n int) string { return fmt.Sprintf("%08d", firstCaseNumber+n) }

func TestSeedData(t *testing.T) {
	o := seededOrg(t) // testNow: 2026-11-21 15:00 UTC, already the 22nd in Tokyo
	res := o.query(`SELECT Subject, Status, Type, Origin, Priority, IsClosed, Contract_End_Date__c,
		Deprovision_Date__c, Termination_Confirmed__c, Owner.Username, Contact.Email,
		Account.Name, Account.Type, Account.Customer_Attrition__c, Account.Time_Zone__c, Account.Owner.Username,
		Account.Tenant_Id__c
		FROM Case WHERE Type IN ('Termination', 'Problem') ORDER BY CaseNumber`)
	type want struct {
		subject, status, typ, account, zone, accountType string
		attrition                                        bool
		contractEnd, deprovision, confirmed              any
	}
	wants := []want{
		{"Termination: Acme Corp", "New", "Termination", "Acme Corp", "America/New_York", "Customer - Direct", false,
			"2026-12-31", "2026-12-19T22:00:00.000+0000", "2026-11-21"},
		{"Termination: Globex GmbH", "New", "Termination", "Globex GmbH", "Europe/Berlin", "Customer - Channel", true,
			"2026-12-31", "2026-12-19T16:00:00.000+0000", "2026-11-21"},
		{"Termination: Initech KK", "New", "Termination", "Initech KK", "Asia/Tokyo", "Customer - Direct", false,
			"2027-01-01", "2026-12-20T08:00:00.000+0000", nil},
		{"Termination: Umbrella Ltd", "Closed", "Termination", "Umbrella Ltd", "Europe/London", "Customer - Direct", false,
			"2026-01-05", "2025-12-26T17:00:00.000+0000", "2025-11-26"},
		{"Login page times out", "New", "Problem", "Umbrella Ltd", "Europe/London", "Customer - Direct", false,
			nil, nil, nil},
	}
	if len(res.Records) != len(wants) {
		t.Fatalf("%d cases, want %d", len(res.Records), len(wants))
	}
	for i, w := range wants {
		c := res.Records[i]
		a := c["Account"].(map[string]any)
		got := want{c["Subject"].(string), c["Status"].(string), c["Type"].(string), a["Name"].(string),
			a["Time_Zone__c"].(string), a["Type"].(string), a["Customer_Attrition__c"].(bool),
			c["Contract_End_Date__c"], c["Deprovision_Date__c"], c["Termination_Confirmed__c"]}
		if got != w {
			t.Errorf("case %d:\n got %+v\nwant %+v", i, got, w)
		}
		if c["IsClosed"] != (w.status == "Closed") {
			t.Errorf("case %d IsClosed %v", i, c["IsClosed"])
		}
		if owner := c["Owner"].(map[string]any)["Username"]; owner != "om@example.test" {
			t.Errorf("case %d owner %v", i, owner)
		}
		if ae := a["Owner"].(map[string]any)["Username"]; ae != "ae@example.test" {
			t.Errorf("account %s owner %v", w.account, ae)
		}
		if c["Contact"] == nil {
			t.Errorf("case %d has no contact", i)
		}
		// The SOP's deactivation step calls the provisioning service with the tenant.
		if tenant, _ := a["Tenant_Id__c"].(string); tenant == "" {
			t.Errorf("account %s has no Tenant_Id__c", w.account)
		}
	}

	users := o.query("SELECT Username, Name, IsActive FROM User WHERE IsActive = true")
	if users.TotalSize != seededUsers {
		t.Errorf("%d active users, want %d", users.TotalSize, seededUsers)
	}
	var usernames []string
	for _, u := range users.Records {
		if u["Name"] == "" || u["Name"] == nil {
			t.Errorf("user without a name: %v", u)
		}
		usernames = append(usernames, u["Username"].(string))
	}
	// The users config/example.yaml gives the shipped playbooks' roles to.
	for _, name := range []string{"om", "legal", "finance", "customerops", "marketing", "salesops", "csops",
		"secops", "infra", "ae", "rvp", "csd", "bp", "mspsupport", "partnerops", "commercial", "partnermgr",
		"dpo", "compliance"} {
		if !slices.Contains(usernames, name+"@example.test") {
			t.Errorf("no active user %s@example.test", name)
		}
	}
	// Read through the store: this checks the seed, not whether SOQL accepts "FROM Group".
	o.sb.mu.Lock()
	groups := view{s: o.sb.store}.All("Group", false)
	o.sb.mu.Unlock()
	if len(groups) != 1 || groups[0]["Name"] != "Infrastructure Engineering Provisioning" || groups[0]["Type"] != "Queue" ||
		groups[0]["DeveloperName"] != "Infrastructure_Engineering_Provisioning" {
		t.Errorf("groups: %+v", groups)
	}
	if n := o.query("SELECT COUNT() FROM Contact").TotalSize; n != 4 {
		t.Errorf("%d contacts, want 4", n)
	}
	open := o.query("SELECT Id FROM Case WHERE Type = 'Termination' AND IsClosed = false")
	if open.TotalSize != 3 {
		t.Errorf("%d open termination cases, want 3", open.TotalSize)
	}
	if n := o.query("SELECT COUNT() FROM Case").TotalSize; n != seededCases {
		t.Errorf("%d cases, want %d", n, seededCases)
	}
}

// The other playbooks' cases, one per branch the demo shows, dated from testNow's date in
// each account's zone (the 21st in London, São Paulo and Paris).
func TestSeedPlaybookCases(t *testing.T) {
	o := seededOrg(t)
	res := o.query(`SELECT Subject, Type, Status, Origin, Owner.Username, SuppliedEmail, Account.Name
		FROM Case WHERE Type IN ('MSP Cancellation', 'Partner Cancellation', 'Customer Removal') ORDER BY CaseNumber`)
	wants := [][5]string{
		{"Cancel Northwind Traders", "MSP Cancellation", "Web", "mspsupport@example.test", "Northwind Traders"},
		{"Partner change: Fabrikam Ltd", "MSP Cancellation", "Web", "mspsupport@example.test", "Fabrikam Ltd"},
		{"Cancel Tailspin Toys", "MSP Cancellation", "Web", "mspsupport@example.test", "Tailspin Toys"},
		{"Contract cancellation: Tijuca Logistica", "Partner Cancellation", "Email", "partnerops@example.test", "Tijuca Logistica"},
		{"Please end our agent service", "Customer Removal", "Email", "partnermgr@example.test", "Lotus Trading"},
		{"Remove Orchid Studios: reseller agreement ends", "Customer Removal", "Web", "partnermgr@example.test", "Orchid Studios"},
	}
	if len(res.Records) != len(wants) {
		t.Fatalf("%d cases, want %d: %v", len(res.Records), len(wants), res.Records)
	}
	for i, w := range wants {
		c := res.Records[i]
		got := [5]string{c["Subject"].(string), c["Type"].(string), c["Origin"].(string),
			c["Owner"].(map[string]any)["Username"].(string), c["Account"].(map[string]any)["Name"].(string)}
		if got != w || c["Status"] != "New" || c["SuppliedEmail"] == nil {
			t.Errorf("case %d: got %v %v %v, want %v New", i, got, c["Status"], c["SuppliedEmail"], w)
		}
	}

	// MSP cancellation: 11 months and 10 days (eligible, in its commitment), 26 months (a
	// renewal) and 8 months (too early).
	msp := o.query(`SELECT Account.Name, Account.Subscription_Start_Date__c, Account.Subscription_Status__c,
		Account.MSP_Partner__c, Cancellation_Type__c, Data_Export_Required__c, Terms_Accepted__c, New_Partner__c
		FROM Case WHERE Type = 'MSP Cancellation' ORDER BY CaseNumber`)
	mspWants := [][8]any{
		{"Northwind Traders", "2025-12-11", "Active", "Redwood MSP", "Cancel", true, false, nil},
		{"Fabrikam Ltd", "2024-09-21", "Active", "Redwood MSP", "Partner Change", false, true, "Harbour IT Services"},
		{"Tailspin Toys", "2026-03-21", "Active", "Redwood MSP", "Cancel", false, true, nil},
	}
	for i, w := range mspWants {
		c := msp.Records[i]
		a := c["Account"].(map[string]any)
		got := [8]any{a["Name"], a["Subscription_Start_Date__c"], a["Subscription_Status__c"], a["MSP_Partner__c"],
			c["Cancellation_Type__c"], c["Data_Export_Required__c"], c["Terms_Accepted__c"], c["New_Partner__c"]}
		if got != w {
			t.Errorf("MSP case %d:\n got %v\nwant %v", i, got, w)
		}
	}

	// Partner cancellation: confirmed, contract ending on day 0 + 21, devices still reporting.
	tijuca := o.query(`SELECT Account.Tenant_Id__c, Account.Time_Zone__c, Contract_End_Date__c,
		Cancellation_Confirmed__c, Uninstall_Confirmed__c, Technical_Contact__c, Commercial_Contact__c,
		Active_Devices__c, Devices_Checked_At__c, SuppliedName
		FROM Case WHERE Type = 'Partner Cancellation'`).Records[0]
	a := tijuca["Account"].(map[string]any)
	if a["Tenant_Id__c"] != "tijuca-7731" || a["Time_Zone__c"] != "America/Sao_Paulo" ||
		tijuca["Contract_End_Date__c"] != "2026-12-12" || tijuca["Cancellation_Confirmed__c"] != true ||
		tijuca["Uninstall_Confirmed__c"] != false || tijuca["Technical_Contact__c"] == nil ||
		tijuca["Commercial_Contact__c"] == nil || tijuca["Active_Devices__c"] != float64(42) ||
		tijuca["Devices_Checked_At__c"] != "2026-11-21T15:00:00.000+0000" || tijuca["SuppliedName"] != "Paula Souza" {
		t.Errorf("Tijuca's case: %v", tijuca)
	}

	// Customer removal: Lotus by mail with only what the mail gives, Orchid with every
	// precondition; both customers of the reseller.
	removals := o.query(`SELECT Account.Name, Account.Partner__r.Name, Account.Partner_Email__c, Account.Billing_Mode__c,
		Removal_Scenario__c, Description, Customer_Email__c, Termination_Reason__c, Settlements_Complete__c,
		Notice_Given_Date__c, Notice_Period_Days__c, Data_Migration_Plan__c, Alternative_Service__c,
		Billing_Mode_After__c, Contract_End_Date__c
		FROM Case WHERE Type = 'Customer Removal' ORDER BY CaseNumber`)
	lotus, orchid := removals.Records[0], removals.Records[1]
	for _, c := range removals.Records {
		a := c["Account"].(map[string]any)
		if a["Partner__r"].(map[string]any)["Name"] != "Meridian Resellers" || a["Partner_Email__c"] != "partners@meridian.example" ||
			a["Billing_Mode__c"] != "Partner Billing" {
			t.Errorf("removal account: %v", a)
		}
	}
	if lotus["Removal_Scenario__c"] != "Direct Billing Switch" || lotus["Description"] == nil ||
		lotus["Notice_Period_Days__c"] != float64(30) || lotus["Customer_Email__c"] != nil ||
		lotus["Termination_Reason__c"] != nil || lotus["Settlements_Complete__c"] != false {
		t.Errorf("Lotus's case: %v", lotus)
	}
	if orchid["Removal_Scenario__c"] != "Agreement End" || orchid["Customer_Email__c"] == nil ||
		orchid["Termination_Reason__c"] == nil || orchid["Settlements_Complete__c"] != true ||
		orchid["Notice_Given_Date__c"] != "2026-11-11" || orchid["Notice_Period_Days__c"] != float64(30) ||
		orchid["Contract_End_Date__c"] != "2026-12-16" || orchid["Data_Migration_Plan__c"] == nil ||
		orchid["Alternative_Service__c"] == nil || orchid["Billing_Mode_After__c"] != "New Partner Billing" {
		t.Errorf("Orchid's case: %v", orchid)
	}

	// The reseller's customers through the lookup's child relationship.
	reseller := o.query(`SELECT Name, (SELECT Name FROM Partner_Customers__r ORDER BY Name)
		FROM Account WHERE Type = 'Channel Partner / Reseller'`)
	if reseller.TotalSize != 1 {
		t.Fatalf("resellers: %v", reseller.Records)
	}
	var customers []string
	for _, c := range reseller.Records[0]["Partner_Customers__r"].(map[string]any)["records"].([]any) {
		customers = append(customers, c.(map[string]any)["Name"].(string))
	}
	if !slices.Equal(customers, []string{"Lotus Trading", "Magnolia Travel", "Orchid Studios"}) {
		t.Errorf("Meridian's customers: %v", customers)
	}
}

// Every seeded account has an AccountNumber of its own and lists among its mail domains those
// its people write from: its contacts', its customer address's and the sender's of the cases
// it asked for itself (a case a partner asked for names the partner).
func TestSeedAccountDomains(t *testing.T) {
	o := seededOrg(t)
	res := o.query(`SELECT Name, AccountNumber, Email_Domains__c, (SELECT Email FROM Contacts),
		(SELECT SuppliedEmail, SuppliedCompany, Customer_Email__c FROM Cases) FROM Account`)
	if res.TotalSize != 13 {
		t.Errorf("%d accounts, want 13", res.TotalSize)
	}
	numbers := map[any]string{}
	for _, a := range res.Records {
		name := a["Name"].(string)
		if n, _ := a["AccountNumber"].(string); n == "" || numbers[n] != "" {
			t.Errorf("%s: AccountNumber %q, already %s's", name, n, numbers[n])
		}
		numbers[a["AccountNumber"]] = name
		list, _ := a["Email_Domains__c"].(string)
		domains := strings.FieldsFunc(list, func(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) })
		if len(domains) == 0 {
			t.Errorf("%s has no mail domains", name)
		}
		var addresses []any
		for _, rel := range []string{"Contacts", "Cases"} {
			children, _ := a[rel].(map[string]any)
			records, _ := children["records"].([]any)
			for _, r := range records {
				c := r.(map[string]any)
				addresses = append(addresses, c["Email"], c["Customer_Email__c"])
				if c["SuppliedCompany"] == name {
					addresses = append(addresses, c["SuppliedEmail"])
				}
			}
		}
		for _, addr := range addresses {
			if s, ok := addr.(string); ok && !slices.Contains(domains, s[strings.LastIndexByte(s, '@')+1:]) {
				t.Errorf("%s: the domain of %s is not among its mail domains %q", name, s, list)
			}
		}
	}
}

// The accounts whose requests the demo brings by mail have no case, and what the intake rules
// check a request against: the customer's domain, or the partner's address; the MSP
// customer is eligible (eleven months and twenty days in, active).
func TestSeedMailAccounts(t *testing.T) {
	o := seededOrg(t)
	res := o.query(`SELECT Name, AccountNumber, Email_Domains__c, Partner__r.Name, Partner_Email__c,
		Subscription_Start_Date__c, Subscription_Status__c, (SELECT Id FROM Cases)
		FROM Account WHERE Name IN ('Magnolia Travel', 'Litware Inc') ORDER BY Name`)
	if res.TotalSize != 2 {
		t.Fatalf("%d accounts, want Litware Inc and Magnolia Travel", res.TotalSize)
	}
	litware, magnolia := res.Records[0], res.Records[1]
	for _, a := range res.Records {
		if a["Cases"] != nil {
			t.Errorf("%s has cases: %v", a["Name"], a["Cases"])
		}
	}
	if litware["AccountNumber"] != "CUS-002134" || litware["Partner_Email__c"] != "ops@msp.example" ||
		litware["Subscription_Start_Date__c"] != "2025-12-01" || litware["Subscription_Status__c"] != "Active" {
		t.Errorf("Litware: %v", litware)
	}
	if magnolia["AccountNumber"] != "CUS-004425" || magnolia["Email_Domains__c"] != "magnolia.example" ||
		magnolia["Partner__r"].(map[string]any)["Name"] != "Meridian Resellers" {
		t.Errorf("Magnolia: %v", magnolia)
	}
}
