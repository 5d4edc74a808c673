// Package playbooks holds the playbooks casebot ships, one per source procedure.
package playbooks

import "embed"

// FS holds the shipped playbooks at its root, for rules.Load.
//
//go:embed *.yaml
var FS embed.FS
