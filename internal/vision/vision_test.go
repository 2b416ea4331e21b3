package vision

import (
	"image"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

// testImage caches synthetic images; drawing them dominates test time.
var testImage = sync.OnceValue(func() *image.Gray { return synthImage(640, 480, 11) })

// fill returns a w x h image with every pixel set by f.
func fill(w, h int, f func(x, y int) uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Pix[y*img.Stride+x] = f(x, y)
		}
	}
	return img
}

func TestFAST(t *testing.T) {
	const n = 64
	tests := []struct {
		name   string
		img    *image.Gray
		corner bool // a corner is expected near (32, 32); ideal steps give plateaus of equal score, so allow a few pixels
	}{
		{"bright corner", fill(n, n, func(x, y int) uint8 {
			if x >= 32 && y >= 32 {
				return 200
			}
			return 50
		}), true},
		{"dark corner", fill(n, n, func(x, y int) uint8 {
			if x < 32 && y >= 32 {
				return 20
			}
			return 180
		}), true},
		{"bright dot", fill(n, n, func(x, y int) uint8 {
			if x == 32 && y == 32 {
				return 255
			}
			return 100
		}), true},
		{"vertical edge", fill(n, n, func(x, y int) uint8 {
			if x >= 32 {
				return 200
			}
			return 50
		}), false},
		{"diagonal edge", fill(n, n, func(x, y int) uint8 {
			if x+y >= 64 {
				return 200
			}
			return 50
		}), false},
		{"flat", fill(n, n, func(x, y int) uint8 { return 120 }), false},
		{"weak corner below threshold", fill(n, n, func(x, y int) uint8 {
			if x >= 32 && y >= 32 {
				return 115
			}
			return 100
		}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			score := make([]uint16, n*n)
			cs := detectFAST(tt.img.Pix, halved(tt.img.Pix), n, 3, 3, n-3, n-3, 20, score, nil, new(fastScratch))
			cs = nonMaxSuppress(cs, score, n)
			near := 0
			for _, c := range cs {
				if abs(int(c.x)-32) <= 3 && abs(int(c.y)-32) <= 3 {
					near++
				}
			}
			if tt.corner && near == 0 {
				t.Errorf("no corner near (32,32); got %v", cs)
			}
			if !tt.corner && len(cs) != 0 {
				t.Errorf("want no corners, got %d: %v", len(cs), cs)
			}
			if tt.corner && len(cs) > 3 {
				t.Errorf("non-maximum suppression left %d corners: %v", len(cs), cs)
			}
		})
	}
}

// naiveFAST is the textbook FAST-9 test, the reference for detectFAST's
// pre-test and bit tricks. It returns whether (x, y) is a corner and its
// score, the summed excess over t of the circle pixels on the arc's side.
func naiveFAST(img *image.Gray, x, y, t int) (bool, int) {
	c := int(img.GrayAt(x, y).Y)
	for _, sign := range []int{1, -1} {
		run, sum := 0, 0
		for k := range 32 {
			o := circle[k%16]
			v := int(img.GrayAt(x+o[0], y+o[1]).Y)
			if k < 16 && sign*(v-c) > t {
				sum += sign*(v-c) - t
			}
			if sign*(v-c) > t {
				run++
				if run >= 9 {
					// Finish the excess sum over the whole circle.
					for k2 := k + 1; k2 < 16; k2++ {
						o := circle[k2]
						if v := int(img.GrayAt(x+o[0], y+o[1]).Y); sign*(v-c) > t {
							sum += sign*(v-c) - t
						}
					}
					return true, sum
				}
			} else {
				run = 0
			}
		}
	}
	return false, 0
}

