package verify

import "math"

// Rejection reasons reported in Result.Reason.
const (
	ReasonTooFewMatches  = "too few matches"
	ReasonNoConsensus    = "no consensus"
	ReasonDegenerate     = "inliers degenerate"
	ReasonBehindCamera   = "target behind camera"
	ReasonNotConvex      = "quad not convex"
	ReasonMirrored       = "quad mirrored"
	ReasonAreaTooSmall   = "quad area too small"
	ReasonAreaTooLarge   = "quad area too large"
	ReasonPerspective    = "perspective too extreme"
	ReasonIllConditioned = "homography ill-conditioned"
)

// quadLimits are the plausibility bounds for the projected target.
type quadLimits struct {
	minArea, maxArea float64 // absolute, in the units of the corners
	maxSideRatio     float64
	minCornerSin     float64 // sin of the smallest allowed corner angle
}

// cornersOf maps the rectangle (0,0),(w,0),(w,h),(0,h) through hm and reports
// false if any corner lands at or behind the camera (w <= 0), which a
// homography of a real view of a planar target never does.
func cornersOf(hm *[9]float64, rect *[4][2]float64) ([4][2]float64, bool) {
	var c [4][2]float64
	for i, p := range rect {
		w := hm[6]*p[0] + hm[7]*p[1] + hm[8]
		if !(w > 0) {
			return c, false
		}
		c[i][0] = (hm[0]*p[0] + hm[1]*p[1] + hm[2]) / w
		c[i][1] = (hm[3]*p[0] + hm[4]*p[1] + hm[5]) / w
		if math.IsInf(c[i][0], 0) || math.IsInf(c[i][1], 0) || math.IsNaN(c[i][0]) || math.IsNaN(c[i][1]) {
			return c, false
		}
	}
	return c, true
}

// checkQuad returns "" when the projected target quad c (TL, TR, BR, BL) is
// a plausible view of the target rectangle, or the reason it is not. The
// checks are invariant under the similarity used for normalisation, so c may
// be in pixels or in normalised query coordinates (with limits to match).
func checkQuad(c *[4][2]float64, lim *quadLimits) string {
	var side [4]float64
	for i := range 4 {
		j := (i + 1) & 3
		side[i] = math.Hypot(c[j][0]-c[i][0], c[j][1]-c[i][1])
		if !(side[i] > 0) {
			return ReasonNotConvex
		}
	}
	// A quadrilateral whose four turns all have the same sign is simple and
	// convex (its exterior angles must then sum to exactly 360°). The source
	// rectangle turns positively in image coordinates; all turns negative
	// means a mirror image, which no camera produces.
	var turn [4]float64
	pos, neg := 0, 0
	for i := range 4 {
		turn[i] = cornerCross(c, i)
		switch {
		case turn[i] > 0:
			pos++
		case turn[i] < 0:
			neg++
		}
	}
	switch {
	case neg == 4:
		return ReasonMirrored
	case pos != 4:
		return ReasonNotConvex
	}
	// A sliver corner means extreme perspective or a near-degenerate fit.
	for i := range 4 {
		if turn[i]/(side[i]*side[(i+3)&3]) < lim.minCornerSin {
			return ReasonPerspective
		}
	}
	if ratio(side[0], side[2]) > lim.maxSideRatio || ratio(side[1], side[3]) > lim.maxSideRatio {
		return ReasonPerspective
	}
	a := quadArea(c)
	switch {
	case a < lim.minArea:
		return ReasonAreaTooSmall
	case a > lim.maxArea:
		return ReasonAreaTooLarge
	}
	return ""
}

// cornerCross is the cross product of the edges leaving corner i towards its
// successor and predecessor: positive for a convex corner of a quad ordered
// like TL, TR, BR, BL in image coordinates.
func cornerCross(c *[4][2]float64, i int) float64 {
	prev, next := (i+3)&3, (i+1)&3
	ax, ay := c[prev][0]-c[i][0], c[prev][1]-c[i][1]
	bx, by := c[next][0]-c[i][0], c[next][1]-c[i][1]
	return bx*ay - by*ax
}

func ratio(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return a / b
}

// quadArea is the shoelace area of a simple quad.
func quadArea(c *[4][2]float64) float64 {
	var s float64
	for i := range 4 {
		j := (i + 1) & 3
		s += c[i][0]*c[j][1] - c[j][0]*c[i][1]
	}
	return math.Abs(s) / 2
}

// pointInConvexQuad reports whether (x, y) lies inside the convex quad c
// accepted by checkQuad.
func pointInConvexQuad(c *[4][2]float64, x, y float64) bool {
	for i := range 4 {
		j := (i + 1) & 3
		ex, ey := c[j][0]-c[i][0], c[j][1]-c[i][1]
		px, py := x-c[i][0], y-c[i][1]
		if ex*py-ey*px < 0 {
			return false
		}
	}
	return true
}
