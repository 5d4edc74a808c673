package sandbox

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"casebot/connectors/salesforce/sandbox/soql"
)

// Salesforce Files: a ContentVersion holds a file's bytes; creating one creates its
// ContentDocument (the file, across versions) and ContentDocumentLinks sharing the document
// with its owner and with the record named by FirstPublishLocationId. Creating a version with
// ContentDocumentId adds a version to an existing document instead.

// linkedEntities are the objects a file can be shared with here.
var linkedEntities = []string{"Case", "Account", "Contact", "User"}

func contentObjects() []*sobject {
	return []*sobject{
		{Object: soql.Object{Name: "ContentVersion", Label: "Content Version", KeyPrefix: "068",
			Fields: withAudit(
				text("Title", 255), // from PathOnClient when not given
				textArea("Description", 1000),
				required(text("PathOnClient", 500)),
				required(typed("VersionData", soql.TypeBase64)),
				ref("ContentDocumentId", "ContentDocument", "ContentDocument"),
				ref("FirstPublishLocationId", "FirstPublishLocation", linkedEntities...),
				ref("OwnerId", "Owner", "User"),
				text("ReasonForChange", 1000),
				readOnly(typed("ContentSize", soql.TypeInt)),
				readOnly(text("FileType", 20)),
				readOnly(text("FileExtension", 40)),
				readOnly(text("VersionNumber", 20)),
				readOnly(typed("IsLatest", soql.TypeBoolean)),
			)},
			LabelPlural:  "Content Versions",
			NotDeletable: true, // a file goes with its ContentDocument
			CreateOnly:   []string{"PathOnClient", "VersionData", "ContentDocumentId", "FirstPublishLocationId"},
			Derive:       deriveFile,
			Created:      versionCreated},
		{Object: soql.Object{Name: "ContentDocument", Label: "Content Document", KeyPrefix: "069",
			Fields: withAudit(
				required(text("Title", 255)),
				textArea("Description", 1000),
				ref("OwnerId", "Owner", "User"),
				readOnly(typed("ContentSize", soql.TypeInt)),
				readOnly(text("FileType", 20)),
				readOnly(text("FileExtension", 40)),
				readOnly(ref("LatestPublishedVersionId", "LatestPublishedVersion", "ContentVersion")),
			),
			Children: []soql.ChildRelationship{
				{Name: "ContentVersions", Object: "ContentVersion", Field: "ContentDocumentId"},
				{Name: "ContentDocumentLinks", Object: "ContentDocumentLink", Field: "ContentDocumentId"},
			}},
			LabelPlural:   "Content Documents",
			NotCreateable: true, // a document is created with its first version
			Deleted:       documentDeleted},
		{Object: soql.Object{Name: "ContentDocumentLink", Label: "Content Document Link", KeyPrefix: "06A",
			Fields: withAudit(
				required(ref("ContentDocumentId", "ContentDocument", "ContentDocument")),
				required(ref("LinkedEntityId", "LinkedEntity", linkedEntities...)),
				// V viewer, C collaborator, I inferred from the linked record (the owner's).
				required(picklist("ShareType", true, "V", "C", "I")),
				picklist("Visibility", true, "AllUsers", "InternalUsers", "SharedUsers"),
			)},
			LabelPlural: "Content Document Links",
			Defaults:    map[string]any{"ShareType": "V", "Visibility": "AllUsers"},
			CreateOnly:  []string{"ContentDocumentId", "LinkedEntityId"}},
	}
}

// decodeBase64 reads a base64 value as Salesforce accepts it: standard alphabet and padding,
// line breaks allowed (MIME-style wrapping).
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(s))
}

