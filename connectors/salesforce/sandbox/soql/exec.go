package soql

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxOffset is Salesforce's largest OFFSET.
const maxOffset = 2000

// Execute runs q against env: names resolve case-insensitively against env.Schema (results use
// the schema's spelling), conditions are type-checked, and the records of env.Data are
// filtered, sorted, paged and shaped as the SELECT list asks. With env.IncludeDeleted it
// behaves as queryAll. Errors are *Error, located in the query text.
func Execute(q *Query, env Env) (*Result, error) {
	rows, err := Run(q, env)
	if err != nil {
		return nil, err
	}
	return rows.result(), nil
}

// Rows is a query's result whose rows are made one at a time, so that a caller writing them
// out does not hold them all at once.
type Rows struct {
	Object    string // the queried object
	TotalSize int    // as Result's
	p         *plan
	recs      []Record // the records of the rows, in order, unless made
	made      bool     // the rows are made already: rows (an aggregate's, or none for COUNT())
	rows      []*Row
	arena     arena // the memory of the last row made
}

// Run is Execute, with the rows made on demand by Row. env.Data must not change until the
// last Row has been made.
func Run(q *Query, env Env) (*Rows, error) {
	if env.Loc == nil {
		env.Loc = time.UTC
	}
	obj := env.Schema.Object(q.From)
	if obj == nil {
		return nil, errAt(q.src, q.FromPos, CodeInvalidType, "sObject type '%s' is not supported. %s", q.From, customObjectHint)
	}
	p, err := (&compiler{env: &env, src: q.src}).plan(q, obj, false)
	if err != nil {
		return nil, err
	}
	return p.rows(env.Data.All(obj.Name, env.IncludeDeleted)), nil
}

// Len is the number of rows.
func (r *Rows) Len() int {
	if r.made {
		return len(r.rows)
	}
	return len(r.recs)
}

// Row makes row i. The row lives until the next call of Row, which reuses its memory: a
// caller that keeps rows uses Execute.
func (r *Rows) Row(i int) *Row {
	if r.made {
		return r.rows[i]
	}
	r.arena.reset()
	return r.p.row(&r.arena, r.recs[i], r.p.obj.Name, r.p.out)
}

// arena hands out the memory of rows, to be reused for the next once one is done with. A
// nil arena allocates.
type arena struct {
	rows   []Row
	values []Value
	used   int // of rows
}

func (a *arena) reset() {
	a.values = a.values[:0]
	a.used = 0
}

func (a *arena) row() *Row {
	if a == nil {
		return &Row{}
	}
	if a.used == len(a.rows) {
		// A new slab: rows handed out from the old one stay where they are.
		a.rows, a.used = make([]Row, max(8, 2*len(a.rows))), 0
	}
	a.used++
	return &a.rows[a.used-1]
}

func (a *arena) fields(n int) []Value {
	if a == nil {
		return make([]Value, n)
	}
	if len(a.values)+n > cap(a.values) {
		a.values = make([]Value, 0, max(64, 2*cap(a.values), n))
	}
	a.values = a.values[:len(a.values)+n]
	return a.values[len(a.values)-n:]
}

// plan is a query compiled against the schema: names resolved, literals converted, conditions
// turned into functions, so running it over many records repeats none of that work.
type plan struct {
	env      *Env
	obj      *Object
	where    func(Record) bool // nil: every record
	order    []orderKey
	offset   int
	limit    int // -1: no LIMIT
	countAll bool
	counts   []countCol
	out      []*outNode
}

type orderKey struct {
	acc        *accessor
	cat        category
	desc       bool
	nullsFirst bool
}

// countCol is a COUNT(field) column of the aggregate row.
type countCol struct {
	name string
	acc  *accessor
}

// outNode is one entry of a result row: a plain field, a parent relationship with its own
// entries, or a child subquery.
type outNode struct {
	name   string
	scalar *Field
	via    *Field // the reference field a parent relationship follows
	sub    []*outNode
	child  *childQuery
}

// childQuery is a compiled subquery with the child records grouped by parent, built once
// per Execute on first use; a parent's children are sorted when it is first asked for.
type childQuery struct {
	rel      *ChildRelationship
	plan     *plan
	byParent map[string]*children
}

