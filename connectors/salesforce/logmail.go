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

// maxFileText bounds the files of one LogMails call, base64-encoded. A composite graph call is
// a JSON (non-multipart) request, and Salesforce takes blob data in such a request up to "50 MB
// of text data or 37.5 MB of base64-encoded data" (REST API Developer Guide, Insert or Update
// Blob Data); the stricter reading of that sentence is the bound.
const maxFileText = 37_500_000

// maxMailNodes bounds the nodes of one mail's graph: what one composite call took when each
// mail had a call of its own, which leaves room for 23 files (24 on a case given and not
// updated). It keeps one mail from filling a call alone; intake keeps 21 files a mail.
const maxMailNodes = maxComposite

// LogMails keeps mails on cases in composite graph calls, a graph each, so that Salesforce does
// all of a mail or nothing of it: the graph opens the case with w.Case (or updates w.CaseID
// with it, first, so that a rejected update stops the rest), logs the EmailMessage on it and
// stores each file as a ContentVersion first published to the case, which shares the file with
// it. As many mails go in a call as its limits allow (75 graphs, 500 nodes, maxFileText of
// files). A mail of more than 23 files, or of files above maxFileText, is refused before any
// call: split across graphs, it would no longer be kept all or nothing.
//
// A mail's error is that of its node that failed, as the client classifies it (not those
// halted with it); graphs Salesforce halted after 14 others failed are sent again in the next
// call. A call that failed as a whole fails its mails, and when it may succeed later, the
// mails after it too, unsent: Salesforce is not asked again what it just could not answer.
// When a call was sent but its answer lost, its mails may have been kept: MailCases finds
// them by their MessageIdentifier before a retry logs them twice.
func (m *CRM) LogMails(ctx context.Context, ws []bot.MailWrite) []bot.MailResult {
	out := make([]bot.MailResult, len(ws))
	type graph struct {
		mail int // the index of its write
		reqs []CompositeRequest
		text int // its files' base64 bytes
	}
	var queue []graph
	for i, w := range ws {
		reqs, text, err := logMailRequests(w, fmt.Sprint(i+1))
		if err != nil {
			out[i].Err = invalidInput(mailOp(w), err.Error())
			continue
		}
		queue = append(queue, graph{mail: i, reqs: reqs, text: text})
	}
	for len(queue) > 0 {
		n, nodes, text := 0, 0, 0
		for n < len(queue) && n < maxGraphs && nodes+len(queue[n].reqs) <= maxGraphNodes && text+queue[n].text <= maxFileText {
			nodes, text = nodes+len(queue[n].reqs), text+queue[n].text
			n++
		}
		sent := queue[:n]
		queue = queue[n:]
		graphs := make([]Graph, len(sent))
		for i, g := range sent {
			graphs[i] = Graph{ID: fmt.Sprintf("mail%d", g.mail+1), Requests: g.reqs}
		}
		results, err := m.c.Graph(ctx, graphs)
		if err != nil {
			fail := func(gs []graph) {
				for _, g := range gs {
					out[g.mail].Err = fmt.Errorf("%s: %w", mailOp(ws[g.mail]), err)
				}
			}
			fail(sent)
			if bot.IsRetryable(err) {
				fail(queue)
				queue = nil
			}
			continue
		}
		failures := 0
		for _, r := range results {
			if !r.Successful && !halted(r) {
				failures++
			}
		}
		var again []graph
		for i, g := range sent {
			r, w := results[i], ws[g.mail]
			switch {
			case r.Successful:
				out[g.mail].CaseID, out[g.mail].Err = loggedCase(w, r, fmt.Sprint(g.mail+1))
			case halted(r) && failures > maxGraphFailures:
				again = append(again, g) // not run: the next call runs it
			default:
				out[g.mail].Err = fmt.Errorf("%s: %w", mailOp(w), graphFailure(r))
			}
		}
		queue = append(again, queue...)
	}
	return out
}

