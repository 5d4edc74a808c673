//go:build !linux

package pgtest

import "os/exec"

// bindToTest does nothing where the kernel cannot signal a child when its parent dies.
func bindToTest(*exec.Cmd) {}
