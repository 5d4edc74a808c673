package playbooks_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"casebot/bot"
	"casebot/rules"
	"casebot/rules/playbooks"
)

// loadIntake loads the shipped playbooks with the shipped intake rules, templates checked.
func loadIntake(t *testing.T) ([]*rules.Playbook, *rules.Intake) {
	t.Helper()
	_, set := load(t)
	pbs, in, err := rules.LoadWithIntake(playbooks.FS, rules.Options{KnownTemplateKind: set.HasKind})
	if err != nil {
		t.Fatalf("loading the shipped playbooks and intake rules:\n%v", err)
	}
	if in == nil {
		t.Fatal("no intake rules shipped")
	}
	return pbs, in
}

// The shipped intake rules load against the shipped playbooks, and open a case of every
// source procedure that starts by mail.
func TestShippedIntake(t *testing.T) {
	_, in := loadIntake(t)
	var got []string
	for _, r := range in.Rules {
		got = append(got, r.Name+"→"+r.Playbook)
	}
	want := []string{
		"customer-removal-direct-billing→customer-removal", "customer-removal→customer-removal",
		"msp-cancellation→mimecast-msp-cancellation", "almaden-cancellation→almaden-partner-cancellation",
		"termination-notice→termination-sop",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules %q, want %q", got, want)
	}
	if in.Mailbox != "INBOX" || in.Quarantine != "Quarantine" || !in.RequireAuth {
		t.Errorf("settings %+v", in)
	}
}

// signed is a mail from addr, whose domain's DKIM signature verified.
func signed(from, subject, text string, edits ...func(*bot.ParsedMail)) bot.ParsedMail {
	m := bot.ParsedMail{From: bot.Address{Address: from}, Subject: subject, Text: text}
	m.Auth.DKIM = []string{m.From.Domain()}
	for _, e := range edits {
		e(&m)
	}
	return m
}

func key(lookup, field string, list bool, values ...string) rules.AccountKey {
	return rules.AccountKey{Lookup: lookup, Field: field, Values: values, List: list}
}

