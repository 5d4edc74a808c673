package bot

import "testing"

func TestIsRecordID(t *testing.T) {
	for _, tc := range []struct {
		s, prefix string
		want      bool
	}{
		{"001A0000006Vm9r", "", true},
		{"001A0000006Vm9rIAC", "", true},
		{"001A0000006Vm9rIAC", "001", true},
		{"001A0000006Vm9rIAC", "005", false},
		{"005000000000001AAA", "005", true},
		{"00G000000000001", "00G", true},
		{"001A0000006Vm9rIA", "", false},   // 17
		{"001A0000006Vm9", "", false},      // 14
		{"001A0000006Vm9r'OR", "", false},  // injection
		{"001A0000006Vm9rIA\n", "", false}, // control character
		{"001A0000006Vm9rIAÇ", "", false},  // not ASCII
		{"", "", false},
	} {
		if got := IsRecordID(tc.s, tc.prefix); got != tc.want {
			t.Errorf("IsRecordID(%q, %q) = %v, want %v", tc.s, tc.prefix, got, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"10.0.0.1": false, "example.com": false, "localhost.example.com": false, "": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
