package sandbox

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the seed accounts' time zones must load on hosts without a zoneinfo database
)

// ErrNotEmpty is returned by Seed when the org already holds data.
var ErrNotEmpty = errors.New("the sandbox org already holds data")

type seedUser struct{ username, first, last, title string }

type seedAccount struct {
	name, zone, accountType                 string
	attrition                               bool
	contactFirst, contactLast, contactEmail string
	// termination: an open termination case; confirmed: Legal has confirmed its terms (day 0).
	termination, confirmed bool
}

// Seed fills an empty org with the demo data, dated relative to now: day 0 is now's date in
// each account's time zone. Users (the API user, Order Management and the teams a termination
// involves), the Infrastructure Engineering Provisioning queue, four accounts with a contact
// each, an open termination case for Acme Corp, Globex GmbH and Initech KK (Legal has not yet
// confirmed Initech's), an open problem case and a closed termination case for Umbrella Ltd.
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

func seed(t *tx, sc *schema, apiUser string, now time.Time) error {
	create := func(object string, fields map[string]any) (string, error) {
		id, err := t.create(sc.sobject(object), fields)
		if err != nil {
			return "", fmt.Errorf("creating %s %v: %w", object, fields, err)
		}
		return id, nil
	}
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
	}
	ids := map[string]string{}
	if t.caller == "" {
		users = append([]seedUser{{apiUser, "Casebot", "Integration", "Integration User"}}, users...)
	}
	for _, u := range users {
		id, err := create("User", map[string]any{"Username": u.username, "Email": u.username,
			"FirstName": u.first, "LastName": u.last, "Title": u.title, "IsActive": true})
		if err != nil {
			return err
		}
		ids[u.username] = id
	}
	if _, err := create("Group", map[string]any{"Name": "Infrastructure Engineering Provisioning",
		"DeveloperName": "Infrastructure_Engineering_Provisioning", "Type": "Queue"}); err != nil {
		return err
	}
	accounts := []seedAccount{
		{"Acme Corp", "America/New_York", "Customer - Direct", false, "Jane", "Doe", "jane.doe@acme.example", true, true},
		{"Globex GmbH", "Europe/Berlin", "Customer - Channel", true, "Hans", "Gruber", "hans.gruber@globex.example", true, true},
		{"Initech KK", "Asia/Tokyo", "Customer - Direct", false, "Yuki", "Tanaka", "yuki.tanaka@initech.example", true, false},
		{"Umbrella Ltd", "Europe/London", "Customer - Direct", false, "Alice", "Abernathy", "alice.abernathy@umbrella.example", false, false},
	}
	for _, a := range accounts {
		loc, err := time.LoadLocation(a.zone)
		if err != nil {
			return fmt.Errorf("loading time zone %s: %w", a.zone, err)
		}
		local := now.In(loc)
		day0 := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
		accountID, err := create("Account", map[string]any{"Name": a.name, "Type": a.accountType,
			"Industry": "Technology", "Customer_Attrition__c": a.attrition, "Time_Zone__c": a.zone,
			"OwnerId": ids["ae@example.test"]})
		if err != nil {
			return err
		}
		contactID, err := create("Contact", map[string]any{"FirstName": a.contactFirst, "LastName": a.contactLast,
			"Email": a.contactEmail, "AccountId": accountID})
		if err != nil {
			return err
		}
		termination := map[string]any{"Type": "Termination", "Status": "New", "Origin": "Email",
			"Priority": "Medium", "Subject": "Termination: " + a.name, "AccountId": accountID,
			"ContactId": contactID, "OwnerId": ids["om@example.test"], "SuppliedEmail": a.contactEmail,
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
			cases = append(cases, map[string]any{"Type": "Problem", "Status": "New", "Origin": "Phone",
				"Priority": "High", "Subject": "Login page times out", "AccountId": accountID,
				"ContactId": contactID, "OwnerId": ids["om@example.test"],
				"Description": "Users in London get a timeout on the login page since this morning."})
		}
		for _, c := range cases {
			if _, err := create("Case", c); err != nil {
				return err
			}
		}
	}
	return nil
}
