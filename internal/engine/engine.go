// Package engine is the recognizer: it ties decoding, feature extraction, the
// vocabulary index and geometric verification together behind one type that
// holds the targets of one database. It knows nothing of HTTP or storage; the
// service persists Target values (see Target.MarshalBinary) and re-adds them
// on start without re-extracting.
//
// An Engine is safe for concurrent use: searches proceed while targets are
// added, removed or (de)activated.
package engine

import (
	"context"
	"errors"
	"image"

	"github.com/opencrs/opencrs/internal/feature"
)

// Errors callers map to API status codes.
var (
	// ErrNotGradable: the image decodes but has too few usable features to
	// ever be recognised (grade -1; API 417).
	ErrNotGradable = errors.New("engine: image has too few features to be a target")
	// ErrNotFound: no target with that id.
	ErrNotFound = errors.New("engine: target not found")
)

// Config configures an Engine. The zero value uses the embedded vocabulary and
// tuned defaults.
type Config struct{}

// Target is the prepared, storable form of a target image: its features and
// its grades. Produce it with Engine.Prepare, persist it with MarshalBinary.
type Target struct {
	Features *feature.Set
	Grade    Grade
}

// Grade is EasyAR's 0 (best) … 4 (worst) rating, -1 when it cannot be used,
// with the measurements behind it.
type Grade struct {
	Detection int // detectableRate
	Tracking  int // trackableRate

	DetectionDistinctiveness    int
	DetectionFeatureCount       int
	TrackingDistinctiveness     int
	TrackingFeatureCount        int
	TrackingFeatureDistribution int
	TrackingPatchContrast       int
	TrackingPatchAmbiguity      int
}

// Result is one recognised target.
type Result struct {
	ID      string
	Score   float64       // calibrated: >= 0.5 is right >= 99% of the time
	Corners [4][2]float64 // target TL, TR, BR, BL in query pixels
	Inliers int
}

// Engine holds the targets of one database.
type Engine struct{}

// New returns an empty engine.
func New(cfg Config) (*Engine, error) { return &Engine{}, nil }

// Prepare extracts and grades a target image. It does not add it.
func (e *Engine) Prepare(ctx context.Context, img *image.Gray) (*Target, error) {
	return nil, errors.New("engine: not implemented yet")
}

// Add indexes a prepared target under id (replacing any target with that id).
func (e *Engine) Add(id string, t *Target, active bool) error {
	return errors.New("engine: not implemented yet")
}

// Remove drops a target; it reports whether it existed.
func (e *Engine) Remove(id string) bool { return false }

// SetActive makes a target searchable or not; ErrNotFound if unknown.
func (e *Engine) SetActive(id string, active bool) error { return ErrNotFound }

// Search returns up to k active targets the query shows, best first; empty when none.
func (e *Engine) Search(ctx context.Context, query *image.Gray, k int) ([]Result, error) {
	return nil, errors.New("engine: not implemented yet")
}

// Similar returns up to k targets (active or not) that the image matches,
// best first; used to refuse duplicates on create/update.
func (e *Engine) Similar(ctx context.Context, img *image.Gray, k int) ([]Result, error) {
	return nil, errors.New("engine: not implemented yet")
}

// Grade rates an image as a target without adding it.
func (e *Engine) Grade(ctx context.Context, img *image.Gray) (Grade, error) {
	return Grade{}, errors.New("engine: not implemented yet")
}

// Len returns the number of targets held.
func (e *Engine) Len() int { return 0 }

// MarshalBinary encodes a prepared target (versioned).
func (t *Target) MarshalBinary() ([]byte, error) {
	return nil, errors.New("engine: not implemented yet")
}

// UnmarshalBinary decodes what MarshalBinary produced.
func (t *Target) UnmarshalBinary(b []byte) error { return errors.New("engine: not implemented yet") }
