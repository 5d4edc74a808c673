package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	// cursorTTL is how long a cursor lives without being fetched: Salesforce's query locators
	// "expire automatically after 15 minutes of inactivity".
	cursorTTL = 15 * time.Minute
)

// cursor is the rest of a query's result, serialized when the query ran, so that later pages
// show the records as they were then, whatever was written in between. It holds only the
// pages not yet fetched and the last one fetched (for a retry of its locator): Salesforce
// asks clients to use each query locator once, and going back further is refused as an
// invalid locator. A cursor whose last page was fetched is gone, so that finished reads hold
// no memory: a retry of the final page's locator is refused.
type cursor struct {
	id    string
	total int // records in the result
	batch int
	all   bool      // queryAll: its nextRecordsUrl says so
	pages []page    // pages[i] holds records [i*batch, (i+1)*batch); zero once released
	used  time.Time // when it was last fetched, by the cursors' clock
}

// page is a page of serialized records.
type page struct {
	data []byte  // the records, comma-separated
	ends []int32 // where each record ends in data
}

// records appends to chunks the parts of the page's data holding its records [from, to).
func (p *page) records(chunks [][]byte, from, to int) [][]byte {
	if from >= to {
		return chunks
	}
	start := 0
	if from > 0 {
		start = int(p.ends[from-1]) + 1 // past the comma
	}
	return append(chunks, p.data[start:p.ends[to-1]])
}

// cursors are the open query cursors. Expiry is measured in real time, not on the org's
// clock: inactivity is the client's, and an org clock that tests freeze or move by days would
// keep cursors forever or expire them in the middle of a read.
type cursors struct {
	seq   uint64
	byID  map[string]*cursor
	order []string         // ids, oldest first
	now   func() time.Time // time.Now unless a test sets it
	timer *time.Timer      // the next sweep, while there are cursors
}

func (c *cursors) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// add registers cur (dropping the oldest cursor when there are maxCursors) and returns its id.
func (c *cursors) add(cur *cursor) string {
	c.expire()
	c.seq++
	cur.id = makeID("01g", c.seq)
	cur.used = c.clock()
	if c.byID == nil {
		c.byID = map[string]*cursor{}
	}
	if len(c.order) >= maxCursors {
		c.remove(c.order[0])
	}
	c.byID[cur.id] = cur
	c.order = append(c.order, cur.id)
	return cur.id
}

// get returns the open cursor with that id, marking it used, or nil.
func (c *cursors) get(id string) *cursor {
	c.expire()
	cur := c.byID[id]
	if cur != nil {
		cur.used = c.clock()
	}
	return cur
}

func (c *cursors) remove(id string) {
	if _, ok := c.byID[id]; !ok {
		return
	}
	delete(c.byID, id)
	c.order = slices.DeleteFunc(c.order, func(o string) bool { return o == id })
	if len(c.byID) == 0 && c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// expire drops the cursors not fetched for cursorTTL.
func (c *cursors) expire() {
	now := c.clock()
	for _, id := range slices.Clone(c.order) {
		if cur := c.byID[id]; now.Sub(cur.used) >= cursorTTL {
			c.remove(id)
		}
	}
}

// schedule makes sure expired cursors are dropped (freeing their pages) by sweep even when no
// further call comes: it runs when the oldest would expire, as long as there are cursors.
func (c *cursors) schedule(sweep func()) {
	if c.timer != nil || len(c.order) == 0 {
		return
	}
	oldest := c.byID[c.order[0]].used
	for _, id := range c.order[1:] {
		if u := c.byID[id].used; u.Before(oldest) {
			oldest = u
		}
	}
	c.timer = time.AfterFunc(max(oldest.Add(cursorTTL).Sub(c.clock()), time.Second), sweep)
}

// close drops every cursor.
func (c *cursors) close() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.byID, c.order, c.timer = nil, nil, nil
}

// sweepCursors drops the expired cursors; their timer calls it.
func (s *Server) sweepCursors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors.timer = nil
	s.cursors.expire()
	s.cursors.schedule(s.sweepCursors)
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
		// The rows are made and serialized one at a time, under the lock since making one
		// reads the store, so that the result is never held twice.
		var (
			cur   *cursor
			first []byte
			total int
		)
		s.mu.Lock()
		rows, err := soql.Run(parsed, soql.Env{Schema: s.schema, Data: view{s: s.store}, Now: s.opts.Now(), IncludeDeleted: all})
		if err == nil {
			cur = &cursor{total: rows.Len(), batch: batchSize(r.Header.Get("Sforce-Query-Options")), all: all}
			first, total = s.schema.encodePages(rows, cur, c.version), rows.TotalSize
		}
		s.mu.Unlock()
		if err != nil {
			writeError(w, queryError(err))
			return
		}
		s.writePage(w, c.version, cur, total, min(cur.batch, cur.total), [][]byte{first})
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

