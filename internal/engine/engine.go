// Package engine is the recognizer: it ties feature extraction, the
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
	"fmt"
	"image"
	"math"
	"slices"
	"sync"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/index"
	"github.com/opencrs/opencrs/internal/verify"
	"github.com/opencrs/opencrs/internal/vision"
)

// Errors callers map to API status codes.
var (
	// ErrNotGradable: the image decodes but has too few usable features to
	// ever be recognised (grade -1; API 417).
	ErrNotGradable = errors.New("engine: image has too few features to be a target")
	// ErrNotFound: no target with that id.
	ErrNotFound = errors.New("engine: target not found")
)

// Config configures an Engine. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Vocabulary quantises descriptors; nil means the embedded default.
	// Engines of many databases should share one.
	Vocabulary *index.Vocabulary

	// TargetMaxSide and QueryMaxSide bound the long side of the images
	// features are extracted from; larger images are area-downscaled first.
	TargetMaxSide int
	QueryMaxSide  int
	// Target and Query configure the extractors. Targets get more pyramid
	// levels than queries so that a target seen small (a poster across the
	// room) still meets target features at its scale.
	Target vision.Config
	Query  vision.Config

	// Retrieval. The bag of words of the whole frame ranks a small target
	// poorly: its few words drown in the background's. So the index is
	// also queried with the words of overlapping windows (Windows×Windows
	// windows, each 1/WindowFraction of the frame's side), and the union of
	// the top candidates is reranked by descriptor matches.
	Shortlist      int     // candidates taken from the whole-frame query
	WindowShort    int     // candidates taken from each window's query
	Windows        int     // windows per side; 0 or 1 disables windows
	WindowFraction float64 // window side = frame side / WindowFraction
	// Verify is how many reranked candidates are verified geometrically.
	Verify int
	// BagOfWords selects retrieval by tf-idf bag-of-words over the frame
	// and windows, reranked by consistent matches, instead of the default
	// Hamming-embedded, geometry-binned votes (index.VoteIndex). It is kept
	// for comparison: it is cheaper per target but loses small targets as
	// the database grows (docs/BENCHMARKS.md).
	BagOfWords bool
	// VoteWords, VoteSlack: words looked up per query descriptor (beam
	// width, and how much farther than the nearest a centroid may be);
	// VoteHamming: largest 128-bit signature distance that votes; VoteMin:
	// votes a candidate needs.
	VoteWords, VoteSlack, VoteHamming, VoteMin int
	// BucketLevel is the vocabulary level whose nodes bound descriptor
	// matching when reranking; VerifyLevel, coarser, bounds it for the
	// candidates verified, where finding every true match matters more.
	BucketLevel int
	VerifyLevel int
	// Match configures descriptor matching.
	Match verify.MatchOptions
	// MinScore is the calibrated score below which a verified candidate is
	// not reported.
	MinScore float64
}