func TestFASTMatchesNaive(t *testing.T) {
	tex := testImage()
	imgs := []*image.Gray{
		fill(240, 180, func(x, y int) uint8 { return tex.Pix[(y+150)*tex.Stride+x+200] }),
		fill(77, 61, func(x, y int) uint8 { return uint8((x*x*7 + y*13 + x*y*5) % 256) }),
	}
	for n, img := range imgs {
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		for _, th := range []int{1, 7, 20, 60, 200} {
			score := make([]uint16, w*h)
			got := map[[2]int]int{}
			for _, c := range detectFAST(img.Pix, halved(img.Pix), w, 3, 3, w-3, h-3, th, score, nil, new(fastScratch)) {
				got[[2]int{int(c.x), int(c.y)}] = int(c.score)
				if c.score <= 0 || int(score[int(c.y)*w+int(c.x)]) != int(c.score) {
					t.Fatalf("image %d t=%d: bad score for %+v", n, th, c)
				}
			}
			want := 0
			for y := 3; y < h-3; y++ {
				for x := 3; x < w-3; x++ {
					if ok, s := naiveFAST(img, x, y, th); ok {
						want++
						if g, found := got[[2]int{x, y}]; !found || g != s {
							t.Fatalf("image %d t=%d: corner (%d,%d) score %d (found %v), want %d", n, th, x, y, g, found, s)
						}
					}
				}
			}
			if len(got) != want {
				t.Fatalf("image %d t=%d: %d corners, naive %d", n, th, len(got), want)
			}
		}
	}
}

func TestHasArc9(t *testing.T) {
	tests := []struct {
		mask uint32
		want bool
	}{
		{0, false},
		{0x01ff, true},
		{0x00ff, false},
		{0xf01f, true}, // wraps around: bits 12..15 and 0..4
		{0xe01f, false},
		{0xffff, true},
		{0x5555, false},
	}
	for _, tt := range tests {
		if got := hasArc9(tt.mask); got != tt.want {
			t.Errorf("hasArc9(%#04x) = %v, want %v", tt.mask, got, tt.want)
		}
	}
}

// angleDiff returns a-b wrapped to (-π, π].
func angleDiff(a, b float64) float64 {
	d := math.Mod(a-b, 2*math.Pi)
	if d > math.Pi {
		d -= 2 * math.Pi
	}
	if d <= -math.Pi {
		d += 2 * math.Pi
	}
	return d
}

func TestOrientationFollowsRotation(t *testing.T) {
	// A patch with a clear off-centre mass: a bright blob right of centre
	// and a dimmer one below, on a textured background.
	src := fill(101, 101, func(x, y int) uint8 {
		dx, dy := float64(x-50), float64(y-50)
		v := 80 + 10*math.Sin(float64(x)*0.7)*math.Cos(float64(y)*0.5)
		v += 120 * math.Exp(-((dx-8)*(dx-8)+(dy+2)*(dy+2))/30)
		v += 60 * math.Exp(-((dx+1)*(dx+1)+(dy-9)*(dy-9))/20)
		return uint8(math.Min(255, v))
	})
	base := float64(orientation(src.Pix, 101, 50, 50))
	for _, deg := range []float64{0, 17, 30, 45, 90, 133, 180, 250, 300} {
		th := deg * math.Pi / 180
		dst, fwd := warp(src, th, 1, 101, 101)
		cx, cy := fwd(50, 50)
		got := float64(orientation(dst.Pix, 101, int(math.Round(cx)), int(math.Round(cy))))
		if d := angleDiff(got-base, th); math.Abs(d) > 3*math.Pi/180 {
			t.Errorf("rotated by %v°: orientation changed by %.1f°, want %v°", deg, angleDiff(got, base)*180/math.Pi, deg)
		}
	}
}

// correspondences extracts features from img and from img warped by angle
// and scale, and returns the descriptor distances of keypoints whose
// warped position lands within tol pixels of a keypoint of the warped image
// at a similar scale, plus how many of those have their nearest descriptor
// among all warped keypoints at the right place.
func correspondences(t *testing.T, e *Extractor, img *image.Gray, angle, scale float64) (dists []int, nnOK, total int) {
	t.Helper()
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	dw, dh := int(float64(w)*scale), int(float64(h)*scale)
	if math.Abs(math.Sin(angle)) > 0.99 {
		dw, dh = dh, dw
	}
	dst, fwd := warp(img, angle, scale, dw, dh)
	a, b := e.Extract(img), e.Extract(dst)
	for i, k := range a.Keypoints {
		x, y := fwd(float64(k.X), float64(k.Y))
		// Coarse levels localise less precisely.
		best, bd := -1, 1+1.5/float64(k.Scale)
		for j, q := range b.Keypoints {
			// Same physical scale: the warped level shrinks by scale.
			ratio := float64(q.Scale) / float64(k.Scale) * scale
			if ratio < 0.6 || ratio > 1.6 {
				continue
			}
			if d := math.Hypot(float64(q.X)-x, float64(q.Y)-y); d < bd {
				best, bd = j, d
			}
		}
		if best < 0 {
			continue
		}
		total++
		d := feature.Distance(&a.Descriptors[i], &b.Descriptors[best])
		dists = append(dists, d)
		// The nearest descriptor must sit at the right place; a
		// neighbouring level's keypoint there is as good a match.
		nn, nd := -1, 257
		for j := range b.Descriptors {
			if d := feature.Distance(&a.Descriptors[i], &b.Descriptors[j]); d < nd {
				nn, nd = j, d
			}
		}
		if math.Hypot(float64(b.Keypoints[nn].X)-x, float64(b.Keypoints[nn].Y)-y) <= 1+1.5/float64(k.Scale) {
			nnOK++
		}
	}
	return dists, nnOK, total
}

