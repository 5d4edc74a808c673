package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casebot/bot"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// golden is what a test compares of a parsed mail: the attachments by size and digest.
type golden struct {
	MessageID   string   `json:",omitempty"`
	InReplyTo   []string `json:",omitempty"`
	References  []string `json:",omitempty"`
	From        bot.Address
	ReplyTo     []bot.Address `json:",omitempty"`
	To          []bot.Address `json:",omitempty"`
	Cc          []bot.Address `json:",omitempty"`
	Subject     string
	Date        string `json:",omitempty"`
	Text        string
	Attachments []goldenAttachment `json:",omitempty"`
	Problems    []string           `json:",omitempty"`
}

type goldenAttachment struct {
	Name, ContentType string
	Size              int
	SHA256            string
}

func toGolden(pm bot.ParsedMail, err error) any {
	if err != nil {
		return struct{ Error string }{err.Error()}
	}
	g := golden{
		MessageID: pm.MessageID, InReplyTo: pm.InReplyTo, References: pm.References,
		From: pm.From, ReplyTo: pm.ReplyTo, To: pm.To, Cc: pm.Cc,
		Subject: pm.Subject, Text: pm.Text, Problems: pm.Problems,
	}
	if !pm.Date.IsZero() {
		g.Date = pm.Date.Format(time.RFC3339)
	}
	for _, a := range pm.Attachments {
		sum := sha256.Sum256(a.Data)
		g.Attachments = append(g.Attachments, goldenAttachment{a.Name, a.ContentType, len(a.Data), hex.EncodeToString(sum[:8])})
	}
	return g
}

// TestParseGolden parses each testdata/NAME.eml and compares the result with
// testdata/NAME.golden; go test -run TestParseGolden -update rewrites those.
func TestParseGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		err  error // errors.Is the error of Parse
	}{
		{name: "plain"},
		{name: "html-only"},
		{name: "multipart-attachment"},
		{name: "latin1"},
		{name: "iso-2022-jp"},
		{name: "no-colon"},
		{name: "no-message-id"},
		{name: "no-from", err: ErrNoFrom},
		{name: "too-large", opts: Options{MaxSize: 2048}, err: ErrTooLarge},
		{name: "reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.name+".eml"))
			if err != nil {
				t.Fatal(err)
			}
			pm, err := Parse(raw, tc.opts)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse: error %v, want %v", err, tc.err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "\t")
			if err := enc.Encode(toGolden(pm, err)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			file := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s.eml) differs from %s:\ngot:\n%s\nwant:\n%s", tc.name, file, got, want)
			}
		})
	}
}

