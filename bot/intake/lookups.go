package intake

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"casebot/bot"
	"casebot/rules"
)

// lookups are the reads of Salesforce that decide a round's messages. prefetch reads what all
// of them need in a few queries (one for the case numbers in subjects, one for the mails
// replied to, one per Account field searched, one per playbook for the cases replied to and one
// for the accounts' open cases), and decide is answered from that; what it did not read is
// asked alone. They hold Salesforce as the round began: the round's own writes are not in them,
// which is why a message that depends on them waits for the next round (dependsOnEarlier).
type lookups struct {
	in        *Intake
	caseIDs   map[string]string              // case number → case id; "" when none
	mailCases map[string]string              // Message-ID → the case it is logged on; "" when none
	found     map[accountValue][]bot.Account // the accounts whose field holds a value
	read      map[accountValue][]string      // the fields found accounts have (value "")
	open      map[string]string              // playbook/account → its open case; "" when none
	cases     map[string]*bot.Case           // playbook/case → the case; nil when not the playbook's
}

// accountValue is one value of an account field.
type accountValue struct {
	field string
	list  bool
	value string // lower-cased
}

func (in *Intake) newLookups() *lookups {
	return &lookups{in: in, caseIDs: map[string]string{}, mailCases: map[string]string{},
		found: map[accountValue][]bot.Account{}, read: map[accountValue][]string{}, open: map[string]string{},
		cases: map[string]*bot.Case{}}
}

// prefetch reads what deciding ms takes, for all of them at once.
func (l *lookups) prefetch(ctx context.Context, ms []*message) error {
	var numbers, replied []string
	for _, x := range ms {
		if x.class != nil {
			numbers, replied = append(numbers, x.class.CaseNumbers...), append(replied, x.class.MessageIDs...)
		}
	}
	if _, err := l.caseNumbers(ctx, numbers); err != nil {
		return err
	}
	if _, err := l.repliedTo(ctx, replied); err != nil {
		return err
	}
	repliedCases := map[string][]string{} // playbook → the cases replies answer
	var requests []*message
	for _, x := range ms {
		if x.class == nil {
			continue
		}
		c := x.class
		if c.IsReply() {
			if id, _ := l.answered(ctx, *c); id != "" {
				for _, r := range c.Replies {
					repliedCases[r.Playbook] = append(repliedCases[r.Playbook], id)
				}
				continue
			}
		}
		if c.Rule == nil || l.in.playbook(c.Rule.Playbook) == nil {
			continue
		}
		requests = append(requests, x)
	}
	// The accounts, lookup by lookup as account tries them: the first of every request at
	// once, then the next of those the first did not find one account by, and so on.
	for pass, left := 0, requests; len(left) > 0; pass++ {
		var queries []bot.AccountQuery
		var asked []*message
		for _, x := range left {
			if keys := x.class.Rule.Accounts; pass < len(keys) {
				queries = append(queries, keys[pass].Query(l.in.accountFields(x.class.Rule)))
				asked = append(asked, x)
			}
		}
		if err := l.prefetchAccounts(ctx, queries); err != nil {
			return err
		}
		left = nil
		for i, x := range asked {
			found, err := l.accounts(ctx, queries[i])
			if err != nil {
				return err
			}
			if len(found) != 1 {
				left = append(left, x)
			}
		}
	}
	accounts := map[string][]string{} // playbook → the accounts of its requests
	for _, x := range requests {
		if !x.class.Authenticated {
			continue
		}
		a, _, err := l.in.account(ctx, l, *x.class, x.mail)
		if err != nil {
			return err
		}
		if a != nil {
			accounts[x.class.Rule.Playbook] = append(accounts[x.class.Rule.Playbook], a.ID)
		}
	}
	for _, pb := range l.in.opts.Playbooks {
		if ids := slices.Compact(slices.Sorted(slices.Values(repliedCases[pb.Name]))); len(ids) > 0 {
			found, err := l.in.readCases(ctx, pb, ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				l.cases[pb.Name+"/"+recordKey(id)] = found[recordKey(id)]
			}
		}
		if ids := slices.Compact(slices.Sorted(slices.Values(accounts[pb.Name]))); len(ids) > 0 {
			open, err := l.in.openCases(ctx, pb, ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				l.open[pb.Name+"/"+id] = open[id]
			}
		}
	}
	return nil
}

// answered finds the case a reply answers: by the case number in its subject, then by the
// mails it answers that are logged on a case.
func (l *lookups) answered(ctx context.Context, c rules.Classification) (string, error) {
	if len(c.CaseNumbers) > 0 {
		ids, err := l.caseNumbers(ctx, c.CaseNumbers)
		if err != nil {
			return "", fmt.Errorf("finding the cases the subject names: %w", err)
		}
		for _, n := range c.CaseNumbers {
			if id := ids[n]; id != "" {
				return id, nil
			}
		}
	}
	if len(c.MessageIDs) > 0 {
		cases, err := l.repliedTo(ctx, c.MessageIDs)
		if err != nil {
			return "", fmt.Errorf("finding the mails it answers: %w", err)
		}
		for _, id := range c.MessageIDs {
			if cs := cases[id]; cs != "" {
				return cs, nil
			}
		}
	}
	return "", nil
}