// Each procedure's request, written as its source says it is, opens its case with the fields
// its playbook reads from the mail.
func TestShippedIntakeRequests(t *testing.T) {
	_, in := loadIntake(t)
	tests := []struct {
		name     string
		mail     bot.ParsedMail
		rule     string
		fields   bot.Fields // the rule's fields, besides those of every mail
		accounts []rules.AccountKey
		notes    []string
	}{
		{
			"Customer Removal Guide: the customer's Termination of Service, direct billing",
			signed("it@lotus.example", "Termination of Service", "Hello,\n\nExit reason: we are moving our cloud billing in-house\n"+
				"and will be billed by the platform directly.\n\nData migration plan: we export our tenants ourselves.\n"+
				"Alternative service: direct billing\n\nWei Ling Tan"),
			"customer-removal-direct-billing",
			bot.Fields{"Type": "Customer Removal", "Removal_Scenario__c": "Direct Billing Switch",
				"Termination_Reason__c":  "we are moving our cloud billing in-house\nand will be billed by the platform directly.",
				"Data_Migration_Plan__c": "we export our tenants ourselves.", "Alternative_Service__c": "direct billing"},
			[]rules.AccountKey{key("domain", "Email_Domains__c", true, "lotus.example")}, nil,
		},
		{
			"Customer Removal Guide: the customer's exit application, named by account number",
			signed("ceo@mail.orchid.example", "Please end our agent service", "Account number: CUS-004418\nExit reason: we close the studio."),
			"customer-removal",
			bot.Fields{"Type": "Customer Removal", "Removal_Scenario__c": "Customer Request", "Termination_Reason__c": "we close the studio."},
			[]rules.AccountKey{key("number", "AccountNumber", false, "CUS-004418"),
				key("domain", "Email_Domains__c", true, "mail.orchid.example", "orchid.example")}, nil,
		},
		{
			"Mimecast MSP: the partner cancels, with a data export, terms accepted",
			signed("ops@msp.example", "Cancel Northwind Traders", "Account number: CUS-002103\nCancellation type: Cancel\n"+
				"Data export: yes\nWe accept the terms."),
			"msp-cancellation",
			bot.Fields{"Type": "MSP Cancellation", "Cancellation_Type__c": "Cancel", "Data_Export_Required__c": true, "Terms_Accepted__c": true},
			[]rules.AccountKey{key("number", "AccountNumber", false, "CUS-002103")}, nil,
		},
		{
			"Mimecast MSP: a partner change",
			signed("ops@msp.example", "Partner change: Fabrikam Ltd", "Tenant: fabrikam-eu-01\nCancellation type: partner  change\n"+
				"New partner: Harbour IT Services\nData export required: maybe"),
			"msp-cancellation",
			bot.Fields{"Type": "MSP Cancellation", "Cancellation_Type__c": "Partner Change", "New_Partner__c": "Harbour IT Services"},
			[]rules.AccountKey{key("tenant", "Tenant_Id__c", false, "fabrikam-eu-01")},
			[]string{`rule msp-cancellation: Case.Data_Export_Required__c left blank: "maybe" is neither yes nor no`},
		},
		{
			"Almaden: the customer cancels its contract, date day first",
			signed("ti@tijuca.example", "Contract cancellation", "Hello,\n\nWe want to cancel our contract.\nTenant ID: tijuca-7731\n"+
				"Expected termination date: 05/11/2026\nTechnical contact: Paula Souza, +55 21 5555 0100\n"+
				"Pending matters: invoice 2026-041\n\nWe confirm the cancellation."),
			"almaden-cancellation",
			bot.Fields{"Type": "Partner Cancellation", "Contract_End_Date__c": "2026-11-05", "Cancellation_Confirmed__c": true,
				"Technical_Contact__c": "Paula Souza, +55 21 5555 0100", "Pending_Matters__c": "invoice 2026-041"},
			[]rules.AccountKey{key("tenant", "Tenant_Id__c", false, "tijuca-7731"), key("domain", "Email_Domains__c", true, "tijuca.example")}, nil,
		},
		{
			"termination SOP: a non-renewal notice, date month first",
			signed("jane.doe@acme.example", "Notice of non-renewal", "Account no. CUS-001017\nContract end date: 12/31/2026"),
			"termination-notice",
			bot.Fields{"Type": "Termination", "Contract_End_Date__c": "2026-12-31"},
			[]rules.AccountKey{key("number", "AccountNumber", false, "CUS-001017"), key("domain", "Email_Domains__c", true, "acme.example")}, nil,
		},
		{
			"termination SOP: a date that is no date",
			signed("jane.doe@acme.example", "Termination of our subscription", "Termination date: when the contract ends"),
			"termination-notice",
			bot.Fields{"Type": "Termination"},
			[]rules.AccountKey{key("domain", "Email_Domains__c", true, "acme.example")},
			[]string{`rule termination-notice: Case.Contract_End_Date__c left blank: no date in "when the contract ends"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := in.Classify(tt.mail)
			if c.Rule == nil {
				t.Fatalf("no request: %s", c.Quarantine)
			}
			want := bot.Fields{"Origin": "Email", "Subject": tt.mail.Subject, "Description": tt.mail.Text, "SuppliedEmail": tt.mail.From.Address}
			for k, v := range tt.fields {
				want[k] = v
			}
			if c.Rule.Rule != tt.rule || !reflect.DeepEqual(c.Rule.Case, want) || !reflect.DeepEqual(c.Rule.Accounts, tt.accounts) ||
				!reflect.DeepEqual(c.Notes, tt.notes) {
				got, _ := json.MarshalIndent(c, "", "  ")
				t.Errorf("got %s\nwant rule %s, fields %v, accounts %+v, notes %q", got, tt.rule, want, tt.accounts, tt.notes)
			}
		})
	}
}

// instructions is the Almaden uninstall instructions as a mail client quotes them.
const instructions = `

On Mon, 2 Nov 2026 at 09:00, Partner Ops <ops@partner.example> wrote:
> Hello Paula,
> 4. Reply to this email to confirm that the agents were removed, with the list of devices or a
> screenshot of the result as evidence.
> Reference: case 00001077`

// Replies open the gates their playbooks wait for, for the case's own sender only, and never
// on the words of the mail they quote.
func TestShippedIntakeReplies(t *testing.T) {
	_, in := loadIntake(t)
	almaden := bot.Case{ID: "500A", Fields: bot.Fields{"SuppliedEmail": "ti@tijuca.example"}}
	msp := bot.Case{ID: "500M", Fields: bot.Fields{"SuppliedEmail": "ops@msp.example"}}
	inReplyTo := func(m *bot.ParsedMail) { m.InReplyTo = []string{"<x@casebot>"} }
	tests := []struct {
		name     string
		mail     bot.ParsedMail
		playbook string
		k        bot.Case
		want     bot.Fields
		notes    []string
	}{
		{"the customer confirms the uninstall; the reply is the evidence", signed("ti@tijuca.example", "Re: Contract cancellation",
			"All Almaden agents have been removed from our 42 devices.\nList attached."+instructions, inReplyTo),
			"almaden-partner-cancellation", almaden,
			bot.Fields{"Uninstall_Confirmed__c": true, "Uninstall_Evidence__c": "All Almaden agents have been removed from our 42 devices.\nList attached."}, nil},
		{"not yet", signed("ti@tijuca.example", "Re: Contract cancellation", "The agents haven't been removed yet, sorry."+instructions, inReplyTo),
			"almaden-partner-cancellation", almaden, bot.Fields{}, nil},
		{"only the quote says it", signed("ti@tijuca.example", "Re: Contract cancellation", "Which script?"+instructions, inReplyTo),
			"almaden-partner-cancellation", almaden, bot.Fields{}, nil},
		{"the customer confirms the cancellation", signed("ti@tijuca.example", "Re: (case 00001077)", "We confirm the cancellation.", inReplyTo),
			"almaden-partner-cancellation", almaden, bot.Fields{"Cancellation_Confirmed__c": true}, nil},
		{"someone else confirms", signed("intruder@other.example", "Re: (case 00001077)", "Uninstallation is complete."),
			"almaden-partner-cancellation", almaden, bot.Fields{},
			[]string{"reply rule almaden-uninstall-confirmed matches, but intruder@other.example is not in Case.SuppliedEmail: it sets nothing"}},
		{"the partner accepts the terms", signed("ops@msp.example", "Re: Error: accept the cancellation terms to continue (Northwind Traders, case 00001042)",
			"We hereby accept the cancellation terms.\n\n-----Original Message-----\nthe MSP must accept the cancellation terms"),
			"mimecast-msp-cancellation", msp, bot.Fields{"Terms_Accepted__c": true}, nil},
		{"the partner accepts the exgestion quote", signed("ops@msp.example", "RE: action needed for the Exgestion Quote", "I accept the quote.", inReplyTo),
			"mimecast-msp-cancellation", msp, bot.Fields{"Exgestion_Quote_Accepted__c": true}, nil},
		{"a reply for another playbook's case", signed("ops@msp.example", "Re: (case 00001042)", "We accept the terms."),
			"almaden-partner-cancellation", msp, bot.Fields{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := in.Classify(tt.mail)
			if !c.IsReply() {
				t.Fatalf("not a reply: %+v", c)
			}
			got, notes := c.ReplyUpdate(tt.playbook, tt.k)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(notes, tt.notes) {
				t.Errorf("ReplyUpdate = %v, %q; want %v, %q", got, notes, tt.want, tt.notes)
			}
		})
	}
}

// Every picklist value the intake rules set is a value of the field's metadata, and every
// Account field they look accounts up by ships as metadata (or is standard).
func TestIntakeMetadata(t *testing.T) {
	_, in := loadIntake(t)
	for _, l := range in.Lookups {
		if strings.HasSuffix(l.Field.Name, "__c") {
			var f customField
			if !readXML(t, filepath.Join("metadata", "objects", "Account", "fields", l.Field.Name+".field-meta.xml"), &f) {
				t.Errorf("account.%s: %s has no metadata in metadata/objects", l.Name, l.Field)
			} else if metadataType[f.Type] != rules.TypeString {
				t.Errorf("account.%s: %s is a %s field", l.Name, l.Field, f.Type)
			}
		}
	}
	values := func(name string) ([]string, bool) {
		if name == "Type" {
			return valueSet(t, "CaseType"), true
		}
		var f customField
		ok := readXML(t, filepath.Join("metadata", "objects", "Case", "fields", name+".field-meta.xml"), &f)
		return f.Values, ok && f.Type == "Picklist"
	}
	for _, r := range slices.Concat(in.Rules, in.Replies) {
		for _, v := range r.Case {
			list, ok := values(v.Field.Name)
			if !ok {
				continue
			}
			set := []any{v.Value}
			if v.Pattern != nil {
				set = nil
				for _, x := range v.Map {
					set = append(set, x)
				}
				if v.Map == nil {
					t.Errorf("rule %s: %s is a picklist: map what the mail says to its values", r.Name, v.Field)
				}
			}
			for _, x := range set {
				if s, _ := x.(string); !slices.Contains(list, s) {
					t.Errorf("rule %s: %q is not a value of %s (%v)", r.Name, x, v.Field, list)
				}
			}
		}
	}
}

// The example of the language's reference (../README.md, "Intake rules") is valid.
func TestIntakeReadmeExample(t *testing.T) {
	pbs, _ := load(t)
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "## Intake rules")
	_, example, ok2 := strings.Cut(after, "```yaml\n")
	example, _, ok3 := strings.Cut(example, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no example under Intake rules")
	}
	if _, err := rules.ParseIntake("README.md", []byte(example), pbs, rules.Options{}); err != nil {
		t.Errorf("the README's example:\n%v", err)
	}
}
