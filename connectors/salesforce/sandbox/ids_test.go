package sandbox

import (
	"regexp"
	"testing"
)

func TestIDChecksum(t *testing.T) {
	tests := []struct{ id15, want string }{
		{"001A0000006Vm9r", "001A0000006Vm9rIAC"}, // Salesforce's own example
		{"00D000000000062", "00D000000000062EAA"}, // an org id from Salesforce's documentation
		{"000000000000000", "000000000000000AAA"},
		{"AAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAA555"}, // every bit set: index 31
		{"aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaAAA"},
		{"A0000B0000C0000", "A0000B0000C0000BBB"},
		{"0000Z0000Z0000Z", "0000Z0000Z0000ZQQQ"}, // bit 4: index 16
	}
	for _, tt := range tests {
		if got := tt.id15 + idChecksum(tt.id15); got != tt.want {
			t.Errorf("checksum of %s: got %s, want %s", tt.id15, got, tt.want)
		}
		if got, ok := normalizeID(tt.id15); !ok || got != tt.want {
			t.Errorf("normalizeID(%s) = %s, %v; want %s", tt.id15, got, ok, tt.want)
		}
	}
}

func TestNormalizeID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"001A0000006Vm9rIAC", "001A0000006Vm9rIAC", true},
		{"001A0000006Vm9r", "001A0000006Vm9rIAC", true},
		{"001a0000006vm9riac", "001A0000006Vm9rIAC", true}, // the suffix restores the case
		{"001A0000006VM9RIAC", "001A0000006Vm9rIAC", true},
		{"001A0000006Vm9rIA9", "", false}, // 9 is not a checksum character
		{"0010000000000001AB", "", false}, // suffix claims uppercase where there are digits
		{"001A0000006Vm9", "", false},
		{"001A0000006Vm9r-AC", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMakeID(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9]{18}$`)
	seen := map[string]bool{}
	for _, n := range []uint64{1, 61, 62, 3843, 1 << 40} {
		id := makeID("500", n)
		if !valid.MatchString(id) || id[:3] != "500" || id[3:5] != pod {
			t.Errorf("makeID(500, %d) = %s", n, id)
		}
		if norm, ok := normalizeID(id); !ok || norm != id {
			t.Errorf("makeID(500, %d) = %s does not check out: %s %v", n, id, norm, ok)
		}
		if got := idCounter(id); got != n {
			t.Errorf("idCounter(%s) = %d, want %d", id, got, n)
		}
		if seen[id] {
			t.Errorf("makeID(500, %d) = %s repeats", n, id)
		}
		seen[id] = true
	}
}

func TestKeyPrefixes(t *testing.T) {
	o := seededOrg(t)
	want := map[string]string{"Account": "001", "Contact": "003", "Case": "500", "Task": "00T",
		"User": "005", "Group": "00G", "EmailMessage": "02s", "CaseComment": "00a", "ContentVersion": "068"}
	var anyCase string
	for _, rec := range o.query("SELECT Id FROM Case").Records {
		anyCase = rec["Id"].(string)
	}
	fields := map[string]map[string]any{
		"Account":        {"Name": "Prefix Inc"},
		"Contact":        {"LastName": "Prefix"},
		"Case":           {"Subject": "prefix"},
		"Task":           {"Subject": "prefix"},
		"User":           {"Username": "prefix@example.test", "Email": "prefix@example.test", "LastName": "Prefix"},
		"Group":          {"Name": "Prefix"},
		"EmailMessage":   {"ParentId": anyCase, "Status": "3", "Subject": "prefix"},
		"CaseComment":    {"ParentId": anyCase, "CommentBody": "prefix"},
		"ContentVersion": {"Title": "prefix", "PathOnClient": "prefix.txt", "VersionData": "aGVsbG8=", "FirstPublishLocationId": anyCase},
	}
	for object, prefix := range want {
		id := o.create(object, fields[object])
		if id[:3] != prefix {
			t.Errorf("%s id %s, want prefix %s", object, id, prefix)
		}
		if norm, ok := normalizeID(id); !ok || norm != id {
			t.Errorf("%s id %s has a bad checksum", object, id)
		}
	}
}
