package featsynth

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/vision"
)

var (
	baseOnce sync.Once
	baseTs   []*engine.Target
	baseErr  error
)

// fixtureBase prepares the repository's three fixture targets, the way the
// engine prepares any target.
func fixtureBase(t *testing.T) []*engine.Target {
	t.Helper()
	baseOnce.Do(func() {
		eng, err := engine.New(engine.Config{})
		if err != nil {
			baseErr = err
			return
		}
		for _, name := range []string{"a.jpg", "b.jpg", "c.jpg"} {
			b, err := os.ReadFile(filepath.Join("../../testdata/targets", name))
			if err != nil {
				baseErr = err
				return
			}
			img, err := vision.Decode(b, vision.Limits{})
			if err != nil {
				baseErr = err
				return
			}
			tg, err := eng.Prepare(context.Background(), img)
			if err != nil {
				baseErr = err
				return
			}
			baseTs = append(baseTs, tg)
		}
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
	return baseTs
}

// tinyBase is a hand-made base: n targets of w×h with a grid of features
// spread over octaves 0–2, descriptors distinct per target and feature.
func tinyBase(n, w, h int) []*engine.Target {
	var out []*engine.Target
	for t := range n {
		fs := &feature.Set{Width: w, Height: h}
		for y := 2; y < h; y += 8 {
			for x := 2; x < w; x += 8 {
				o := uint8(len(fs.Keypoints) % 3)
				fs.Keypoints = append(fs.Keypoints, feature.Keypoint{X: float32(x) + 0.5, Y: float32(y) + 0.25,
					Angle: float32(x) / 10, Response: float32(x*y%97) + 1, Octave: o,
					Scale: float32(math.Pow(1.2, -float64(o)))})
				k := uint64(t)<<32 | uint64(len(fs.Descriptors))
				fs.Descriptors = append(fs.Descriptors, feature.Descriptor{k, ^k, k * 0x9e3779b97f4a7c15, k ^ 0x5555})
			}
		}
		out = append(out, &engine.Target{Features: fs, Grade: engine.Grade{Detection: t % 5}})
	}
	return out
}

func bases(t *testing.T) []struct {
	name string
	base []*engine.Target
} {
	return []struct {
		name string
		base []*engine.Target
	}{
		{"fixtures", fixtureBase(t)},
		{"tiny wide", tinyBase(5, 160, 96)},
		{"tiny tall", tinyBase(4, 64, 200)},
		{"tiny mixed", append(tinyBase(3, 200, 40), tinyBase(3, 40, 200)...)},
	}
}

func TestDeterministic(t *testing.T) {
	for _, tc := range bases(t) {
		t.Run(tc.name, func(t *testing.T) {
			g1, err := New(tc.base, Config{})
			if err != nil {
				t.Fatal(err)
			}
			g2, _ := New(tc.base, Config{})
			other, _ := New(tc.base, Config{Seed: 7})
			for _, i := range []int{0, 1, 2, 17, 999_999} {
				a, b := g1.Target(i), g2.Target(i)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("target %d differs between two generators", i)
				}
				if c := g1.Target(i); !reflect.DeepEqual(a, c) {
					t.Fatalf("target %d differs between two calls", i)
				}
				if reflect.DeepEqual(a.Features, g1.Target(i+1).Features) {
					t.Fatalf("targets %d and %d are equal", i, i+1)
				}
				if reflect.DeepEqual(a.Features, other.Target(i).Features) {
					t.Fatalf("target %d does not depend on the seed", i)
				}
			}
		})
	}
}

func TestDistinctDescriptors(t *testing.T) {
	for _, tc := range bases(t) {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.base, Config{})
			if err != nil {
				t.Fatal(err)
			}
			inBase := map[feature.Descriptor]bool{}
			for _, b := range tc.base {
				for _, d := range b.Features.Descriptors {
					inBase[d] = true
				}
			}
			owner := map[feature.Descriptor]int{}
			for i := range 40 {
				for _, d := range g.Target(i).Features.Descriptors {
					if inBase[d] {
						t.Fatalf("target %d keeps a base descriptor unperturbed", i)
					}
					if j, ok := owner[d]; ok && j != i {
						t.Fatalf("targets %d and %d share a descriptor", j, i)
					}
					owner[d] = i
				}
			}
		})
	}
}

