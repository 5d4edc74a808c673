package bot

import (
	"context"
	"errors"
	"time"
)

// Lease is the right to act among replicas that share a ledger: exactly one holds it.
type Lease interface {
	// Acquire takes the lease when it is free or expired, or renews it when held; it says
	// whether this replica holds it now.
	Acquire(ctx context.Context) (bool, error)
	// Held says whether the lease is held and not yet due to expire by this process's clock:
	// false once a pause outlasted it, before any renewal is tried.
	Held() bool
	// Until is when the lease expires by this process's clock unless renewed; zero for a
	// lease that never expires.
	Until() time.Time
	// Release gives the lease up if held, so that another replica takes over at once rather
	// than when it expires. This replica writes nothing more after it.
	Release(ctx context.Context) error
}

// LeasedStore is a Store several replicas share. Once its lease was acquired, every write of
// a replica that no longer holds it is refused by the database, with an error wrapping
// ErrLeaseLost: a paused old holder cannot write after a new one took over.
type LeasedStore interface {
	Store
	// Lease returns the store's lease, which expires ttl after it was last renewed.
	Lease(ttl time.Duration) Lease
}

// ErrLeaseLost is the error of a ledger write made without the lease.
var ErrLeaseLost = errors.New("the lease is lost: another replica acts")

// SoleLease is the lease of a ledger only one process opens (SQLite's, which locks its file):
// always held.
type SoleLease struct{}

func (SoleLease) Acquire(context.Context) (bool, error) { return true, nil }
func (SoleLease) Held() bool                            { return true }
func (SoleLease) Until() time.Time                      { return time.Time{} }
func (SoleLease) Release(context.Context) error         { return nil }