// deriveFile sets a new version's Title (the file name without its extension when not given),
// FileExtension, FileType and ContentSize from PathOnClient and VersionData.
func deriveFile(rec, old soql.Record, _ string) {
	if old != nil {
		return
	}
	path, _ := rec["PathOnClient"].(string)
	name := path[strings.LastIndexAny(path, `/\`)+1:]
	base, ext := name, ""
	if dot := strings.LastIndexByte(name, '.'); dot > 0 {
		base, ext = name[:dot], strings.ToLower(name[dot+1:])
	}
	if rec["Title"] == nil {
		rec["Title"] = base
	}
	rec["FileExtension"] = nil
	if ext != "" {
		rec["FileExtension"] = ext
	}
	rec["FileType"] = fileType(ext)
	data, _ := decodeBase64(rec["VersionData"].(string)) // checked by coerce
	rec["ContentSize"] = float64(len(data))
	rec["IsLatest"] = true
}

// fileType is the FileType Salesforce gives a file extension.
func fileType(ext string) string {
	switch ext {
	case "pdf", "png", "gif", "csv", "zip", "xml", "html", "rtf":
		return strings.ToUpper(ext)
	case "htm":
		return "HTML"
	case "jpg", "jpeg":
		return "JPG"
	case "txt":
		return "TEXT"
	case "doc":
		return "WORD"
	case "docx":
		return "WORD_X"
	case "xls":
		return "EXCEL"
	case "xlsx":
		return "EXCEL_X"
	case "ppt":
		return "POWER_POINT"
	case "pptx":
		return "POWER_POINT_X"
	}
	return "UNKNOWN"
}

// versionCreated files a new version: under a new document shared with its owner and its
// first publish location, or as the latest version of the document it names.
func versionCreated(t *tx, rec soql.Record) *apiError {
	id := rec["Id"].(string)
	fileFields := map[string]any{"LatestPublishedVersionId": id, "ContentSize": rec["ContentSize"],
		"FileType": rec["FileType"], "FileExtension": rec["FileExtension"]}
	if docID, ok := rec["ContentDocumentId"].(string); ok {
		if rec["FirstPublishLocationId"] != nil {
			return fieldError("FIELD_INTEGRITY_EXCEPTION",
				"First Publish Location: a new version of an existing document cannot set it", "FirstPublishLocationId")
		}
		versions := 0
		t.each(t.s.schema.sobject("ContentVersion"), func(v soql.Record) {
			if v["ContentDocumentId"] != docID {
				return
			}
			versions++
			if v["IsLatest"] == true {
				t.set(v["Id"].(string), map[string]any{"IsLatest": false})
			}
		})
		rec["VersionNumber"] = strconv.Itoa(versions + 1)
		fileFields["Title"] = rec["Title"]
		t.set(docID, fileFields)
		return nil
	}
	owner := rec["OwnerId"]
	docID, err := t.insert(t.s.schema.sobject("ContentDocument"), map[string]any{"Title": rec["Title"],
		"Description": rec["Description"], "OwnerId": owner})
	if err != nil {
		return err
	}
	t.set(docID, fileFields)
	rec["ContentDocumentId"], rec["VersionNumber"] = docID, "1"
	links := []map[string]any{{"LinkedEntityId": owner, "ShareType": "I"}}
	if loc := rec["FirstPublishLocationId"]; loc != nil && loc != owner {
		links = append(links, map[string]any{"LinkedEntityId": loc, "ShareType": "V"})
	}
	for _, l := range links {
		l["ContentDocumentId"], l["Visibility"] = docID, "AllUsers"
		if _, err := t.insert(t.s.schema.sobject("ContentDocumentLink"), l); err != nil {
			return err
		}
	}
	return nil
}

// documentDeleted deletes a document's versions and links with it.
func documentDeleted(t *tx, doc soql.Record) {
	for _, name := range []string{"ContentVersion", "ContentDocumentLink"} {
		var ids []string
		t.each(t.s.schema.sobject(name), func(r soql.Record) {
			if r["ContentDocumentId"] == doc["Id"] {
				ids = append(ids, r["Id"].(string))
			}
		})
		for _, id := range ids {
			t.remove(t.get(id))
		}
	}
}

// isBlob reports whether a field of an object holds a file's bytes.
func (sc *schema) isBlob(object, field string) bool {
	o := sc.sobject(object)
	if o == nil {
		return false
	}
	f := o.Field(field)
	return f != nil && f.Type == soql.TypeBase64
}

// blob is GET /sobjects/{type}/{id}/{field}: the bytes of a blob field (sObject Blob Get).
func (s *Server) blob(w http.ResponseWriter, r *http.Request, c call, obj *sobject) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod(r.Method, "GET", "HEAD"))
		return
	}
	if !s.schema.isBlob(obj.Name, r.PathValue("value")) {
		writeError(w, errNotFound())
		return
	}
	s.mu.Lock()
	e, err := s.begin(c).lookup(obj, r.PathValue("field"))
	s.mu.Unlock()
	if err != nil {
		writeError(w, errNotFound())
		return
	}
	stored, _ := e.rec[obj.Field(r.PathValue("value")).Name].(string)
	data, decodeErr := decodeBase64(stored)
	if decodeErr != nil {
		writeError(w, newError(http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "the stored file cannot be read"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