func TestFlip(t *testing.T) {
	d := feature.Descriptor{0x0123456789abcdef, 0, ^uint64(0), 0xf0f0f0f0f0f0f0f0}
	for _, n := range []int{0, 1, 3, 8, 64, 256} {
		r := newRNG(1, uint64(n))
		if got := feature.Distance(&d, ptr(flip(r, d, n))); got != n {
			t.Errorf("flip %d bits: distance %d", n, got)
		}
	}
}

func ptr(d feature.Descriptor) *feature.Descriptor { return &d }

func TestCountsAndOctaves(t *testing.T) {
	for _, tc := range bases(t) {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.base, Config{})
			if err != nil {
				t.Fatal(err)
			}
			var budget, baseMean float64
			for _, n := range g.budget {
				budget += float64(n)
			}
			for _, b := range tc.base {
				baseMean += float64(b.Features.Len()) / float64(len(tc.base))
			}
			var sum float64
			const n = 200
			for i := range n {
				fs := g.Target(i).Features
				if len(fs.Keypoints) != len(fs.Descriptors) || fs.Len() == 0 {
					t.Fatalf("target %d: %d keypoints, %d descriptors", i, len(fs.Keypoints), len(fs.Descriptors))
				}
				per := make([]int, len(g.budget))
				for _, k := range fs.Keypoints {
					per[k.Octave]++
				}
				for o, c := range per {
					if c > g.budget[o] {
						t.Fatalf("target %d: octave %d has %d features, budget %d", i, o, c, g.budget[o])
					}
				}
				sum += float64(fs.Len())
			}
			mean := sum / n
			// Each region holds an equal area of a real image: the mean
			// count stays near the base's (crops smaller than their region
			// and the per-octave caps only lower it).
			if mean < 0.5*baseMean || mean > 1.15*baseMean || mean > budget {
				t.Fatalf("mean count %.0f, base mean %.0f, budget %.0f", mean, baseMean, budget)
			}
			t.Logf("mean %.0f features (base mean %.0f)", mean, baseMean)
		})
	}
}

func TestKeypointsInCanvas(t *testing.T) {
	for _, tc := range bases(t) {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.base, Config{})
			if err != nil {
				t.Fatal(err)
			}
			sizes := map[[2]int]bool{}
			scales := map[[2]float32]bool{} // octave, scale pairs of the base
			for _, b := range tc.base {
				sizes[[2]int{b.Features.Width, b.Features.Height}] = true
				for _, k := range b.Features.Keypoints {
					scales[[2]float32{float32(k.Octave), k.Scale}] = true
				}
			}
			for i := range 200 {
				tg := g.Target(i)
				fs := tg.Features
				w, h := float32(fs.Width), float32(fs.Height)
				if !sizes[[2]int{fs.Width, fs.Height}] {
					t.Fatalf("target %d: canvas %dx%d is no base size", i, fs.Width, fs.Height)
				}
				for _, k := range fs.Keypoints {
					if !(k.X >= 0 && k.X < w && k.Y >= 0 && k.Y < h) {
						t.Fatalf("target %d: keypoint (%g,%g) outside %gx%g", i, k.X, k.Y, w, h)
					}
					if !scales[[2]float32{float32(k.Octave), k.Scale}] || math.IsNaN(float64(k.Response)) {
						t.Fatalf("target %d: keypoint %+v: octave/scale pair not in the base, or bad response", i, k)
					}
				}
				th := tg.Thumb
				if th == nil || th.Rect.Empty() {
					t.Fatalf("target %d: no thumbnail", i)
				}
				// Same aspect as the canvas, within rounding.
				if a, b := float64(th.Rect.Dx())/float64(th.Rect.Dy()), float64(w)/float64(h); math.Abs(math.Log(a/b)) > 0.1 {
					t.Fatalf("target %d: thumbnail %v for canvas %gx%g", i, th.Rect, w, h)
				}
			}
		})
	}
}

func TestThumbnailFromBase(t *testing.T) {
	base := fixtureBase(t)
	g, err := New(base, Config{})
	if err != nil {
		t.Fatal(err)
	}
	long := thumbLong(base[0].Thumb)
	for i := range 20 {
		th := g.Target(i).Thumb
		if max(th.Rect.Dx(), th.Rect.Dy()) != long {
			t.Fatalf("target %d: thumbnail %v, want long side %d", i, th.Rect, long)
		}
		grey := 0
		for _, p := range th.Pix {
			if p == 128 {
				grey++
			}
		}
		if grey == len(th.Pix) {
			t.Fatalf("target %d: thumbnail is blank", i)
		}
	}
}

