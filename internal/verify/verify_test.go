package verify

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

func TestVerifyRecovers(t *testing.T) {
	tests := []struct {
		name     string
		outFrac  float64
		goodDist bool // true pairs rank better by descriptor distance
		opt      Options
	}{
		{"out30", 0.3, false, Options{}},
		{"out60", 0.6, false, Options{}},
		{"out60ranked", 0.6, true, Options{}},
		{"out80ranked", 0.8, true, Options{}},
		// Without a quality ranking 80% outliers need more draws than the
		// default budget for 99.5% confidence.
		{"out80", 0.8, false, Options{MaxIterations: 5000}},
	}
	for _, tc := range tests {
		for hi, th := range testHomographies {
			for seed := range uint64(5) {
				r := rand.New(rand.NewPCG(seed, uint64(hi)))
				const nIn = 100
				nOut := int(math.Round(nIn * tc.outFrac / (1 - tc.outFrac)))
				sc := makeScene(r, th.h, nIn, nOut, 1, tc.goodDist)
				res := Verify(sc.q, sc.t, sc.pairs, tc.opt)
				if !res.OK {
					t.Errorf("%s/%s/%d: rejected: %s (%d inliers)", tc.name, th.name, seed, res.Reason, res.Inliers)
					continue
				}
				if e := cornerError(res.H, th.h, imgW, imgH); e > 2 {
					t.Errorf("%s/%s/%d: corner error %.2f px", tc.name, th.name, seed, e)
				}
				trueIn, falseIn := 0, 0
				for _, i := range res.InlierIndices {
					if sc.pairs[i].Q < int32(sc.nIn) {
						trueIn++
					} else {
						falseIn++
					}
				}
				if trueIn < 95 || falseIn > 3 {
					t.Errorf("%s/%s/%d: %d true and %d false inliers", tc.name, th.name, seed, trueIn, falseIn)
				}
				if res.AngleConsistency < 0.95 {
					t.Errorf("%s/%s/%d: angle consistency %.2f", tc.name, th.name, seed, res.AngleConsistency)
				}
				if res.MeanError > 2.5 {
					t.Errorf("%s/%s/%d: mean error %.2f", tc.name, th.name, seed, res.MeanError)
				}
				if res.Coverage < 0.6 {
					t.Errorf("%s/%s/%d: coverage %.2f", tc.name, th.name, seed, res.Coverage)
				}
			}
		}
	}
}

// Random pairs must essentially never verify: that is what keeps clutter
// from producing false hits.
func TestVerifyRandomRejected(t *testing.T) {
	for _, n := range []int{20, 100, 300} {
		accepted, maxInliers := 0, 0
		for seed := range uint64(200) {
			r := rand.New(rand.NewPCG(seed, uint64(n)))
			sc := makeScene(r, testHomographies[0].h, 0, n, 0, false)
			res := Verify(sc.q, sc.t, sc.pairs, Options{Seed: seed})
			if res.OK {
				accepted++
			}
			maxInliers = max(maxInliers, res.Inliers)
			checkFinite(t, "random", res)
		}
		if accepted > 0 {
			t.Errorf("%d random pairs: %d of 200 accepted (max inliers %d)", n, accepted, maxInliers)
		}
		t.Logf("%d random pairs: max inliers %d", n, maxInliers)
	}
}

func checkFinite(t *testing.T, name string, res Result) {
	t.Helper()
	vals := []float64{res.InlierRatio, res.Coverage, res.QueryCoverage, res.MeanError, res.AngleConsistency, res.ScaleConsistency}
	vals = append(vals, res.H[:]...)
	for _, c := range res.Corners {
		vals = append(vals, c[0], c[1])
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s: non-finite value in %+v", name, res)
			return
		}
	}
}

