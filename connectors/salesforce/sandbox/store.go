package sandbox

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"casebot/connectors/salesforce/sandbox/soql"
)

// entry is one stored record. rec is replaced, never modified, once stored: query results and
// cursors may still hold the previous version.
type entry struct {
	object *sobject
	rec    soql.Record
}

// store holds every record, deleted ones too (Salesforce deletes softly: queryAll still sees
// them). It is not safe for concurrent use; the Server's mutex guards it.
type store struct {
	schema     *schema
	byID       map[string]*entry
	order      map[string][]string // object name → ids in creation order
	seq        uint64              // the last id counter minted
	caseNumber int                 // the last CaseNumber given
}

// firstCaseNumber is one less than the first CaseNumber, "00001001".
const firstCaseNumber = 1000

func newStore(sc *schema) *store {
	return &store{schema: sc, byID: map[string]*entry{}, order: map[string][]string{},
		caseNumber: firstCaseNumber}
}

// apply stores records (post-images of a committed transaction or of journal replay).
func (s *store) apply(recs []soql.Record) error {
	for _, rec := range recs {
		id, _ := rec["Id"].(string)
		obj := s.schema.objectOfID(id)
		if obj == nil {
			return fmt.Errorf("record with id %q: no object has that key prefix", id)
		}
		if _, ok := s.byID[id]; !ok {
			s.order[obj.Name] = append(s.order[obj.Name], id)
		}
		s.byID[id] = &entry{object: obj, rec: rec}
		s.seq = max(s.seq, idCounter(id))
		if cn, ok := rec["CaseNumber"].(string); ok {
			if n, err := strconv.Atoi(cn); err == nil {
				s.caseNumber = max(s.caseNumber, n)
			}
		}
	}
	return nil
}

// storeState is what snapshot saves of a store, for restore to roll back to.
type storeState struct {
	byID       map[string]*entry
	order      map[string][]string
	seq        uint64
	caseNumber int
}

// snapshot saves the store's state. Entries are never modified once stored and order's
// slices are only appended to, so shallow copies of the maps suffice.
func (s *store) snapshot() storeState {
	return storeState{byID: maps.Clone(s.byID), order: maps.Clone(s.order), seq: s.seq, caseNumber: s.caseNumber}
}

// restore rolls the store back to a snapshot.
func (s *store) restore(st storeState) {
	s.byID, s.order, s.seq, s.caseNumber = st.byID, st.order, st.seq, st.caseNumber
}

// view is the store as a SOQL query sees it.
type view struct{ s *store }

var _ soql.Data = view{}

// All implements soql.Data.
func (v view) All(object string, withDeleted bool) []soql.Record {
	obj := v.s.schema.sobject(object)
	if obj == nil {
		return nil
	}
	ids := v.s.order[obj.Name]
	out := make([]soql.Record, 0, len(ids))
	for _, id := range ids {
		rec := v.s.byID[id].rec
		if rec["IsDeleted"] == true && !withDeleted {
			continue
		}
		out = append(out, rec)
	}
	return out
}

// ByID implements soql.Data.
func (v view) ByID(id string) (string, soql.Record) {
	e := v.s.byID[id] // most ids given are as stored: no need to normalize them
	if e == nil {
		norm, ok := normalizeID(id)
		if !ok {
			return "", nil
		}
		e = v.s.byID[norm]
	}
	if e == nil || e.rec["IsDeleted"] == true {
		return "", nil
	}
	return e.object.Name, e.rec
}

// tx is a set of writes that is committed (journaled, then applied) as a whole or not at all.
// Reads through a tx see its own pending writes, so a validation later in a batch sees the
// records created earlier in it.
type tx struct {
	s       *store
	now     string // the writes' timestamp, wire layout
	caller  string // the user id writes are attributed to; "" for the first user
	pending map[string]*entry
	touched []string // ids in the order first written
	seq     uint64
	caseNum int
	lock    *lockFault // the call's lock_row fault, taken by its first write; nil when none
}

