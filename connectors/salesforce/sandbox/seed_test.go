package sandbox

import (
	"testing"
)

func TestSeedData(t *testing.T) {
	o := seededOrg(t) // testNow: 2026-11-21 15:00 UTC, already the 22nd in Tokyo
	res := o.query(`SELECT Subject, Status, Type, Origin, Priority, IsClosed, Contract_End_Date__c,
		Deprovision_Date__c, Termination_Confirmed__c, Owner.Username, Contact.Email,
		Account.Name, Account.Type, Account.Customer_Attrition__c, Account.Time_Zone__c, Account.Owner.Username
		FROM Case ORDER BY CaseNumber`)
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
	}

	users := o.query("SELECT Username, Name, IsActive FROM User WHERE IsActive = true")
	if users.TotalSize != 11 {
		t.Errorf("%d active users, want 11", users.TotalSize)
	}
	for _, u := range users.Records {
		if u["Name"] == "" || u["Name"] == nil {
			t.Errorf("user without a name: %v", u)
		}
	}
	// Read through the store: this checks the seed, not whether SOQL accepts "FROM Group".
	o.sb.mu.Lock()
	groups := view{s: o.sb.store}.All("Group", false)
	o.sb.mu.Unlock()
	if len(groups) != 1 || groups[0]["Name"] != "Infrastructure Engineering Provisioning" || groups[0]["Type"] != "Queue" {
		t.Errorf("groups: %+v", groups)
	}
	if n := o.query("SELECT COUNT() FROM Contact").TotalSize; n != 4 {
		t.Errorf("%d contacts, want 4", n)
	}
	open := o.query("SELECT Id FROM Case WHERE Type = 'Termination' AND IsClosed = false")
	if open.TotalSize != 3 {
		t.Errorf("%d open termination cases, want 3", open.TotalSize)
	}
}
