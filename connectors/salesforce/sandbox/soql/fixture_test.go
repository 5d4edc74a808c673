package soql

import (
	"fmt"
	"strings"
	"time"
)

// testSchema is a small org: the objects casebot touches, a queue as a polymorphic owner and
// a task whose What is a case or an account.
type testSchema map[string]*Object

func (s testSchema) Object(name string) *Object { return s[strings.ToLower(name)] }

func newTestSchema() testSchema {
	ref := func(name, rel string, to ...string) Field {
		return Field{Name: name, Type: TypeReference, ReferenceTo: to, RelationshipName: rel}
	}
	f := func(name string, t FieldType) Field { return Field{Name: name, Type: t} }
	objs := []*Object{
		{Name: "User", KeyPrefix: "005", Fields: []Field{
			f("Id", TypeID), f("Name", TypeString), f("Username", TypeString), f("Email", TypeEmail),
			f("IsActive", TypeBoolean), ref("ManagerId", "Manager", "User"),
		}},
		{Name: "Group", KeyPrefix: "00G", Fields: []Field{f("Id", TypeID), f("Name", TypeString)}},
		{Name: "Account", KeyPrefix: "001", Fields: []Field{
			f("Id", TypeID), f("Name", TypeString), f("Industry", TypePicklist),
			f("NumberOfEmployees", TypeInt), f("AnnualRevenue", TypeCurrency),
			f("Customer_Attrition__c", TypePicklist), ref("OwnerId", "Owner", "User"),
			f("CreatedDate", TypeDateTime),
		}, Children: []ChildRelationship{
			{Name: "Contacts", Object: "Contact", Field: "AccountId"},
			{Name: "Cases", Object: "Case", Field: "AccountId"},
			{Name: "Tasks", Object: "Task", Field: "WhatId"},
		}},
		{Name: "Contact", KeyPrefix: "003", Fields: []Field{
			f("Id", TypeID), f("LastName", TypeString), ref("AccountId", "Account", "Account"),
			f("Birthdate", TypeDate),
		}},
		{Name: "Case", KeyPrefix: "500", Fields: []Field{
			f("Id", TypeID), f("CaseNumber", TypeString), f("Subject", TypeString),
			f("Status", TypePicklist), f("Type", TypePicklist), f("IsClosed", TypeBoolean),
			f("IsDeleted", TypeBoolean), f("Termination_Confirmed__c", TypeBoolean),
			ref("AccountId", "Account", "Account"), ref("OwnerId", "Owner", "User", "Group"),
			f("CreatedDate", TypeDateTime), f("Notice_Date__c", TypeDate), f("Amount__c", TypeDouble),
			{Name: "Description", Type: TypeTextArea, Length: 32000},
		}, Children: []ChildRelationship{{Name: "Tasks", Object: "Task", Field: "WhatId"}}},
		{Name: "Task", KeyPrefix: "00T", Fields: []Field{
			f("Id", TypeID), f("Subject", TypeString), f("Status", TypePicklist),
			f("ActivityDate", TypeDate), f("IsClosed", TypeBoolean), f("IsDeleted", TypeBoolean),
			{Name: "Casebot_Key__c", Type: TypeString, ExternalID: true},
			ref("WhatId", "What", "Case", "Account"), ref("OwnerId", "Owner", "User"),
		}},
	}
	s := testSchema{}
	for _, o := range objs {
		s[strings.ToLower(o.Name)] = o
	}
	return s
}

// testData holds records by object; deleted ones carry IsDeleted = true.
type testData struct {
	objects map[string][]Record
	byID    map[string]string // id → object
	ids     map[string]string // fixture name (C1) → id
	names   map[string]string // id → fixture name
}

func (d *testData) All(object string, withDeleted bool) []Record {
	var out []Record
	for _, r := range d.objects[object] {
		if withDeleted || r["IsDeleted"] != true {
			out = append(out, r)
		}
	}
	return out
}

func (d *testData) ByID(id string) (string, Record) {
	obj, ok := d.byID[id]
	if !ok {
		return "", nil
	}
	for _, r := range d.objects[obj] {
		if r["Id"] == id {
			return obj, r
		}
	}
	return "", nil
}

func (d *testData) add(object, prefix, name string, fields Record) {
	id := fmt.Sprintf("%sXy%010dAAA", prefix, len(d.byID)+1)
	d.ids[name], d.names[id], d.byID[id] = id, name, object
	r := Record{"Id": id}
	for k, v := range fields {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "@") {
			v = d.ids[s[1:]] // "@A1" is the id of fixture A1
		}
		r[k] = v
	}
	d.objects[object] = append(d.objects[object], r)
}

// id returns the 18-character id of a fixture record.
func (d *testData) id(name string) string { return d.ids[name] }

