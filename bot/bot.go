// Package bot holds casebot's domain types and the small interfaces (ports) the engine needs.
//
// It imports only the standard library. Connectors implement the ports; the engine and the
// playbook language work only with these types, so a change of provider never reaches them.
package bot

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Fields holds a record's field values by API name, as Salesforce's JSON carries them:
// string, float64, bool or nil. A relationship path asked for ("Owner.Email") is kept under
// the whole path. Dates are strings "2006-01-02"; datetimes are strings in
// Salesforce's layout (see DateTimeLayout).
type Fields map[string]any

// DateLayout and DateTimeLayout are Salesforce's wire layouts. DateTimeLayout is not RFC 3339
// ("+0000", no colon), which is why it is spelled out here once.
const (
	DateLayout     = "2006-01-02"
	DateTimeLayout = "2006-01-02T15:04:05.000-0700"
)

// KeyField is the Task field that carries the effect key of every task casebot creates, so a
// retry after a crash finds the task instead of creating it twice.
const KeyField = "Casebot_Key__c"

// Case is one case a playbook applies to, with the related records the playbook reads.
type Case struct {
	ID      string
	Fields  Fields   // the Case fields the playbook declares
	Account *Account // nil when the case has no account
	Tasks   []Task   // tasks on the case that carry an effect key (created by casebot)
}

