package engine

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"casebot/bot"
)

// batch collects the record writes of one phase. Updates to the same record from several
// effects become one write (a Salesforce collection refuses a record twice), and each write
// remembers which effects it serves so its result reaches all of them.
type batch struct {
	writes  []bot.Write
	owners  [][]int        // per write: indexes of the effects it serves
	own     [][]bot.Fields // per update: each owner's own fields, in the order of owners
	updates map[string]int // object/id → index in writes
	ids     map[int][]string
}

func (b *batch) update(effect int, object, id string, f bot.Fields) {
	k := object + "/" + id
	if i, ok := b.updates[k]; ok {
		maps.Copy(b.writes[i].Fields, f) // a later step's value wins, as if applied in order
		b.owners[i] = append(b.owners[i], effect)
		b.own[i] = append(b.own[i], f)
		return
	}
	if b.updates == nil {
		b.updates = map[string]int{}
	}
	b.updates[k] = len(b.writes)
	b.writes = append(b.writes, bot.Write{Op: bot.OpUpdate, Object: object, ID: id, Fields: maps.Clone(f)})
	b.owners = append(b.owners, []int{effect})
	b.own = append(b.own, []bot.Fields{f})
}

func (b *batch) create(effect int, object string, f bot.Fields) {
	b.writes = append(b.writes, bot.Write{Op: bot.OpCreate, Object: object, Fields: f})
	b.owners = append(b.owners, []int{effect})
	b.own = append(b.own, nil)
}

// known records an id the effect already has (a task found on the case).
func (b *batch) known(effect int, id string) {
	if b.ids == nil {
		b.ids = map[int][]string{}
	}
	b.ids[effect] = append(b.ids[effect], id)
}

// apply sends the writes and fills out[i].result and out[i].err for every effect that has
// writes or known ids. An effect fails when any of its writes fails.
//
// A merged update that fails may fail for the fields of one of its effects only: each effect's
// own fields are then sent again on their own, so that every effect gets its own outcome. A
// call names a record once, so the n-th effects of the failed merges go in the n-th extra call
// (one extra call for the usual two effects, and as many for any number of records). Nothing
// is sent again when the CRM answered nothing at all.
func (b *batch) apply(ctx context.Context, crm bot.CRM, out []outcome) {
	if len(b.writes) > 0 {
		results, answered := send(ctx, crm, b.writes)
		var split []int // failed merged writes
		for w, owners := range b.owners {
			if results[w].Err != nil && len(owners) > 1 && answered {
				split = append(split, w)
				continue
			}
			b.deliver(out, owners, results[w])
		}
		for n := 0; len(split) > 0; n++ {
			var ws []bot.Write
			var effects []int
			var more []int
			for _, w := range split {
				ws = append(ws, bot.Write{Op: bot.OpUpdate, Object: b.writes[w].Object, ID: b.writes[w].ID, Fields: b.own[w][n]})
				effects = append(effects, b.owners[w][n])
				if n+1 < len(b.owners[w]) {
					more = append(more, w)
				}
			}
			results, _ := send(ctx, crm, ws)
			for k, i := range effects {
				b.deliver(out, []int{i}, results[k])
			}
			split = more
		}
	}
	for i, ids := range b.ids {
		if out[i].err == nil {
			out[i].result = strings.Join(append(nonEmpty(out[i].result), ids...), ",")
		}
	}
}

// deliver gives the result of one write to the effects it served.
func (b *batch) deliver(out []outcome, owners []int, r bot.WriteResult) {
	for _, i := range owners {
		switch {
		case r.Err != nil:
			if out[i].err == nil {
				out[i].err = r.Err
			}
		default:
			b.known(i, r.ID)
		}
	}
}

// send applies ws and returns one result per write; answered is false when the CRM answered
// nothing, and every result then carries its error.
func send(ctx context.Context, crm bot.CRM, ws []bot.Write) (results []bot.WriteResult, answered bool) {
	results, err := crm.Apply(ctx, ws)
	if len(results) == len(ws) {
		return results, true
	}
	if err == nil {
		err = &bot.Error{Op: "apply writes", Code: "BAD_RESULT", Retryable: true,
			Message: fmt.Sprintf("%d results for %d writes", len(results), len(ws))}
	}
	results = make([]bot.WriteResult, len(ws))
	for w := range results {
		results[w].Err = err
	}
	return results, false
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