func TestDescriptorInvariance(t *testing.T) {
	e := NewExtractor(DefaultConfig())
	img := testImage()
	tests := []struct {
		name         string
		angle, scale float64
		minMatched   int     // corresponding keypoints expected
		maxMedian    int     // median Hamming distance of correspondences
		minNN        float64 // share whose nearest neighbour is the counterpart
	}{
		// A quarter turn maps pixels and angle bins exactly; only the
		// coarser levels resample differently.
		{"rotate 90", math.Pi / 2, 1, 600, 15, 0.9},
		{"rotate 30", math.Pi / 6, 1, 400, 55, 0.75},
		{"scale 0.8", 0, 0.8, 400, 55, 0.75},
		{"rotate 30 scale 0.8", math.Pi / 6, 0.8, 400, 55, 0.75},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dists, nnOK, total := correspondences(t, e, img, tt.angle, tt.scale)
			if total < tt.minMatched {
				t.Fatalf("only %d keypoints re-detected, want >= %d", total, tt.minMatched)
			}
			slices.Sort(dists)
			med := dists[len(dists)/2]
			nn := float64(nnOK) / float64(total)
			t.Logf("%d re-detected, median distance %d, nearest-neighbour correct %.0f%%", total, med, 100*nn)
			if med > tt.maxMedian {
				t.Errorf("median distance %d > %d", med, tt.maxMedian)
			}
			if nn < tt.minNN {
				t.Errorf("nearest neighbour correct for %.0f%%, want >= %.0f%%", 100*nn, 100*tt.minNN)
			}
		})
	}
}

func TestRandomPairsAreFar(t *testing.T) {
	set := NewExtractor(DefaultConfig()).Extract(testImage())
	n := set.Len()
	if n < 500 {
		t.Fatalf("only %d features", n)
	}
	sum := 0
	for i := range n {
		j := (i*7919 + 13) % n
		if j == i {
			j = (i + 1) % n
		}
		sum += feature.Distance(&set.Descriptors[i], &set.Descriptors[j])
	}
	mean := float64(sum) / float64(n)
	if mean < 105 || mean > 140 {
		t.Errorf("mean distance of random pairs %.1f, want about 128", mean)
	}
	// Every bit should vary: a stuck bit wastes descriptor capacity.
	for bit := range 256 {
		ones := 0
		for i := range set.Descriptors {
			ones += int(set.Descriptors[i][bit/64] >> (bit % 64) & 1)
		}
		if f := float64(ones) / float64(n); f < 0.1 || f > 0.9 {
			t.Errorf("bit %d set in %.0f%% of descriptors", bit, 100*f)
		}
	}
}

func TestGridSpreading(t *testing.T) {
	// Top-left quadrant strongly textured, the rest mildly.
	tex := testImage()
	img := fill(640, 480, func(x, y int) uint8 {
		v := int(tex.Pix[y*tex.Stride+x])
		if x < 320 && y < 240 {
			return uint8(v)
		}
		return uint8(110 + (v-110)/6)
	})
	set := NewExtractor(DefaultConfig()).Extract(img)
	var quad [4]int
	for _, k := range set.Keypoints {
		q := 0
		if k.X >= 320 {
			q++
		}
		if k.Y >= 240 {
			q += 2
		}
		quad[q]++
	}
	t.Logf("features per quadrant %v", quad)
	for q, n := range quad {
		if n < set.Len()/10 {
			t.Errorf("quadrant %d has %d of %d features", q, n, set.Len())
		}
	}
}

