package verify

import (
	"math"
	"math/bits"
	"slices"

	"github.com/opencrs/opencrs/internal/feature"
)

// Defaults for Options.
const (
	DefaultThreshold      = 5.0   // query pixels
	DefaultMinInliers     = 12    //
	DefaultMaxIterations  = 1000  //
	DefaultConfidence     = 0.995 //
	DefaultRefineRounds   = 3     //
	DefaultMinAreaFrac    = 0.001 // of the query image
	DefaultMaxAreaFrac    = 4.0   // of the query image
	DefaultMaxSideRatio   = 8.0   // opposite sides of the projected target
	DefaultMinCornerAngle = 15.0  // degrees
	DefaultAngleTolerance = 25.0  // degrees
	DefaultScaleTolerance = 1.6   // factor
)

// Options configures Verify. Zero fields take the defaults above.
type Options struct {
	// Threshold is the reprojection error, in query pixels, below which a
	// pair is an inlier. Unless UniformThreshold is set it grows with the
	// pyramid level of the query keypoint (up to twice), whose position is
	// only known to the precision of that level.
	Threshold        float64
	UniformThreshold bool
	// MinInliers is the consensus below which Verify gives up (at least 4).
	MinInliers    int
	MaxIterations int
	Confidence    float64 // RANSAC stops once this sure to have seen the best model
	RefineRounds  int     // least-squares refinement rounds on the inliers

	// Plausibility of the target rectangle projected into the query.
	MinAreaFrac, MaxAreaFrac float64 // area relative to the query image
	MaxSideRatio             float64 // longest/shortest of opposite sides
	MinCornerAngle           float64 // degrees

	// AngleTolerance (degrees) and ScaleTolerance (factor) decide whether an
	// inlier's keypoint orientation and scale agree with the homography.
	AngleTolerance float64
	ScaleTolerance float64

	// Seed varies the otherwise fixed random sequence, so results are
	// reproducible for equal inputs.
	Seed uint64
}

func (o *Options) withDefaults() Options {
	r := *o
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&r.Threshold, DefaultThreshold)
	def(&r.Confidence, DefaultConfidence)
	def(&r.MinAreaFrac, DefaultMinAreaFrac)
	def(&r.MaxAreaFrac, DefaultMaxAreaFrac)
	def(&r.MaxSideRatio, DefaultMaxSideRatio)
	def(&r.MinCornerAngle, DefaultMinCornerAngle)
	def(&r.AngleTolerance, DefaultAngleTolerance)
	def(&r.ScaleTolerance, DefaultScaleTolerance)
	if r.Confidence >= 1 {
		r.Confidence = DefaultConfidence
	}
	if r.ScaleTolerance < 1 {
		r.ScaleTolerance = 1 / r.ScaleTolerance
	}
	if r.MinInliers <= 0 {
		r.MinInliers = DefaultMinInliers
	}
	r.MinInliers = max(r.MinInliers, 4)
	if r.MaxIterations <= 0 {
		r.MaxIterations = DefaultMaxIterations
	}
	if r.RefineRounds <= 0 {
		r.RefineRounds = DefaultRefineRounds
	}
	return r
}

// Result is the outcome of Verify. When the best model reached MinInliers,
// the other fields describe it even if it was then rejected as implausible,
// so a caller can log or calibrate on rejected candidates too; below
// MinInliers only Matches, Inliers and InlierRatio are filled in.
type Result struct {
	OK      bool
	Reason  string        // why OK is false
	H       [9]float64    // target pixels → query pixels
	Corners [4][2]float64 // target TL, TR, BR, BL in query pixels

	Matches     int     // pairs given
	Inliers     int     // pairs consistent with H
	InlierRatio float64 // Inliers / Matches
	// InlierIndices are the indices into the pairs given of the inliers.
	InlierIndices []int

	// Coverage is the fraction of the cells of a 6x6 grid over the target
	// rectangle that hold at least one inlier.
	Coverage float64
	// QueryCoverage is the same over the part of the projected target that
	// lies in the query frame (cells whose centre is inside it).
	QueryCoverage float64
	MeanError     float64 // mean reprojection error of the inliers, query pixels

	// AngleConsistency and ScaleConsistency are the fractions of inliers
	// whose keypoint orientation change and scale change agree with the
	// local rotation and scale of H. True matches agree; pairs that fit H
	// by chance on clutter do not.
	AngleConsistency float64
	ScaleConsistency float64
}

