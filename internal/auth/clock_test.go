package auth

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestCheckTimestamp(t *testing.T) {
	now := time.UnixMilli(1514736000000)
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	tests := []struct {
		name string
		ms   string
		ok   bool
	}{
		{"now", ms(0), true},
		{"just inside future", ms(5 * time.Minute), true},
		{"just inside past", ms(-5 * time.Minute), true},
		{"just outside future", ms(5*time.Minute + time.Millisecond), false},
		{"just outside past", ms(-5*time.Minute - time.Millisecond), false},
		{"seconds not ms", strconv.FormatInt(now.Unix(), 10), false},
		{"missing", "", false},
		{"garbage", "yesterday", false},
		{"float", "1514736000000.5", false},
		{"surrounding space", " " + ms(0) + " ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTimestamp(tt.ms, now, DefaultSkew)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckTimestamp(%q) = %v, want ok %v", tt.ms, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidDate) {
				t.Errorf("err = %v, want ErrInvalidDate", err)
			}
		})
	}
}

func TestCheckDate(t *testing.T) {
	now := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		iso  string
		ok   bool
	}{
		{"millis Z", "2017-01-01T00:00:00.000Z", true},
		{"no millis Z", "2017-01-01T00:00:00Z", true},
		{"micros Z", "2017-01-01T00:04:59.999999Z", true},
		{"no zone read as UTC", "2017-01-01T00:00:00.000", true},
		{"offset", "2017-01-01T08:00:00+08:00", true},
		{"space separator", "2017-01-01 00:00:00", true},
		{"just inside", "2017-01-01T00:05:00.000Z", true},
		{"just inside past", "2016-12-31T23:55:00.000Z", true},
		{"just outside", "2017-01-01T00:05:00.001Z", false},
		{"just outside past", "2016-12-31T23:54:59.999Z", false},
		{"date only", "2017-01-01", false},
		{"missing", "", false},
		{"garbage", "Sun, 01 Jan 2017 00:00:00 GMT", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDate(tt.iso, now, DefaultSkew)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckDate(%q) = %v, want ok %v", tt.iso, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidDate) {
				t.Errorf("err = %v, want ErrInvalidDate", err)
			}
		})
	}
}
