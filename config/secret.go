package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.yaml.in/yaml/v3"
)

// Secret is a password, token or client secret. Every way of printing or encoding it shows
// "<secret>" (or "" when it is unset), so a config can be logged or dumped safely; Value is
// the only way to the text.
type Secret string

const redacted = "<secret>"

// Value returns the secret's text, for the one place that sends it to its provider.
func (s Secret) Value() string { return string(s) }

// shown is what every printer gets: whether a secret is set is useful to see, its text is not.
func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

func (s Secret) String() string   { return s.shown() }
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.shown()) }

// Format applies the verb to the redacted text, so that %x, %q or %10s cannot reveal the
// secret either (fmt consults Formatter before String and GoString).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s.shown())
}

func (s Secret) MarshalYAML() (any, error)    { return s.shown(), nil }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.shown()) }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(s.shown()) }

// Duration is a time.Duration written as "30s" or "2m" in YAML.
type Duration time.Duration

// UnmarshalYAML reports a bad value as a *yaml.TypeError so that decoding goes on and the
// other errors of the file are reported with it.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as 30s or 2m", n.Line)}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration %q: want a number with a unit, such as 30s or 2m", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
func (d Duration) String() string            { return time.Duration(d).String() }
