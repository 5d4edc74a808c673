//go:build !unix

package sqlite

// writable cannot tell without access(2): Check reports only a file removed or replaced.
func writable(string) error {
	return nil
}