// gridN is the resolution of the coverage grids.
const gridN = 6

// corr is one usable pair in normalised coordinates.
type corr struct {
	tx, ty, qx, qy float64
	thr2           float64 // squared inlier threshold, normalised query units
	idx            int32   // index into the caller's pairs
	dist           uint16
}

// Verify looks for a homography, mapping target t onto query q, that is
// supported by enough of the pairs (as returned by Match) and maps the target
// rectangle to a plausible quadrilateral. It never panics on degenerate
// input (too few, duplicated or collinear points) but reports OK = false.
func Verify(q, t *feature.Set, pairs []Pair, opt Options) Result {
	o := opt.withDefaults()
	res := Result{Matches: len(pairs)}

	cs := make([]corr, 0, len(pairs))
	for i, p := range pairs {
		if p.Q < 0 || int(p.Q) >= len(q.Keypoints) || p.T < 0 || int(p.T) >= len(t.Keypoints) {
			continue
		}
		qk, tk := &q.Keypoints[p.Q], &t.Keypoints[p.T]
		if !finite(qk.X, qk.Y) || !finite(tk.X, tk.Y) {
			continue
		}
		thr := o.Threshold
		if !o.UniformThreshold && qk.Scale > 0 && qk.Scale < 1 {
			thr *= min(1/float64(qk.Scale), 2)
		}
		cs = append(cs, corr{
			tx: float64(tk.X), ty: float64(tk.Y), qx: float64(qk.X), qy: float64(qk.Y),
			thr2: thr, idx: int32(i), dist: p.Dist,
		})
	}
	if len(cs) < o.MinInliers {
		res.Reason = ReasonTooFewMatches
		return res
	}
	// PROSAC draws its early samples from the best-looking pairs.
	slices.SortStableFunc(cs, func(a, b corr) int { return int(a.dist) - int(b.dist) })

	tn, okT := normaliserOf(cs, false)
	qn, okQ := normaliserOf(cs, true)
	if !okT || !okQ {
		res.Reason = ReasonNoConsensus
		return res
	}
	for i := range cs {
		c := &cs[i]
		c.tx, c.ty = tn.apply(c.tx, c.ty)
		c.qx, c.qy = qn.apply(c.qx, c.qy)
		thr := c.thr2 * qn.s // thr2 held the pixel threshold until now
		c.thr2 = thr * thr
	}

	rect := targetRect(t, pairs)
	var rectN [4][2]float64
	for i, p := range rect {
		rectN[i][0], rectN[i][1] = tn.apply(p[0], p[1])
	}
	lim := quadLimits{
		minArea:      0,
		maxArea:      math.Inf(1),
		maxSideRatio: o.MaxSideRatio,
		minCornerSin: math.Sin(o.MinCornerAngle * math.Pi / 180),
	}
	if q.Width > 0 && q.Height > 0 {
		qa := float64(q.Width) * float64(q.Height)
		lim.minArea = o.MinAreaFrac * qa
		lim.maxArea = o.MaxAreaFrac * qa
	}
	limN := lim
	limN.minArea *= qn.s * qn.s
	limN.maxArea *= qn.s * qn.s

	plausible := &plausibility{rect: rectN, lim: limN}
	hn, n := ransac(cs, &o, plausible)
	if n < o.MinInliers {
		res.Inliers = n
		res.InlierRatio = float64(n) / float64(len(pairs))
		res.Reason = ReasonNoConsensus
		return res
	}
	mask := make([]bool, 2*len(cs))
	mask, next := mask[:len(cs)], mask[len(cs):]
	countInliers(&hn, cs, mask)
	hn = refine(hn, cs, mask, next, o.RefineRounds, plausible)

	h, ok := finish(denormalise(hn, tn, qn))
	if !ok {
		res.Inliers = n
		res.InlierRatio = float64(n) / float64(len(pairs))
		res.Reason = ReasonIllConditioned
		return res
	}
	res.H = h
	corners, front := cornersOf(&h, &rect)
	res.Corners = corners
	switch {
	case !front:
		res.Reason = ReasonBehindCamera
	default:
		res.Reason = checkQuad(&corners, &lim)
	}
	measure(&res, q, t, pairs, cs, mask, rect, &o)
	if res.Reason == "" {
		// A homography is only pinned down by inliers that spread in two
		// dimensions by more than the noise; a line of points or a blob
		// within the threshold fits countless models.
		st, sq := minorSpread(cs, mask)
		tw, th := rect[2][0]-rect[0][0], rect[2][1]-rect[0][1]
		if st/tn.s < 0.01*math.Sqrt(tw*th) || sq/qn.s < 1.5*o.Threshold {
			res.Reason = ReasonDegenerate
		}
	}
	if res.Reason == "" && res.Inliers < o.MinInliers {
		res.Reason = ReasonNoConsensus
	}
	res.OK = res.Reason == ""
	return res
}

