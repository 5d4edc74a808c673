// Package soql parses and executes the Salesforce Object Query Language for the sandbox.
//
// The parser is a real lexer and recursive-descent parser over Salesforce's grammar (not string
// matching), so that queries written for a real org work here unchanged and queries a real org
// refuses are refused with the same error codes. Execution runs a parsed query against a Schema
// (what describe reports) and Data (the sandbox's records).
package soql

import (
	"strings"
	"time"
)

// FieldType is a field's type as describe reports it.
type FieldType string

const (
	TypeID        FieldType = "id"
	TypeString    FieldType = "string"
	TypeTextArea  FieldType = "textarea"
	TypePicklist  FieldType = "picklist"
	TypeBoolean   FieldType = "boolean"
	TypeDate      FieldType = "date"
	TypeDateTime  FieldType = "datetime"
	TypeDouble    FieldType = "double"
	TypeInt       FieldType = "int"
	TypeCurrency  FieldType = "currency"
	TypeReference FieldType = "reference"
	TypeEmail     FieldType = "email"
	TypePhone     FieldType = "phone"
	TypeURL       FieldType = "url"
	TypeBase64    FieldType = "base64"
)

// Field describes one field of an object.
type Field struct {
	Name             string
	Label            string
	Type             FieldType
	Length           int      // for text types; 0 when not applicable
	Required         bool     // REQUIRED_FIELD_MISSING on create when absent or null
	ReadOnly         bool     // INVALID_FIELD_FOR_INSERT_UPDATE when written
	ExternalID       bool     // usable for upsert
	Unique           bool     // DUPLICATE_VALUE on a second record with the same value
	Picklist         []string // allowed values for TypePicklist
	Restricted       bool     // a restricted picklist rejects other values
	ReferenceTo      []string // target objects for TypeReference (several when polymorphic)
	RelationshipName string   // for TypeReference: the name used in SOQL ("Account", "What")
}

// ChildRelationship is a relationship a parent object exposes for subqueries
// (Case.Tasks is the Task records whose WhatId is the case).
type ChildRelationship struct {
	Name   string // "Tasks"
	Object string // "Task"
	Field  string // "WhatId"
}

// Object describes one sObject type.
type Object struct {
	Name      string
	Label     string
	KeyPrefix string // "500" for Case
	Fields    []Field
	Children  []ChildRelationship
}

// Field returns the field with the given name, compared case-insensitively as Salesforce
// does, or nil.
func (o *Object) Field(name string) *Field {
	for i := range o.Fields {
		if strings.EqualFold(o.Fields[i].Name, name) {
			return &o.Fields[i]
		}
	}
	return nil
}

// Child returns the child relationship with the given name (case-insensitive), or nil.
func (o *Object) Child(name string) *ChildRelationship {
	for i := range o.Children {
		if strings.EqualFold(o.Children[i].Name, name) {
			return &o.Children[i]
		}
	}
	return nil
}

// Schema is what the sandbox knows of its objects.
type Schema interface {
	// Object returns the object with the given name (case-insensitive), or nil.
	Object(name string) *Object
}

// Record is one stored record: field name (as declared in the schema) to value. Values are
// string, float64, bool or nil; dates are "2006-01-02" and datetimes are UTC in
// "2006-01-02T15:04:05.000+0000". "Id" is always present.
type Record map[string]any

// Data gives execution read access to the records.
type Data interface {
	// All returns the records of object; deleted ones too when withDeleted (queryAll), each
	// then with "IsDeleted" set. The slice must not be modified.
	All(object string, withDeleted bool) []Record
	// ByID returns the record with the given id and its object name, or nil.
	ByID(id string) (object string, r Record)
}

// Env is what a query is executed with.
type Env struct {
	Schema Schema
	Data   Data
	Now    time.Time      // for TODAY, LAST_N_DAYS:n and the like
	Loc    *time.Location // the org's time zone for date literals; UTC when nil
	// IncludeDeleted makes the query a queryAll: deleted records are read too (Data.All with
	// withDeleted), for the queried object and for child subqueries alike.
	IncludeDeleted bool
}

// Result is what a query returns, in the order the query asks for.
type Result struct {
	Object    string // the queried object
	TotalSize int    // number of records, or the COUNT() value for "SELECT COUNT() FROM …"
	Records   []*Row // nil for SELECT COUNT()
}

// Row is one result record: its fields in the order of the SELECT list (Salesforce's JSON keeps
// that order), relationship fields nested.
type Row struct {
	Object string // the record's type, for "attributes"
	ID     string // for "attributes.url"; "" for aggregate rows
	Fields []Value
}

// Value is one field of a Row. Exactly one of Scalar, Parent and Children is meaningful,
// according to what the SELECT item was.
type Value struct {
	Name     string  // as Salesforce spells it in JSON: the schema's spelling, not the query's
	Scalar   any     // a plain field: string, float64, bool or nil (formatted as stored)
	Parent   *Row    // a parent relationship ("Account"): nil when the reference is empty (JSON null)
	IsParent bool    // Parent is meaningful (so a nil Parent is JSON null, not absent)
	Children *Result // a child subquery ("Tasks"): nil when there are no child rows (JSON null)
	IsChild  bool    // Children is meaningful
}
