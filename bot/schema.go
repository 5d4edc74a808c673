package bot

import (
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
