package verify

import "math"

// A homography is stored row-major as [9]float64 and maps (x, y) to
// ((h0 x + h1 y + h2) / w, (h3 x + h4 y + h5) / w) with w = h6 x + h7 y + h8.

// Apply maps the point (x, y) through h. A point mapped to infinity yields
// ±Inf or NaN coordinates; callers that care check w themselves.
func Apply(h [9]float64, x, y float64) (float64, float64) {
	w := h[6]*x + h[7]*y + h[8]
	return (h[0]*x + h[1]*y + h[2]) / w, (h[3]*x + h[4]*y + h[5]) / w
}

// FitHomography returns the least-squares (algebraic, on Hartley-normalised
// coordinates) homography mapping src[i] to dst[i]. It needs at least four
// correspondences and reports false when they do not determine a
// homography (too few, collinear, duplicated, or non-finite).
func FitHomography(src, dst [][2]float64) ([9]float64, bool) {
	n := len(src)
	if n < 4 || len(dst) != n {
		return [9]float64{}, false
	}
	sn, ok1 := normaliser(src)
	dn, ok2 := normaliser(dst)
	if !ok1 || !ok2 {
		return [9]float64{}, false
	}
	var ata sym9
	for i := range n {
		x, y := sn.apply(src[i][0], src[i][1])
		u, v := dn.apply(dst[i][0], dst[i][1])
		ata.addCorrespondence(x, y, u, v)
	}
	hn, ok := ata.smallestEigenvector()
	if !ok {
		return [9]float64{}, false
	}
	h := denormalise(hn, sn, dn)
	return finish(h)
}

// finish scales h so that h8 is 1 when possible (otherwise to unit norm) and
// rejects non-finite or rank-deficient results.
func finish(h [9]float64) ([9]float64, bool) {
	var norm float64
	for _, v := range h {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return [9]float64{}, false
		}
		norm += v * v
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		return [9]float64{}, false
	}
	s := 1 / norm
	if math.Abs(h[8]) > 1e-12*norm {
		s = 1 / h[8]
	}
	for i := range h {
		h[i] *= s
	}
	if d := det3(h); math.Abs(d) < 1e-14*math.Pow(frob(h), 3) || math.IsNaN(d) {
		return [9]float64{}, false
	}
	return h, true
}

func frob(h [9]float64) float64 {
	var s float64
	for _, v := range h {
		s += v * v
	}
	return math.Sqrt(s)
}

func det3(h [9]float64) float64 {
	return h[0]*(h[4]*h[8]-h[5]*h[7]) - h[1]*(h[3]*h[8]-h[5]*h[6]) + h[2]*(h[3]*h[7]-h[4]*h[6])
}

func mul3(a, b [9]float64) [9]float64 {
	var c [9]float64
	for r := range 3 {
		for k := range 3 {
			c[3*r+k] = a[3*r]*b[k] + a[3*r+1]*b[3+k] + a[3*r+2]*b[6+k]
		}
	}
	return c
}

// similarity is the Hartley normalisation x' = s (x - cx): it centres the
// points and scales their mean distance from the centroid to √2, which keeps
// the DLT system well conditioned whatever the image size.
type similarity struct{ cx, cy, s float64 }

func (n similarity) apply(x, y float64) (float64, float64) {
	return n.s * (x - n.cx), n.s * (y - n.cy)
}

func normaliser(p [][2]float64) (similarity, bool) {
	var cx, cy float64
	for _, q := range p {
		cx += q[0]
		cy += q[1]
	}
	cx /= float64(len(p))
	cy /= float64(len(p))
	var d float64
	for _, q := range p {
		d += math.Hypot(q[0]-cx, q[1]-cy)
	}
	d /= float64(len(p))
	if !(d > 1e-9) || math.IsInf(d, 0) {
		return similarity{}, false
	}
	return similarity{cx, cy, math.Sqrt2 / d}, true
}

// denormalise turns hn, which maps normalised source to normalised
// destination coordinates, into the pixel-to-pixel homography Td⁻¹ hn Ts.
func denormalise(hn [9]float64, s, d similarity) [9]float64 {
	ts := [9]float64{s.s, 0, -s.s * s.cx, 0, s.s, -s.s * s.cy, 0, 0, 1}
	tdInv := [9]float64{1 / d.s, 0, d.cx, 0, 1 / d.s, d.cy, 0, 0, 1}
	return mul3(tdInv, mul3(hn, ts))
}

// sym9 accumulates AᵀA of the DLT system, whose null vector is the
// homography. Only the upper triangle is filled while accumulating.
type sym9 [9][9]float64

func (a *sym9) addCorrespondence(x, y, u, v float64) {
	r1 := [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, -u}
	r2 := [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, -v}
	for i := range 9 {
		r1i, r2i := r1[i], r2[i]
		for j := i; j < 9; j++ {
			a[i][j] += r1i*r1[j] + r2i*r2[j]
		}
	}
}

