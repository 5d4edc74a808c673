package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// collectionSize is the most records one sObject Collections call takes.
const collectionSize = 200

// queryPage is one page of a query result, or a child relationship's result in a record.
type queryPage struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// Query runs soql and hands the records to fn one page at a time (up to 2,000 records a page,
// one API call each), following nextRecordsUrl. Each record is a JSON object with its
// "attributes"; parent relationships nest as objects (or null), child subqueries as
// {"totalSize","done","records"} (or null). An error from fn stops the query and is returned.
func (c *Client) Query(ctx context.Context, soql string, fn func(records []json.RawMessage) error) error {
	return c.pages(ctx, "query", c.prefix+"/query?"+url.Values{"q": {soql}}.Encode(), fn)
}

// QueryAll is Query over deleted and archived records too.
func (c *Client) QueryAll(ctx context.Context, soql string, fn func(records []json.RawMessage) error) error {
	return c.pages(ctx, "queryAll", c.prefix+"/queryAll?"+url.Values{"q": {soql}}.Encode(), fn)
}

// QueryMore continues a query from a nextRecordsUrl, such as that of a child subquery's result
// whose done is false.
func (c *Client) QueryMore(ctx context.Context, nextRecordsURL string, fn func(records []json.RawMessage) error) error {
	if err := checkNextURL(nextRecordsURL); err != nil {
		return invalidInput("query more", err.Error())
	}
	return c.pages(ctx, "query more", nextRecordsURL, fn)
}

// pages fetches the query page at path and every page after it.
func (c *Client) pages(ctx context.Context, op, path string, fn func(records []json.RawMessage) error) error {
	for {
		var page queryPage
		if _, err := c.do(ctx, call{op: op, method: http.MethodGet, path: path}, &page); err != nil {
			return err
		}
		if err := fn(page.Records); err != nil {
			return err
		}
		if page.Done {
			return nil
		}
		if err := checkNextURL(page.NextRecordsURL); err != nil {
			return fmt.Errorf("%s: page not done: %w", op, err)
		}
		path = page.NextRecordsURL
	}
}

// checkNextURL checks that a nextRecordsUrl is a path on the instance, so that following it
// cannot send the session's token elsewhere.
func checkNextURL(next string) error {
	if !strings.HasPrefix(next, "/services/data/") || strings.Contains(next, "//") {
		return fmt.Errorf("nextRecordsUrl %q: want a path under /services/data/", next)
	}
	return nil
}

// Get reads a record's fields; all of them when fields is empty. The result holds the JSON
// values by field name, without "attributes".
func (c *Client) Get(ctx context.Context, object, id string, fields ...string) (map[string]any, error) {
	op := "get " + object + " " + id
	if err := checkRecord(object, id); err != nil {
		return nil, invalidInput(op, err.Error())
	}
	path := c.prefix + "/sobjects/" + object + "/" + id
	if len(fields) > 0 {
		for _, f := range fields {
			if !ValidField(f) {
				return nil, invalidInput(op, fmt.Sprintf("invalid field name %q", f))
			}
		}
		path += "?" + url.Values{"fields": {strings.Join(fields, ",")}}.Encode()
	}
	var rec map[string]any
	if _, err := c.do(ctx, call{op: op, method: http.MethodGet, path: path}, &rec); err != nil {
		return nil, err
	}
	delete(rec, "attributes")
	return rec, nil
}

// Blob reads the bytes of a record's blob field (sObject Blob Get): a ContentVersion's
// VersionData, say.
func (c *Client) Blob(ctx context.Context, object, id, field string) ([]byte, error) {
	op := "get " + object + " " + id + " " + field
	if err := checkRecord(object, id); err != nil {
		return nil, invalidInput(op, err.Error())
	}
	if !ValidObject(field) { // a field of object itself, no relationship path
		return nil, invalidInput(op, fmt.Sprintf("invalid field name %q", field))
	}
	var data []byte
	r := call{op: op, method: http.MethodGet, path: c.prefix + "/sobjects/" + object + "/" + id + "/" + field, raw: true}
	if _, err := c.do(ctx, r, &data); err != nil {
		return nil, err
	}
	return data, nil
}

// saveResult is Salesforce's answer to a create or upsert, and one record's in a collection.
type saveResult struct {
	ID      string    `json:"id"`
	Success bool      `json:"success"`
	Created bool      `json:"created"`
	Errors  []sfError `json:"errors"`
}

