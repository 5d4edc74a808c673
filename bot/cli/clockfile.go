package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// fileClock is run's clock under -clock: the time written in a file, which a test harness or
// a demo moves between cycles while the daemon runs (once's -at only fixes it). The file is
// read at every look (a few microseconds; file times are too coarse to tell two quick writes
// apart); a file being rewritten that does not parse leaves the time read last.
type fileClock struct {
	path string
	warn io.Writer // told once when the file stops giving a time, and again after it gave one

	mu      sync.Mutex
	t       time.Time
	failing bool
}

// newFileClock returns the clock of the time in path, which must hold one now.
func newFileClock(path string, warn io.Writer) (*fileClock, error) {
	c := &fileClock{path: path, warn: warn}
	if err := c.read(); err != nil {
		return nil, usageError{fmt.Errorf("-clock: %w", err)}
	}
	return c, nil
}

// Now returns the file's time.
func (c *fileClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.read()
	if err != nil && !c.failing {
		fmt.Fprintf(c.warn, "casebot: -clock: %v; the time stays %s\n", err, c.t.Format(time.RFC3339Nano))
	}
	c.failing = err != nil
	return c.t
}

// read reads the file's time into c.t. Under c.mu, or before c is shared.
func (c *fileClock) read() error {
	raw, err := os.ReadFile(c.path)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("%s: want a time in RFC 3339: %w", c.path, err)
	}
	c.t = t
	return nil
}
