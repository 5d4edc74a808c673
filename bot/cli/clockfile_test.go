package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The file's time is read at every look: a rewrite moves the clock at once, however soon after
// the last, and a file that does not parse (half written) leaves the time read last.
func TestFileClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var warned strings.Builder
	if _, err := newFileClock(path, &warned); err == nil {
		t.Error("a clock without its file was made")
	}
	write("yesterday")
	if _, err := newFileClock(path, &warned); err == nil {
		t.Error("a clock of a file without a time was made")
	}
	write("2026-11-02T13:00:00Z\n")
	c, err := newFileClock(path, &warned)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		file string
		want time.Time
	}{
		{"2026-11-02T13:00:00Z\n", time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)},
		{"2026-11-02T14:00:00Z\n", time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)}, // same size, at once
		{"2026-11-0", time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)},
		{"2026-11-03T09:30:00.5+01:00", time.Date(2026, 11, 3, 8, 30, 0, 5e8, time.UTC)},
	} {
		write(step.file)
		if got := c.Now(); !got.Equal(step.want) {
			t.Errorf("file %q: %v, want %v", step.file, got, step.want)
		}
		c.Now() // a file that stays unreadable is told once
	}
	if n := strings.Count(warned.String(), "-clock:"); n != 1 {
		t.Errorf("the unreadable file was told %d times, want once:\n%s", n, warned.String())
	}
}
