package store

// The embedded backend is bbolt because it is pure Go (no cgo, one static
// binary), keeps everything in a single file the operator can copy, and gives
// ACID transactions that are fsync'd before Update returns: a write the API
// acknowledged survives kill -9 or power loss. Its single-writer model suits
// us: writes are rare next to searches, and searches only read it (credential
// and target lookups, concurrent with writers under bbolt's MVCC); their
// usage counts reach it in periodic batches.
//
// Layout (every key and value is bytes):
//
//	meta        "version" → schema version
//	secrets     name → secret bytes
//	apps        appId → App (JSON)
//	appkeys     appKey → appId
//	apikeys     apiKey → APIKey (JSON)
//	db          appId → bucket per database:
//	    targets   targetId → Target (JSON)
//	    bymod     modified (8 bytes BE) ‖ targetId → nil (newest-first listing)
//	    images    targetId → grey JPEG
//	    features  targetId → engine feature bytes
//	    counters  "total", "active" → uint64 BE
//	    usage     day → Usage (JSON, without Devices detail)
//	    devices   day → bucket of deviceId → nil

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

const schemaVersion = 1

var (
	bMeta     = []byte("meta")
	bSecrets  = []byte("secrets")
	bApps     = []byte("apps")
	bAppKeys  = []byte("appkeys")
	bAPIKeys  = []byte("apikeys")
	bDB       = []byte("db")
	bTargets  = []byte("targets")
	bByMod    = []byte("bymod")
	bImages   = []byte("images")
	bFeatures = []byte("features")
	bCounters = []byte("counters")
	bUsage    = []byte("usage")
	bDevices  = []byte("devices")

	kTotal  = []byte("total")
	kActive = []byte("active")
)

// Bolt is the embedded store: one bbolt file.
type Bolt struct {
	db *bolt.DB
}

// BoltOptions configure OpenBolt.
type BoltOptions struct {
	// Timeout bounds the wait for the file lock another process holds; zero
	// waits one second. The lock is how the offline CLI learns a server runs.
	Timeout time.Duration
	// NoSync skips the fsync of every commit: much faster bulk writes, at
	// the price of durability. Only for offline bulk loads (opencrs index
	// build), which call Sync before closing: a process that dies loses
	// nothing the kernel was given, but an OS crash or power loss before
	// Sync can lose or corrupt recent commits.
	NoSync bool
}

// OpenBolt opens (creating if needed) the store file at path.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, NoSync: opts.NoSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is locked by another process (is a server running on it?): %w", path, ErrUnavailable)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMeta, bSecrets, bApps, bAppKeys, bAPIKeys, bDB} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bMeta)
		if v := m.Get([]byte("version")); v != nil {
			if len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
				return fmt.Errorf("schema version %x, want %d: %w", v, schemaVersion, ErrCorrupt)
			}
			return nil
		}
		return m.Put([]byte("version"), u64(schemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// Close releases the file; later calls fail with ErrUnavailable.
func (s *Bolt) Close() error { return s.db.Close() }

// Sync flushes the file to disk: what every commit does unless
// BoltOptions.NoSync.
func (s *Bolt) Sync() error {
	// bbolt would fsync a closed file descriptor; say what the other
	// methods say after Close.
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return mapErr(err)
	}
	return mapErr(s.db.Sync())
}

func (s *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapErr(s.db.View(fn))
}

func (s *Bolt) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapErr(s.db.Update(fn))
}

// mapErr turns bbolt's errors into the package's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen), errors.Is(err, bolterrors.ErrTxClosed):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w: %v", key, ErrCorrupt, err)
	}
	return nil
}

