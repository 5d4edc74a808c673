package sandbox

import (
	"strings"
)

// Salesforce record ids are 15 case-sensitive characters: a 3-character key prefix naming the
// object type, a 2-character pod (instance) code, and a 10-character base-62 counter. The
// 18-character form appends a 3-character checksum that encodes the case of the first 15, so
// that case-insensitive tools (spreadsheets, SOQL literals typed by people) keep ids distinct.

const (
	// pod is this server's instance code inside every id it mints.
	pod         = "Sb"
	base62      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	checkAlpha  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	counterLen  = 10
	orgCounter  = 1
	orgIDPrefix = "00D"
)

// idChecksum returns the 3-character suffix of a 15-character id: for each 5-character chunk,
// a bit per uppercase letter (bit i for position i) indexes checkAlpha.
func idChecksum(id15 string) string {
	var b [3]byte
	for chunk := range 3 {
		mask := 0
		for i := range 5 {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				mask |= 1 << i
			}
		}
		b[chunk] = checkAlpha[mask]
	}
	return string(b[:])
}

// makeID returns the 18-character id of the n-th record with the given key prefix.
func makeID(prefix string, n uint64) string {
	var c [counterLen]byte
	for i := counterLen - 1; i >= 0; i-- {
		c[i] = base62[n%62]
		n /= 62
	}
	id15 := prefix + pod + string(c[:])
	return id15 + idChecksum(id15)
}

// idCounter returns the counter part of an id minted by makeID, or 0 for an id it cannot read.
func idCounter(id string) uint64 {
	if len(id) < 15 {
		return 0
	}
	var n uint64
	for _, c := range []byte(id[5:15]) {
		d := strings.IndexByte(base62, c)
		if d < 0 {
			return 0
		}
		n = n*62 + uint64(d)
	}
	return n
}

func isAlnum(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// normalizeID returns the 18-character form of a 15- or 18-character id. An 18-character id
// is read as Salesforce reads it: its suffix restores the case of the first 15 characters, so
// "001a0000006vm9rIAC" and "001A0000006Vm9rIAC" are the same record. It reports false for a
// string that is not an id (wrong length, characters, or a suffix that does not fit).
func normalizeID(s string) (string, bool) {
	switch {
	case len(s) == 15 && isAlnum(s):
		return s + idChecksum(s), true
	case len(s) != 18 || !isAlnum(s):
		return "", false
	}
	id := []byte(s[:15])
	for chunk := range 3 {
		mask := strings.IndexByte(checkAlpha, upper(s[15+chunk]))
		if mask < 0 {
			return "", false
		}
		for i := range 5 {
			c := &id[chunk*5+i]
			if mask&(1<<i) != 0 {
				if !isLetter(*c) {
					return "", false
				}
				*c = upper(*c)
			} else {
				*c = lower(*c)
			}
		}
	}
	id15 := string(id)
	return id15 + idChecksum(id15), true
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c - 'A' + 'a'
	}
	return c
}
