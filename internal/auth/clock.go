package auth

import (
	"strconv"
	"strings"
	"time"
)

// DefaultSkew is how far a client's clock may be from the server's (API.md §2).
const DefaultSkew = 5 * time.Minute

// CheckTimestamp checks a "timestamp" parameter: milliseconds since the Unix
// epoch, within skew of now (inclusive). It returns ErrInvalidDate otherwise.
func CheckTimestamp(ms string, now time.Time, skew time.Duration) error {
	n, err := strconv.ParseInt(strings.TrimSpace(ms), 10, 64)
	if err != nil {
		return ErrInvalidDate
	}
	return within(time.UnixMilli(n), now, skew)
}

// dateLayouts are the ISO-8601 forms legacy clients send. Forms without a zone
// are read as UTC, which is what the legacy protocol prescribes.
var dateLayouts = []string{
	time.RFC3339Nano, // 2017-01-01T00:00:00.000Z, 2017-01-01T00:00:00Z, offsets
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// CheckDate checks a legacy "date" parameter: an ISO-8601 time such as
// 2017-01-01T00:00:00.000Z, within skew of now (inclusive). It returns
// ErrInvalidDate otherwise.
func CheckDate(iso string, now time.Time, skew time.Duration) error {
	iso = strings.TrimSpace(iso)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, iso); err == nil {
			return within(t, now, skew)
		}
	}
	return ErrInvalidDate
}

func within(t, now time.Time, skew time.Duration) error {
	d := t.Sub(now)
	if d < -skew || d > skew {
		return ErrInvalidDate
	}
	return nil
}
