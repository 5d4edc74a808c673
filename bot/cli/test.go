package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"casebot/bot/playtest"
	"casebot/rules/playbooks"
	"casebot/templates"
)

// shippedDir is where the shipped playbooks live in a checkout: `casebot test -update` run
// from the repository rewrites their golden files there.
const shippedDir = "rules/playbooks"

// testCmd runs the playbook tests (*.test.yaml) of each directory, or of the shipped playbooks.
func testCmd(ctx context.Context, args []string, std IO, w Wiring) error {
	fset := newFlags("test", std)
	update := fset.Bool("update", false, "rewrite the golden files with what the tests render")
	timelines := fset.Int("timelines", 1000, "random timelines the property tests run through each playbook (0: none)")
	fset.Usage = func() {
		fmt.Fprintln(std.Err, "usage: casebot test [-update] [-timelines N] [DIR ...]")
		fmt.Fprintln(std.Err, "Runs the playbook tests (*.test.yaml) next to the playbooks in each DIR; default: the shipped playbooks.")
		fset.PrintDefaults()
	}
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	tmpl, err := templates.Default()
	if err != nil {
		return err
	}
	dirs := fset.Args()
	if len(dirs) == 0 && *update {
		// The embedded copy cannot be written: update the checkout it was built from.
		if st, err := os.Stat(shippedDir); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("-update without DIR rewrites ./%s: run it from the repository, or name the directory", shippedDir)}
		}
		dirs = []string{shippedDir}
	}
	type source struct {
		name string
		fsys fs.FS
		dir  string // "" when embedded
	}
	var sources []source
	if len(dirs) == 0 {
		sources = append(sources, source{name: "shipped playbooks", fsys: playbooks.FS})
	}
	for _, d := range dirs {
		sources = append(sources, source{name: d, fsys: os.DirFS(d), dir: d})
	}
	failed, total := 0, 0
	var errs []error
	for _, src := range sources {
		if len(sources) > 1 {
			fmt.Fprintf(std.Out, "== %s\n", src.name)
		}
		opts := playtest.Options{FS: src.fsys, Templates: tmpl}
		if *update {
			opts.Update = func(name string, data []byte) error {
				p := filepath.Join(src.dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				return os.WriteFile(p, data, 0o644)
			}
		}
		rep, err := playtest.Run(ctx, opts)
		if rep != nil {
			rep.Write(std.Out)
			failed += rep.Failed()
			total += len(rep.Tests)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:\n%w", src.name, err))
			continue
		}
		if *timelines <= 0 || *update {
			continue
		}
		props, err := playtest.Properties(src.fsys, tmpl, *timelines)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:\n%w", src.name, err))
		}
		for _, p := range props {
			bad := 0
			if p.Violation != "" {
				bad = 1 // rapid stops at the first timeline that fails, and shrinks it
				failed++
			}
			fmt.Fprintf(std.Out, "property: %s %d timelines, %d violations\n", p.Playbook, p.Timelines, bad)
			if bad > 0 {
				fmt.Fprintf(std.Out, "    %s\n", strings.ReplaceAll(strings.TrimRight(p.Violation, "\n"), "\n", "\n    "))
			}
			total++
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d tests and property checks failed", failed, total)
	}
	return nil
}
