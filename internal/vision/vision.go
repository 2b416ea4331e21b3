// Package vision extracts oriented multi-scale binary features from grey
// images: FAST-9 corners on an image pyramid, ranked by Harris response,
// spread over the frame with per-level grid bucketing, oriented by the
// intensity centroid and described by 256 smoothed intensity comparisons on a
// rotated 31x31 patch (an ORB-like design with our own test pattern).
//
// Stored targets keep their descriptors forever, so the descriptor layout
// (test pattern, smoothing, angle quantisation, bit order) must never change
// without versioning the feature encoding.
package vision

import (
	"image"
	"math"
	"sync"

	"github.com/opencrs/opencrs/internal/feature"
)

// Config tunes an Extractor. Zero fields take the defaults of DefaultConfig.
type Config struct {
	MaxFeatures   int     // default 1000
	Levels        int     // default 8
	ScaleFactor   float64 // default 1.2
	FastThreshold int     // default 20
	MinThreshold  int     // default 7, fallback in flat cells
	CellSize      int     // grid bucketing cell in pixels, default 32
}

// DefaultConfig returns the tuned defaults.
func DefaultConfig() Config {
	return Config{
		MaxFeatures:   1000,
		Levels:        8,
		ScaleFactor:   1.2,
		FastThreshold: 20,
		MinThreshold:  7,
		CellSize:      32,
	}
}

const (
	// border keeps every keypoint far enough from the level edge that the
	// orientation circle (radius 15) and the rotated, box-smoothed tests
	// (points within radius 12.5, 5x5 boxes) stay inside the image, so the
	// hot loops need no clamping.
	border = 16
	// minLevelSide is the smallest level side worth scanning: a few pixels
	// of interior beyond the border on each side.
	minLevelSide = 2*border + 8
	// angleBins quantises orientation for the pre-rotated test tables.
	// 32 bins (11.25°) cost little distinctiveness, and a quarter turn is
	// exactly 8 bins, so portrait and landscape shots of a target quantise
	// alike.
	angleBins = 32
	// maxLevels bounds Config.Levels so a silly value cannot allocate much.
	maxLevels = 32
)

// Extractor extracts features. It is immutable after NewExtractor and safe
// for concurrent use; scratch memory is pooled so steady-state calls allocate
// little beyond the returned Set.
type Extractor struct {
	cfg    Config
	scales []float64 // scales[l] = ScaleFactor^l
	// rot[b] holds the pattern points rotated by bin b's angle: integer
	// tables keep trigonometry and rounding out of the descriptor loop.
	rot  [angleBins][numPoints][2]int8
	pool sync.Pool // of *scratch
}

// NewExtractor returns an Extractor for cfg; zero or invalid fields take
// their defaults.
func NewExtractor(cfg Config) *Extractor {
	d := DefaultConfig()
	if cfg.MaxFeatures <= 0 {
		cfg.MaxFeatures = d.MaxFeatures
	}
	if cfg.Levels <= 0 {
		cfg.Levels = d.Levels
	}
	if cfg.Levels > maxLevels {
		cfg.Levels = maxLevels
	}
	if !(cfg.ScaleFactor > 1) || math.IsInf(cfg.ScaleFactor, 0) {
		cfg.ScaleFactor = d.ScaleFactor
	}
	if cfg.FastThreshold <= 0 {
		cfg.FastThreshold = d.FastThreshold
	}
	cfg.FastThreshold = min(cfg.FastThreshold, 254)
	if cfg.MinThreshold <= 0 {
		cfg.MinThreshold = d.MinThreshold
	}
	cfg.MinThreshold = min(cfg.MinThreshold, cfg.FastThreshold)
	if cfg.CellSize <= 0 {
		cfg.CellSize = d.CellSize
	}
	cfg.CellSize = max(cfg.CellSize, 8)

	e := &Extractor{cfg: cfg}
	e.scales = make([]float64, cfg.Levels)
	s := 1.0
	for l := range e.scales {
		e.scales[l] = s
		s *= cfg.ScaleFactor
	}
	e.rot = rotatedPattern()
	e.pool.New = func() any { return new(scratch) }
	return e
}

// Config returns the effective configuration, defaults filled in.
func (e *Extractor) Config() Config { return e.cfg }

// Extract detects and describes up to MaxFeatures features of img. Images too
// small to hold a descriptor patch yield an empty Set.
func (e *Extractor) Extract(img *image.Gray) *feature.Set {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	set := &feature.Set{Width: w, Height: h}
	if w < minLevelSide || h < minLevelSide {
		return set
	}
	sc := e.pool.Get().(*scratch)
	defer e.pool.Put(sc)

	levels := e.buildPyramid(sc, img)
	budgets := e.budgets(levels)

	set.Keypoints = make([]feature.Keypoint, 0, e.cfg.MaxFeatures)
	set.Descriptors = make([]feature.Descriptor, 0, e.cfg.MaxFeatures)
	carry := 0
	for l := range levels {
		lv := &levels[l]
		want := budgets[l] + carry
		kps := e.detect(sc, lv, want)
		carry = want - len(kps)
		if len(kps) == 0 {
			continue
		}
		e.describeLevel(sc, lv, kps, l, set)
	}
	return set
}

// budgets splits MaxFeatures over the levels geometrically, as ORB does: a
// level with 1/s² the area gets 1/s the features, which keeps coarse levels
// (large, blurry structures) from crowding out fine detail.
func (e *Extractor) budgets(levels []level) []int {
	n := len(levels)
	f := 1 / e.cfg.ScaleFactor
	first := float64(e.cfg.MaxFeatures) * (1 - f) / (1 - math.Pow(f, float64(n)))
	out := make([]int, n)
	total := 0
	share := first
	for l := range n - 1 {
		out[l] = int(math.Round(share))
		total += out[l]
		share *= f
	}
	out[n-1] = max(e.cfg.MaxFeatures-total, 0)
	return out
}

// scratch is the per-call working memory, pooled by the Extractor.
type scratch struct {
	pyr     []byte   // all pyramid levels except an aliased level 0
	levels  []level  // level descriptions into pyr
	score   []uint16 // FAST score map of the current level, 0 = no corner
	hits    []hit    // FAST corners of the current level
	cand    []int32  // FAST pre-test survivors of one row
	corners []corner // FAST corners after non-maximum suppression
	start   []int32  // per-cell start offsets into sorted
	sorted  []corner // corners grouped by cell
	cellCnt []int32  // per-cell counts, fill positions, shortlist lengths
	picked  []corner // selected corners of the current level
	round   []corner // one round-robin round
	ii      []uint16 // wrapping integral image of the current level
	xmap    []int32  // resize: source column per destination column
	xwt     []int32  // resize: weight of the right neighbour (0..256)
	vEven   []byte   // 6:5 resize: vertical blends of even columns
	vOdd    []byte   // 6:5 resize: vertical blends of odd columns
	offs    [maxLevels]offsetTable
}

// level is one pyramid level: a tightly packed grey image.
type level struct {
	pix   []byte
	w, h  int
	scale float64 // level-0 pixels per level pixel
}

// corner is a candidate keypoint on one level.
type corner struct {
	x, y  int32
	score int32 // FAST score
	cell  int32
	resp  float32 // Harris response
	angle float32
}
