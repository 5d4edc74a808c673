package postgres

import (
	"testing"

	"casebot/bot"
	"casebot/bot/bottest"
	"casebot/connectors/postgres/pgtest"
)

// BenchmarkRecord records a busy cycle's ledger writes (bottest.BenchRecord) in the test's
// PostgreSQL, which runs without fsync: the numbers are the store's and the server's work,
// not the disk's.
func BenchmarkRecord(b *testing.B) {
	pg := pgtest.Start(b)
	bottest.BenchRecord(b, func(b *testing.B) bot.Store { return open(b, pg.DSN(b)) })
}

// BenchmarkEntries reads the ledger of a busy cycle's cases (bottest.BenchEntries).
func BenchmarkEntries(b *testing.B) {
	pg := pgtest.Start(b)
	bottest.BenchEntries(b, func(b *testing.B) bot.Store { return open(b, pg.DSN(b)) })
}
