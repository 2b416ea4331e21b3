package verify

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

// e2eTarget is a target with n keypoints and random descriptors.
func e2eTarget(r *rand.Rand, n int) *feature.Set {
	t := &feature.Set{Width: imgW, Height: imgH}
	for range n {
		t.Keypoints = append(t.Keypoints, feature.Keypoint{
			X: float32(r.Float64() * imgW), Y: float32(r.Float64() * imgH),
			Angle: float32((r.Float64()*2 - 1) * math.Pi), Scale: 1,
		})
		t.Descriptors = append(t.Descriptors, randDesc(r))
	}
	return t
}

// e2eQuery views target t through h: a fraction of its features that land
// in the frame are re-detected with noisy positions and descriptors, among
// clutter features with random descriptors.
func e2eQuery(r *rand.Rand, t *feature.Set, h [9]float64, keep float64, clutter int) *feature.Set {
	q := &feature.Set{Width: imgW, Height: imgH}
	for i, k := range t.Keypoints {
		u, v := Apply(h, float64(k.X), float64(k.Y))
		if u < 0 || v < 0 || u >= imgW || v >= imgH || r.Float64() > keep {
			continue
		}
		q.Keypoints = append(q.Keypoints, feature.Keypoint{
			X: float32(u + r.NormFloat64()), Y: float32(v + r.NormFloat64()),
			Angle: float32(jacobianAngle(h, float64(k.X), float64(k.Y), float64(k.Angle)) + r.NormFloat64()*0.1),
			Scale: 1,
		})
		q.Descriptors = append(q.Descriptors, flip(r, t.Descriptors[i], 5+r.IntN(30)))
	}
	for range clutter {
		q.Keypoints = append(q.Keypoints, feature.Keypoint{
			X: float32(r.Float64() * imgW), Y: float32(r.Float64() * imgH),
			Angle: float32((r.Float64()*2 - 1) * math.Pi), Scale: 1,
		})
		q.Descriptors = append(q.Descriptors, randDesc(r))
	}
	return q
}

func TestMatchThenVerify(t *testing.T) {
	for hi, th := range testHomographies {
		r := rand.New(rand.NewPCG(uint64(hi), 77))
		target := e2eTarget(r, 500)
		query := e2eQuery(r, target, th.h, 0.4, 600)
		pairs := Match(query, target, MatchOptions{}, nil)
		res := Verify(query, target, pairs, Options{})
		if !res.OK {
			t.Errorf("%s: rejected: %s (%d/%d)", th.name, res.Reason, res.Inliers, res.Matches)
			continue
		}
		if e := cornerError(res.H, th.h, imgW, imgH); e > 2 {
			t.Errorf("%s: corner error %.2f", th.name, e)
		}
		if res.AngleConsistency < 0.9 {
			t.Errorf("%s: angle consistency %.2f", th.name, res.AngleConsistency)
		}

		// A different picture sharing some of the same local features, but
		// in another arrangement, must not verify.
		other := e2eTarget(r, 500)
		for i := range 150 {
			other.Descriptors[i] = target.Descriptors[i]
		}
		pairs = Match(query, other, MatchOptions{}, pairs)
		if res := Verify(query, other, pairs, Options{}); res.OK {
			t.Errorf("%s: rearranged target accepted with %d/%d inliers", th.name, res.Inliers, res.Matches)
		}
	}
}