func TestLayoutTilesCanvas(t *testing.T) {
	for _, tc := range []struct {
		k    int
		w, h float32
	}{
		{1, 640, 480}, {2, 640, 480}, {2, 300, 640}, {3, 640, 480}, {3, 344, 480}, {4, 640, 480}, {4, 64, 200},
	} {
		for seed := range uint64(20) {
			rs := layout(newRNG(seed, 0), tc.k, tc.w, tc.h)
			if len(rs) != tc.k {
				t.Fatalf("k=%d: %d regions", tc.k, len(rs))
			}
			var area float64
			for _, r := range rs {
				if r.x0 < 0 || r.y0 < 0 || r.x1 > tc.w || r.y1 > tc.h || r.dx() <= 0 || r.dy() <= 0 {
					t.Fatalf("k=%d %gx%g: region %+v", tc.k, tc.w, tc.h, r)
				}
				area += float64(r.dx()) * float64(r.dy())
			}
			if math.Abs(area-float64(tc.w*tc.h)) > 1 {
				t.Fatalf("k=%d %gx%g: regions cover %.0f of %.0f", tc.k, tc.w, tc.h, area, tc.w*tc.h)
			}
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		base []*engine.Target
		cfg  Config
	}{
		{"no base", nil, Config{}},
		{"only empty targets", []*engine.Target{nil, {Features: &feature.Set{Width: 10, Height: 10}}}, Config{}},
		{"negative flips", tinyBase(2, 50, 50), Config{FlipBits: -1}},
		{"too many flips", tinyBase(2, 50, 50), Config{FlipBits: 257}},
	} {
		if _, err := New(tc.base, tc.cfg); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// A base of one target still works: the mosaic has one piece.
	g, err := New(tinyBase(1, 50, 50), Config{})
	if err != nil || g.Target(3).Features.Len() == 0 {
		t.Fatalf("one-target base: %v", err)
	}
}

func TestLoadDir(t *testing.T) {
	base := fixtureBase(t)
	dir := t.TempDir()
	for i, tg := range base {
		b, err := tg.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "d00000"+string(rune('0'+i))+".oct"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"a-corrupt.oct": "OCT?", "notes.txt": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ n, want int }{{0, 3}, {2, 2}, {10, 3}} {
		got, err := LoadDir(dir, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Fatalf("LoadDir(%d): %d targets, want %d", tc.n, len(got), tc.want)
		}
		for i, g := range got {
			if !reflect.DeepEqual(g.Features, base[i].Features) {
				t.Fatalf("LoadDir(%d): target %d is not base %d", tc.n, i, i)
			}
		}
	}
	if _, err := LoadDir(t.TempDir(), 0); err == nil {
		t.Fatal("empty folder accepted")
	}
}

// TargetWords hands each synthetic descriptor the word of its source. The
// test's "vocabulary" names a base feature by its response, which the
// generator copies unchanged.
func TestTargetWordsFromSources(t *testing.T) {
	for _, tc := range bases(t) {
		t.Run(tc.name, func(t *testing.T) {
			q := func(fs *feature.Set) []uint32 {
				w := make([]uint32, fs.Len())
				for i, k := range fs.Keypoints {
					w[i] = math.Float32bits(k.Response)
				}
				return w
			}
			g, err := New(tc.base, Config{Quantize: q})
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := New(tc.base, Config{})
			for _, i := range []int{0, 3, 41} {
				tg, words := g.TargetWords(i)
				if !reflect.DeepEqual(tg, plain.Target(i)) {
					t.Fatalf("target %d changes with Quantize", i)
				}
				if len(words) != tg.Features.Len() {
					t.Fatalf("%d words for %d features", len(words), tg.Features.Len())
				}
				if want := q(tg.Features); !reflect.DeepEqual(words, want) {
					t.Fatalf("target %d: words are not its sources'", i)
				}
			}
			if _, words := plain.TargetWords(0); words != nil {
				t.Fatal("words without Quantize")
			}
		})
	}
}
