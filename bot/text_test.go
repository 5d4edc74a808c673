package bot

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                "plain text",
		"tab\tkept":                 "tab\tkept",
		"new\nline":                 "new\uFFFDline",
		"\x1b[31mred":               "\uFFFD[31mred",
		"bell\x07 del\x7f c1\u0085": "bell\uFFFD del\uFFFD c1\uFFFD",
		"bad \xff utf8":             "bad \uFFFD utf8",
		"Tijuca Logística":          "Tijuca Logística",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s        string
		n        int
		ellipsis string
		want     string
	}{
		{"short", 10, "…", "short"},
		{"exactly10!", 10, "…", "exactly10!"},
		{"abcdefghijkl", 10, "", "abcdefghij"},
		{"abcdefghijkl", 10, "…", "abcdefg…"}, // "…" is 3 bytes
		{"ééééé", 5, "", "éé"},                // never half a character
		{"ééééé", 4, "", "éé"},
		{"abc", 0, "", ""},
	} {
		got := Truncate(tc.s, tc.n, tc.ellipsis)
		if got != tc.want || len(got) > max(tc.n, len(tc.s)) && len(tc.s) > tc.n {
			t.Errorf("Truncate(%q, %d, %q) = %q, want %q", tc.s, tc.n, tc.ellipsis, got, tc.want)
		}
	}
}