// minorSpread returns the standard deviation along the minor principal axis
// of the inliers' target and query points.
func minorSpread(cs []corr, mask []bool) (target, query float64) {
	var t, q [5]float64 // Σx, Σy, then Σdx², Σdxdy, Σdy²
	var n float64
	for i, c := range cs {
		if !mask[i] {
			continue
		}
		n++
		t[0] += c.tx
		t[1] += c.ty
		q[0] += c.qx
		q[1] += c.qy
	}
	if n == 0 {
		return 0, 0
	}
	mtx, mty, mqx, mqy := t[0]/n, t[1]/n, q[0]/n, q[1]/n
	for i, c := range cs {
		if !mask[i] {
			continue
		}
		dx, dy := c.tx-mtx, c.ty-mty
		t[2] += dx * dx
		t[3] += dx * dy
		t[4] += dy * dy
		dx, dy = c.qx-mqx, c.qy-mqy
		q[2] += dx * dx
		q[3] += dx * dy
		q[4] += dy * dy
	}
	minor := func(a, b, c float64) float64 {
		// Smaller eigenvalue of [[a b] [b c]].
		l := (a+c)/2 - math.Sqrt((a-c)*(a-c)/4+b*b)
		return math.Sqrt(max(l, 0))
	}
	return minor(t[2]/n, t[3]/n, t[4]/n), minor(q[2]/n, q[3]/n, q[4]/n)
}

// plausibility checks models in normalised coordinates against the target
// rectangle and quad limits transformed likewise.
type plausibility struct {
	rect [4][2]float64
	lim  quadLimits
}

func (p *plausibility) ok(h *[9]float64) bool {
	c, ok := cornersOf(h, &p.rect)
	return ok && checkQuad(&c, &p.lim) == ""
}

func finite(x, y float32) bool {
	fx, fy := float64(x), float64(y)
	return !math.IsNaN(fx) && !math.IsInf(fx, 0) && !math.IsNaN(fy) && !math.IsInf(fy, 0)
}

// normaliserOf is normaliser over the target (query false) or query points
// of cs, without copying them out.
func normaliserOf(cs []corr, query bool) (similarity, bool) {
	pt := func(c *corr) (float64, float64) {
		if query {
			return c.qx, c.qy
		}
		return c.tx, c.ty
	}
	var cx, cy float64
	for i := range cs {
		x, y := pt(&cs[i])
		cx += x
		cy += y
	}
	cx /= float64(len(cs))
	cy /= float64(len(cs))
	var d float64
	for i := range cs {
		x, y := pt(&cs[i])
		d += math.Hypot(x-cx, y-cy)
	}
	d /= float64(len(cs))
	if !(d > 1e-9) || math.IsInf(d, 0) {
		return similarity{}, false
	}
	return similarity{cx, cy, math.Sqrt2 / d}, true
}

// targetRect is the target image rectangle TL, TR, BR, BL; when the set does
// not record its size, the bounding box of the matched keypoints stands in.
func targetRect(t *feature.Set, pairs []Pair) [4][2]float64 {
	w, h := float64(t.Width), float64(t.Height)
	x0, y0 := 0.0, 0.0
	if !(w > 0 && h > 0) {
		x0, y0 = math.Inf(1), math.Inf(1)
		x1, y1 := math.Inf(-1), math.Inf(-1)
		for _, p := range pairs {
			if p.T < 0 || int(p.T) >= len(t.Keypoints) {
				continue
			}
			k := t.Keypoints[p.T]
			if !finite(k.X, k.Y) {
				continue
			}
			x0, y0 = min(x0, float64(k.X)), min(y0, float64(k.Y))
			x1, y1 = max(x1, float64(k.X)), max(y1, float64(k.Y))
		}
		w, h = x1-x0, y1-y0
	}
	return [4][2]float64{{x0, y0}, {x0 + w, y0}, {x0 + w, y0 + h}, {x0, y0 + h}}
}

