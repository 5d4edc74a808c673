package test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"casebot/bot"
	"casebot/connectors/salesforce/sandbox"
	"casebot/rules"
	"casebot/rules/playbooks"
)

// These tests hold the sandbox to what an admin deploys (rules/playbooks/metadata) and to what
// the shipped playbooks read and write, through the sandbox's describe as any client sees it:
// a field the demo runs with but a real org would lack, or lack in that type, fails here.

const metadataDir = "../rules/playbooks/metadata"

// describeOrg is a sandbox read through its REST API.
type describeOrg struct {
	t           *testing.T
	sobjectsURL string // the REST API's sobjects resource
	token       string
	describes   map[string]*objectDescribe // by object, nil for one the sandbox lacks
}

type objectDescribe struct {
	Fields             []describedField `json:"fields"`
	ChildRelationships []struct {
		ChildSObject     string `json:"childSObject"`
		Field            string `json:"field"`
		RelationshipName string `json:"relationshipName"`
	} `json:"childRelationships"`
}

type describedField struct {
	Name               string   `json:"name"`
	Label              string   `json:"label"`
	Type               string   `json:"type"`
	Length             int      `json:"length"`
	ExternalID         bool     `json:"externalId"`
	Unique             bool     `json:"unique"`
	RestrictedPicklist bool     `json:"restrictedPicklist"`
	ReferenceTo        []string `json:"referenceTo"`
	RelationshipName   *string  `json:"relationshipName"`
	PicklistValues     []struct {
		Value  string `json:"value"`
		Active bool   `json:"active"`
	} `json:"picklistValues"`
}

// field returns the described field, or nil.
func (d *objectDescribe) field(name string) *describedField {
	for i := range d.Fields {
		if d.Fields[i].Name == name {
			return &d.Fields[i]
		}
	}
	return nil
}

// values returns a picklist's active values, in order.
func (f *describedField) values() []string {
	var vs []string
	for _, v := range f.PicklistValues {
		if v.Active {
			vs = append(vs, v.Value)
		}
	}
	return vs
}

// startDescribeOrg starts an empty sandbox and logs in with its default credentials.
func startDescribeOrg(t *testing.T) *describeOrg {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), sandbox.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	form := url.Values{"grant_type": {"password"}, "client_id": {"casebot-sandbox"}, "client_secret": {"sandbox-secret"},
		"username": {"casebot@example.test"}, "password": {"sandbox"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, sb.URL()+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	o := &describeOrg{t: t, describes: map[string]*objectDescribe{}}
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	o.decode(req, http.StatusOK, &tok)
	o.sobjectsURL, o.token = tok.InstanceURL+"/services/data/v62.0/sobjects/", tok.AccessToken
	return o
}

// do sends req and returns the answer's status and body.
func (o *describeOrg) do(req *http.Request) (int, []byte) {
	o.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		o.t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, body
}

// decode sends req and decodes its JSON answer into out (when not nil), failing the test on
// any other status than want.
func (o *describeOrg) decode(req *http.Request, want int, out any) {
	o.t.Helper()
	status, body := o.do(req)
	if status != want {
		o.t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL, status, body, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			o.t.Fatalf("%s %s: decoding %s: %v", req.Method, req.URL, body, err)
		}
	}
}