func (s *store) begin(now time.Time, caller string) *tx {
	return &tx{s: s, now: formatDateTime(now), caller: caller, pending: map[string]*entry{},
		seq: s.seq, caseNum: s.caseNumber}
}

func (t *tx) get(id string) *entry {
	if e, ok := t.pending[id]; ok {
		return e
	}
	return t.s.byID[id]
}

func (t *tx) put(obj *sobject, rec soql.Record) {
	id := rec["Id"].(string)
	if _, ok := t.pending[id]; !ok {
		t.touched = append(t.touched, id)
	}
	t.pending[id] = &entry{object: obj, rec: rec}
}

// records returns the post-images of the transaction's writes in the order they were made.
func (t *tx) records() []soql.Record {
	out := make([]soql.Record, len(t.touched))
	for i, id := range t.touched {
		out[i] = t.pending[id].rec
	}
	return out
}

// each calls fn for every live record of obj as the transaction sees it.
func (t *tx) each(obj *sobject, fn func(soql.Record)) {
	for _, id := range t.s.order[obj.Name] {
		if e := t.get(id); e.rec["IsDeleted"] != true {
			fn(e.rec)
		}
	}
	for _, id := range t.touched {
		if _, stored := t.s.byID[id]; !stored && t.pending[id].object == obj {
			fn(t.pending[id].rec)
		}
	}
}

// lookup returns the live record with the given id, or the error a request naming it gets.
func (t *tx) lookup(obj *sobject, rawID string) (*entry, *apiError) {
	id, ok := normalizeID(rawID)
	if !ok {
		return nil, errMalformedID(rawID)
	}
	e := t.get(id)
	if e == nil || (obj != nil && e.object != obj) {
		return nil, errNotFound()
	}
	if e.rec["IsDeleted"] == true {
		return nil, errDeleted()
	}
	return e, nil
}

func (t *tx) create(obj *sobject, fields map[string]any) (string, *apiError) {
	if err := t.takeLock(obj, "", fields); err != nil {
		return "", err
	}
	if obj.NotCreateable {
		return "", fieldError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be inserted: "+obj.Label)
	}
	return t.insert(obj, fields)
}

// insert creates a record of obj, also of an object clients may not create (the server's own
// records: a ContentDocument).
func (t *tx) insert(obj *sobject, fields map[string]any) (string, *apiError) {
	rec, err := t.write(obj, nil, fields)
	if err != nil {
		return "", err
	}
	if obj.Created != nil {
		if err := obj.Created(t, rec); err != nil {
			return "", err
		}
	}
	t.put(obj, rec)
	return rec["Id"].(string), nil
}

// takeLock fails the first write of a call that carries a lock_row fault, naming the record
// that could not be locked: the one written, or for a new record the parent it names.
func (t *tx) takeLock(obj *sobject, id string, fields map[string]any) *apiError {
	if t.lock == nil || t.lock.taken {
		return nil
	}
	t.lock.taken = true
	if norm, ok := normalizeID(id); ok {
		id = norm
	}
	for i := 0; id == "" && obj != nil && i < len(obj.Fields); i++ {
		f := &obj.Fields[i]
		for name, v := range fields {
			s, _ := v.(string)
			if norm, ok := normalizeID(s); ok && f.Type == soql.TypeReference && f.Name != "OwnerId" && strings.EqualFold(name, f.Name) {
				id = norm
			}
		}
	}
	return errLocked(id)
}

func (t *tx) update(obj *sobject, rawID string, fields map[string]any) (string, *apiError) {
	if err := t.takeLock(obj, rawID, nil); err != nil {
		return "", err
	}
	e, err := t.lookup(obj, rawID)
	if err != nil {
		return "", err
	}
	if e.object.NotUpdateable {
		return "", fieldError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be updated: "+e.object.Label)
	}
	rec, err := t.write(e.object, e.rec, fields)
	if err != nil {
		return "", err
	}
	t.put(e.object, rec)
	return rec["Id"].(string), nil
}

