package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/opencrs/opencrs/internal/blobfile"
	"image"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opencrs/opencrs/internal/vision"
)

const fixtures = "../../testdata"

type fixtureTruth struct {
	Query   string       `json:"query"`
	Target  *string      `json:"target"`
	Corners [][2]float64 `json:"corners"`
}

func loadImage(t testing.TB, rel string) *image.Gray {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, rel))
	if err != nil {
		t.Fatal(err)
	}
	img, err := vision.Decode(b, vision.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return img
}

func loadTruth(t testing.TB) []fixtureTruth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []fixtureTruth
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// newFixtureEngine adds the three fixture targets under their file names.
func newFixtureEngine(t testing.TB) *Engine {
	t.Helper()
	return newFixtureEngineWith(t, Config{})
}

// storageModes are the two places an engine keeps verification features.
func storageModes(t *testing.T) []struct {
	name string
	cfg  Config
} {
	return []struct {
		name string
		cfg  Config
	}{
		{"ram", Config{}},
		{"file", Config{FeatureFile: filepath.Join(t.TempDir(), "features"), FeatureCache: 1}},
	}
}

func newFixtureEngineWith(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, name := range []string{"targets/a.jpg", "targets/b.jpg", "targets/c.jpg"} {
		tg, err := e.Prepare(context.Background(), loadImage(t, name))
		if err != nil {
			t.Fatalf("prepare %s: %v", name, err)
		}
		if err := e.Add(name, tg, true); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestSearchFixtures(t *testing.T) {
	for _, m := range storageModes(t) {
		t.Run(m.name, func(t *testing.T) { testSearchFixtures(t, m.cfg) })
	}
}

func testSearchFixtures(t *testing.T, cfg Config) {
	e := newFixtureEngineWith(t, cfg)
	for _, tr := range loadTruth(t) {
		t.Run(tr.Query, func(t *testing.T) {
			res, err := e.Search(context.Background(), loadImage(t, tr.Query), 3)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Target == nil {
				if len(res) != 0 {
					t.Fatalf("negative frame matched %+v", res)
				}
				return
			}
			if len(res) == 0 {
				t.Fatalf("no match, want %s", *tr.Target)
			}
			if res[0].ID != *tr.Target {
				t.Fatalf("matched %s, want %s", res[0].ID, *tr.Target)
			}
			if res[0].Score < 0.5 {
				t.Errorf("score %.3f < 0.5 for a clear view", res[0].Score)
			}
			for i, c := range tr.Corners {
				// Target corners are in the coordinates of the target
				// file, features of the resized target: same corners.
				if d := math.Hypot(res[0].Corners[i][0]-c[0], res[0].Corners[i][1]-c[1]); d > 6 {
					t.Errorf("corner %d off by %.1f px: got %v want %v", i, d, res[0].Corners[i], c)
				}
			}
		})
	}
}

func TestActivationAndRemoval(t *testing.T) {
	for _, m := range storageModes(t) {
		t.Run(m.name, func(t *testing.T) { testActivationAndRemoval(t, m.cfg) })
	}
}

func testActivationAndRemoval(t *testing.T, cfg Config) {
	e := newFixtureEngineWith(t, cfg)
	q := loadImage(t, "queries/a_warped.jpg")
	found := func() bool {
		res, err := e.Search(context.Background(), q, 1)
		if err != nil {
			t.Fatal(err)
		}
		return len(res) > 0 && res[0].ID == "targets/a.jpg"
	}
	if !found() {
		t.Fatal("not found before deactivation")
	}
	if err := e.SetActive("targets/a.jpg", false); err != nil {
		t.Fatal(err)
	}
	if found() {
		t.Fatal("found while inactive")
	}
	// Several cycles: each reactivation must index the target once, even
	// while the index still holds the postings of the previous one.
	for cycle := range 3 {
		if err := e.SetActive("targets/a.jpg", true); err != nil {
			t.Fatal(err)
		}
		if !found() {
			t.Fatalf("cycle %d: not found after reactivation", cycle)
		}
		if cycle < 2 {
			if err := e.SetActive("targets/a.jpg", false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := e.votes.Len(); got != 3 {
		t.Fatalf("vote index holds %d live targets, want 3", got)
	}
	if !e.Remove("targets/a.jpg") {
		t.Fatal("Remove reported missing target")
	}
	if found() {
		t.Fatal("found after removal")
	}
	if err := e.SetActive("targets/a.jpg", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetActive on removed target: %v", err)
	}
	if e.Len() != 2 {
		t.Fatalf("Len = %d, want 2", e.Len())
	}
	// Re-adding under the same id after removal works.
	tg, err := e.Prepare(context.Background(), loadImage(t, "targets/a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Add("targets/a.jpg", tg, true); err != nil {
		t.Fatal(err)
	}
	if !found() {
		t.Fatal("not found after re-adding")
	}
}

func TestFeatureFileCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "features")
	e := newFixtureEngineWith(t, Config{FeatureFile: path, FeatureCache: 1})
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < len(raw); i += 997 {
		raw[i] ^= 0x55
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = e.Search(context.Background(), loadImage(t, "queries/a_warped.jpg"), 1)
	if !errors.Is(err, blobfile.ErrCorrupt) {
		t.Fatalf("search over a damaged feature file: %v, want blobfile.ErrCorrupt", err)
	}
}

func TestTargetRoundTrip(t *testing.T) {
	e := newFixtureEngine(t)
	tg, err := e.Prepare(context.Background(), loadImage(t, "targets/a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tg.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Target
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tg, &back) {
		t.Fatal("round trip differs")
	}
	// A restored target is searchable without re-extraction.
	e2, _ := New(Config{})
	if err := e2.Add("a", &back, true); err != nil {
		t.Fatal(err)
	}
	res, err := e2.Search(context.Background(), loadImage(t, "queries/a_warped.jpg"), 1)
	if err != nil || len(res) != 1 || res[0].ID != "a" {
		t.Fatalf("restored target not found: %v %+v", err, res)
	}
	for _, bad := range [][]byte{nil, b[:3], b[:len(b)-1], append([]byte("XXX"), b[3:]...)} {
		if err := new(Target).UnmarshalBinary(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("corrupt input: err = %v", err)
		}
	}
}

func TestGrade(t *testing.T) {
	e, _ := New(Config{})
	flat := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range flat.Pix {
		flat.Pix[i] = 128
	}
	if _, err := e.Prepare(context.Background(), flat); !errors.Is(err, ErrNotGradable) {
		t.Fatalf("flat image: err = %v, want ErrNotGradable", err)
	}
	g, _ := e.Grade(context.Background(), flat)
	if g.Detection != -1 {
		t.Fatalf("flat image detection grade %d, want -1", g.Detection)
	}
	g, err := e.Grade(context.Background(), loadImage(t, "targets/a.jpg"))
	if err != nil || g.Detection < 0 || g.Detection > 4 || g.Tracking < 0 || g.Tracking > 4 {
		t.Fatalf("photo graded %+v, %v", g, err)
	}
	// Random noise is texture without structure: usable, but a repeated
	// tile of it is ambiguous and must not grade better than the tile's source.
	r := rand.New(rand.NewPCG(1, 1))
	noise := image.NewGray(image.Rect(0, 0, 480, 360))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(r.IntN(256))
	}
	tile := image.NewGray(image.Rect(0, 0, 480, 360))
	for y := 0; y < 360; y++ {
		for x := 0; x < 480; x++ {
			tile.Pix[y*480+x] = noise.Pix[(y%60)*480+x%60]
		}
	}
	gt, _ := e.Grade(context.Background(), tile)
	if gt.DetectionDistinctiveness < 2 {
		t.Errorf("tiled pattern distinctiveness grade %d, want >= 2", gt.DetectionDistinctiveness)
	}
}

// TestConcurrentAddSearch runs searches while targets are added and removed;
// run with -race.
func TestConcurrentAddSearch(t *testing.T) {
	e := newFixtureEngine(t)
	tg, err := e.Prepare(context.Background(), loadImage(t, "targets/c.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	q := e.ExtractQuery(loadImage(t, "queries/b_warped.jpg"))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 30; i++ {
			id := string(rune('A' + i%5))
			_ = e.Add(id, tg, i%2 == 0)
			_ = e.SetActive(id, true)
			e.Remove(string(rune('A' + (i+2)%5)))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 10; i++ {
			res, err := e.SearchQuery(context.Background(), q, 1)
			if err != nil || len(res) == 0 || res[0].ID != "targets/b.jpg" {
				t.Errorf("search during writes: %v %+v", err, res)
				return
			}
		}
	}()
	wg.Wait()
}

func BenchmarkSearchFixture(b *testing.B) {
	e := newFixtureEngine(b)
	q := loadImage(b, "queries/a_warped.jpg")
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Search(context.Background(), q, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrepareTarget(b *testing.B) {
	e, _ := New(Config{})
	img := loadImage(b, "targets/a.jpg")
	for b.Loop() {
		if _, err := e.Prepare(context.Background(), img); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSnapshotRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{FeatureFile: filepath.Join(dir, "features")}
	snap := filepath.Join(dir, "snapshot")
	e := newFixtureEngineWith(t, cfg)
	if err := e.SetActive("targets/b.jpg", false); err != nil {
		t.Fatal(err)
	}
	tg, err := e.Prepare(context.Background(), loadImage(t, "targets/a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddVersion("targets/a.jpg", tg, true, 42); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	// Written after the snapshot: must be gone after Open, and its record
	// cut from the feature file.
	if err := e.Add("late", tg, true); err != nil {
		t.Fatal(err)
	}
	e.Close()

	r, err := Open(cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := map[string]TargetState{
		"targets/a.jpg": {Active: true, Version: 42},
		"targets/b.jpg": {Active: false},
		"targets/c.jpg": {Active: true},
	}
	if got := r.Versions(); !maps.Equal(got, want) {
		t.Fatalf("restored %v, want %v", got, want)
	}
	res, err := r.Search(context.Background(), loadImage(t, "queries/a_warped.jpg"), 1)
	if err != nil || len(res) != 1 || res[0].ID != "targets/a.jpg" {
		t.Fatalf("search after restore: %v %v", res, err)
	}
	// The restored engine keeps working: reactivation, new targets.
	if err := r.SetActive("targets/b.jpg", true); err != nil {
		t.Fatal(err)
	}
	res, err = r.Search(context.Background(), loadImage(t, "queries/b_warped.jpg"), 1)
	if err != nil || len(res) != 1 || res[0].ID != "targets/b.jpg" {
		t.Fatalf("search for reactivated target: %v %v", res, err)
	}
	if err := r.Add("new", tg, false); err != nil {
		t.Fatal(err)
	}

	// Another configuration, or a damaged file, is refused.
	other := cfg
	other.VoteSigBits = 128
	other.VoteHamming = 18
	if _, err := Open(other, snap); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("other signature size: %v, want ErrSnapshot", err)
	}
	raw, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{20, len(raw) / 2, len(raw) - 2} {
		bad := slices.Clone(raw)
		bad[at] ^= 1
		p := filepath.Join(dir, "bad")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(cfg, p); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("byte %d flipped: %v, want ErrSnapshot", at, err)
		}
	}
}

// BenchmarkLoadFromFile is the cost a search pays per candidate whose
// features live in the feature file (page cache warm, engine cache cold).
func BenchmarkLoadFromFile(b *testing.B) {
	e, err := New(Config{FeatureFile: filepath.Join(b.TempDir(), "features"), FeatureCache: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var names []string
	for _, name := range []string{"targets/a.jpg", "targets/b.jpg"} {
		tg, err := e.Prepare(context.Background(), loadImage(b, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Add(name, tg, true); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	ens := []*entry{e.byID[names[0]], e.byID[names[1]]}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := e.load(ens[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSimulatedTargetsAndPostingCap(t *testing.T) {
	e := newFixtureEngineWith(t, Config{VoteMaxPostings: 300})
	if got := e.votes.Postings(); got != 3*300 {
		t.Fatalf("%d postings for 3 targets capped at 300", got)
	}
	tg, err := e.Prepare(context.Background(), loadImage(t, "targets/a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	// A simulated twin of a verified with b's features: it is retrieved
	// like a, but cannot verify, so a still wins.
	if err := e.AddSimulated("sim", tg, nil, "targets/b.jpg"); err != nil {
		t.Fatal(err)
	}
	if err := e.AddSimulated("sim2", tg, e.Words(tg.Features), "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("simulated target like a missing one: %v", err)
	}
	if e.Len() != 4 {
		t.Fatalf("Len = %d, want 4", e.Len())
	}
	res, err := e.Search(context.Background(), loadImage(t, "queries/a_warped.jpg"), 5)
	if err != nil || len(res) != 1 || res[0].ID != "targets/a.jpg" {
		t.Fatalf("search with a simulated twin: %+v %v", res, err)
	}
}

// TestVoteTranslationWiring checks that targets post their keypoints'
// positions and queries theirs in the frames the translation check assumes:
// a clear view keeps most of its fullest bin's votes when they must also
// agree on the target's centre (less the discount for chance). A swapped
// axis, a wrong unit or a wrong rotation sense would scatter the centres
// and lose most of them.
func TestVoteTranslationWiring(t *testing.T) {
	e := newFixtureEngine(t)
	for _, tr := range loadTruth(t) {
		if tr.Target == nil {
			continue
		}
		q := e.ExtractQuery(loadImage(t, tr.Query))
		score := func(rescore int) int {
			e.cfg.VoteRescore = rescore
			sc := e.pool.Get().(*searchScratch)
			defer e.pool.Put(sc)
			e.lookupVotes(q.Features, sc)
			e.retrieveVotes(q.Features, sc)
			for _, r := range sc.ranked {
				if r.en.id == *tr.Target {
					return r.matches
				}
			}
			return 0
		}
		plain, checked := score(-1), score(100)
		t.Logf("%s: %d votes in the fullest bin, %d also agree on the centre", tr.Query, plain, checked)
		// The discount for chance votes (index.VoteOptions.FrameArea)
		// takes up to a fifth of a frame-filling target's votes; a
		// wiring error would leave a small fraction.
		if plain < 20 || float64(checked) < 0.6*float64(plain) {
			t.Errorf("%s: %d of %d votes agree on the centre", tr.Query, checked, plain)
		}
	}
}

func TestScaleFactorWithTranslationCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scale   float64
		rescore int
		ok      bool
	}{
		{"default step", 0, 0, true},
		{"explicit 1.2", 1.2, 0, true},
		{"1.3 with the check", 1.3, 0, false},
		{"1.3 without the check", 1.3, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Query.ScaleFactor = tc.scale
			cfg.VoteRescore = tc.rescore
			e, err := New(cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: err = %v, want ok = %v", err, tc.ok)
			}
			if e != nil {
				e.Close()
			}
		})
	}
}

// TestSecondWordPostings: descriptors of the coarse pyramid levels are
// also posted under the other words of a short beam descent, the others
// under their word only; a negative level turns that off, and a snapshot
// of one setting is refused by the other.
func TestSecondWordPostings(t *testing.T) {
	cfg := Config{FeatureFile: filepath.Join(t.TempDir(), "features")}
	e := newFixtureEngineWith(t, cfg)
	want, coarse, primary := 0, 0, 0
	for _, name := range []string{"targets/a.jpg", "targets/b.jpg", "targets/c.jpg"} {
		tg, err := e.Prepare(context.Background(), loadImage(t, name))
		if err != nil {
			t.Fatal(err)
		}
		words := e.Words(tg.Features)
		want += len(words)
		primary += len(words)
		for i, k := range tg.Features.Keypoints {
			if int(k.Octave) < e.cfg.VoteSecondLevel {
				continue
			}
			coarse++
			ws, _ := e.vocab.LookupMulti(&tg.Features.Descriptors[i], e.cfg.VoteSecondSlack, 2, nil, nil)
			for _, w := range ws {
				if w != words[i] {
					want++
				}
			}
		}
	}
	got := e.votes.Postings()
	t.Logf("%d postings, %d of them second words of %d coarse descriptors", got, want-primary, coarse)
	if got != want || want == primary {
		t.Fatalf("%d postings, want %d (%d coarse descriptors)", got, want, coarse)
	}
	off := newFixtureEngineWith(t, Config{VoteSecondLevel: -1})
	plain := 0
	for _, en := range off.byDoc {
		ld, err := off.load(en)
		if err != nil {
			t.Fatal(err)
		}
		plain += ld.fs.Len()
	}
	if n := off.votes.Postings(); n != plain || n >= got {
		t.Fatalf("without second words: %d postings for %d descriptors (%d with)", n, plain, got)
	}

	snap := filepath.Join(t.TempDir(), "snap")
	if err := e.WriteSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.VoteSecondLevel = -1
	if _, err := Open(other, snap); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("snapshot without second words: %v, want ErrSnapshot", err)
	}
	r, err := Open(cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := r.votes.Postings(); n != got {
		t.Fatalf("restored %d postings, want %d", n, got)
	}
}

// TestParallelVerification checks that verifying the later candidates on
// several goroutines (verifyRest) gives the answers of verifying them one
// by one. Twins of a, retrieved like a but verified with b's or c's
// features, are added before a, so they outrank it on equal votes: a
// search for a view of a fails on the first candidates and reaches the
// parallel phase, where a is found among the rest.
func TestParallelVerification(t *testing.T) {
	ctx := context.Background()
	build := func(par int) *Engine {
		e, err := New(Config{Verify: 48, VerifyCoarse: 2, VoteParallel: par})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		add := func(name string) *Target {
			tg, err := e.Prepare(ctx, loadImage(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Add(name, tg, true); err != nil {
				t.Fatal(err)
			}
			return tg
		}
		add("targets/b.jpg")
		add("targets/c.jpg")
		a, err := e.Prepare(ctx, loadImage(t, "targets/a.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			like := []string{"targets/b.jpg", "targets/c.jpg"}[i%2]
			if err := e.AddSimulated(fmt.Sprintf("twin%02d", i), a, nil, like); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Add("targets/a.jpg", a, true); err != nil {
			t.Fatal(err)
		}
		return e
	}
	seq, par := build(1), build(4)
	for _, tr := range loadTruth(t) {
		q := seq.ExtractQuery(loadImage(t, tr.Query))
		want, err := seq.Explain(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := par.Explain(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		summary := func(vs []Verified) string {
			var b strings.Builder
			for _, v := range vs {
				fmt.Fprintf(&b, "%s %.6f %d; ", v.ID, v.Score, v.Result.Inliers)
			}
			return b.String()
		}
		if summary(got) != summary(want) {
			t.Errorf("%s: parallel %s\nsequential %s", tr.Query, summary(got), summary(want))
		}
		if tr.Target != nil && *tr.Target == "targets/a.jpg" {
			res, err := par.SearchQuery(ctx, q, 1)
			if err != nil || len(res) != 1 || res[0].ID != "targets/a.jpg" {
				t.Errorf("%s: %+v %v, want targets/a.jpg after %d failing twins", tr.Query, res, err, 20)
			}
			// Similar, which refuses duplicates, looks at the first
			// similarVerify candidates only: a behind 20 twins is beyond.
			if sim, err := par.Similar(ctx, loadImage(t, tr.Query), 1); err != nil || len(sim) != 0 {
				t.Errorf("%s: Similar = %+v %v, want nothing within the first %d candidates", tr.Query, sim, err, similarVerify)
			}
			var reached bool
			for _, v := range want {
				reached = reached || v.ID == "targets/a.jpg"
			}
			if !reached {
				t.Errorf("%s: a not verified: %s", tr.Query, summary(want))
			}
		}
	}
}
