package config

import _ "embed"

//go:embed example.yaml
var exampleYAML []byte

// Example returns the shipped example config (example.yaml), which runs against the sandbox
// with its seeded users and channels; the demo uses it. Relative paths in it are relative to
// baseDir.
func Example(baseDir string) (*Config, error) {
	return Parse("example.yaml", exampleYAML, baseDir)
}