// Create creates a record and returns its id.
func (c *Client) Create(ctx context.Context, object string, fields map[string]any) (string, error) {
	op := "create " + object
	if !ValidObject(object) {
		return "", invalidInput(op, fmt.Sprintf("invalid object name %q", object))
	}
	var res saveResult
	r := call{op: op, method: http.MethodPost, path: c.prefix + "/sobjects/" + object, body: fields, create: true}
	if _, err := c.do(ctx, r, &res); err != nil {
		return "", err
	}
	if !res.Success || res.ID == "" {
		return "", newAPIError(op, 0, res.Errors)
	}
	return res.ID, nil
}

// Update sets fields of a record.
func (c *Client) Update(ctx context.Context, object, id string, fields map[string]any) error {
	return c.change(ctx, "update", http.MethodPatch, object, id, fields)
}

// Delete deletes a record.
func (c *Client) Delete(ctx context.Context, object, id string) error {
	return c.change(ctx, "delete", http.MethodDelete, object, id, nil)
}

// change updates or deletes a record; both answer 204 with no body.
func (c *Client) change(ctx context.Context, verb, method, object, id string, fields map[string]any) error {
	op := verb + " " + object + " " + id
	if err := checkRecord(object, id); err != nil {
		return invalidInput(op, err.Error())
	}
	r := call{op: op, method: method, path: c.prefix + "/sobjects/" + object + "/" + id}
	if fields != nil {
		r.body = fields
	}
	_, err := c.do(ctx, r, nil)
	return err
}

// Upsert creates or updates the record of object whose external id field extField is
// extValue. It returns the record's id and whether it was created. Salesforce answers 300
// (an *APIError with Code "MULTIPLE_CHOICES") when several records have extValue.
func (c *Client) Upsert(ctx context.Context, object, extField, extValue string, fields map[string]any) (id string, created bool, err error) {
	op := "upsert " + object + " " + extField + "=" + extValue
	switch {
	case !ValidObject(object):
		return "", false, invalidInput(op, fmt.Sprintf("invalid object name %q", object))
	case !ValidObject(extField): // a field of object itself, no relationship path
		return "", false, invalidInput(op, fmt.Sprintf("invalid external id field %q", extField))
	case extValue == "":
		return "", false, invalidInput(op, "empty external id value")
	}
	var res saveResult
	// An upsert is idempotent: a repeat finds the record the first one created.
	r := call{op: op, method: http.MethodPatch, body: fields,
		path: c.prefix + "/sobjects/" + object + "/" + extField + "/" + url.PathEscape(extValue)}
	status, err := c.do(ctx, r, &res)
	if err != nil {
		return "", false, err
	}
	// Before API v46.0 an update answered 204 without a body, hence the status.
	return res.ID, status == http.StatusCreated, nil
}

// Limit is one of the org's limits.
type Limit struct {
	Max       int `json:"Max"`
	Remaining int `json:"Remaining"`
}

