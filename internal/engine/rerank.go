package engine

import (
	"math"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/verify"
)

// Consistency histogram: true matches of one planar target agree, roughly,
// on the change of keypoint orientation and of scale between target and
// query; chance matches on clutter spread over all bins. The largest count in
// a 2x2 block of bins is the rerank score: a cheap stand-in for geometric
// verification that lets a small target with a few dozen true matches
// outrank a large, busy target with many chance ones.
const (
	// minConsistent is the rerank score below which a candidate is not
	// worth verifying.
	minConsistent = 8

	angleBins = 12            // 30° each
	scaleBins = 12            // in steps of scaleStep
	scaleStep = 0.3646        // ln(1.44): two pyramid levels
	scaleMid  = scaleBins / 2 // bin of equal scale
)

// consistentMatches returns the rerank score of pairs.
func consistentMatches(q, t *feature.Set, pairs []verify.Pair) int {
	var h [angleBins + 1][scaleBins + 1]uint16
	for _, p := range pairs {
		qk, tk := &q.Keypoints[p.Q], &t.Keypoints[p.T]
		da := float64(qk.Angle - tk.Angle)
		a := int(math.Floor(da/(2*math.Pi)*angleBins)) % angleBins
		if a < 0 {
			a += angleBins
		}
		// Size on the image is 1/Scale: target size / query size.
		ls := math.Log(float64(tk.Scale)/float64(qk.Scale)) / scaleStep
		s := int(math.Floor(ls)) + scaleMid
		if s < 0 || s >= scaleBins || qk.Scale <= 0 || tk.Scale <= 0 {
			continue
		}
		h[a][s]++
	}
	// Angle wraps around: copy the first row after the last.
	h[angleBins] = h[0]
	best := 0
	for a := 0; a < angleBins; a++ {
		for s := 0; s < scaleBins; s++ {
			c := int(h[a][s]) + int(h[a+1][s]) + int(h[a][s+1]) + int(h[a+1][s+1])
			best = max(best, c)
		}
	}
	return best
}
