package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"casebot/bot"
)

var _ bot.IntakeCRM = (*CRM)(nil)

// Accounts reads the accounts whose q.Field holds one of q.Values, ordered by id, in as many
// queries as keep each URL under Salesforce's limit. SOQL compares the values without regard
// to case. A list field is searched with LIKE '%value%' (so it must be a text field, not a
// text area) and its values are then compared here, one by one, so that "ample.com" does not
// find an account of "example.com". No values make no call.
func (m *CRM) Accounts(ctx context.Context, q bot.AccountQuery) ([]bot.Account, error) {
	op := "find accounts by " + q.Field
	if !ValidField(q.Field) {
		return nil, invalidInput(op, fmt.Sprintf("invalid field name %q of Account", q.Field))
	}
	var sel selectList
	sel.add("Id")
	sel.add(q.Field) // a list field's values are compared here
	var fields []string
	for _, f := range q.Fields {
		if !ValidField(f) {
			return nil, invalidInput(op, fmt.Sprintf("invalid field name %q of Account", f))
		}
		if !strings.EqualFold(f, "Id") && !containsFold(fields, f) {
			fields = append(fields, f)
		}
		sel.add(f)
	}
	wanted := make(map[string]bool) // lower-cased values
	var terms []string              // IN list literals, or LIKE conditions of a list field
	for _, v := range q.Values {
		k := strings.ToLower(v)
		// A value with a separator in it is never one of a list's values.
		if v == "" || wanted[k] || (q.List && strings.IndexFunc(v, bot.IsListSeparator) >= 0) {
			continue
		}
		wanted[k] = true
		if q.List {
			lit := QuoteLike(v)
			terms = append(terms, q.Field+" LIKE '%"+lit[1:len(lit)-1]+"%'")
		} else {
			terms = append(terms, Quote(v))
		}
	}
	sep, where := ", ", func(terms string) string { return q.Field + " IN (" + terms + ")" }
	if q.List {
		sep, where = " OR ", func(terms string) string { return terms }
	}
	var out []bot.Account
	found := make(map[string]bool) // ids: a list field's account may answer several chunks
	for _, chunk := range chunkByLength(terms, sep, maxInList) {
		soql := "SELECT " + strings.Join(sel.names, ", ") + " FROM Account WHERE " + where(strings.Join(chunk, sep)) + " ORDER BY Id"
		err := m.c.Query(ctx, soql, func(records []json.RawMessage) error {
			for _, raw := range records {
				var rec map[string]any
				if err := json.Unmarshal(raw, &rec); err != nil {
					return fmt.Errorf("decode Account: %w", err)
				}
				id := str(rec["Id"])
				if found[id] || (q.List && !holdsOneOf(str(fieldsOf(rec, []string{q.Field})[q.Field]), wanted)) {
					continue
				}
				found[id] = true
				out = append(out, bot.Account{ID: id, Fields: fieldsOf(rec, fields)})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	slices.SortFunc(out, func(a, b bot.Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// holdsOneOf reports whether one of the values of list is in wanted (lower-cased).
func holdsOneOf(list string, wanted map[string]bool) bool {
	for _, v := range bot.ListValues(list) {
		if wanted[strings.ToLower(v)] {
			return true
		}
	}
	return false
}

// MailCases returns the cases of the EmailMessages logged with the Message-IDs
// (MessageIdentifier), compared without regard to case as SOQL compares them, keyed by the
// Message-IDs as given. Of a Message-ID logged on several cases, the case it was first logged
// on counts.
func (m *CRM) MailCases(ctx context.Context, messageIDs []string) (map[string]string, error) {
	return m.resolveNames(ctx, "Message-IDs of logged mails", messageIDs, maxInList, func(in string) string {
		// Newest first: resolveNames keeps the last record of a Message-ID, here the oldest.
		return "SELECT Id, ParentId, MessageIdentifier FROM EmailMessage WHERE MessageIdentifier IN (" + in +
			") ORDER BY CreatedDate DESC, Id DESC"
	}, "ParentId", "MessageIdentifier")
}

// CaseIDs returns the ids of the cases with the numbers (CaseNumber), keyed by the numbers
// as given; unknown numbers are absent.
func (m *CRM) CaseIDs(ctx context.Context, numbers []string) (map[string]string, error) {
	return m.resolveNames(ctx, "case numbers", numbers, maxInList, func(in string) string {
		return "SELECT Id, CaseNumber FROM Case WHERE CaseNumber IN (" + in + ")"
	}, "Id", "CaseNumber")
}