// rng is splitmix64: tiny, fast and seeded per call so that Verify is
// deterministic and needs no shared state.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a uniform value in [0, n).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// ransac returns the best plausible model (in normalised coordinates) and its
// inlier count. Sampling follows PROSAC: pairs are sorted by descriptor
// distance and the n-th best pair joins the sampling pool after the number of
// draws at which a uniform sampler would have first drawn it.
func ransac(cs []corr, o *Options, plausible *plausibility) ([9]float64, int) {
	const m = 4
	n := len(cs)
	r := rng{s: o.Seed ^ 0x5eed0fc75 ^ uint64(n)<<32}
	maxIter := o.MaxIterations

	// T_n: expected number of draws from all n pairs containing only pairs
	// from the top k; TPrime is its integer schedule.
	tn := float64(maxIter)
	for i := range m {
		tn *= float64(m-i) / float64(n-i)
	}
	top, tPrime := m, 1.0

	var best [9]float64
	bestN := 0
	// Until a model reaches MinInliers, it suffices to be confident that no
	// such model was missed: with few pairs that takes far fewer draws than
	// MaxIterations, which keeps wrong candidates cheap.
	kmax := drawsNeeded(float64(o.MinInliers)/float64(n), o.Confidence, maxIter)
	var src, dst [4][2]float64
	var s [4]int
	for it := 1; it <= maxIter && it <= kmax; it++ {
		for float64(it) > tPrime && top < n {
			next := tn * float64(top+1) / float64(top+1-m)
			tPrime += math.Ceil(next - tn)
			tn = next
			top++
		}
		if top < n {
			// The newest member of the pool plus three from before it.
			s[0] = top - 1
			for k := 1; k < m; k++ {
				s[k] = drawDistinct(&r, top-1, s[1:k])
			}
		} else {
			for k := range m {
				s[k] = drawDistinct(&r, n, s[:k])
			}
		}
		for k, i := range s {
			src[k] = [2]float64{cs[i].tx, cs[i].ty}
			dst[k] = [2]float64{cs[i].qx, cs[i].qy}
		}
		if !sampleOK(&src, &dst) {
			continue
		}
		h, ok := solve4(&src, &dst)
		if !ok || !orientFront(&h, &src) {
			continue
		}
		cnt := countBounded(&h, cs, bestN)
		if cnt <= bestN || !plausible.ok(&h) {
			continue
		}
		best, bestN = h, cnt
		kmax = min(kmax, drawsNeeded(float64(cnt)/float64(n), o.Confidence, maxIter))
	}
	return best, bestN
}

// drawsNeeded is the number of uniform minimal samples after which one
// all-inlier sample has been drawn with the given confidence, when a
// fraction w of the pairs are inliers; at most limit.
func drawsNeeded(w, confidence float64, limit int) int {
	p := w * w * w * w
	if p >= 1 {
		return 1
	}
	k := math.Log(1-confidence) / math.Log1p(-p)
	if !(k < float64(limit)) {
		return limit
	}
	return max(int(math.Ceil(k)), 1)
}

func drawDistinct(r *rng, n int, taken []int) int {
	for {
		v := r.intn(n)
		if !slices.Contains(taken, v) {
			return v
		}
	}
}

// sampleOK rejects minimal samples that cannot come from a plausible view:
// three nearly collinear points in either image, or a triangle whose
// orientation differs between the images. With every point in front of the
// camera a homography scales all triangle orientations by the sign of its
// determinant, so disagreement means a mirror or a point behind the camera —
// and also that a convex sample quad became non-convex or vice versa.
func sampleOK(src, dst *[4][2]float64) bool {
	const eps = 1e-4 // twice the triangle area, in normalised units
	tri := [4][3]int{{0, 1, 2}, {0, 1, 3}, {0, 2, 3}, {1, 2, 3}}
	for _, t := range tri {
		a := cross3(&src[t[0]], &src[t[1]], &src[t[2]])
		b := cross3(&dst[t[0]], &dst[t[1]], &dst[t[2]])
		if math.Abs(a) < eps || math.Abs(b) < eps || (a > 0) != (b > 0) {
			return false
		}
	}
	return true
}

