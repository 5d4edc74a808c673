package intake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"casebot/bot"
	"casebot/rules"
)

// decide decides what to do with a parsed mail, classified as c: keep it on the case it
// answers, open a case for the request it is, join the account's open case, or quarantine it.
// Salesforce is read through look, as it was when the round began.
func (in *Intake) decide(ctx context.Context, look *lookups, mail bot.ParsedMail, c rules.Classification) (decision, error) {
	d := decision{MessageID: mail.MessageID, Notes: c.Notes}
	if c.IsReply() {
		caseID, err := look.answered(ctx, c)
		if err != nil {
			return d, err
		}
		if caseID != "" {
			d.Outcome, d.CaseID = kept, caseID
			if err := in.replyFields(ctx, look, c, &d); err != nil {
				return d, err
			}
			return d, nil
		}
	}
	if c.Rule == nil {
		d.Outcome, d.Reason = quarantined, c.Quarantine
		return d, nil
	}
	pb := in.playbook(c.Rule.Playbook)
	if pb == nil {
		d.Outcome, d.Reason = quarantined, "rule "+c.Rule.Rule+" names playbook "+c.Rule.Playbook+", which is not loaded"
		return d, nil
	}
	account, why, err := in.account(ctx, look, c, mail)
	if err != nil {
		return d, err
	}
	if account == nil {
		d.Outcome, d.Reason = quarantined, why
		return d, nil
	}
	if !c.Authenticated {
		d.Outcome = quarantined
		d.Reason = fmt.Sprintf("the sender's domain %s is not authenticated (no aligned DKIM signature, no trusted dmarc=pass)",
			bot.Printable(mail.From.Domain()))
		return d, nil
	}
	open, err := look.openCase(ctx, pb, account.ID)
	if err != nil {
		return d, err
	}
	if open != "" {
		// A second request for the same account: kept on the open case, and flagged.
		d.Outcome, d.CaseID, d.Playbook = kept, open, pb.Name
		d.Reason = "a second termination request for an account whose termination case is open"
		return d, nil
	}
	d.Outcome, d.Playbook, d.Acknowledge = opened, pb.Name, c.Rule.Acknowledge
	d.Case = bot.Fields{"AccountId": account.ID}
	maps.Copy(d.Case, c.Rule.Case)
	return d, nil
}

// dependsOnEarlier reports whether the decision on x, made from Salesforce as the round
// began, may be wrong once the writes for earlier messages of the round are made: a second
// request for the account an earlier one opens a case for (it must join that case), a mail
// kept on a case an earlier one updates (reply rules read the case), or a reply to an earlier
// one or to its acknowledgement (it must be kept on that one's case). Such a mail waits for
// the next round.
func (in *Intake) dependsOnEarlier(earlier []*message, x *message) bool {
	for _, e := range earlier {
		switch {
		case x.d.Outcome == opened && e.d.Outcome == opened && e.d.Playbook == x.d.Playbook &&
			e.d.Case["AccountId"] == x.d.Case["AccountId"]:
			return true
		case x.d.CaseID != "" && e.d.CaseID == x.d.CaseID && len(e.d.Case) > 0:
			return true
		case x.class != nil && e.d.MessageID != "":
			ack := bot.MessageID(e.key+"/ack", in.opts.MessageIDDomain)
			if slices.ContainsFunc(x.class.MessageIDs, func(id string) bool {
				return strings.EqualFold(id, e.d.MessageID) || strings.EqualFold(id, ack)
			}) {
				return true
			}
		}
	}
	return false
}

// replyFields adds to d what the reply rules of the case's playbook set, when the sender is
// one they accept.
func (in *Intake) replyFields(ctx context.Context, look *lookups, c rules.Classification, d *decision) error {
	for _, pb := range in.opts.Playbooks {
		if !slices.ContainsFunc(c.Replies, func(r rules.ReplyMatch) bool { return r.Playbook == pb.Name }) {
			continue
		}
		k, err := look.readCase(ctx, pb, d.CaseID)
		if err != nil {
			return err
		}
		if k == nil {
			continue
		}
		fields, notes := c.ReplyUpdate(pb.Name, *k)
		d.Notes = append(d.Notes, notes...)
		if len(fields) > 0 {
			d.Case, d.Playbook = fields, pb.Name
			return nil
		}
	}
	return nil
}

