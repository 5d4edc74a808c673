package salesforce

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"casebot/bot"
)

// caseFilesQuery reads the files shared with records, in their latest versions. Salesforce
// answers a query of ContentDocumentLink only when it filters on the linked records (or the
// documents), which the IN list does.
const caseFilesQuery = "SELECT LinkedEntityId, ContentDocument.Title, ContentDocument.LatestPublishedVersionId, " +
	"ContentDocument.LatestPublishedVersion.PathOnClient, ContentDocument.LatestPublishedVersion.ContentSize, " +
	"ContentDocument.LatestPublishedVersion.CreatedDate FROM ContentDocumentLink WHERE LinkedEntityId IN ("

// CaseFiles reads the Files shared with the cases, each in its latest version, in one query per
// few hundred cases. A case's files come newest first (by when their latest version was
// uploaded), under its id as given: Salesforce answers with 18-character ids.
func (m *CRM) CaseFiles(ctx context.Context, caseIDs []string) (map[string][]bot.CaseFile, error) {
	op := fmt.Sprintf("read the files on %d case(s)", len(caseIDs))
	asked, literals, err := askedIDs(op, caseIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]bot.CaseFile)
	uploaded := make(map[string]time.Time) // version id → when it was uploaded
	for _, chunk := range chunkByLength(literals, ", ", maxInList) {
		err := m.c.Query(ctx, caseFilesQuery+strings.Join(chunk, ", ")+")", func(records []json.RawMessage) error {
			for _, raw := range records {
				var link struct {
					LinkedEntityID  string `json:"LinkedEntityId"`
					ContentDocument struct {
						Title                  string
						LatestPublishedVersion struct {
							PathOnClient string
							ContentSize  int64
							CreatedDate  string
						}
						LatestPublishedVersionID string `json:"LatestPublishedVersionId"`
					}
				}
				if err := json.Unmarshal(raw, &link); err != nil {
					return fmt.Errorf("decode ContentDocumentLink: %w", err)
				}
				doc, v := link.ContentDocument, link.ContentDocument.LatestPublishedVersion
				if len(link.LinkedEntityID) < 15 || doc.LatestPublishedVersionID == "" {
					continue
				}
				at, err := ParseDateTime(v.CreatedDate)
				if err != nil {
					return fmt.Errorf("ContentVersion %s: CreatedDate: %w", doc.LatestPublishedVersionID, err)
				}
				uploaded[doc.LatestPublishedVersionID] = at
				f := bot.CaseFile{Version: doc.LatestPublishedVersionID, Title: doc.Title, Size: v.ContentSize,
					Name: v.PathOnClient[strings.LastIndexAny(v.PathOnClient, `/\`)+1:]}
				for _, id := range asked[link.LinkedEntityID[:15]] {
					out[id] = append(out[id], f)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	for _, files := range out {
		slices.SortFunc(files, func(a, b bot.CaseFile) int {
			return cmp.Or(uploaded[b.Version].Compare(uploaded[a.Version]), cmp.Compare(a.Version, b.Version))
		})
	}
	return out, nil
}

// askedIDs checks record ids and maps each 15-character id to the ids as given (Salesforce
// answers with 18-character ones), with the quoted ids to ask for, once each and sorted so
// that the same question makes the same queries.
func askedIDs(op string, ids []string) (asked map[string][]string, literals []string, err error) {
	asked = make(map[string][]string)
	for _, id := range ids {
		if !ValidID(id) {
			return nil, nil, invalidInput(op, fmt.Sprintf("invalid record id %q", id))
		}
		k := id[:15]
		if slices.Contains(asked[k], id) {
			continue
		}
		if len(asked[k]) == 0 {
			literals = append(literals, Quote(id))
		}
		asked[k] = append(asked[k], id)
	}
	slices.Sort(literals)
	return asked, literals, nil
}

// FileData reads the bytes of a ContentVersion.
func (m *CRM) FileData(ctx context.Context, version string) ([]byte, error) {
	return m.c.Blob(ctx, "ContentVersion", version, "VersionData")
}