func TestBudget(t *testing.T) {
	img := testImage()
	for _, n := range []int{50, 300, 1000, 3000} {
		set := NewExtractor(Config{MaxFeatures: n}).Extract(img)
		if set.Len() > n {
			t.Errorf("MaxFeatures %d: got %d", n, set.Len())
		}
		if n <= 1000 && set.Len() < n*9/10 {
			t.Errorf("MaxFeatures %d: only %d on a textured image", n, set.Len())
		}
		if len(set.Descriptors) != set.Len() || set.Width != 640 || set.Height != 480 {
			t.Errorf("inconsistent set: %d descriptors, %dx%d", len(set.Descriptors), set.Width, set.Height)
		}
		for _, k := range set.Keypoints {
			if k.X < 0 || k.Y < 0 || k.X > 639 || k.Y > 479 || k.Angle < 0 || k.Angle > 2*math.Pi || k.Scale <= 0 || k.Scale > 1 {
				t.Fatalf("bad keypoint %+v", k)
			}
		}
	}
}

func TestDeterministicAndConcurrent(t *testing.T) {
	e := NewExtractor(DefaultConfig())
	img := testImage()
	want := e.Extract(img)
	var wg sync.WaitGroup
	results := make([]*feature.Set, 4)
	for i := range results {
		wg.Go(func() { results[i] = e.Extract(img) })
	}
	wg.Wait()
	for i, got := range append(results, NewExtractor(Config{}).Extract(img)) {
		if !slices.Equal(got.Keypoints, want.Keypoints) || !slices.Equal(got.Descriptors, want.Descriptors) {
			t.Errorf("run %d differs", i)
		}
	}
}

func TestStride(t *testing.T) {
	big := testImage()
	sub := big.SubImage(image.Rect(37, 21, 37+400, 21+300)).(*image.Gray)
	packed := image.NewGray(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		copy(packed.Pix[y*400:y*400+400], sub.Pix[y*sub.Stride:])
	}
	e := NewExtractor(DefaultConfig())
	a, b := e.Extract(sub), e.Extract(packed)
	if a.Len() == 0 || !slices.Equal(a.Keypoints, b.Keypoints) || !slices.Equal(a.Descriptors, b.Descriptors) {
		t.Errorf("sub-image and packed copy differ (%d vs %d features)", a.Len(), b.Len())
	}
	if a.Width != 400 || a.Height != 300 {
		t.Errorf("size %dx%d", a.Width, a.Height)
	}
}

