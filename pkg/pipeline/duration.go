package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Durations in GitLab's units: a month is 30 days and a year 365.25 days,
// as in the ChronicDuration library GitLab parses durations with.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
	year  = 8766 * time.Hour
)

var durationUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": day, "day": day, "days": day,
	"w": week, "wk": week, "wks": week, "week": week, "weeks": week,
	"mo": month, "mon": month, "mos": month, "mons": month, "month": month, "months": month,
	"y": year, "yr": year, "yrs": year, "year": year, "years": year,
}

// ParseDuration parses a duration as GitLab writes them in `timeout`,
// `start_in`, `expire_in` and `auto_stop_in`: numbers with units ("1h
// 30m", "1 hour and 30 minutes", "2 days", "1.5h"), a bare number of
// seconds ("3600"), or a clock ("1:30:00").
func ParseDuration(s string) (time.Duration, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if strings.Contains(in, ":") {
		return parseClock(s, in)
	}
	var total float64
	rest := in
	for {
		rest = strings.TrimLeftFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
		if rest == "" {
			break
		}
		if strings.HasPrefix(rest, "and ") {
			rest = rest[len("and "):]
			continue
		}
		num, after := splitNumber(rest)
		if num == "" {
			return 0, fmt.Errorf("%q is not a duration: expected a number at %q", s, rest)
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: bad number %q", s, num)
		}
		after = strings.TrimLeft(after, " ")
		word, next := splitWord(after)
		unit := time.Second // a bare number counts seconds
		if word != "" {
			u, ok := durationUnits[word]
			if !ok {
				return 0, fmt.Errorf("%q is not a duration: unknown unit %q", s, word)
			}
			unit = u
		}
		total += v * float64(unit)
		if total > float64(100*year) {
			return 0, fmt.Errorf("%q is too long a duration", s)
		}
		rest = next
	}
	return time.Duration(total).Round(time.Second), nil
}

func splitNumber(s string) (num, rest string) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i], s[i:]
}

func splitWord(s string) (word, rest string) {
	i := 0
	for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
		i++
	}
	return s[:i], s[i:]
}

// parseClock reads "mm:ss", "hh:mm:ss" or "d:hh:mm:ss".
func parseClock(orig, s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 4 {
		return 0, fmt.Errorf("%q is not a duration", orig)
	}
	units := []time.Duration{time.Second, time.Minute, time.Hour, day}
	var total time.Duration
	for i, part := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || v < 0 || v > 1_000_000 {
			return 0, fmt.Errorf("%q is not a duration", orig)
		}
		total += time.Duration(v) * units[len(parts)-1-i]
	}
	return total, nil
}

// formatDuration writes a duration in GitLab's short units: "1w 2d",
// "1h 30m", "45s".
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var parts []string
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"w", week}, {"d", day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.d
		}
	}
	if len(parts) == 0 {
		return d.String()
	}
	return strings.Join(parts, " ")
}

// limitText writes a limit as GitLab documents it.
func limitText(d time.Duration) string {
	switch d {
	case week:
		return "1 week"
	case month:
		return "1 month"
	}
	return formatDuration(d)
}