// DefaultConfig returns the tuned configuration (docs/ARCHITECTURE.md
// explains the choices; docs/BENCHMARKS.md the measurements behind them).
func DefaultConfig() Config {
	tc := vision.DefaultConfig()
	tc.MaxFeatures = 1500
	tc.Levels = 12
	qc := vision.DefaultConfig()
	qc.MaxFeatures = 2000
	return Config{
		TargetMaxSide:  640,
		QueryMaxSide:   640,
		Target:         tc,
		Query:          qc,
		Shortlist:      30,
		WindowShort:    12,
		Windows:        5,
		WindowFraction: 3,
		Verify:         12,
		BucketLevel:    2,
		VerifyLevel:    1,
		Match:          verify.MatchOptions{Ratio: 0.9, CrossCheck: true},
		VoteWords:      4,
		VoteSlack:      8,
		VoteHamming:    18,
		VoteMin:        2,
		MinScore:       0.5,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *int }{
		{&c.TargetMaxSide, &d.TargetMaxSide}, {&c.QueryMaxSide, &d.QueryMaxSide},
		{&c.Shortlist, &d.Shortlist}, {&c.WindowShort, &d.WindowShort}, {&c.Windows, &d.Windows},
		{&c.Verify, &d.Verify}, {&c.VoteWords, &d.VoteWords}, {&c.VoteSlack, &d.VoteSlack},
		{&c.VoteHamming, &d.VoteHamming}, {&c.VoteMin, &d.VoteMin},
		{&c.BucketLevel, &d.BucketLevel}, {&c.VerifyLevel, &d.VerifyLevel},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	c.VerifyLevel = min(c.VerifyLevel, c.BucketLevel)
	if c.Target == (vision.Config{}) {
		c.Target = d.Target
	}
	if c.Query == (vision.Config{}) {
		c.Query = d.Query
	}
	if c.WindowFraction <= 1 {
		c.WindowFraction = d.WindowFraction
	}
	if c.Match.MaxDistance == 0 && c.Match.Ratio == 0 && !c.Match.CrossCheck {
		c.Match = d.Match
	}
	if c.MinScore <= 0 {
		c.MinScore = d.MinScore
	}
	return c
}

// Result is one recognised target.
type Result struct {
	ID      string
	Score   float64       // calibrated: >= 0.5 is right >= 99% of the time
	Corners [4][2]float64 // target TL, TR, BR, BL in query pixels
	Inliers int
}

// entry is a target as the engine holds it. Everything but active is
// immutable after Add, so searches may use an entry without the lock.
type entry struct {
	id     string
	doc    uint32
	t      *Target
	words  []uint32
	votes  []index.VoteFeature
	prep   *verify.Prepared
	active bool
}

// Engine holds the targets of one database.
type Engine struct {
	cfg    Config
	vocab  *index.Vocabulary
	target *vision.Extractor
	query  *vision.Extractor
	ix     *index.Index
	votes  *index.VoteIndex
	pool   sync.Pool // *searchScratch

	mu    sync.RWMutex
	byID  map[string]*entry
	byDoc []*entry // by doc id; nil for free ids
	free  []uint32
}

type searchScratch struct {
	qz            quantised
	winWords      []uint32
	idx           []int32
	docs          []candidate
	cands         []index.Candidate
	ranked        []rankedDoc
	pairs, pairs2 []verify.Pair // the pairs of the kept model, and a second try
	whole, coarse *verify.QueryGroups
	coarseBuilt   bool
	vq            []index.VoteQuery
	vw            []uint32
	beam          []index.BeamNode
	winGroups     []winGroup
}

// New returns an empty engine.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	v := cfg.Vocabulary
	if v == nil {
		var err error
		if v, err = index.DefaultVocabulary(); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	cfg.BucketLevel = min(cfg.BucketLevel, v.Depth()-1)
	cfg.VerifyLevel = min(cfg.VerifyLevel, cfg.BucketLevel)
	e := &Engine{
		cfg:    cfg,
		vocab:  v,
		target: vision.NewExtractor(cfg.Target),
		query:  vision.NewExtractor(cfg.Query),
		ix:     index.New(v.Words(), index.Options{}),
		votes:  index.NewVoteIndex(v.Words()),
		byID:   map[string]*entry{},
	}
	e.pool.New = func() any { return new(searchScratch) }
	return e, nil
}

// Config returns the effective configuration.
func (e *Engine) Config() Config { return e.cfg }

// Prepare extracts and grades a target image. It does not add it. It returns
// ErrNotGradable (with the Target, whose grade is -1) when the image cannot be
// recognised.
func (e *Engine) Prepare(ctx context.Context, img *image.Gray) (*Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	small := vision.Resize(img, e.cfg.TargetMaxSide)
	fs := e.target.Extract(small)
	t := &Target{Features: fs, Grade: grade(small, fs), Thumb: thumbnail(small)}
	if t.Grade.Detection < 0 {
		return t, ErrNotGradable
	}
	return t, nil
}

// Grade rates an image as a target without adding it.
func (e *Engine) Grade(ctx context.Context, img *image.Gray) (Grade, error) {
	t, err := e.Prepare(ctx, img)
	if t == nil {
		return Grade{Detection: -1, Tracking: -1}, err
	}
	return t.Grade, nil
}

// quantised is descriptors quantised by the vocabulary: their words, the
// buckets matching is bounded by when reranking, and the coarser ones used
// when verifying.
type quantised struct {
	words, buckets, parents []uint32
}

// lookup fills qz for ds, reusing its slices.
func (e *Engine) lookup(ds []feature.Descriptor, qz *quantised) {
	qz.words, qz.buckets, qz.parents = qz.words[:0], qz.buckets[:0], qz.parents[:0]
	var nodes [16]uint32
	path := nodes[:e.cfg.BucketLevel]
	for i := range ds {
		qz.words = append(qz.words, e.vocab.LookupLevels(&ds[i], path))
		qz.buckets = append(qz.buckets, path[e.cfg.BucketLevel-1])
		qz.parents = append(qz.parents, path[e.cfg.VerifyLevel-1])
	}
}

// Add indexes a prepared target under id, replacing any target with that id.
func (e *Engine) Add(id string, t *Target, active bool) error {
	if t == nil || t.Features == nil || len(t.Features.Descriptors) != len(t.Features.Keypoints) {
		return fmt.Errorf("engine: add %q: malformed target", id)
	}
	en := &entry{id: id, t: t, active: active}
	var qz quantised
	e.lookup(t.Features.Descriptors, &qz)
	en.words = qz.words
	if !e.cfg.BagOfWords {
		en.votes = make([]index.VoteFeature, len(qz.words))
		for i, w := range qz.words {
			k := &t.Features.Keypoints[i]
			en.votes[i] = index.VoteFeature{Word: w, Sig: index.Signature{t.Features.Descriptors[i][0], t.Features.Descriptors[i][1]}, Angle: angleBin(k.Angle), Octave: k.Octave}
		}
		en.words = nil
	}
	en.prep = verify.PrepareCoarse(t.Features, qz.buckets, qz.parents)

	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.byID[id]; ok {
		e.removeLocked(old)
	}
	if n := len(e.free); n > 0 {
		en.doc = e.free[n-1]
		e.free = e.free[:n-1]
		e.byDoc[en.doc] = en
	} else {
		en.doc = uint32(len(e.byDoc))
		e.byDoc = append(e.byDoc, en)
	}
	e.byID[id] = en
	if active {
		if err := e.indexAdd(en); err != nil {
			e.removeLocked(en)
			return fmt.Errorf("engine: add %q: %w", id, err)
		}
	}
	return nil
}

func (e *Engine) removeLocked(en *entry) {
	if en.active {
		e.indexRemove(en)
	}
	delete(e.byID, en.id)
	e.byDoc[en.doc] = nil
	e.free = append(e.free, en.doc)
}

// indexAdd posts an entry to the retrieval index in use.
func (e *Engine) indexAdd(en *entry) error {
	if !e.cfg.BagOfWords {
		return e.votes.Add(en.doc, en.votes)
	}
	return e.ix.Add(en.doc, en.words)
}

func (e *Engine) indexRemove(en *entry) {
	if !e.cfg.BagOfWords {
		e.votes.Remove(en.doc)
		return
	}
	e.ix.Remove(en.doc)
}

// angleBin quantises an orientation in radians for the vote index.
func angleBin(a float32) uint8 {
	b := int(math.Floor(float64(a) / (2 * math.Pi) * index.AngleBins))
	return uint8((b%index.AngleBins + index.AngleBins) % index.AngleBins)
}

// Remove drops a target; it reports whether it existed.
func (e *Engine) Remove(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	en, ok := e.byID[id]
	if ok {
		e.removeLocked(en)
	}
	return ok
}

// SetActive makes a target searchable or not; ErrNotFound if unknown.
// Inactive targets leave the inverted index so they cannot crowd active ones
// out of the candidate list.
func (e *Engine) SetActive(id string, active bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	en, ok := e.byID[id]
	if !ok {
		return ErrNotFound
	}
	if en.active == active {
		return nil
	}
	if active {
		if err := e.indexAdd(en); err != nil {
			return fmt.Errorf("engine: activate %q: %w", id, err)
		}
	} else {
		e.indexRemove(en)
	}
	en.active = active
	return nil
}

// Len returns the number of targets held, active or not.
func (e *Engine) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.byID)
}

