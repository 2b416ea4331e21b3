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