func cross3(a, b, c *[2]float64) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

// orientFront scales h so the sample points have w > 0, reporting false when
// they straddle the horizon.
func orientFront(h *[9]float64, src *[4][2]float64) bool {
	pos, neg := 0, 0
	for _, p := range src {
		if w := h[6]*p[0] + h[7]*p[1] + h[8]; w > 0 {
			pos++
		} else if w < 0 {
			neg++
		}
	}
	switch {
	case pos == 4:
		return true
	case neg == 4:
		for i := range h {
			h[i] = -h[i]
		}
		return true
	}
	return false
}

// countBounded counts inliers of h, giving up as soon as it can no longer
// exceed bound.
func countBounded(h *[9]float64, cs []corr, bound int) int {
	cnt := 0
	for i := range cs {
		if cnt+len(cs)-i <= bound {
			return cnt
		}
		if inlier(h, &cs[i]) {
			cnt++
		}
	}
	return cnt
}

func inlier(h *[9]float64, c *corr) bool {
	w := h[6]*c.tx + h[7]*c.ty + h[8]
	if !(w > 0) {
		return false
	}
	dx := (h[0]*c.tx+h[1]*c.ty+h[2])/w - c.qx
	dy := (h[3]*c.tx+h[4]*c.ty+h[5])/w - c.qy
	return dx*dx+dy*dy <= c.thr2
}

func countInliers(h *[9]float64, cs []corr, mask []bool) int {
	cnt := 0
	for i := range cs {
		mask[i] = inlier(h, &cs[i])
		if mask[i] {
			cnt++
		}
	}
	return cnt
}

// refine re-fits h to its inliers by least squares and re-collects them.
// A round is kept if it lowers the truncated squared error (the MSAC cost)
// and stays plausible: comparing inlier counts instead would let one
// borderline outlier veto a fit that is better everywhere else. mask holds
// the inliers of the returned model.
func refine(h [9]float64, cs []corr, mask, next []bool, rounds int, plausible *plausibility) [9]float64 {
	cur := msac(&h, cs)
	for range rounds {
		var ata sym9
		for i := range cs {
			if mask[i] {
				ata.addCorrespondence(cs[i].tx, cs[i].ty, cs[i].qx, cs[i].qy)
			}
		}
		g, ok := ata.solveFixed()
		if !ok {
			if g, ok = ata.smallestEigenvector(); !ok {
				break
			}
		}
		// The eigenvector's sign is arbitrary: make the inliers lie in front.
		var wsum float64
		for i := range cs {
			if mask[i] {
				wsum += g[6]*cs[i].tx + g[7]*cs[i].ty + g[8]
			}
		}
		if wsum < 0 {
			for i := range g {
				g[i] = -g[i]
			}
		}
		cost := msac(&g, cs)
		if cost > cur || !plausible.ok(&g) {
			break
		}
		countInliers(&g, cs, next)
		same := slices.Equal(mask, next)
		h, cur = g, cost
		copy(mask, next)
		if same {
			break
		}
	}
	return h
}

// msac is the sum over pairs of the squared reprojection error truncated at
// the inlier threshold.
func msac(h *[9]float64, cs []corr) float64 {
	var s float64
	for i := range cs {
		c := &cs[i]
		e := c.thr2
		if w := h[6]*c.tx + h[7]*c.ty + h[8]; w > 0 {
			dx := (h[0]*c.tx+h[1]*c.ty+h[2])/w - c.qx
			dy := (h[3]*c.tx+h[4]*c.ty+h[5])/w - c.qy
			e = min(dx*dx+dy*dy, c.thr2)
		}
		s += e
	}
	return s
}