// Stats describes the memory an engine holds, for capacity reports.
type Stats struct {
	Targets      int
	Active       int
	IndexBytes   int64 // inverted index
	FeatureBytes int64 // features and matching tables held for verification
}

// Stats returns the current figures.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	s := Stats{Targets: len(e.byID)}
	for _, en := range e.byID {
		if en.active {
			s.Active++
		}
		n := int64(len(en.t.Features.Keypoints))
		// keypoint 24 B + descriptor 32 B, the prepared copy 36 B, words and buckets 8 B.
		s.FeatureBytes += n * (24 + 32 + 36 + 8)
	}
	e.mu.RUnlock()
	if !e.cfg.BagOfWords {
		s.IndexBytes = e.votes.Bytes()
	} else {
		s.IndexBytes = e.ix.Stats().Bytes
	}
	return s
}

// Query is an extracted query image: its features, in the coordinates of
// the image given to ExtractQuery, and the downscaled image they were
// extracted from, for photometric verification.
type Query struct {
	Features *feature.Set
	image    *image.Gray
	scale    float64 // image pixels per pixel of the original query
}

// ExtractQuery extracts the features of a query image, at most QueryMaxSide
// on its long side, in the coordinates of img.
func (e *Engine) ExtractQuery(img *image.Gray) *Query {
	small := vision.Resize(img, e.cfg.QueryMaxSide)
	fs := e.query.Extract(small)
	q := &Query{Features: fs, image: small, scale: 1}
	if sw, w := small.Bounds().Dx(), img.Bounds().Dx(); sw != w {
		sx := float32(w) / float32(sw)
		sy := float32(img.Bounds().Dy()) / float32(small.Bounds().Dy())
		for i := range fs.Keypoints {
			fs.Keypoints[i].X *= sx
			fs.Keypoints[i].Y *= sy
			fs.Keypoints[i].Scale /= sx
		}
		fs.Width, fs.Height = img.Bounds().Dx(), img.Bounds().Dy()
		q.scale = 1 / float64(sx)
	}
	return q
}