func TestSmallImages(t *testing.T) {
	e := NewExtractor(DefaultConfig())
	tex := testImage()
	for _, sz := range [][2]int{{0, 0}, {1, 1}, {10, 10}, {39, 200}, {40, 40}, {41, 41}, {64, 64}, {65, 300}, {300, 47}, {1000, 64}} {
		img := image.NewGray(image.Rect(0, 0, sz[0], sz[1]))
		for y := range sz[1] {
			for x := range sz[0] {
				img.Pix[y*img.Stride+x] = tex.Pix[(y%480)*tex.Stride+x%640]
			}
		}
		set := e.Extract(img)
		if set.Width != sz[0] || set.Height != sz[1] || len(set.Descriptors) != set.Len() {
			t.Errorf("%v: bad set %dx%d, %d/%d", sz, set.Width, set.Height, set.Len(), len(set.Descriptors))
		}
		if sz[0] >= 64 && sz[1] >= 64 && set.Len() == 0 {
			t.Errorf("%v: no features", sz)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		in   Config
		want Config
	}{
		{Config{}, DefaultConfig()},
		{Config{MaxFeatures: -1, Levels: -3, ScaleFactor: 0.5, FastThreshold: -1, MinThreshold: -1, CellSize: -1}, DefaultConfig()},
		{Config{MaxFeatures: 10, Levels: 100, ScaleFactor: 1.5, FastThreshold: 500, MinThreshold: 300, CellSize: 2},
			Config{MaxFeatures: 10, Levels: maxLevels, ScaleFactor: 1.5, FastThreshold: 254, MinThreshold: 254, CellSize: 8}},
		{Config{FastThreshold: 5}, Config{MaxFeatures: 1000, Levels: 8, ScaleFactor: 1.2, FastThreshold: 5, MinThreshold: 5, CellSize: 32}},
	}
	for _, tt := range tests {
		if got := NewExtractor(tt.in).Config(); got != tt.want {
			t.Errorf("NewExtractor(%+v).Config() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestPatternTable(t *testing.T) {
	seen := map[[2]uint8]bool{}
	for i, p := range patternPairs {
		if int(p[0]) >= numPoints || int(p[1]) >= numPoints || p[0] == p[1] {
			t.Fatalf("pair %d %v out of range", i, p)
		}
		if seen[p] || seen[[2]uint8{p[1], p[0]}] {
			t.Errorf("pair %d %v repeated", i, p)
		}
		seen[p] = true
	}
	// Rotated points plus the smoothing box must stay inside the border.
	e := NewExtractor(DefaultConfig())
	for b := range angleBins {
		for _, p := range e.rot[b] {
			if abs(int(p[0]))+boxSide/2 >= border || abs(int(p[1]))+boxSide/2 >= border {
				t.Fatalf("bin %d point %v too far out", b, p)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestDownscale6to5MatchesGeneric(t *testing.T) {
	src := testImage()
	for _, sz := range [][2]int{{640, 480}, {533, 400}, {101, 67}, {50, 43}} {
		sw, sh := sz[0], sz[1]
		sp := make([]byte, sw*sh)
		for y := range sh {
			copy(sp[y*sw:y*sw+sw], src.Pix[y*src.Stride:])
		}
		dw, dh := int(math.Round(float64(sw)/1.2)), int(math.Round(float64(sh)/1.2))
		want, got := make([]byte, dw*dh), make([]byte, dw*dh)
		downscale(new(scratch), want, dw, dh, sp, sw, sh, 1.2)
		downscale6to5(new(scratch), got, dw, dh, sp, sw, sh)
		if !slices.Equal(got, want) {
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%dx%d: first difference at (%d,%d): %d, want %d", sw, sh, i%dw, i/dw, got[i], want[i])
				}
			}
		}
	}
}

func TestOrientationIntegralMatchesDirect(t *testing.T) {
	img := testImage()
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	lv := &level{pix: img.Pix, w: w, h: h, scale: 1}
	sc := new(scratch)
	ii := integral(sc, lv, iiRect{0, 0, w, h})
	r := rng(3)
	for i := range 2000 {
		x := border + int(r.next()%uint64(w-2*border))
		y := border + int(r.next()%uint64(h-2*border))
		if i >= 1000 {
			// Only around the keypoint, over stale sums: patchRect's
			// margins must cover the disc.
			for j := range ii {
				ii[j] = uint16(j * 7919)
			}
			integral(sc, lv, patchRect([]corner{{x: int32(x), y: int32(y)}}))
		}
		if a, b := orientation(img.Pix, w, x, y), orientationII(ii, w+1, x, y); a != b {
			t.Fatalf("(%d,%d): integral %v, direct %v", x, y, b, a)
		}
	}
}

func TestScaleFactors(t *testing.T) {
	img := testImage()
	tests := []struct {
		scale  float64
		levels int
	}{{1.1, 12}, {1.2, 8}, {1.5, 4}, {2, 3}}
	for _, tt := range tests {
		set := NewExtractor(Config{ScaleFactor: tt.scale, Levels: tt.levels}).Extract(img)
		if set.Len() < 900 {
			t.Errorf("scale %v: %d features", tt.scale, set.Len())
		}
		seen := map[uint8]bool{}
		for _, k := range set.Keypoints {
			seen[k.Octave] = true
			want := math.Pow(tt.scale, -float64(k.Octave))
			if math.Abs(float64(k.Scale)-want) > 1e-6 {
				t.Fatalf("scale %v: octave %d has Scale %v, want %v", tt.scale, k.Octave, k.Scale, want)
			}
		}
		if len(seen) != tt.levels {
			t.Errorf("scale %v: features on %d of %d levels", tt.scale, len(seen), tt.levels)
		}
	}
}

// halved returns p halved for detectFAST's pre-test.
func halved(p []byte) []byte {
	h := make([]byte, len(p))
	halvePixels(h, p)
	return h
}

// TestPatchRectCoversReads checks the margins patchRect assumes: every test
// box and the orientation disc read integral-image indexes within border
// of the keypoint, border+1 below and right.
func TestPatchRectCoversReads(t *testing.T) {
	const h = boxSide / 2
	for b, pts := range rotatedPattern() {
		for k, pt := range pts {
			for _, c := range pt {
				if lo, hi := int(c)-h, int(c)-h+boxSide; lo < -border || hi > border+1 {
					t.Fatalf("bin %d point %d: box indexes %d..%d", b, k, lo, hi)
				}
			}
		}
	}
	if orientRadius+1 > border {
		t.Fatalf("orientation disc reaches %d", orientRadius+1)
	}
}
