package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"casebot/bot"
	"casebot/config"
)

// ExitPending is migrate -check's exit code when the ledger's schema is older than this
// casebot's: distinct from 1 (an error) so that a deployment script can tell them apart.
const ExitPending = 3

// importBatch is how many cases' entries one write of migrate -from-sqlite carries: a batch is
// one transaction, and a ledger holds few entries a case.
const importBatch = 200

// codeError is an error for which Main exits with code instead of 1.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

// exitCode returns the exit code err asks for, if it asks for one.
func exitCode(err error) (int, bool) {
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code, true
	}
	return 0, false
}

// migrate upgrades the ledger's schema explicitly, as run and once do implicitly when they
// open it, so that an upgrade can be a step of a deployment of its own; with -from-sqlite it
// then copies a SQLite ledger into the configured PostgreSQL one.
func migrate(ctx context.Context, args []string, std IO, w Wiring) error {
	fs := newFlags("migrate", std)
	configPath := fs.String("config", "", "config file naming the ledger (store.driver, store.path or store.dsn)")
	check := fs.Bool("check", false, "only report whether a migration is pending: exit 0 when the schema is current, 3 when pending")
	from := fs.String("from-sqlite", "", "copy the SQLite ledger at this path into the configured PostgreSQL ledger")
	force := fs.Bool("force", false, "with -from-sqlite: copy even into a ledger that already has entries")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *check && *from != "" {
		return usageError{errors.New("-check and -from-sqlite do not go together")}
	}
	cfg, err := loadConfig(*configPath, std)
	if err != nil {
		return err
	}
	if *from != "" && cfg.Store.Driver != "postgres" {
		return usageError{fmt.Errorf("-from-sqlite copies into PostgreSQL, but the config's store.driver is %q", cfg.Store.Driver)}
	}
	current, known, err := w.Schema(ctx, cfg.Store)
	if err != nil {
		return err
	}
	if current > known {
		return fmt.Errorf("ledger %s: %w: upgrade casebot first", cfg.Store.Where(), bot.CompareSchema(current, known))
	}
	if *check {
		if current < known {
			return codeError{ExitPending, fmt.Errorf("ledger %s: migration pending from schema version %d to %d",
				cfg.Store.Where(), current, known)}
		}
		fmt.Fprintf(std.Out, "ledger %s: schema version %d is current\n", cfg.Store.Where(), current)
		return nil
	}
	st, err := w.Store(ctx, cfg.Store) // opening a ledger migrates it
	if err != nil {
		return err
	}
	defer st.Close()
	if current < known {
		fmt.Fprintf(std.Out, "ledger %s: migrated schema from version %d to %d\n", cfg.Store.Where(), current, known)
	} else {
		fmt.Fprintf(std.Out, "ledger %s: schema version %d is current, nothing to migrate\n", cfg.Store.Where(), current)
	}
	if *from == "" {
		return nil
	}
	src, err := w.ReadStore(ctx, config.Store{Driver: "sqlite", Path: *from})
	if err != nil {
		return fmt.Errorf("open the SQLite ledger to import: %w", err)
	}
	defer src.Close()
	n, err := importLedger(ctx, src, st, *force)
	if err != nil {
		return fmt.Errorf("import %s into ledger %s: %w", *from, cfg.Store.Where(), err)
	}
	fmt.Fprintf(std.Out, "imported %d entries of %d cases, %d claim payloads and %d mailbox positions from %s\n",
		n.entries, n.cases, n.payloads, n.positions, *from)
	return nil
}

// counts is what a ledger holds, as importLedger compares it.
type counts struct{ cases, entries, payloads, positions int }

// importLedger copies every entry, claim payload and mailbox position of src into dst, a
// batch of cases a transaction, and then checks that dst holds as much as src. It refuses a
// dst with entries unless force: an import merged into a ledger in use would mix two
// histories of the same cases.
func importLedger(ctx context.Context, src, dst bot.Store, force bool) (counts, error) {
	if ids, err := dst.CaseIDs(ctx); err != nil {
		return counts{}, err
	} else if len(ids) > 0 && !force {
		return counts{}, fmt.Errorf("the target already has entries of %d cases (-force copies anyway)", len(ids))
	}
	ids, err := src.CaseIDs(ctx)
	if err != nil {
		return counts{}, err
	}
	var want counts
	want.cases = len(ids)
	for batch := range slices.Chunk(ids, importBatch) {
		es, keys, err := readAll(ctx, src, batch)
		if err != nil {
			return counts{}, err
		}
		payloads, err := src.Payloads(ctx, keys)
		if err != nil {
			return counts{}, err
		}
		for i := range es {
			es[i].Payload = payloads[es[i].Key]
		}
		if err := dst.Record(ctx, es...); err != nil {
			return counts{}, err
		}
		want.entries += len(es)
		want.payloads += len(payloads)
	}
	positions, err := src.Positions(ctx)
	if err != nil {
		return counts{}, err
	}
	for _, m := range slices.Sorted(maps.Keys(positions)) {
		if err := dst.SetPosition(ctx, m, positions[m]); err != nil {
			return counts{}, err
		}
	}
	want.positions = len(positions)
	return want, verifyImport(ctx, src, dst, want, positions)
}

// verifyImport checks that every case, entry and payload of src, and the positions src
// holds, are in dst.
func verifyImport(ctx context.Context, src, dst bot.Store, want counts, positions map[string]bot.MailboxPosition) error {
	var got counts
	ids, err := src.CaseIDs(ctx)
	if err != nil {
		return err
	}
	for batch := range slices.Chunk(ids, importBatch) {
		es, keys, err := readAll(ctx, dst, batch)
		if err != nil {
			return err
		}
		payloads, err := dst.Payloads(ctx, keys)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, e := range es {
			seen[e.CaseID] = true
		}
		got.cases += len(seen)
		got.entries += len(es)
		got.payloads += len(payloads)
	}
	copied, err := dst.Positions(ctx)
	if err != nil {
		return err
	}
	for m, p := range positions {
		if q, ok := copied[m]; ok && q == p {
			got.positions++
		}
	}
	if got != want {
		return fmt.Errorf("after the copy the target holds %+v of what the source holds, %+v", got, want)
	}
	return nil
}

// readAll returns the entries of the given cases and their keys.
func readAll(ctx context.Context, s bot.Store, ids []string) ([]bot.LedgerEntry, []string, error) {
	byCase, err := s.Entries(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	var es []bot.LedgerEntry
	var keys []string
	for _, id := range ids {
		for _, k := range slices.Sorted(maps.Keys(byCase[id])) {
			es = append(es, byCase[id][k])
			keys = append(keys, k)
		}
	}
	return es, keys, nil
}
