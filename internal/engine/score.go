package engine

import (
	"math"

	"github.com/opencrs/opencrs/internal/verify"
)

// score maps a verified candidate's measurements to a calibrated probability
// that it is the right target. It is a logistic model over the evidence that
// separates true detections from chance consensus on clutter: the number of
// inliers (with diminishing returns), the share of inliers whose keypoint
// orientation agrees with the homography, the inlier ratio and the spread of
// the inliers over the target.
func score(r *verify.Result) float64 {
	z := scoreBias +
		scoreInliers*math.Log(float64(r.Inliers)) +
		scoreAngle*r.AngleConsistency +
		scoreRatio*r.InlierRatio +
		scoreCoverage*r.Coverage
	return 1 / (1 + math.Exp(-z))
}

// Coefficients of score; see docs/ARCHITECTURE.md for how they were fitted.
const (
	scoreBias     = -13.0
	scoreInliers  = 3.5
	scoreAngle    = 3.0
	scoreRatio    = 2.0
	scoreCoverage = 1.5
)
