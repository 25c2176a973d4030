package objects

import (
	"strconv"
	"strings"
)

// version is a parsed object version, "X.Y" or "X.Y.Z", as a tuple of
// non-negative integers (oslo's convert_version_to_tuple).
type version []int

// parseVersion parses a dotted version of two or three decimal parts.
func parseVersion(s string) (version, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, &VersionError{Version: s}
	}
	v := make(version, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 9 || strings.TrimLeft(p, "0123456789") != "" {
			return nil, &VersionError{Version: s}
		}
		n, _ := strconv.Atoi(p)
		v[i] = n
	}
	return v, nil
}

// cmpTuple compares as Python compares version tuples: part by part, and a
// tuple that is a prefix of the other is the smaller ("1.2" < "1.2.0").
// oslo uses it for target versions and relationship tables.
func cmpTuple(a, b version) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// cmpRelease compares as packaging.version does release numbers: missing
// parts count as zero ("1.2" == "1.2.0").
func cmpRelease(a, b version) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// compatible is oslo's versionutils.is_compatible(requested, current):
// same major, and current at least requested.
func compatible(requested, current version) bool {
	return requested[0] == current[0] && cmpRelease(current, requested) >= 0
}

// lessThan reports whether version a is below b by tuple comparison; both
// must parse (they were validated when declared or received).
func lessThan(a, b string) bool {
	va, err1 := parseVersion(a)
	vb, err2 := parseVersion(b)
	return err1 == nil && err2 == nil && cmpTuple(va, vb) < 0
}
