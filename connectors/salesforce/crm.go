package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"casebot/bot"
)

// CRM is the engine's view of Salesforce (bot.CRM) over a Client.
type CRM struct {
	c *Client
}

var _ bot.CRM = (*CRM)(nil)

// NewCRM returns the CRM adapter of c.
func NewCRM(c *Client) *CRM { return &CRM{c: c} }

// taskSubquery reads a record's bot tasks: those that carry an effect key.
const taskSubquery = "(SELECT Id, " + bot.KeyField + ", Subject, Status, ActivityDate, IsClosed FROM Tasks WHERE " +
	bot.KeyField + " != null ORDER BY " + bot.KeyField + ")"

// selectList collects SOQL field names once each; SOQL names are case-insensitive and a
// query that selects a field twice fails.
type selectList struct {
	names []string
	seen  map[string]bool
}

func (l *selectList) add(name string) bool {
	k := strings.ToLower(name)
	if l.seen[k] {
		return false
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[k] = true
	l.names = append(l.names, name)
	return true
}

// caseQuery is the SOQL that reads the records of q, with the field names to decode.
type caseQuery struct {
	soql          string
	fields        []string // of the record, as q names them, once each
	accountFields []string // of the account, once each; none means no account is read
}

// buildCaseQuery writes q as one SOQL query: the record's fields, its account's fields through
// the Account relationship and its bot tasks through a subquery. q.Where is the admin's SOQL
// and goes in parentheses as is; every name is checked, so a playbook cannot add SOQL
// through a field name. ids, when not empty, restricts the query to these records (quoted
// and checked by the caller; q.IDs is not read here, since a long list takes several queries);
// with q.AnyState they are read whatever q.Where says.
func buildCaseQuery(q bot.CaseQuery, ids []string) (caseQuery, error) {
	var cq caseQuery
	if !ValidObject(q.Object) {
		return cq, fmt.Errorf("invalid object name %q", q.Object)
	}
	var sel selectList
	sel.add("Id")
	for _, f := range q.Fields {
		if !ValidField(f) {
			return cq, fmt.Errorf("invalid field name %q of %s", f, q.Object)
		}
		if !strings.EqualFold(f, "Id") && !containsFold(cq.fields, f) {
			cq.fields = append(cq.fields, f)
		}
		sel.add(f)
	}
	if len(q.AccountFields) > 0 {
		sel.add("Account.Id")
		for _, f := range q.AccountFields {
			if !ValidField(f) {
				return cq, fmt.Errorf("invalid field name %q of Account", f)
			}
			if !strings.EqualFold(f, "Id") && !containsFold(cq.accountFields, f) {
				cq.accountFields = append(cq.accountFields, f)
			}
			sel.add("Account." + f)
		}
	}
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(sel.names, ", ") + ", " + taskSubquery + " FROM " + q.Object)
	var where []string
	if strings.TrimSpace(q.Where) != "" && !(q.AnyState && len(ids) > 0) {
		where = append(where, "("+q.Where+")")
	}
	if len(ids) > 0 {
		where = append(where, "Id IN ("+strings.Join(ids, ", ")+")")
	}
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY Id")
	cq.soql = b.String()
	return cq, nil
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Cases reads every record that matches q in one query (one call per 2,000 records), with its
// account and bot tasks. A record with more tasks than the subquery's first batch costs
// further calls for them. With q.IDs, the ids go in an IN list, in as many queries as keep
// each query's URL under Salesforce's limit; the records come back ordered by id, and with
// q.AnyState whether or not they still match q.Where.
func (m *CRM) Cases(ctx context.Context, q bot.CaseQuery) ([]bot.Case, error) {
	op := "read " + q.Object + " records"
	if len(q.IDs) == 0 {
		cq, err := buildCaseQuery(q, nil)
		if err != nil {
			return nil, invalidInput(op, err.Error())
		}
		return m.cases(ctx, op, cq)
	}
	ids := slices.Clone(q.IDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	literals := make([]string, len(ids))
	for i, id := range ids {
		if !ValidID(id) {
			return nil, invalidInput(op, fmt.Sprintf("invalid record id %q", id))
		}
		literals[i] = Quote(id)
	}
	var cases []bot.Case
	for _, chunk := range chunkByLength(literals, ", ", maxInList) {
		cq, err := buildCaseQuery(q, chunk)
		if err != nil {
			return nil, invalidInput(op, err.Error())
		}
		cs, err := m.cases(ctx, op, cq)
		if err != nil {
			return nil, err
		}
		cases = append(cases, cs...)
	}
	return cases, nil
}

// cases runs one case query.
func (m *CRM) cases(ctx context.Context, op string, cq caseQuery) ([]bot.Case, error) {
	var cases []bot.Case
	type moreTasks struct {
		i    int    // the case
		next string // the subquery's nextRecordsUrl
	}
	var more []moreTasks
	err := m.c.Query(ctx, cq.soql, func(records []json.RawMessage) error {
		for _, raw := range records {
			cs, next, err := decodeCase(raw, cq)
			if err != nil {
				return err
			}
			if next != "" {
				more = append(more, moreTasks{len(cases), next})
			}
			cases = append(cases, cs)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for _, mt := range more {
		err := m.c.QueryMore(ctx, mt.next, func(records []json.RawMessage) error {
			for _, raw := range records {
				var t map[string]any
				if err := json.Unmarshal(raw, &t); err != nil {
					return fmt.Errorf("decode task: %w", err)
				}
				cases[mt.i].Tasks = append(cases[mt.i].Tasks, decodeTask(t))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: tasks of %s: %w", op, cases[mt.i].ID, err)
		}
	}
	return cases, nil
}

// decodeCase decodes one record of cq. next is the nextRecordsUrl of its tasks when the
// subquery returned only their first batch.
func decodeCase(raw json.RawMessage, cq caseQuery) (cs bot.Case, next string, err error) {
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		return cs, "", fmt.Errorf("decode record: %w", err)
	}
	cs.ID = str(rec["Id"])
	cs.Fields = fieldsOf(rec, cq.fields)
	if acc, ok := field(rec, "Account").(map[string]any); ok && len(cq.accountFields) > 0 {
		cs.Account = &bot.Account{ID: str(field(acc, "Id")), Fields: fieldsOf(acc, cq.accountFields)}
	}
	if tasks, ok := field(rec, "Tasks").(map[string]any); ok {
		records, _ := tasks["records"].([]any)
		for _, r := range records {
			if t, ok := r.(map[string]any); ok {
				cs.Tasks = append(cs.Tasks, decodeTask(t))
			}
		}
		if done, _ := tasks["done"].(bool); !done {
			next = str(tasks["nextRecordsUrl"])
			if next == "" {
				return cs, "", fmt.Errorf("record %s: tasks not done and no nextRecordsUrl", cs.ID)
			}
		}
	}
	return cs, next, nil
}

func decodeTask(t map[string]any) bot.Task {
	closed, _ := field(t, "IsClosed").(bool)
	return bot.Task{
		ID:           str(field(t, "Id")),
		Key:          str(field(t, bot.KeyField)),
		Subject:      str(field(t, "Subject")),
		Status:       str(field(t, "Status")),
		ActivityDate: str(field(t, "ActivityDate")),
		IsClosed:     closed,
	}
}

// fieldsOf returns the values of names in rec; a relationship path ("Owner.Username") reads
// through the nested records, and is nil when a relationship on the way is null.
func fieldsOf(rec map[string]any, names []string) bot.Fields {
	out := make(bot.Fields, len(names))
	for _, name := range names {
		var v any = rec
		for part := range strings.SplitSeq(name, ".") {
			m, _ := v.(map[string]any)
			v = field(m, part)
		}
		if m, ok := v.(map[string]any); ok {
			delete(m, "attributes")
		}
		out[name] = v
	}
	return out
}

// field returns rec's value of name. Salesforce spells names as the org defines them, which
// may differ in case from the query's spelling.
func field(rec map[string]any, name string) any {
	if v, ok := rec[name]; ok {
		return v
	}
	for k, v := range rec {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Apply creates and updates records through sObject Collections without all-or-none: creates
// in calls of up to 200 records, then updates likewise; object types may mix in a call. A
// write Salesforce rejects gets its own error (an *APIError, which unwraps to a *bot.Error).
// When a call fails as a whole, its writes and those of the calls after it get that error; the
// error is returned alone only when no write was answered at all.
func (m *CRM) Apply(ctx context.Context, ws []bot.Write) ([]bot.WriteResult, error) {
	results := make([]bot.WriteResult, len(ws))
	var creates, updates []int // indexes into ws
	for i, w := range ws {
		op := string(w.Op) + " " + w.Object
		switch {
		case !ValidObject(w.Object):
			results[i].Err = invalidInput(op, fmt.Sprintf("invalid object name %q", w.Object))
		case w.Op == bot.OpCreate && w.ID == "":
			creates = append(creates, i)
		case w.Op == bot.OpUpdate && ValidID(w.ID):
			results[i].ID = w.ID
			updates = append(updates, i)
		default:
			results[i].Err = invalidInput(op, fmt.Sprintf("%q of record id %q", w.Op, w.ID))
		}
	}
	answered := 0
	var failure error
	for _, batch := range []struct {
		idx  []int
		save func(context.Context, []Record) ([]Result, error)
	}{{creates, m.c.CreateRecords}, {updates, m.c.UpdateRecords}} {
		if len(batch.idx) == 0 {
			continue
		}
		var rs []Result
		if failure == nil {
			records := make([]Record, len(batch.idx))
			for j, i := range batch.idx {
				records[j] = Record{Object: ws[i].Object, ID: ws[i].ID, Fields: ws[i].Fields}
			}
			rs, failure = batch.save(ctx, records)
		}
		answered += len(rs)
		for j, i := range batch.idx {
			if j < len(rs) {
				results[i] = bot.WriteResult{ID: rs[j].ID, Err: rs[j].Err}
			} else {
				results[i].Err = failure
			}
		}
	}
	if failure != nil && answered == 0 {
		return nil, failure
	}
	return results, nil
}

// maxInList bounds the literals of the IN lists of one query in characters, so that the
// query's GET URL, percent-encoded, stays under Salesforce's limit of 16,384 characters.
const maxInList = 4000

// UserIDs resolves usernames to the ids of active users, in one query per few hundred names.
// Salesforce compares usernames without regard to case; the map is keyed by the names as
// given.
func (m *CRM) UserIDs(ctx context.Context, usernames []string) (map[string]string, error) {
	return m.resolveNames(ctx, "usernames", usernames, maxInList, func(in string) string {
		return "SELECT Id, Username FROM User WHERE IsActive = true AND Username IN (" + in + ")"
	}, "Id", "Username")
}

// QueueIDs resolves queue names or developer names to queue (Group) ids. The query names its
// IN list twice, so each list gets half the budget.
func (m *CRM) QueueIDs(ctx context.Context, names []string) (map[string]string, error) {
	return m.resolveNames(ctx, "queue names", names, maxInList/2, func(in string) string {
		return "SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' AND (Name IN (" + in + ") OR DeveloperName IN (" + in + "))"
	}, "Id", "Name", "DeveloperName")
}

// resolveNames maps names to the value of result (Id, say) of the records whose match fields
// equal them (without regard to case), querying in chunks of IN lists of at most limit
// characters: query builds the SOQL for an IN list of quoted names. The map is keyed by the
// names as given; unknown names, and those of records whose result is null, are absent. When
// several records match a name, the last the query returns counts.
func (m *CRM) resolveNames(ctx context.Context, what string, names []string, limit int, query func(in string) string, result string, match ...string) (map[string]string, error) {
	out := make(map[string]string)
	asked := make(map[string][]string) // lower-cased name → the spellings asked for
	var literals []string
	for _, n := range names {
		k := strings.ToLower(n)
		if n == "" || slices.Contains(asked[k], n) {
			continue
		}
		if len(asked[k]) == 0 {
			literals = append(literals, Quote(n))
		}
		asked[k] = append(asked[k], n)
	}
	for _, chunk := range chunkByLength(literals, ", ", limit) {
		err := m.c.Query(ctx, query(strings.Join(chunk, ", ")), func(records []json.RawMessage) error {
			for _, raw := range records {
				var rec map[string]any
				if err := json.Unmarshal(raw, &rec); err != nil {
					return fmt.Errorf("decode record: %w", err)
				}
				value, _ := rec[result].(string)
				if value == "" {
					continue
				}
				for _, f := range match {
					v, _ := rec[f].(string)
					for _, name := range asked[strings.ToLower(v)] {
						out[name] = value
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("resolve %d %s: %w", len(names), what, err)
		}
	}
	return out, nil
}

// chunkByLength splits items into runs whose length joined by sep stays within limit (a
// single longer item gets a run of its own).
func chunkByLength(items []string, sep string, limit int) [][]string {
	var out [][]string
	var run []string
	n := 0
	for _, it := range items {
		if len(run) > 0 && n+len(it) > limit {
			out = append(out, run)
			run, n = nil, 0
		}
		run = append(run, it)
		n += len(it) + len(sep)
	}
	if len(run) > 0 {
		out = append(out, run)
	}
	return out
}

// APIUsage reports the org's API calls used today and its daily allowance, as the last
// response said (zero before the first call).
func (m *CRM) APIUsage() (used, max int) { return m.c.APIUsage() }