type children struct {
	recs   []Record
	sorted bool
}

// accessor reads a field of a record, following parent relationships through Data.ByID.
type accessor struct {
	data  Data
	hops  []*Field // reference fields followed, outwards from the queried object
	field *Field   // the field read at the end
}

func (a *accessor) get(r Record) any {
	for _, h := range a.hops {
		id, _ := r[h.Name].(string)
		if id == "" {
			return nil
		}
		if _, r = a.data.ByID(id); r == nil {
			return nil
		}
	}
	return r[a.field.Name]
}

type compiler struct {
	env *Env
	src string
}

func (c *compiler) plan(q *Query, obj *Object, sub bool) (*plan, error) {
	p := &plan{env: c.env, obj: obj, limit: -1}
	if q.Limit != nil {
		p.limit = *q.Limit
	}
	if q.Offset != nil {
		if *q.Offset > maxOffset {
			return nil, &Error{Code: CodeNumberOutsideRange, Message: fmt.Sprintf("Maximum SOQL offset allowed is %d", maxOffset)}
		}
		p.offset = *q.Offset
	}
	var plain *FieldRef // a non-aggregate item, refused beside COUNT(field)
	for _, it := range q.Fields {
		switch {
		case it.Field != nil:
			acc, err := c.resolve(obj, it.Field)
			if err != nil {
				return nil, err
			}
			if err := addOutput(&p.out, acc, c.src, it.Field); err != nil {
				return nil, err
			}
			plain = cmp.Or(plain, it.Field)
		case it.Count != nil:
			if sub {
				return nil, errAt(c.src, it.Count.Pos, CodeMalformedQuery, "aggregate functions are not supported in subqueries")
			}
			if it.Count.Field == nil {
				p.countAll = true
				continue
			}
			acc, err := c.resolve(obj, it.Count.Field)
			if err != nil {
				return nil, err
			}
			name := cmp.Or(it.Count.Alias, fmt.Sprintf("expr%d", len(p.counts)))
			p.counts = append(p.counts, countCol{name: name, acc: acc})
		case it.Subquery != nil:
			n, err := c.subquery(obj, it.Subquery)
			if err != nil {
				return nil, err
			}
			p.out = append(p.out, n)
			plain = cmp.Or(plain, &FieldRef{Path: []string{it.Subquery.From}, Pos: it.Subquery.FromPos})
		}
	}
	if len(p.counts) > 0 && plain != nil {
		return nil, errAt(c.src, plain.Pos, CodeMalformedQuery, "Field must be grouped or aggregated: %s", plain)
	}
	if q.Where != nil {
		w, err := c.expr(obj, q.Where)
		if err != nil {
			return nil, err
		}
		p.where = w
	}
	for _, o := range q.OrderBy {
		acc, err := c.resolve(obj, &o.Field)
		if err != nil {
			return nil, err
		}
		if isLongText(acc.field) {
			return nil, errAt(c.src, o.Field.Pos, CodeInvalidField, "field '%s' can not be sorted in a query call", acc.field.Name)
		}
		desc := o.Order == "DESC"
		p.order = append(p.order, orderKey{acc: acc, cat: categoryOf(acc.field.Type), desc: desc,
			nullsFirst: o.Nulls == "FIRST" || o.Nulls == "" && !desc})
	}
	return p, nil
}

func (c *compiler) subquery(parent *Object, q *Query) (*outNode, error) {
	rel := parent.Child(q.From)
	var obj *Object
	if rel != nil {
		obj = c.env.Schema.Object(rel.Object)
	}
	if obj == nil {
		return nil, errAt(c.src, q.FromPos, CodeInvalidType, "Didn't understand relationship '%s' in FROM part of query call. %s", q.From, customRelHint)
	}
	p, err := c.plan(q, obj, true)
	if err != nil {
		return nil, err
	}
	return &outNode{name: rel.Name, child: &childQuery{rel: rel, plan: p}}, nil
}

