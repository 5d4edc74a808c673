package memledger_test

import (
	"testing"

	"casebot/bot"
	"casebot/bot/bottest"
	"casebot/bot/memledger"
)

// The ledger the tests run the engine with keeps the contract the real ones keep.
func TestStore(t *testing.T) {
	bottest.TestStore(t, func(t *testing.T) bot.Store { return &memledger.Store{} })
}