func TestVerifyDegenerate(t *testing.T) {
	set := func(pts [][2]float64) *feature.Set {
		s := &feature.Set{Width: imgW, Height: imgH}
		for _, p := range pts {
			s.Keypoints = append(s.Keypoints, feature.Keypoint{X: float32(p[0]), Y: float32(p[1]), Scale: 1})
			s.Descriptors = append(s.Descriptors, feature.Descriptor{})
		}
		return s
	}
	identity := func(n int) []Pair {
		p := make([]Pair, n)
		for i := range p {
			p[i] = Pair{Q: int32(i), T: int32(i)}
		}
		return p
	}
	var line, same, lineOff [][2]float64
	for i := range 50 {
		line = append(line, [2]float64{float64(i) * 10, float64(i)*7 + 20})
		lineOff = append(lineOff, [2]float64{float64(i)*10 + 0.01*float64(i%3), float64(i)*7 + 20})
		same = append(same, [2]float64{200, 200})
	}
	r := rand.New(rand.NewPCG(9, 9))
	var spread [][2]float64
	for range 50 {
		spread = append(spread, [2]float64{r.Float64() * imgW, r.Float64() * imgH})
	}
	withNaN := append([][2]float64(nil), spread...)
	for i := range 40 {
		withNaN[i][0] = math.NaN()
	}
	tests := []struct {
		name  string
		q, t  [][2]float64
		pairs []Pair
	}{
		{"none", nil, nil, nil},
		{"three", spread[:3], spread[:3], identity(3)},
		{"collinear", line, line, identity(50)},
		{"nearly collinear", lineOff, lineOff, identity(50)},
		{"collinear query", line, spread, identity(50)},
		{"duplicates", same, same, identity(50)},
		{"duplicate query", same, spread, identity(50)},
		{"nan", withNaN, spread, identity(50)},
		{"bad indices", spread, spread, []Pair{{Q: -1, T: 0}, {Q: 0, T: 99}, {Q: 1000, T: 1}}},
	}
	for _, tc := range tests {
		res := Verify(set(tc.q), set(tc.t), tc.pairs, Options{})
		if res.OK {
			t.Errorf("%s: accepted", tc.name)
		}
		if res.Reason == "" {
			t.Errorf("%s: no reason", tc.name)
		}
		checkFinite(t, tc.name, res)
	}
}

func TestVerifyImplausible(t *testing.T) {
	tests := []struct {
		name string
		h    [9]float64
	}{
		{"mirror", [9]float64{-1, 0, imgW, 0, 1, 0, 0, 0, 1}},
		{"flip", [9]float64{1, 0, 0, 0, -1, imgH, 0, 0, 1}},
		{"tiny", [9]float64{0.02, 0, 300, 0, 0.02, 200, 0, 0, 1}},
		{"huge", [9]float64{4, 0, -900, 0, 4, -700, 0, 0, 1}},
		{"shear", [9]float64{1, 3, 0, 0, 0.3, 0, 0, 0, 1}},
	}
	for _, tc := range tests {
		r := rand.New(rand.NewPCG(7, 7))
		sc := makeScene(r, tc.h, 100, 20, 0.5, false)
		res := Verify(sc.q, sc.t, sc.pairs, Options{})
		if res.OK {
			t.Errorf("%s: accepted with corners %v", tc.name, res.Corners)
		}
		checkFinite(t, tc.name, res)
	}
}

