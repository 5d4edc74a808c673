package salesforce_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"casebot/bot"
)

// TestCaseMails: CaseMails reads, in one query for several cases, the Message-ID of the first
// mail each case received, under the case ids as asked (15 or 18 characters): later mails
// received and the mails casebot sent do not count, and a case that received none is absent.
func TestCaseMails(t *testing.T) {
	o := startSandbox(t, nil)
	ids := o.create(t, "Case", bot.Fields{"Subject": "A"}, bot.Fields{"Subject": "B"}, bot.Fields{"Subject": "C"})
	a, b, c := ids[0], ids[1], ids[2]
	mail := func(caseID, messageID string, incoming bool) {
		o.create(t, "EmailMessage", bot.Fields{"ParentId": caseID, "Subject": "Termination of service",
			"Incoming": incoming, "Status": "0", "MessageIdentifier": messageID})
	}
	o.clock.Set(sbNow.Add(time.Hour))
	mail(b, "<sent.b@casebot.example>", false) // sent before b received anything
	mail(a, "<request.a@customer.example>", true)
	mail(c, "<sent.c@casebot.example>", false)
	o.clock.Set(sbNow.Add(2 * time.Hour))
	mail(a, "<reply.a@customer.example>", true)
	mail(b, "<request.b@partner.example>", true)

	o.reset()
	got, err := o.crm.CaseMails(t.Context(), []string{c, b[:15], a})
	if err != nil {
		t.Fatalf("CaseMails: %v", err)
	}
	want := map[string]string{a: "<request.a@customer.example>", b[:15]: "<request.b@partner.example>"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CaseMails = %v, want %v", got, want)
	}
	if _, n := o.counts(); n != 1 {
		t.Errorf("%d calls, want 1: one query for the mails of every case", n)
	}

	var be *bot.Error
	if _, err := o.crm.CaseMails(t.Context(), []string{"500'"}); !errors.As(err, &be) || be.Code != "INVALID_INPUT" {
		t.Errorf("CaseMails of a bad id: %v, want INVALID_INPUT", err)
	}
}
