package engine

import (
	"math"

	"github.com/opencrs/opencrs/internal/verify"
)

// ScoreFeatureNames names the entries of ScoreFeatures.
var ScoreFeatureNames = []string{"log(inliers)", "angle consistency", "inlier ratio", "coverage", "scale consistency"}

// ScoreFeatures is the evidence that separates true detections from chance
// consensus on clutter: the number of inliers (with diminishing returns),
// the share of inliers whose keypoint orientation and scale agree with the
// homography, the inlier ratio and the spread of the inliers over the target.
func ScoreFeatures(r *verify.Result) []float64 {
	return []float64{math.Log(float64(max(r.Inliers, 1))), r.AngleConsistency, r.InlierRatio, r.Coverage, r.ScaleConsistency}
}

// scoreWeights are the logistic model's weights, bias first, fitted by
// `opencrs calibrate` on a synthetic development set made from the training
// pool (never on the evaluation set); docs/ARCHITECTURE.md gives the command.
var scoreWeights = [...]float64{-13.0, 3.5, 3.0, 2.0, 1.5, 0}

// score maps a verified candidate's measurements to a calibrated
// probability that it is the right target.
func score(r *verify.Result) float64 {
	x := ScoreFeatures(r)
	z := scoreWeights[0]
	for i, v := range x {
		z += scoreWeights[i+1] * v
	}
	return 1 / (1 + math.Exp(-z))
}
