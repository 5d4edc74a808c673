package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"casebot/connectors/salesforce/sandbox/soql"
)

// Query batch sizes: Salesforce returns at most 2,000 records a page and honours
// "Sforce-Query-Options: batchSize=N" for N in 200..2000.
const (
	defaultBatch = 2000
	minBatch     = 200
	// maxCursors bounds the open query cursors; the oldest is dropped first, as Salesforce
	// drops a user's oldest cursor.
	maxCursors = 100
)

// cursor is a query's result, serialized when the query ran, so that later pages show the
// records as they were then, whatever was written in between.
type cursor struct {
	id      string // "" until a page needs a locator
	records [][]byte
	batch   int
	all     bool // queryAll: its nextRecordsUrl says so
}

type cursors struct {
	seq   uint64
	byID  map[string]*cursor
	order []string
}

func (c *cursors) add(cur *cursor) string {
	c.seq++
	id := makeID("01g", c.seq)
	if c.byID == nil {
		c.byID = map[string]*cursor{}
	}
	if len(c.order) == maxCursors {
		delete(c.byID, c.order[0])
		c.order = c.order[1:]
	}
	c.byID[id] = cur
	c.order = append(c.order, id)
	return id
}

// batchSize reads the batch size from Sforce-Query-Options, clamped to what Salesforce allows.
func batchSize(header string) int {
	for opt := range strings.SplitSeq(header, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(opt), "=")
		if !strings.EqualFold(name, "batchSize") {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(value)); err == nil {
			return min(max(n, minBatch), defaultBatch)
		}
	}
	return defaultBatch
}

func (s *Server) queryHandler(all bool) dataHandler {
	return func(w http.ResponseWriter, r *http.Request, c call) {
		if r.Method != http.MethodGet {
			writeError(w, errMethod(r.Method, "GET", "HEAD"))
			return
		}
		q := r.URL.Query().Get("q")
		if strings.TrimSpace(q) == "" {
			writeError(w, newError(http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified"))
			return
		}
		parsed, err := soql.Parse(q)
		if err != nil {
			writeError(w, queryError(err))
			return
		}
		s.mu.Lock()
		res, err := soql.Execute(parsed, soql.Env{Schema: s.schema, Data: view{s: s.store}, Now: s.opts.Now(), IncludeDeleted: all})
		var records [][]byte
		if err == nil {
			records = make([][]byte, len(res.Records))
			for i, row := range res.Records {
				records[i] = s.schema.encodeRow(row, c.version)
			}
		}
		s.mu.Unlock()
		if err != nil {
			writeError(w, queryError(err))
			return
		}
		s.writePage(w, c.version, &cursor{records: records, batch: batchSize(r.Header.Get("Sforce-Query-Options")), all: all},
			res.TotalSize, 0)
	}
}

// queryError turns a query's failure into Salesforce's error.
func queryError(err error) *apiError {
	var qe *soql.Error
	if errors.As(err, &qe) {
		return newError(http.StatusBadRequest, qe.Code, "%s", qe.Message)
	}
	return newError(http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "running the query: %v", err)
}

// nextPage is GET /query/{locator}: the next page of an earlier query, "01g…-2000".
func (s *Server) nextPage(w http.ResponseWriter, r *http.Request, c call) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod(r.Method, "GET", "HEAD"))
		return
	}
	id, offsetText, _ := strings.Cut(r.PathValue("locator"), "-")
	offset, err := strconv.Atoi(offsetText)
	s.mu.Lock()
	cur := s.cursors.byID[id]
	s.mu.Unlock()
	if cur == nil || err != nil || offset < 0 || offset > len(cur.records) {
		writeError(w, newError(http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator"))
		return
	}
	s.writePage(w, c.version, cur, len(cur.records), offset)
}

// writePage answers with the page of cur starting at offset, registering cur for the next
// page when there is one.
func (s *Server) writePage(w http.ResponseWriter, version string, cur *cursor, total, offset int) {
	end := min(offset+cur.batch, len(cur.records))
	var b bytes.Buffer
	b.WriteString(`{"totalSize":`)
	b.WriteString(strconv.Itoa(total))
	if end < len(cur.records) {
		s.mu.Lock()
		if cur.id == "" {
			cur.id = s.cursors.add(cur)
		}
		id := cur.id
		s.mu.Unlock()
		resource := "/query/"
		if cur.all {
			resource = "/queryAll/"
		}
		b.WriteString(`,"done":false,"nextRecordsUrl":`)
		writeString(&b, "/services/data/v"+version+resource+id+"-"+strconv.Itoa(end))
	} else {
		b.WriteString(`,"done":true`)
	}
	b.WriteString(`,"records":[`)
	for i, rec := range cur.records[offset:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(rec)
	}
	b.WriteString("]}")
	writeRaw(w, http.StatusOK, b.Bytes())
}

// encodeRow writes a result row as Salesforce does: "attributes" first, then the fields in
// SELECT order, parents nested with their own attributes, subqueries as query results. A blob
// field (ContentVersion.VersionData) is the URL its bytes are read from, not the bytes.
func (sc *schema) encodeRow(row *soql.Row, version string) []byte {
	var b bytes.Buffer
	sc.writeRow(&b, row, version)
	return b.Bytes()
}

func (sc *schema) writeRow(b *bytes.Buffer, row *soql.Row, version string) {
	b.WriteString(`{"attributes":{"type":`)
	writeString(b, row.Object)
	if row.ID != "" {
		b.WriteString(`,"url":`)
		writeString(b, recordURL(version, row.Object, row.ID))
	}
	b.WriteByte('}')
	for _, v := range row.Fields {
		b.WriteByte(',')
		writeString(b, v.Name)
		b.WriteByte(':')
		switch {
		case v.IsParent && v.Parent == nil, v.IsChild && v.Children == nil:
			b.WriteString("null")
		case v.IsParent:
			sc.writeRow(b, v.Parent, version)
		case v.IsChild:
			b.WriteString(`{"totalSize":`)
			b.WriteString(strconv.Itoa(v.Children.TotalSize))
			b.WriteString(`,"done":true,"records":[`)
			for i, child := range v.Children.Records {
				if i > 0 {
					b.WriteByte(',')
				}
				sc.writeRow(b, child, version)
			}
			b.WriteString("]}")
		case v.Scalar != nil && sc.isBlob(row.Object, v.Name) && row.ID != "":
			writeString(b, recordURL(version, row.Object, row.ID)+"/"+v.Name)
		default:
			writeValue(b, v.Scalar)
		}
	}
	b.WriteByte('}')
}

func recordURL(version, object, id string) string {
	return "/services/data/v" + version + "/sobjects/" + object + "/" + id
}

func writeString(b *bytes.Buffer, s string) { writeValue(b, s) }

func writeValue(b *bytes.Buffer, v any) {
	enc, err := json.Marshal(v)
	if err != nil {
		// Stored values are strings, float64, bool or nil, which always encode.
		panic("sandbox: encoding a field value: " + err.Error())
	}
	b.Write(enc)
}