// Created is when the case was created (its CreatedDate, when read); zero when unknown.
func (c *Case) Created() time.Time {
	s, _ := c.Fields["CreatedDate"].(string)
	t, err := time.Parse(DateTimeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Account is the account of a case.
type Account struct {
	ID     string
	Fields Fields // the Account fields the playbook declares
}

// Task is a Salesforce Task created by casebot on a case.
type Task struct {
	ID           string
	Key          string // the effect key casebot stored in KeyField
	Subject      string
	Status       string
	ActivityDate string // due date, DateLayout, "" when none
	IsClosed     bool
}

// CaseQuery says which records a playbook applies to and which of their fields it reads.
// A CRM returns all of them with their account fields and bot tasks in as few calls as the
// provider allows (for Salesforce one query call per 2,000 cases).
type CaseQuery struct {
	Object        string   // the sObject the playbook applies to ("Case")
	Where         string   // a SOQL condition, as written in the playbook's applies_to
	Fields        []string // fields of Object, API names, without "Id"
	AccountFields []string // fields of the related Account, API names, without "Id"
	// IDs, when not empty, restricts the query to these records (those of them that still
	// match Where): a later pass of a cycle re-reads only the cases that changed.
	IDs []string
	// AnyState, with IDs, reads those records whether or not they match Where: a case that a
	// step closed before casebot could record it is read once more to confirm the step.
	AnyState bool
}

// WriteOp is what a Write does to a record.
type WriteOp string

const (
	OpCreate WriteOp = "create"
	OpUpdate WriteOp = "update"
)

// Write is one record change. Updates to the same record are merged by the engine before they
// reach a CRM, so a batch never names a record twice.
type Write struct {
	Op     WriteOp
	Object string // sObject type: "Case", "Account", "Task"
	ID     string // the record to update; empty for OpCreate
	Fields Fields
}

// WriteResult is the outcome of one Write, in the order of the batch.
type WriteResult struct {
	ID  string // the record's id (the new id for OpCreate)
	Err error  // nil on success; a *Error or a transport error otherwise
}

// CRM is the engine's view of Salesforce.
type CRM interface {
	// Cases returns every record that matches q, with its account and its bot tasks.
	// An error means no cases were read; it is retryable when IsRetryable says so.
	Cases(ctx context.Context, q CaseQuery) ([]Case, error)
	// Apply performs ws in as few calls as the provider allows (Salesforce: collections of at
	// most 200 records) and returns one result per write, in order. A record that fails does
	// not fail the others. Once any call was answered, the results are complete and err is
	// nil: each failed write carries its own error (a call that failed as a whole puts its
	// error on every write it carried), so ids of records already written are not lost. err
	// is returned, with nil results, only when nothing was answered.
	Apply(ctx context.Context, ws []Write) ([]WriteResult, error)
	// UserIDs resolves usernames to active user ids. Unknown names are absent from the map.
	UserIDs(ctx context.Context, usernames []string) (map[string]string, error)
	// QueueIDs resolves queue names (or developer names) to queue ids. Unknown names are
	// absent from the map.
	QueueIDs(ctx context.Context, names []string) (map[string]string, error)
	// Find looks for records that an earlier attempt of an effect may have created before
	// casebot could record it: the CaseComments and ContentVersions carrying a marker and
	// the EmailMessages carrying a MessageIdentifier. It returns the id of each record found,
	// by marker or Message-ID; what is absent was not created. An error means nothing is
	// known.
	Find(ctx context.Context, q FindQuery) (map[string]string, error)
	// CaseFiles returns, by case id as given, the files on each of the cases (in Salesforce,
	// the Files shared with it), newest first: a mail may carry one. Cases without files are
	// absent.
	CaseFiles(ctx context.Context, caseIDs []string) (map[string][]CaseFile, error)
	// CaseMails returns, by case id as given, the MessageIdentifier of the first mail received
	// on each of the cases (its oldest incoming EmailMessage): a mail may answer it. Cases
	// that received none are absent.
	CaseMails(ctx context.Context, caseIDs []string) (map[string]string, error)
	// FileData returns the bytes of a version of a file (a ContentVersion id, as CaseFile
	// names it). A version's bytes never change, so every attempt gets the same.
	FileData(ctx context.Context, version string) ([]byte, error)
}

// CaseFile is a file on a case, in its latest version.
type CaseFile struct {
	Version string // the version's id (a ContentVersion's)
	Title   string
	Name    string // the file name, without a path
	Size    int64  // of the version, in bytes
}

// FindQuery names the records a CRM.Find looks for.
type FindQuery struct {
	// Comments are CaseComment markers (see CommentMarker) by the case they were added to.
	Comments map[string][]string
	// Files are the markers of files casebot attached (ContentVersions whose Description
	// ends with one, see CommentMarker) by the case they were attached to.
	Files map[string][]string
	// MessageIDs are the Message-IDs ("<…>") of mails logged as EmailMessages.
	MessageIDs []string
	// Since is the earliest time such a record can have been created (the claim's time); a
	// CRM may use it to read fewer comments.
	Since time.Time
}

// CommentMarker is the reference casebot ends a case comment with, derived from the effect
// key: CaseComment takes no custom field, so the key travels in the body, as a short
// reference a reader can quote, and a retry after a crash finds the comment by it.
func CommentMarker(key string) string {
	return "casebot ref " + shortHash(key)
}

// Mail is one outbound message about a case.
type Mail struct {
	To, Cc    []string // addresses
	Subject   string   // one line
	Text      string   // plain text
	MessageID string   // "<…>", derived from the effect key so a resent mail is recognisable
	Key       string   // the effect key
	// InReplyTo and References thread the mail under another ("<…>" each): an
	// acknowledgement under the customer's request.
	InReplyTo  string
	References []string
	// Attachments are the files the mail carries, in order.
	Attachments []Attachment
}

// Attachment is a file a mail carries.
type Attachment struct {
	Name        string // the file name the recipient sees
	ContentType string // its MIME type
	Data        []byte
}

// File is a file an effect sends or attaches to the case: one shipped beside the playbook
// (Path and SHA256), a text rendered from a template when the effect is claimed (Template), or
// a file on the case (CaseTitle), whose version is chosen when the effect is claimed.
type File struct {
	Name        string `json:"name"`                   // the file name: an attachment's, a ContentVersion's PathOnClient
	ContentType string `json:"content_type,omitempty"` // MIME type
	// Path is a file shipped beside the playbook, relative to its files/ directory; SHA256
	// (hex) is its content's hash when the effect was decided, so that a retry after the
	// playbooks changed sends the bytes decided or nothing.
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Template is a text template rendered when the effect is claimed (KindAttach only).
	Template string `json:"template,omitempty"`
	// Title is the ContentVersion's Title (KindAttach only; placeholders already filled in).
	Title string `json:"title,omitempty"`
	// CaseTitle is, for a file on the case (KindEmail only), the pattern its title matches:
	// "*" matches any run of characters, and case does not count. Version is the version of
	// the newest such file when the effect was claimed, and Size its length: a retry sends
	// that version, whatever was uploaded since.
	CaseTitle string `json:"case_title,omitempty"`
	Version   string `json:"version,omitempty"`
	Size      int64  `json:"size,omitempty"`
}

// Mailer sends mail.
type Mailer interface {
	// Send sends m and returns the From address it used. Errors are retryable when
	// IsRetryable says so (the relay is down or busy); a refused recipient is permanent.
	Send(ctx context.Context, m Mail) (from string, err error)
}

// Caller calls the HTTP endpoints playbooks name (tenant deactivation, support cases).
type Caller interface {
	// Call performs c, sending key as its Idempotency-Key, and returns the decoded JSON
	// object the endpoint answered (nil for an empty body). 5xx, 429 and network errors are
	// retryable; other 4xx are permanent; an unknown endpoint is permanent.
	Call(ctx context.Context, key string, c HTTPCall) (map[string]any, error)
}

// Message is one chat message about a case.
type Message struct {
	Channel string // where to post ("#legal" or a channel id)
	Text    string // Slack mrkdwn; untrusted values are escaped by the renderer
	Key     string // the effect key, carried in the message metadata
}

// Chat posts messages for Legal, Finance and the other teams.
type Chat interface {
	// Post posts m and returns the provider's id for it (Slack's ts). Errors are retryable
	// when IsRetryable says so (rate limits, outages).
	Post(ctx context.Context, m Message) (string, error)
	// Find looks in channel for a message posted since since that carries key, and returns
	// its id ("" when there is none): an attempt whose outcome casebot could not record is
	// confirmed instead of posted twice. A chat that cannot be asked (a terminal) returns "".
	Find(ctx context.Context, channel, key string, since time.Time) (string, error)
}

// EffectKind is what an effect does.
type EffectKind string

const (
	KindUpdate  EffectKind = "update"  // change fields of the case or its account
	KindStatus  EffectKind = "status"  // set Case.Status
	KindTasks   EffectKind = "tasks"   // create tasks from a task template
	KindSlack   EffectKind = "slack"   // post to the teams' channels
	KindEmail   EffectKind = "email"   // send a mail and log it on the case as an EmailMessage
	KindComment EffectKind = "comment" // add a CaseComment
	KindQueue   EffectKind = "queue"   // give the case to a role's queue (OwnerId)
	KindHTTP    EffectKind = "http"    // call a configured endpoint; store response fields on the case
	KindAttach  EffectKind = "attach"  // attach a file to the case (a ContentVersion linked to it)
)

// Effect is one action of a playbook step, due for one case. Evaluate produces effects; the
// engine renders and performs them and records the outcome in the ledger under Key.
type Effect struct {
	Key      string // "playbook/step/action#/case-id", see EffectKey
	Playbook string
	Step     string
	Action   int // 1-based index of the action in its step
	CaseID   string
	Due      time.Time // when the step became due
	Kind     EffectKind

	// KindUpdate and KindStatus: the record and the fields to set.
	Object   string // "Case" or "Account"
	RecordID string
	Fields   Fields

	// KindTasks: the tasks to create, each carrying its own key in KeyField.
	Tasks []TaskSpec

	// KindSlack, KindEmail, KindQueue: the roles to tell (or whose queue takes the case).
	// KindSlack, KindEmail, KindComment: the template to render.
	Roles    []string
	Template string

	// KindEmail: recipients beyond Roles. Cc are roles too; Addresses are mail addresses read
	// from the case's fields when the effect was built.
	Cc        []string
	Addresses []string

	// KindComment: whether the comment is visible to the customer.
	Public bool

	// KindEmail: the files the mail carries. KindAttach: the one file to attach.
	Files []File

	// KindEmail: whether the mail answers the first mail received on the case (see
	// CRM.CaseMails).
	Thread bool

	// Problem is, for a notice that an action failed for good, what went wrong.
	Problem string

	// KindHTTP: the call to make.
	HTTP *HTTPCall
}

// HTTPCall is a call to an endpoint configured by the admin (its base URL and credentials live
// in the config, never in a playbook).
type HTTPCall struct {
	Endpoint string            // the configured endpoint's name
	Method   string            // GET, POST, PUT, PATCH or DELETE
	Path     string            // appended to the endpoint's URL; case values already escaped in
	Body     []byte            // JSON, nil for none
	Store    map[string]string // Case field → dot path of the value in the JSON response
}

// TaskSpec is a task to create, from a playbook's task template.
type TaskSpec struct {
	Key         string // Effect.Key + "/" + the template entry's id; stored in KeyField
	Subject     string
	OwnerRole   string // resolved through config to a user; "" keeps the default owner
	Due         string // ActivityDate, DateLayout
	Priority    string // "High", "Normal", "Low"
	Description string
}

// EffectKey is the deterministic key of an action of a step for a case.
func EffectKey(playbook, step string, action int, caseID string) string {
	return fmt.Sprintf("%s/%s/%d/%s", playbook, step, action, caseID)
}

// StepKey is the key of an effect or record of a step that is not one of its actions: a
// reminder ("remind-2"), an escalation ("escalate"), a hold's start or end ("start-1").
func StepKey(playbook, step, tag, caseID string) string {
	return playbook + "/" + step + "/" + tag + "/" + caseID
}

// CaseOfKey returns the case id an effect key (or a task key derived from one) belongs to.
func CaseOfKey(key string) string {
	parts := strings.Split(key, "/")
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}

// EntryState is the state of a ledger entry.
type EntryState string

const (
	StateDone    EntryState = "done"    // performed; Result holds what the provider returned
	StateSkipped EntryState = "skipped" // decided not to run (condition false); final
	StateFailed  EntryState = "failed"  // the last attempt failed; retried while Retryable
	// StateMarked records a fact the playbook needs later, such as when a hold started or
	// ended (At); it has no effect of its own.
	StateMarked EntryState = "marked"
	// StateClaimed is an action the engine decided to perform, with what it will send in
	// Payload, written before it is performed. Until its outcome is recorded it may or may
	// not have happened: a later attempt asks the provider first.
	StateClaimed EntryState = "claimed"
)

// LedgerEntry records what became of one effect key.
type LedgerEntry struct {
	Key       string
	CaseID    string
	Playbook  string
	Step      string
	State     EntryState
	Result    string    // provider result: record ids, Slack ts (comma-separated when several)
	Detail    string    // why it was skipped, or the last error
	Attempts  int       // how many times it was tried
	At        time.Time // when it reached State, on the engine's clock
	Retryable bool      // for StateFailed: whether a later cycle tries again
	// RetryAt is, for a retryable failure, when the next attempt may run (the provider's
	// Retry-After or the engine's backoff, whichever is later); zero when not set.
	RetryAt time.Time
	// Payload is what the effect sends, rendered when it was claimed (JSON, engine-defined),
	// so that every attempt sends the same bytes. Record stores it; Store.Payloads reads it.
	Payload string
	// Claimed is when the effect was claimed; zero for entries that were never claimed.
	Claimed time.Time
}

// CheckEntries returns an error naming the first entry a Store must refuse: one without a key,
// a case id or a state. Stores check a whole batch before they write any of it.
func CheckEntries(es []LedgerEntry) error {
	for i, e := range es {
		if e.Key == "" || e.CaseID == "" || e.State == "" {
			return fmt.Errorf("entry %d (key %q, case %q): key, case id and state are required", i+1, e.Key, e.CaseID)
		}
	}
	return nil
}

// Ledger is the ledger entries of one case by key, as Evaluate reads them.
type Ledger map[string]LedgerEntry

// Store is the durable ledger.
type Store interface {
	// Entries returns the entries of the given cases, by case id and then key. Cases without
	// entries are absent from the map.
	Entries(ctx context.Context, caseIDs []string) (map[string]Ledger, error)
	// Record inserts or replaces the entries with their keys, all in one transaction: after
	// an error none of them was written. An entry's Payload, when not empty, is stored as its
	// claim's (Payloads returns it); an entry without a Claimed time keeps the one stored.
	Record(ctx context.Context, es ...LedgerEntry) error
	// Payloads returns the payloads stored for the given keys; keys without one are absent.
	// Entries and Claimed leave Payload empty: a claim's content is read only to perform it.
	Payloads(ctx context.Context, keys []string) (map[string]string, error)
	// Claimed returns every entry in StateClaimed: effects whose outcome is not recorded.
	Claimed(ctx context.Context) ([]LedgerEntry, error)
	// Position returns where intake stands in a mailbox folder; zero when it never read it.
	Position(ctx context.Context, mailbox string) (MailboxPosition, error)
	// SetPosition records where intake stands in a mailbox folder.
	SetPosition(ctx context.Context, mailbox string, p MailboxPosition) error
	// Check reports why the store can no longer be written (its file was removed or
	// replaced, or made read-only); nil when it can.
	Check(ctx context.Context) error
	// Close releases the store.
	Close() error
	// CaseIDs returns the ids of every case with an entry, sorted: with Entries, a way to read
	// the whole ledger (casebot migrate -from-sqlite copies it).
	CaseIDs(ctx context.Context) ([]string, error)
	// Positions returns where intake stands in every mailbox folder it read.
	Positions(ctx context.Context) (map[string]MailboxPosition, error)
	// Generation returns the ledger's generation: every write transaction takes the next one
	// and stamps the entries it writes with it.
	Generation(ctx context.Context) (int64, error)
	// Changes returns the entries written after generation since, as they are now, and the
	// generation they bring the reader to: a reader that keeps entries reads what changed
	// instead of reading them again. A generation below since means the ledger was replaced
	// (restored from a backup, say): what the reader kept is void.
	Changes(ctx context.Context, since int64) ([]LedgerEntry, int64, error)
}

// ReadChanges is Store.Changes over a store's two reads: its generation first, then the
// entries written after since up to it. Writes take generations one after the other and
// commit in that order, so every entry of a generation up to the one read is committed and
// seen by the read after.
func ReadChanges(ctx context.Context, since int64, generation func(context.Context) (int64, error),
	entries func(ctx context.Context, since, through int64) ([]LedgerEntry, error)) ([]LedgerEntry, int64, error) {
	g, err := generation(ctx)
	if err != nil || g <= since {
		return nil, g, err
	}
	es, err := entries(ctx, since, g)
	return es, g, err
}

// Error is a classified provider error. Connectors return it (wrapped) so the engine can decide
// whether to try again without knowing the provider.
type Error struct {
	Op         string        // what was being done: "query Case", "update Account 001…"
	Code       string        // the provider's code: "REQUEST_LIMIT_EXCEEDED", "ratelimited"
	Message    string        // the provider's message
	Retryable  bool          // a later attempt may succeed
	RetryAfter time.Duration // the provider's hint, zero when none
	// Login marks a refused login (wrong credentials, a revoked app): nothing works until a
	// person fixes the configuration.
	Login bool
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// IsRetryable reports whether err, or an error it wraps, is a *Error marked retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// shortHash is a short, stable digest of s in lower-case base32.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
}

// IsRecordID reports whether s is a Salesforce record id: 15 or 18 letters and digits,
// starting with prefix (the object's key prefix, "005" for users, "00G" for queues; "" for any).
func IsRecordID(s, prefix string) bool {
	if (len(s) != 15 && len(s) != 18) || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