// listJSON decodes every value of b, in key order; what names a record in
// errors.
func listJSON[T any](b *bolt.Bucket, what string) ([]T, error) {
	var out []T
	err := b.ForEach(func(k, v []byte) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("%s %s: %w: %v", what, k, ErrCorrupt, err)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// Secret returns the secret stored under name, creating it with gen on first use.
func (s *Bolt) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bSecrets).Get([]byte(name)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	if err != nil || out != nil {
		return out, wrap(err, "secret %s", name)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bSecrets)
		if v := b.Get([]byte(name)); v != nil { // lost a race with another caller
			out = bytes.Clone(v)
			return nil
		}
		v, err := gen()
		if err != nil {
			return err
		}
		out = v
		return b.Put([]byte(name), v)
	})
	return out, wrap(err, "secret %s", name)
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: "+format+": %w", append(args, err)...)
}

// CreateApp adds a database; ErrExists if its id or cloud key is taken.
func (s *Bolt) CreateApp(ctx context.Context, a App) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		apps, keys := tx.Bucket(bApps), tx.Bucket(bAppKeys)
		if apps.Get([]byte(a.ID)) != nil || keys.Get([]byte(a.AppKey)) != nil {
			return ErrExists
		}
		if err := putJSON(apps, []byte(a.ID), a); err != nil {
			return err
		}
		if err := keys.Put([]byte(a.AppKey), []byte(a.ID)); err != nil {
			return err
		}
		db, err := tx.Bucket(bDB).CreateBucket([]byte(a.ID))
		if err != nil {
			return err
		}
		for _, n := range [][]byte{bTargets, bByMod, bImages, bFeatures, bCounters, bUsage, bDevices} {
			if _, err := db.CreateBucket(n); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "create app %s", a.ID)
}

// App returns the database with that id.
func (s *Bolt) App(ctx context.Context, id string) (App, error) {
	var a App
	err := s.view(ctx, func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bApps), []byte(id), &a) })
	return a, wrap(err, "app %s", id)
}

// AppByKey returns the database a cloud appKey belongs to.
func (s *Bolt) AppByKey(ctx context.Context, appKey string) (App, error) {
	var a App
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bAppKeys).Get([]byte(appKey))
		if id == nil {
			return ErrNotFound
		}
		return getJSON(tx.Bucket(bApps), id, &a)
	})
	return a, wrap(err, "app key")
}

// Apps lists every database in id order.
func (s *Bolt) Apps(ctx context.Context) ([]App, error) {
	var out []App
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		out, err = listJSON[App](tx.Bucket(bApps), "app")
		return err
	})
	return out, wrap(err, "list apps")
}

// UpdateApp applies fn to a database's record; its id and cloud key are fixed.
func (s *Bolt) UpdateApp(ctx context.Context, id string, fn func(*App) error) (App, error) {
	var a App
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bApps)
		if err := getJSON(b, []byte(id), &a); err != nil {
			return err
		}
		key := a.AppKey
		if err := fn(&a); err != nil {
			return err
		}
		a.ID, a.AppKey = id, key
		return putJSON(b, []byte(id), a)
	})
	return a, wrap(err, "update app %s", id)
}

// DeleteApp removes a database with its targets and statistics, and its
// grants from every API key.
func (s *Bolt) DeleteApp(ctx context.Context, id string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var a App
		if err := getJSON(tx.Bucket(bApps), []byte(id), &a); err != nil {
			return err
		}
		if err := tx.Bucket(bApps).Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bAppKeys).Delete([]byte(a.AppKey)); err != nil {
			return err
		}
		if err := tx.Bucket(bDB).DeleteBucket([]byte(id)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
		keys := tx.Bucket(bAPIKeys)
		type change struct {
			k []byte
			v APIKey
		}
		var changes []change
		err := keys.ForEach(func(k, v []byte) error {
			var ak APIKey
			if err := json.Unmarshal(v, &ak); err != nil {
				return fmt.Errorf("api key %s: %w: %v", k, ErrCorrupt, err)
			}
			if _, ok := ak.Grants[id]; ok {
				delete(ak.Grants, id)
				changes = append(changes, change{bytes.Clone(k), ak})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range changes { // bbolt forbids writes during ForEach
			if err := putJSON(keys, c.k, c.v); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "delete app %s", id)
}

// CreateAPIKey adds an API key; ErrExists if the key is taken.
func (s *Bolt) CreateAPIKey(ctx context.Context, k APIKey) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bAPIKeys)
		if b.Get([]byte(k.Key)) != nil {
			return ErrExists
		}
		return putJSON(b, []byte(k.Key), k)
	})
	return wrap(err, "create api key")
}