// mailOp says what writing w does, for its errors.
func mailOp(w bot.MailWrite) string {
	if w.CaseID != "" {
		return "log a mail on case " + w.CaseID
	}
	return "log a mail on a new case"
}

// loggedCase returns the id of the case a successful graph kept w on.
func loggedCase(w bot.MailWrite, r GraphResult, suffix string) (string, error) {
	if w.CaseID != "" {
		return w.CaseID, nil
	}
	for _, resp := range r.Responses {
		if resp.ReferenceID != "NewCase"+suffix {
			continue
		}
		var created saveResult
		if err := json.Unmarshal(resp.Body, &created); err != nil || !ValidID(created.ID) {
			return "", fmt.Errorf("%s: Salesforce answered the case's creation with %s", mailOp(w), snippet(resp.Body))
		}
		return created.ID, nil
	}
	return "", fmt.Errorf("%s: Salesforce did not answer the case's creation", mailOp(w))
}

// halted reports whether a graph failed without running: every node PROCESSING_HALTED.
func halted(r GraphResult) bool {
	var ae *APIError
	return !r.Successful && errors.As(graphFailure(r), &ae) && ae.Code == codeHalted
}

// graphFailure returns the error of the node that failed a graph.
func graphFailure(r GraphResult) error {
	if err := compositeFailure(r.Responses); err != nil {
		return err
	}
	return &APIError{Op: "graph " + r.ID, Code: codeHalted, Message: "the graph failed without an error of a node"}
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

// logMailRequests returns the nodes of w's graph, their reference ids ending in suffix, and
// the base64 bytes of its files; or why it refuses w.
func logMailRequests(w bot.MailWrite, suffix string) ([]CompositeRequest, int, error) {
	var reqs []CompositeRequest
	parent := w.CaseID
	switch {
	case w.CaseID == "":
		reqs = append(reqs, CompositeRequest{Method: http.MethodPost, URL: "/sobjects/Case", ReferenceID: "NewCase" + suffix, Body: recordBody(w.Case)})
		parent = "@{NewCase" + suffix + ".id}"
	case !bot.IsRecordID(w.CaseID, "500"):
		return nil, 0, fmt.Errorf("invalid case id %q", w.CaseID)
	case len(w.Case) > 0:
		reqs = append(reqs, CompositeRequest{Method: http.MethodPatch, URL: "/sobjects/Case/" + w.CaseID, ReferenceID: "UpdateCase" + suffix, Body: recordBody(w.Case)})
	}
	for name := range w.Mail {
		if strings.EqualFold(name, "ParentId") {
			return nil, 0, fmt.Errorf("the mail's fields name its case (%s): LogMails sets it", name)
		}
	}
	mail := recordBody(w.Mail)
	mail["ParentId"] = parent
	reqs = append(reqs, CompositeRequest{Method: http.MethodPost, URL: "/sobjects/EmailMessage", ReferenceID: "Mail" + suffix, Body: mail})
	if room := maxMailNodes - len(reqs); len(w.Files) > room {
		return nil, 0, fmt.Errorf("%d files: a mail is kept all or nothing with at most %d", len(w.Files), room)
	}
	size := 0
	for i, f := range w.Files {
		if f.Name == "" {
			return nil, 0, fmt.Errorf("file %d has no name", i+1)
		}
		size += base64.StdEncoding.EncodedLen(len(f.Data))
	}
	if size > maxFileText {
		return nil, 0, fmt.Errorf("the %d files take %d bytes base64-encoded: one call takes at most %d", len(w.Files), size, maxFileText)
	}
	for i, f := range w.Files {
		reqs = append(reqs, CompositeRequest{Method: http.MethodPost, URL: "/sobjects/ContentVersion", ReferenceID: fmt.Sprintf("File%s_%d", suffix, i+1),
			Body: map[string]any{"Title": fileTitle(f.Name), "PathOnClient": f.Name, "FirstPublishLocationId": parent,
				"VersionData": base64.StdEncoding.EncodeToString(f.Data)}})
	}
	return reqs, size, nil
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
