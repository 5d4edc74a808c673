package bot

import "testing"

func TestEscapeMrkdwn(t *testing.T) {
	for in, want := range map[string]string{
		"<!channel>":      "&lt;!channel&gt;",
		"<!here>":         "&lt;!here&gt;",
		"<@U123>":         "&lt;@U123&gt;",
		"<#C1>":           "&lt;#C1&gt;",
		"<http://x|y>":    "&lt;http://x|y&gt;",
		"Smith & Sons":    "Smith &amp; Sons",
		"&lt; already":    "&amp;lt; already", // shown as typed, not decoded
		"*bold* _it_ `c`": "*bold* _it_ `c`",  // formatting is left alone: it cannot mention or link
		"naïve — 💥 \"q\"": "naïve — 💥 \"q\"",
	} {
		if got := EscapeMrkdwn(in); got != want {
			t.Errorf("EscapeMrkdwn(%q) = %q, want %q", in, got, want)
		}
	}
}
