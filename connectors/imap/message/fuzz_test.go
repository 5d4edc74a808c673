package message

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"casebot/bot"
)

// addEML adds the test messages to the seed corpus of f.
func addEML(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata/*.eml: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
}

func FuzzParse(f *testing.F) {
	addEML(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		pm, err := parse(raw, Options{}) // without the recover, so that a panic fails
		if err != nil {
			if !utf8.ValidString(err.Error()) {
				t.Errorf("error %q is not valid UTF-8", err)
			}
			return
		}
		if err := validUTF8(pm); err != nil {
			t.Fatal(err)
		}
		if again, err := parse(raw, Options{}); err != nil || !reflect.DeepEqual(pm, again) {
			t.Fatalf("parsing again gave %+v, %v; first %+v", again, err, pm)
		}
		// What Parse read must come out the same from a message that says it plainly.
		out := render(pm)
		pm2, err := parse(out, Options{})
		if err != nil {
			t.Fatalf("Parse of the rendered message: %v\n%s", err, out)
		}
		if d := diff(pm, pm2); d != "" {
			t.Fatalf("Parse of the rendered message differs: %s\n%s", d, out)
		}
	})
}

// fuzzKey signs the seeds of FuzzAuthenticate; its public key answers every DNS query.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func FuzzAuthenticate(f *testing.F) {
	addEML(f)
	s := signer{"customer.example", "s1", fuzzKey}
	f.Add([]byte(s.sign(f, unsigned)))
	f.Add([]byte("Authentication-Results: mx.provider.example; dkim=pass (2048-bit key; unprotected) header.d=customer.example; dmarc=pass (p=reject) header.from=customer.example\r\n" +
		s.sign(f, s.sign(f, unsigned))))
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=customer.example; s=s1; h=from; bh=; b=\r\n" + unsigned))
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(fuzzKey.Public().(ed25519.PublicKey))
	lookup := func(context.Context, string) ([]string, error) { return []string{record}, nil }
	f.Fuzz(func(t *testing.T, raw []byte) {
		auth := authenticate(t.Context(), raw, AuthOptions{TrustedAuthServID: "mx.provider.example", LookupTXT: lookup})
		for _, s := range slices.Concat(auth.DKIM, auth.Errors, []string{auth.DMARC, auth.DMARCDomain}) {
			if !utf8.ValidString(s) {
				t.Errorf("%q is not valid UTF-8", s)
			}
		}
		for _, d := range auth.DKIM {
			if d != strings.ToLower(d) {
				t.Errorf("DKIM domain %q is not lower-case", d)
			}
		}
	})
}

// validUTF8 returns an error naming the first text of pm that is not valid UTF-8.
func validUTF8(pm bot.ParsedMail) error {
	texts := map[string]string{
		"MessageID": pm.MessageID, "From.Name": pm.From.Name, "From.Address": pm.From.Address,
		"Subject": pm.Subject, "Text": pm.Text,
	}
	add := func(field string, ss []string) {
		for i, s := range ss {
			texts[fmt.Sprintf("%s[%d]", field, i)] = s
		}
	}
	add("InReplyTo", pm.InReplyTo)
	add("References", pm.References)
	add("Problems", pm.Problems)
	for field, as := range map[string][]bot.Address{"ReplyTo": pm.ReplyTo, "To": pm.To, "Cc": pm.Cc} {
		for i, a := range as {
			add(fmt.Sprintf("%s[%d]", field, i), []string{a.Name, a.Address})
		}
	}
	for i, a := range pm.Attachments {
		add(fmt.Sprintf("Attachments[%d]", i), []string{a.Name, a.ContentType})
	}
	for field, s := range texts {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s = %q is not valid UTF-8", field, s)
		}
	}
	return nil
}

// render writes pm as a plain MIME message: the text as UTF-8, each attachment in base64.
func render(pm bot.ParsedMail) []byte {
	var b bytes.Buffer
	addresses := func(field string, as ...bot.Address) {
		if len(as) == 0 {
			return
		}
		var s []string
		for _, a := range as {
			s = append(s, (&mail.Address{Name: a.Name, Address: a.Address}).String())
		}
		fmt.Fprintf(&b, "%s: %s\r\n", field, strings.Join(s, ", "))
	}
	addresses("From", pm.From)
	addresses("Reply-To", pm.ReplyTo...)
	addresses("To", pm.To...)
	addresses("Cc", pm.Cc...)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("utf-8", pm.Subject))
	if pm.MessageID != "" {
		fmt.Fprintf(&b, "Message-ID: %s\r\n", pm.MessageID)
	}
	if len(pm.InReplyTo) > 0 {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", strings.Join(pm.InReplyTo, " "))
	}
	if len(pm.References) > 0 {
		fmt.Fprintf(&b, "References: %s\r\n", strings.Join(pm.References, "\r\n "))
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_render_=\"\r\n\r\n")
	part := func(header string, data []byte) {
		fmt.Fprintf(&b, "--=_render_=\r\n%sContent-Transfer-Encoding: base64\r\n\r\n", header)
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	part("Content-Type: text/plain; charset=utf-8\r\n", []byte(pm.Text))
	for _, a := range pm.Attachments {
		part(fmt.Sprintf("Content-Type: %s\r\nContent-Disposition: %s\r\n",
			mime.FormatMediaType(a.ContentType, nil),
			mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})), a.Data)
	}
	b.WriteString("--=_render_=--\r\n")
	return b.Bytes()
}

// diff says where two parsed mails differ in what render writes.
func diff(a, b bot.ParsedMail) string {
	type fields struct {
		MessageID             string
		InReplyTo, References []string
		From                  bot.Address
		ReplyTo, To, Cc       []bot.Address
		Subject, Text         string
		Attachments           []bot.Attachment
	}
	// enmime decodes a name's encoded words twice: one that still looks encoded after the
	// first parse is not read back as it was written.
	names := func(x, y []bot.Address) []bot.Address {
		y = slices.Clone(y)
		for i := range min(len(x), len(y)) {
			if strings.Contains(x[i].Name, "=?") {
				y[i].Name = x[i].Name
			}
		}
		return y
	}
	b.From = names([]bot.Address{a.From}, []bot.Address{b.From})[0]
	// A part that could not be decoded has nil data, and is written back empty.
	data := func(as []bot.Attachment) []bot.Attachment {
		as = slices.Clone(as)
		for i := range as {
			if as[i].Data == nil {
				as[i].Data = []byte{}
			}
		}
		return as
	}
	a.Attachments, b.Attachments = data(a.Attachments), data(b.Attachments)
	b.ReplyTo, b.To, b.Cc = names(a.ReplyTo, b.ReplyTo), names(a.To, b.To), names(a.Cc, b.Cc)
	fa := fields{a.MessageID, a.InReplyTo, a.References, a.From, a.ReplyTo, a.To, a.Cc, a.Subject, a.Text, a.Attachments}
	fb := fields{b.MessageID, b.InReplyTo, b.References, b.From, b.ReplyTo, b.To, b.Cc, b.Subject, b.Text, b.Attachments}
	va, vb := reflect.ValueOf(fa), reflect.ValueOf(fb)
	var d []string
	for i := range va.NumField() {
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		if !reflect.DeepEqual(x, y) {
			d = append(d, fmt.Sprintf("%s: %#v, then %#v", va.Type().Field(i).Name, x, y))
		}
	}
	return strings.Join(d, "; ")
}
