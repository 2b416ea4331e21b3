package engine

import (
	"math"
)

// ScoreFeatureNames names the entries of ScoreFeatures.
var ScoreFeatureNames = []string{"log(inliers)", "angle consistency", "inlier ratio", "coverage", "scale consistency", "photometric agreement", "visible coverage"}

// ScoreFeatures is the evidence that separates true detections from chance
// consensus on clutter: the number of inliers (with diminishing returns),
// the share of inliers whose keypoint orientation and scale agree with the
// homography, the inlier ratio and the spread of the inliers over the target.
func ScoreFeatures(v *Verified) []float64 {
	r := &v.Result
	return []float64{math.Log(float64(max(r.Inliers, 1))), r.AngleConsistency, r.InlierRatio, r.Coverage, r.ScaleConsistency, v.Photo, v.VisibleCoverage}
}

// scoreWeights are the logistic model's weights, bias first. They are set by
// hand, monotone in every feature, so that a candidate needs both a real
// consensus (inliers whose keypoint orientations agree with the homography)
// and support over the target; docs/ARCHITECTURE.md explains why a fitted
// model (`opencrs calibrate`) is not used yet.
var scoreWeights = [...]float64{-12.5, 2.0, 5.0, 2.0, 2.0, 1.0, 1.5, 1.0}

// score maps a verified candidate's measurements to a calibrated
// probability that it is the right target.
func score(v *Verified) float64 {
	if v.ToneJudged && v.Tone >= toneReject {
		return 0
	}
	x := ScoreFeatures(v)
	z := scoreWeights[0]
	for i, v := range x {
		z += scoreWeights[i+1] * v
	}
	return 1 / (1 + math.Exp(-z))
}