// Search returns up to k active targets the query shows, best first; empty
// when none.
func (e *Engine) Search(ctx context.Context, query *image.Gray, k int) ([]Result, error) {
	return e.SearchQuery(ctx, e.ExtractQuery(query), k)
}

// Similar returns up to k active targets that the image matches, best first;
// the service uses it to refuse duplicates on create and update.
func (e *Engine) Similar(ctx context.Context, img *image.Gray, k int) ([]Result, error) {
	return e.SearchQuery(ctx, e.ExtractQuery(img), k)
}

// SearchQuery is Search on an extracted query.
func (e *Engine) SearchQuery(ctx context.Context, q *Query, k int) ([]Result, error) {
	if k <= 0 {
		k = 1
	}
	var out []Result
	err := e.verifyCandidates(ctx, q, func(en *entry, v *Verified) {
		if v.Score >= e.cfg.MinScore {
			out = append(out, Result{ID: en.id, Score: v.Score, Corners: v.Result.Corners, Inliers: v.Result.Inliers})
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Result) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return b.Inliers - a.Inliers
	})
	if len(out) > k {
		out = out[:k]
	}
	return out, nil
}

// Verified is a candidate that passed geometric verification, with the
// measurements the score is computed from.
type Verified struct {
	ID     string
	Score  float64
	Result verify.Result
	// Photo is the share of visible thumbnail cells that agree with the
	// query under the homography (1 when none could be judged).
	Photo float64
	// VisibleCoverage is the share of the target's feature-bearing cells
	// inside the query frame that hold an inlier.
	VisibleCoverage float64
}

// Explain returns every candidate of the query that passed geometric
// verification, whatever its score, for calibration and debugging.
func (e *Engine) Explain(ctx context.Context, q *Query) ([]Verified, error) {
	var out []Verified
	err := e.verifyCandidates(ctx, q, func(en *entry, v *Verified) {
		out = append(out, *v)
	})
	return out, err
}

