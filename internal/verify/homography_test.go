package verify

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFitHomographyExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range testHomographies {
		for _, n := range []int{4, 20} {
			src := make([][2]float64, n)
			dst := make([][2]float64, n)
			for i := range n {
				src[i] = [2]float64{r.Float64() * imgW, r.Float64() * imgH}
				dst[i][0], dst[i][1] = Apply(tc.h, src[i][0], src[i][1])
			}
			if n == 4 {
				// A well-spread sample: one point near each corner.
				for i, c := range [4][2]float64{{0, 0}, {1, 0}, {1, 1}, {0, 1}} {
					src[i] = [2]float64{c[0]*imgW*0.8 + r.Float64()*60, c[1]*imgH*0.8 + r.Float64()*60}
					dst[i][0], dst[i][1] = Apply(tc.h, src[i][0], src[i][1])
				}
			}
			h, ok := FitHomography(src, dst)
			if !ok {
				t.Fatalf("%s/%d: fit failed", tc.name, n)
			}
			if e := cornerError(h, tc.h, imgW, imgH); e > 1e-6 {
				t.Errorf("%s/%d: corner error %g px", tc.name, n, e)
			}
			if math.Abs(h[8]-1) > 1e-12 {
				t.Errorf("%s/%d: h8 = %g, want 1", tc.name, n, h[8])
			}
		}
	}
}

func TestSolve4MatchesFit(t *testing.T) {
	for _, tc := range testHomographies {
		src := [4][2]float64{{-1, -1}, {1, -0.8}, {0.9, 1.1}, {-1.2, 0.9}}
		var dst [4][2]float64
		for i, p := range src {
			dst[i][0], dst[i][1] = Apply(tc.h, p[0], p[1])
		}
		h, ok := solve4(&src, &dst)
		if !ok {
			t.Fatalf("%s: solve4 failed", tc.name)
		}
		for i, p := range src {
			u, v := Apply(h, p[0], p[1])
			if math.Hypot(u-dst[i][0], v-dst[i][1]) > 1e-9 {
				t.Errorf("%s: point %d off by %g", tc.name, i, math.Hypot(u-dst[i][0], v-dst[i][1]))
			}
		}
	}
}

// Least squares over many noisy points must beat minimal fits on the same
// noise, which is why Verify refines on all inliers.
func TestFitHomographyNoiseAveraging(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range testHomographies {
		const n, sigma = 200, 1.0
		src := make([][2]float64, n)
		dst := make([][2]float64, n)
		for i := range n {
			src[i] = [2]float64{r.Float64() * imgW, r.Float64() * imgH}
			u, v := Apply(tc.h, src[i][0], src[i][1])
			dst[i] = [2]float64{u + r.NormFloat64()*sigma, v + r.NormFloat64()*sigma}
		}
		h, ok := FitHomography(src, dst)
		if !ok {
			t.Fatalf("%s: fit failed", tc.name)
		}
		all := cornerError(h, tc.h, imgW, imgH)
		var minimal float64
		const trials = 50
		for k := range trials {
			s := src[4*k : 4*k+4]
			d := dst[4*k : 4*k+4]
			if hm, ok := FitHomography(s, d); ok {
				minimal += math.Min(cornerError(hm, tc.h, imgW, imgH), 1e3)
			} else {
				minimal += 1e3
			}
		}
		minimal /= trials
		if all > 1.0 || all > minimal/3 {
			t.Errorf("%s: corner error %.3f px with %d points, %.3f px mean with 4", tc.name, all, n, minimal)
		}
	}
}

func TestFitHomographyDegenerate(t *testing.T) {
	line := func(n int) [][2]float64 {
		p := make([][2]float64, n)
		for i := range p {
			p[i] = [2]float64{float64(i) * 10, float64(i)*5 + 3}
		}
		return p
	}
	same := func(n int) [][2]float64 {
		p := make([][2]float64, n)
		for i := range p {
			p[i] = [2]float64{100, 100}
		}
		return p
	}
	square := [][2]float64{{0, 0}, {100, 0}, {100, 100}, {0, 100}, {50, 50}}
	tests := []struct {
		name     string
		src, dst [][2]float64
	}{
		{"none", nil, nil},
		{"three", square[:3], square[:3]},
		{"length mismatch", square, square[:4]},
		{"collinear", line(10), line(10)},
		{"collinear dst", square, line(5)},
		{"duplicates", same(8), same(8)},
		{"nan", [][2]float64{{0, 0}, {100, 0}, {100, 100}, {math.NaN(), 100}}, square[:4]},
		{"inf", [][2]float64{{0, 0}, {100, 0}, {100, 100}, {math.Inf(1), 100}}, square[:4]},
	}
	for _, tc := range tests {
		if h, ok := FitHomography(tc.src, tc.dst); ok {
			t.Errorf("%s: got %v, want failure", tc.name, h)
		}
	}
}

func TestJacobiEigen(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	// A = B Bᵀ with B 9x8 has a one-dimensional null space: Bᵀ's kernel.
	var b [9][8]float64
	for i := range b {
		for j := range b[i] {
			b[i][j] = r.NormFloat64()
		}
	}
	var a sym9
	for i := range 9 {
		for j := i; j < 9; j++ {
			for k := range 8 {
				a[i][j] += b[i][k] * b[j][k]
			}
		}
	}
	v, ok := a.smallestEigenvector()
	if !ok {
		t.Fatal("eigenvector failed")
	}
	for k := range 8 {
		var s float64
		for i := range 9 {
			s += b[i][k] * v[i]
		}
		if math.Abs(s) > 1e-9 {
			t.Errorf("column %d: |Bᵀv| = %g", k, s)
		}
	}
}

func BenchmarkFitHomography100(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	h := testHomographies[4].h
	src := make([][2]float64, 100)
	dst := make([][2]float64, 100)
	for i := range src {
		src[i] = [2]float64{r.Float64() * imgW, r.Float64() * imgH}
		dst[i][0], dst[i][1] = Apply(h, src[i][0], src[i][1])
	}
	for b.Loop() {
		FitHomography(src, dst)
	}
}

func TestSolveFixedMatchesEigen(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, tc := range testHomographies {
		var a sym9
		for range 50 {
			x, y := r.Float64()*2-1, r.Float64()*2-1
			// Map through tc.h in a normalised-looking frame.
			u, v := Apply(tc.h, (x+1)*imgW/2, (y+1)*imgH/2)
			a.addCorrespondence(x, y, u/imgW*2-1+r.NormFloat64()*1e-3, v/imgH*2-1+r.NormFloat64()*1e-3)
		}
		hf, ok1 := a.solveFixed()
		he, ok2 := a.smallestEigenvector()
		if !ok1 || !ok2 {
			t.Fatalf("%s: solveFixed %v eigen %v", tc.name, ok1, ok2)
		}
		for k := range he {
			he[k] /= he[8]
		}
		if e := cornerError(hf, he, 1, 1); e > 1e-3 {
			t.Errorf("%s: solutions differ by %g", tc.name, e)
		}
	}
}
