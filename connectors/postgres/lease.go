package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"casebot/bot"
)

// leaseName names the one lease of a ledger: replicas of one deployment compete for it.
const leaseName = "casebot"

// fenceLost is the SQLSTATE casebot_fence raises (migrations/0002_lease.sql).
const fenceLost = "CBL01"

// fence is who writes and at which epoch: the token casebot_fence checks in every write.
type fence struct {
	holder string
	epoch  int64
}

// Lease is a Store's lease: a row of the lease table, taken when expired with the next
// epoch. It implements bot.Lease.
type Lease struct {
	s      *Store
	ttl    time.Duration
	holder string

	mu    sync.Mutex
	epoch int64     // the epoch held, 0 before the first acquisition
	until time.Time // when the lease expires by this process's (monotonic) clock
}

var _ bot.LeasedStore = (*Store)(nil)

// Lease returns the store's lease under a holder name of its own (host, process, random: two
// replicas never share one). From its first acquisition on, the store's writes are fenced.
func (s *Store) Lease(ttl time.Duration) bot.Lease {
	host, _ := os.Hostname()
	var r [4]byte
	_, _ = rand.Read(r[:])
	return &Lease{s: s, ttl: ttl, holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))}
}

// acquire takes the lease if expired (with the next epoch) or renews it if this holder still
// holds it at its epoch (keeping the epoch); it returns no row when another holds it. It
// waits for the old holder's writes in flight (they hold the row FOR SHARE).
const acquire = `INSERT INTO lease AS l (name, holder, epoch, expires_at)
	VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
	ON CONFLICT (name) DO UPDATE SET
		epoch = CASE WHEN l.holder = $2 AND l.epoch = $4 AND l.expires_at > clock_timestamp()
			THEN l.epoch ELSE l.epoch + 1 END,
		holder = $2, expires_at = excluded.expires_at
	WHERE (l.holder = $2 AND l.epoch = $4) OR l.expires_at <= clock_timestamp()
	RETURNING epoch`

// Acquire takes or renews the lease and says whether this replica holds it.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The local deadline counts from before the request: the database's, counted from when it
	// ran the statement, is later, so Held turns false first.
	start := time.Now()
	var epoch int64
	err := l.s.pool.QueryRow(ctx, acquire, leaseName, l.holder, l.ttl.Milliseconds(), l.epoch).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		l.until = time.Time{}
		l.fenceWith(l.epoch)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire the lease: %w", err)
	}
	l.epoch, l.until = epoch, start.Add(l.ttl)
	l.fenceWith(epoch)
	return true, nil
}

// Release ends the lease now if this holder holds it: another replica need not wait for it to
// expire. The epoch stays, so the store's later writes are refused.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch == 0 {
		return nil
	}
	l.until = time.Time{}
	_, err := l.s.pool.Exec(ctx, `UPDATE lease SET expires_at = clock_timestamp() WHERE name = $1 AND holder = $2 AND epoch = $3`,
		leaseName, l.holder, l.epoch)
	if err != nil {
		return fmt.Errorf("release the lease: %w", err)
	}
	return nil
}

// fenceWith makes the store's writes carry epoch from now on. Losing the lease keeps the old
// epoch, which the database refuses: a store once fenced never writes unfenced.
func (l *Lease) fenceWith(epoch int64) {
	l.s.fence.Store(&fence{holder: l.holder, epoch: epoch})
}

// Held says whether the lease is held and, by this process's clock, not yet expired.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.until.IsZero() && time.Now().Before(l.until)
}

// Until is when the lease expires by this process's clock unless renewed.
func (l *Lease) Until() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

// fenced queues the lease check before a write's statements in b, when the store is fenced:
// the batch runs as one transaction, so a refused check writes nothing.
func (s *Store) fenced(b *pgx.Batch) {
	if f := s.fence.Load(); f != nil {
		b.Queue(`SELECT casebot_fence($1, $2, $3)`, leaseName, f.holder, f.epoch)
	}
}

// leaseLost wraps bot.ErrLeaseLost around err when the database refused a write for the lease.
func leaseLost(err error) error {
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == fenceLost {
		return fmt.Errorf("%w: %s", bot.ErrLeaseLost, pe.Message)
	}
	return err
}