// TestParseFields checks, beside the golden files, the points each test message is for.
func TestParseFields(t *testing.T) {
	parse := func(t *testing.T, name string) bot.ParsedMail {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join("testdata", name+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		pm, err := Parse(raw, Options{})
		if err != nil {
			t.Fatalf("Parse(%s): %v", name, err)
		}
		return pm
	}
	t.Run("html-only", func(t *testing.T) {
		pm := parse(t, "html-only")
		if !strings.Contains(pm.Text, "we give notice of termination for *all services* under customer number 100234.") {
			t.Errorf("Text = %q, want the text of the HTML", pm.Text)
		}
		if strings.Contains(pm.Text, "<p>") || strings.Contains(pm.Text, "color") {
			t.Errorf("Text = %q holds markup or style", pm.Text)
		}
		if len(pm.Problems) != 0 {
			t.Errorf("Problems = %q, want none for a well-formed HTML-only mail", pm.Problems)
		}
	})
	t.Run("multipart-attachment", func(t *testing.T) {
		pm := parse(t, "multipart-attachment")
		if pm.Text != "Please find our termination letter attached.\n" {
			t.Errorf("Text = %q", pm.Text)
		}
		var names []string
		for _, a := range pm.Attachments {
			names = append(names, a.Name+" "+a.ContentType)
		}
		want := []string{"logo.png image/png", "Termination 4711.pdf application/pdf", "list.csv application/octet-stream"}
		if strings.Join(names, "|") != strings.Join(want, "|") {
			t.Errorf("attachments = %q, want %q", names, want)
		}
		if len(pm.Attachments) > 1 && !bytes.HasPrefix(pm.Attachments[1].Data, []byte("%PDF-1.4")) {
			t.Errorf("PDF attachment = %q", pm.Attachments[1].Data)
		}
	})
	t.Run("latin1", func(t *testing.T) {
		pm := parse(t, "latin1")
		if want := "Kündigung Vertrag 4711 – Gebühr 10 €"; pm.Subject != want {
			t.Errorf("Subject = %q, want %q", pm.Subject, want)
		}
		if pm.From.Name != "Jürgen Müller" || pm.From.Address != "j.mueller@kunde.example" {
			t.Errorf("From = %+v", pm.From)
		}
		if !strings.Contains(pm.Text, "hiermit kündigen wir") || !strings.Contains(pm.Text, "Grüßen") {
			t.Errorf("Text = %q", pm.Text)
		}
	})
	t.Run("iso-2022-jp", func(t *testing.T) {
		pm := parse(t, "iso-2022-jp")
		if pm.Subject != "解約のお知らせ" || pm.From.Name != "山田太郎" {
			t.Errorf("Subject = %q, From = %+v", pm.Subject, pm.From)
		}
		if !strings.Contains(pm.Text, "契約番号4711を解約いたします。") {
			t.Errorf("Text = %q", pm.Text)
		}
	})
	t.Run("no-colon", func(t *testing.T) {
		pm := parse(t, "no-colon")
		if pm.MessageID != "<broken-1@customer.example>" || pm.Subject == "" {
			t.Errorf("MessageID = %q, Subject = %q: the header after the broken line is lost", pm.MessageID, pm.Subject)
		}
		if len(pm.Problems) == 0 || !strings.Contains(pm.Problems[0], "X-Mailer Broken Mailer") {
			t.Errorf("Problems = %q, want the line without a colon", pm.Problems)
		}
	})
	t.Run("no-message-id", func(t *testing.T) {
		if pm := parse(t, "no-message-id"); pm.MessageID != "" {
			t.Errorf("MessageID = %q, want none", pm.MessageID)
		}
	})
	t.Run("reply", func(t *testing.T) {
		pm := parse(t, "reply")
		if strings.Join(pm.InReplyTo, " ") != "<casebot.00001234.2@provider.example>" {
			t.Errorf("InReplyTo = %q", pm.InReplyTo)
		}
		want := "<kuendigung-4711@customer.example> <casebot.00001234.1@provider.example> <casebot.00001234.2@provider.example>"
		if strings.Join(pm.References, " ") != want {
			t.Errorf("References = %q, want %q", pm.References, want)
		}
	})
}

func TestParseCaps(t *testing.T) {
	header := "From: a@customer.example\r\nTo: b@provider.example\r\nSubject: caps\r\n"
	attachment := func(i int, size int) string {
		return fmt.Sprintf("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"f%d.bin\"\r\n\r\n%s\r\n",
			i, strings.Repeat("x", size))
	}
	multipart := func(n, size int) []byte {
		s := header + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
		for i := range n {
			s += attachment(i, size)
		}
		return []byte(s + "--b--\r\n")
	}
	nested := func(depth int) []byte {
		var b strings.Builder
		b.WriteString(header)
		for i := range depth {
			b.WriteString("Content-Type: multipart/mixed; boundary=b" + strings.Repeat("x", i) + "\r\n\r\n--b" + strings.Repeat("x", i) + "\r\n")
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep\r\n")
		return []byte(b.String())
	}
	// enmime decodes encoded words in parameter names: "=?utf-8?b?Ym91bmRhcnk=?=" is "boundary".
	encodedBoundary := []byte(header + "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n" +
		"Content-Type: multipart/mixed; =?utf-8?b?Ym91bmRhcnk=?==b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n--a--\r\n")
	for _, tc := range []struct {
		name string
		raw  []byte
		opts Options
		err  error
	}{
		{"default size cap", append([]byte(header+"\r\n"), bytes.Repeat([]byte("x"), DefaultMaxSize)...), Options{}, ErrTooLarge},
		{"at the size cap", []byte(header + "\r\nbody"), Options{MaxSize: int64(len(header) + 6)}, nil},
		{"attachments at their cap", multipart(3, 10), Options{MaxAttachments: 3}, nil},
		{"too many attachments", multipart(4, 10), Options{MaxAttachments: 3}, ErrTooManyAttachments},
		{"attachments too large", multipart(3, 100), Options{MaxAttachmentBytes: 250}, ErrTooLarge},
		// enmime takes exponential time over unclosed nested multiparts: 16 take milliseconds.
		{"nested multiparts at their cap", nested(DefaultMaxMultiparts), Options{}, nil},
		{"nested multiparts over their cap", nested(DefaultMaxMultiparts + 1), Options{}, ErrTooManyParts},
		{"multiparts at a lower cap", nested(5), Options{MaxMultiparts: 5}, nil},
		{"boundary in an encoded word", encodedBoundary, Options{MaxMultiparts: 1}, ErrTooManyParts},
		{"parts at their cap", multipart(DefaultMaxParts-2, 1), Options{MaxAttachments: DefaultMaxParts}, nil},
		{"parts over their cap", multipart(DefaultMaxParts-1, 1), Options{MaxAttachments: DefaultMaxParts}, ErrTooManyParts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.raw, tc.opts)
			if !errors.Is(err, tc.err) {
				t.Errorf("Parse: error %v, want %v", err, tc.err)
			}
		})
	}
}

