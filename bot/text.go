package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable replaces control characters (but tabs) and invalid UTF-8 with U+FFFD: text from a
// case, a provider or a mail must not move a terminal's cursor, recolour it, or break a log
// line.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\t' && unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}

// Truncate cuts s to at most n bytes without splitting a character, and marks a cut with
// ellipsis (which the n bytes include).
func Truncate(s string, n int, ellipsis string) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
