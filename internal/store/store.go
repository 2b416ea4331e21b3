// Package store holds the service's durable state: databases (apps), API keys,
// targets with their images and engine features, usage statistics and server
// secrets. The record types and errors here are shared by every backend; the
// embedded backend is Bolt (bolt.go). Callers declare the narrow interface
// they need (see internal/api), so another backend such as PostgreSQL can be
// added without touching them.
package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors every backend reports, wrapped with context; test with errors.Is.
var (
	// ErrNotFound: no record under that key.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a record with that key (or credential) already exists.
	ErrExists = errors.New("store: already exists")
	// ErrCorrupt: a stored record cannot be decoded.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrUnavailable: the backend cannot be reached (closed, locked, I/O).
	ErrUnavailable = errors.New("store: unavailable")
	// ErrTargetQuota: the database holds its maximum number of targets.
	ErrTargetQuota = errors.New("store: target quota reached")
	// ErrActiveQuota: the database holds its maximum number of active targets.
	ErrActiveQuota = errors.New("store: active target quota reached")
)

// Mode is how a database is billed: by calls or by distinct devices a day.
type Mode string

// Database modes.
const (
	ModeCall Mode = "call"
	ModeDAU  Mode = "dau"
)

// ParseMode accepts "call" and "dau" (any case); empty means call.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "", "call":
		return ModeCall, nil
	case "dau":
		return ModeDAU, nil
	}
	return "", fmt.Errorf("mode %q: want call or dau", s)
}

// Limits are a database's quotas; zero means unlimited.
type Limits struct {
	MaxTargets int `json:"maxTargets"` // total targets, enforced on create
	MaxActive  int `json:"maxActive"`  // active targets, enforced on activation
	QPS        int `json:"qps"`        // searches per second
	DailyScans int `json:"dailyScans"` // searches per UTC day
}

// App is one database (EasyAR: a CRS app instance) with its cloud key pair.
type App struct {
	ID        string    `json:"appId"`
	Name      string    `json:"name"`
	Mode      Mode      `json:"mode"`
	AppKey    string    `json:"appKey"`
	AppSecret string    `json:"appSecret"`
	Limits    Limits    `json:"limits"`
	Created   time.Time `json:"created"`
}

// Perm is a set of permissions on one database.
type Perm uint8

// Permissions an API key may hold on a database.
const (
	PermRead Perm = 1 << iota
	PermWrite
)

// Has reports whether p includes every permission of q.
func (p Perm) Has(q Perm) bool { return p&q == q }

func (p Perm) String() string {
	var s []string
	if p.Has(PermRead) {
		s = append(s, "READ")
	}
	if p.Has(PermWrite) {
		s = append(s, "WRITE")
	}
	return strings.Join(s, ",")
}

// ParsePerm reads "READ", "WRITE" or "READ,WRITE" (any case, any order).
func ParsePerm(s string) (Perm, error) {
	var p Perm
	for _, f := range strings.Split(s, ",") {
		switch strings.ToUpper(strings.TrimSpace(f)) {
		case "READ":
			p |= PermRead
		case "WRITE":
			p |= PermWrite
		case "":
		default:
			return 0, fmt.Errorf("permission %q: want READ or WRITE", f)
		}
	}
	if p == 0 {
		return 0, fmt.Errorf("permission %q: empty", s)
	}
	return p, nil
}

// APIKey is an account credential reaching one or more databases.
type APIKey struct {
	Key     string          `json:"apiKey"`
	Secret  string          `json:"apiSecret"`
	Name    string          `json:"name,omitempty"`
	Grants  map[string]Perm `json:"grants"` // appId → permissions
	Created time.Time       `json:"created"`
}

// Target is a target's metadata: everything but its image and features,
// which live apart so listing never reads them.
type Target struct {
	ID             string            `json:"targetId"`
	Name           string            `json:"name"`
	Size           string            `json:"size"`
	Meta           string            `json:"meta"`
	Type           string            `json:"type"`
	Active         bool              `json:"active"`
	AllowSimilar   bool              `json:"allowSimilar"`
	Modified       int64             `json:"modified"` // ms since epoch
	DetectableRate int               `json:"detectableRate"`
	TrackableRate  int               `json:"trackableRate"`
	Extra          map[string]string `json:"extra,omitempty"`
}

// Blobs are a target's large values. On update a nil field keeps the stored one.
type Blobs struct {
	Image    []byte // the processed grey JPEG served as trackingImage
	Features []byte // engine.Target.MarshalBinary
}

// Counts are a database's target totals.
type Counts struct {
	Total  int
	Active int
}

// Features is one target as needed to rebuild an engine on start.
type Features struct {
	ID       string
	Active   bool
	Modified int64 // Target.Modified
	Features []byte
}

// UsageDelta is what a batch of searches adds to one day's statistics.
type UsageDelta struct {
	Searches   int64
	Hits       int64
	Misses     int64
	Devices    []string         // device ids seen; counted once per day
	TargetHits map[string]int64 // targetId → hits
}

// Usage is one database's statistics for one UTC day.
type Usage struct {
	Day        string           `json:"day"` // 2006-01-02
	Searches   int64            `json:"searches"`
	Hits       int64            `json:"hits"`
	Misses     int64            `json:"misses"`
	Devices    int64            `json:"devices"` // distinct
	TargetHits map[string]int64 `json:"targetHits,omitempty"`
}

// Day formats t as the UTC day key usage is kept under.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
