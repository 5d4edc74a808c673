package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// caseMailsQuery reads the mails received on cases, oldest first: the first of each case is
// the mail that opened it.
const caseMailsQuery = "SELECT ParentId, MessageIdentifier, CreatedDate FROM EmailMessage WHERE Incoming = true AND ParentId IN ("

// CaseMails reads, in one query per few hundred cases, the MessageIdentifier of the first mail
// each case received, under its id as given. Cases that received none are absent.
func (m *CRM) CaseMails(ctx context.Context, caseIDs []string) (map[string]string, error) {
	op := fmt.Sprintf("read the mails received on %d case(s)", len(caseIDs))
	asked, literals, err := askedIDs(op, caseIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	first := make(map[string]bool) // 15-character case ids whose first mail was read
	for _, chunk := range chunkByLength(literals, ", ", maxInList) {
		soql := caseMailsQuery + strings.Join(chunk, ", ") + ") ORDER BY CreatedDate, Id"
		err := m.c.Query(ctx, soql, func(records []json.RawMessage) error {
			for _, raw := range records {
				var rec struct {
					ParentID          string `json:"ParentId"`
					MessageIdentifier string
				}
				if err := json.Unmarshal(raw, &rec); err != nil {
					return fmt.Errorf("decode EmailMessage: %w", err)
				}
				if len(rec.ParentID) < 15 || first[rec.ParentID[:15]] {
					continue
				}
				// The first mail alone is answered: one logged without a Message-ID leaves its
				// case unthreaded rather than answering a later mail.
				first[rec.ParentID[:15]] = true
				for _, id := range asked[rec.ParentID[:15]] {
					if rec.MessageIdentifier != "" {
						out[id] = rec.MessageIdentifier
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}