// caseNumbers returns the ids of the cases numbered numbers (IntakeCRM.CaseIDs).
func (l *lookups) caseNumbers(ctx context.Context, numbers []string) (map[string]string, error) {
	return resolve(ctx, l.caseIDs, numbers, l.in.opts.Salesforce.CaseIDs)
}

// repliedTo returns the cases of the mails logged with the Message-IDs (IntakeCRM.MailCases).
func (l *lookups) repliedTo(ctx context.Context, messageIDs []string) (map[string]string, error) {
	return resolve(ctx, l.mailCases, messageIDs, l.in.opts.Salesforce.MailCases)
}

// resolve answers names from known, asking ask about those it does not hold and keeping its
// answers there, "" for the names it does not know.
func resolve(ctx context.Context, known map[string]string, names []string,
	ask func(context.Context, []string) (map[string]string, error)) (map[string]string, error) {
	var missing []string
	for _, n := range names {
		if _, ok := known[n]; !ok && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		found, err := ask(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, n := range missing {
			known[n] = found[n]
		}
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		if id := known[n]; id != "" {
			out[n] = id
		}
	}
	return out, nil
}

// valueOf is the key of value of q.
func valueOf(q bot.AccountQuery, value string) accountValue {
	return accountValue{field: q.Field, list: q.List, value: strings.ToLower(value)}
}

// prefetchAccounts answers queries with one Accounts query for all those of the same field,
// reading all the fields any of them reads, and keeps what each value found.
func (l *lookups) prefetchAccounts(ctx context.Context, queries []bot.AccountQuery) error {
	var merged []bot.AccountQuery
	for _, q := range queries {
		i := slices.IndexFunc(merged, func(m bot.AccountQuery) bool { return m.Field == q.Field && m.List == q.List })
		if i < 0 {
			// The field searched is read too, to tell which value found which account.
			merged = append(merged, bot.AccountQuery{Field: q.Field, List: q.List, Fields: []string{q.Field}})
			i = len(merged) - 1
		}
		m := &merged[i]
		m.Values = append(m.Values, q.Values...)
		for _, f := range q.Fields {
			if !slices.Contains(m.Fields, f) {
				m.Fields = append(m.Fields, f)
			}
		}
	}
	for _, q := range merged {
		found, err := l.in.opts.Salesforce.Accounts(ctx, q)
		if err != nil {
			return fmt.Errorf("finding the accounts by %s: %w", q.Field, err)
		}
		l.read[valueOf(q, "")] = q.Fields
		for _, v := range q.Values {
			key := valueOf(q, v)
			l.found[key] = nil
			for _, a := range found {
				if holds(a.Fields[q.Field], key.value, q.List) {
					l.found[key] = append(l.found[key], a)
				}
			}
		}
	}
	return nil
}

// holds reports whether an account field's value v is value (lower-cased) without regard to
// case, or, for a list, holds it; as Salesforce compares.
func holds(v any, value string, list bool) bool {
	s, _ := v.(string)
	if !list {
		return strings.EqualFold(s, value)
	}
	return slices.ContainsFunc(bot.ListValues(s), func(e string) bool { return strings.EqualFold(e, value) })
}

// accounts answers IntakeCRM.Accounts(q).
func (l *lookups) accounts(ctx context.Context, q bot.AccountQuery) ([]bot.Account, error) {
	read := l.read[valueOf(q, "")]
	if slices.ContainsFunc(q.Fields, func(f string) bool { return !slices.Contains(read, f) }) {
		return l.in.opts.Salesforce.Accounts(ctx, q)
	}
	var out []bot.Account
	for _, v := range q.Values {
		found, ok := l.found[valueOf(q, v)]
		if !ok {
			return l.in.opts.Salesforce.Accounts(ctx, q)
		}
		for _, a := range found {
			if !slices.ContainsFunc(out, func(o bot.Account) bool { return o.ID == a.ID }) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b bot.Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// openCase returns an open case of playbook pb of the account; "" when there is none.
func (l *lookups) openCase(ctx context.Context, pb *rules.Playbook, accountID string) (string, error) {
	key := pb.Name + "/" + accountID
	if id, ok := l.open[key]; ok {
		return id, nil
	}
	open, err := l.in.openCases(ctx, pb, []string{accountID})
	if err != nil {
		return "", err
	}
	l.open[key] = open[accountID]
	return open[accountID], nil
}

// readCase reads case id with the fields playbook pb reads, open or closed; nil when it is not
// one of pb's cases.
func (l *lookups) readCase(ctx context.Context, pb *rules.Playbook, id string) (*bot.Case, error) {
	key := pb.Name + "/" + recordKey(id)
	if c, ok := l.cases[key]; ok {
		return c, nil
	}
	found, err := l.in.readCases(ctx, pb, []string{id})
	if err != nil {
		return nil, err
	}
	l.cases[key] = found[recordKey(id)]
	return l.cases[key], nil
}
