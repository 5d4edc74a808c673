package bot

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"
	"unicode"
)

// MessageID derives the Message-ID of a mail casebot sends from its effect key, so that the
// same effect always sends the same Message-ID and a reply can be threaded back to it.
func MessageID(key, domain string) string {
	sum := sha256.Sum256([]byte(key))
	return "<casebot." + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15])) + "@" + domain + ">"
}

// Inbound mail: customers and partners announce terminations by mail, and reply to casebot's.
// A Mailbox reads the raw messages; a parser makes a ParsedMail of each; intake rules decide
// what it is; intake turns it into a case, a reply on a case, or quarantine.

// MailboxPosition is where intake stands in a mailbox: the mailbox's UIDVALIDITY and the
// highest UID it has taken in. A UIDVALIDITY other than the mailbox's means its UIDs were
// renumbered: everything in it is read again (and deduplicated by Message-ID).
type MailboxPosition struct {
	UIDValidity uint32
	UID         uint32
}

// InboundMessage is a message as a Mailbox holds it, not yet understood.
type InboundMessage struct {
	Mailbox     string // the folder it was read from ("INBOX")
	UIDValidity uint32
	UID         uint32
	Size        int64 // the size the server gives (RFC822.SIZE), in bytes
	// Raw is the whole message (BODY.PEEK[]: reading it does not mark it \Seen); nil when
	// Size is above the mailbox's cap, so that a huge message is quarantined unread.
	Raw []byte
}

// Mailbox is the inbound mailbox (IMAP). Its methods may be called from one goroutine at a
// time. Errors are retryable when IsRetryable says so (the server is unreachable or dropped
// the connection, which the next call re-establishes); a refused login is permanent.
type Mailbox interface {
	// Fetch returns the messages of folder whose UID is above after.UID, oldest first, at most
	// max of them, and the folder's UIDVALIDITY now. When that is not after.UIDValidity, the
	// UIDs were renumbered and every message of the folder is returned (from UID 1).
	Fetch(ctx context.Context, folder string, after MailboxPosition, max int) ([]InboundMessage, uint32, error)
	// Wait returns when folder may have new messages (IMAP IDLE, or at the latest after the
	// poll interval when the server has no IDLE), or with ctx's error when ctx is done.
	Wait(ctx context.Context, folder string) error
	// Move moves the messages uids of folder (under uidValidity) to the folder to (created
	// when missing), atomically: with MOVE or UIDPLUS, never an EXPUNGE that could remove
	// another message. Messages no longer in folder are not an error: an earlier attempt moved
	// them. After an error, some of them may have been moved, and none is lost.
	Move(ctx context.Context, folder string, uidValidity uint32, uids []uint32, to string) error
	// Close logs out.
	Close() error
}

// Address is a mail address with its display name.
type Address struct {
	Name    string
	Address string // "it@customer.example"
}

// Domain is the part of the address after "@", lower-cased; "" when there is none.
func (a Address) Domain() string {
	i := strings.LastIndexByte(a.Address, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(a.Address[i+1:])
}

// ParsedMail is an inbound message as intake reads it. Every text is valid UTF-8.
type ParsedMail struct {
	MessageID  string   // "<…>" as in the Message-ID header; "" when it has none
	InReplyTo  []string // the Message-IDs of In-Reply-To, "<…>" each
	References []string // likewise, of References, oldest first
	From       Address
	ReplyTo    []Address
	To, Cc     []Address
	Subject    string
	Date       time.Time // the Date header; zero when missing or unreadable
	// Text is the plain text of the message, or the text of its HTML when it has only HTML.
	Text        string
	Attachments []Attachment
	// Problems are what the parser tolerated (a header line without a colon, an unknown
	// charset): the mail was still read.
	Problems []string
	Auth     MailAuth
}

// MailAuth is what vouches for a mail's sender.
type MailAuth struct {
	// DKIM are the signing domains (d=) of the DKIM signatures that verified, lower-cased.
	DKIM []string
	// DMARC is the dmarc result of the topmost Authentication-Results header added by the
	// trusted receiving server ("pass", "fail", "none", …; "" when there is no such header),
	// and DMARCDomain the From domain it was for (header.from).
	DMARC       string
	DMARCDomain string
	// Errors are why signatures did not verify, for the quarantine notice.
	Errors []string
}

// Aligned reports whether a passing DKIM signature's domain, or a trusted dmarc=pass, is
// aligned with domain (the From domain): the same, or a parent or subdomain of it (relaxed
// alignment, as DMARC has it by default).
func (a MailAuth) Aligned(domain string) bool {
	domain = strings.ToLower(domain)
	if domain == "" {
		return false
	}
	if a.DMARC == "pass" && relaxed(strings.ToLower(a.DMARCDomain), domain) {
		return true
	}
	for _, d := range a.DKIM {
		if relaxed(d, domain) {
			return true
		}
	}
	return false
}

// relaxed reports whether a and b are the same domain or one is a subdomain of the other.
func relaxed(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}

// IntakeCRM is what intake needs of Salesforce besides CRM: finding what a mail belongs to,
// and keeping the mail on a case.
type IntakeCRM interface {
	// Accounts returns the accounts whose q.Field holds one of q.Values, compared without
	// regard to case, with q.Fields read.
	Accounts(ctx context.Context, q AccountQuery) ([]Account, error)
	// MailCases returns, by Message-ID ("<…>"), the case of the EmailMessage logged with it
	// (its MessageIdentifier); Message-IDs of no logged mail are absent.
	MailCases(ctx context.Context, messageIDs []string) (map[string]string, error)
	// CaseIDs returns, by case number, the id of the case; unknown numbers are absent.
	CaseIDs(ctx context.Context, numbers []string) (map[string]string, error)
	// LogMails keeps mails on cases, each all or nothing: the case is opened with w.Case when
	// w.CaseID is empty (else w.Case updates it), the mail is logged as an EmailMessage of
	// w.Mail's fields (its ParentId set to the case), and w.Files are kept on the case as
	// Files (ContentVersions). Many mails go in one call. It returns one result per write, in
	// order: the case's id, or the error of that write alone, which wrote nothing of it when
	// permanent (IsRetryable false); a retryable one may have been written, its answer lost.
	LogMails(ctx context.Context, ws []MailWrite) []MailResult
}

// MailResult is what became of one MailWrite.
type MailResult struct {
	CaseID string
	Err    error
}

// IsListSeparator reports whether r separates the values of a field that holds several (an
// account's mail domains "acme.example; acme.co.example", a partner's addresses): ";", "," or
// white space.
func IsListSeparator(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) }

// ListValues returns the values of such a field.
func ListValues(s string) []string { return strings.FieldsFunc(s, IsListSeparator) }

// AccountQuery finds accounts by a field.
type AccountQuery struct {
	Field  string   // an Account field's API name
	Values []string // what it must hold, compared without regard to case
	// List says the field holds several values separated by ";", "," or white space (the
	// mail domains of an account), any of which may match.
	List   bool
	Fields []string // the fields to read besides Id
}

// MailWrite is a mail kept on a case by LogMails.
type MailWrite struct {
	CaseID string // the case; "" to open one
	Case   Fields // the new case's fields, or the fields to update on CaseID (may be empty)
	Mail   Fields // the EmailMessage's fields, without ParentId
	Files  []Attachment
}
