package sandbox

import (
	"net/http"
	"slices"
	"strings"

	"casebot/connectors/salesforce/sandbox/soql"
)

// The describe bodies carry the attributes clients read (jsforce and the sf CLI print or cache
// them); attributes Salesforce has but that mean nothing in the sandbox are left out.

type objectInfo struct {
	Name         string            `json:"name"`
	Label        string            `json:"label"`
	LabelPlural  string            `json:"labelPlural"`
	KeyPrefix    string            `json:"keyPrefix"`
	Custom       bool              `json:"custom"`
	Createable   bool              `json:"createable"`
	Updateable   bool              `json:"updateable"`
	Deletable    bool              `json:"deletable"`
	Queryable    bool              `json:"queryable"`
	Retrieveable bool              `json:"retrieveable"`
	Searchable   bool              `json:"searchable"`
	URLs         map[string]string `json:"urls"`
}

type fieldInfo struct {
	Name               string          `json:"name"`
	Label              string          `json:"label"`
	Type               soql.FieldType  `json:"type"`
	SoapType           string          `json:"soapType"`
	Length             int             `json:"length"`
	Nillable           bool            `json:"nillable"`
	Createable         bool            `json:"createable"`
	Updateable         bool            `json:"updateable"`
	DefaultedOnCreate  bool            `json:"defaultedOnCreate"`
	Custom             bool            `json:"custom"`
	ExternalID         bool            `json:"externalId"`
	Unique             bool            `json:"unique"`
	IDLookup           bool            `json:"idLookup"`
	AutoNumber         bool            `json:"autoNumber"`
	Filterable         bool            `json:"filterable"`
	Sortable           bool            `json:"sortable"`
	RestrictedPicklist bool            `json:"restrictedPicklist"`
	PicklistValues     []picklistValue `json:"picklistValues"`
	ReferenceTo        []string        `json:"referenceTo"`
	RelationshipName   *string         `json:"relationshipName"`
	Polymorphic        bool            `json:"polymorphicForeignKey"`
}

type picklistValue struct {
	Active       bool   `json:"active"`
	DefaultValue bool   `json:"defaultValue"`
	Label        string `json:"label"`
	Value        string `json:"value"`
}

type childRelationship struct {
	ChildSObject     string `json:"childSObject"`
	Field            string `json:"field"`
	RelationshipName string `json:"relationshipName"`
	CascadeDelete    bool   `json:"cascadeDelete"`
}

type objectDescribe struct {
	objectInfo
	Fields             []fieldInfo         `json:"fields"`
	ChildRelationships []childRelationship `json:"childRelationships"`
}

// soapType is the XML schema type describe reports for a field type.
func soapType(t soql.FieldType) string {
	switch t {
	case soql.TypeID, soql.TypeReference:
		return "tns:ID"
	case soql.TypeBoolean:
		return "xsd:boolean"
	case soql.TypeDate:
		return "xsd:date"
	case soql.TypeDateTime:
		return "xsd:dateTime"
	case soql.TypeDouble, soql.TypeCurrency:
		return "xsd:double"
	case soql.TypeInt:
		return "xsd:int"
	case soql.TypeBase64:
		return "xsd:base64Binary"
	}
	return "xsd:string"
}

func objectSummary(o *sobject, version string) objectInfo {
	base := "/services/data/v" + version + "/sobjects/" + o.Name
	return objectInfo{
		Name: o.Name, Label: o.Label, LabelPlural: o.LabelPlural, KeyPrefix: o.KeyPrefix,
		Createable: !o.NotCreateable, Updateable: !o.NotUpdateable, Deletable: !o.NotDeletable,
		Queryable: true, Retrieveable: true,
		Searchable: true,
		URLs:       map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"},
	}
}

func describeField(o *sobject, f soql.Field) fieldInfo {
	fi := fieldInfo{
		Name: f.Name, Label: f.Label, Type: f.Type, SoapType: soapType(f.Type), Length: f.Length,
		Nillable:           !f.Required && f.Type != soql.TypeBoolean && f.Name != "Id",
		Createable:         !f.ReadOnly,
		Updateable:         !f.ReadOnly && !slices.Contains(o.CreateOnly, f.Name),
		DefaultedOnCreate:  o.Defaults[f.Name] != nil || f.Type == soql.TypeBoolean || f.Name == "OwnerId" || f.ReadOnly,
		Custom:             strings.HasSuffix(f.Name, "__c"),
		ExternalID:         f.ExternalID,
		Unique:             f.Unique,
		IDLookup:           f.Name == "Id" || f.ExternalID || f.Unique,
		AutoNumber:         o.Name == "Case" && f.Name == "CaseNumber",
		Filterable:         f.Type != soql.TypeTextArea && f.Type != soql.TypeBase64,
		Sortable:           f.Type != soql.TypeTextArea && f.Type != soql.TypeBase64,
		RestrictedPicklist: f.Restricted,
		PicklistValues:     []picklistValue{},
		ReferenceTo:        slices.Clone(f.ReferenceTo),
		Polymorphic:        len(f.ReferenceTo) > 1,
	}
	if fi.ReferenceTo == nil {
		fi.ReferenceTo = []string{}
	}
	if f.RelationshipName != "" {
		fi.RelationshipName = &f.RelationshipName
	}
	for _, v := range f.Picklist {
		fi.PicklistValues = append(fi.PicklistValues, picklistValue{Active: true, Label: v, Value: v,
			DefaultValue: o.Defaults[f.Name] == v})
	}
	return fi
}

func (s *Server) globalDescribe(w http.ResponseWriter, r *http.Request, c call) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod(r.Method, "GET", "HEAD"))
		return
	}
	infos := make([]objectInfo, len(s.schema.objects))
	for i, o := range s.schema.objects {
		infos[i] = objectSummary(o, c.version)
	}
	writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": maxCollection, "sobjects": infos})
}

func (s *Server) describe(w http.ResponseWriter, r *http.Request, c call) {
	obj := s.objectFor(w, r)
	if obj == nil {
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, errMethod(r.Method, "GET", "HEAD"))
		return
	}
	d := objectDescribe{objectInfo: objectSummary(obj, c.version), Fields: []fieldInfo{}, ChildRelationships: []childRelationship{}}
	for _, f := range obj.Fields {
		d.Fields = append(d.Fields, describeField(obj, f))
	}
	for _, ch := range obj.Children {
		d.ChildRelationships = append(d.ChildRelationships, childRelationship{ChildSObject: ch.Object, Field: ch.Field, RelationshipName: ch.Name})
	}
	writeJSON(w, http.StatusOK, d)
}
