// Package playbooks holds the playbooks casebot ships, one per source procedure.
package playbooks

import "embed"

// FS holds the shipped playbooks at its root, for rules.Load, with the files they send and
// attach (files/), their tests (*.test.yaml) and the tests' golden files (testdata/), for
// casebot test.
//
//go:embed *.yaml testdata files
var FS embed.FS