// verifyCandidates retrieves the candidates of q, reranks them by
// consistent descriptor matches and calls found for each of the best that
// verifies geometrically.
func (e *Engine) verifyCandidates(ctx context.Context, query *Query, found func(*entry, *Verified)) error {
	q := query.Features
	if len(q.Descriptors) < 8 {
		return nil
	}
	sc := e.pool.Get().(*searchScratch)
	defer e.pool.Put(sc)
	e.lookup(q.Descriptors, &sc.qz)
	sc.whole = verify.GroupQuery(sc.qz.buckets, nil, sc.whole)
	if !e.cfg.BagOfWords {
		e.retrieveVotes(q, sc)
	} else {
		e.retrieve(q, sc)
		e.rerank(q, sc)
	}
	if len(sc.ranked) == 0 {
		return nil
	}

	// Verify the best candidates. Matching within the fine buckets of the
	// rerank is cheap and suffices for clear views; only when that fails is
	// the candidate matched again within the coarse buckets, which finds
	// more of the true pairs of a small or blurred target at ten times the
	// cost. Once a hit is certain, candidates with far less evidence are
	// not worth verifying.
	sc.coarseBuilt = false
	best := 0
	for i, c := range sc.ranked {
		if i >= e.cfg.Verify || c.matches*4 < best {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sc.pairs = verify.MatchGroups(q, sc.whole, c.en.prep, false, e.cfg.Match, sc.pairs[:0])
		r := verify.Verify(q, c.en.t.Features, sc.pairs, verify.Options{})
		if !r.OK || r.Inliers < 2*verify.DefaultMinInliers {
			if !sc.coarseBuilt {
				sc.coarse = verify.GroupQuery(sc.qz.parents, nil, sc.coarse)
				sc.coarseBuilt = true
			}
			sc.pairs2 = verify.MatchGroups(q, sc.coarse, c.en.prep, true, e.cfg.Match, sc.pairs2[:0])
			if r2 := verify.Verify(q, c.en.t.Features, sc.pairs2, verify.Options{}); r2.OK && r2.Inliers > r.Inliers {
				r = r2
				sc.pairs, sc.pairs2 = sc.pairs2, sc.pairs
			} else if !r.OK {
				continue
			}
		}
		tf := c.en.t.Features
		photo, _ := photoAgreement(query, c.en.t.Thumb, float64(tf.Width), float64(tf.Height), r.H)
		v := Verified{ID: c.en.id, Result: r, Photo: photo, VisibleCoverage: visibleCoverage(q, tf, sc.pairs, &r)}
		v.Score = score(&v)
		found(c.en, &v)
		if v.Score >= e.cfg.MinScore {
			best = max(best, r.Inliers)
		}
	}
	return nil
}

// rerank orders the retrieved candidates by consistent matches.
func (e *Engine) rerank(q *feature.Set, sc *searchScratch) {
	// Rerank: the number of geometrically consistent matches is a far
	// stronger signal than bag-of-words similarity. A candidate found by a
	// window is matched with the query descriptors around that window only,
	// which is where its evidence is and costs a fraction of the whole.
	for i := range sc.winGroups {
		sc.winGroups[i].built = false
	}
	sc.ranked = sc.ranked[:0]
	for _, c := range sc.docs {
		en := e.entryOf(c.doc)
		if en == nil {
			continue
		}
		g := sc.whole
		if c.window >= 0 {
			g = e.windowGroups(q, sc, c.window)
		}
		sc.pairs = verify.MatchGroups(q, g, en.prep, false, e.cfg.Match, sc.pairs[:0])
		if len(sc.pairs) < minConsistent {
			continue
		}
		if n := consistentMatches(q, en.t.Features, sc.pairs); n >= minConsistent {
			sc.ranked = append(sc.ranked, rankedDoc{en: en, matches: n})
		}
	}
	slices.SortFunc(sc.ranked, func(a, b rankedDoc) int { return b.matches - a.matches })
}

// retrieveVotes fills sc.ranked from the vote index.
func (e *Engine) retrieveVotes(q *feature.Set, sc *searchScratch) {
	sc.vq = sc.vq[:0]
	sc.vw = sc.vw[:0]
	for i := range q.Descriptors {
		lo := len(sc.vw)
		sc.vw, sc.beam = e.vocab.LookupMulti(&q.Descriptors[i], e.cfg.VoteSlack, e.cfg.VoteWords, sc.vw, sc.beam)
		k := &q.Keypoints[i]
		sc.vq = append(sc.vq, index.VoteQuery{Words: sc.vw[lo:len(sc.vw):len(sc.vw)], Sig: index.Signature{q.Descriptors[i][0], q.Descriptors[i][1]}, Angle: angleBin(k.Angle), Octave: k.Octave})
	}
	// Words were appended to one buffer that may have moved: re-slice.
	off := 0
	for i := range sc.vq {
		n := len(sc.vq[i].Words)
		sc.vq[i].Words = sc.vw[off : off+n]
		off += n
	}
	sc.cands = e.votes.Query(sc.vq, e.cfg.VoteHamming, e.cfg.VoteMin, e.cfg.Verify, sc.cands[:0])
	sc.ranked = sc.ranked[:0]
	for _, c := range sc.cands {
		if en := e.entryOf(c.Doc); en != nil {
			sc.ranked = append(sc.ranked, rankedDoc{en: en, matches: int(c.Score)})
		}
	}
}

// entryOf returns the active entry of doc, or nil.
func (e *Engine) entryOf(doc uint32) *entry {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if int(doc) < len(e.byDoc) {
		if en := e.byDoc[doc]; en != nil && en.active {
			return en
		}
	}
	return nil
}

// candidate is a retrieved document and the window whose query found it
// (-1: the whole frame).
type candidate struct {
	doc    uint32
	window int
}

// windowRect returns window w of the grid, grown by grow times its size on
// every side, in query pixels.
func (e *Engine) windowRect(q *feature.Set, w int, grow float32) (x0, y0, x1, y1 float32) {
	g := e.cfg.Windows
	fw, fh := float32(q.Width), float32(q.Height)
	ww, wh := fw/float32(e.cfg.WindowFraction), fh/float32(e.cfg.WindowFraction)
	gx, gy := w%g, w/g
	x0 = (fw - ww) * float32(gx) / float32(g-1)
	y0 = (fh - wh) * float32(gy) / float32(g-1)
	return x0 - grow*ww, y0 - grow*wh, x0 + ww + grow*ww, y0 + wh + grow*wh
}

// windowGroups returns the grouped descriptors around window w, built on
// first use for this query.
func (e *Engine) windowGroups(q *feature.Set, sc *searchScratch, w int) *verify.QueryGroups {
	for len(sc.winGroups) <= w {
		sc.winGroups = append(sc.winGroups, winGroup{})
	}
	wg := &sc.winGroups[w]
	if !wg.built {
		// Half a window's size on each side: a target straddling the
		// window still brings its matches.
		x0, y0, x1, y1 := e.windowRect(q, w, 0.5)
		sc.idx = sc.idx[:0]
		for i, k := range q.Keypoints {
			if k.X >= x0 && k.X < x1 && k.Y >= y0 && k.Y < y1 {
				sc.idx = append(sc.idx, int32(i))
			}
		}
		wg.g = verify.GroupQuery(sc.qz.buckets, sc.idx, wg.g)
		wg.built = true
	}
	return wg.g
}

// retrieve fills sc.docs with the distinct candidates of the whole frame's
// and the windows' index queries.
func (e *Engine) retrieve(q *feature.Set, sc *searchScratch) {
	sc.docs = sc.docs[:0]
	add := func(cs []index.Candidate, window int) {
	next:
		for _, c := range cs {
			for _, d := range sc.docs {
				if d.doc == c.Doc {
					continue next
				}
			}
			sc.docs = append(sc.docs, candidate{doc: c.Doc, window: window})
		}
	}
	sc.cands = e.ix.Query(sc.qz.words, e.cfg.Shortlist, sc.cands[:0])
	add(sc.cands, -1)
	g := e.cfg.Windows
	if g < 2 {
		return
	}
	for w := 0; w < g*g; w++ {
		x0, y0, x1, y1 := e.windowRect(q, w, 0)
		sc.winWords = sc.winWords[:0]
		for i, k := range q.Keypoints {
			if k.X >= x0 && k.X < x1 && k.Y >= y0 && k.Y < y1 {
				sc.winWords = append(sc.winWords, sc.qz.words[i])
			}
		}
		sc.cands = e.ix.Query(sc.winWords, e.cfg.WindowShort, sc.cands[:0])
		add(sc.cands, w)
	}
}

type winGroup struct {
	g     *verify.QueryGroups
	built bool
}

type rankedDoc struct {
	en      *entry
	matches int
}