// encodePages serializes rows: the first page is returned, the others go to cur's pages.
func (sc *schema) encodePages(rows *soql.Rows, cur *cursor, version string) []byte {
	var b bytes.Buffer
	var first []byte
	for start := 0; start < cur.total; start += cur.batch {
		b.Reset()
		end := min(start+cur.batch, cur.total)
		var ends []int32
		if start > 0 {
			ends = make([]int32, 0, end-start)
		}
		for i := start; i < end; i++ {
			if i > start {
				b.WriteByte(',')
			}
			sc.writeRow(&b, rows.Row(i), version)
			if start > 0 {
				ends = append(ends, int32(b.Len()))
			}
		}
		if start == 0 {
			first = bytes.Clone(b.Bytes())
			b.Grow(len(first) + len(first)/4) // the next pages are about as long
			continue
		}
		if cur.pages == nil {
			cur.pages = make([]page, (cur.total+cur.batch-1)/cur.batch)
		}
		cur.pages[start/cur.batch] = page{data: bytes.Clone(b.Bytes()), ends: ends}
	}
	return first
}

// writeHead writes the start of a page answer up to its records (which end at end),
// registering cur for the next page when there is one.
func (s *Server) writeHead(b *bytes.Buffer, version string, cur *cursor, totalSize, end int) {
	b.WriteString(`{"totalSize":`)
	b.WriteString(strconv.Itoa(totalSize))
	if end < cur.total {
		s.mu.Lock()
		if cur.id == "" {
			s.cursors.add(cur)
			s.cursors.schedule(s.sweepCursors)
		}
		id := cur.id
		s.mu.Unlock()
		resource := "/query/"
		if cur.all {
			resource = "/queryAll/"
		}
		b.WriteString(`,"done":false,"nextRecordsUrl":`)
		writeString(b, "/services/data/v"+version+resource+id+"-"+strconv.Itoa(end))
	} else {
		b.WriteString(`,"done":true`)
	}
	b.WriteString(`,"records":[`)
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
	cur := s.cursors.get(id)
	var chunks [][]byte
	end := 0
	if cur != nil && err == nil && offset >= 0 && offset <= cur.total && cur.pages[min(offset, cur.total-1)/cur.batch].ends != nil {
		end = min(offset+cur.batch, cur.total)
		// The page's records, from the page of offset and the next (an offset need not
		// start a page).
		for i := offset / cur.batch; i*cur.batch < end; i++ {
			from, to := max(offset-i*cur.batch, 0), min(end-i*cur.batch, cur.batch)
			chunks = cur.pages[i].records(chunks, from, to)
		}
		// The pages before offset's are used up.
		for i := range offset / cur.batch {
			cur.pages[i] = page{}
		}
		if end == cur.total {
			s.cursors.remove(id)
		}
	} else {
		cur = nil
	}
	s.mu.Unlock()
	if cur == nil {
		writeError(w, newError(http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator"))
		return
	}
	s.writePage(w, c.version, cur, cur.total, end, chunks)
}

// writePage answers with a page of cur whose records (chunks of them, comma-separated) end
// at end. The records are written as they are, not copied into one body.
func (s *Server) writePage(w http.ResponseWriter, version string, cur *cursor, totalSize, end int, chunks [][]byte) {
	var head bytes.Buffer
	s.writeHead(&head, version, cur, totalSize, end)
	size := head.Len() + len("]}")
	for i, ch := range chunks {
		size += len(ch)
		if i > 0 {
			size++
		}
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(head.Bytes())
	for i, ch := range chunks {
		if i > 0 {
			_, _ = w.Write([]byte{','})
		}
		_, _ = w.Write(ch)
	}
	_, _ = w.Write([]byte("]}"))
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
	blobs := sc.blobs[row.Object]
	b.WriteString(`{"attributes":{"type":`)
	writeString(b, row.Object)
	if row.ID != "" {
		b.WriteString(`,"url":`)
		writeURL(b, version, row.Object, row.ID, "")
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
		case len(blobs) > 0 && v.Scalar != nil && row.ID != "" && slices.Contains(blobs, v.Name):
			writeURL(b, version, row.Object, row.ID, v.Name)
		default:
			writeValue(b, v.Scalar)
		}
	}
	b.WriteByte('}')
}

func recordURL(version, object, id string) string {
	return "/services/data/v" + version + "/sobjects/" + object + "/" + id
}

// writeURL writes the JSON string of a record's URL (recordURL), or of its field's when field
// is not "", without making the string: its parts (a version, names and an id) need no
// escaping.
func writeURL(b *bytes.Buffer, version, object, id, field string) {
	b.WriteString(`"/services/data/v`)
	b.WriteString(version)
	b.WriteString("/sobjects/")
	b.WriteString(object)
	b.WriteByte('/')
	b.WriteString(id)
	if field != "" {
		b.WriteByte('/')
		b.WriteString(field)
	}
	b.WriteByte('"')
}

// writeString writes s as encoding/json does; most strings need no escaping and are copied.
func writeString(b *bytes.Buffer, s string) {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			marshal(b, s)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// writeValue writes a stored value as encoding/json does.
func writeValue(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writeString(b, v)
	default:
		marshal(b, v)
	}
}

func marshal(b *bytes.Buffer, v any) {
	enc, err := json.Marshal(v)
	if err != nil {
		// Stored values are strings, float64, bool or nil, which always encode.
		panic("sandbox: encoding a field value: " + err.Error())
	}
	b.Write(enc)
}