// APIKey returns an API key with its secret and grants.
func (s *Bolt) APIKey(ctx context.Context, key string) (APIKey, error) {
	var k APIKey
	err := s.view(ctx, func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bAPIKeys), []byte(key), &k) })
	return k, wrap(err, "api key")
}

// APIKeys lists every API key.
func (s *Bolt) APIKeys(ctx context.Context) ([]APIKey, error) {
	var out []APIKey
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		out, err = listJSON[APIKey](tx.Bucket(bAPIKeys), "api key")
		return err
	})
	return out, wrap(err, "list api keys")
}

// DeleteAPIKey revokes an API key.
func (s *Bolt) DeleteAPIKey(ctx context.Context, key string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bAPIKeys)
		if b.Get([]byte(key)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(key))
	})
	return wrap(err, "delete api key")
}

// appBucket returns a database's bucket; ErrNotFound if it has none.
func appBucket(tx *bolt.Tx, appID string) (*bolt.Bucket, error) {
	b := tx.Bucket(bDB).Bucket([]byte(appID))
	if b == nil {
		return nil, fmt.Errorf("app %s: %w", appID, ErrNotFound)
	}
	for _, n := range [][]byte{bTargets, bByMod, bImages, bFeatures, bCounters, bUsage, bDevices} {
		if b.Bucket(n) == nil {
			return nil, fmt.Errorf("app %s: bucket %s missing: %w", appID, n, ErrCorrupt)
		}
	}
	return b, nil
}

func counter(b *bolt.Bucket, k []byte) int {
	v := b.Bucket(bCounters).Get(k)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func addCounter(b *bolt.Bucket, k []byte, d int) error {
	n := max(counter(b, k)+d, 0)
	return b.Bucket(bCounters).Put(k, u64(uint64(n)))
}

func modKey(t Target) []byte {
	k := make([]byte, 8+len(t.ID))
	binary.BigEndian.PutUint64(k, uint64(t.Modified))
	copy(k[8:], t.ID)
	return k
}

// CreateTarget stores a new target with its image and features in one
// transaction. Quotas in lim are checked inside it, so concurrent creates
// cannot overshoot: ErrTargetQuota, ErrActiveQuota; ErrExists if the id is taken.
func (s *Bolt) CreateTarget(ctx context.Context, appID string, t Target, blobs Blobs, lim Limits) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		id := []byte(t.ID)
		if b.Bucket(bTargets).Get(id) != nil {
			return ErrExists
		}
		if lim.MaxTargets > 0 && counter(b, kTotal) >= lim.MaxTargets {
			return ErrTargetQuota
		}
		if t.Active && lim.MaxActive > 0 && counter(b, kActive) >= lim.MaxActive {
			return ErrActiveQuota
		}
		if blobs.Image == nil || blobs.Features == nil {
			return errors.New("new target without image or features")
		}
		if err := putTarget(b, t, blobs); err != nil {
			return err
		}
		if err := addCounter(b, kTotal, 1); err != nil {
			return err
		}
		if t.Active {
			return addCounter(b, kActive, 1)
		}
		return nil
	})
	return wrap(err, "create target %s/%s", appID, t.ID)
}

func putTarget(b *bolt.Bucket, t Target, blobs Blobs) error {
	id := []byte(t.ID)
	if err := putJSON(b.Bucket(bTargets), id, t); err != nil {
		return err
	}
	if err := b.Bucket(bByMod).Put(modKey(t), nil); err != nil {
		return err
	}
	if blobs.Image != nil {
		if err := b.Bucket(bImages).Put(id, blobs.Image); err != nil {
			return err
		}
	}
	if blobs.Features != nil {
		return b.Bucket(bFeatures).Put(id, blobs.Features)
	}
	return nil
}

