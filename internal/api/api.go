// Package api serves the EasyAR-CRS-compatible HTTP API (the wire contract
// of the project's API.md, which contract_test.go walks through): a management
// handler (target CRUD, similar, grade, tokens, the admin API and /metrics)
// and a recognition handler (search). A Service ties them to a store, one
// recognition engine per database, authentication, rate limits and usage
// statistics.
package api

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/index"
	"github.com/opencrs/opencrs/internal/store"
)

// Store is the persistence the API needs. internal/store.Bolt implements it;
// another backend only has to implement these methods with the same errors
// (store.ErrNotFound, ErrExists, ErrCorrupt, ErrUnavailable, ErrTargetQuota,
// ErrActiveQuota).
type Store interface {
	CreateApp(ctx context.Context, a store.App) error
	App(ctx context.Context, id string) (store.App, error)
	AppByKey(ctx context.Context, appKey string) (store.App, error)
	Apps(ctx context.Context) ([]store.App, error)
	UpdateApp(ctx context.Context, id string, fn func(*store.App) error) (store.App, error)
	DeleteApp(ctx context.Context, id string) error

	CreateAPIKey(ctx context.Context, k store.APIKey) error
	APIKey(ctx context.Context, key string) (store.APIKey, error)
	APIKeys(ctx context.Context) ([]store.APIKey, error)
	DeleteAPIKey(ctx context.Context, key string) error

	CreateTarget(ctx context.Context, appID string, t store.Target, b store.Blobs, lim store.Limits) error
	UpdateTarget(ctx context.Context, appID string, t store.Target, b store.Blobs, lim store.Limits) error
	DeleteTarget(ctx context.Context, appID, id string) (store.Target, error)
	Target(ctx context.Context, appID, id string) (store.Target, error)
	TrackingImage(ctx context.Context, appID, id string) ([]byte, error)
	Blobs(ctx context.Context, appID, id string) (store.Blobs, error)
	CountTargets(ctx context.Context, appID string) (store.Counts, error)
	ListTargets(ctx context.Context, appID string, offset, limit int) ([]store.Target, int, error)
	ScanTargets(ctx context.Context, appID, after string, limit int) ([]store.Target, string, error)
	LoadFeatures(ctx context.Context, appID, after string, limit int) ([]store.Features, string, error)

	AddUsage(ctx context.Context, appID, day string, d store.UsageDelta) error
	Usage(ctx context.Context, appID, from, to string) ([]store.Usage, error)

	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

// Recognizer is what the API needs of a database's recognition engine;
// *engine.Engine implements it.
type Recognizer interface {
	Prepare(ctx context.Context, img *image.Gray) (*engine.Target, error)
	Add(id string, t *engine.Target, active bool) error
	Remove(id string) bool
	SetActive(id string, active bool) error
	Search(ctx context.Context, query *image.Gray, k int) ([]engine.Result, error)
	Similar(ctx context.Context, img *image.Gray, k int) ([]engine.Result, error)
	Grade(ctx context.Context, img *image.Gray) (engine.Grade, error)
	Len() int
}

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	Store  Store        // required
	Logger *slog.Logger // nil discards
	// AdminToken authenticates /admin/ requests (Authorization: Bearer);
	// empty disables the admin API.
	AdminToken string
	// NewRecognizer makes the engine of one database; nil uses engine.New
	// with the embedded vocabulary, decoded once and shared, and, with
	// EngineDir, a feature file and snapshots per database.
	NewRecognizer func(appID string) (Recognizer, error)
	// EngineDir, when set, is where each database's engine keeps its
	// verification features (out of RAM) and index snapshots, under a
	// folder named after the database. Load then restores the snapshot and
	// replays only what the store changed since, instead of re-indexing
	// every target. Snapshots are written every SnapshotEvery (default 5
	// minutes) when something changed, after Load, and on Close.
	EngineDir     string
	SnapshotEvery time.Duration

	MaxBody       int64         // request body limit, default 8 MiB (413/422)
	MaxImage      int           // decoded image bytes, default 2 MiB (422)
	MaxMeta       int           // meta bytes, default 2 MiB (422)
	Skew          time.Duration // accepted client clock skew, default 5 min
	SearchTimeout time.Duration // search deadline, default 10 s (408/19)
	UsageFlush    time.Duration // how often usage counters are persisted, default 2 s
	Now           func() time.Time
}

// Defaults.
const (
	DefaultMaxBody       = 8 << 20
	DefaultMaxImage      = 2 << 20
	DefaultMaxMeta       = 2 << 20
	DefaultSearchTimeout = 10 * time.Second
	DefaultUsageFlush    = 2 * time.Second
)