func TestCheckQuad(t *testing.T) {
	lim := quadLimits{minArea: 100, maxArea: 1e6, maxSideRatio: 8, minCornerSin: math.Sin(15 * math.Pi / 180)}
	tests := []struct {
		name string
		c    [4][2]float64
		want string
	}{
		{"rect", [4][2]float64{{0, 0}, {100, 0}, {100, 50}, {0, 50}}, ""},
		{"trapezoid", [4][2]float64{{30, 0}, {70, 0}, {100, 50}, {0, 50}}, ""},
		{"rotated", [4][2]float64{{50, 0}, {100, 50}, {50, 100}, {0, 50}}, ""},
		{"mirrored", [4][2]float64{{100, 0}, {0, 0}, {0, 50}, {100, 50}}, ReasonMirrored},
		{"bowtie", [4][2]float64{{0, 0}, {100, 0}, {0, 50}, {100, 50}}, ReasonNotConvex},
		{"dart", [4][2]float64{{0, 0}, {100, 0}, {30, 20}, {0, 100}}, ReasonNotConvex},
		{"collapsed", [4][2]float64{{0, 0}, {0, 0}, {100, 50}, {0, 50}}, ReasonNotConvex},
		{"sliver", [4][2]float64{{0, 0}, {100, 0}, {300, 20}, {200, 20}}, ReasonPerspective},
		{"sides", [4][2]float64{{45, 0}, {55, 0}, {200, 100}, {-100, 100}}, ReasonPerspective},
		{"small", [4][2]float64{{0, 0}, {8, 0}, {8, 8}, {0, 8}}, ReasonAreaTooSmall},
		{"large", [4][2]float64{{0, 0}, {2000, 0}, {2000, 2000}, {0, 2000}}, ReasonAreaTooLarge},
	}
	for _, tc := range tests {
		if got := checkQuad(&tc.c, &lim); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestVerifyAngleConsistency(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	sc := makeScene(r, testHomographies[4].h, 100, 50, 1, false)
	res := Verify(sc.q, sc.t, sc.pairs, Options{})
	if !res.OK || res.AngleConsistency < 0.95 {
		t.Fatalf("consistent angles: OK=%v consistency %.2f", res.OK, res.AngleConsistency)
	}
	for i := range sc.q.Keypoints {
		sc.q.Keypoints[i].Angle = float32(r.Float64() * 2 * math.Pi)
	}
	res = Verify(sc.q, sc.t, sc.pairs, Options{})
	if res.AngleConsistency > 0.3 {
		t.Errorf("random angles: consistency %.2f", res.AngleConsistency)
	}
}

func TestVerifyScaleConsistency(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	h := testHomographies[2].h // scale 0.5: query patches are half size
	sc := makeScene(r, h, 100, 0, 1, false)
	for i := range sc.q.Keypoints {
		sc.t.Keypoints[i].Scale = 0.5
		sc.q.Keypoints[i].Scale = 1
	}
	res := Verify(sc.q, sc.t, sc.pairs, Options{})
	if !res.OK || res.ScaleConsistency < 0.99 {
		t.Errorf("consistent scales: OK=%v consistency %.2f", res.OK, res.ScaleConsistency)
	}
	for i := range sc.q.Keypoints {
		sc.t.Keypoints[i].Scale = 1
		sc.q.Keypoints[i].Scale = 0.4
	}
	res = Verify(sc.q, sc.t, sc.pairs, Options{UniformThreshold: true})
	if res.ScaleConsistency > 0.01 {
		t.Errorf("inconsistent scales: consistency %.2f", res.ScaleConsistency)
	}
}

func TestVerifyDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	sc := makeScene(r, testHomographies[3].h, 60, 140, 1.5, false)
	a := Verify(sc.q, sc.t, sc.pairs, Options{})
	for range 3 {
		b := Verify(sc.q, sc.t, sc.pairs, Options{})
		if a.H != b.H || a.Inliers != b.Inliers || a.Reason != b.Reason {
			t.Fatalf("results differ: %+v vs %+v", a, b)
		}
	}
}

func TestVerifyPartlyOutOfFrame(t *testing.T) {
	// The target is magnified and shifted so that two corners fall outside
	// the query; only pairs visible in the query exist.
	h := [9]float64{1.6, 0, -300, 0, 1.6, -100, 0.0002, 0, 1}
	r := rand.New(rand.NewPCG(31, 32))
	sc := makeScene(r, h, 300, 60, 1, false)
	var pairs []Pair
	nIn := 0
	for _, p := range sc.pairs {
		k := sc.q.Keypoints[p.Q]
		if k.X < 0 || k.Y < 0 || k.X >= imgW || k.Y >= imgH {
			continue
		}
		if p.Q < int32(sc.nIn) {
			nIn++
		}
		pairs = append(pairs, p)
	}
	res := Verify(sc.q, sc.t, pairs, Options{})
	if !res.OK {
		t.Fatalf("rejected: %s", res.Reason)
	}
	if e := cornerError(res.H, h, imgW, imgH); e > 3 {
		t.Errorf("corner error %.2f", e)
	}
	if res.QueryCoverage < 0.8 {
		t.Errorf("query coverage %.2f with %d visible true pairs", res.QueryCoverage, nIn)
	}
}

func BenchmarkVerify(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	sc := makeScene(r, testHomographies[4].h, 150, 150, 1, false)
	for b.Loop() {
		Verify(sc.q, sc.t, sc.pairs, Options{})
	}
}

// The common case for wrong candidates: a few dozen chance matches.
func BenchmarkVerifyClutter(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	sc := makeScene(r, testHomographies[0].h, 0, 60, 0, false)
	for b.Loop() {
		Verify(sc.q, sc.t, sc.pairs, Options{})
	}
}

// Keypoints found on coarse pyramid levels are located less precisely; the
// inlier threshold grows with their level so they are not lost.
func TestVerifyThresholdFollowsScale(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	sc := makeScene(r, testHomographies[1].h, 150, 50, 3, false)
	for i := range sc.q.Keypoints {
		sc.q.Keypoints[i].Scale = 0.5
		sc.t.Keypoints[i].Scale = 0.5 * 0.8 // the homography scales by 0.8
	}
	scaled := Verify(sc.q, sc.t, sc.pairs, Options{})
	uniform := Verify(sc.q, sc.t, sc.pairs, Options{UniformThreshold: true})
	if !scaled.OK || scaled.Inliers < 145 {
		t.Errorf("scaled threshold: OK=%v with %d inliers", scaled.OK, scaled.Inliers)
	}
	if uniform.Inliers >= scaled.Inliers {
		t.Errorf("uniform threshold kept %d inliers, scaled %d", uniform.Inliers, scaled.Inliers)
	}
	if scaled.ScaleConsistency < 0.99 {
		t.Errorf("scale consistency %.2f", scaled.ScaleConsistency)
	}
}
