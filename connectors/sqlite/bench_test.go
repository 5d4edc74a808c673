package sqlite

import (
	"path/filepath"
	"testing"

	"casebot/bot"
	"casebot/bot/bottest"
)

// BenchmarkRecord records a busy cycle's ledger writes on a file (bottest.BenchRecord).
func BenchmarkRecord(b *testing.B) {
	bottest.BenchRecord(b, func(b *testing.B) bot.Store { return open(b, filepath.Join(b.TempDir(), "casebot.db")) })
}

// BenchmarkEntries reads the ledger of a busy cycle's cases (bottest.BenchEntries).
func BenchmarkEntries(b *testing.B) {
	bottest.BenchEntries(b, func(b *testing.B) bot.Store { return open(b, filepath.Join(b.TempDir(), "casebot.db")) })
}