// smallestEigenvector returns the unit eigenvector of the smallest
// eigenvalue, computed with cyclic Jacobi rotations: for a 9x9 symmetric
// matrix this is short, robust, and needs no external linear algebra.
func (a *sym9) smallestEigenvector() ([9]float64, bool) {
	m := *a
	for i := range 9 {
		for j := 0; j < i; j++ {
			m[i][j] = m[j][i]
		}
	}
	var v [9][9]float64
	for i := range 9 {
		v[i][i] = 1
	}
	var scale float64
	for i := range 9 {
		scale += m[i][i]
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return [9]float64{}, false
	}
	for range 60 {
		var off float64
		for p := range 9 {
			for q := p + 1; q < 9; q++ {
				off += m[p][q] * m[p][q]
			}
		}
		if off < 1e-30*scale*scale {
			break
		}
		for p := range 9 {
			for q := p + 1; q < 9; q++ {
				apq := m[p][q]
				if math.Abs(apq) < 1e-300 {
					continue
				}
				theta := (m[q][q] - m[p][p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range 9 {
					mkp, mkq := m[k][p], m[k][q]
					m[k][p] = c*mkp - s*mkq
					m[k][q] = s*mkp + c*mkq
				}
				for k := range 9 {
					mpk, mqk := m[p][k], m[q][k]
					m[p][k] = c*mpk - s*mqk
					m[q][k] = s*mpk + c*mqk
				}
				for k := range 9 {
					vkp, vkq := v[k][p], v[k][q]
					v[k][p] = c*vkp - s*vkq
					v[k][q] = s*vkp + c*vkq
				}
			}
		}
	}
	best := 0
	for i := 1; i < 9; i++ {
		if m[i][i] < m[best][best] {
			best = i
		}
	}
	// The null space must be one-dimensional, or the points do not pin the
	// homography down (e.g. all collinear).
	second := math.Inf(1)
	for i := range 9 {
		if i != best && m[i][i] < second {
			second = m[i][i]
		}
	}
	if !(second > 1e-10*scale) {
		return [9]float64{}, false
	}
	var h [9]float64
	for k := range 9 {
		h[k] = v[k][best]
	}
	return h, true
}

// solveFixed returns the least-squares homography with h8 fixed to 1: the
// leading 8x8 block of AᵀA against its last column, solved by Cholesky. It
// is an order of magnitude cheaper than the eigenvector and, on normalised
// coordinates where h8 is the depth of the centroid, just as good for any
// plausible view; RANSAC uses it for its frequent re-fits.
func (a *sym9) solveFixed() ([9]float64, bool) {
	var l [8][8]float64
	for i := range 8 {
		for j := 0; j <= i; j++ {
			s := a[j][i] // upper triangle holds the sums
			for k := range j {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if !(s > 1e-12*a[i][i]) || !(s > 0) {
					return [9]float64{}, false
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	// Solve L Lᵀ h = -a[:8][8].
	var y [8]float64
	for i := range 8 {
		s := -a[i][8]
		for k := range i {
			s -= l[i][k] * y[k]
		}
		y[i] = s / l[i][i]
	}
	var h [9]float64
	for i := 7; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < 8; k++ {
			s -= l[k][i] * h[k]
		}
		h[i] = s / l[i][i]
	}
	h[8] = 1
	return h, true
}

// solve4 returns the homography (with h8 = 1) through exactly four
// correspondences by Gaussian elimination of the 8x8 DLT system. Inputs are
// expected to be normalised, where h8 = 1 is safe for any plausible view.
func solve4(src, dst *[4][2]float64) ([9]float64, bool) {
	var a [8][9]float64
	for i := range 4 {
		x, y := src[i][0], src[i][1]
		u, v := dst[i][0], dst[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	for col := range 8 {
		piv, pmax := col, math.Abs(a[col][col])
		for r := col + 1; r < 8; r++ {
			if v := math.Abs(a[r][col]); v > pmax {
				piv, pmax = r, v
			}
		}
		if pmax < 1e-10 {
			return [9]float64{}, false
		}
		a[col], a[piv] = a[piv], a[col]
		inv := 1 / a[col][col]
		for r := col + 1; r < 8; r++ {
			f := a[r][col] * inv
			if f == 0 {
				continue
			}
			for c := col; c < 9; c++ {
				a[r][c] -= f * a[col][c]
			}
		}
	}
	var h [9]float64
	for r := 7; r >= 0; r-- {
		s := a[r][8]
		for c := r + 1; c < 8; c++ {
			s -= a[r][c] * h[c]
		}
		h[r] = s / a[r][r]
	}
	h[8] = 1
	return h, true
}
