package dovecot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// binaries returns the paths of dovecot and doveadm, installing them when they are missing
// and the test runs as root.
func binaries(t testing.TB) (dovecot, doveadm string) {
	t.Helper()
	dovecot, doveadm = find("dovecot"), find("doveadm")
	if dovecot != "" && doveadm != "" {
		return dovecot, doveadm
	}
	if os.Geteuid() != 0 {
		unavailable(t, "dovecot is not installed (apt-get install dovecot-core dovecot-imapd, or make test as root)")
	}
	installOnce.Do(func() { installErr = install() })
	if installErr != nil {
		unavailable(t, "install dovecot: "+installErr.Error())
	}
	dovecot, doveadm = find("dovecot"), find("doveadm")
	if dovecot == "" || doveadm == "" {
		unavailable(t, "dovecot is still missing after installing it")
	}
	return dovecot, doveadm
}

var (
	installOnce sync.Once
	installErr  error
)

// find looks for a command in PATH and in /usr/sbin, where Debian puts dovecot and which is
// not in every user's PATH.
func find(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// install installs Dovecot with apt-get. A lock file keeps the test binaries of several
// packages, which go test runs at once, from running apt-get at the same time: the one that
// waited finds Dovecot installed.
func install() error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "casebot-dovecot-install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if find("dovecot") != "" && find("doveadm") != "" {
		return nil
	}
	apt := func(args ...string) error {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	pkgs := []string{"install", "-y", "-q", "--no-install-recommends", "dovecot-core", "dovecot-imapd"}
	if apt(pkgs...) == nil {
		return nil
	}
	// The package lists may be missing or stale.
	if err := apt("update", "-q"); err != nil {
		return err
	}
	return apt(pkgs...)
}