// resolve finds the field a path names, following parent relationships; a polymorphic
// relationship may lead to several objects, and the field is looked up on all of them.
func (c *compiler) resolve(obj *Object, ref *FieldRef) (*accessor, error) {
	acc := &accessor{data: c.env.Data}
	objs := []*Object{obj}
	last := len(ref.Path) - 1
	for _, name := range ref.Path[:last] {
		h := findField(objs, func(f *Field) bool {
			return f.Type == TypeReference && strings.EqualFold(f.RelationshipName, name)
		})
		var next []*Object
		if h != nil {
			for _, t := range h.ReferenceTo {
				if o := c.env.Schema.Object(t); o != nil {
					next = append(next, o)
				}
			}
		}
		if len(next) == 0 {
			return nil, errAt(c.src, ref.Pos, CodeInvalidField, "Didn't understand relationship '%s' in field path. %s", name, customRelHint)
		}
		acc.hops = append(acc.hops, h)
		objs = next
	}
	acc.field = findField(objs, func(f *Field) bool { return strings.EqualFold(f.Name, ref.Path[last]) })
	if acc.field == nil {
		return nil, errAt(c.src, ref.Pos, CodeInvalidField, "No such column '%s' on entity '%s'. %s", ref.Path[last], objs[0].Name, customFieldHint)
	}
	return acc, nil
}

func findField(objs []*Object, match func(*Field) bool) *Field {
	for _, o := range objs {
		for i := range o.Fields {
			if match(&o.Fields[i]) {
				return &o.Fields[i]
			}
		}
	}
	return nil
}

// isLongText reports a long text area, which Salesforce can neither filter nor sort on.
func isLongText(f *Field) bool { return f.Type == TypeTextArea && f.Length > 255 }

// addOutput places a resolved field in the row shape: fields reached through the same
// relationship share one nested row, in the order the relationship first appears.
func addOutput(nodes *[]*outNode, acc *accessor, src string, ref *FieldRef) error {
	level := nodes
	for _, h := range acc.hops {
		i := slices.IndexFunc(*level, func(n *outNode) bool { return n.via != nil && strings.EqualFold(n.via.Name, h.Name) })
		if i < 0 {
			*level = append(*level, &outNode{name: h.RelationshipName, via: h})
			i = len(*level) - 1
		}
		level = &(*level)[i].sub
	}
	if slices.ContainsFunc(*level, func(n *outNode) bool { return n.scalar != nil && strings.EqualFold(n.scalar.Name, acc.field.Name) }) {
		return errAt(src, ref.Pos, CodeMalformedQuery, "duplicate field selected: %s", ref)
	}
	*level = append(*level, &outNode{name: acc.field.Name, scalar: acc.field})
	return nil
}

// result makes every row.
func (rows *Rows) result() *Result {
	res := &Result{Object: rows.Object, TotalSize: rows.TotalSize}
	if rows.made {
		res.Records = rows.rows
		return res
	}
	res.Records = make([]*Row, rows.Len())
	for i, r := range rows.recs {
		res.Records[i] = rows.p.row(nil, r, rows.p.obj.Name, rows.p.out)
	}
	return res
}

// rows selects, orders and windows the queried object's records.
func (p *plan) rows(all []Record) *Rows {
	recs := p.filter(all)
	if len(p.counts) > 0 {
		res := p.aggregate(recs)
		return &Rows{Object: res.Object, TotalSize: res.TotalSize, made: true, rows: res.Records}
	}
	p.sort(recs)
	recs = p.window(recs)
	if p.countAll {
		return &Rows{Object: p.obj.Name, TotalSize: len(recs), made: true} // SELECT COUNT() has no rows
	}
	return &Rows{Object: p.obj.Name, TotalSize: len(recs), p: p, recs: recs}
}

// filter returns the records the WHERE accepts, in a new slice (Data's must not change).
func (p *plan) filter(all []Record) []Record {
	out := make([]Record, 0, len(all))
	for _, r := range all {
		if p.where == nil || p.where(r) {
			out = append(out, r)
		}
	}
	return out
}

