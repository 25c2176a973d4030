package objects

import (
	"regexp"
	"strconv"
	"time"
)

// iso8601Re is the grammar of Python's iso8601 module (1.x), which oslo's
// timeutils.parse_isotime uses for DateTime fields.
var iso8601Re = regexp.MustCompile(`^([0-9]{4})(?:(?:-([0-9]{1,2})|([0-9]{2}))(?:(?:-([0-9]{1,2})|([0-9]{2}))(?:([ T])([0-9]{2})(?::?([0-9]{2}))?(?::?([0-9]{1,2})(?:[.,]([0-9]+))?)?(Z|([-+])([0-9]{2}):?([0-9]{2})?)?)?)?)?$`)

// parseISOTime parses s as oslo's parse_isotime does: a date without a
// time zone is in UTC. ok is false with Python's message when s does not
// parse.
func parseISOTime(s string) (time.Time, string, bool) {
	m := iso8601Re.FindStringSubmatch(s)
	if m == nil || (m[3] != "" && m[4] == "" && m[5] == "") { // YYYYMM alone is refused
		return time.Time{}, "Unable to parse date string " + pyRepr(s), false
	}
	atoi := func(s string, def int) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	year := atoi(m[1], 0)
	month := atoi(m[2]+m[3], 1)
	day := atoi(m[4]+m[5], 1)
	hour, minute, sec := atoi(m[7], 0), atoi(m[8], 0), atoi(m[9], 0)
	usec := 0
	if frac := m[10]; frac != "" {
		// Decimal("0.<frac>") * 1000000, truncated to microseconds.
		for i := 0; i < 6; i++ {
			usec *= 10
			if i < len(frac) {
				usec += int(frac[i] - '0')
			}
		}
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, "Unable to parse date string " + pyRepr(s), false
	}
	loc := time.UTC
	if m[12] != "" {
		off := atoi(m[13], 0)*3600 + atoi(m[14], 0)*60
		if off >= 24*3600 {
			return time.Time{}, "Unable to parse date string " + pyRepr(s), false
		}
		if m[12] == "-" {
			off = -off
		}
		if off != 0 {
			loc = time.FixedZone(formatOffset(off), off)
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, usec*1000, loc), "", true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// formatOffset writes a UTC offset in seconds as "+HH:MM", as Python's
// iso8601 names the time zones it parses.
func formatOffset(off int) string {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b := []byte{sign, 0, 0, ':', 0, 0}
	h, m := off/3600, off%3600/60
	b[1], b[2], b[4], b[5] = byte('0'+h/10), byte('0'+h%10), byte('0'+m/10), byte('0'+m%10)
	return string(b)
}

// isotime is oslo's _utils.isotime: seconds precision, "Z" for UTC and the
// "+HH:MM" offset otherwise. naive drops the zone first, as oslo's
// DateTime(tzinfo_aware=False) does, and writes the wall clock with "Z".
func isotime(t time.Time, naive bool) string {
	s := t.Format("2006-01-02T15:04:05")
	_, off := t.Zone()
	if naive || off == 0 {
		return s + "Z"
	}
	return s + formatOffset(off)
}

// coerceTime is DateTime.coerce: aware fields keep the zone (UTC when
// none), naive fields keep the wall clock in UTC.
func coerceTime(t time.Time, naive bool) time.Time {
	if naive {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	return t
}
