// Package eval measures the recognition engine on a labelled data set laid out
// like ../shared/eval: targets/, queries/, truth.jsonl. It is the library
// behind `opencrs eval`; it knows nothing of flags or terminals beyond an
// optional progress writer.
package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/featsynth"
	"github.com/opencrs/opencrs/internal/memstat"
	"github.com/opencrs/opencrs/internal/progress"
	"github.com/opencrs/opencrs/internal/vision"
)

// Truth is one line of truth.jsonl.
type Truth struct {
	Query      string       `json:"query"`
	Target     *string      `json:"target"`
	Difficulty string       `json:"difficulty"`
	Corners    [][2]float64 `json:"corners"`
}

// ReadTruth parses a truth.jsonl file.
func ReadTruth(r io.Reader) ([]Truth, error) {
	var out []Truth
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var t Truth
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("truth line %d: %w", line, err)
		}
		if t.Query == "" {
			return nil, fmt.Errorf("truth line %d: no query", line)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read truth: %w", err)
	}
	return out, nil
}

// readTruthFile reads dir/truth.jsonl.
func readTruthFile(dir string) ([]Truth, error) {
	f, err := os.Open(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTruth(f)
}

// DistractorSource produces the i-th synthetic distractor target.
type DistractorSource interface {
	Distractor(i int) *image.Gray
}

// Options configures a run.
type Options struct {
	Data          string           // folder with targets/, queries/, truth.jsonl
	Distractors   int              // number of synthetic distractor targets to add
	Pool          DistractorSource // required when Distractors > 0
	Workers       int              // parallel query workers; latency figures want 1
	IngestWorkers int              // parallel workers adding targets; 0 means Workers
	Progress      io.Writer        // progress lines; nil for none
	// SkipUnusable leaves out the targets the engine refuses as too poor
	// in features (engine.ErrNotGradable), and their queries, instead of
	// failing: a service would refuse them on upload, so they say nothing
	// about recognition. Report.Unusable lists them.
	SkipUnusable bool
	// DistractorCache, when set, is a folder where prepared distractor
	// targets are kept between runs (delete it when the extractor changes).
	DistractorCache string
	// Synthetic adds that many feature-level synthetic distractors
	// (internal/featsynth): mosaics of the features of prepared targets
	// read from SyntheticBase (*.oct, e.g. a DistractorCache), inserted
	// without rendering or extracting any image. Figures measured with
	// them are simulations and are to be reported as such.
	Synthetic     int
	SyntheticBase string
	// SyntheticBaseCount is how many base targets are read (the first in
	// name order); 0 means DefaultSyntheticBaseCount.
	SyntheticBaseCount int
	// SyntheticShared indexes the synthetic distractors with
	// engine.AddSimulated: their descriptors go into the index, but a
	// synthetic candidate is verified with the features of one of a few
	// hundred base targets, so that a million of them need no feature file
	// of 100 GB; and each descriptor takes its source's vocabulary word
	// (featsynth.Config.Quantize), sparing a million lookups. Index memory
	// and retrieval are measured faithfully; verification costs what it
	// would.
	SyntheticShared bool
	// Restart snapshots the engine after ingest and restores it from the
	// snapshot (engine.Open), timing both; the queries run on the restored
	// engine. Needs Engine.FeatureFile.
	Restart bool
	Engine  engine.Config
}

// sharedBases is how many base targets lend their features to the
// verification of simulated targets with Options.SyntheticShared.
const sharedBases = 256

// DefaultSyntheticBaseCount is the number of real prepared targets the
// synthetic distractors are drawn from unless Options says otherwise.
const DefaultSyntheticBaseCount = 2000

// Counts is one row of the result table. For negatives Right counts frames
// answered with no target and Wrong the false hits.
type Counts struct {
	N     int `json:"n"`
	Right int `json:"right"`
	Wrong int `json:"wrong"`
	Miss  int `json:"miss"`
}

// Recall is Right/N.
func (c Counts) Recall() float64 {
	if c.N == 0 {
		return 0
	}
	return float64(c.Right) / float64(c.N)
}

// Report is the outcome of a run; its JSON shape is the one `opencrs eval
// --json` promises.
type Report struct {
	Targets     int `json:"targets"`
	Distractors int `json:"distractors"`
	// Synthetic is the number of feature-level synthetic distractors
	// (simulated, see Options.Synthetic) and SyntheticBase the number of
	// real prepared targets they were drawn from.
	Synthetic     int `json:"synthetic"`
	SyntheticBase int `json:"synthetic_base,omitempty"`
	Queries       int `json:"queries"`
	// Unusable are the targets left out by Options.SkipUnusable;
	// DroppedQueries the queries of theirs left out with them (not in
	// Queries).
	Unusable       []string                     `json:"unusable,omitempty"`
	DroppedQueries int                          `json:"dropped_queries,omitempty"`
	ByDifficulty   map[string]Counts            `json:"by_difficulty"`
	ByGrade        map[string]map[string]Counts `json:"by_grade"` // difficulty → detection grade → counts
	Latency        Percentiles                  `json:"latency_ms"`
	Extract        Percentiles                  `json:"extract_ms"`
	Decode         Percentiles                  `json:"decode_ms"`
	CornerError    struct {
		Median float64 `json:"median"`
		P90    float64 `json:"p90"`
	} `json:"corner_error_px"`
	IngestMsPerTarget   float64 `json:"ingest_ms_per_target"`
	IndexBytesPerTarget float64 `json:"index_bytes_per_target"`
	// Restart, with Options.Restart: writing the engine's snapshot and
	// restoring the engine from it (engine.Open) after ingest.
	Restart struct {
		SnapshotMs    float64 `json:"snapshot_ms"`
		RestoreMs     float64 `json:"restore_ms"`
		SnapshotBytes int64   `json:"snapshot_bytes"`
	} `json:"restart"`
	// SyntheticMsPerTarget is the wall time per synthetic distractor of
	// generating and adding them (IngestWorkers in parallel).
	SyntheticMsPerTarget float64 `json:"synthetic_ingest_ms_per_target,omitempty"`
	// Memory is measured once every target is in (after a garbage
	// collection that returns freed memory to the system, so it shows what
	// the engine holds) and again after the queries (as the run left it).
	Memory struct {
		AfterIngest  Memory `json:"after_ingest"`
		AfterQueries Memory `json:"after_queries"`
	} `json:"memory"`
	Calibration struct {
		HitsScoreAtLeastHalf  int     `json:"hits_score_ge_0_5"`
		RightScoreAtLeastHalf int     `json:"right_score_ge_0_5"`
		Precision             float64 `json:"precision_score_ge_0_5"`
	} `json:"calibration"`
	Workers int `json:"workers"`
	// Results lists every query's outcome, in truth.jsonl order.
	Results []QueryResult `json:"results,omitempty"`
}

// Memory is a snapshot of the process's memory, in bytes. RSS figures come
// from the operating system (Linux; zero elsewhere); PeakRSSBytes is the high
// water mark of the whole run so far, ingest garbage and the synthetic base
// included.
type Memory struct {
	RSSBytes     uint64 `json:"rss_bytes"`
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	HeapBytes    uint64 `json:"heap_bytes"`   // Go heap allocated, garbage included (runtime.MemStats.HeapAlloc)
	GoSysBytes   uint64 `json:"go_sys_bytes"` // obtained from the OS by the Go runtime (MemStats.Sys)
	// HeapLiveBytes is HeapAlloc right after a forced collection: what
	// is reachable, so HeapBytes − HeapLiveBytes is garbage.
	HeapLiveBytes uint64 `json:"heap_live_bytes"`
}

func readMemory() Memory {
	p, _ := memstat.Read() // unreadable reads as zero, like an unsupported system
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Memory{RSSBytes: p.RSS, PeakRSSBytes: p.PeakRSS, HeapBytes: ms.HeapAlloc, GoSysBytes: ms.Sys}
}

// withLive adds the live heap to m, collecting garbage to find it.
func withLive(m Memory) Memory {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.HeapLiveBytes = ms.HeapAlloc
	return m
}

// QueryResult is the outcome of one query.
type QueryResult struct {
	Query      string  `json:"query"`
	Difficulty string  `json:"difficulty"`
	Target     string  `json:"target,omitempty"` // the right answer; empty for negatives
	Grade      int     `json:"grade"`            // detection grade of the right target
	Got        string  `json:"got,omitempty"`    // the answer; empty for none
	Score      float64 `json:"score,omitempty"`
	MS         float64 `json:"ms"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i]) / 1e6
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99)}
}

// Run adds every target (and the distractors), runs every query and reports.
func Run(ctx context.Context, opt Options) (*Report, error) {
	truth, err := readTruthFile(opt.Data)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	if opt.Distractors > 0 && opt.Pool == nil {
		return nil, fmt.Errorf("eval: %d distractors need an image pool", opt.Distractors)
	}
	if opt.Synthetic > 0 && opt.SyntheticBase == "" {
		return nil, fmt.Errorf("eval: %d synthetic distractors need a base folder", opt.Synthetic)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = 1
	}
	eng, err := engine.New(opt.Engine)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer func() {
		if eng != nil {
			eng.Close()
		}
	}()
	if opt.Restart && opt.Engine.FeatureFile == "" {
		return nil, fmt.Errorf("eval: a restart needs a feature file")
	}

	// Targets: every distinct target named in truth.jsonl plus whatever else
	// sits in targets/ (extra targets act as natural distractors).
	targetSet := map[string]bool{}
	for _, t := range truth {
		if t.Target != nil {
			targetSet[*t.Target] = true
		}
	}
	if ents, err := os.ReadDir(filepath.Join(opt.Data, "targets")); err == nil {
		for _, e := range ents {
			if !e.IsDir() {
				targetSet["targets/"+e.Name()] = true
			}
		}
	}
	targets := make([]string, 0, len(targetSet))
	for t := range targetSet {
		targets = append(targets, t)
	}
	sort.Strings(targets)

	rep := &Report{
		Targets: len(targets), Distractors: opt.Distractors, Synthetic: opt.Synthetic, Queries: len(truth),
		ByDifficulty: map[string]Counts{}, ByGrade: map[string]map[string]Counts{}, Workers: workers,
	}
	grades := make(map[string]int, len(targets))
	var gradesMu sync.Mutex

	ingestWorkers := opt.IngestWorkers
	if ingestWorkers <= 0 {
		ingestWorkers = workers
	}
	prog := progress.New(opt.Progress)
	ingestStart := time.Now()
	err = parallel(ctx, len(targets), ingestWorkers, prog.Stage("targets", len(targets)), func(i int) error {
		data, err := os.ReadFile(filepath.Join(opt.Data, targets[i]))
		if err != nil {
			return err
		}
		img, err := vision.Decode(data, vision.Limits{})
		if err != nil {
			return fmt.Errorf("%s: %w", targets[i], err)
		}
		t, err := eng.Prepare(ctx, img)
		if opt.SkipUnusable && errors.Is(err, engine.ErrNotGradable) {
			gradesMu.Lock()
			rep.Unusable = append(rep.Unusable, targets[i])
			gradesMu.Unlock()
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", targets[i], err)
		}
		gradesMu.Lock()
		grades[targets[i]] = t.Grade.Detection
		gradesMu.Unlock()
		return eng.Add(targets[i], t, true)
	})
	if err != nil {
		return nil, fmt.Errorf("eval: targets: %w", err)
	}
	ingest := time.Since(ingestStart)
	if len(rep.Unusable) > 0 {
		slices.Sort(rep.Unusable)
		n := len(truth)
		truth = slices.DeleteFunc(truth, func(t Truth) bool {
			if t.Target == nil {
				return false
			}
			_, gone := slices.BinarySearch(rep.Unusable, *t.Target)
			return gone
		})
		rep.DroppedQueries, rep.Queries = n-len(truth), len(truth)
		rep.Targets -= len(rep.Unusable)
	}
	if opt.DistractorCache != "" {
		if err := os.MkdirAll(opt.DistractorCache, 0o755); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
	}
	err = parallel(ctx, opt.Distractors, ingestWorkers, prog.Stage("distractors", opt.Distractors), func(i int) error {
		var cached string
		if opt.DistractorCache != "" {
			cached = filepath.Join(opt.DistractorCache, fmt.Sprintf("d%06d.oct", i))
			if b, err := os.ReadFile(cached); err == nil {
				var t engine.Target
				if t.UnmarshalBinary(b) == nil {
					return eng.Add(fmt.Sprintf("distractor/%d", i), &t, true)
				}
			}
		}
		t, err := eng.Prepare(ctx, opt.Pool.Distractor(i))
		if err != nil {
			return nil // an ungradable distractor is simply not added
		}
		if cached != "" {
			if b, err := t.MarshalBinary(); err == nil {
				_ = os.WriteFile(cached, b, 0o644) // a cache: failure only costs time
			}
		}
		return eng.Add(fmt.Sprintf("distractor/%d", i), t, true)
	})
	if err != nil {
		return nil, fmt.Errorf("eval: distractors: %w", err)
	}
	if opt.Synthetic > 0 {
		sr, err := addSynthetic(ctx, eng, opt, ingestWorkers, prog.Stage("synthetic", opt.Synthetic))
		if err != nil {
			return nil, fmt.Errorf("eval: synthetic: %w", err)
		}
		rep.SyntheticBase = sr.base
		rep.SyntheticMsPerTarget = float64(sr.took) / 1e6 / float64(opt.Synthetic)
	}
	// Trim as the service does after a bulk load; the synthetic base and
	// the ingest garbage go before measuring what the engine holds.
	eng.Trim()
	if opt.Restart {
		// What a service restart costs the engine: write the snapshot,
		// close, restore. The queries then run on the restored engine.
		snap := opt.Engine.FeatureFile + ".snapshot"
		t0 := time.Now()
		if err := eng.WriteSnapshot(snap); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		t1 := time.Now()
		// The old engine must be garbage before the new one loads, or the
		// peak RSS would count two indexes where a service has one.
		eng.Close()
		eng = nil
		debug.FreeOSMemory()
		if eng, err = engine.Open(opt.Engine, snap); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		rep.Restart.SnapshotMs = float64(t1.Sub(t0)) / 1e6
		rep.Restart.RestoreMs = float64(time.Since(t1)) / 1e6
		if st, err := os.Stat(snap); err == nil {
			rep.Restart.SnapshotBytes = st.Size()
		}
		os.Remove(snap)
	}
	debug.FreeOSMemory()
	rep.Memory.AfterIngest = readMemory()
	rep.Memory.AfterIngest.HeapLiveBytes = rep.Memory.AfterIngest.HeapBytes // just collected
	if len(targets) > 0 {
		rep.IngestMsPerTarget = float64(ingest) / 1e6 / float64(len(targets))
	}
	if st := eng.Stats(); st.Targets > 0 {
		rep.IndexBytesPerTarget = float64(st.IndexBytes) / float64(st.Targets)
	}

	type outcome struct {
		res              []engine.Result
		search, ext, dec time.Duration
	}
	outs := make([]outcome, len(truth))
	err = parallel(ctx, len(truth), workers, prog.Stage("queries", len(truth)), func(i int) error {
		data, err := os.ReadFile(filepath.Join(opt.Data, truth[i].Query))
		if err != nil {
			return err
		}
		t0 := time.Now()
		img, err := vision.Decode(data, vision.Limits{})
		if err != nil {
			return fmt.Errorf("%s: %w", truth[i].Query, err)
		}
		t1 := time.Now()
		q := eng.ExtractQuery(img)
		t2 := time.Now()
		res, err := eng.SearchQuery(ctx, q, 1)
		t3 := time.Now()
		if err != nil {
			return fmt.Errorf("%s: %w", truth[i].Query, err)
		}
		outs[i] = outcome{res: res, dec: t1.Sub(t0), ext: t2.Sub(t1), search: t3.Sub(t1)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: queries: %w", err)
	}

	var lat, ext, dec []time.Duration
	var cornerErr []float64
	for i, t := range truth {
		o := outs[i]
		lat, ext, dec = append(lat, o.search), append(ext, o.ext), append(dec, o.dec)
		c := rep.ByDifficulty[t.Difficulty]
		c.N++
		var hit *engine.Result
		if len(o.res) > 0 {
			hit = &o.res[0]
		}
		right := false
		switch {
		case t.Target == nil && hit == nil:
			c.Right++
		case t.Target == nil:
			c.Wrong++
		case hit == nil:
			c.Miss++
		case hit.ID == *t.Target:
			c.Right++
			right = true
			if len(t.Corners) == 4 {
				cornerErr = append(cornerErr, cornerError(hit.Corners, t.Corners))
			}
		default:
			c.Wrong++
		}
		rep.ByDifficulty[t.Difficulty] = c
		qr := QueryResult{Query: t.Query, Difficulty: t.Difficulty, MS: float64(o.search) / 1e6}
		if t.Target != nil {
			qr.Target, qr.Grade = *t.Target, grades[*t.Target]
		}
		if hit != nil {
			qr.Got, qr.Score = hit.ID, hit.Score
		}
		rep.Results = append(rep.Results, qr)
		if hit != nil && hit.Score >= 0.5 {
			rep.Calibration.HitsScoreAtLeastHalf++
			if right {
				rep.Calibration.RightScoreAtLeastHalf++
			}
		}
		if t.Target != nil {
			g := fmt.Sprint(grades[*t.Target])
			byG := rep.ByGrade[t.Difficulty]
			if byG == nil {
				byG = map[string]Counts{}
				rep.ByGrade[t.Difficulty] = byG
			}
			gc := byG[g]
			gc.N++
			switch {
			case right:
				gc.Right++
			case hit == nil:
				gc.Miss++
			default:
				gc.Wrong++
			}
			byG[g] = gc
		}
	}
	if h := rep.Calibration.HitsScoreAtLeastHalf; h > 0 {
		rep.Calibration.Precision = float64(rep.Calibration.RightScoreAtLeastHalf) / float64(h)
	}
	rep.Latency, rep.Extract, rep.Decode = percentiles(lat), percentiles(ext), percentiles(dec)
	if len(cornerErr) > 0 {
		sort.Float64s(cornerErr)
		rep.CornerError.Median = cornerErr[len(cornerErr)/2]
		rep.CornerError.P90 = cornerErr[int(0.9*float64(len(cornerErr)-1))]
	}
	prog.Done()
	rep.Memory.AfterQueries = withLive(readMemory())
	return rep, nil
}

type syntheticRun struct {
	base int           // base targets in use
	took time.Duration // generating and adding
}

// addSynthetic adds opt.Synthetic feature-level distractors, named
// "synthetic/<i>", drawn from the prepared targets in opt.SyntheticBase; tick
// advances the progress bar. The base is garbage once it returns.
func addSynthetic(ctx context.Context, eng *engine.Engine, opt Options, workers int, tick func()) (syntheticRun, error) {
	n := opt.SyntheticBaseCount
	if n <= 0 {
		n = DefaultSyntheticBaseCount
	}
	base, err := featsynth.LoadDir(opt.SyntheticBase, n)
	if err != nil {
		return syntheticRun{}, err
	}
	var fcfg featsynth.Config
	if opt.SyntheticShared {
		fcfg.Quantize = eng.Words
	}
	gen, err := featsynth.New(base, fcfg)
	if err != nil {
		return syntheticRun{}, err
	}
	if opt.SyntheticShared {
		// Inactive: never candidates themselves, only the features the
		// simulated targets are verified with.
		for k, t := range base[:min(len(base), sharedBases)] {
			if err := eng.Add(fmt.Sprintf("synthetic-base/%d", k), t, false); err != nil {
				return syntheticRun{}, err
			}
		}
	}
	start := time.Now()
	err = parallel(ctx, opt.Synthetic, workers, tick, func(i int) error {
		id := fmt.Sprintf("synthetic/%d", i)
		if opt.SyntheticShared {
			t, words := gen.TargetWords(i)
			return eng.AddSimulated(id, t, words, fmt.Sprintf("synthetic-base/%d", i%min(len(base), sharedBases)))
		}
		return eng.Add(id, gen.Target(i), true)
	})
	return syntheticRun{base: gen.BaseLen(), took: time.Since(start)}, err
}

// cornerError is the mean distance between predicted and true corners.
func cornerError(got [4][2]float64, want [][2]float64) float64 {
	var s float64
	for i := range 4 {
		s += math.Hypot(got[i][0]-want[i][0], got[i][1]-want[i][1])
	}
	return s / 4
}

// parallel runs fn(0..n-1) on workers goroutines, stopping at the first error.
func parallel(ctx context.Context, n, workers int, tick func(), fn func(i int) error) error {
	if n == 0 {
		return nil
	}
	workers = max(1, min(workers, n, 4*runtime.NumCPU()))
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
				tick()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
