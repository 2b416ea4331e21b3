package verify

import (
	"math"
	"math/rand/v2"

	"github.com/opencrs/opencrs/internal/feature"
)

const imgW, imgH = 640, 480

// Known target→query homographies used across the tests.
var testHomographies = []struct {
	name string
	h    [9]float64
}{
	{"identity", [9]float64{1, 0, 0, 0, 1, 0, 0, 0, 1}},
	{"rotation30", rotAbout(30*math.Pi/180, 0.8, 320, 240)},
	{"scale0.5", [9]float64{0.5, 0, 150, 0, 0.5, 100, 0, 0, 1}},
	{"tilt", [9]float64{0.9, 0.05, 40, -0.02, 0.85, 30, 0.0004, -0.0002, 1}},
	{"tiltRot", mul3(rotAbout(-70*math.Pi/180, 0.7, 320, 240), [9]float64{1, 0.1, 10, 0, 1, 5, -0.0003, 0.0005, 1})},
}

// rotAbout rotates by a and scales by s about (cx, cy).
func rotAbout(a, s, cx, cy float64) [9]float64 {
	c, sn := s*math.Cos(a), s*math.Sin(a)
	return [9]float64{c, -sn, cx - c*cx + sn*cy, sn, c, cy - sn*cx - c*cy, 0, 0, 1}
}

// scene is a synthetic query/target pair: the first nIn pairs are true
// correspondences under h, the rest random.
type scene struct {
	q, t  *feature.Set
	pairs []Pair
	nIn   int
}

// jacobianAngle is the orientation in the query of a target direction a at
// (x, y) under h.
func jacobianAngle(h [9]float64, x, y, a float64) float64 {
	u, v := Apply(h, x, y)
	w := h[6]*x + h[7]*y + h[8]
	j00, j01 := (h[0]-u*h[6])/w, (h[1]-u*h[7])/w
	j10, j11 := (h[3]-v*h[6])/w, (h[4]-v*h[7])/w
	return math.Atan2(j10*math.Cos(a)+j11*math.Sin(a), j00*math.Cos(a)+j01*math.Sin(a))
}

// makeScene builds nIn true correspondences with Gaussian noise sigma and
// nOut random pairs. With goodDist the true pairs tend to have smaller
// descriptor distances, as real matches do.
func makeScene(r *rand.Rand, h [9]float64, nIn, nOut int, sigma float64, goodDist bool) scene {
	n := nIn + nOut
	q := &feature.Set{Width: imgW, Height: imgH, Keypoints: make([]feature.Keypoint, n), Descriptors: make([]feature.Descriptor, n)}
	t := &feature.Set{Width: imgW, Height: imgH, Keypoints: make([]feature.Keypoint, n), Descriptors: make([]feature.Descriptor, n)}
	pairs := make([]Pair, n)
	for i := range n {
		x, y := r.Float64()*imgW, r.Float64()*imgH
		a := (r.Float64()*2 - 1) * math.Pi
		t.Keypoints[i] = feature.Keypoint{X: float32(x), Y: float32(y), Angle: float32(a), Scale: 1}
		var dist int
		if i < nIn {
			u, v := Apply(h, x, y)
			u += r.NormFloat64() * sigma
			v += r.NormFloat64() * sigma
			q.Keypoints[i] = feature.Keypoint{X: float32(u), Y: float32(v), Angle: float32(jacobianAngle(h, x, y, a)), Scale: 1}
			dist = r.IntN(64)
			if goodDist {
				dist = r.IntN(40)
			}
		} else {
			q.Keypoints[i] = feature.Keypoint{X: float32(r.Float64() * imgW), Y: float32(r.Float64() * imgH), Angle: float32((r.Float64()*2 - 1) * math.Pi), Scale: 1}
			dist = r.IntN(64)
			if goodDist {
				dist = 20 + r.IntN(44)
			}
		}
		pairs[i] = Pair{Q: int32(i), T: int32(i), Dist: uint16(dist)}
	}
	r.Shuffle(n, func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	return scene{q, t, pairs, nIn}
}

// cornerError is the largest distance between the target corners mapped by
// the two homographies.
func cornerError(a, b [9]float64, w, h float64) float64 {
	var e float64
	for _, p := range [4][2]float64{{0, 0}, {w, 0}, {w, h}, {0, h}} {
		x1, y1 := Apply(a, p[0], p[1])
		x2, y2 := Apply(b, p[0], p[1])
		e = max(e, math.Hypot(x1-x2, y1-y2))
	}
	return e
}

func randDesc(r *rand.Rand) feature.Descriptor {
	return feature.Descriptor{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
}

// flip returns d with k distinct random bits flipped.
func flip(r *rand.Rand, d feature.Descriptor, k int) feature.Descriptor {
	for _, b := range r.Perm(256)[:k] {
		d[b/64] ^= 1 << (b % 64)
	}
	return d
}
