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
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/opencrs/opencrs/internal/blobfile"
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
	// Verify is how many candidates may be verified geometrically (the
	// search stops earlier once one is certain). When matching within the
	// fine vocabulary buckets fails, a candidate is matched again within
	// the coarse ones, which finds more true pairs of a small or blurred
	// view at several times the cost: the first VerifyCoarse candidates
	// always (negative: none), later ones only when the fine match already
	// found coarseGate consistent pairs. At 10k targets the true target of
	// a far or blurred view often ranks below the 12th, among distractors
	// with as few votes: verifying 48 kept 3 more hard and extreme views
	// than 12, and the gate holds the p99 to 64 ms where the coarse match
	// of 24 candidates took 79 (docs/BENCHMARKS.md).
	Verify       int
	VerifyCoarse int
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
	// VoteSigBits is the signature each posting keeps: 64 or 128 bits of
	// the descriptor. 64 bits halve the index (about 10 bytes a posting
	// instead of 18), which is what lets 100k targets fit in a few GB, for
	// a few points of recall on hard views (docs/BENCHMARKS.md); VoteHamming
	// must suit it (about 10 for 64, 18 for 128).
	VoteSigBits int
	// VoteStopFactor: words whose lists are longer than this many times
	// the average are not looked up (index.VoteOptions).
	VoteStopFactor int
	// VoteParallel: goroutines that scan the posting lists of one search
	// once the index holds more than parallelPostings postings, and that
	// verify the candidates after the first VerifyCoarse when none of
	// those was a hit (default: GOMAXPROCS; 1 keeps a search on its own
	// goroutine). It shortens a search on a large database when cores are
	// idle; under full load it neither helps nor hurts throughput.
	VoteParallel int
	// VoteMaxPostings, when positive, indexes at most that many of a
	// target's descriptors (evenly over its feature list, so every pyramid
	// level keeps its share), second words (VoteSecondLevel) included;
	// verification still uses all of them. It
	// trades recall of small, blurred views for index memory, which is
	// what bounds a database of a million targets (docs/CAPACITY.md).
	VoteMaxPostings int
	// VoteRescore: how many of the best-voted targets get the translation
	// check (index.VoteOptions.Rescore; negative disables it), and
	// VoteCell its grid cell as a fraction of the target's side in the
	// query.
	VoteRescore int
	VoteCell    float64
	// VoteHammingSigma weighs each vote by its signature distance d as
	// exp(−d²/σ²) (index.VoteOptions.HammingSigma; 0 means 16, negative
	// disables).
	VoteHammingSigma float64
	// VoteSecondLevel, VoteSecondSlack: target descriptors from this
	// pyramid level on (the coarse levels, which far-away and blurred views
	// match) are also posted under their second-nearest word, when a beam
	// descent with this slack reaches one: true pairs of binary
	// descriptors often part at the vocabulary tree's second level, and a
	// small view has few pairs to lose (0 means level 8, slack 2; a
	// negative level disables). At level 8, 8% more index for 1 point of
	// hard and 3 of extreme recall at 10k targets, 2.4 and 2.5 at 100k;
	// level 6 gains 1.5 more of each at 10k for 16% more index, which at
	// 100k would pass 2.5 GB (docs/BENCHMARKS.md).
	VoteSecondLevel, VoteSecondSlack int
	// VoteBurst: query descriptors within this Hamming distance (of 256
	// bits) of one another in the same vocabulary word are taken as
	// repeats of one texture element, and share their votes (0 means 64;
	// negative disables). See burstWeights.
	VoteBurst int
	// BucketLevel is the vocabulary level whose nodes bound descriptor
	// matching when reranking; VerifyLevel, coarser, bounds it for the
	// candidates verified, where finding every true match matters more.
	BucketLevel int
	VerifyLevel int
	// Match configures descriptor matching.
	Match verify.MatchOptions
	// FeatureFile, when set, is a file (created if missing) that holds the
	// targets' verification features instead of RAM, read back for the few
	// candidates of each search; FeatureCache decoded targets stay cached.
	// Large databases want it: in RAM a target costs some 150 KB.
	FeatureFile  string
	FeatureCache int
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
		TargetMaxSide:    640,
		QueryMaxSide:     640,
		Target:           tc,
		Query:            qc,
		Shortlist:        30,
		WindowShort:      12,
		Windows:          5,
		WindowFraction:   3,
		Verify:           48,
		VerifyCoarse:     12,
		BucketLevel:      2,
		VerifyLevel:      1,
		Match:            verify.MatchOptions{Ratio: 0.9, CrossCheck: true},
		VoteWords:        4,
		VoteSlack:        8,
		VoteHamming:      10,
		VoteSigBits:      64,
		VoteStopFactor:   10,
		VoteParallel:     runtime.GOMAXPROCS(0),
		VoteMin:          1,
		VoteRescore:      1000,
		VoteHammingSigma: 16,
		VoteCell:         index.DefaultCell,
		VoteBurst:        64,
		VoteSecondLevel:  8,
		VoteSecondSlack:  2,
		FeatureCache:     256,
		MinScore:         0.5,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *int }{
		{&c.TargetMaxSide, &d.TargetMaxSide}, {&c.QueryMaxSide, &d.QueryMaxSide},
		{&c.Shortlist, &d.Shortlist}, {&c.WindowShort, &d.WindowShort}, {&c.Windows, &d.Windows},
		{&c.Verify, &d.Verify}, {&c.VoteWords, &d.VoteWords}, {&c.VoteSlack, &d.VoteSlack},
		{&c.VoteHamming, &d.VoteHamming}, {&c.VoteMin, &d.VoteMin}, {&c.VoteSigBits, &d.VoteSigBits},
		{&c.VoteStopFactor, &d.VoteStopFactor}, {&c.VoteParallel, &d.VoteParallel},
		{&c.FeatureCache, &d.FeatureCache},
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
	if c.VoteBurst == 0 {
		c.VoteBurst = d.VoteBurst
	}
	if c.VoteSecondLevel == 0 {
		c.VoteSecondLevel = d.VoteSecondLevel
	}
	if c.VoteSecondSlack <= 0 {
		c.VoteSecondSlack = d.VoteSecondSlack
	}
	if c.VoteRescore == 0 {
		c.VoteRescore = d.VoteRescore
	}
	if !(c.VoteCell > 0) {
		c.VoteCell = d.VoteCell
	}
	if c.VoteHammingSigma == 0 {
		c.VoteHammingSigma = d.VoteHammingSigma
	}
	if c.VerifyCoarse == 0 {
		c.VerifyCoarse = d.VerifyCoarse
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

// entry is a target as the engine holds it: in RAM (mem) or as a record of
// the feature file (ref). Only active and doc change after Add, under the
// engine's lock; searches use the rest without it.
type entry struct {
	id      string
	doc     uint32
	mem     *loaded
	ref     blobfile.Ref
	active  bool
	version uint64
}

// Engine holds the targets of one database.
type Engine struct {
	cfg    Config
	vocab  *index.Vocabulary
	target *vision.Extractor
	query  *vision.Extractor
	ix     *index.Index
	votes  *index.VoteIndex
	spill  *spill    // nil: features in RAM
	pool   sync.Pool // *searchScratch

	mu    sync.RWMutex
	byID  map[string]*entry
	byDoc []*entry // by doc id; nil for unused ids
	// Doc ids are not reused while the vote index may hold postings of
	// their previous owner; free holds the ids known to be clear.
	free []uint32
}

type searchScratch struct {
	qz            quantised
	winWords      []uint32
	idx           []int32
	docs          []candidate
	cands         []index.Candidate
	ranked        []rankedDoc
	vs            verifyScratch   // the calling goroutine's
	workers       []verifyScratch // verifyRest's
	rest          []restResult
	whole, coarse *verify.QueryGroups
	coarseBuilt   bool
	vq            []index.VoteQuery
	burst, order  []int32
	vw            []uint32
	beam          []index.BeamNode
	winGroups     []winGroup
}

// New returns an empty engine. A feature file, if configured, starts empty.
func New(cfg Config) (*Engine, error) { return newEngine(cfg, 0) }

// newEngine opens the feature file cut to truncate bytes (-1: as it is).
func newEngine(cfg Config, truncate int64) (*Engine, error) {
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
	if cfg.VoteRescore > 0 && !cfg.BagOfWords {
		// The translation check turns a pair's pyramid levels into a
		// scale with the index's fixed step; another step would misplace
		// every predicted centre without any error showing.
		for _, c := range []vision.Config{cfg.Target, cfg.Query} {
			if s := c.ScaleFactor; s > 1 && s != index.LevelScale {
				return nil, fmt.Errorf("engine: pyramid scale factor %g with the translation check, which assumes %g (set VoteRescore negative to disable it)", s, index.LevelScale)
			}
		}
	}
	e := &Engine{
		cfg:    cfg,
		vocab:  v,
		target: vision.NewExtractor(cfg.Target),
		query:  vision.NewExtractor(cfg.Query),
		ix:     index.New(v.Words(), index.Options{}),
		votes:  index.NewVoteIndex(v.Words(), cfg.VoteSigBits),
		byID:   map[string]*entry{},
	}
	if cfg.FeatureFile != "" {
		f, err := blobfile.Open(cfg.FeatureFile, truncate)
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		e.spill = newSpill(f, cfg.FeatureCache)
	}
	e.pool.New = func() any { return new(searchScratch) }
	return e, nil
}

// Close releases the feature file, if any. The engine must not be used
// afterwards.
func (e *Engine) Close() error {
	if e.spill != nil {
		return e.spill.file.Close()
	}
	return nil
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

func (qz *quantised) reset() {
	qz.words, qz.buckets, qz.parents = qz.words[:0], qz.buckets[:0], qz.parents[:0]
}

// lookup fills qz for ds, reusing its slices.
func (e *Engine) lookup(ds []feature.Descriptor, qz *quantised) {
	qz.reset()
	var nodes [16]uint32
	path := nodes[:e.cfg.BucketLevel]
	for i := range ds {
		e.appendQuantised(qz, e.vocab.LookupLevels(&ds[i], path), path)
	}
}

// appendQuantised appends a descriptor's word and its nodes on path (down to
// BucketLevel) to qz.
func (e *Engine) appendQuantised(qz *quantised, word uint32, path []uint32) {
	qz.words = append(qz.words, word)
	qz.buckets = append(qz.buckets, path[e.cfg.BucketLevel-1])
	qz.parents = append(qz.parents, path[e.cfg.VerifyLevel-1])
}

// Add indexes a prepared target under id, replacing any target with that id.
func (e *Engine) Add(id string, t *Target, active bool) error { return e.add(id, t, active, 0) }

func (e *Engine) add(id string, t *Target, active bool, version uint64) error {
	if t == nil || t.Features == nil || len(t.Features.Descriptors) != len(t.Features.Keypoints) {
		return fmt.Errorf("engine: add %q: malformed target", id)
	}
	var qz quantised
	e.lookup(t.Features.Descriptors, &qz)
	en := &entry{id: id, active: active, version: version}
	var votes voteDoc
	if e.spill != nil {
		ref, err := e.spill.put(encodeSpill(t.Features, t.Thumb, &qz))
		if err != nil {
			return fmt.Errorf("engine: add %q: %w", id, err)
		}
		en.ref = ref
	} else {
		en.mem = &loaded{fs: t.Features, thumb: t.Thumb, words: qz.words,
			prep: verify.PrepareCoarse(t.Features, qz.buckets, qz.parents)}
	}
	if active && !e.cfg.BagOfWords {
		votes = e.voteFeatures(t.Features, qz.words)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.byID[id]; ok {
		e.removeLocked(old)
	}
	e.place(en)
	if active {
		if err := e.indexAdd(en, votes, qz.words); err != nil {
			e.removeLocked(en)
			return fmt.Errorf("engine: add %q: %w", id, err)
		}
	}
	return nil
}

// place gives en a doc id: a free one the index holds nothing of, or a new
// one.
func (e *Engine) place(en *entry) {
	if n := len(e.free); n > 0 && (e.cfg.BagOfWords || e.votes.Reusable(e.free[n-1])) {
		en.doc = e.free[n-1]
		e.free = e.free[:n-1]
		e.byDoc[en.doc] = en
	} else {
		en.doc = uint32(len(e.byDoc))
		e.byDoc = append(e.byDoc, en)
	}
	e.byID[en.id] = en
}

// voteFeatures turns features and their words into vote index postings:
// one per descriptor under its word, then, for descriptors of the coarse
// levels (Config.VoteSecondLevel), one under each other word of a short
// beam descent.
func (e *Engine) voteFeatures(fs *feature.Set, words []uint32) voteDoc {
	n := len(words)
	limit := math.MaxInt
	if m := e.cfg.VoteMaxPostings; m > 0 {
		n, limit = min(n, m), m
	}
	out := make([]index.VoteFeature, n, n+n/4)
	for j := range n {
		i := j * len(words) / n
		k := &fs.Keypoints[i]
		out[j] = index.VoteFeature{Word: words[i], Sig: index.Signature{fs.Descriptors[i][0], fs.Descriptors[i][1]}, Angle: angleBin(k.Angle), Octave: k.Octave,
			Pos: index.VotePos(k.X, k.Y, fs.Width, fs.Height)}
	}
	if lv := e.cfg.VoteSecondLevel; lv >= 0 {
		var ws []uint32
		var beam []index.BeamNode
		for j := 0; j < n && len(out) < limit; j++ {
			if int(out[j].Octave) < lv {
				continue
			}
			i := j * len(words) / n
			ws, beam = e.vocab.LookupMulti(&fs.Descriptors[i], e.cfg.VoteSecondSlack, 2, ws[:0], beam)
			for _, w := range ws {
				if w != out[j].Word && len(out) < limit {
					f := out[j]
					f.Word = w
					out = append(out, f)
				}
			}
		}
	}
	return voteDoc{side: max(fs.Width, fs.Height), feats: out}
}

// voteDoc is what a target posts to the vote index: its long side in
// pixels, the unit of the postings' positions, and the postings.
type voteDoc struct {
	side  int
	feats []index.VoteFeature
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
func (e *Engine) indexAdd(en *entry, votes voteDoc, words []uint32) error {
	if !e.cfg.BagOfWords {
		return e.votes.Add(en.doc, votes.side, votes.feats)
	}
	return e.ix.Add(en.doc, words)
}

func (e *Engine) indexRemove(en *entry) {
	if !e.cfg.BagOfWords {
		e.votes.Remove(en.doc)
		return
	}
	e.ix.Remove(en.doc)
}

// load returns what verification needs of en.
func (e *Engine) load(en *entry) (*loaded, error) {
	if en.mem != nil {
		return en.mem, nil
	}
	l, err := e.spill.get(en.ref)
	if err != nil {
		return nil, fmt.Errorf("engine: target %q: %w", en.id, err)
	}
	return l, nil
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
	e.mu.RLock()
	en, ok := e.byID[id]
	e.mu.RUnlock()
	if !ok {
		return ErrNotFound
	}
	var l *loaded
	if active {
		// Loading may read the feature file: do it before locking.
		var err error
		if l, err = e.load(en); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur, ok := e.byID[id]; !ok {
		return ErrNotFound
	} else if cur != en {
		return fmt.Errorf("engine: activate %q: target replaced meanwhile", id)
	}
	if en.active == active {
		return nil
	}
	if !active {
		e.indexRemove(en)
		en.active = false
		return nil
	}
	if !e.cfg.BagOfWords && !e.votes.Reusable(en.doc) {
		// The index still holds the postings of the target's last activation.
		e.byDoc[en.doc] = nil
		e.free = append(e.free, en.doc)
		en.doc = uint32(len(e.byDoc))
		e.byDoc = append(e.byDoc, en)
	}
	var votes voteDoc
	if !e.cfg.BagOfWords {
		votes = e.voteFeatures(l.fs, l.words)
	}
	if err := e.indexAdd(en, votes, l.words); err != nil {
		return fmt.Errorf("engine: activate %q: %w", id, err)
	}
	en.active = true
	return nil
}

// Trim releases memory the index keeps for appends: call it after a bulk
// load.
func (e *Engine) Trim() {
	if !e.cfg.BagOfWords {
		e.votes.Trim()
	}
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
	FeatureBytes int64 // features and matching tables held in RAM for verification
	// FeatureFileBytes is the size of the feature file (Config.FeatureFile).
	FeatureFileBytes int64
}

// Stats returns the current figures.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	s := Stats{Targets: len(e.byID)}
	for _, en := range e.byID {
		if en.active {
			s.Active++
		}
		if en.mem != nil {
			s.FeatureBytes += en.mem.bytes()
		}
	}
	e.mu.RUnlock()
	if e.spill != nil {
		s.FeatureBytes += e.spill.cachedBytes()
		s.FeatureFileBytes = e.spill.file.Size()
	}
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
// the service uses it to refuse duplicates on create and update. A
// duplicate draws a full view's votes and ranks first, so Similar verifies
// only the first similarVerify candidates: a search's deeper verification
// is for far views, and would cost every create of a new picture some
// 10 ms of CPU for nothing.
func (e *Engine) Similar(ctx context.Context, img *image.Gray, k int) ([]Result, error) {
	return e.search(ctx, e.ExtractQuery(img), k, min(e.cfg.Verify, similarVerify))
}

// similarVerify is how many candidates Similar verifies at most.
const similarVerify = 12

// SearchQuery is Search on an extracted query.
func (e *Engine) SearchQuery(ctx context.Context, q *Query, k int) ([]Result, error) {
	return e.search(ctx, q, k, e.cfg.Verify)
}

// search verifies up to depth candidates of q and returns the best k hits.
func (e *Engine) search(ctx context.Context, q *Query, k, depth int) ([]Result, error) {
	if k <= 0 {
		k = 1
	}
	var out []Result
	err := e.verifyCandidates(ctx, q, depth, func(en *entry, v *Verified) {
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
	// Tone is the share of the visible target whose grey level
	// contradicts the query under the homography and the lighting fitted
	// on the inliers; ToneJudged is false when the candidate had too few
	// inliers to be judged. A judged candidate with Tone ≥ 0.5 shows a
	// different picture that shares part of the target, and scores 0.
	Tone       float64
	ToneJudged bool
}

// Explain returns every candidate of the query that passed geometric
// verification, whatever its score, for calibration and debugging.
func (e *Engine) Explain(ctx context.Context, q *Query) ([]Verified, error) {
	var out []Verified
	err := e.verifyCandidates(ctx, q, e.cfg.Verify, func(en *entry, v *Verified) {
		out = append(out, *v)
	})
	return out, err
}

// verifyCandidates retrieves the candidates of q, reranks them by
// consistent descriptor matches and calls found for each of the best (at
// most depth) that verifies geometrically.
func (e *Engine) verifyCandidates(ctx context.Context, query *Query, depth int, found func(*entry, *Verified)) error {
	q := query.Features
	if len(q.Descriptors) < 8 {
		return nil
	}
	sc := e.pool.Get().(*searchScratch)
	defer e.pool.Put(sc)
	if !e.cfg.BagOfWords {
		e.lookupVotes(q, sc)
		sc.whole = verify.GroupQuery(sc.qz.buckets, nil, sc.whole)
		e.retrieveVotes(q, sc)
	} else {
		e.lookup(q.Descriptors, &sc.qz)
		sc.whole = verify.GroupQuery(sc.qz.buckets, nil, sc.whole)
		e.retrieve(q, sc)
		if err := e.rerank(q, sc); err != nil {
			return err
		}
	}
	if len(sc.ranked) == 0 {
		return nil
	}

	// Verify the best candidates. Matching within the fine buckets of the
	// rerank is cheap and suffices for clear views; only when that fails is
	// the candidate matched again within the coarse buckets, which finds
	// more of the true pairs of a small or blurred target at several times
	// the cost, and is spent on the first Config.VerifyCoarse candidates,
	// and on later ones whose fine match shows coarseGate consistent
	// pairs. Once a hit is certain, candidates with far less evidence are
	// not worth verifying.
	sc.coarseBuilt = false
	best := 0
	n := min(len(sc.ranked), depth)
	rest := -1 // from this candidate on, sc.rest holds the outcomes
	for i := 0; i < n; i++ {
		c := sc.ranked[i]
		if c.matches*4 < best {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if rest < 0 && best == 0 && i >= e.cfg.VerifyCoarse && e.cfg.VoteParallel > 1 && n-i > 1 {
			e.verifyRest(ctx, query, sc, i, n)
			rest = i
		}
		var v *Verified
		var err error
		if rest >= 0 {
			v, err = sc.rest[i-rest].v, sc.rest[i-rest].err
		} else {
			v, err = e.verifyOne(query, sc, &sc.vs, c, i)
		}
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		found(c.en, v)
		if v.Score >= e.cfg.MinScore {
			best = max(best, v.Result.Inliers)
		}
	}
	return nil
}

// verifyRest verifies candidates from…to-1 of sc.ranked into sc.rest on up
// to Config.VoteParallel goroutines, for a search none of whose earlier
// candidates was a hit: one that comes this far usually has no answer (a
// negative frame, or a view too hard to find), tries every candidate and
// is the slowest kind. The caller takes the outcomes in rank order with
// its usual rule, so the answer is the one verifying one by one gives;
// only the work on candidates after a late hit is wasted.
func (e *Engine) verifyRest(ctx context.Context, query *Query, sc *searchScratch, from, to int) {
	e.coarseGroups(sc) // built once, read by every worker
	m := to - from
	sc.rest = slices.Grow(sc.rest[:0], m)[:m]
	clear(sc.rest)
	workers := min(e.cfg.VoteParallel, m)
	for len(sc.workers) < workers {
		sc.workers = append(sc.workers, verifyScratch{})
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vs := &sc.workers[w]
			for {
				k := int(next.Add(1)) - 1
				if k >= m {
					return
				}
				if err := ctx.Err(); err != nil {
					sc.rest[k].err = err
					continue
				}
				sc.rest[k].v, sc.rest[k].err = e.verifyOne(query, sc, vs, sc.ranked[from+k], from+k)
			}
		}()
	}
	wg.Wait()
}

// verifyScratch is what one goroutine verifying candidates reuses: the
// pairs of the kept model, and of a second try.
type verifyScratch struct {
	pairs, pairs2 []verify.Pair
}

// restResult is one candidate's outcome in verifyRest.
type restResult struct {
	v   *Verified
	err error
}

// coarseGroups builds the query's grouping by coarse vocabulary node once
// per search.
func (e *Engine) coarseGroups(sc *searchScratch) *verify.QueryGroups {
	if !sc.coarseBuilt {
		sc.coarse = verify.GroupQuery(sc.qz.parents, nil, sc.coarse)
		sc.coarseBuilt = true
	}
	return sc.coarse
}

// verifyOne verifies candidate c, the i-th in rank order, and scores it;
// nil when no homography fits. It may run on several goroutines at once
// for one search (verifyRest): it reads sc and writes only vs, and the
// coarse groups must then be built beforehand.
func (e *Engine) verifyOne(query *Query, sc *searchScratch, vs *verifyScratch, c rankedDoc, i int) (*Verified, error) {
	q := query.Features
	ld, err := e.load(c.en)
	if err != nil {
		return nil, err
	}
	tf := ld.fs
	vs.pairs = verify.MatchGroups(q, sc.whole, ld.prep, false, e.cfg.Match, vs.pairs[:0])
	r := verify.Verify(q, tf, vs.pairs, verify.Options{})
	coarse := i < e.cfg.VerifyCoarse || r.Inliers >= coarseGate
	if !coarse && !r.OK {
		return nil, nil
	}
	if coarse && (!r.OK || r.Inliers < 2*verify.DefaultMinInliers) {
		vs.pairs2 = verify.MatchGroups(q, e.coarseGroups(sc), ld.prep, true, e.cfg.Match, vs.pairs2[:0])
		if r2 := verify.Verify(q, tf, vs.pairs2, verify.Options{}); r2.OK && r2.Inliers > r.Inliers {
			r = r2
			vs.pairs, vs.pairs2 = vs.pairs2, vs.pairs
		} else if !r.OK {
			return nil, nil
		}
	}
	inl := inlierCells(tf, vs.pairs, &r)
	cells, sampled := compareThumb(query, ld.thumb, float64(tf.Width), float64(tf.Height), r.H)
	v := &Verified{ID: c.en.id, Result: r, Photo: photoAgreement(cells[:]), VisibleCoverage: visibleCoverage(q, tf, &r, &inl)}
	if sampled && r.Inliers >= toneMinInliers {
		v.Tone, v.ToneJudged = toneDisagreement(cells[:], inl[:])
	}
	v.Score = score(v)
	return v, nil
}

// coarseGate is how many pairs consistent with a homography the fine match
// of a candidate beyond Config.VerifyCoarse must show for the coarse match
// to be tried: fewer than a hit needs (verify.DefaultMinInliers), more than
// chance pairs usually give. At 10k targets, 7 kept every extreme view that
// the coarse match of 24 candidates found, at a p99 of 64 ms against 79;
// 10 lost one (docs/BENCHMARKS.md).
const coarseGate = 7

// rerank orders the retrieved candidates by consistent matches.
func (e *Engine) rerank(q *feature.Set, sc *searchScratch) error {
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
		ld, err := e.load(en)
		if err != nil {
			return err
		}
		sc.vs.pairs = verify.MatchGroups(q, g, ld.prep, false, e.cfg.Match, sc.vs.pairs[:0])
		if len(sc.vs.pairs) < minConsistent {
			continue
		}
		if n := consistentMatches(q, ld.fs, sc.vs.pairs); n >= minConsistent {
			sc.ranked = append(sc.ranked, rankedDoc{en: en, matches: n})
		}
	}
	slices.SortFunc(sc.ranked, func(a, b rankedDoc) int { return b.matches - a.matches })
	return nil
}

// lookupVotes does e.lookup for q into sc.qz and looks up the beam words
// of every query descriptor into sc.vq, in one descent per descriptor.
func (e *Engine) lookupVotes(q *feature.Set, sc *searchScratch) {
	qz := &sc.qz
	qz.reset()
	var nodes [16]uint32
	path := nodes[:e.cfg.BucketLevel]
	sc.vq = sc.vq[:0]
	sc.vw = sc.vw[:0]
	for i := range q.Descriptors {
		lo := len(sc.vw)
		var w uint32
		w, sc.vw, sc.beam = e.vocab.LookupBeam(&q.Descriptors[i], path, e.cfg.VoteSlack, e.cfg.VoteWords, sc.vw, sc.beam)
		e.appendQuantised(qz, w, path)
		k := &q.Keypoints[i]
		sc.vq = append(sc.vq, index.VoteQuery{Words: sc.vw[lo:len(sc.vw):len(sc.vw)], Sig: index.Signature{q.Descriptors[i][0], q.Descriptors[i][1]}, Angle: angleBin(k.Angle), Octave: k.Octave,
			X: k.X, Y: k.Y, Theta: k.Angle})
	}
}

// retrieveVotes fills sc.ranked from the vote index; sc.qz and sc.vq must
// hold q's lookups (e.lookupVotes).
func (e *Engine) retrieveVotes(q *feature.Set, sc *searchScratch) {
	if e.cfg.VoteBurst > 0 {
		sc.burst, sc.order = burstWeights(q.Descriptors, sc.qz.words, e.cfg.VoteBurst, sc.vq, sc.burst, sc.order)
	}
	// Words were appended to one buffer that may have moved: re-slice.
	off := 0
	for i := range sc.vq {
		n := len(sc.vq[i].Words)
		sc.vq[i].Words = sc.vw[off : off+n]
		off += n
	}
	par := 1
	if e.votes.Postings() > parallelPostings {
		par = e.cfg.VoteParallel
	}
	sc.cands = e.votes.Query(sc.vq, index.VoteOptions{MaxHamming: e.cfg.VoteHamming, MinVotes: e.cfg.VoteMin,
		N: e.cfg.Verify, StopFactor: e.cfg.VoteStopFactor, Parallel: par, Rescore: max(e.cfg.VoteRescore, 0), Cell: e.cfg.VoteCell, FrameArea: float32(q.Width * q.Height),
		HammingSigma: max(e.cfg.VoteHammingSigma, 0)}, sc.cands[:0])
	sc.ranked = sc.ranked[:0]
	for _, c := range sc.cands {
		if en := e.entryOf(c.Doc); en != nil {
			sc.ranked = append(sc.ranked, rankedDoc{en: en, matches: int(c.Score)})
		}
	}
}

// parallelPostings is the index size (about 1,500 targets) from which a
// search's scan is split over Config.VoteParallel goroutines; below it the
// scan takes well under a millisecond.
const parallelPostings = 2_000_000

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