// sort orders by the ORDER BY keys, then by Id so that ties come out the same every time.
func (p *plan) sort(recs []Record) {
	if len(recs) < 2 {
		return
	}
	type entry struct {
		r    Record
		id   string
		keys []key
		null []bool
	}
	n := len(p.order)
	entries := make([]entry, len(recs))
	keys, nulls := make([]key, len(recs)*n), make([]bool, len(recs)*n)
	for i, r := range recs {
		id, _ := r["Id"].(string)
		e := entry{r: r, id: id, keys: keys[i*n : (i+1)*n], null: nulls[i*n : (i+1)*n]}
		for j, o := range p.order {
			k, ok := toKey(o.cat, o.acc.get(r))
			e.keys[j], e.null[j] = k, !ok
		}
		entries[i] = e
	}
	slices.SortFunc(entries, func(a, b entry) int {
		for j, o := range p.order {
			switch {
			case a.null[j] && b.null[j]:
				continue
			case a.null[j] || b.null[j]:
				if a.null[j] == o.nullsFirst {
					return -1
				}
				return 1
			}
			c := compareKeys(o.cat, a.keys[j], b.keys[j])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(a.id, b.id)
	})
	for i, e := range entries {
		recs[i] = e.r
	}
}

func (p *plan) window(recs []Record) []Record {
	recs = recs[min(p.offset, len(recs)):]
	if p.limit >= 0 && p.limit < len(recs) {
		recs = recs[:p.limit]
	}
	return recs
}

// aggregate answers COUNT(field) without GROUP BY: one AggregateResult row.
func (p *plan) aggregate(recs []Record) *Result {
	row := &Row{Object: "AggregateResult"}
	for _, c := range p.counts {
		n := 0
		for _, r := range recs {
			if _, ok := toKey(categoryOf(c.acc.field.Type), c.acc.get(r)); ok {
				n++
			}
		}
		row.Fields = append(row.Fields, Value{Name: c.name, Scalar: float64(n)})
	}
	rows := p.window([]Record{nil})
	res := &Result{Object: p.obj.Name, TotalSize: len(rows)}
	if len(rows) > 0 {
		res.Records = []*Row{row}
	}
	return res
}

// row makes the row of r, in a's memory.
func (p *plan) row(a *arena, r Record, object string, nodes []*outNode) *Row {
	id, _ := r["Id"].(string)
	row := a.row()
	*row = Row{Object: object, ID: id, Fields: a.fields(len(nodes))}
	for i, n := range nodes {
		v := Value{Name: n.name}
		switch {
		case n.scalar != nil:
			v.Scalar = r[n.scalar.Name]
		case n.via != nil:
			v.IsParent = true
			if pid, _ := r[n.via.Name].(string); pid != "" {
				if pobj, pr := p.env.Data.ByID(pid); pr != nil {
					v.Parent = p.row(a, pr, pobj, n.sub)
				}
			}
		case n.child != nil:
			v.IsChild = true
			v.Children = n.child.result(a, id)
		}
		row.Fields[i] = v
	}
	return row
}

// result is the subquery's answer for one parent: nil when it has no rows, as Salesforce
// sends null rather than an empty list.
func (c *childQuery) result(a *arena, parentID string) *Result {
	p := c.plan
	if c.byParent == nil {
		c.byParent = make(map[string]*children)
		for _, r := range p.filter(p.env.Data.All(p.obj.Name, p.env.IncludeDeleted)) {
			if pid, _ := r[c.rel.Field].(string); pid != "" {
				k := idKey(pid)
				g := c.byParent[k]
				if g == nil {
					g = &children{}
					c.byParent[k] = g
				}
				g.recs = append(g.recs, r)
			}
		}
	}
	g := c.byParent[idKey(parentID)]
	if g == nil {
		return nil
	}
	if !g.sorted {
		// Sorting each parent's children gives the order sorting them all would: the sort
		// is total (ties go by Id).
		p.sort(g.recs)
		g.sorted = true
	}
	recs := p.window(g.recs)
	if len(recs) == 0 {
		return nil
	}
	res := &Result{Object: p.obj.Name, TotalSize: len(recs), Records: make([]*Row, len(recs))}
	for i, r := range recs {
		res.Records[i] = p.row(a, r, p.obj.Name, p.out)
	}
	return res
}