func (t *tx) delete(obj *sobject, rawID string) (string, *apiError) {
	if err := t.takeLock(obj, rawID, nil); err != nil {
		return "", err
	}
	e, err := t.lookup(obj, rawID)
	if err != nil {
		return "", err
	}
	if e.object.NotDeletable {
		return "", fieldError("INVALID_TYPE_FOR_OPERATION", "entity type cannot be deleted: "+e.object.Label)
	}
	t.remove(e)
	return e.rec["Id"].(string), nil
}

// remove deletes a record softly, and the records its object deletes with it.
func (t *tx) remove(e *entry) {
	rec := maps.Clone(e.rec)
	rec["IsDeleted"] = true
	t.stamp(rec)
	t.put(e.object, rec)
	if e.object.Deleted != nil {
		e.object.Deleted(t, rec)
	}
}

// set changes fields of a stored or pending record without validation: the server's own
// writes to read-only fields (a ContentDocument's latest version).
func (t *tx) set(id string, fields map[string]any) {
	e := t.get(id)
	rec := maps.Clone(e.rec)
	maps.Copy(rec, fields)
	t.stamp(rec)
	t.put(e.object, rec)
}

// upsert writes fields to the one live record of obj whose external id field f equals value,
// or creates a record with that value when none does (by Id it only updates). It reports the
// id written and whether it was created. When several records match it writes nothing and
// returns their ids in ambiguous: the caller answers 300 or DUPLICATE_EXTERNAL_ID.
func (t *tx) upsert(obj *sobject, f *soql.Field, value string, fields map[string]any) (id string, created bool, ambiguous []string, err *apiError) {
	matches := t.matchExternal(obj, f, value)
	switch {
	case len(matches) > 1:
		return "", false, matches, nil
	case len(matches) == 1:
		id, err = t.update(obj, matches[0], fields)
		return id, false, nil, err
	case f.Name == "Id":
		return "", false, nil, errNotFound()
	}
	fields[f.Name] = value
	id, err = t.create(obj, fields)
	return id, true, nil, err
}

// matchExternal returns the ids of the live records of obj whose field f equals value,
// compared as Salesforce compares external ids (case-insensitively).
func (t *tx) matchExternal(obj *sobject, f *soql.Field, value string) []string {
	if f.Name == "Id" {
		if e, err := t.lookup(obj, value); err == nil {
			return []string{e.rec["Id"].(string)}
		}
		return nil
	}
	var ids []string
	t.each(obj, func(r soql.Record) {
		if s, ok := r[f.Name].(string); ok && strings.EqualFold(s, value) {
			ids = append(ids, r["Id"].(string))
		}
	})
	return ids
}

func (t *tx) stamp(rec soql.Record) {
	rec["LastModifiedDate"] = t.now
	rec["SystemModstamp"] = t.now
	rec["LastModifiedById"] = t.caller
}

