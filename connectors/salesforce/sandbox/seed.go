package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
	_ "time/tzdata" // the seed accounts' time zones must load on hosts without a zoneinfo database
)

// ErrNotEmpty is returned by Seed when the org already holds data.
var ErrNotEmpty = errors.New("the sandbox org already holds data")

type seedUser struct{ username, first, last, title string }

type seedAccount struct {
	name, zone, accountType, tenant         string
	number, domains                         string // AccountNumber, Email_Domains__c
	attrition                               bool
	contactFirst, contactLast, contactEmail string
	// termination: an open termination case; confirmed: Legal has confirmed its terms (day 0).
	termination, confirmed bool
}

// Seed fills an empty org with the demo data of the shipped playbooks, dated relative to now:
// day 0 is now's date in each account's time zone. Users (the API user and the teams the
// playbooks involve) and the Infrastructure Engineering Provisioning queue, then:
//   - termination SOP: four accounts with a contact each, an open termination case for Acme
//     Corp, Globex GmbH and Initech KK (Legal has not yet confirmed Initech's), an open problem
//     case and a closed termination case for Umbrella Ltd;
//   - MSP cancellation: a cancellation with data export whose terms are not yet accepted, a
//     partner change of a renewed subscription, and a request refused as too early;
//   - partner cancellation: Tijuca Logistica, its cancellation confirmed, agents not yet removed;
//   - customer removal: two customers of a reseller, Lotus Trading asking by mail to switch to
//     direct billing (preconditions still to be filled in) and Orchid Studios, removed by the
//     reseller at its agreement's end with every precondition met;
//   - two accounts without a case, whose requests reach casebot by mail in `casebot demo`:
//     Magnolia Travel, another customer of the reseller, and Litware Inc, a customer of the
//     MSP partner eleven months and twenty days into its subscription.
//
// Every account has an AccountNumber and, in Email_Domains__c, the mail domains its people
// write from.
//
// It returns ErrNotEmpty when the org holds anything but the API user.
func (s *Server) Seed(now time.Time) error {
	s.gate.Lock() // not in the middle of a composite, which could roll the seed back
	defer s.gate.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.store.byID {
		if e.object.Name != "User" || !strings.EqualFold(e.rec["Username"].(string), s.opts.Username) {
			return ErrNotEmpty
		}
	}
	t := s.store.begin(now, s.userByUsername(s.opts.Username))
	if err := seed(t, s.schema, s.opts.Username, now); err != nil {
		return fmt.Errorf("seeding the sandbox: %w", err)
	}
	if err := s.commit(t); err != nil {
		return fmt.Errorf("seeding the sandbox: %w", err)
	}
	return nil
}

// seeder writes the demo records in the seed's transaction.
type seeder struct {
	t       *tx
	sc      *schema
	apiUser string
	now     time.Time
	users   map[string]string // username → id
	// reseller is the id of the reseller whose customers leave it (customerRemovals).
	reseller string
}

func seed(t *tx, sc *schema, apiUser string, now time.Time) error {
	s := &seeder{t: t, sc: sc, apiUser: apiUser, now: now, users: map[string]string{}}
	for _, part := range []func() error{
		s.seedUsers, s.terminations, s.mspCancellations, s.partnerCancellation, s.customerRemovals, s.byMail,
	} {
		if err := part(); err != nil {
			return err
		}
	}
	return nil
}

func (s *seeder) create(object string, fields map[string]any) (string, error) {
	id, err := s.t.create(s.sc.sobject(object), fields)
	if err != nil {
		return "", fmt.Errorf("creating %s %v: %w", object, fields, err)
	}
	return id, nil
}

// day0 is the start of now's date in zone: the seed's dates count from it.
func (s *seeder) day0(zone string) (time.Time, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("loading time zone %s: %w", zone, err)
	}
	local := s.now.In(loc)
	return time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc), nil
}

// account creates an account of the demo's account executive.
func (s *seeder) account(name, zone, accountType string, fields map[string]any) (string, error) {
	rec := map[string]any{"Name": name, "Type": accountType, "Industry": "Technology",
		"Time_Zone__c": zone, "OwnerId": s.users["ae@example.test"]}
	maps.Copy(rec, fields)
	return s.create("Account", rec)
}

// openCase creates a case of the account, owned by owner.
func (s *seeder) openCase(accountID, owner string, fields map[string]any) error {
	rec := map[string]any{"Status": "New", "Priority": "Medium", "AccountId": accountID,
		"OwnerId": s.users[owner]}
	maps.Copy(rec, fields)
	_, err := s.create("Case", rec)
	return err
}

