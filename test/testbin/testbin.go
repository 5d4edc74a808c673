// Package testbin builds the casebot binary once for a package of end-to-end tests.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main builds casebot into a temporary directory, sets *path to it, runs the tests and exits
// with their code. prebuilt, when not empty, is a binary to test instead (another build).
func Main(m *testing.M, path *string, prebuilt string) {
	if prebuilt != "" {
		*path = prebuilt
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "casebot-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*path = filepath.Join(dir, "casebot")
	build := exec.Command("go", "build", "-o", *path, "casebot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building casebot:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