func TestPlausible(t *testing.T) {
	for a, want := range map[string]bool{
		"it@customer.example": true, "o'brien+x@kunde.example": true, "jürgen@kunde.example": true,
		"": false, "@x": false, "x@": false, "x": false, "a@b@c": false, ".a@b": false, "a.@b": false,
		"a..b@c": false, "a@b..c": false, "a b@c": false, `"a"@b`: false, "a@[192.0.2.1]": false,
		"a\x00@b": false, "a\uFFFD@b": false,
	} {
		if got := plausible(a); got != want {
			t.Errorf("plausible(%q) = %v, want %v", a, got, want)
		}
	}
}

func TestMessageIDs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"<a@b>", "<a@b>"},
		{"  <a@b> (comment) <c@d>", "<a@b> <c@d>"},
		{"<a@\r\n b>", "<a@b>"},
		{"a@b", "<a@b>"},
		{"a@b, c@d", "<a@b> <c@d>"},
		{"Your message of Tuesday", ""},
		{`"Your message of Tuesday" <a@b>`, "<a@b>"},
		{"<<a@b>>", "<a@b>"},
		{"<>", ""},
		{"<a@b", ""},
		{"<a\x00b@c>", "<ab@c>"},
		{"a@>b", ""},
	} {
		if got := strings.Join(messageIDs(tc.in), " "); got != tc.want {
			t.Errorf("messageIDs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseFrom(t *testing.T) {
	for _, tc := range []struct {
		from    string // the From header lines
		want    string // Name <Address>
		err     error
		problem bool
	}{
		{from: "From: it@customer.example", want: " <it@customer.example>"},
		{from: "From: =?utf-8?q?IT_=C3=BC?= <it@customer.example>", want: "IT ü <it@customer.example>"},
		{from: "From: Customer IT it@customer.example", want: " <it@customer.example>", problem: true},
		{from: `From: "Customer IT <it@customer.example>`, want: `Customer IT <it@customer.example>`, problem: true},
		{from: "From: a@customer.example, b@customer.example", want: " <a@customer.example>", problem: true},
		{from: "From: =?utf-8?q?ceo?=@customer.example", want: " <=?utf-8?q?ceo?=@customer.example>", problem: true},
		{from: "From: ceo@=?utf-8?q?customer.example?=", want: " <ceo@=?utf-8?q?customer.example?=>", problem: true},
		{from: "From: =?utf-8?q?ceo@customer.example?=", want: " <=?utf-8?q?ceo@customer.example?=>", problem: true},
		{from: "From: =?utf-8?q?x?=ceo@customer.example", want: " <=?utf-8?q?x?=ceo@customer.example>", problem: true},
		{from: "From: undisclosed", err: ErrNoFrom},
		{from: "From: ", err: ErrNoFrom},
		{from: "From: <>", err: ErrNoFrom},
		{from: "From: a@customer.example\r\nFrom: b@attacker.example", err: ErrAmbiguousFrom},
	} {
		t.Run(tc.from, func(t *testing.T) {
			pm, err := Parse([]byte(tc.from+"\r\nSubject: x\r\n\r\nbody\r\n"), Options{})
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse: error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got := pm.From.Name + " <" + pm.From.Address + ">"; got != tc.want {
				t.Errorf("From = %q, want %q", got, tc.want)
			}
			if (len(pm.Problems) > 0) != tc.problem {
				t.Errorf("Problems = %q, want some: %v", pm.Problems, tc.problem)
			}
		})
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	raw := []byte("From: \"M\xfcller\" <m@customer.example>\r\nSubject: K\xfcndigung\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nK\xfcndigung \xff\xfe\r\n")
	pm, err := Parse(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := validUTF8(pm); err != nil {
		t.Error(err)
	}
}

// TestParseDeclaredCharset: enmime's charset guess took this UTF-8 text for Windows-1252.
func TestParseDeclaredCharset(t *testing.T) {
	text := "Die Gebühr von 10 € entfällt. " + strings.Repeat("Vertrag 4711 ist gekündigt. ", 5)
	raw := "From: a@kunde.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text
	pm, err := Parse([]byte(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pm.Text != text {
		t.Errorf("Text = %q, want %q", pm.Text, text)
	}
}
