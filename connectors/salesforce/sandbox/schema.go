package sandbox

import (
	"strings"

	"casebot/connectors/salesforce/sandbox/soql"
)

// sobject is one object of the sandbox's org: what describe and SOQL see (soql.Object), plus
// what a write needs: defaults for create and fields the server derives from others.
type sobject struct {
	soql.Object
	LabelPlural string
	Defaults    map[string]any // applied on create to fields the request leaves out
	// Derive sets read-only fields computed from the others (Case.IsClosed from Status). old is
	// nil on create; now is the write's timestamp in the wire layout.
	Derive func(rec, old soql.Record, now string)
	// Created runs in the transaction of a create once rec is valid, before it is stored,
	// to write the records Salesforce creates with it (a ContentVersion's document).
	Created func(t *tx, rec soql.Record) *apiError
	// Deleted runs in the transaction of a delete, to delete the records that go with it.
	Deleted func(t *tx, rec soql.Record)
	// What clients may not do with the object's records (describe's createable, updateable,
	// deletable), and the fields that can be set on create only.
	NotCreateable, NotUpdateable, NotDeletable bool
	CreateOnly                                 []string
}

// schema is the org's set of objects. It implements soql.Schema.
type schema struct {
	objects []*sobject
	byName  map[string]*sobject // lower-case name
	byKey   map[string]*sobject // key prefix
	blobs   map[string][]string // object name → its blob fields (see isBlob), for encoding rows
}

var _ soql.Schema = (*schema)(nil)

// Object implements soql.Schema.
func (s *schema) Object(name string) *soql.Object {
	if o := s.sobject(name); o != nil {
		return &o.Object
	}
	return nil
}

func (s *schema) sobject(name string) *sobject { return s.byName[strings.ToLower(name)] }

// objectOfID returns the object an id's key prefix names, or nil.
func (s *schema) objectOfID(id string) *sobject {
	if len(id) < 3 {
		return nil
	}
	return s.byKey[id[:3]]
}

// The field builders keep the table below readable: one line per field, as a Salesforce admin
// would list them in Setup.

func text(name string, length int) soql.Field {
	return soql.Field{Name: name, Label: label(name), Type: soql.TypeString, Length: length}
}

func textArea(name string, length int) soql.Field {
	f := text(name, length)
	f.Type = soql.TypeTextArea
	return f
}

func emailField(name string, length int) soql.Field {
	f := text(name, length)
	f.Type = soql.TypeEmail
	return f
}

func typed(name string, t soql.FieldType) soql.Field {
	return soql.Field{Name: name, Label: label(name), Type: t}
}

func picklist(name string, restricted bool, values ...string) soql.Field {
	return soql.Field{Name: name, Label: label(name), Type: soql.TypePicklist, Length: 255,
		Picklist: values, Restricted: restricted}
}

func ref(name, relationship string, to ...string) soql.Field {
	return soql.Field{Name: name, Label: label(relationship) + " ID", Type: soql.TypeReference,
		Length: 18, ReferenceTo: to, RelationshipName: relationship}
}

// lookup is a custom lookup field: SOQL follows it as <Name>__r ("Partner__c" → "Partner__r").
func lookup(name, to string) soql.Field {
	return soql.Field{Name: name, Label: label(name), Type: soql.TypeReference, Length: 18,
		ReferenceTo: []string{to}, RelationshipName: strings.TrimSuffix(name, "__c") + "__r"}
}

// longText is a Long Text Area field of Salesforce's default size.
func longText(name string) soql.Field { return textArea(name, 32768) }

// labeled gives a field the label its metadata has where label would guess wrong.
func labeled(f soql.Field, l string) soql.Field { f.Label = l; return f }

func required(f soql.Field) soql.Field { f.Required = true; return f }
func readOnly(f soql.Field) soql.Field { f.ReadOnly = true; return f }

func externalID(f soql.Field, unique bool) soql.Field {
	f.ExternalID, f.Unique = true, unique
	return f
}

// label turns an API name into the label Setup would show: "Contract_End_Date__c" →
// "Contract End Date".
func label(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, "__c"), "_", " ")
}

// withAudit puts the fields every object has around the object's own fields.
func withAudit(fields ...soql.Field) []soql.Field {
	out := []soql.Field{readOnly(soql.Field{Name: "Id", Label: "Record ID", Type: soql.TypeID, Length: 18})}
	out = append(out, fields...)
	return append(out,
		readOnly(typed("IsDeleted", soql.TypeBoolean)),
		readOnly(typed("CreatedDate", soql.TypeDateTime)),
		readOnly(ref("CreatedById", "CreatedBy", "User")),
		readOnly(typed("LastModifiedDate", soql.TypeDateTime)),
		readOnly(ref("LastModifiedById", "LastModifiedBy", "User")),
		readOnly(typed("SystemModstamp", soql.TypeDateTime)),
	)
}