// Limits returns the org's limits by name ("DailyApiRequests", "DataStorageMB", …).
func (c *Client) Limits(ctx context.Context) (map[string]Limit, error) {
	var out map[string]Limit
	if _, err := c.do(ctx, call{op: "read limits", method: http.MethodGet, path: c.prefix + "/limits"}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Record is a record to create or update through sObject Collections.
type Record struct {
	Object string         // the sObject type: "Task"
	ID     string         // the record to update; empty for a create
	Fields map[string]any // the fields to set
}

// Result is the outcome for one record of a collection call.
type Result struct {
	ID  string // the record's id: the new one for a create
	Err error  // nil on success; an *APIError (Status 0) for this record's failure
}

// CreateRecords creates records through sObject Collections, up to 200 a call, without
// all-or-none: a record that fails does not fail the others, and the records Salesforce could
// not lock are sent again on their own (see collectionPart). It returns one result per
// record, in order. When a call fails as a whole, it stops and returns the results of the
// calls before it (fewer than records) and the error.
func (c *Client) CreateRecords(ctx context.Context, records []Record) ([]Result, error) {
	return c.save(ctx, "create", http.MethodPost, records)
}

// UpdateRecords updates records through sObject Collections, as CreateRecords creates them.
func (c *Client) UpdateRecords(ctx context.Context, records []Record) ([]Result, error) {
	return c.save(ctx, "update", http.MethodPatch, records)
}

// DeleteRecords deletes records by id through sObject Collections, up to 200 a call, as
// CreateRecords creates them.
func (c *Client) DeleteRecords(ctx context.Context, ids []string) ([]Result, error) {
	records := make([]Record, len(ids))
	for i, id := range ids {
		if !ValidID(id) {
			return nil, invalidInput("delete records", fmt.Sprintf("invalid id %q", id))
		}
		records[i] = Record{ID: id}
	}
	return c.collection(ctx, "delete", records, func(part []Record) call {
		ids := make([]string, len(part))
		for i, r := range part {
			ids[i] = r.ID
		}
		q := url.Values{"ids": {strings.Join(ids, ",")}, "allOrNone": {"false"}}
		return call{method: http.MethodDelete, path: c.prefix + "/composite/sobjects?" + q.Encode()}
	})
}

// save creates or updates records.
func (c *Client) save(ctx context.Context, verb, method string, records []Record) ([]Result, error) {
	for i, r := range records {
		if !ValidObject(r.Object) || (verb == "update" && !ValidID(r.ID)) || (verb == "create" && r.ID != "") {
			return nil, invalidInput(verb+" records", fmt.Sprintf("record %d: invalid object %q or id %q", i, r.Object, r.ID))
		}
	}
	return c.collection(ctx, verb, records, func(part []Record) call {
		bodies := make([]map[string]any, len(part))
		for i, r := range part {
			b := maps.Clone(r.Fields)
			if b == nil {
				b = map[string]any{}
			}
			b["attributes"] = map[string]string{"type": r.Object}
			if r.ID != "" {
				b["Id"] = r.ID
			}
			bodies[i] = b
		}
		return call{
			method: method,
			path:   c.prefix + "/composite/sobjects",
			body:   map[string]any{"allOrNone": false, "records": bodies},
			create: verb == "create",
		}
	})
}

// collection performs the collection call that request builds for each chunk of records.
func (c *Client) collection(ctx context.Context, verb string, records []Record, request func(part []Record) call) ([]Result, error) {
	results := make([]Result, 0, len(records))
	for part := range slices.Chunk(records, collectionSize) {
		rs, err := c.collectionPart(ctx, verb, part, request)
		if err != nil {
			return results, err
		}
		results = append(results, rs...)
	}
	return results, nil
}

// collectionPart performs the collection call for up to 200 records. The records Salesforce
// could not lock were not written, so they alone are sent again, with backoff, up to
// MaxRetries times; those still locked then keep their UNABLE_TO_LOCK_ROW. The error is for
// the first call failing as a whole; when a repeat fails so, its records get that error.
func (c *Client) collectionPart(ctx context.Context, verb string, part []Record, request func(part []Record) call) ([]Result, error) {
	results := make([]Result, len(part))
	pending := make([]int, len(part)) // indexes into part
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; ; attempt++ {
		sub := make([]Record, len(pending))
		for j, i := range pending {
			sub[j] = part[i]
		}
		r := request(sub)
		r.op = fmt.Sprintf("%s %d records", verb, len(sub))
		var saved []saveResult
		_, err := c.do(ctx, r, &saved)
		var rs []Result
		if err == nil {
			rs, err = recordResults(r.op, saved, sub, verb)
		}
		if err != nil {
			if attempt == 0 {
				return nil, err
			}
			for _, i := range pending {
				results[i].Err = err
			}
			return results, nil
		}
		var locked []int
		var lockErr error
		for j, i := range pending {
			results[i] = rs[j]
			var ae *APIError
			if errors.As(rs[j].Err, &ae) && ae.Code == codeLockRow {
				locked, lockErr = append(locked, i), rs[j].Err
			}
		}
		if len(locked) == 0 || attempt >= c.opts.MaxRetries {
			return results, nil
		}
		delay, ok := c.backoff(ctx, attempt, lockErr)
		if !ok {
			return results, nil
		}
		c.log.Warn("salesforce could not lock records; retrying them", "op", r.op, "records", len(locked), "attempt", attempt+1, "delay", delay)
		if c.opts.Sleep(ctx, delay) != nil {
			return results, nil // the records keep their lock errors, which are retryable
		}
		pending = locked
	}
}

// recordResults pairs a collection's answer with the records sent, in order.
func recordResults(op string, saved []saveResult, records []Record, verb string) ([]Result, error) {
	if len(saved) != len(records) {
		return nil, fmt.Errorf("%s: Salesforce returned %d results for %d records", op, len(saved), len(records))
	}
	out := make([]Result, len(records))
	for i, s := range saved {
		id := s.ID
		if id == "" {
			id = records[i].ID
		}
		out[i].ID = id
		if !s.Success {
			name := verb
			for _, part := range []string{records[i].Object, records[i].ID} {
				if part != "" {
					name += " " + part
				}
			}
			out[i].Err = newAPIError(name, 0, s.Errors)
		}
	}
	return out, nil
}

// checkRecord checks an object name and a record id before they go into a URL path.
func checkRecord(object, id string) error {
	if !ValidObject(object) {
		return fmt.Errorf("invalid object name %q", object)
	}
	if !ValidID(id) {
		return fmt.Errorf("invalid record id %q", id)
	}
	return nil
}
