package salesforce

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"casebot/bot"
)

// maxFileText bounds the files of one LogMail call, base64-encoded. A composite call is a JSON
// (non-multipart) request, and Salesforce takes blob data in such a request up to "50 MB of
// text data or 37.5 MB of base64-encoded data" (REST API Developer Guide, Insert or Update
// Blob Data); the stricter reading of that sentence is the bound.
const maxFileText = 37_500_000

// LogMail keeps a mail on a case in one composite call with allOrNone, so that Salesforce
// does all of it or nothing: it opens the case with w.Case (or updates w.CaseID with it, first,
// so that a rejected update stops the rest), logs the EmailMessage on it and stores each file
// as a ContentVersion first published to the case, which shares the file with it. A composite
// call takes 25 subrequests, which leaves room for 23 files (24 on a case given and not
// updated); more, or files above maxFileText, are refused before any call: split across
// calls, the mail would no longer be kept all or nothing. A subrequest's failure is returned
// as the client classifies it (the one that failed, not those halted with it). When the call
// was sent but its answer lost, the mail may have been kept: MailCases finds it by its
// MessageIdentifier before a retry logs it twice.
func (m *CRM) LogMail(ctx context.Context, w bot.MailWrite) (caseID string, err error) {
	op := "log a mail on a new case"
	if w.CaseID != "" {
		op = "log a mail on case " + w.CaseID
	}
	reqs, err := logMailRequests(w)
	if err != nil {
		return "", invalidInput(op, err.Error())
	}
	resps, err := m.c.Composite(ctx, true, reqs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := compositeFailure(resps); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if w.CaseID != "" {
		return w.CaseID, nil
	}
	var created saveResult
	if err := json.Unmarshal(resps[0].Body, &created); err != nil || !ValidID(created.ID) {
		return "", fmt.Errorf("%s: Salesforce answered the case's creation with %s", op, snippet(resps[0].Body))
	}
	return created.ID, nil
}

// codeHalted is the error of the subrequests of a composite with allOrNone that were rolled
// back, or never run, because another one failed.
const codeHalted = "PROCESSING_HALTED"

// compositeFailure returns the error of the subrequest that failed a composite: the first
// that is not halted because of another; nil when all succeeded.
func compositeFailure(resps []CompositeResponse) error {
	var first error
	for _, r := range resps {
		var ae *APIError
		switch {
		case r.Err == nil:
		case !errors.As(r.Err, &ae) || ae.Code != codeHalted:
			return r.Err
		case first == nil:
			first = r.Err
		}
	}
	return first
}

// logMailRequests returns LogMail's subrequests for w, or why it refuses w.
func logMailRequests(w bot.MailWrite) ([]CompositeRequest, error) {
	var reqs []CompositeRequest
	parent := w.CaseID
	switch {
	case w.CaseID == "":
		reqs = append(reqs, CompositeRequest{Method: http.MethodPost, URL: "/sobjects/Case", ReferenceID: "NewCase", Body: recordBody(w.Case)})
		parent = "@{NewCase.id}"
	case !bot.IsRecordID(w.CaseID, "500"):
		return nil, fmt.Errorf("invalid case id %q", w.CaseID)
	case len(w.Case) > 0:
		reqs = append(reqs, CompositeRequest{Method: http.MethodPatch, URL: "/sobjects/Case/" + w.CaseID, ReferenceID: "UpdateCase", Body: recordBody(w.Case)})
	}
	for name := range w.Mail {
		if strings.EqualFold(name, "ParentId") {
			return nil, fmt.Errorf("the mail's fields name its case (%s): LogMail sets it", name)
		}
	}
	mail := recordBody(w.Mail)
	mail["ParentId"] = parent
	reqs = append(reqs, CompositeRequest{Method: http.MethodPost, URL: "/sobjects/EmailMessage", ReferenceID: "Mail", Body: mail})
	if room := maxComposite - len(reqs); len(w.Files) > room {
		return nil, fmt.Errorf("%d files: one call that keeps a mail all or nothing takes at most %d", len(w.Files), room)
	}
	size := 0
	for i, f := range w.Files {
		if f.Name == "" {
			return nil, fmt.Errorf("file %d has no name", i+1)
		}
		size += base64.StdEncoding.EncodedLen(len(f.Data))
	}
	if size > maxFileText {
		return nil, fmt.Errorf("the %d files take %d bytes base64-encoded: one call takes at most %d", len(w.Files), size, maxFileText)
	}
	for i, f := range w.Files {
		reqs = append(reqs, CompositeRequest{Method: http.MethodPost, URL: "/sobjects/ContentVersion", ReferenceID: fmt.Sprintf("File%d", i+1),
			Body: map[string]any{"Title": fileTitle(f.Name), "PathOnClient": f.Name, "FirstPublishLocationId": parent,
				"VersionData": base64.StdEncoding.EncodeToString(f.Data)}})
	}
	return reqs, nil
}

// recordBody returns a record's fields as a subrequest's body: an object even when there are
// none.
func recordBody(f bot.Fields) map[string]any {
	out := make(map[string]any, len(f)+1)
	maps.Copy(out, f)
	return out
}

// fileTitle is the Title of a file named name: its name without a folder or extension, as
// Salesforce titles an uploaded file, within the field's 255 characters.
func fileTitle(name string) string {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	if dot := strings.LastIndexByte(name, '.'); dot > 0 {
		name = name[:dot]
	}
	return bot.Truncate(name, 255, "…")
}
