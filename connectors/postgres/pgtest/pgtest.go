// Package pgtest runs a private PostgreSQL for tests: a cluster initdb makes in a temporary
// directory, reached only through a Unix socket in that directory (no TCP port to collide with
// another test's), and stopped when the test ends. Each call of DSN is a new, empty database
// in it.
//
// PostgreSQL refuses to run as root: a test running as root runs it as the postgres user
// (Debian's package creates it), or nobody. Without PostgreSQL installed (make postgres
// installs it) Start skips the test, except in CI (CI set), where it fails it.
package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// superuser is the role initdb creates; trust authentication lets any local user in as it.
const superuser = "casebot"

// port only names the socket file (.s.PGSQL.5432): nothing listens on TCP.
const port = 5432

// Server is a running PostgreSQL.
type Server struct {
	dir string // data directory below it, and the socket
	n   atomic.Int64
}

// Start starts a PostgreSQL for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binaries(t)
	uid, gid := runAs(t)

	// Not t.TempDir(): the socket's path must stay below 108 bytes, and a test's temporary
	// directory, named after the test, can be longer.
	dir, err := os.MkdirTemp("", "casebot-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	// The server's user owns the directory; the test's user (root) enters it to reach the socket.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{dir: dir}
	data := filepath.Join(dir, "data")

	// No fsync: a test's cluster is thrown away, and syncing would make every commit wait on
	// the disk.
	initdb := command(uid, gid, filepath.Join(bin, "initdb"), "-D", data, "-U", superuser, "--auth=trust",
		"--no-sync", "--encoding=UTF8", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg := command(uid, gid, filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	bindToTest(pg)
	stderr, err := pg.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		// The log says when the server accepts connections; it is kept for a failing test.
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "database system is ready to accept connections") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // the pipe must be drained until postgres exits
		_ = pg.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("postgres exited before accepting connections:\n%s", log.String())
	case <-time.After(30 * time.Second):
		_ = pg.Process.Kill()
		<-exited
		t.Fatalf("postgres did not accept connections within 30s:\n%s", log.String())
	}
	t.Cleanup(func() {
		// SIGINT is PostgreSQL's fast shutdown: it ends the sessions instead of waiting for them.
		_ = pg.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = pg.Process.Kill()
			<-exited
		}
	})
	return s
}

// DSN creates a new, empty database and returns the connection string to it.
func (s *Server) DSN(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("db%d", s.n.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		t.Fatalf("connect to the test's postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return s.dsn(name)
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.dir, port, superuser, db)
}

// binaries returns the directory holding initdb and postgres: the one of initdb in PATH, or
// Debian's /usr/lib/postgresql/<version>/bin of the newest version installed.
func binaries(t testing.TB) string {
	t.Helper()
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int { return version(b) - version(a) })
	for _, d := range append(dirs, versions...) {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			return d
		}
	}
	unavailable(t, "PostgreSQL is not installed (make postgres, or apt-get install postgresql)")
	return ""
}

// version is the major version in /usr/lib/postgresql/<version>/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func executable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// runAs returns the user and group to run PostgreSQL as: -1 when the test is not root and runs
// it as itself.
func runAs(t testing.TB) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		return -1, -1
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return uid, gid
		}
	}
	unavailable(t, "running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")
	return -1, -1
}

// command runs name as uid and gid, unless uid is -1.
func command(uid, gid int, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	// initdb and postgres read the locale from the environment; C is on every system.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	return cmd
}

// unavailable skips the test, or fails it in CI, where PostgreSQL must be there.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}