// measure fills the inlier statistics of res for the pixel homography res.H.
func measure(res *Result, q, t *feature.Set, pairs []Pair, cs []corr, mask []bool, rect [4][2]float64, o *Options) {
	h := res.H
	var tGrid, qGrid [gridN * gridN]bool
	// Query grid over the part of the projected quad's bounding box that is
	// in the frame.
	qx0, qy0 := math.Inf(1), math.Inf(1)
	qx1, qy1 := math.Inf(-1), math.Inf(-1)
	for _, c := range res.Corners {
		qx0, qy0 = min(qx0, c[0]), min(qy0, c[1])
		qx1, qy1 = max(qx1, c[0]), max(qy1, c[1])
	}
	if q.Width > 0 && q.Height > 0 {
		qx0, qy0 = max(qx0, 0), max(qy0, 0)
		qx1, qy1 = min(qx1, float64(q.Width)), min(qy1, float64(q.Height))
	}
	tw, th := rect[2][0]-rect[0][0], rect[2][1]-rect[0][1]
	cosTol := math.Cos(o.AngleTolerance * math.Pi / 180)
	logScaleTol := math.Log(o.ScaleTolerance)

	var errSum float64
	angleOK, scaleOK, scaleN := 0, 0, 0
	cnt := 0
	for _, in := range mask {
		if in {
			cnt++
		}
	}
	res.InlierIndices = make([]int, 0, cnt)
	for i := range cs {
		if !mask[i] {
			continue
		}
		p := pairs[cs[i].idx]
		res.InlierIndices = append(res.InlierIndices, int(cs[i].idx))
		tk, qk := &t.Keypoints[p.T], &q.Keypoints[p.Q]
		x, y := float64(tk.X), float64(tk.Y)
		u, v := Apply(h, x, y)
		errSum += math.Hypot(u-float64(qk.X), v-float64(qk.Y))
		tGrid[cell(x-rect[0][0], tw)*gridN+cell(y-rect[0][1], th)] = true
		if qx1 > qx0 && qy1 > qy0 {
			qGrid[cell(float64(qk.X)-qx0, qx1-qx0)*gridN+cell(float64(qk.Y)-qy0, qy1-qy0)] = true
		}

		// Local Jacobian of H at the target keypoint.
		w := h[6]*x + h[7]*y + h[8]
		j00, j01 := (h[0]-u*h[6])/w, (h[1]-u*h[7])/w
		j10, j11 := (h[3]-v*h[6])/w, (h[4]-v*h[7])/w
		// The target orientation carried through H should be the query
		// orientation.
		sa, ca := math.Sincos(float64(tk.Angle))
		dx, dy := j00*ca+j01*sa, j10*ca+j11*sa
		sq, cq := math.Sincos(float64(qk.Angle))
		if nrm := math.Hypot(dx, dy); nrm > 0 && (dx*cq+dy*sq)/nrm >= cosTol {
			angleOK++
		}
		if tk.Scale > 0 && qk.Scale > 0 {
			// A patch of size s/Scale in level-0 pixels: H must scale the
			// target patch to the query patch.
			local := math.Sqrt(math.Abs(j00*j11 - j01*j10))
			want := float64(tk.Scale) / float64(qk.Scale)
			scaleN++
			if math.Abs(math.Log(local/want)) <= logScaleTol {
				scaleOK++
			}
		}
	}
	slices.Sort(res.InlierIndices)
	n := len(res.InlierIndices)
	res.Inliers = n
	if res.Matches > 0 {
		res.InlierRatio = float64(n) / float64(res.Matches)
	}
	if n == 0 {
		return
	}
	res.MeanError = errSum / float64(n)
	res.AngleConsistency = float64(angleOK) / float64(n)
	if scaleN > 0 {
		res.ScaleConsistency = float64(scaleOK) / float64(scaleN)
	}
	covered := 0
	for _, c := range tGrid {
		if c {
			covered++
		}
	}
	res.Coverage = float64(covered) / float64(len(tGrid))

	// Only cells whose centre lies on the target count for the query side.
	if qx1 > qx0 && qy1 > qy0 {
		eligible, hit := 0, 0
		for ix := range gridN {
			for iy := range gridN {
				cx := qx0 + (float64(ix)+0.5)*(qx1-qx0)/gridN
				cy := qy0 + (float64(iy)+0.5)*(qy1-qy0)/gridN
				if !pointInConvexQuad(&res.Corners, cx, cy) {
					continue
				}
				eligible++
				if qGrid[ix*gridN+iy] {
					hit++
				}
			}
		}
		if eligible > 0 {
			res.QueryCoverage = float64(hit) / float64(eligible)
		}
	}
}

// cell maps an offset within a span of the given length to a grid index.
func cell(off, length float64) int {
	if !(length > 0) {
		return 0
	}
	return min(max(int(off/length*gridN), 0), gridN-1)
}