// seedUsers creates the users the example config gives the playbooks' roles to, and the
// queue of Infrastructure Engineering Provisioning.
func (s *seeder) seedUsers() error {
	users := []seedUser{
		{"om@example.test", "Olivia", "Mendes", "Order Management"},
		{"legal@example.test", "Lena", "Schmidt", "Legal Counsel"},
		{"finance@example.test", "Frank", "Ito", "Finance"},
		{"customerops@example.test", "Carla", "Ortiz", "Customer Operations"},
		{"marketing@example.test", "Maya", "Patel", "Marketing"},
		{"salesops@example.test", "Sam", "Okafor", "Sales Operations"},
		{"csops@example.test", "Chris", "Svensson", "Customer Success Operations"},
		{"secops@example.test", "Sofia", "Novak", "Security Operations"},
		{"infra@example.test", "Ivan", "Petrov", "Infrastructure Engineering"},
		{"ae@example.test", "Alex", "Evans", "Account Executive"},
		{"rvp@example.test", "Rachel", "Vance", "Regional Vice President"},
		{"csd@example.test", "Carlos", "Diaz", "Customer Success Director"},
		{"bp@example.test", "Beatriz", "Pereira", "Business Partner"},
		{"mspsupport@example.test", "Mark", "Sullivan", "MSP Partner Support"},
		{"partnerops@example.test", "Priya", "Nair", "Partner Operations"},
		{"commercial@example.test", "Helena", "Costa", "Commercial Manager"},
		{"partnermgr@example.test", "Paolo", "Greco", "Partner Management"},
		{"dpo@example.test", "Dana", "Okoro", "Data Protection Officer"},
		{"compliance@example.test", "Kenji", "Mori", "Compliance"},
	}
	if s.t.caller == "" {
		users = append([]seedUser{{s.apiUser, "Casebot", "Integration", "Integration User"}}, users...)
	}
	for _, u := range users {
		id, err := s.create("User", map[string]any{"Username": u.username, "Email": u.username,
			"FirstName": u.first, "LastName": u.last, "Title": u.title, "IsActive": true})
		if err != nil {
			return err
		}
		s.users[u.username] = id
	}
	_, err := s.create("Group", map[string]any{"Name": "Infrastructure Engineering Provisioning",
		"DeveloperName": "Infrastructure_Engineering_Provisioning", "Type": "Queue"})
	return err
}

// terminations seeds the termination SOP's accounts and cases.
func (s *seeder) terminations() error {
	accounts := []seedAccount{
		{"Acme Corp", "America/New_York", "Customer - Direct", "acme-prod-01", "CUS-001017", "acme.example",
			false, "Jane", "Doe", "jane.doe@acme.example", true, true},
		{"Globex GmbH", "Europe/Berlin", "Customer - Channel", "globex-prod-01", "CUS-001024", "globex.example; globex-gmbh.example",
			true, "Hans", "Gruber", "hans.gruber@globex.example", true, true},
		{"Initech KK", "Asia/Tokyo", "Customer - Direct", "initech-prod-01", "CUS-001031", "initech.example",
			false, "Yuki", "Tanaka", "yuki.tanaka@initech.example", true, false},
		{"Umbrella Ltd", "Europe/London", "Customer - Direct", "umbrella-prod-01", "CUS-001048", "umbrella.example, umbrella-corp.example",
			false, "Alice", "Abernathy", "alice.abernathy@umbrella.example", false, false},
	}
	for _, a := range accounts {
		day0, err := s.day0(a.zone)
		if err != nil {
			return err
		}
		accountID, err := s.account(a.name, a.zone, a.accountType, map[string]any{"Customer_Attrition__c": a.attrition,
			"Tenant_Id__c": a.tenant, "AccountNumber": a.number, "Email_Domains__c": a.domains})
		if err != nil {
			return err
		}
		contactID, err := s.create("Contact", map[string]any{"FirstName": a.contactFirst, "LastName": a.contactLast,
			"Email": a.contactEmail, "AccountId": accountID})
		if err != nil {
			return err
		}
		termination := map[string]any{"Type": "Termination", "Origin": "Email",
			"Subject": "Termination: " + a.name, "ContactId": contactID, "SuppliedEmail": a.contactEmail,
			"SuppliedName": a.contactFirst + " " + a.contactLast, "SuppliedCompany": a.name,
			"Description":              a.name + " asks to terminate its subscription at the end of the contract.",
			"Contract_End_Date__c":     day0.AddDate(0, 0, 40).Format(dateLayout),
			"Deprovision_Date__c":      formatDateTime(day0.AddDate(0, 0, 28).Add(17 * time.Hour)),
			"Termination_Confirmed__c": nil,
		}
		if a.confirmed {
			termination["Termination_Confirmed__c"] = day0.Format(dateLayout)
		}
		cases := []map[string]any{termination}
		if !a.termination {
			// Umbrella: a support case, and a termination finished long ago, which a
			// termination playbook must leave alone.
			termination["Status"] = "Closed"
			termination["Contract_End_Date__c"] = day0.AddDate(0, 0, -320).Format(dateLayout)
			termination["Deprovision_Date__c"] = formatDateTime(day0.AddDate(0, 0, -330).Add(17 * time.Hour))
			termination["Termination_Confirmed__c"] = day0.AddDate(0, 0, -360).Format(dateLayout)
			cases = append(cases, map[string]any{"Type": "Problem", "Origin": "Phone",
				"Priority": "High", "Subject": "Login page times out", "ContactId": contactID,
				"Description": "Users in London get a timeout on the login page since this morning."})
		}
		for _, c := range cases {
			if err := s.openCase(accountID, "om@example.test", c); err != nil {
				return err
			}
		}
	}
	return nil
}