// UpdateTarget replaces a target's metadata and, where given, its blobs.
// Activating it checks lim.MaxActive (ErrActiveQuota); ErrNotFound if absent.
func (s *Bolt) UpdateTarget(ctx context.Context, appID string, t Target, blobs Blobs, lim Limits) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		var old Target
		if err := getJSON(b.Bucket(bTargets), []byte(t.ID), &old); err != nil {
			return err
		}
		if t.Active && !old.Active && lim.MaxActive > 0 && counter(b, kActive) >= lim.MaxActive {
			return ErrActiveQuota
		}
		if err := b.Bucket(bByMod).Delete(modKey(old)); err != nil {
			return err
		}
		if err := putTarget(b, t, blobs); err != nil {
			return err
		}
		switch {
		case t.Active && !old.Active:
			return addCounter(b, kActive, 1)
		case !t.Active && old.Active:
			return addCounter(b, kActive, -1)
		}
		return nil
	})
	return wrap(err, "update target %s/%s", appID, t.ID)
}

// DeleteTarget removes a target and returns what it was.
func (s *Bolt) DeleteTarget(ctx context.Context, appID, id string) (Target, error) {
	var t Target
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		if err := getJSON(b.Bucket(bTargets), []byte(id), &t); err != nil {
			return err
		}
		for _, n := range [][]byte{bTargets, bImages, bFeatures} {
			if err := b.Bucket(n).Delete([]byte(id)); err != nil {
				return err
			}
		}
		if err := b.Bucket(bByMod).Delete(modKey(t)); err != nil {
			return err
		}
		if err := addCounter(b, kTotal, -1); err != nil {
			return err
		}
		if t.Active {
			return addCounter(b, kActive, -1)
		}
		return nil
	})
	return t, wrap(err, "delete target %s/%s", appID, id)
}

// Target returns a target's metadata.
func (s *Bolt) Target(ctx context.Context, appID, id string) (Target, error) {
	var t Target
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		return getJSON(b.Bucket(bTargets), []byte(id), &t)
	})
	return t, wrap(err, "target %s/%s", appID, id)
}

// TrackingImage returns the grey JPEG stored with a target.
func (s *Bolt) TrackingImage(ctx context.Context, appID, id string) ([]byte, error) {
	var img []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		v := b.Bucket(bImages).Get([]byte(id))
		if v == nil {
			if b.Bucket(bTargets).Get([]byte(id)) != nil {
				return fmt.Errorf("image of %s missing: %w", id, ErrCorrupt)
			}
			return ErrNotFound
		}
		img = bytes.Clone(v)
		return nil
	})
	return img, wrap(err, "tracking image %s/%s", appID, id)
}

// Blobs returns a target's image and features, for an update to restore.
func (s *Bolt) Blobs(ctx context.Context, appID, id string) (Blobs, error) {
	var out Blobs
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		if b.Bucket(bTargets).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		img, feat := b.Bucket(bImages).Get([]byte(id)), b.Bucket(bFeatures).Get([]byte(id))
		if img == nil || feat == nil {
			return fmt.Errorf("blobs of %s missing: %w", id, ErrCorrupt)
		}
		out = Blobs{Image: bytes.Clone(img), Features: bytes.Clone(feat)}
		return nil
	})
	return out, wrap(err, "blobs %s/%s", appID, id)
}

// CountTargets returns a database's target totals.
func (s *Bolt) CountTargets(ctx context.Context, appID string) (Counts, error) {
	var c Counts
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		c = Counts{Total: counter(b, kTotal), Active: counter(b, kActive)}
		return nil
	})
	return c, wrap(err, "count targets %s", appID)
}

