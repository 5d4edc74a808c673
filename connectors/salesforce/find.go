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
// case as SOQL compares it. CaseComments and ContentVersions are read by case (a file by the
// case it was first published to), created since q.Since less clockSkew, and matched here,
// since CommentBody and Description are text areas that SOQL cannot filter on: a record
// counts when the last line of its text carries one of its case's markers, where casebot puts
// them, so a reader quoting a reference elsewhere is not taken for it. The ids come back by
// Message-ID and by marker; an empty query makes no call.
func (m *CRM) Find(ctx context.Context, q bot.FindQuery) (map[string]string, error) {
	// Marked records first: every case id is checked before any call.
	kinds := []*marked{
		{what: "comments", object: "CaseComment", parent: "ParentId", text: "CommentBody", markers: q.Comments},
		{what: "files", object: "ContentVersion", parent: "FirstPublishLocationId", text: "Description", markers: q.Files},
	}
	for _, k := range kinds {
		if err := k.group(); err != nil {
			return nil, err
		}
	}
	out := make(map[string]string)
	for _, k := range kinds {
		if err := m.findMarked(ctx, k, q.Since, out); err != nil {
			return nil, err
		}
	}
	mails, err := m.resolveNames(ctx, "Message-IDs of logged mails", q.MessageIDs, maxInList, func(in string) string {
		return "SELECT Id, MessageIdentifier FROM EmailMessage WHERE MessageIdentifier IN (" + in + ")"
	}, "Id", "MessageIdentifier")
	if err != nil {
		return nil, err
	}
	maps.Copy(out, mails)
	return out, nil
}

// marked is a kind of record casebot ends with a marker, on a case.
type marked struct {
	what, object string
	parent, text string              // the fields naming the case and holding the marker
	markers      map[string][]string // the markers to look for, by case id
	byCase       map[string][]string // markers by 15-character case id: Salesforce answers with 18
	literals     []string            // the case ids, quoted, sorted
}

// group checks the case ids of the markers and groups the markers by case.
func (k *marked) group() error {
	op := fmt.Sprintf("find %s on %d cases", k.what, len(k.markers))
	k.byCase = make(map[string][]string, len(k.markers))
	for id, ms := range k.markers {
		if !bot.IsRecordID(id, "500") {
			return invalidInput(op, fmt.Sprintf("invalid case id %q", id))
		}
		ms = slices.DeleteFunc(slices.Clone(ms), func(s string) bool { return s == "" })
		if len(ms) == 0 {
			continue
		}
		c := id[:15]
		if _, seen := k.byCase[c]; !seen {
			k.literals = append(k.literals, Quote(id))
		}
		k.byCase[c] = append(k.byCase[c], ms...)
	}
	slices.Sort(k.literals) // the same queries for the same question
	return nil
}

// findMarked adds to out the ids of the records of kind k that carry the markers grouped in k
// on their cases, by marker, of those created since since (all when since is zero).
func (m *CRM) findMarked(ctx context.Context, k *marked, since time.Time, out map[string]string) error {
	var created string
	if !since.IsZero() {
		created = " AND CreatedDate >= " + FormatDateTime(since.Add(-clockSkew))
	}
	for _, chunk := range chunkByLength(k.literals, ", ", maxInList) {
		// Oldest first, so that of two records with a marker the original is the one found.
		soql := "SELECT Id, " + k.parent + ", " + k.text + " FROM " + k.object + " WHERE " + k.parent + " IN (" +
			strings.Join(chunk, ", ") + ")" + created + " ORDER BY CreatedDate, Id"
		err := m.c.Query(ctx, soql, func(records []json.RawMessage) error {
			for _, raw := range records {
				var rec map[string]any
				if err := json.Unmarshal(raw, &rec); err != nil {
					return fmt.Errorf("decode %s: %w", k.object, err)
				}
				parent := str(rec[k.parent])
				if len(parent) < 15 {
					continue
				}
				last := lastLine(str(rec[k.text]))
				for _, mk := range k.byCase[parent[:15]] {
					if _, found := out[mk]; !found && strings.Contains(last, mk) {
						out[mk] = str(rec["Id"])
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("find %s on %d cases: %w", k.what, len(k.byCase), err)
		}
	}
	return nil
}

// lastLine returns the last line of s that is not blank.
func lastLine(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