// account finds the account of a request: the first of the rule's lookups that finds exactly
// one. The sender's domain must be one of the account's, or, when the rule names senders (the
// account's partner), the domain of an address they hold, whichever lookup found it: a mail
// that names another company's account number is no request of that company. nil and why
// when there is none.
func (in *Intake) account(ctx context.Context, look *lookups, c rules.Classification, mail bot.ParsedMail) (*bot.Account, string, error) {
	domains := in.domainLookup()
	for _, key := range c.Rule.Accounts {
		found, err := look.accounts(ctx, key.Query(in.accountFields(c.Rule)))
		if err != nil {
			return nil, "", fmt.Errorf("finding the account by %s: %w", key.Lookup, err)
		}
		if len(found) != 1 {
			continue
		}
		a := found[0]
		if ok, whose := mayAsk(a, mail.From.Domain(), domains, c.Rule.Senders); !ok {
			return nil, fmt.Sprintf("the sender's domain %s is not %s of account %s", bot.Printable(mail.From.Domain()), whose, a.ID), nil
		}
		return &a, "", nil
	}
	return nil, "no account found for the request (by " + lookupNames(c.Rule.Accounts) + ")", nil
}

// accountFields are the Account fields that tell who may ask for an account under rule r: its
// mail domains, and r's senders.
func (in *Intake) accountFields(r *rules.RuleMatch) []string {
	var fields []string
	if domains := in.domainLookup(); domains != nil {
		fields = append(fields, domains.Field.Name)
	}
	for _, s := range r.Senders {
		fields = append(fields, s.Name)
	}
	return fields
}

// mayAsk reports whether a sender of domain may ask for account a: the domain is one of the
// account's (domains, when the rules have that lookup) or of the addresses in its senders
// fields. whose says what it had to be.
func mayAsk(a bot.Account, domain string, domains *rules.Lookup, senders []rules.FieldRef) (ok bool, whose string) {
	var names []string
	if domains != nil {
		if holdsDomain(a.Fields[domains.Field.Name], domain) {
			return true, ""
		}
		names = append(names, "one of "+domains.Field.String())
	}
	for _, s := range senders {
		list, _ := a.Fields[s.Name].(string)
		for _, addr := range bot.ListValues(list) {
			if (bot.Address{Address: addr}).Domain() == domain {
				return true, ""
			}
		}
		names = append(names, "that of "+s.String())
	}
	if len(names) == 0 {
		return true, "" // the rules find accounts by no domain: nothing to compare
	}
	return false, strings.Join(names, " or ")
}

// domainLookup is the intake rules' lookup by the sender's domain; nil when there is none.
func (in *Intake) domainLookup() *rules.Lookup {
	for _, l := range in.opts.Rules.Lookups {
		if l.Pattern == nil {
			return l
		}
	}
	return nil
}

// holdsDomain reports whether a list of mail domains ("a.com; b.com") holds domain or one of
// its parents.
func holdsDomain(v any, domain string) bool {
	list, _ := v.(string)
	for _, d := range bot.ListValues(strings.ToLower(list)) {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

func lookupNames(keys []rules.AccountKey) string {
	if len(keys) == 0 {
		return "nothing in the mail"
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Lookup
	}
	return strings.Join(names, ", ")
}

// openCases returns, by account, an open case of playbook pb of each of the accounts, in one
// query per hundred accounts; accounts without one are absent.
func (in *Intake) openCases(ctx context.Context, pb *rules.Playbook, accountIDs []string) (map[string]string, error) {
	open := map[string]string{}
	for chunk := range slices.Chunk(accountIDs, 100) {
		literals := make([]string, len(chunk))
		for i, id := range chunk {
			if !bot.IsRecordID(id, "001") {
				return nil, fmt.Errorf("account id %q is not one", id)
			}
			literals[i] = "'" + id + "'"
		}
		q := bot.CaseQuery{Object: pb.Query.Object, Where: "AccountId IN (" + strings.Join(literals, ", ") + ")",
			Fields: []string{"AccountId"}}
		if pb.Query.Where != "" {
			q.Where = "(" + pb.Query.Where + ") AND " + q.Where
		}
		cases, err := in.opts.CRM.Cases(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("reading the open cases of %d account(s): %w", len(chunk), err)
		}
		for _, c := range cases {
			if account, _ := c.Fields["AccountId"].(string); account != "" && open[account] == "" {
				open[account] = c.ID
			}
		}
	}
	return open, nil
}

// readCases reads cases ids with the fields playbook pb reads, open or closed, by recordKey of
// their ids; those not of pb's cases are absent.
func (in *Intake) readCases(ctx context.Context, pb *rules.Playbook, ids []string) (map[string]*bot.Case, error) {
	q := pb.Query
	q.IDs, q.AnyState = ids, true
	cases, err := in.opts.CRM.Cases(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading %d case(s) of playbook %s: %w", len(ids), pb.Name, err)
	}
	out := make(map[string]*bot.Case, len(cases))
	for i := range cases {
		out[recordKey(cases[i].ID)] = &cases[i]
	}
	return out, nil
}

// recordKey is what identifies a record id, whether given with 15 characters or 18: the 15.
func recordKey(id string) string { return id[:min(len(id), 15)] }

func (in *Intake) playbook(name string) *rules.Playbook {
	for _, pb := range in.opts.Playbooks {
		if pb.Name == name {
			return pb
		}
	}
	return nil
}