// Service is the API over one store. Create it with New, load engines with
// Load, serve Management and Recognition, and Close it on shutdown.
type Service struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	now      func() time.Time
	verifier *auth.Verifier
	tokens   *auth.TokenSigner
	engines  *engines
	limiter  *limiter
	usage    *usageBook
	metrics  *metrics

	mgmt, reco *router

	stopFlush chan struct{}
	flushDone chan struct{}
	snapDone  chan struct{}
	closeOnce sync.Once
}

// New returns a Service over cfg.Store. It reads (creating on first use) the
// token-signing secret and starts the periodic usage flush; Close stops it.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NewRecognizer == nil && cfg.EngineDir != "" {
		cfg.NewRecognizer = diskRecognizers(cfg.EngineDir, cfg.Logger)
	}
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = DefaultSnapshotEvery
	}
	if cfg.NewRecognizer == nil {
		// One decoded vocabulary for every database's engine: it is large
		// and read-only.
		vocab := sync.OnceValues(index.DefaultVocabulary)
		cfg.NewRecognizer = func(string) (Recognizer, error) {
			v, err := vocab()
			if err != nil {
				return nil, err
			}
			return engine.New(engine.Config{Vocabulary: v})
		}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxImage <= 0 {
		cfg.MaxImage = DefaultMaxImage
	}
	if cfg.MaxMeta <= 0 {
		cfg.MaxMeta = DefaultMaxMeta
	}
	if cfg.Skew <= 0 {
		cfg.Skew = auth.DefaultSkew
	}
	if cfg.SearchTimeout <= 0 {
		cfg.SearchTimeout = DefaultSearchTimeout
	}
	if cfg.UsageFlush <= 0 {
		cfg.UsageFlush = DefaultUsageFlush
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	secret, err := cfg.Store.Secret(ctx, "token-signing", func() ([]byte, error) {
		return []byte(store.RandomHex(32)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("api: token secret: %w", err)
	}
	signer, err := auth.NewTokenSigner(secret)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Service{
		cfg:       cfg,
		store:     cfg.Store,
		log:       cfg.Logger,
		now:       cfg.Now,
		tokens:    signer,
		engines:   newEngines(cfg.NewRecognizer),
		limiter:   newLimiter(),
		usage:     newUsageBook(cfg.Store),
		metrics:   newMetrics(),
		stopFlush: make(chan struct{}),
		flushDone: make(chan struct{}),
		snapDone:  make(chan struct{}),
	}
	s.verifier = &auth.Verifier{Keys: keys{cfg.Store}, Tokens: signer, Skew: cfg.Skew, Now: cfg.Now}
	s.mgmt = s.managementRoutes()
	s.reco = s.recognitionRoutes()
	go s.flushLoop()
	if cfg.EngineDir != "" {
		go s.snapshotLoop()
	} else {
		close(s.snapDone)
	}
	return s, nil
}

// Close persists pending usage counters, snapshots engines with changes,
// closes their files and stops background work. It does not close the
// store, which the caller owns.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.stopFlush) })
	<-s.flushDone
	<-s.snapDone
	err := s.usage.Flush(ctx)
	if s.cfg.EngineDir != "" {
		err = errors.Join(err, s.Snapshot(false))
	}
	for _, ae := range s.engines.all() {
		if p, ok := ae.rec.(persistent); ok {
			err = errors.Join(err, p.Close())
		}
	}
	return err
}

func (s *Service) flushLoop() {
	defer close(s.flushDone)
	s.every(s.cfg.UsageFlush, func() {
		if err := s.usage.Flush(context.Background()); err != nil {
			s.log.Warn("usage flush failed; will retry", "err", err)
		}
	})
}

// every calls fn at each interval until the service closes.
func (s *Service) every(interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopFlush:
			return
		case <-t.C:
			fn()
		}
	}
}