func newTestData() *testData {
	d := &testData{objects: map[string][]Record{}, byID: map[string]string{}, ids: map[string]string{}, names: map[string]string{}}
	d.add("User", "005", "U2", Record{"Name": "Bob Boss", "Username": "boss@example.com", "IsActive": true})
	d.add("User", "005", "U1", Record{"Name": "Ada Admin", "Username": "admin@example.com", "IsActive": true, "ManagerId": "@U2"})
	d.add("Group", "00G", "G1", Record{"Name": "Support Queue"})
	d.add("Account", "001", "A1", Record{"Name": "Acme Corp", "Industry": "Manufacturing", "NumberOfEmployees": 100.0,
		"AnnualRevenue": 1.5e6, "Customer_Attrition__c": "High", "OwnerId": "@U1", "CreatedDate": "2026-01-10T09:00:00.000+0000"})
	d.add("Account", "001", "A2", Record{"Name": "Globex", "Industry": "Energy", "NumberOfEmployees": 10.0, "OwnerId": "@U2"})
	d.add("Account", "001", "A3", Record{"Name": "acme labs", "OwnerId": "@U1"})
	d.add("Account", "001", "A4", Record{"Name": "100% Pure_Water", "NumberOfEmployees": 5.0})
	d.add("Contact", "003", "K1", Record{"LastName": "Smith", "AccountId": "@A1", "Birthdate": "1980-05-01"})
	d.add("Contact", "003", "K2", Record{"LastName": "jones", "AccountId": "@A1"})
	d.add("Contact", "003", "K3", Record{"LastName": "Doe", "AccountId": "@A2"})
	d.add("Case", "500", "C1", Record{"CaseNumber": "00001001", "Subject": "Terminate contract", "Status": "New",
		"Type": "Termination", "IsClosed": false, "Termination_Confirmed__c": true, "AccountId": "@A1", "OwnerId": "@U1",
		"CreatedDate": "2026-11-20T23:30:00.000+0000", "Notice_Date__c": "2026-11-21", "Amount__c": 10.0, "Description": "long"})
	d.add("Case", "500", "C2", Record{"CaseNumber": "00001002", "Subject": "Cancel please", "Status": "Working",
		"Type": "Termination", "IsClosed": false, "Termination_Confirmed__c": false, "AccountId": "@A2", "OwnerId": "@G1",
		"CreatedDate": "2026-11-21T08:00:00.000+0000", "Amount__c": 2.5})
	d.add("Case", "500", "C3", Record{"CaseNumber": "00001003", "Subject": "Old termination", "Status": "Closed",
		"Type": "Termination", "IsClosed": true, "Termination_Confirmed__c": true, "AccountId": "@A1", "OwnerId": "@U2",
		"CreatedDate": "2026-10-01T12:00:00.000+0000", "Notice_Date__c": "2026-10-15"})
	d.add("Case", "500", "C4", Record{"CaseNumber": "00001004", "Subject": "Question", "Status": "New",
		"Type": "Question", "IsClosed": false, "OwnerId": "@U1",
		"CreatedDate": "2026-11-14T10:00:00.000+0000", "Notice_Date__c": "2026-11-28", "Amount__c": -3.0})
	d.add("Case", "500", "C5", Record{"CaseNumber": "00001005", "Status": "New", "Type": "Termination",
		"IsClosed": false, "IsDeleted": true, "AccountId": "@A1"})
	d.add("Task", "00T", "T1", Record{"WhatId": "@C1", "Subject": "Send confirmation", "Status": "Completed",
		"IsClosed": true, "ActivityDate": "2026-11-19", "Casebot_Key__c": "sop/confirm/1/C1"})
	d.add("Task", "00T", "T2", Record{"WhatId": "@C1", "Subject": "Call customer", "Status": "Not Started",
		"IsClosed": false, "ActivityDate": "2026-11-25", "Casebot_Key__c": "sop/call/1/C1"})
	d.add("Task", "00T", "T3", Record{"WhatId": "@C1", "Subject": "Manual note", "Status": "Not Started", "IsClosed": false})
	d.add("Task", "00T", "T4", Record{"WhatId": "@C2", "Subject": "Send confirmation", "Status": "Not Started",
		"IsClosed": false, "ActivityDate": "2026-11-21", "Casebot_Key__c": "sop/confirm/1/C2"})
	d.add("Task", "00T", "T5", Record{"WhatId": "@A1", "Subject": "Account review", "Status": "Not Started",
		"IsClosed": false, "ActivityDate": "2026-11-01"})
	d.add("Task", "00T", "T6", Record{"WhatId": "@C1", "Subject": "Old", "Status": "Completed", "IsClosed": true,
		"IsDeleted": true, "Casebot_Key__c": "sop/old/1/C1"})
	return d
}

// testNow is a Saturday afternoon.
var testNow = time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)

func testEnv(d *testData) Env {
	return Env{Schema: newTestSchema(), Data: d, Now: testNow}
}

// render prints a result compactly with fixture names for ids, e.g.
// Case:C1{CaseNumber="00001001" Account=Account:A1{Name="Acme Corp"} Tasks=[Task:T1{}]}.
func (d *testData) render(res *Result) string {
	if res == nil {
		return "null"
	}
	rows := make([]string, len(res.Records))
	for i, r := range res.Records {
		rows[i] = d.renderRow(r)
	}
	return fmt.Sprintf("%d[%s]", res.TotalSize, strings.Join(rows, " "))
}

func (d *testData) renderRow(r *Row) string {
	if r == nil {
		return "null"
	}
	fields := make([]string, len(r.Fields))
	for i, v := range r.Fields {
		switch {
		case v.IsParent:
			fields[i] = v.Name + "=" + d.renderRow(v.Parent)
		case v.IsChild:
			fields[i] = v.Name + "=" + d.render(v.Children)
		default:
			fields[i] = v.Name + "=" + d.renderScalar(v.Scalar)
		}
	}
	return fmt.Sprintf("%s:%s{%s}", r.Object, d.names[r.ID], strings.Join(fields, " "))
}

func (d *testData) renderScalar(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if n, ok := d.names[v]; ok {
			return n
		}
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}

// names lists the fixture names of the result's records, in order.
func (d *testData) namesOf(res *Result) string {
	var out []string
	for _, r := range res.Records {
		out = append(out, d.names[r.ID])
	}
	return strings.Join(out, " ")
}
