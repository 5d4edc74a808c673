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
				picklist("Type", true, "Prospect", "Customer - Direct", "Customer - Channel",
					"Channel Partner / Reseller", "Installation Partner", "Technology Partner",
					"Other", "Former Customer"),
				picklist("Industry", false, "Agriculture", "Banking", "Chemicals", "Communications",
					"Consulting", "Education", "Electronics", "Energy", "Finance", "Healthcare",
					"Insurance", "Manufacturing", "Media", "Retail", "Technology", "Other"),
				text("Phone", 40),
				soql.Field{Name: "Website", Label: "Website", Type: soql.TypeURL, Length: 255},
				textArea("Description", 32000),
				ref("OwnerId", "Owner", "User"),
				typed("Customer_Attrition__c", soql.TypeBoolean),
				text("Time_Zone__c", 40),
				// Migrated orgs carry their old system's key; it is not unique, so an
				// upsert on it can match several records (HTTP 300).
				externalID(text("Legacy_Id__c", 40), false),
			),
			Children: []soql.ChildRelationship{
				{Name: "Contacts", Object: "Contact", Field: "AccountId"},
				{Name: "Cases", Object: "Case", Field: "AccountId"},
				{Name: "Tasks", Object: "Task", Field: "WhatId"},
				{Name: "ContentDocumentLinks", Object: "ContentDocumentLink", Field: "LinkedEntityId"},
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
					"Data Deletion Approved", "Data Purge", "Data Purge Done", "Closed"),
				picklist("Type", false, "Termination", "Question", "Problem", "Feature Request", "Other"),
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
				typed("Deprovision_Date__c", soql.TypeDateTime),
				typed("Termination_Hold__c", soql.TypeBoolean),
				typed("Data_Deletion_Approved__c", soql.TypeBoolean),
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
	s := &schema{objects: objects, byName: map[string]*sobject{}, byKey: map[string]*sobject{}}
	for _, o := range objects {
		s.byName[strings.ToLower(o.Name)] = o
		s.byKey[o.KeyPrefix] = o
	}
	return s
}