// Load builds every database's engine from the stored features (never
// re-extracting) and returns the number of targets loaded. An engine
// restored from a snapshot (Config.EngineDir) is only reconciled with the
// store: what changed since the snapshot is replayed. Otherwise features
// are read page by page and indexed by a pool of workers, since indexing
// (quantising descriptors) is the costly part and the engine runs it outside
// its lock. A target whose features cannot be decoded is logged and skipped,
// so one bad record cannot keep the service down; a store failure stops the
// load.
func (s *Service) Load(ctx context.Context) (int, error) {
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return 0, fmt.Errorf("api: load: %w", err)
	}
	var bulk []store.App
	for _, a := range apps {
		ae, err := s.engines.get(a.ID)
		if err != nil {
			return 0, fmt.Errorf("api: load %s: %w", a.ID, err)
		}
		p, ok := ae.rec.(persistent)
		if !ok || ae.rec.Len() == 0 {
			bulk = append(bulk, a)
			continue
		}
		start := time.Now()
		n, err := s.reconcile(ctx, a.ID, ae, p)
		ae.changes.Add(int64(n))
		if err != nil {
			return 0, err
		}
		s.log.Info("engine restored from snapshot", "appId", a.ID, "targets", ae.rec.Len(), "replayed", n, "took", time.Since(start).Round(time.Millisecond))
	}
	type job struct {
		appID string
		ae    *appEngine
		f     store.Features
	}
	jobs := make(chan job, 2*loadPage)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if s.addStored(j.appID, j.ae.rec, j.f) {
					j.ae.changes.Add(1)
				}
			}
		}()
	}
	err = s.produce(ctx, bulk, func(appID string, ae *appEngine, f store.Features) error {
		select {
		case jobs <- job{appID, ae, f}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, n := range s.engines.sizes() {
		total += n
	}
	for _, a := range bulk {
		if ae, err := s.engines.get(a.ID); err == nil {
			if t, ok := ae.rec.(interface{ Trim() }); ok {
				t.Trim()
			}
		}
	}
	if s.cfg.EngineDir != "" {
		if err := s.Snapshot(false); err != nil {
			s.log.Error("snapshot after load failed", "err", err)
		}
	}
	return total, nil
}

const loadPage = 256

// produce pages through every database's stored features.
func (s *Service) produce(ctx context.Context, apps []store.App, emit func(string, *appEngine, store.Features) error) error {
	for _, a := range apps {
		ae, err := s.engines.get(a.ID)
		if err != nil {
			return fmt.Errorf("api: load %s: %w", a.ID, err)
		}
		for after := ""; ; {
			page, next, err := s.store.LoadFeatures(ctx, a.ID, after, loadPage)
			if err != nil {
				return fmt.Errorf("api: load %s: %w", a.ID, err)
			}
			for _, f := range page {
				if err := emit(a.ID, ae, f); err != nil {
					return fmt.Errorf("api: load %s: %w", a.ID, err)
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	return nil
}

// keys adapts the store to auth.Keys.
type keys struct{ st Store }

func (k keys) APIKey(ctx context.Context, key string) (string, map[string]auth.Perm, bool, error) {
	ak, err := k.st.APIKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	g := make(map[string]auth.Perm, len(ak.Grants))
	for app, p := range ak.Grants {
		g[app] = toAuthPerm(p)
	}
	return ak.Secret, g, true, nil
}

func (k keys) CloudKey(ctx context.Context, appKey string) (string, string, bool, error) {
	a, err := k.st.AppByKey(ctx, appKey)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	return a.ID, a.AppSecret, true, nil
}

func (k keys) AppExists(ctx context.Context, appID string) (bool, error) {
	_, err := k.st.App(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func toAuthPerm(p store.Perm) auth.Perm {
	var q auth.Perm
	if p.Has(store.PermRead) {
		q |= auth.Read
	}
	if p.Has(store.PermWrite) {
		q |= auth.Write
	}
	return q
}

// engines holds one Recognizer per database, created on first use.
type engines struct {
	newRec func(appID string) (Recognizer, error)
	mu     sync.RWMutex
	m      map[string]*appEngine
}

// appEngine is a database's engine and the lock that serialises its writes
// (duplicate check, quota, store write, index) so two creates of the same
// image cannot both pass the duplicate check. Searches never take it: the
// engine is internally synchronised.
type appEngine struct {
	rec   Recognizer
	write sync.Mutex
	// changes counts writes since the last snapshot.
	changes atomic.Int64
}

func newEngines(newRec func(string) (Recognizer, error)) *engines {
	return &engines{newRec: newRec, m: map[string]*appEngine{}}
}

func (e *engines) get(appID string) (*appEngine, error) {
	e.mu.RLock()
	ae := e.m[appID]
	e.mu.RUnlock()
	if ae != nil {
		return ae, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ae = e.m[appID]; ae != nil {
		return ae, nil
	}
	rec, err := e.newRec(appID)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	ae = &appEngine{rec: rec}
	e.m[appID] = ae
	return ae, nil
}

func (e *engines) sizes() map[string]int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make(map[string]int, len(e.m))
	for id, ae := range e.m {
		out[id] = ae.rec.Len()
	}
	return out
}

// all returns the engines created so far.
func (e *engines) all() map[string]*appEngine {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return maps.Clone(e.m)
}

// drop forgets a deleted database's engine and returns it (nil if none).
func (e *engines) drop(appID string) *appEngine {
	e.mu.Lock()
	defer e.mu.Unlock()
	ae := e.m[appID]
	delete(e.m, appID)
	return ae
}
