package dovecot

import (
	"os/exec"
	"syscall"
)

// bindToTest makes the kernel stop Dovecot when the test binary dies without cleaning up
// (a panic, a timeout), so that no server outlives its test.
func bindToTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
