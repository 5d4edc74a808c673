package bot

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migrations lists a store's schema migrations, the files of fsys matching pattern, in order.
// They are numbered from 1 without a gap (0001_ledger.sql, 0002_…), and the number of the last
// is the schema's version: a misnumbered file is an error.
func Migrations(fsys fs.FS, pattern string) ([]string, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	for i, name := range names {
		if n, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0]); err != nil || n != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d", name, i+1)
		}
	}
	return names, nil
}

// ApplyMigrations applies the migrations of names (as Migrations lists them) after version
// current, read from fsys, and records version len(names), each statement through exec in the
// store's migration transaction. setVersion inserts the version, its one argument, in the
// store's placeholder syntax.
func ApplyMigrations(ctx context.Context, fsys fs.ReadFileFS, names []string, current int,
	exec func(ctx context.Context, sql string, args ...any) error, setVersion string) error {
	for _, name := range names[current:] {
		text, err := fsys.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration: %w", err)
		}
		if err := exec(ctx, string(text)); err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	if err := exec(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	if err := exec(ctx, setVersion, len(names)); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	return nil
}

// CompareSchema says what is wrong with a database whose schema is version current for a
// casebot that knows versions up to known; nil when they are the same. A store migrates an
// older schema; it must refuse a newer one, whose rows this casebot would misread.
func CompareSchema(current, known int) error {
	switch {
	case current > known:
		return fmt.Errorf("the database's schema is version %d, newer than this casebot knows (%d)", current, known)
	case current < known:
		return fmt.Errorf("the database's schema is version %d, older than this casebot's (%d): casebot once or casebot run upgrades it",
			current, known)
	}
	return nil
}