// write validates fields (JSON values by field name, any case) against obj and returns the
// record they make of old (nil on create), with Salesforce's error for the first problem.
func (t *tx) write(obj *sobject, old soql.Record, fields map[string]any) (soql.Record, *apiError) {
	given := map[string]any{}
	var unknown []string
	for name, v := range fields {
		if strings.EqualFold(name, "attributes") {
			continue
		}
		f := obj.Field(name)
		if f == nil {
			unknown = append(unknown, name)
			continue
		}
		given[f.Name] = v
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fieldError("INVALID_FIELD",
			fmt.Sprintf("No such column '%s' on sobject of type %s", unknown[0], obj.Name), unknown[0])
	}
	var rec soql.Record
	if old == nil {
		if _, ok := given["Id"]; ok {
			return nil, fieldError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", "Id")
		}
		rec = soql.Record{}
	} else {
		delete(given, "Id") // collections updates name their record in the body
		rec = maps.Clone(old)
	}
	var readOnly []string
	for _, f := range obj.Fields {
		if _, ok := given[f.Name]; ok && f.ReadOnly {
			readOnly = append(readOnly, f.Name)
		}
	}
	if old != nil {
		for _, name := range obj.CreateOnly {
			if _, ok := given[name]; ok {
				readOnly = append(readOnly, name)
			}
		}
	}
	if len(readOnly) > 0 {
		return nil, fieldError("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf(
			"Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
			strings.Join(readOnly, ", ")), readOnly...)
	}
	for i := range obj.Fields {
		f := &obj.Fields[i]
		raw, ok := given[f.Name]
		if !ok {
			continue
		}
		v, err := coerce(f, raw)
		if err != nil {
			return nil, err
		}
		if f.Type == soql.TypeReference && v != nil {
			if err := t.checkReference(f, v.(string)); err != nil {
				return nil, err
			}
		}
		rec[f.Name] = v
	}
	if old == nil {
		t.initialize(obj, rec)
	}
	var missing []string
	for _, f := range obj.Fields {
		if f.Required && rec[f.Name] == nil {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fieldError("REQUIRED_FIELD_MISSING",
			fmt.Sprintf("Required fields are missing: [%s]", strings.Join(missing, ", ")), missing...)
	}
	if obj.Derive != nil {
		obj.Derive(rec, old, t.now)
	}
	for _, f := range obj.Fields {
		if err := t.checkUnique(obj, &f, rec); err != nil {
			return nil, err
		}
	}
	t.stamp(rec)
	return rec, nil
}

// initialize gives a new record its id, audit fields and defaults.
func (t *tx) initialize(obj *sobject, rec soql.Record) {
	t.seq++
	id := makeID(obj.KeyPrefix, t.seq)
	rec["Id"] = id
	if t.caller == "" {
		t.caller = id // the org's first user creates itself
	}
	rec["IsDeleted"] = false
	rec["CreatedDate"] = t.now
	rec["CreatedById"] = t.caller
	for _, f := range obj.Fields {
		if _, set := rec[f.Name]; set {
			continue
		}
		switch {
		case obj.Defaults[f.Name] != nil:
			rec[f.Name] = obj.Defaults[f.Name]
		case f.Name == "OwnerId":
			rec[f.Name] = t.caller
		case f.Type == soql.TypeBoolean:
			rec[f.Name] = false
		default:
			rec[f.Name] = nil
		}
	}
	if obj.Name == "Case" {
		t.caseNum++
		rec["CaseNumber"] = fmt.Sprintf("%08d", t.caseNum)
	}
}

func (t *tx) checkReference(f *soql.Field, id string) *apiError {
	e := t.get(id)
	if e == nil || !slices.Contains(f.ReferenceTo, e.object.Name) {
		return fieldError("INVALID_CROSS_REFERENCE_KEY", f.Label+": invalid cross reference id", f.Name)
	}
	if e.rec["IsDeleted"] == true {
		return fieldError("ENTITY_IS_DELETED", "entity is deleted", f.Name)
	}
	return nil
}

func (t *tx) checkUnique(obj *sobject, f *soql.Field, rec soql.Record) *apiError {
	v, ok := rec[f.Name].(string)
	if !f.Unique || !ok {
		return nil
	}
	var dup string
	t.each(obj, func(other soql.Record) {
		if s, ok := other[f.Name].(string); ok && dup == "" && other["Id"] != rec["Id"] && strings.EqualFold(s, v) {
			dup = other["Id"].(string)
		}
	})
	if dup == "" {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Code: "DUPLICATE_VALUE", Fields: []string{f.Name},
		Message: fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", f.Name, dup)}
}

// commit makes the transaction's writes durable (through persist) and visible.
func (t *tx) commit(persist func([]soql.Record) error) error {
	recs := t.records()
	if len(recs) == 0 {
		return nil
	}
	if err := persist(recs); err != nil {
		return err
	}
	if err := t.s.apply(recs); err != nil {
		return err
	}
	t.s.seq, t.s.caseNumber = max(t.s.seq, t.seq), max(t.s.caseNumber, t.caseNum)
	return nil
}
