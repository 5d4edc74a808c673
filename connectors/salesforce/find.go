package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"casebot/bot"
)

// clockSkew is how far Salesforce's clock may run behind casebot's: a comment created just
// after a claim may still carry a CreatedDate a little before it.
const clockSkew = 5 * time.Minute

// Find looks for the records an earlier attempt of an effect may have created before casebot
// could record it. EmailMessages are found by MessageIdentifier, compared without regard to
// case as SOQL compares it. CaseComments are read by case, created since q.Since less
// clockSkew, and matched here, since CommentBody is a long text area that SOQL cannot filter
// on: a comment counts when its last line carries one of its case's markers, where casebot
// puts them, so a reader quoting a reference elsewhere in a comment is not taken for it. The
// ids come back by Message-ID and by marker; an empty query makes no call.
func (m *CRM) Find(ctx context.Context, q bot.FindQuery) (map[string]string, error) {
	// Comments first: their case ids are checked before any call.
	out, err := m.findComments(ctx, q.Comments, q.Since)
	if err != nil {
		return nil, err
	}
	mails, err := m.resolveNames(ctx, "Message-IDs of logged mails", q.MessageIDs, maxInList, func(in string) string {
		return "SELECT Id, MessageIdentifier FROM EmailMessage WHERE MessageIdentifier IN (" + in + ")"
	}, "MessageIdentifier")
	if err != nil {
		return nil, err
	}
	maps.Copy(out, mails)
	return out, nil
}

// findComments returns the ids of the comments that carry the markers of markers (by case
// id) on their cases, by marker, of those created since since (all when since is zero).
func (m *CRM) findComments(ctx context.Context, markers map[string][]string, since time.Time) (map[string]string, error) {
	op := fmt.Sprintf("find comments on %d cases", len(markers))
	byCase := make(map[string][]string, len(markers)) // by 15-character id: Salesforce answers with 18
	var literals []string
	for id, ms := range markers {
		if !bot.IsRecordID(id, "500") {
			return nil, invalidInput(op, fmt.Sprintf("invalid case id %q", id))
		}
		ms = slices.DeleteFunc(slices.Clone(ms), func(s string) bool { return s == "" })
		if len(ms) == 0 {
			continue
		}
		k := id[:15]
		if _, seen := byCase[k]; !seen {
			literals = append(literals, Quote(id))
		}
		byCase[k] = append(byCase[k], ms...)
	}
	slices.Sort(literals) // the same queries for the same question
	out := make(map[string]string)
	var created string
	if !since.IsZero() {
		created = " AND CreatedDate >= " + FormatDateTime(since.Add(-clockSkew))
	}
	for _, chunk := range chunkByLength(literals, maxInList) {
		// Oldest first, so that of two comments with a marker the original is the one found.
		soql := "SELECT Id, ParentId, CommentBody FROM CaseComment WHERE ParentId IN (" +
			strings.Join(chunk, ", ") + ")" + created + " ORDER BY CreatedDate, Id"
		err := m.c.Query(ctx, soql, func(records []json.RawMessage) error {
			for _, raw := range records {
				var rec struct {
					ID          string `json:"Id"`
					ParentID    string `json:"ParentId"`
					CommentBody string `json:"CommentBody"`
				}
				if err := json.Unmarshal(raw, &rec); err != nil {
					return fmt.Errorf("decode comment: %w", err)
				}
				if len(rec.ParentID) < 15 {
					continue
				}
				last := lastLine(rec.CommentBody)
				for _, mk := range byCase[rec.ParentID[:15]] {
					if _, found := out[mk]; !found && strings.Contains(last, mk) {
						out[mk] = rec.ID
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

// lastLine returns the last line of s that is not blank.
func lastLine(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
