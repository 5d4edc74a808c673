//go:build unix

package sqlite

import "syscall"

// wOK is W_OK of <unistd.h>, the same on every unix; package syscall does not name it.
const wOK = 2

// writable reports why the process may not write the file at path. It asks access(2) instead
// of opening the file: closing any descriptor of a file releases every POSIX lock the process
// holds on it, SQLite's included.
func writable(path string) error {
	return syscall.Access(path, wOK)
}