// mspCancellations seeds one case of each outcome of the MSP cancellation playbook, all
// requested by the same MSP partner: eligibility starts 11 months into the subscription, the
// commitment ends at 12.
func (s *seeder) mspCancellations() error {
	day0, err := s.day0(mspZone)
	if err != nil {
		return err
	}
	requests := []struct {
		name, number, domains string
		started               time.Time      // the subscription's start
		fields                map[string]any // the request
	}{
		// Eligible, still in its commitment: withdrawn 20 days from now, after the data
		// export. The partner has not yet ticked the terms.
		{"Northwind Traders", "CUS-002103", "northwind.example", day0.AddDate(0, -11, -10), map[string]any{
			"Subject": "Cancel Northwind Traders", "Cancellation_Type__c": "Cancel",
			"Data_Export_Required__c": true, "Terms_Accepted__c": false,
			"Description": "Northwind Traders leaves us; please export its archive before the service ends."}},
		// A renewal (past its 12 months): the customer moves to another partner at once.
		{"Fabrikam Ltd", "CUS-002110", "fabrikam.example", day0.AddDate(0, -26, 0), map[string]any{
			"Subject": "Partner change: Fabrikam Ltd", "Cancellation_Type__c": "Partner Change",
			"New_Partner__c": "Harbour IT Services", "Terms_Accepted__c": true,
			"Description": "Fabrikam Ltd moves to Harbour IT Services and keeps its products."}},
		// Eight months in: too early, refused.
		{"Tailspin Toys", "CUS-002127", "tailspin.example", day0.AddDate(0, -8, 0), map[string]any{
			"Subject": "Cancel Tailspin Toys", "Cancellation_Type__c": "Cancel", "Terms_Accepted__c": true,
			"Description": "Tailspin Toys wants to stop its subscription."}},
	}
	for _, r := range requests {
		accountID, err := s.mspCustomer(r.name, r.number, r.domains, r.started)
		if err != nil {
			return err
		}
		c := map[string]any{"Type": "MSP Cancellation", "Origin": "Web", "SuppliedEmail": "ops@msp.example",
			"SuppliedName": "Owen Price", "SuppliedCompany": "Redwood MSP"}
		maps.Copy(c, r.fields)
		if err := s.openCase(accountID, "mspsupport@example.test", c); err != nil {
			return err
		}
	}
	return nil
}

// mspZone is the time zone of the MSP partner's customers.
const mspZone = "Europe/London"

// mspCustomer creates a customer of the MSP partner whose active subscription started on
// started.
func (s *seeder) mspCustomer(name, number, domains string, started time.Time) (string, error) {
	return s.account(name, mspZone, "Customer - Channel", map[string]any{
		"Subscription_Start_Date__c": started.Format(dateLayout), "Subscription_Status__c": "Active",
		"MSP_Partner__c": "Redwood MSP", "Partner_Email__c": "ops@msp.example", "AccountNumber": number,
		"Email_Domains__c": domains})
}

// partnerCancellation seeds the partner cancellation playbook's case: the customer has
// confirmed the cancellation, its contract ends in three weeks and its devices still report.
func (s *seeder) partnerCancellation() error {
	const zone = "America/Sao_Paulo"
	day0, err := s.day0(zone)
	if err != nil {
		return err
	}
	accountID, err := s.account("Tijuca Logistica", zone, "Customer - Channel", map[string]any{"Tenant_Id__c": "tijuca-7731",
		"AccountNumber": "CUS-003205", "Email_Domains__c": "tijuca.example"})
	if err != nil {
		return err
	}
	return s.openCase(accountID, "partnerops@example.test", map[string]any{
		"Type": "Partner Cancellation", "Origin": "Email", "Subject": "Contract cancellation: Tijuca Logistica",
		"Description":   "Tijuca Logistica cancels its contract at the end of its term.",
		"SuppliedEmail": "ti@tijuca.example", "SuppliedName": "Paula Souza", "SuppliedCompany": "Tijuca Logistica",
		"Contract_End_Date__c":      day0.AddDate(0, 0, 21).Format(dateLayout),
		"Cancellation_Confirmed__c": true,
		"Technical_Contact__c":      "Paula Souza, ti@tijuca.example, +55 21 5555 0100",
		"Commercial_Contact__c":     "Rui Lima, rui@partner.example",
		"Pending_Matters__c":        "Invoice 2026-041 unpaid.\nTwo loaner licences to return.",
		"Active_Devices__c":         float64(42),
		"Devices_Checked_At__c":     formatDateTime(s.now),
	})
}

