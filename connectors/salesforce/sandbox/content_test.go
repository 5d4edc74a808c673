package sandbox

import (
	"encoding/base64"
	"net/http"
	"testing"
)

func TestContentVersion(t *testing.T) {
	o := seededOrg(t)
	caseID := o.query("SELECT Id FROM Case LIMIT 1").Records[0]["Id"].(string)
	apiUser := o.query("SELECT Id FROM User WHERE Username = 'casebot@example.test'").Records[0]["Id"].(string)
	data := []byte("%PDF-1.7 termination letter\x00\xff")
	versionID := o.create("ContentVersion", map[string]any{"PathOnClient": "letters/Termination Letter.pdf",
		"VersionData": base64.StdEncoding.EncodeToString(data), "FirstPublishLocationId": caseID})

	v := o.get("ContentVersion", versionID)
	blobURL := "/services/data/v62.0/sobjects/ContentVersion/" + versionID + "/VersionData"
	if v["Title"] != "Termination Letter" || v["FileExtension"] != "pdf" || v["FileType"] != "PDF" ||
		v["ContentSize"] != float64(len(data)) || v["VersionNumber"] != "1" || v["IsLatest"] != true || v["VersionData"] != blobURL {
		t.Errorf("version: %v", v)
	}
	r := o.do("GET", blobURL, nil)
	if r.status != http.StatusOK || string(r.body) != string(data) || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("VersionData: %d %q %v", r.status, r.body, r.header)
	}
	docID, _ := v["ContentDocumentId"].(string)
	if docID[:3] != "069" {
		t.Fatalf("ContentDocumentId %q", docID)
	}
	doc := o.get("ContentDocument", docID)
	if doc["Title"] != "Termination Letter" || doc["LatestPublishedVersionId"] != versionID || doc["FileType"] != "PDF" {
		t.Errorf("document: %v", doc)
	}

	links := o.query("SELECT LinkedEntityId, ShareType, Visibility FROM ContentDocumentLink WHERE ContentDocumentId = '" + docID + "' ORDER BY ShareType")
	if links.TotalSize != 2 || links.Records[0]["LinkedEntityId"] != apiUser || links.Records[0]["ShareType"] != "I" ||
		links.Records[1]["LinkedEntityId"] != caseID || links.Records[1]["ShareType"] != "V" {
		t.Errorf("links: %+v", links.Records)
	}
	files := o.query("SELECT Id, (SELECT ContentDocument.Title FROM ContentDocumentLinks) FROM Case WHERE Id = '" + caseID + "'")
	sub, _ := files.Records[0]["ContentDocumentLinks"].(map[string]any)
	if sub == nil || sub["totalSize"] != float64(1) {
		t.Errorf("the case's files: %v", files.Records[0])
	}
	byQuery := o.query("SELECT VersionData, ContentDocument.Title FROM ContentVersion WHERE FirstPublishLocationId = '" + caseID + "'")
	if byQuery.TotalSize != 1 || byQuery.Records[0]["VersionData"] != blobURL {
		t.Errorf("query: %+v", byQuery.Records)
	}

	// A new version of the document.
	v2 := o.create("ContentVersion", map[string]any{"ContentDocumentId": docID, "PathOnClient": "letter-v2.txt",
		"Title": "Letter, signed", "VersionData": base64.StdEncoding.EncodeToString([]byte("signed"))})
	if got := o.get("ContentVersion", v2); got["VersionNumber"] != "2" || got["IsLatest"] != true || got["FileType"] != "TEXT" {
		t.Errorf("second version: %v", got)
	}
	if got := o.get("ContentVersion", versionID)["IsLatest"]; got != false {
		t.Errorf("first version still latest: %v", got)
	}
	if got := o.get("ContentDocument", docID); got["LatestPublishedVersionId"] != v2 || got["Title"] != "Letter, signed" {
		t.Errorf("document after a new version: %v", got)
	}

	// What Salesforce does not allow.
	o.do("PATCH", "/sobjects/ContentVersion/"+versionID, map[string]any{"VersionData": "AAAA"}).
		wantError(t, http.StatusBadRequest, "INVALID_FIELD_FOR_INSERT_UPDATE")
	o.do("PATCH", "/sobjects/ContentVersion/"+versionID, map[string]any{"Description": "ok"}).ok(t, http.StatusNoContent, nil)
	o.do("POST", "/sobjects/ContentDocument", map[string]any{"Title": "x"}).wantError(t, http.StatusBadRequest, "INVALID_TYPE_FOR_OPERATION")
	o.do("DELETE", "/sobjects/ContentVersion/"+versionID, nil).wantError(t, http.StatusBadRequest, "INVALID_TYPE_FOR_OPERATION")
	o.do("POST", "/sobjects/ContentVersion", map[string]any{"PathOnClient": "a.txt", "VersionData": "not base64!"}).
		wantError(t, http.StatusBadRequest, "JSON_PARSER_ERROR")
	o.do("POST", "/sobjects/ContentVersion", map[string]any{"PathOnClient": "a.txt"}).
		wantError(t, http.StatusBadRequest, "REQUIRED_FIELD_MISSING")
	o.do("GET", "/sobjects/ContentVersion/"+versionID+"/Title", nil).wantError(t, http.StatusNotFound, "NOT_FOUND")

	// Deleting the document deletes its versions and links.
	o.do("DELETE", "/sobjects/ContentDocument/"+docID, nil).ok(t, http.StatusNoContent, nil)
	if n := o.query("SELECT Id FROM ContentVersion").TotalSize + o.query("SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId = '"+docID+"'").TotalSize; n != 0 {
		t.Errorf("%d versions and links outlived their document", n)
	}
	o.do("GET", blobURL, nil).wantError(t, http.StatusNotFound, "NOT_FOUND")

	var d struct {
		Createable bool        `json:"createable"`
		Fields     []fieldInfo `json:"fields"`
	}
	o.do("GET", "/sobjects/ContentDocument/describe", nil).ok(t, http.StatusOK, &d)
	if d.Createable {
		t.Error("ContentDocument described as createable")
	}
	o.do("GET", "/sobjects/ContentVersion/describe", nil).ok(t, http.StatusOK, &d)
	for _, f := range d.Fields {
		if f.Name == "PathOnClient" && (f.Updateable || !f.Createable) {
			t.Errorf("PathOnClient: %+v", f)
		}
	}
}
