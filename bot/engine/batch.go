package engine

import (
	"context"
	"fmt"
	"strings"

	"casebot/bot"
)

// batch collects the record writes of one phase. Updates to the same record from several
// effects become one write (a Salesforce collection refuses a record twice), and each write
// remembers which effects it serves so its result reaches all of them.
type batch struct {
	writes  []bot.Write
	owners  [][]int        // per write: indexes of the effects it serves
	updates map[string]int // object/id → index in writes
	ids     map[int][]string
}

func (b *batch) update(effect int, object, id string, f bot.Fields) {
	k := object + "/" + id
	if i, ok := b.updates[k]; ok {
		for name, v := range f {
			b.writes[i].Fields[name] = v // a later step's value wins, as if applied in order
		}
		b.owners[i] = append(b.owners[i], effect)
		return
	}
	if b.updates == nil {
		b.updates = map[string]int{}
	}
	b.updates[k] = len(b.writes)
	fields := make(bot.Fields, len(f))
	for name, v := range f {
		fields[name] = v
	}
	b.writes = append(b.writes, bot.Write{Op: bot.OpUpdate, Object: object, ID: id, Fields: fields})
	b.owners = append(b.owners, []int{effect})
}

func (b *batch) create(effect int, object string, f bot.Fields) {
	b.writes = append(b.writes, bot.Write{Op: bot.OpCreate, Object: object, Fields: f})
	b.owners = append(b.owners, []int{effect})
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
func (b *batch) apply(ctx context.Context, crm bot.CRM, out []outcome) {
	if len(b.writes) > 0 {
		results, err := crm.Apply(ctx, b.writes)
		if len(results) != len(b.writes) {
			if err == nil {
				err = &bot.Error{Op: "apply writes", Code: "BAD_RESULT", Retryable: true,
					Message: fmt.Sprintf("%d results for %d writes", len(results), len(b.writes))}
			}
			results = make([]bot.WriteResult, len(b.writes))
			for w := range results {
				results[w].Err = err
			}
		}
		for w, owners := range b.owners {
			for _, i := range owners {
				switch {
				case results[w].Err != nil:
					if out[i].err == nil {
						out[i].err = results[w].Err
					}
				default:
					b.known(i, results[w].ID)
				}
			}
		}
	}
	for i, ids := range b.ids {
		if out[i].err == nil {
			out[i].result = strings.Join(append(nonEmpty(out[i].result), ids...), ",")
		}
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