// resellerEmail is the address of the reseller's partner desk.
const resellerEmail = "partners@meridian.example"

// resellerCustomer creates a customer of the reseller, billed by it.
func (s *seeder) resellerCustomer(name, zone, number, domains string) (string, error) {
	return s.account(name, zone, "Customer - Channel", map[string]any{"Partner__c": s.reseller,
		"Partner_Email__c": resellerEmail, "Billing_Mode__c": "Partner Billing",
		"AccountNumber": number, "Email_Domains__c": domains})
}

// customerRemovals seeds a reseller and two of its customers leaving it: one asking by mail,
// one the reseller removes.
func (s *seeder) customerRemovals() error {
	resellerID, err := s.account("Meridian Resellers", "Asia/Singapore", "Channel Partner / Reseller",
		map[string]any{"AccountNumber": "PRT-000312", "Email_Domains__c": "meridian.example"})
	if err != nil {
		return err
	}
	s.reseller = resellerID
	customer := s.resellerCustomer

	// Customer-initiated: the exit reason is the mail's body; casebot fills the reason, the
	// customer's address and the notice date from it, the partner manager the rest.
	lotusID, err := customer("Lotus Trading", "Asia/Singapore", "CUS-004401", "lotus.example")
	if err != nil {
		return err
	}
	if err := s.openCase(lotusID, "partnermgr@example.test", map[string]any{
		"Type": "Customer Removal", "Origin": "Email", "Subject": "Please end our agent service",
		"Description":   "We are moving our cloud billing in-house and will be billed by the platform directly.",
		"SuppliedEmail": "it@lotus.example", "SuppliedName": "Wei Ling Tan", "SuppliedCompany": "Lotus Trading",
		"Removal_Scenario__c": "Direct Billing Switch", "Notice_Period_Days__c": float64(30),
	}); err != nil {
		return err
	}

	// Partner-initiated at the agreement's end, which comes after the notice period: the
	// removal takes effect on the agreement's end.
	const orchidZone = "Europe/Paris"
	day0, err := s.day0(orchidZone)
	if err != nil {
		return err
	}
	orchidID, err := customer("Orchid Studios", orchidZone, "CUS-004418", "orchid.example")
	if err != nil {
		return err
	}
	return s.openCase(orchidID, "partnermgr@example.test", map[string]any{
		"Type": "Customer Removal", "Origin": "Web", "Subject": "Remove Orchid Studios: reseller agreement ends",
		"SuppliedEmail": resellerEmail, "SuppliedName": "Meridian partner desk", "SuppliedCompany": "Meridian Resellers",
		"Customer_Email__c":       "admin@orchid.example",
		"Removal_Scenario__c":     "Agreement End",
		"Termination_Reason__c":   "Meridian's reseller agreement for Orchid Studios expires and is not renewed.",
		"Settlements_Complete__c": true,
		"Notice_Given_Date__c":    day0.AddDate(0, 0, -10).Format(dateLayout),
		"Notice_Period_Days__c":   float64(30),
		"Contract_End_Date__c":    day0.AddDate(0, 0, 25).Format(dateLayout),
		"Data_Migration_Plan__c":  "Project files exported to Orchid's own storage by the reseller before the end date.",
		"Alternative_Service__c":  "Kestrel IT, Orchid's new partner",
		"Billing_Mode_After__c":   "New Partner Billing",
	})
}

// byMail seeds the accounts whose requests the demo's mail brings, without a case: a
// customer of the reseller that leaves it (the Customer Removal Guide's customer-initiated
// path), and a customer of the MSP partner eligible for cancellation, still in its 12-month
// commitment. They come last, so that the ids of the records before them stay what they were.
func (s *seeder) byMail() error {
	if _, err := s.resellerCustomer("Magnolia Travel", "Africa/Johannesburg", "CUS-004425", "magnolia.example"); err != nil {
		return err
	}
	day0, err := s.day0(mspZone)
	if err != nil {
		return err
	}
	_, err = s.mspCustomer("Litware Inc", "CUS-002134", "litware.example", day0.AddDate(0, -11, -20))
	return err
}
