package vision

import "math"

// orientRadius is the radius of the intensity-centroid patch; it matches the
// descriptor patch so orientation sees what the tests see.
const orientRadius = 15

// orientSpan[v] is the half-width of the circular patch in row v. The disc
// is u²+v² <= r(r+1), which is symmetric under 90° rotation, so a rotated
// image yields exactly the rotated centroid.
var orientSpan = func() [orientRadius + 1]int {
	var s [orientRadius + 1]int
	for v := range s {
		u := 0
		for (u+1)*(u+1)+v*v <= orientRadius*(orientRadius+1) {
			u++
		}
		s[v] = u
	}
	return s
}()

// orientation returns the direction from (x, y) to the intensity centroid
// of the circular patch around it, in radians in [0, 2π).
func orientation(p []byte, w, x, y int) float32 {
	var m10, m01 int
	c := y*w + x
	r := orientSpan[0]
	row := p[c-r : c+r+1]
	for i, v := range row {
		m10 += (i - r) * int(v)
	}
	for v := 1; v <= orientRadius; v++ {
		r := orientSpan[v]
		lo := p[c+v*w-r : c+v*w+r+1] // below the centre (y grows down)
		hi := p[c-v*w-r : c-v*w+r+1]
		hi = hi[:len(lo)]
		sumDiff := 0
		for i := range lo {
			a, b := int(lo[i]), int(hi[i])
			m10 += (i - r) * (a + b)
			sumDiff += a - b
		}
		m01 += v * sumDiff
	}
	a := math.Atan2(float64(m01), float64(m10))
	if a < 0 {
		a += 2 * math.Pi
	}
	return float32(a)
}

// orientationII is orientation computed from the wrapping integral image ii
// (stride s) of the level: the moments need only the disc's row sums and
// column sums, four lookups each, instead of every pixel. The disc is
// symmetric in x and y, so orientSpan bounds the columns too. The result is
// identical to orientation's.
func orientationII(ii []uint16, s, x, y int) float32 {
	var m10, m01 int
	for v := 1; v <= orientRadius; v++ {
		r := orientSpan[v]
		// Rows y+v and y-v over columns [x-r, x+r].
		lo, hi := (y+v)*s+x-r, (y-v)*s+x-r
		below := ii[lo+s+2*r+1] - ii[lo+s] - ii[lo+2*r+1] + ii[lo]
		above := ii[hi+s+2*r+1] - ii[hi+s] - ii[hi+2*r+1] + ii[hi]
		m01 += v * (int(below) - int(above))
		// Columns x+v and x-v over rows [y-r, y+r].
		top := (y-r)*s + x
		bot := top + (2*r+1)*s
		right := ii[bot+v+1] - ii[bot+v] - ii[top+v+1] + ii[top+v]
		left := ii[bot-v+1] - ii[bot-v] - ii[top-v+1] + ii[top-v]
		m10 += v * (int(right) - int(left))
	}
	a := math.Atan2(float64(m01), float64(m10))
	if a < 0 {
		a += 2 * math.Pi
	}
	return float32(a)
}
