// Package dovecot runs a private Dovecot IMAP server for tests: one per test, on free ports of
// 127.0.0.1, with one user, STARTTLS and implicit TLS under a certificate made at start, and
// doveadm to deliver mail, look into folders, renumber them and drop connections.
//
// Start installs Dovecot (Debian's dovecot-core and dovecot-imapd) when it is missing and the
// test runs as root; otherwise it skips the test, except in CI (CI set), where it fails it.
package dovecot

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The one user of every server.
const (
	user     = "bot"
	password = "dovecot-test-secret"
)

// mailUID is the user mail processes run as: Dovecot refuses uid 0, and nobody exists
// everywhere.
const mailUID = 65534

// Server is a running Dovecot.
type Server struct {
	dir     string // config, mail, state and log
	conf    string
	doveadm string
	addr    string // clear text, with STARTTLS offered
	tlsAddr string // TLS from the first byte
	roots   *x509.CertPool
}

// Start starts a Dovecot for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, adm := binaries(t)
	if os.Geteuid() != 0 {
		// Dovecot runs mail processes as the mail user, which needs root.
		unavailable(t, "dovecot needs root to run its mail processes as uid "+strconv.Itoa(mailUID))
	}

	s := &Server{dir: t.TempDir(), doveadm: adm}
	// Mail processes and doveadm, as uid 65534, must reach the mail below the test's own
	// temporary directory, which testing creates readable by its owner only.
	for _, d := range []string{filepath.Dir(s.dir), s.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Unix sockets live in base_dir, and their paths must stay below 108 bytes: a test's
	// temporary directory, named after the test, can be longer.
	run, err := os.MkdirTemp("", "dovecot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(run) })
	if err := os.Chmod(run, 0o755); err != nil { // Dovecot's login processes need to enter it
		t.Fatal(err)
	}
	for _, d := range []string{"state", "mail"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(s.dir, "mail"), mailUID, mailUID); err != nil {
		t.Fatal(err)
	}
	s.roots = writeCertificate(t, s.dir)
	if err := os.WriteFile(filepath.Join(s.dir, "users"), []byte(user+":{PLAIN}"+password+"::::::\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The ports are free when chosen but may be taken before Dovecot binds them: try again
	// with others.
	var last error
	for range 3 {
		if last = s.start(t, bin, run); last == nil {
			return s
		}
		if !errors.Is(last, errPortTaken) {
			break
		}
	}
	t.Fatalf("start dovecot: %v", last)
	return nil
}

var errPortTaken = errors.New("a port was taken")

// start writes the config with new ports, runs Dovecot in the foreground as a child of the
// test and returns when it accepts connections.
func (s *Server) start(t testing.TB, bin, run string) error {
	imapPort, imapsPort := freePort(t), freePort(t)
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(imapPort))
	s.tlsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(imapsPort))
	s.conf = filepath.Join(s.dir, "dovecot.conf")
	if err := os.WriteFile(s.conf, []byte(config(s.dir, run, imapPort, imapsPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(s.dir, "dovecot.log")
	_ = os.Remove(logPath)

	cmd := exec.Command(bin, "-F", "-c", s.conf)
	bindToTest(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	// Dovecot says nothing when it is ready: it is once it greets on its port.
	deadline := time.Now().Add(20 * time.Second)
	for !s.greets() {
		select {
		case <-exited:
			logged, _ := os.ReadFile(logPath)
			msg := strings.TrimSpace(out.String() + "\n" + string(logged))
			if strings.Contains(msg, "Address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, msg)
			}
			return fmt.Errorf("dovecot exited: %s", msg)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("dovecot did not accept connections on %s within 20s", s.addr)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			logged, _ := os.ReadFile(logPath)
			t.Logf("dovecot log:\n%s", logged)
		}
	})
	return nil
}

// greets reports whether Dovecot answers on s.addr, and not another server that took the
// port first.
func (s *Server) greets() bool {
	conn, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "* OK") && strings.Contains(line, "Dovecot")
}

// config is a minimal Dovecot 2.3 configuration: IMAP on 127.0.0.1 only, with plain-text
// login allowed for clients that do without TLS on loopback, maildir, passwd-file users.
func config(dir, run string, imapPort, imapsPort int) string {
	return fmt.Sprintf(`protocols = imap
listen = 127.0.0.1
base_dir = %[2]s
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:%[1]s/mail/%%u/Maildir
mail_fsync = never
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=%[5]d gid=%[5]d home=%[1]s/mail/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[3]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[4]d
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
`, dir, run, imapPort, imapsPort, mailUID)
}

// freePort returns a port of 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeCertificate writes a self-signed certificate for 127.0.0.1 and localhost, and its key,
// to dir/cert.pem and dir/key.pem, and returns a pool that trusts it.
func writeCertificate(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	template := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"casebot tests"}, CommonName: "dovecot"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    start,
		NotAfter:     start.Add(24 * time.Hour),
		// Its own issuer: a CA that signs only itself.
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, &template, &template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := errors.Join(os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600),
		os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

// Addr is the host:port of IMAP in clear text, with STARTTLS offered.
func (s *Server) Addr() string { return s.addr }

// TLSAddr is the host:port of IMAP over TLS from the first byte (IMAPS).
func (s *Server) TLSAddr() string { return s.tlsAddr }

// RootCAs trusts the server's certificate, which names 127.0.0.1 and localhost.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// User is the name of the server's one user.
func (s *Server) User() string { return user }

// Password is the user's password.
func (s *Server) Password() string { return password }

// Deliver stores raw in the user's mailbox, creating the mailbox when missing, as a local
// delivery would: no SMTP involved.
func (s *Server) Deliver(t testing.TB, mailbox string, raw []byte) {
	t.Helper()
	if _, err := s.run(raw, "save", "-u", user, "-m", mailbox); err == nil {
		return
	}
	s.CreateMailbox(t, mailbox)
	if _, err := s.run(raw, "save", "-u", user, "-m", mailbox); err != nil {
		t.Fatalf("deliver to %s: %v", mailbox, err)
	}
}

// CreateMailbox creates a mailbox of the user; one that exists is left as it is.
func (s *Server) CreateMailbox(t testing.TB, mailbox string) {
	t.Helper()
	if _, err := s.run(nil, "mailbox", "create", "-u", user, mailbox); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("create mailbox %s: %v", mailbox, err)
	}
}

// Message is a message in a mailbox, as doveadm sees it.
type Message struct {
	UID       uint32
	Flags     []string // `\Seen`, `\Deleted`, …
	MessageID string   // the Message-ID header, "<…>"
}

// Seen reports whether the message has the \Seen flag.
func (m Message) Seen() bool { return m.has(`\Seen`) }

func (m Message) has(flag string) bool {
	for _, f := range m.Flags {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

// Messages lists the messages of a mailbox, by UID; none when the mailbox does not exist.
func (s *Server) Messages(t testing.TB, mailbox string) []Message {
	t.Helper()
	out, err := s.run(nil, "-f", "tab", "fetch", "-u", user, "uid flags hdr.message-id", "mailbox", mailbox, "all")
	if err != nil {
		if strings.Contains(err.Error(), "Mailbox doesn't exist") {
			return nil
		}
		t.Fatalf("list %s: %v", mailbox, err)
	}
	var msgs []Message
	sc := bufio.NewScanner(bytes.NewReader(out))
	for first := true; sc.Scan(); first = false {
		fields := strings.Split(sc.Text(), "\t")
		if first || len(fields) < 3 {
			continue // the header line names the fields
		}
		uid, err := strconv.ParseUint(fields[0], 10, 32)
		if err != nil {
			t.Fatalf("list %s: uid in %q: %v", mailbox, sc.Text(), err)
		}
		msgs = append(msgs, Message{UID: uint32(uid), Flags: strings.Fields(fields[1]), MessageID: strings.TrimSpace(fields[2])})
	}
	return msgs
}

// UIDValidity returns the UIDVALIDITY of a mailbox.
func (s *Server) UIDValidity(t testing.TB, mailbox string) uint32 {
	t.Helper()
	out, err := s.run(nil, "-f", "tab", "mailbox", "status", "-u", user, "uidvalidity", mailbox)
	if err != nil {
		t.Fatalf("status of %s: %v", mailbox, err)
	}
	lines := strings.Fields(string(out))
	v, err := strconv.ParseUint(lines[len(lines)-1], 10, 32)
	if err != nil {
		t.Fatalf("status of %s: %q: %v", mailbox, out, err)
	}
	return uint32(v)
}

// Renumber gives a mailbox a new UIDVALIDITY, as a server does when it rebuilds its index,
// and returns it. The messages keep their UIDs, which under the new UIDVALIDITY mean nothing
// a client remembered.
func (s *Server) Renumber(t testing.TB, mailbox string) uint32 {
	t.Helper()
	v := s.UIDValidity(t, mailbox) + 1
	if _, err := s.run(nil, "mailbox", "update", "-u", user, "--uid-validity", strconv.FormatUint(uint64(v), 10), mailbox); err != nil {
		t.Fatalf("renumber %s: %v", mailbox, err)
	}
	return v
}

// Kick drops every IMAP connection of the user, as a server restart would. It fails the test
// when the user has none: a test of reconnecting would prove nothing.
func (s *Server) Kick(t testing.TB) {
	t.Helper()
	if _, err := s.run(nil, "kick", user); err != nil {
		t.Fatalf("kick %s: %v", user, err)
	}
}

// Doveadm runs doveadm with the server's config and returns what it printed.
func (s *Server) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.run(nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (s *Server) run(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(s.doveadm, append([]string{"-c", s.conf}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("doveadm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// unavailable ends a test that cannot have its Dovecot: skipped, except in CI, where a test
// that needs a real server must not pass without one.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}
