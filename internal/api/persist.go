package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/index"
	"github.com/opencrs/opencrs/internal/store"
)

// persistent is what a Recognizer offers when it keeps its index on disk
// (*engine.Engine with a feature file): snapshots, and the versions of the
// targets it holds so that a restart replays only what changed since.
type persistent interface {
	AddVersion(id string, t *engine.Target, active bool, version uint64) error
	Versions() map[string]engine.TargetState
	WriteSnapshot(path string) error
	Close() error
}

// Engine files of one database under Config.EngineDir.
const (
	featureFileName  = "features"
	snapshotFileName = "snapshot"
)

// DefaultSnapshotEvery is how often engines with changes are snapshotted.
const DefaultSnapshotEvery = 5 * time.Minute

// diskRecognizers returns the NewRecognizer of Config.EngineDir: each
// database's engine keeps its verification features in a file and restores
// its index from the last snapshot, or starts empty when there is none or it
// cannot be used (the store is the truth; Load replays it).
func diskRecognizers(dir string, log interface {
	Warn(string, ...any)
}) func(appID string) (Recognizer, error) {
	vocab := sync.OnceValues(index.DefaultVocabulary)
	return func(appID string) (Recognizer, error) {
		v, err := vocab()
		if err != nil {
			return nil, err
		}
		d := filepath.Join(dir, appID)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("engine directory: %w", err)
		}
		cfg := engine.Config{Vocabulary: v, FeatureFile: filepath.Join(d, featureFileName)}
		snap := filepath.Join(d, snapshotFileName)
		e, err := engine.Open(cfg, snap)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("engine snapshot unusable, rebuilding from the store", "appId", appID, "err", err)
		}
		return engine.New(cfg)
	}
}

// addTarget indexes t under the version the store gave it (its modification
// time), so that a snapshot knows which version of the target it holds.
func addTarget(rec Recognizer, id string, t *engine.Target, active bool, modified int64) error {
	if p, ok := rec.(persistent); ok {
		return p.AddVersion(id, t, active, uint64(modified))
	}
	return rec.Add(id, t, active)
}

// reconcile brings an engine restored from a snapshot level with the store:
// targets created or given a new image since are added from their stored
// features, deleted ones removed, (de)activations applied. This is what
// makes a crash between a store write and the next snapshot harmless. It
// returns how many targets it changed.
func (s *Service) reconcile(ctx context.Context, appID string, ae *appEngine, p persistent) (int, error) {
	have := p.Versions()
	var (
		mu       sync.Mutex // guards changed and firstErr
		changed  int
		firstErr error
	)
	type job struct{ t store.Target }
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := s.replay(ctx, appID, ae.rec, j.t)
				mu.Lock()
				if err == nil {
					changed++
				} else if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	var scanErr error
	for after := ""; ; {
		page, next, err := s.store.ScanTargets(ctx, appID, after, loadPage)
		if err != nil {
			scanErr = err
			break
		}
		for _, t := range page {
			st, ok := have[t.ID]
			delete(have, t.ID)
			switch {
			case !ok || st.Version != uint64(t.Modified):
				jobs <- job{t}
			case st.Active != t.Active:
				if err := ae.rec.SetActive(t.ID, t.Active); err != nil {
					s.log.Error("reconcile: activation failed", "appId", appID, "targetId", t.ID, "err", err)
				}
				mu.Lock()
				changed++
				mu.Unlock()
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	close(jobs)
	wg.Wait()
	if scanErr != nil {
		return changed, fmt.Errorf("api: reconcile %s: %w", appID, scanErr)
	}
	if firstErr != nil && storeFault(firstErr) != nil {
		return changed, fmt.Errorf("api: reconcile %s: %w", appID, firstErr)
	}
	for id := range have {
		ae.rec.Remove(id)
		changed++
	}
	return changed, nil
}

// replay re-adds one target from its stored features.
func (s *Service) replay(ctx context.Context, appID string, rec Recognizer, t store.Target) error {
	blobs, err := s.store.Blobs(ctx, appID, t.ID)
	if err != nil {
		return err
	}
	if !s.addStored(appID, rec, store.Features{ID: t.ID, Active: t.Active, Modified: t.Modified, Features: blobs.Features}) {
		rec.Remove(t.ID) // an older version must not stay searchable
	}
	return nil
}

// addStored indexes a target from its stored features; it logs and reports
// false when they cannot be decoded or the engine refuses them, so that one
// bad record never keeps the service down.
func (s *Service) addStored(appID string, rec Recognizer, f store.Features) bool {
	var t engine.Target
	if err := t.UnmarshalBinary(f.Features); err != nil {
		s.log.Error("skipping target with corrupt features", "appId", appID, "targetId", f.ID, "err", err)
		return false
	}
	if err := addTarget(rec, f.ID, &t, f.Active, f.Modified); err != nil {
		s.log.Error("skipping target the engine refused", "appId", appID, "targetId", f.ID, "err", err)
		return false
	}
	return true
}

// Snapshot writes the snapshot of every on-disk engine that changed since
// its last one (all of them with force).
func (s *Service) Snapshot(force bool) error {
	var errs []error
	for appID, ae := range s.engines.all() {
		p, ok := ae.rec.(persistent)
		if !ok || s.cfg.EngineDir == "" {
			continue
		}
		n := ae.changes.Swap(0)
		if n == 0 && !force {
			continue
		}
		start := time.Now()
		if err := p.WriteSnapshot(filepath.Join(s.cfg.EngineDir, appID, snapshotFileName)); err != nil {
			ae.changes.Add(n)
			errs = append(errs, fmt.Errorf("api: snapshot %s: %w", appID, err))
			continue
		}
		s.log.Info("engine snapshot written", "appId", appID, "targets", ae.rec.Len(), "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

func (s *Service) snapshotLoop() {
	defer close(s.snapDone)
	s.every(s.cfg.SnapshotEvery, func() {
		if err := s.Snapshot(false); err != nil {
			s.log.Error("periodic snapshot failed", "err", err)
		}
	})
}
