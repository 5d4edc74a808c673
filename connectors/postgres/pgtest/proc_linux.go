package pgtest

import (
	"os/exec"
	"syscall"
)

// bindToTest makes the kernel stop PostgreSQL when the test binary dies without cleaning up
// (a panic, a timeout), so that no server outlives its test. SIGQUIT is its immediate
// shutdown: the postmaster takes its backends with it.
func bindToTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
}