// ListTargets returns up to limit targets newest-modified first, skipping
// offset of them, and the total.
func (s *Bolt) ListTargets(ctx context.Context, appID string, offset, limit int) ([]Target, int, error) {
	var out []Target
	total := 0
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		total = counter(b, kTotal)
		tb := b.Bucket(bTargets)
		c := b.Bucket(bByMod).Cursor()
		i := 0
		for k, _ := c.Last(); k != nil && len(out) < limit; k, _ = c.Prev() {
			if i++; i <= offset {
				continue
			}
			if len(k) < 8 {
				return fmt.Errorf("index key %x: %w", k, ErrCorrupt)
			}
			var t Target
			if err := getJSON(tb, k[8:], &t); err != nil {
				return fmt.Errorf("indexed target %s: %w", k[8:], err)
			}
			out = append(out, t)
		}
		return nil
	})
	return out, total, wrap(err, "list targets %s", appID)
}

// ScanTargets returns up to limit targets in id order after the id after
// (the legacy cursor), and the cursor for the next page ("" at the end).
func (s *Bolt) ScanTargets(ctx context.Context, appID, after string, limit int) ([]Target, string, error) {
	var out []Target
	next := ""
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		c := b.Bucket(bTargets).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			var t Target
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("target %s: %w: %v", k, ErrCorrupt, err)
			}
			out = append(out, t)
		}
		return nil
	})
	return out, next, wrap(err, "scan targets %s", appID)
}

// LoadFeatures returns up to limit targets' features in id order after the
// id after, and the cursor for the next page ("" at the end). Engines are
// rebuilt from these pages on start, so memory use stays bounded by a page.
func (s *Bolt) LoadFeatures(ctx context.Context, appID, after string, limit int) ([]Features, string, error) {
	var out []Features
	next := ""
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		tb := b.Bucket(bTargets)
		c := b.Bucket(bFeatures).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			var t Target
			if err := getJSON(tb, k, &t); err != nil {
				return fmt.Errorf("features of %s: %w", k, err)
			}
			out = append(out, Features{ID: string(k), Active: t.Active, Modified: t.Modified, Features: bytes.Clone(v)})
		}
		return nil
	})
	return out, next, wrap(err, "load features %s", appID)
}

// AddUsage adds a batch of searches to a day's statistics.
func (s *Bolt) AddUsage(ctx context.Context, appID, day string, d UsageDelta) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		ub := b.Bucket(bUsage)
		u := Usage{Day: day}
		if err := getJSON(ub, []byte(day), &u); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		u.Searches += d.Searches
		u.Hits += d.Hits
		u.Misses += d.Misses
		if len(d.Devices) > 0 {
			db, err := b.Bucket(bDevices).CreateBucketIfNotExists([]byte(day))
			if err != nil {
				return err
			}
			for _, dev := range d.Devices {
				if dev == "" || db.Get([]byte(dev)) != nil {
					continue
				}
				if err := db.Put([]byte(dev), nil); err != nil {
					return err
				}
				u.Devices++
			}
		}
		for id, n := range d.TargetHits {
			if u.TargetHits == nil {
				u.TargetHits = map[string]int64{}
			}
			u.TargetHits[id] += n
		}
		return putJSON(ub, []byte(day), u)
	})
	return wrap(err, "add usage %s/%s", appID, day)
}

// Usage returns a database's statistics for the days from..to (inclusive,
// "2006-01-02"; empty means unbounded), oldest first.
func (s *Bolt) Usage(ctx context.Context, appID, from, to string) ([]Usage, error) {
	var out []Usage
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b, err := appBucket(tx, appID)
		if err != nil {
			return err
		}
		c := b.Bucket(bUsage).Cursor()
		for k, v := c.Seek([]byte(from)); k != nil && (to == "" || string(k) <= to); k, v = c.Next() {
			var u Usage
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("usage %s: %w: %v", k, ErrCorrupt, err)
			}
			out = append(out, u)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Day < out[j].Day })
	return out, wrap(err, "usage %s", appID)
}
