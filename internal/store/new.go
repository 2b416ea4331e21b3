package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Fresh identifiers and credentials come from crypto/rand: secrets must be
// unguessable, and ids double as bearer-like handles in URLs.

// RandomHex returns n random bytes as lowercase hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b)
}

// NewUUID returns a random (version 4) UUID string.
func NewUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewApp returns a database record with fresh id and cloud key pair; it is
// not stored.
func NewApp(name string, mode Mode, now time.Time) App {
	return App{
		ID:        RandomHex(16),
		Name:      name,
		Mode:      mode,
		AppKey:    RandomHex(16),
		AppSecret: RandomHex(32),
		Created:   now.UTC(),
	}
}

// NewAPIKey returns an API key with a fresh key and secret; it is not stored.
func NewAPIKey(name string, grants map[string]Perm, now time.Time) APIKey {
	if grants == nil {
		grants = map[string]Perm{}
	}
	return APIKey{
		Key:     RandomHex(16),
		Secret:  RandomHex(32),
		Name:    name,
		Grants:  grants,
		Created: now.UTC(),
	}
}