// fullName derives Name from FirstName and LastName, as Contact and User do.
func fullName(rec, _ soql.Record, _ string) {
	first, _ := rec["FirstName"].(string)
	last, _ := rec["LastName"].(string)
	rec["Name"] = strings.TrimSpace(first + " " + last)
}

// closedWhen derives IsClosed (and ClosedDate, when the object has it) from Status.
func closedWhen(status string, hasClosedDate bool) func(rec, old soql.Record, now string) {
	return func(rec, old soql.Record, now string) {
		closed := rec["Status"] == status
		rec["IsClosed"] = closed
		if !hasClosedDate {
			return
		}
		switch {
		case !closed:
			rec["ClosedDate"] = nil
		case old == nil || old["IsClosed"] != true:
			rec["ClosedDate"] = now
		}
	}
}

func newSchema() *schema {
	objects := []*sobject{
		{Object: soql.Object{Name: "Account", Label: "Account", KeyPrefix: "001",
			Fields: withAudit(
				required(text("Name", 255)),
				labeled(text("AccountNumber", 40), "Account Number"),
				picklist("Type", true, "Prospect", "Customer - Direct", "Customer - Channel",
					"Channel Partner / Reseller", "Installation Partner", "Technology Partner",
					"Other", "Former Customer"),
				picklist("Industry", false, "Agriculture", "Banking", "Chemicals", "Communications",
					"Consulting", "Education", "Electronics", "Energy", "Finance", "Healthcare",
					"Insurance", "Manufacturing", "Media", "Retail", "Technology", "Other"),
				text("Phone", 40),
				text("BillingCountry", 80),
				soql.Field{Name: "Website", Label: "Website", Type: soql.TypeURL, Length: 255},
				textArea("Description", 32000),
				ref("OwnerId", "Owner", "User"),
				typed("Customer_Attrition__c", soql.TypeBoolean),
				text("Time_Zone__c", 40),
				text("Tenant_Id__c", 64),
				// MSP cancellation.
				typed("Subscription_Start_Date__c", soql.TypeDate),
				picklist("Subscription_Status__c", true, "Active", "Pending Cancellation", "Cancelled"),
				text("MSP_Partner__c", 80),
				// Customer removal: the reseller that serves the customer, and how it is billed.
				lookup("Partner__c", "Account"),
				emailField("Partner_Email__c", 80),
				picklist("Billing_Mode__c", true, "Partner Billing", "Direct Billing", "New Partner Billing"),
				// Migrated orgs carry their old system's key; it is not unique, so an
				// upsert on it can match several records (HTTP 300).
				externalID(text("Legacy_Id__c", 40), false),
				// The account's mail domains, separated by ";", "," or spaces: intake finds
				// the account of a mail's sender by them. A text field, so SOQL's LIKE can
				// search it.
				text("Email_Domains__c", 255),
			),
			Children: []soql.ChildRelationship{
				{Name: "Contacts", Object: "Contact", Field: "AccountId"},
				{Name: "Cases", Object: "Case", Field: "AccountId"},
				{Name: "Tasks", Object: "Task", Field: "WhatId"},
				{Name: "ContentDocumentLinks", Object: "ContentDocumentLink", Field: "LinkedEntityId"},
				// The relationship names the lookups' metadata gives, with the __r of custom ones.
				{Name: "Partner_Customers__r", Object: "Account", Field: "Partner__c"},
				{Name: "Former_Partner_Removals__r", Object: "Case", Field: "Former_Partner__c"},
			}},
			LabelPlural: "Accounts"},
		{Object: soql.Object{Name: "Contact", Label: "Contact", KeyPrefix: "003",
			Fields: withAudit(
				text("FirstName", 40),
				required(text("LastName", 80)),
				readOnly(text("Name", 121)),
				emailField("Email", 80),
				text("Phone", 40),
				text("Title", 128),
				ref("AccountId", "Account", "Account"),
				ref("OwnerId", "Owner", "User"),
			),
			Children: []soql.ChildRelationship{
				{Name: "Cases", Object: "Case", Field: "ContactId"},
				{Name: "Tasks", Object: "Task", Field: "WhoId"},
			}},
			LabelPlural: "Contacts", Derive: fullName},
		{Object: soql.Object{Name: "Case", Label: "Case", KeyPrefix: "500",
			Fields: withAudit(
				readOnly(text("CaseNumber", 30)),
				text("Subject", 255),
				textArea("Description", 32000),
				picklist("Status", true, "New", "Working", "Escalated", "Legal Review",
					"Attrition Confirmed", "Termination Notified", "Off-boarding", "Final Notice Sent",
					"Data Deletion Approved", "Data Purge", "Data Purge Done",
					"Cancellation Refused", "Terms Not Accepted", "Pending Cancellation",
					"Pending Partner Change", "Cancelled", "Partner Changed",
					"Uninstall Pending", "Uninstall Confirmed", "Suspension Requested", "Tenant Deactivated",
					"Removal Scheduled", "Removal Confirmed", "Removed", "Closed"),
				picklist("Type", false, "Question", "Problem", "Feature Request", "Other", "Termination",
					"MSP Cancellation", "Partner Cancellation", "Customer Removal"),
				picklist("Origin", false, "Email", "Phone", "Web"),
				picklist("Priority", false, "High", "Medium", "Low"),
				picklist("Reason", false, "Installation", "Equipment Complexity", "Performance",
					"Breakdown", "Equipment Design", "Feedback", "Instructions not clear",
					"New problem", "Existing problem", "Other"),
				ref("AccountId", "Account", "Account"),
				ref("ContactId", "Contact", "Contact"),
				ref("OwnerId", "Owner", "User", "Group"),
				ref("ParentId", "Parent", "Case"),
				readOnly(typed("IsClosed", soql.TypeBoolean)),
				readOnly(typed("ClosedDate", soql.TypeDateTime)),
				emailField("SuppliedEmail", 80),
				text("SuppliedName", 80),
				text("SuppliedCompany", 80),
				typed("Contract_End_Date__c", soql.TypeDate),
				typed("Termination_Confirmed__c", soql.TypeDate),
				labeled(typed("Deprovision_Date__c", soql.TypeDateTime), "De-Provision Date"),
				typed("Termination_Hold__c", soql.TypeBoolean),
				typed("Data_Deletion_Approved__c", soql.TypeBoolean),
				labeled(typed("Deletion_Window_Days__c", soql.TypeDouble), "Deletion Window (Days)"),
				longText("Deactivated_GUIDs__c"),
				longText("Slack_Threads__c"), // casebot's threads of the case: "#legal 1700000000.000100", a line each
				// MSP cancellation.
				picklist("Cancellation_Type__c", true, "Cancel", "Partner Change"),
				typed("Data_Export_Required__c", soql.TypeBoolean),
				typed("Terms_Accepted__c", soql.TypeBoolean),
				typed("Exgestion_Quote_Accepted__c", soql.TypeBoolean),
				text("New_Partner__c", 80),
				typed("Commitment_End_Date__c", soql.TypeDate),
				typed("Service_Withdrawal_Date__c", soql.TypeDate),
				// Partner cancellation.
				typed("Cancellation_Confirmed__c", soql.TypeBoolean),
				typed("Uninstall_Instructions_Sent__c", soql.TypeDateTime),
				typed("Uninstall_Confirmed__c", soql.TypeBoolean),
				longText("Uninstall_Evidence__c"),
				longText("Pending_Matters__c"),
				text("Technical_Contact__c", 255),
				text("Commercial_Contact__c", 255),
				text("Support_Case_Number__c", 40),
				typed("Active_Devices__c", soql.TypeDouble),
				typed("Devices_Checked_At__c", soql.TypeDateTime),
				typed("Tenant_Deactivated_At__c", soql.TypeDateTime),
				// Customer removal.
				emailField("Customer_Email__c", 80),
				picklist("Removal_Scenario__c", true, "Customer Request", "Partner Business Adjustment",
					"Violation", "Policy Breach", "Agreement End", "Direct Billing Switch"),
				longText("Termination_Reason__c"),
				typed("Settlements_Complete__c", soql.TypeBoolean),
				typed("Notice_Given_Date__c", soql.TypeDate),
				typed("Notice_Period_Days__c", soql.TypeDouble),
				longText("Data_Migration_Plan__c"),
				text("Alternative_Service__c", 255),
				labeled(picklist("Billing_Mode_After__c", true, "Direct Billing", "New Partner Billing"),
					"Billing Mode After Removal"),
				typed("Removal_Effective_Date__c", soql.TypeDate),
				typed("Removal_Confirmed__c", soql.TypeBoolean),
				lookup("Former_Partner__c", "Account"),
				typed("Partner_Quota_Remaining__c", soql.TypeDouble),
				// The key of the inbound mail a case was opened from, so that intake retried
				// after a crash upserts the case instead of opening it twice.
				externalID(text("Casebot_Key__c", 255), true),
			),
			Children: []soql.ChildRelationship{
				{Name: "Tasks", Object: "Task", Field: "WhatId"},
				{Name: "CaseComments", Object: "CaseComment", Field: "ParentId"},
				{Name: "EmailMessages", Object: "EmailMessage", Field: "ParentId"},
				{Name: "Cases", Object: "Case", Field: "ParentId"},
				{Name: "ContentDocumentLinks", Object: "ContentDocumentLink", Field: "LinkedEntityId"},
			}},
			LabelPlural: "Cases",
			Defaults:    map[string]any{"Status": "New", "Priority": "Medium"},
			Derive:      closedWhen("Closed", true)},
		{Object: soql.Object{Name: "Task", Label: "Task", KeyPrefix: "00T",
			Fields: withAudit(
				text("Subject", 255),
				required(picklist("Status", true, "Not Started", "In Progress", "Completed",
					"Waiting on someone else", "Deferred")),
				required(picklist("Priority", true, "High", "Normal", "Low")),
				typed("ActivityDate", soql.TypeDate),
				textArea("Description", 32000),
				ref("WhatId", "What", "Case", "Account"),
				ref("WhoId", "Who", "Contact"),
				ref("OwnerId", "Owner", "User", "Group"),
				readOnly(typed("IsClosed", soql.TypeBoolean)),
				// Not an external id: Salesforce allows none on activity fields, so callers
				// find their tasks by querying this field.
				text("Casebot_Key__c", 255),
			)},
			LabelPlural: "Tasks",
			Defaults:    map[string]any{"Status": "Not Started", "Priority": "Normal"},
			Derive:      closedWhen("Completed", false)},
		{Object: soql.Object{Name: "User", Label: "User", KeyPrefix: "005",
			Fields: withAudit(
				required(soql.Field{Name: "Username", Label: "Username", Type: soql.TypeString,
					Length: 80, Unique: true}),
				required(emailField("Email", 128)),
				text("FirstName", 40),
				required(text("LastName", 80)),
				readOnly(text("Name", 121)),
				typed("IsActive", soql.TypeBoolean),
				text("Title", 80),
			)},
			LabelPlural: "Users",
			Defaults:    map[string]any{"IsActive": true},
			Derive:      fullName},
		{Object: soql.Object{Name: "Group", Label: "Group", KeyPrefix: "00G",
			Fields: withAudit(
				required(text("Name", 40)),
				text("DeveloperName", 80),
				picklist("Type", true, "Queue", "Regular"),
				emailField("Email", 255),
			)},
			LabelPlural: "Groups",
			Defaults:    map[string]any{"Type": "Regular"}},
		{Object: soql.Object{Name: "CaseComment", Label: "Case Comment", KeyPrefix: "00a",
			Fields: withAudit(
				required(ref("ParentId", "Parent", "Case")),
				textArea("CommentBody", 4000),
				typed("IsPublished", soql.TypeBoolean),
			)},
			LabelPlural: "Case Comments"},
		{Object: soql.Object{Name: "EmailMessage", Label: "Email Message", KeyPrefix: "02s",
			Fields: withAudit(
				ref("ParentId", "Parent", "Case"),
				emailField("FromAddress", 1000),
				text("FromName", 1000),
				text("ToAddress", 4000),
				text("CcAddress", 4000),
				text("BccAddress", 4000),
				text("Subject", 3000),
				textArea("TextBody", 131072),
				textArea("HtmlBody", 131072),
				textArea("Headers", 32000),
				text("MessageIdentifier", 255),
				text("ThreadIdentifier", 255),
				// "0" New, "1" Read, "2" Replied, "3" Sent, "4" Forwarded, "5" Draft.
				required(picklist("Status", true, "0", "1", "2", "3", "4", "5")),
				typed("Incoming", soql.TypeBoolean),
				typed("MessageDate", soql.TypeDateTime),
			)},
			LabelPlural: "Email Messages"},
	}
	objects = append(objects, contentObjects()...)
	s := &schema{objects: objects, byName: map[string]*sobject{}, byKey: map[string]*sobject{}, blobs: map[string][]string{}}
	for _, o := range objects {
		s.byName[strings.ToLower(o.Name)] = o
		s.byKey[o.KeyPrefix] = o
		for _, f := range o.Fields {
			if s.isBlob(o.Name, f.Name) {
				s.blobs[o.Name] = append(s.blobs[o.Name], f.Name)
			}
		}
	}
	return s
}