// request returns an authenticated REST request on an sObject path ("Case/describe").
func (o *describeOrg) request(method, path string, body any) *http.Request {
	o.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			o.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(o.t.Context(), method, o.sobjectsURL+path, r)
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// describe returns the object's describe, fetched once; nil (with a test error) when the
// sandbox has no such object.
func (o *describeOrg) describe(object string) *objectDescribe {
	o.t.Helper()
	if d, ok := o.describes[object]; ok {
		return d
	}
	var d *objectDescribe
	switch status, body := o.do(o.request(http.MethodGet, object+"/describe", nil)); status {
	case http.StatusOK:
		d = &objectDescribe{}
		if err := json.Unmarshal(body, d); err != nil {
			o.t.Fatalf("describing %s: %v", object, err)
		}
	case http.StatusNotFound:
		o.t.Errorf("the sandbox has no object %s", object)
	default:
		o.t.Fatalf("describing %s: %d %s", object, status, body)
	}
	o.describes[object] = d
	return d
}

// lookupField returns the sandbox's field, or nil with a test error saying who needs it.
func (o *describeOrg) lookupField(who, object, name string) *describedField {
	o.t.Helper()
	d := o.describe(object)
	if d == nil {
		return nil
	}
	f := d.field(name)
	if f == nil {
		o.t.Errorf("%s: the sandbox has no field %s.%s", who, object, name)
	}
	return f
}

func shippedPlaybooks(t *testing.T) []*rules.Playbook {
	t.Helper()
	pbs, err := rules.Load(playbooks.FS, rules.Options{})
	if err != nil {
		t.Fatalf("loading the shipped playbooks: %v", err)
	}
	return pbs
}

// compatible lists the describe types a field declared with a playbook type may have.
var compatible = map[rules.FieldType][]string{
	rules.TypeString:   {"string", "textarea", "picklist", "email", "phone", "url", "id", "reference"},
	rules.TypeBool:     {"boolean"},
	rules.TypeNumber:   {"double", "int", "currency"},
	rules.TypeDate:     {"date"},
	rules.TypeDateTime: {"datetime"},
}

// Every field a shipped playbook declares is in the sandbox with a type the playbook can read.
func TestSandboxHasPlaybookFields(t *testing.T) {
	o := startDescribeOrg(t)
	for _, p := range shippedPlaybooks(t) {
		refs := make([]rules.FieldRef, 0, len(p.Fields))
		for ref := range p.Fields {
			refs = append(refs, ref)
		}
		slices.SortFunc(refs, func(a, b rules.FieldRef) int { return strings.Compare(a.String(), b.String()) })
		for _, ref := range refs {
			typ := p.Fields[ref]
			f := o.lookupField(p.File, ref.Object, ref.Name)
			if f != nil && !slices.Contains(compatible[typ], f.Type) {
				t.Errorf("%s: %s is declared %s but the sandbox's field is a %s", p.File, ref, typ, f.Type)
			}
		}
	}
}

// Every Case status a shipped playbook sets (status: and close:), and every picklist value it
// writes with update:, is a value of the sandbox's picklist: a restricted picklist would
// refuse it.
func TestSandboxHasPlaybookValues(t *testing.T) {
	o := startDescribeOrg(t)
	for _, p := range shippedPlaybooks(t) {
		for _, s := range p.Steps {
			for _, a := range s.Actions {
				switch a.Kind {
				case bot.KindStatus:
					o.checkValue(p.File+": "+s.ID, rules.ObjectCase, "Status", a.Status)
				case bot.KindUpdate:
					for name, v := range a.Fields {
						if v, ok := v.(string); ok {
							o.checkValue(p.File+": "+s.ID, a.Object, name, v)
						}
					}
				}
			}
		}
	}
}

// checkValue fails when a picklist field does not have the value.
func (o *describeOrg) checkValue(who, object, name, value string) {
	o.t.Helper()
	f := o.lookupField(who, object, name)
	if f != nil && f.Type == "picklist" && !slices.Contains(f.values(), value) {
		o.t.Errorf("%s: %q is not a value of the sandbox's %s.%s %v", who, value, object, name, f.values())
	}
}

// customField is a field-meta.xml file.
type customField struct {
	FullName         string   `xml:"fullName"`
	Label            string   `xml:"label"`
	Type             string   `xml:"type"`
	Length           int      `xml:"length"`
	ExternalID       bool     `xml:"externalId"`
	Unique           bool     `xml:"unique"`
	ReferenceTo      string   `xml:"referenceTo"`
	RelationshipName string   `xml:"relationshipName"`
	Restricted       bool     `xml:"valueSet>restricted"`
	Values           []string `xml:"valueSet>valueSetDefinition>value>fullName"`
}

// describeType is the describe type of a metadata field type, and the length describe reports
// when the metadata gives none (Salesforce fixes it for these types).
var describeType = map[string]struct {
	typ    string
	length int
}{
	"Text": {"string", 0}, "TextArea": {"textarea", 255}, "LongTextArea": {"textarea", 0},
	"Email": {"email", 80}, "Phone": {"phone", 40}, "Url": {"url", 255},
	"Checkbox": {"boolean", 0}, "Date": {"date", 0}, "DateTime": {"datetime", 0},
	"Number": {"double", 0}, "Currency": {"currency", 0},
	"Picklist": {"picklist", 255}, "Lookup": {"reference", 18},
}

// metadataObject is the sObject that holds an object directory's fields: Salesforce defines
// the fields of tasks (and events) on Activity.
func metadataObject(dir string) string {
	if dir == "Activity" {
		return "Task"
	}
	return dir
}

func readMetadata(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Every custom field the project ships as metadata is in the sandbox as deployed: the same
// type, length, label, external id and uniqueness, picklist values in the same order, lookups
// to the same object with the relationship names Salesforce derives from the metadata.
func TestSandboxMatchesMetadata(t *testing.T) {
	o := startDescribeOrg(t)
	paths, err := filepath.Glob(filepath.Join(metadataDir, "objects", "*", "fields", "*.field-meta.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no field metadata under %s", metadataDir)
	}
	for _, path := range paths {
		object := metadataObject(filepath.Base(filepath.Dir(filepath.Dir(path))))
		var m customField
		readMetadata(t, path, &m)
		name := filepath.Base(path)
		name = name[:len(name)-len(".field-meta.xml")]
		where := fmt.Sprintf("%s.%s", object, name)
		if m.FullName != name {
			t.Errorf("%s: fullName %s", path, m.FullName)
		}
		want, known := describeType[m.Type]
		if !known {
			t.Errorf("%s: metadata type %s has no describe type in this test", where, m.Type)
			continue
		}
		f := o.lookupField(path, object, name)
		if f == nil {
			continue
		}
		wantLength := m.Length
		if wantLength == 0 {
			wantLength = want.length
		}
		if f.Type != want.typ || f.Length != wantLength {
			t.Errorf("%s: sandbox %s(%d), metadata %s: want %s(%d)", where, f.Type, f.Length, m.Type, want.typ, wantLength)
		}
		if f.Label != m.Label {
			t.Errorf("%s: sandbox label %q, metadata %q", where, f.Label, m.Label)
		}
		if f.ExternalID != m.ExternalID || f.Unique != m.Unique {
			t.Errorf("%s: sandbox externalId %v unique %v, metadata %v %v", where, f.ExternalID, f.Unique, m.ExternalID, m.Unique)
		}
		if m.Type == "Picklist" && (!slices.Equal(f.values(), m.Values) || f.RestrictedPicklist != m.Restricted) {
			t.Errorf("%s: sandbox values %q (restricted %v), metadata %q (restricted %v)",
				where, f.values(), f.RestrictedPicklist, m.Values, m.Restricted)
		}
		if m.Type == "Lookup" {
			o.checkLookup(where, object, m, f)
		}
	}
}

// checkLookup compares a lookup with its metadata: its target, the name SOQL follows it by
// (Partner__c → Partner__r) and the child relationship its target lists (relationshipName__r).
func (o *describeOrg) checkLookup(where, object string, m customField, f *describedField) {
	o.t.Helper()
	rel := strings.TrimSuffix(m.FullName, "__c") + "__r"
	if !slices.Equal(f.ReferenceTo, []string{m.ReferenceTo}) || f.RelationshipName == nil || *f.RelationshipName != rel {
		o.t.Errorf("%s: sandbox lookup to %v as %v, metadata to %s as %s", where, f.ReferenceTo, f.RelationshipName, m.ReferenceTo, rel)
	}
	parent := o.describe(m.ReferenceTo)
	if parent == nil {
		return
	}
	child := m.RelationshipName + "__r"
	for _, c := range parent.ChildRelationships {
		if c.RelationshipName == child {
			if c.ChildSObject != object || c.Field != m.FullName {
				o.t.Errorf("%s: %s.%s is %s.%s in the sandbox", where, m.ReferenceTo, child, c.ChildSObject, c.Field)
			}
			return
		}
	}
	o.t.Errorf("%s: the sandbox's %s has no child relationship %s", where, m.ReferenceTo, child)
}

// standardValueSet is a standardValueSet-meta.xml file.
type standardValueSet struct {
	Values []struct {
		FullName string `xml:"fullName"`
		Closed   bool   `xml:"closed"`
	} `xml:"standardValue"`
}

// The standard picklists the project ships replace the org's: the sandbox's have the same
// values in the same order.
func TestSandboxMatchesStandardValueSets(t *testing.T) {
	o := startDescribeOrg(t)
	for _, vs := range []struct{ name, object, field string }{
		{"CaseStatus", "Case", "Status"},
		{"CaseType", "Case", "Type"},
		{"AccountType", "Account", "Type"},
	} {
		var set standardValueSet
		readMetadata(t, filepath.Join(metadataDir, "standardValueSets", vs.name+".standardValueSet-meta.xml"), &set)
		var want []string
		for _, v := range set.Values {
			want = append(want, v.FullName)
		}
		f := o.lookupField(vs.name, vs.object, vs.field)
		if f != nil && !slices.Equal(f.values(), want) {
			t.Errorf("%s.%s: sandbox values %q, %s %q", vs.object, vs.field, f.values(), vs.name, want)
		}
	}
}

// A case is closed in exactly the statuses CaseStatus marks closed: the playbooks set a
// status that says what happened and then close with Closed.
func TestSandboxClosedStatuses(t *testing.T) {
	o := startDescribeOrg(t)
	var set standardValueSet
	readMetadata(t, filepath.Join(metadataDir, "standardValueSets", "CaseStatus.standardValueSet-meta.xml"), &set)
	var created struct {
		ID string `json:"id"`
	}
	o.decode(o.request(http.MethodPost, "Case", map[string]any{"Subject": "closed statuses"}), http.StatusCreated, &created)
	for _, v := range set.Values {
		o.decode(o.request(http.MethodPatch, "Case/"+created.ID, map[string]any{"Status": v.FullName}), http.StatusNoContent, nil)
		var rec struct {
			IsClosed bool `json:"IsClosed"`
		}
		o.decode(o.request(http.MethodGet, "Case/"+created.ID+"?fields=IsClosed", nil), http.StatusOK, &rec)
		if rec.IsClosed != v.Closed {
			t.Errorf("status %s: IsClosed %v, CaseStatus says closed %v", v.FullName, rec.IsClosed, v.Closed)
		}
	}
}
